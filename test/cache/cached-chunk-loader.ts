import t from 'tap'
import { cachedChunkLoader, chunkKey, DEFAULT_PREFETCH, type CachedChunkLoader, type CachedChunkLoaderOptions } from '../../src/cache/cached-chunk-loader.js'
import { ChunkCache, type ChunkCacheStats } from '../../src/cache/chunk-cache.js'
import { codeOf } from '../../src/core/errors.js'
import { FakeChunks, type Fault } from '../helpers/fake-chunks.js'
import { seededBytes } from '../helpers/random.js'

t.test('chunkKey', async t => {
  const rows: ReadonlyArray<[string, string, number, string]> = [
    ['a/b.bin', '1:2:3', 0, 'a/b.bin@1:2:3/0'],
    ['k', 'v', 17, 'k@v/17'],
    ['x@y', 'v', 1, 'x@y@v/1'],
    ['k', 'a@b', 0, 'k@a%40b/0'],
    ['k', 'a/b', 0, 'k@a%2Fb/0'],
    ['k', 'a%40b', 0, 'k@a%2540b/0'],
  ]
  for (const [key, version, index, want] of rows) t.equal(chunkKey(key, version, index), want, `${key} ${version} ${index}`)
  const all = rows.map(([k, v, i]) => chunkKey(k, v, i))
  t.equal(new Set(all).size, all.length, 'no two triples share a key')
})

t.test('options', async t => {
  const cache = new ChunkCache({ maxBytes: 64, chunkSize: 4 })
  const load = new FakeChunks(new Uint8Array(8), 4).load
  const good: CachedChunkLoaderOptions = { key: 'k', version: 'v', size: 8, load }
  const bad: ReadonlyArray<[string, Partial<CachedChunkLoaderOptions>]> = [
    ['a negative size', { size: -1 }],
    ['a fractional size', { size: 1.5 }],
    ['a negative prefetch', { prefetch: -1 }],
    ['a fractional prefetch', { prefetch: 0.5 }],
    ['no load', { load: undefined as unknown as CachedChunkLoaderOptions['load'] }],
    ['an unknown cache', { which: 'cold' as 'main' }],
    ['a version that is not a string', { version: 3 as unknown as string }],
  ]
  for (const [name, o] of bad) t.throws(() => cachedChunkLoader(cache, { ...good, ...o }), TypeError, `${name} throws TypeError`)
  t.equal(DEFAULT_PREFETCH, 2, 'prefetch defaults to 2')
  const l = cachedChunkLoader(cache, good)
  for (const index of [-1, 2, 0.5]) {
    const got = await l(index).catch((e: unknown) => (e instanceof RangeError ? 'RangeError' : String(e)))
    t.equal(got, 'RangeError', `index ${index} rejects with RangeError`)
  }
})

const CHUNK = 4
/** 10 chunks, the last one 2 bytes short. */
const DATA = seededBytes(13, 10 * CHUNK - 2)

/** World is what a prefetch scenario works with. */
interface World {
  readonly cache: ChunkCache
  readonly fake: FakeChunks
  /** download starts a new download (a new loader) of version `version` (default v1). */
  download(o?: Partial<CachedChunkLoaderOptions>): CachedChunkLoader
  /** read reads chunk `index` and checks its bytes; it resolves with 'ok' or the error code. */
  read(l: CachedChunkLoader, index: number, signal?: AbortSignal): Promise<string>
  /**
   * turn lets the prefetches that this turn's reads scheduled start: a loader starts them in the
   * microtask after the reads, and this continuation is queued after it.
   */
  turn(): Promise<void>
}

/** Counter names the counters of ChunkCacheStats that the prefetch table checks. */
type Counter =
  | 'loads'
  | 'loadsDeduplicated'
  | 'loadsCancelled'
  | 'loadErrors'
  | 'prefetchStarted'
  | 'prefetchUsed'
  | 'prefetchWasted'
  | 'uncachedLoads'

