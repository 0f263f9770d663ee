import t from 'tap'
import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import type { Backend } from '../../src/audit/http-backend.js'
import { isStrongEtag, zoomBlock, ZoomBudget } from '../../src/audit/zoom.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { RangeBackend } from '../helpers/range-backend.js'

const req = (headers: Record<string, string> = {}): ExchangeRequest => ({ id: 'z', method: 'GET', path: '/f', headers })
const bytes = (n: number, flip?: number): Buffer => {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = i & 0xff
  if (flip !== undefined) b[flip] = b[flip]! ^ 0xff
  return b
}

t.test('the re-request budget is a token bucket: bursts of up to 10, then the rate; it counts both outcomes', async t => {
  const clock = new ManualClock()
  const b = new ZoomBudget(60, clock)
  const burst = Array.from({ length: 12 }, () => b.take())
  t.strictSame(burst, [...Array(10).fill(true), false, false], 'ten at once, then none')
  clock.advance(999)
  t.equal(b.take(), false, 'not quite one second later')
  clock.advance(1)
  t.equal(b.take(), true, 'one a second at 60 a minute')
  t.match(b, { made: 11, refused: 3 })
  const slow = new ZoomBudget(2, clock)
  t.strictSame([slow.take(), slow.take(), slow.take()], [true, true, false], 'a burst never exceeds the minute rate')
  for (const bad of [0, -1, Number.NaN, Infinity]) t.throws(() => new ZoomBudget(bad, clock), TypeError, `perMinute ${bad}`)
})

t.test('only strong ETags are validators for If-Range', async t => {
  const table: Array<[string | undefined, boolean]> = [
    ['"abc"', true],
    ['""', true],
    ['W/"abc"', false],
    ['abc', false],
    [undefined, false],
    ['"a"b"', false],
  ]
  for (const [etag, want] of table) t.equal(isStrongEtag(etag), want, String(etag))
})

t.test('zoomBlock asks both sides for the block, If-Range their own ETag, and compares the bytes', async t => {
  const control = new RangeBackend('old', bytes(300_000), '"o"')
  const candidate = new RangeBackend('new', bytes(300_000, 150_000), '"n"')
  const r = await zoomBlock(req({ range: 'bytes=0-', 'if-none-match': '"x"', 'accept-encoding': 'gzip' }), { backend: control, etag: '"o"' }, { backend: candidate, etag: '"n"' }, 131_072, 196_608)
  t.match(r, { kind: 'differ', offset: 150_000 - 131_072 })
  for (const [b, tag] of [[control, '"o"'], [candidate, '"n"']] as const) {
    t.strictSame(b.seen[0]!.headers, { 'accept-encoding': 'gzip', range: 'bytes=131072-196607', 'if-range': tag }, `${b.name}: the block, If-Range its tag, other fields kept, validators replaced`)
    t.equal(b.seen[0]!.method, 'GET')
  }
  const same = await zoomBlock(req(), { backend: control, etag: '"o"' }, { backend: candidate, etag: '"n"' }, 0, 65_536)
  t.strictSame(same, { kind: 'same', control: 65_536, candidate: 65_536 })
})

t.test('zoomBlock cannot tell when a side changed since, failed, or answered another range', async t => {
  const good = new RangeBackend('old', bytes(100_000), '"o"')
  const changed = new RangeBackend('new', bytes(100_000), '"n2"')
  const fails: Backend = { name: 'new', base: 'http://x', send: async (): Promise<Observed> => ({ kind: 'error', code: 'ERR_CONNECT', message: 'new: refused', durationMs: 1 }), close: async () => undefined }
  const otherRange: Backend = {
    name: 'new',
    base: 'http://x',
    send: async (): Promise<Observed> => ({ kind: 'response', status: 206, headers: [['content-range', 'bytes 0-9/100000']], body: (async function* () {})(), durationMs: 1 }),
    close: async () => undefined,
  }
  const table: Array<[string, Backend, RegExp]> = [
    ['a side whose ETag changed answers 200 to If-Range', changed, /new changed since \(If-Range answered 200\)/],
    ['a side that fails', fails, /new: new: refused/],
    ['a side that answers another range', otherRange, /new answered 206 bytes 0-9\/100000 to bytes=65536-99999/],
  ]
  for (const [name, other, why] of table) {
    const r = await zoomBlock(req(), { backend: good, etag: '"o"' }, { backend: other, etag: '"n"' }, 65_536, 100_000)
    t.equal(r.kind, 'unknown', name)
    t.match(r.kind === 'unknown' ? r.why : '', why, name)
  }
})
