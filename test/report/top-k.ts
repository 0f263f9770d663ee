import t from 'tap'
import { TopK } from '../../src/report/top-k.js'

t.test('TopK counts exactly below capacity', async t => {
  const k = new TopK(4, () => ({ seen: 0 }))
  for (const key of ['a', 'b', 'a', 'c', 'a', 'b']) k.add(key).seen++
  t.equal(k.exact, true)
  t.equal(k.total, 6)
  t.strictSame(
    k.top(10).map(e => [e.key, e.count, e.error, e.data.seen]),
    [
      ['a', 3, 0, 3],
      ['b', 2, 0, 2],
      ['c', 1, 0, 1],
    ],
  )
  t.strictSame(
    k.top(1).map(e => e.key),
    ['a'],
  )
  t.strictSame(k.top(-1), [])
})

t.test('TopK evicts the lightest key and bounds the newcomer by its count', async t => {
  const k = new TopK(2, () => null)
  k.add('a', 5)
  k.add('b', 2)
  k.add('c') // evicts b (2): c = 3 ± 2
  t.equal(k.exact, false)
  t.equal(k.size, 2)
  t.strictSame(
    k.top(2).map(e => [e.key, e.count, e.error]),
    [
      ['a', 5, 0],
      ['c', 3, 2],
    ],
  )
})

t.test('TopK keeps every key heavier than total/capacity in a long skewed stream', async t => {
  const k = new TopK(50, () => null)
  const truth = new Map<string, number>()
  let x = 12345
  for (let i = 0; i < 20_000; i++) {
    x = (x * 48271) % 2147483647 // MINSTD: exact in doubles
    // Three heavy keys (about 20%, 10%, 5%) in a sea of rare ones.
    const r = x % 100
    const key = r < 20 ? 'h1' : r < 30 ? 'h2' : r < 35 ? 'h3' : `rare${x % 5000}`
    truth.set(key, (truth.get(key) ?? 0) + 1)
    k.add(key)
  }
  const top = k.top(3)
  t.strictSame(
    top.map(e => e.key),
    ['h1', 'h2', 'h3'],
  )
  for (const e of top)
    t.ok(e.count >= truth.get(e.key)! && e.count - e.error <= truth.get(e.key)!, `${e.key} is bounded`)
})

t.test('TopK rejects a bad capacity', async t => {
  t.throws(() => new TopK(0, () => null), TypeError)
  t.throws(() => new TopK(1.5, () => null), TypeError)
})