interface PrefetchCase {
  readonly name: string
  readonly budget?: number
  readonly fault?: Fault
  /** Runs the scenario; the strings it returns are compared with `got`. */
  readonly run: (w: World) => Promise<readonly string[]>
  readonly got: readonly string[]
  /** The chunk indices loaded, in call order. */
  readonly calls: readonly number[]
  readonly stats: Partial<Pick<ChunkCacheStats, Counter>>
  /** Chunks of version v1 cached at the end. */
  readonly cached: readonly number[]
}

/** aborted lists the call indices (by chunk) whose load signal aborted. */
const abortedCalls = (fake: FakeChunks): string => `aborted ${fake.calls.filter(c => c.signal?.aborted === true).map(c => c.index).join(',')}`

/**
 * readZeroThenOne is one download reading chunk 0, its prefetches completing, then chunk 1 (a
 * sequential read), each load released as soon as it is asked; the two reads' outcomes.
 */
async function readZeroThenOne(w: World): Promise<string[]> {
  const l = w.download()
  const r0 = w.read(l, 0)
  await w.turn()
  w.fake.releaseAll()
  await r0
  await l.idle()
  const r1 = w.read(l, 1)
  await w.turn()
  w.fake.releaseAll()
  const got = [await r0, await r1]
  await l.idle()
  return got
}

