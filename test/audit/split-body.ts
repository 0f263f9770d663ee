import t from 'tap'
import { splitBody } from '../../src/audit/split-body.js'

async function* source(chunks: number[][], log: string[], fail?: Error): AsyncGenerator<Uint8Array> {
  try {
    for (const [i, c] of chunks.entries()) {
      log.push(`read ${i}`)
      yield Uint8Array.from(c)
    }
    if (fail) throw fail
  } finally {
    log.push('source closed')
  }
}

async function readAll(it: AsyncIterable<Uint8Array>): Promise<number[][]> {
  const out: number[][] = []
  for await (const c of it) out.push([...c])
  return out
}

t.test('both readers get every chunk; the source is read once', async t => {
  const log: string[] = []
  const [a, b] = splitBody(source([[1], [2, 3], [4]], log), 100)
  const [ra, rb] = await Promise.all([readAll(a), readAll(b)])
  t.strictSame(ra, [[1], [2, 3], [4]])
  t.strictSame(rb, [[1], [2, 3], [4]])
  t.strictSame(log, ['read 0', 'read 1', 'read 2', 'source closed'])
})

t.test('the reader ahead waits while the other lags by more than the bound', async t => {
  const log: string[] = []
  const [a, b] = splitBody(
    source(
      [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
      ],
      log,
    ),
    3,
  )
  const ia = a[Symbol.asyncIterator]()
  await ia.next()
  await ia.next() // b now has 4 bytes unread, more than 3
  let third = false
  const p = ia.next().then(r => ((third = true), r))
  const ib = b[Symbol.asyncIterator]()
  t.strictSame((await ib.next()).value, Uint8Array.of(1, 1))
  t.strictSame((await p).value, Uint8Array.of(3, 3), 'a goes on once b has caught up')
  t.equal(third, true)
  t.strictSame(await readAll({ [Symbol.asyncIterator]: () => ib }), [
    [2, 2],
    [3, 3],
    [4, 4],
  ])
  t.strictSame(await readAll({ [Symbol.asyncIterator]: () => ia }), [[4, 4]])
})

t.test('a reader that stops no longer holds the other back; both stopping cancels the source', async t => {
  const log: string[] = []
  const [a, b] = splitBody(source([[1], [2], [3], [4]], log), 1)
  const ib = b[Symbol.asyncIterator]()
  await ib.next()
  await ib.return!()
  t.strictSame(await readAll(a), [[1], [2], [3], [4]])
  const log2: string[] = []
  const [c, d] = splitBody(source([[1], [2], [3]], log2), 10)
  const ic = c[Symbol.asyncIterator]()
  await ic.next()
  await ic.return!()
  await d[Symbol.asyncIterator]().return!()
  t.strictSame(log2, ['read 0', 'source closed'])
})

t.test('a source error reaches both readers after their chunks', async t => {
  const boom = new Error('reset')
  const [a, b] = splitBody(source([[1]], [], boom), 10)
  for (const r of [a, b]) {
    const it = r[Symbol.asyncIterator]()
    t.strictSame((await it.next()).value, Uint8Array.of(1))
    await t.rejects(it.next(), boom)
  }
})
