import t from 'tap'
import { BodyTee, DEFAULT_TEE_BYTES, TeeBudget } from '../../src/audit/body-tee.js'
import { codeOf } from '../../src/core/errors.js'

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)

async function readAll(it: AsyncIterable<Uint8Array>): Promise<number[][]> {
  const out: number[][] = []
  for await (const c of it) out.push([...c])
  return out
}

t.test('hands chunks over in order and finishes at end()', async t => {
  const tee = new BodyTee(100)
  tee.push(Uint8Array.of(1, 2))
  tee.push(Uint8Array.of(3))
  const reading = readAll(tee)
  tee.push(Uint8Array.of(4, 5, 6)) // pushed while the reader waits
  tee.end()
  tee.push(Uint8Array.of(7)) // after the end: ignored
  t.strictSame(await reading, [[1, 2], [3], [4, 5, 6]])
  t.equal(tee.abandoned, false)
  t.equal(tee.buffered, 0)
})

t.test('an empty body ends at once', async t => {
  const tee = new BodyTee(10)
  tee.end()
  t.strictSame(await readAll(tee), [])
})

t.test('error() reaches the reader after the chunks already pushed', async t => {
  const tee = new BodyTee(100)
  const boom = new Error('primary reset')
  tee.push(Uint8Array.of(1))
  tee.error(boom)
  const it = tee[Symbol.asyncIterator]()
  t.strictSame(await it.next(), { done: false, value: Uint8Array.of(1) })
  await t.rejects(it.next(), boom)
})

t.test('is abandoned when the reader falls behind by more than the bound', async t => {
  const tee = new BodyTee(10)
  const it = tee[Symbol.asyncIterator]()
  tee.push(bytes(4, 1))
  tee.push(bytes(4, 2)) // 8 unread
  t.equal(tee.buffered, 8)
  t.strictSame(await it.next(), { done: false, value: bytes(4, 1) })
  tee.push(bytes(6, 3)) // 4 + 6 = 10 unread: exactly the bound is allowed
  t.equal(tee.buffered, 10)
  t.equal(tee.abandoned, false)
  tee.push(bytes(1, 4)) // 11 > 10
  t.equal(tee.abandoned, true)
  t.equal(tee.buffered, 0, 'the buffer is dropped at once')
  tee.push(bytes(1, 5))
  tee.end()
  t.equal(tee.buffered, 0, 'later pushes are discarded')
  const err = await it.next().then(
    () => undefined,
    (e: unknown) => e,
  )
  t.equal(codeOf(err), 'ERR_ABANDONED', 'the reader learns it with ERR_ABANDONED')
})

t.test('a single chunk larger than the bound abandons the tee', async t => {
  const tee = new BodyTee(4)
  tee.push(bytes(5, 0))
  t.equal(tee.abandoned, true)
})

t.test('abandon() wakes a waiting reader with the code it was given', async t => {
  const table: Array<[string, 'ERR_ABANDONED' | 'ERR_SHUTDOWN' | 'ERR_SHED' | undefined, string, RegExp]> = [
    ['the default: fell behind or over budget', undefined, 'ERR_ABANDONED', /behind the client/],
    ['the mirror stopping', 'ERR_SHUTDOWN', 'ERR_SHUTDOWN', /mirror stopped/],
    ['the mirror shedding a comparison in progress', 'ERR_SHED', 'ERR_SHED', /saturated/],
  ]
  for (const [name, code, want, message] of table) {
    const tee = new BodyTee(10)
    const it = tee[Symbol.asyncIterator]()
    const next = it.next()
    if (code) tee.abandon(code)
    else tee.abandon()
    await t.rejects(next, { code: want, message }, name)
    tee.abandon('ERR_SHUTDOWN') // idempotent: the first reason stays
    await t.rejects(it.next(), { code: want }, `${name}: the first reason stays`)
    t.equal(tee.abandoned, true)
  }
})

t.test('abandon() after the end changes nothing: the body was complete', async t => {
  const tee = new BodyTee(10)
  tee.push(Uint8Array.of(9))
  tee.end()
  tee.abandon()
  t.equal(tee.abandoned, false)
  t.strictSame(await readAll(tee), [[9]])
})

t.test('return() stops reading: the buffer is dropped and later pushes discarded', async t => {
  const tee = new BodyTee(10)
  tee.push(bytes(3, 1))
  const it = tee[Symbol.asyncIterator]()
  t.strictSame(await it.return!(), { done: true, value: undefined })
  t.equal(tee.buffered, 0)
  tee.push(bytes(9, 2))
  tee.push(bytes(9, 3))
  t.equal(tee.buffered, 0)
  t.equal(tee.abandoned, false, 'a reader that stops early does not abandon the comparison')
  t.strictSame(await it.next(), { done: true, value: undefined })
})

t.test('pushes never wait for the reader, however many', async t => {
  const tee = new BodyTee(1000)
  for (let i = 0; i < 100; i++) tee.push(bytes(10, i))
  t.equal(tee.buffered, 1000)
  tee.end()
  const got = await readAll(tee)
  t.equal(got.length, 100)
  t.strictSame(
    got.map(c => c[0]),
    Array.from({ length: 100 }, (_, i) => i),
  )
})

t.test('bad bounds are refused; the default is 8 MiB', async t => {
  t.throws(() => new BodyTee(0), TypeError)
  t.throws(() => new BodyTee(1.5), TypeError)
  t.equal(DEFAULT_TEE_BYTES, 8 * 1024 * 1024)
  const tee = new BodyTee()
  tee.push(new Uint8Array(DEFAULT_TEE_BYTES))
  t.equal(tee.abandoned, false)
  tee.push(new Uint8Array(1))
  t.equal(tee.abandoned, true)
})

t.test('tees sharing a budget: the push that would exceed it abandons its tee, reads give bytes back', async t => {
  const budget = new TeeBudget(10)
  const a = new BodyTee(8, budget)
  const b = new BodyTee(8, budget)
  a.push(new Uint8Array(6))
  b.push(new Uint8Array(4))
  t.equal(budget.used, 10)
  b.push(new Uint8Array(1))
  t.ok(b.abandoned, 'the tee that would exceed the shared budget is abandoned')
  t.equal(budget.used, 6, 'its bytes are given back')
  const it = a[Symbol.asyncIterator]()
  t.equal((await it.next()).value?.length, 6)
  t.equal(budget.used, 0, 'read bytes are given back')
  a.push(new Uint8Array(8))
  t.notOk(a.abandoned, 'the budget is free again')
  await it.return?.()
  t.equal(budget.used, 0, 'a reader that stops gives everything back')
})