const prefetchCases: readonly PrefetchCase[] = [
  {
    name: 'reading chunk 0 prefetches chunks 1 and 2',
    run: async w => {
      const l = w.download()
      const r = w.read(l, 0)
      await w.turn()
      w.fake.releaseAll()
      const got = await r
      await l.idle()
      return [got]
    },
    got: ['ok'],
    calls: [0, 1, 2],
    stats: { loads: 3, prefetchStarted: 2 },
    cached: [0, 1, 2],
  },
  {
    name: 'the next sequential read uses a prefetched chunk and moves the window on',
    run: w => readZeroThenOne(w),
    got: ['ok', 'ok'],
    calls: [0, 1, 2, 3],
    stats: { loads: 4, prefetchStarted: 3, prefetchUsed: 1 },
    cached: [0, 1, 2, 3],
  },
  {
    name: 'a read of a chunk still being prefetched joins it, and only the new chunk is prefetched',
    run: async w => {
      const l = w.download()
      const r0 = w.read(l, 0)
      await w.turn()
      const r1 = w.read(l, 1)
      await w.turn()
      w.fake.releaseAll()
      const got = [await r0, await r1]
      await l.idle()
      return got
    },
    got: ['ok', 'ok'],
    calls: [0, 1, 2, 3],
    stats: { loads: 4, loadsDeduplicated: 1, prefetchStarted: 3, prefetchUsed: 1 },
    cached: [0, 1, 2, 3],
  },
  {
    name: 'chunks read in one turn (one readAt) are read, and prefetch starts past the last of them',
    run: async w => {
      const l = w.download()
      const rs = [w.read(l, 0), w.read(l, 1), w.read(l, 2)]
      await w.turn()
      w.fake.releaseAll()
      const got = await Promise.all(rs)
      await l.idle()
      return got
    },
    got: ['ok', 'ok', 'ok'],
    calls: [0, 1, 2, 3, 4],
    stats: { loads: 5, prefetchStarted: 2 },
    cached: [0, 1, 2, 3, 4],
  },
  {
    name: 'reads that are not sequential prefetch nothing',
    run: async w => {
      const l = w.download()
      const rs = [5, 7, 3].map(i => w.read(l, i))
      w.fake.releaseAll()
      return Promise.all(rs)
    },
    got: ['ok', 'ok', 'ok'],
    calls: [5, 7, 3],
    stats: { loads: 3 },
    cached: [3, 5, 7],
  },
  {
    name: 'prefetch stops at the last chunk',
    run: async w => {
      const l = w.download({ prefetch: 5 })
      const rs = [w.read(l, 7), w.read(l, 8)]
      await w.turn()
      w.fake.releaseAll()
      const got = await Promise.all(rs)
      await l.idle()
      return got
    },
    got: ['ok', 'ok'],
    calls: [7, 8, 9],
    stats: { loads: 3, prefetchStarted: 1 },
    cached: [7, 8, 9],
  },
  {
    name: 'prefetch 0 turns prefetch off',
    run: async w => {
      const l = w.download({ prefetch: 0 })
      const rs = [w.read(l, 0), w.read(l, 1)]
      w.fake.releaseAll()
      return Promise.all(rs)
    },
    got: ['ok', 'ok'],
    calls: [0, 1],
    stats: { loads: 2 },
    cached: [0, 1],
  },
  {
    name: 'close() cancels the prefetches in flight',
    run: async w => {
      const l = w.download()
      const r0 = w.read(l, 0)
      await w.turn()
      w.fake.callsOf(0)[0]!.release.open()
      const got = await r0
      l.close()
      await l.idle()
      return [got, abortedCalls(w.fake)]
    },
    got: ['ok', 'aborted 1,2'],
    calls: [0, 1, 2],
    stats: { loads: 3, loadsCancelled: 2, prefetchStarted: 2, prefetchWasted: 2 },
    cached: [0],
  },
  {
    name: "the read's signal aborting cancels the read and its prefetches",
    run: async w => {
      const l = w.download()
      const ctrl = new AbortController()
      const r0 = w.read(l, 0, ctrl.signal)
      await w.turn()
      ctrl.abort()
      const got = await r0
      await l.idle()
      return [got, abortedCalls(w.fake)]
    },
    got: ['ERR_ABORTED', 'aborted 0,1,2'],
    calls: [0, 1, 2],
    stats: { loads: 3, loadsCancelled: 3, prefetchStarted: 2, prefetchWasted: 2 },
    cached: [],
  },
  {
    name: 'a prefetch that another download reads is not cancelled with its own download',
    run: async w => {
      const a = w.download()
      const b = w.download()
      const a0 = w.read(a, 0)
      await w.turn()
      const b1 = w.read(b, 1)
      a.close()
      w.fake.releaseAll()
      const got = [await a0, await b1, abortedCalls(w.fake)]
      await a.idle()
      return got
    },
    got: ['ok', 'ok', 'aborted 2'],
    calls: [0, 1, 2],
    stats: { loads: 3, loadsDeduplicated: 1, loadsCancelled: 1, prefetchStarted: 2, prefetchUsed: 1, prefetchWasted: 1 },
    cached: [0, 1],
  },
  {
    name: 'a prefetch that another download also prefetches is not cancelled with its own download',
    run: async w => {
      const a = w.download()
      const b = w.download()
      const rs = [w.read(a, 0), w.read(b, 0)]
      await w.turn()
      a.close()
      w.fake.releaseAll()
      const got = [...(await Promise.all(rs)), abortedCalls(w.fake)]
      await Promise.all([a.idle(), b.idle()])
      return got
    },
    got: ['ok', 'ok', 'aborted '],
    calls: [0, 1, 2],
    stats: { loads: 3, loadsDeduplicated: 3, prefetchStarted: 2 },
    cached: [0, 1, 2],
  },
  {
    name: 'a prefetched chunk evicted before use is wasted',
    budget: 2 * CHUNK,
    // Cached after chunk 0's read: 1 and 2 (0 was evicted by 2). Reading 1 prefetches 3, which evicts 2.
    run: w => readZeroThenOne(w),
    got: ['ok', 'ok'],
    calls: [0, 1, 2, 3],
    stats: { loads: 4, prefetchStarted: 3, prefetchUsed: 1, prefetchWasted: 1 },
    cached: [1, 3],
  },
  {
    name: 'a short chunk is refused, not cached, and the next read loads again',
    fault: (index, n) => (index === 0 && n === 0 ? 'short' : 'ok'),
    run: async w => {
      const l = w.download({ prefetch: 0 })
      const first = w.read(l, 0)
      w.fake.releaseAll()
      const got = [await first]
      const again = w.read(l, 0)
      w.fake.releaseAll()
      got.push(await again)
      return got
    },
    got: ['ERR_SHORT_READ', 'ok'],
    calls: [0, 0],
    stats: { loads: 2, loadErrors: 1 },
    cached: [0],
  },
  {
    name: 'a settling version is never cached nor prefetched',
    run: async w => {
      const l = w.download({ version: undefined })
      const rs = [w.read(l, 0), w.read(l, 1), w.read(l, 0)]
      w.fake.releaseAll()
      const got = await Promise.all(rs)
      const again = w.read(l, 0)
      w.fake.releaseAll()
      got.push(await again, `items ${w.cache.stats.main.items + w.cache.stats.hot.items}`)
      return got
    },
    got: ['ok', 'ok', 'ok', 'ok', 'items 0'],
    calls: [0, 1, 0, 0],
    stats: { uncachedLoads: 4 },
    cached: [],
  },
  {
    name: 'two versions of a blob never share a chunk; two downloads of one version do',
    run: async w => {
      const rs = [w.read(w.download({ prefetch: 0 }), 0), w.read(w.download({ prefetch: 0, version: 'v2' }), 0)]
      w.fake.releaseAll()
      const got = await Promise.all(rs)
      got.push(await w.read(w.download({ prefetch: 0 }), 0))
      return got
    },
    got: ['ok', 'ok', 'ok'],
    calls: [0, 0],
    stats: { loads: 2 },
    cached: [0],
  },
  {
    name: 'the hot cache holds the chunks of a loader that names it',
    run: async w => {
      const l = w.download({ which: 'hot', prefetch: 1 })
      const r = w.read(l, 0)
      await w.turn()
      w.fake.releaseAll()
      const got = [await r]
      await l.idle()
      got.push(`hot ${w.cache.stats.hot.items} main ${w.cache.stats.main.items}`)
      return got
    },
    got: ['ok', 'hot 2 main 0'],
    calls: [0, 1],
    stats: { loads: 2, prefetchStarted: 1 },
    cached: [],
  },
]

