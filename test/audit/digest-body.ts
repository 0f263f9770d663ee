import t from 'tap'
import { BLOCK_BYTES, BlockDigester, digestOf, type BodyDigest, type BodyDigester } from '../../src/audit/body-digest.js'
import { digestBody, Needed } from '../../src/audit/digest-body.js'
import { gate } from '../helpers/gate.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { patterned } from '../helpers/random.js'

const B = BLOCK_BYTES

/** source yields `body` in chunks of `size`, lazily, and counts what was pulled and whether it was cancelled. */
function source(body: Buffer, size: number): { body: AsyncIterable<Uint8Array>; pulled: () => number; closed: () => boolean } {
  let pulled = 0
  let closed = false
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      for (let at = 0; at < body.length; at += size) {
        pulled++
        yield body.subarray(at, at + size)
      }
    } finally {
      closed = true
    }
  }
  return { body: gen(), pulled: () => pulled, closed: () => closed }
}

const same = (a: BodyDigest, b: BodyDigest): boolean => a.length === b.length && a.sha256 === b.sha256 && a.blocks.equals(b.blocks)

t.test('a body needed only so far is read that far, with no failure, and its stream cancelled', async t => {
  const whole = patterned(8 * B)
  // [name, when the cut is made (before reading, or after reading k chunks), the cut, the bytes read]
  const rows: ReadonlyArray<[string, number | 'before' | 'never', number, number]> = [
    ['cut at 0 before any read', 'before', 0, 0],
    ['cut mid-chunk before any read', 'before', B + 10, 2 * B],
    ['cut on a chunk boundary before any read', 'before', 3 * B, 3 * B],
    ['cut at a length already read', 4, 2 * B, 4 * B],
    ['cut beyond the end', 'before', 100 * B, 8 * B],
    ['never cut', 'never', 0, 8 * B],
  ]
  for (const [name, when, cut, read] of rows) {
    const src = source(whole, B)
    const needed = new Needed()
    if (when === 'before') needed.cut(cut)
    const reached = gate<void>()
    // A body that stalls after k chunks until the cut is made.
    const body =
      typeof when === 'number'
        ? (async function* () {
            let k = 0
            for await (const c of src.body) {
              yield c
              if (++k === when) {
                reached.open()
                await new Promise<void>(r => setImmediate(r))
              }
            }
          })()
        : src.body
    const p = digestBody(body, { needed })
    if (typeof when === 'number') {
      await reached.promise
      needed.cut(cut)
    }
    const got = await p
    t.equal(got.failure, undefined, `${name}: no failure`)
    t.equal(got.digest.length, read, `${name}: ${read} bytes read`)
    t.ok(same(got.digest, digestOf(whole.subarray(0, read))), `${name}: the digest of what was read`)
    for (let i = 0; i < 10 && !src.closed(); i++) await new Promise(setImmediate)
    if (read < whole.length) t.ok(src.closed() || src.pulled() === 0, `${name}: the stream was cancelled (or never started)`)
    t.ok(src.pulled() <= read / B + 1, `${name}: at most one chunk pulled past it`)
  }
})

t.test('a multipart body is read whole whatever is said to be needed', async t => {
  const boundary = 'XYZ'
  const part = (range: string, bytes: string): string => `--${boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes ${range}/100\r\n\r\n${bytes}\r\n`
  const text = part('0-4', 'hello') + part('10-14', 'world') + `--${boundary}--\r\n`
  const needed = new Needed()
  needed.cut(3)
  const got = await digestBody(source(Buffer.from(text), 7).body, { boundary, needed })
  const all = await digestBody(source(Buffer.from(text), 7).body, { boundary })
  t.equal(got.failure, undefined, JSON.stringify(got.failure))
  t.ok(got.digest.length > 100 && same(got.digest, all.digest), 'read as far as without a cut')
  t.equal(got.parts?.length, 2, 'both parts')
})

/** waiting is a digester whose reader must wait before every read while `hold` is set. */
function waiting(): BodyDigester & { hold: ReturnType<typeof gate<void>> | undefined; asked: number } {
  const d = new BlockDigester()
  const w = {
    hold: undefined as ReturnType<typeof gate<void>> | undefined,
    asked: 0,
    update: (c: Uint8Array) => d.update(c),
    finish: () => d.finish(),
    ready: () => {
      w.asked++
      return w.hold?.promise
    },
  }
  return w
}

