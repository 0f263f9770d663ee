import { createHash } from 'node:crypto'
import t from 'tap'
import { cachedChunkLoader } from '../../src/cache/cached-chunk-loader.js'
import { ChunkCache } from '../../src/cache/chunk-cache.js'
import { chunkAligned } from '../../src/content/chunk-aligned.js'
import { codeOf } from '../../src/core/errors.js'
import type { Content } from '../../src/content/content.js'
import { FakeChunks } from '../helpers/fake-chunks.js'
import { gate } from '../helpers/gate.js'
import { mulberry32, seededBytes } from '../helpers/random.js'

const READERS = 50
const CHUNKS = 64
const CHUNK = 4096
/** 64 chunks, the last one 100 bytes short, so the short last chunk is part of every read. */
const SIZE = CHUNKS * CHUNK - 100
const DATA = seededBytes(64, SIZE)
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const WANT = sha256(DATA)

interface Case {
  readonly name: string
  /** Budget in chunks. */
  readonly budgetChunks: number
  readonly prefetch: number
  /** Size of reader r's next read (given a seeded random source); SIZE reads the blob at once. */
  readonly readSize: (rnd: () => number) => number
  /** Whether every reader gives each read a signal of its own download. */
  readonly signals: boolean
  /** When the whole blob fits the budget, every chunk must be loaded exactly once. */
  readonly exactlyOnce: boolean
  /**
   * Readers whose number is a multiple of this leave (abort) during their first read, once its
   * prefetch of 16 chunks has started and before the loads may end: they leave loads behind that
   * nobody else waits for yet (cancelled) and loads that others wait for too (not cancelled).
   */
  readonly leaveEvery?: number
}

const cases: readonly Case[] = [
  { name: 'one read of the whole blob each', budgetChunks: CHUNKS, prefetch: 2, readSize: () => SIZE, signals: false, exactlyOnce: true },
  { name: 'chunk by chunk, prefetch 4', budgetChunks: CHUNKS, prefetch: 4, readSize: () => CHUNK, signals: true, exactlyOnce: true },
  { name: 'reads of 3000 bytes across chunk edges', budgetChunks: CHUNKS, prefetch: 2, readSize: () => 3000, signals: true, exactlyOnce: true },
  { name: 'reads of random sizes', budgetChunks: CHUNKS, prefetch: 2, readSize: rnd => 1 + Math.floor(rnd() * 3 * CHUNK), signals: true, exactlyOnce: true },
  {
    name: 'every third reader leaves during its first read',
    budgetChunks: CHUNKS,
    prefetch: 4,
    readSize: () => CHUNK,
    signals: true,
    exactlyOnce: false,
    leaveEvery: 3,
  },
  { name: 'a budget of 8 chunks for 64', budgetChunks: 8, prefetch: 2, readSize: rnd => 1 + Math.floor(rnd() * 2 * CHUNK), signals: true, exactlyOnce: false },
]

/**
 * readAll reads `c` from start to end in reads of `next()` bytes; `check` runs after each read. When
 * `leaveAt` is set, the reader aborts `ctrl` during its read number `leaveAt` (0-based), one microtask
 * after starting it: the loader starts a read's prefetch in the microtask after the read.
 */
async function readAll(
  c: Content,
  next: () => number,
  ctrl: AbortController | undefined,
  check: () => void,
  leaveAt?: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(c.size)
  let off = 0
  // Every read moves at least one byte on, so at most c.size reads.
  for (let reads = 0; off < c.size && reads < c.size; reads++) {
    const n = Math.min(next(), c.size - off)
    const reading = c.readAt(out.subarray(off, off + n), off, ctrl?.signal)
    if (reads === leaveAt) {
      await Promise.resolve()
      ctrl?.abort()
    }
    const got = await reading
    if (got === 0) throw new Error(`read at ${off} returned 0`)
    off += got
    check()
  }
  return out
}

t.test(`${READERS} concurrent readers of the same ${CHUNKS} uncached chunks through chunkAligned`, async t => {
  for (const c of cases) {
    const budget = c.budgetChunks * CHUNK
    const cache = new ChunkCache({ maxBytes: budget, chunkSize: CHUNK })
    // Every load waits until all readers have started: they all meet an empty cache.
    const start = gate()
    const fake = new FakeChunks(DATA, CHUNK, start)
    let over = 0
    const check = (): void => {
      if (cache.stats.main.bytes + cache.stats.hot.bytes > budget) over++
    }
    const counted = (index: number, signal?: AbortSignal): Promise<Uint8Array> => {
      check()
      return fake.load(index, signal)
    }
    const readers = [...Array(READERS).keys()].map(r => {
      const leaves = c.leaveEvery !== undefined && r % c.leaveEvery === 0
      const prefetch = leaves ? 16 : c.prefetch
      const loader = cachedChunkLoader(cache, { key: 'blob', version: 'v1', size: SIZE, load: counted, prefetch })
      const rnd = mulberry32(1000 + r)
      const ctrl = c.signals ? new AbortController() : undefined
      const content = chunkAligned(loader, SIZE, cache.chunkSize)
      const done = readAll(content, () => c.readSize(rnd), ctrl, check, leaves ? 0 : undefined)
        .then(
          b => sha256(b),
          (e: unknown) => codeOf(e) ?? String(e),
        )
        .finally(() => loader.close())
      return { loader, done, leaves }
    })
    start.open()
    const got = await Promise.all(readers.map(r => r.done))
    await Promise.all(readers.map(r => r.loader.idle()))
    check()

    const wrong = got.map((h, r) => [r, h] as const).filter(([r, h]) => h !== (readers[r]!.leaves ? 'ERR_ABORTED' : WANT))
    t.strictSame(wrong, [], `${c.name}: every reader got the right bytes (or ERR_ABORTED if it left)`)
    t.equal(over, 0, `${c.name}: the cache never held more than its budget`)
    const counts = [...Array(CHUNKS).keys()].map(i => fake.count(i))
    if (c.exactlyOnce) {
      t.strictSame(counts, Array(CHUNKS).fill(1), `${c.name}: every chunk loaded exactly once`)
      t.equal(cache.stats.loads, CHUNKS, `${c.name}: ${CHUNKS} loads counted`)
      t.equal(cache.stats.main.items, CHUNKS, `${c.name}: every chunk cached`)
    } else if (c.budgetChunks >= CHUNKS) {
      // A load that every request left was cancelled and not cached; any other was cached once.
      t.equal(cache.stats.loads, CHUNKS + cache.stats.loadsCancelled, `${c.name}: ${CHUNKS} loads plus the cancelled ones`)
      t.ok(cache.stats.loadsCancelled > 0, `${c.name}: prefetches only leavers waited for were cancelled`)
      t.equal(cache.stats.main.items, CHUNKS, `${c.name}: every chunk cached`)
    } else {
      t.ok(
        counts.every(n => n >= 1),
        `${c.name}: every chunk loaded at least once (loads: ${counts.reduce((a, b) => a + b, 0)})`,
      )
      t.ok(cache.stats.main.evictions > 0, `${c.name}: the small budget evicted`)
    }
    t.equal(cache.stats.loadErrors, 0, `${c.name}: no load failed`)
  }
})
