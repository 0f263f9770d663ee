import t from 'tap'
import { codeOf, type ErrorCode } from '../../src/core/errors.js'
import { DEFAULT_STAT_TTL_MS, StatCache } from '../../src/storage/stat-cache.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { ScriptedStore } from '../helpers/scripted-store.js'

/** outcome is a stat's version (or `settling`), or the code it was refused with. */
const outcome = (p: Promise<{ version: string | undefined }>): Promise<string> =>
  p.then(
    i => i.version ?? 'settling',
    (e: unknown) => String(codeOf(e) ?? e),
  )

/** turns lets pending promise callbacks run: a bounded number of microtask turns, no timer. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve()
}

type Step =
  | readonly ['stat']
  | readonly ['advance', number]
  | readonly ['put', string, boolean?]
  | readonly ['remove']
  | readonly ['fault', ErrorCode | undefined]
  | readonly ['read']

t.test('a stat is trusted for ttlMs, settling infos and errors never', async t => {
  const TTL = 1000
  const rows: Array<{ name: string; ttlMs?: number; steps: Step[]; want: string[]; asked: number }> = [
    { name: 'fresh: the second stat is answered from the cache', steps: [['stat'], ['advance', TTL - 1], ['stat']], want: ['v1', 'v1'], asked: 1 },
    { name: 'expired: asked again', steps: [['stat'], ['advance', TTL], ['stat']], want: ['v1', 'v1'], asked: 2 },
    { name: 'replaced within ttl: the old info until it expires', steps: [['stat'], ['put', 'new'], ['advance', TTL - 1], ['stat'], ['advance', 1], ['stat']], want: ['v1', 'v1', 'v2'], asked: 2 },
    { name: 'replaced, and a read found it changed: the new info at once', steps: [['stat'], ['put', 'new'], ['read'], ['stat']], want: ['v1', 'ERR_BLOB_CHANGED', 'v2'], asked: 2 },
    { name: 'settling: never kept', steps: [['put', 'new', true], ['stat'], ['stat']], want: ['settling', 'settling'], asked: 2 },
    { name: 'settling, then settled: kept from then on', steps: [['put', 'new', true], ['stat'], ['put', 'new'], ['stat'], ['stat']], want: ['settling', 'v3', 'v3'], asked: 2 },
    { name: 'NOT_FOUND: never kept, the blob is found once it appears', steps: [['remove'], ['stat'], ['put', 'new'], ['stat'], ['stat']], want: ['ERR_NOT_FOUND', 'v2', 'v2'], asked: 2 },
    { name: 'a failure: never kept', steps: [['fault', 'ERR_IO'], ['stat'], ['stat'], ['fault', undefined], ['stat']], want: ['ERR_IO', 'ERR_IO', 'v1'], asked: 3 },
    { name: 'ttl 0: nothing kept', ttlMs: 0, steps: [['stat'], ['stat']], want: ['v1', 'v1'], asked: 2 },
  ]
  for (const row of rows) {
    const clock = new ManualClock()
    const inner = new ScriptedStore('s', { k: 'old' })
    const cache = new StatCache(inner, { ttlMs: row.ttlMs ?? TTL, clock })
    const got: string[] = []
    let last: Awaited<ReturnType<typeof cache.stat>> | undefined
    for (const step of row.steps) {
      switch (step[0]) {
        case 'stat': {
          const p = cache.stat('k')
          got.push(await outcome(p))
          last = await p.catch(() => last)
          break
        }
        case 'advance':
          clock.advance(step[1])
          break
        case 'put':
          inner.put('k', step[1], step[2] ?? false)
          break
        case 'remove':
          inner.remove('k')
          break
        case 'fault':
          inner.statFault = step[1]
          break
        case 'read':
          got.push(await cache.read(last!, 0, 3).then(b => Buffer.from(b).toString(), (e: unknown) => String(codeOf(e))))
          break
      }
    }
    t.strictSame(got, row.want, `${row.name}: ${row.want.join(', ')}`)
    t.equal(inner.calls.stats, row.asked, `${row.name}: the store was asked ${row.asked} times`)
  }
})

t.test('the ttl counts from when the stat was asked, not answered', async t => {
  const clock = new ManualClock()
  const inner = new ScriptedStore('s', { k: 'old' })
  const cache = new StatCache(inner, { ttlMs: 1000, clock })
  const hold = inner.holdStats()
  const p = cache.stat('k')
  clock.advance(600)
  hold.open()
  t.equal(await outcome(p), 'v1', 'answered')
  clock.advance(400)
  t.equal(await outcome(cache.stat('k')), 'v1', 'asked again')
  t.equal(inner.calls.stats, 2, '1000 ms after the question, the answer is no longer trusted')
})

t.test('concurrent stats of one key share one stat of the store', async t => {
  const rows: Array<{ name: string; fault?: ErrorCode; want: string }> = [
    { name: 'an answer', want: 'v1' },
    { name: 'a failure', fault: 'ERR_IO', want: 'ERR_IO' },
  ]
  for (const row of rows) {
    const inner = new ScriptedStore('s', { k: 'old', other: 'x' })
    inner.statFault = row.fault
    const cache = new StatCache(inner, { clock: new ManualClock() })
    const hold = inner.holdStats()
    const ps = [cache.stat('k'), cache.stat('k'), cache.stat('k', new AbortController().signal), cache.stat('other')].map(outcome)
    await turns()
    t.equal(inner.calls.stats, 2, `${row.name}: one stat per key while they wait`)
    hold.open()
    t.strictSame(await Promise.all(ps), [row.want, row.want, row.want, row.want === 'v1' ? 'v2' : row.want], `${row.name}: every caller gets it`)
    t.strictSame({ ...cache.stats }, { hits: 0, misses: 2, joined: 2, invalidated: 0 }, `${row.name}: counted as joined`)
  }
})

t.test("a caller's abort ends its own wait; the store's stat is aborted once every caller has gone", async t => {
  const inner = new ScriptedStore('s', { k: 'old' })
  const cache = new StatCache(inner, { clock: new ManualClock() })
  const hold = inner.holdStats()
  const one = new AbortController()
  const two = new AbortController()
  const p1 = outcome(cache.stat('k', one.signal))
  const p2 = outcome(cache.stat('k', two.signal))
  await turns()
  one.abort()
  t.equal(await p1, 'ERR_ABORTED', 'the first caller is released at once')
  t.equal(inner.calls.aborted, 0, 'the store goes on for the second')
  two.abort()
  t.equal(await p2, 'ERR_ABORTED', 'the second caller is released')
  await turns()
  t.equal(inner.calls.aborted, 1, 'with nobody left, the store stat is aborted')
  const p3 = outcome(cache.stat('k'))
  await turns()
  t.equal(inner.calls.stats, 2, 'a later caller does not join the aborted stat: a new one')
  hold.open()
  t.equal(await p3, 'v1', 'and gets the answer')
  t.equal(await outcome(cache.stat('k', AbortSignal.abort())), 'ERR_ABORTED', 'an aborted signal is refused before anything')
})

t.test('at most maxEntries stats are kept, the least recently used dropped first', async t => {
  const inner = new ScriptedStore('s', { a: '1', b: '2', c: '3' })
  const cache = new StatCache(inner, { maxEntries: 2, clock: new ManualClock() })
  for (const key of ['a', 'b', 'a', 'c']) await cache.stat(key)
  t.equal(cache.size, 2, 'two kept')
  t.equal(inner.calls.stats, 3, 'a, b and c asked once each')
  await cache.stat('a')
  t.equal(inner.calls.stats, 3, 'a, used recently, is kept')
  await cache.stat('b')
  t.equal(inner.calls.stats, 4, 'b, least recently used, was dropped')
})

t.test('a read passes through, and a failure other than ERR_BLOB_CHANGED keeps the stat', async t => {
  const inner = new ScriptedStore('s', { k: 'old bytes' })
  const cache = new StatCache(inner, { clock: new ManualClock() })
  const info = await cache.stat('k')
  t.equal(Buffer.from(await cache.read(info, 4, 5)).toString(), 'bytes', 'the bytes')
  inner.readFault = 'ERR_IO'
  await t.rejects(cache.read(info, 0, 3), { code: 'ERR_IO' }, 'the failure')
  await cache.stat('k')
  t.equal(inner.calls.stats, 1, 'still trusted')
  t.equal(cache.stats.invalidated, 0, 'nothing dropped')
})

t.test('options are checked; the default ttl is one second', async t => {
  const s = new ScriptedStore('s')
  t.equal(DEFAULT_STAT_TTL_MS, 1000, 'one second')
  for (const [name, o] of [
    ['negative ttl', { ttlMs: -1 }],
    ['infinite ttl', { ttlMs: Infinity }],
    ['zero entries', { maxEntries: 0 }],
    ['fractional entries', { maxEntries: 1.5 }],
  ] as const) {
    t.throws(() => new StatCache(s, o), TypeError, name)
  }
  const clock = new ManualClock()
  const inner = new ScriptedStore('s', { k: 'x' })
  const cache = new StatCache(inner, { clock })
  await cache.stat('k')
  clock.advance(DEFAULT_STAT_TTL_MS - 1)
  await cache.stat('k')
  clock.advance(1)
  await cache.stat('k')
  t.equal(inner.calls.stats, 2, 'unset ttl: trusted for DEFAULT_STAT_TTL_MS')
})