t.test('time spent waiting for the digester is not idle time; the idle limit runs again after it', async t => {
  const clock = new ManualClock()
  const w = waiting()
  w.hold = gate<void>()
  const whole = patterned(3 * B)
  const src = source(whole, B)
  const p = digestBody(src.body, { clock, idleMs: 1000, digester: w })
  for (let i = 0; i < 100 && w.asked === 0; i++) await new Promise(setImmediate)
  t.equal(src.pulled(), 0, 'nothing read while told to wait')
  clock.advance(60_000)
  let done = false
  void p.then(() => (done = true))
  for (let i = 0; i < 10; i++) await new Promise(setImmediate)
  t.notOk(done, 'a minute of waiting is no timeout')
  w.hold.open()
  w.hold = undefined
  const got = await p
  t.equal(got.failure, undefined, 'read to its end once allowed')
  t.ok(same(got.digest, digestOf(whole)))

  // A stream that stalls after its wait is given up after the idle limit, counted from the wait's end.
  const w2 = waiting()
  w2.hold = gate<void>()
  const stall = gate<void>()
  const stalled = (async function* () {
    yield Buffer.from('abc')
    await stall.promise
  })()
  const q = digestBody(stalled, { clock, idleMs: 1000, digester: w2 })
  for (let i = 0; i < 100 && w2.asked === 0; i++) await new Promise(setImmediate)
  clock.advance(5000)
  w2.hold.open()
  w2.hold = undefined
  // Let the read after the wait happen (at time 5000) before time moves on.
  for (let i = 0; i < 10; i++) await new Promise(setImmediate)
  clock.advance(999)
  let timedOut = false
  void q.then(() => (timedOut = true))
  for (let i = 0; i < 10; i++) await new Promise(setImmediate)
  t.notOk(timedOut, 'not before the limit after the wait')
  clock.advance(1)
  const r = await q
  t.equal(r.failure?.code, 'ERR_TIMEOUT', 'then it times out')
  stall.open()
})

t.test('an abort while waiting for the digester ends the body at once, its stream cancelled', async t => {
  const w = waiting()
  w.hold = gate<void>()
  const src = source(patterned(3 * B), B)
  const ac = new AbortController()
  const p = digestBody(src.body, { signal: ac.signal, digester: w })
  for (let i = 0; i < 100 && w.asked === 0; i++) await new Promise(setImmediate)
  ac.abort()
  const got = await p
  t.equal(got.failure?.code, 'ERR_ABORTED')
  t.equal(got.digest.length, 0, 'nothing hashed')
  t.equal(src.pulled(), 0, 'nothing read while waiting')
  w.hold.open()
  for (let i = 0; i < 10; i++) await new Promise(setImmediate)
  t.equal(src.pulled(), 0, 'and not read after the wait ends')
})

t.test('a paced body is read at its pace past its first bytes; waiting is not idle; an abort cuts the wait', async t => {
  const clock = new ManualClock()
  const whole = patterned(4 * B)
  const src = source(whole, B)
  // One chunk a second past the first chunk; an idle limit shorter than that wait.
  const p = digestBody(src.body, { clock, idleMs: 500, pace: { afterBytes: B, bytesPerSecond: B } })
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise(setImmediate)
  }
  await settle()
  t.equal(src.pulled(), 2, 'the first chunk is free; the second is read, then the pace holds the third')
  const pulled: number[] = []
  for (let i = 0; i < 3; i++) {
    clock.advance(999)
    await settle()
    pulled.push(src.pulled())
    clock.advance(1)
    await settle()
    pulled.push(src.pulled())
  }
  t.same(pulled, [2, 3, 3, 4, 4, 4], 'one more chunk a second, not before')
  const got = await p
  t.equal(got.failure, undefined, 'no idle timeout while the pace holds it')
  t.ok(same(got.digest, digestOf(whole)))

  const ac = new AbortController()
  const src2 = source(whole, B)
  const q = digestBody(src2.body, { clock, signal: ac.signal, pace: { afterBytes: 0, bytesPerSecond: B / 10 } })
  await settle()
  t.equal(src2.pulled(), 1, 'held after the first chunk for ten seconds')
  ac.abort()
  const cut = await q
  t.equal(cut.failure?.code, 'ERR_ABORTED', 'an abort ends the wait at once')
  t.equal(cut.digest.length, B)
  t.ok(src2.closed(), 'and cancels the stream')
})