t.test('prefetch, cancel, settling versions', async t => {
  for (const c of prefetchCases) {
    const cache = new ChunkCache({ maxBytes: c.budget ?? 64 * CHUNK, chunkSize: CHUNK })
    const fake = new FakeChunks(DATA, CHUNK, true, c.fault)
    const w: World = {
      cache,
      fake,
      download: o => cachedChunkLoader(cache, { key: 'blob', version: 'v1', size: DATA.length, load: fake.load, ...o }),
      read: (l, index, signal) =>
        l(index, signal).then(
          chunk => (Buffer.from(chunk).equals(DATA.subarray(index * CHUNK, (index + 1) * CHUNK)) ? 'ok' : `wrong bytes in chunk ${index}`),
          (e: unknown) => codeOf(e) ?? String(e),
        ),
      turn: () => Promise.resolve(),
    }
    t.strictSame(await c.run(w), c.got, `${c.name}: what the reads got`)
    t.strictSame(
      fake.calls.map(x => x.index),
      c.calls,
      `${c.name}: the loads`,
    )
    const s = cache.stats
    const none: Record<Counter, number> = {
      loads: 0,
      loadsDeduplicated: 0,
      loadsCancelled: 0,
      loadErrors: 0,
      prefetchStarted: 0,
      prefetchUsed: 0,
      prefetchWasted: 0,
      uncachedLoads: 0,
    }
    const want = { ...none, ...c.stats }
    const seen = Object.fromEntries(Object.keys(none).map(k => [k, s[k as Counter]]))
    t.strictSame(seen, want, `${c.name}: stats`)
    const cached = [...Array(10).keys()].filter(i => cache.has(chunkKey('blob', 'v1', i)))
    t.strictSame(cached, c.cached, `${c.name}: cached chunks`)
    t.ok(s.prefetchUsed + s.prefetchWasted <= s.prefetchStarted, `${c.name}: no prefetch both used and wasted`)
  }
})
