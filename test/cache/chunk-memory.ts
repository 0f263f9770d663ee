import t from 'tap'
import { ChunkMemory } from '../../src/cache/chunk-memory.js'
import { ChunkCache } from '../../src/cache/chunk-cache.js'

t.test('prepare refuses a size or count out of range', async t => {
  const rows: Array<[string, number, number]> = [
    ['chunk size 0', 0, 1],
    ['negative chunk size', -1, 1],
    ['fractional chunk size', 1.5, 1],
    ['negative count', 16, -1],
    ['fractional count', 16, 0.5],
    ['NaN count', 16, NaN],
  ]
  for (const [name, chunkSize, chunks] of rows) {
    await t.rejects(ChunkMemory.prepare({ chunkSize, chunks }), TypeError, name)
  }
})

t.test('allocate hands out each prepared buffer once, then fresh ones', async t => {
  // Rows: [what, chunks prepared, lengths asked in order, expected [prepared?] per ask, left after, fresh].
  const rows: Array<[string, number, number[], boolean[], number, number]> = [
    ['none prepared', 0, [64, 64], [false, false], 0, 2],
    ['fewer asks than prepared', 3, [64, 64], [true, true], 1, 0],
    ['more asks than prepared', 2, [64, 64, 64], [true, true, false], 0, 1],
    ['another length (a short last chunk) never takes one', 2, [17, 64, 128, 0], [false, true, false, false], 1, 3],
  ]
  for (const [what, chunks, asks, prepared, left, fresh] of rows) {
    const m = await ChunkMemory.prepare({ chunkSize: 64, chunks })
    t.equal(m.prepared, chunks, `${what}: prepared`)
    const seen = new Set<ArrayBufferLike>()
    const got = asks.map(n => {
      const before = m.left
      const b = m.allocate(n)
      t.equal(b.length, n, `${what}: ${n} bytes`)
      t.ok(b.every(x => x === 0), `${what}: zeroed`)
      t.notOk(seen.has(b.buffer), `${what}: never handed out twice`)
      seen.add(b.buffer)
      const fromPool = m.left === before - 1
      return fromPool
    })
    t.strictSame(got, prepared, `${what}: which asks got a prepared buffer`)
    t.equal(m.left, left, `${what}: left`)
    t.equal(m.fresh, fresh, `${what}: fresh`)
  }
})

t.test('a prepared buffer owns its memory, so the chunk cache keeps it without a copy', async t => {
  const m = await ChunkMemory.prepare({ chunkSize: 1024, chunks: 1 })
  const b = m.allocate(1024)
  t.equal(b.byteOffset, 0)
  t.equal(b.byteLength, b.buffer.byteLength, 'the whole of its ArrayBuffer')
  b.fill(7)
  const cache = new ChunkCache({ maxBytes: 4096, chunkSize: 1024 })
  const loaded = await cache.load('k@v/0', async () => b)
  t.equal(loaded.buffer, b.buffer, 'the cache holds the same memory')
  t.equal(cache.get('k@v/0')?.buffer, b.buffer, 'and answers with it')
})
