import t from 'tap'
import { ChunkCache, DEFAULT_CHUNK_SIZE, type CacheName, type ChunkCacheOptions, type ChunkCacheStats } from '../../src/cache/chunk-cache.js'
import { abortError, codeOf, CutoverError } from '../../src/core/errors.js'
import { gate } from '../helpers/gate.js'

type Op = readonly ['add', CacheName, string, number] | readonly ['get', CacheName, string]

interface EvictionCase {
  readonly name: string
  readonly budget: number
  readonly ops: readonly Op[]
  /** Keys held at the end, per cache. */
  readonly main: readonly string[]
  readonly hot: readonly string[]
  readonly evictions: { readonly main: number; readonly hot: number }
  /** hits/misses per cache, when the case does gets. */
  readonly lookups?: { readonly main: readonly [number, number]; readonly hot: readonly [number, number] }
}

const add = (which: CacheName, key: string, size: number): Op => ['add', which, key, size]
const get = (which: CacheName, key: string): Op => ['get', which, key]

const evictionCases: readonly EvictionCase[] = [
  {
    name: 'main evicts its least recently used chunk',
    budget: 10,
    ops: [add('main', 'a', 4), add('main', 'b', 4), add('main', 'c', 4)],
    main: ['b', 'c'],
    hot: [],
    evictions: { main: 1, hot: 0 },
  },
  {
    name: 'a get makes a chunk recently used',
    budget: 10,
    ops: [add('main', 'a', 4), add('main', 'b', 4), get('main', 'a'), add('main', 'c', 4)],
    main: ['a', 'c'],
    hot: [],
    evictions: { main: 1, hot: 0 },
  },
  {
    name: 'hot holding more than an eighth of main is evicted first',
    budget: 16,
    ops: [add('main', 'a', 4), add('main', 'b', 4), add('main', 'c', 4), add('hot', 'h1', 2), add('hot', 'h2', 2), add('hot', 'h3', 2)],
    main: ['a', 'b', 'c'],
    hot: ['h2', 'h3'],
    evictions: { main: 0, hot: 1 },
  },
  {
    name: 'hot holding at most an eighth of main is spared: main is evicted',
    budget: 20,
    ops: [add('main', 'a', 8), add('main', 'b', 8), add('hot', 'h', 1), add('main', 'c', 4)],
    main: ['b', 'c'],
    hot: ['h'],
    evictions: { main: 1, hot: 0 },
  },
  {
    name: 'hot just over an eighth of main (3 of 18 bytes) is evicted first',
    budget: 20,
    ops: [add('main', 'a', 8), add('main', 'b', 8), add('hot', 'h', 3), add('main', 'c', 2)],
    main: ['a', 'b', 'c'],
    hot: [],
    evictions: { main: 0, hot: 1 },
  },
  {
    name: 'one insert evicts from hot, then from main, until within the budget',
    budget: 16,
    ops: [add('main', 'a', 4), add('main', 'b', 4), add('main', 'c', 4), add('hot', 'h', 4), add('main', 'd', 8)],
    main: ['b', 'c', 'd'],
    hot: [],
    evictions: { main: 1, hot: 1 },
  },
  {
    name: 'an insert into main evicts a large hot cache',
    budget: 8,
    ops: [add('hot', 'h1', 4), add('hot', 'h2', 4), add('main', 'a', 4)],
    main: ['a'],
    hot: ['h2'],
    evictions: { main: 0, hot: 1 },
  },
  {
    name: 'with main empty, hot evicts its own least recently used',
    budget: 8,
    ops: [add('hot', 'h1', 4), add('hot', 'h2', 4), add('hot', 'h3', 4)],
    main: [],
    hot: ['h2', 'h3'],
    evictions: { main: 0, hot: 1 },
  },
  {
    name: 'a chunk larger than the whole budget is not stored and evicts nothing',
    budget: 8,
    ops: [add('main', 'a', 4), add('main', 'big', 9), add('hot', 'big', 9)],
    main: ['a'],
    hot: [],
    evictions: { main: 0, hot: 0 },
  },
  {
    name: 'an empty chunk is charged one byte',
    budget: 2,
    ops: [add('main', 'e', 0), add('main', 'f', 0), add('main', 'g', 0)],
    main: ['f', 'g'],
    hot: [],
    evictions: { main: 1, hot: 0 },
  },
  {
    name: 'adding a cached key again leaves it as it was (recency included)',
    budget: 8,
    ops: [add('main', 'a', 4), add('main', 'b', 4), add('main', 'a', 4), add('main', 'c', 4)],
    main: ['b', 'c'],
    hot: [],
    evictions: { main: 1, hot: 0 },
  },
  {
    name: 'hits and misses are counted per cache',
    budget: 8,
    ops: [add('main', 'a', 2), add('hot', 'h', 2), get('main', 'a'), get('main', 'h'), get('hot', 'h'), get('hot', 'a'), get('hot', 'x')],
    main: ['a'],
    hot: ['h'],
    evictions: { main: 0, hot: 0 },
    lookups: { main: [1, 1], hot: [1, 2] },
  },
]

t.test('one byte budget over main and hot: eviction order', async t => {
  for (const c of evictionCases) {
    const cache = new ChunkCache({ maxBytes: c.budget, chunkSize: 16 })
    const keys = new Set<string>()
    let over = 0
    for (const op of c.ops) {
      keys.add(op[2])
      if (op[0] === 'add') cache.add(op[2], new Uint8Array(op[3]), op[1])
      else cache.get(op[2], op[1])
      if (cache.stats.main.bytes + cache.stats.hot.bytes > c.budget) over++
    }
    const held = (which: CacheName): string[] => [...keys].filter(k => cache.has(k, which)).sort()
    t.strictSame({ main: held('main'), hot: held('hot') }, { main: [...c.main].sort(), hot: [...c.hot].sort() }, `${c.name}: what is held`)
    t.strictSame({ main: cache.stats.main.evictions, hot: cache.stats.hot.evictions }, c.evictions, `${c.name}: evictions`)
    t.equal(over, 0, `${c.name}: never over the budget after an operation`)
    t.equal(cache.stats.main.items, c.main.length, `${c.name}: main items`)
    t.equal(cache.stats.hot.items, c.hot.length, `${c.name}: hot items`)
    if (c.lookups !== undefined) {
      const seen = {
        main: [cache.stats.main.hits, cache.stats.main.misses],
        hot: [cache.stats.hot.hits, cache.stats.hot.misses],
      }
      t.strictSame(seen, c.lookups, `${c.name}: [hits, misses]`)
    }
  }
})

t.test('a view into a larger buffer is kept as an exact copy, so the budget is the memory held', async t => {
  const rows: ReadonlyArray<{ name: string; bytes: Uint8Array; ownBuffer: boolean }> = [
    { name: 'a view of 4 bytes of 1024', bytes: new Uint8Array(1024).subarray(10, 14), ownBuffer: false },
    { name: 'a whole buffer', bytes: new Uint8Array(4), ownBuffer: true },
    // A Buffer's slice() is a view, not a copy: these must be copied all the same.
    { name: 'a small Buffer from Node\'s shared pool', bytes: Buffer.from('abcd'), ownBuffer: false },
    { name: 'a Buffer view of 4 bytes of 1024', bytes: Buffer.alloc(1024).subarray(100, 104), ownBuffer: false },
  ]
  for (const r of rows) {
    const cache = new ChunkCache({ maxBytes: 64, chunkSize: 4 })
    cache.add('k', r.bytes)
    const got = cache.get('k')!
    t.equal(got.buffer.byteLength, 4, `${r.name}: the cached chunk holds 4 bytes of memory`)
    t.equal(got === r.bytes, r.ownBuffer, `${r.name}: ${r.ownBuffer ? 'kept as given' : 'copied'}`)
    t.equal(cache.stats.main.bytes, 4, `${r.name}: 4 bytes counted`)
  }
})

t.test('options', async t => {
  const bad: ReadonlyArray<[string, ChunkCacheOptions]> = [
    ['a zero budget', { maxBytes: 0 }],
    ['a negative budget', { maxBytes: -1 }],
    ['a fractional budget', { maxBytes: 1.5 }],
    ['a budget past half the safe integers', { maxBytes: Number.MAX_SAFE_INTEGER }],
    ['a zero chunk size', { maxBytes: 10, chunkSize: 0 }],
    ['a fractional chunk size', { maxBytes: 10, chunkSize: 2.5 }],
  ]
  for (const [name, o] of bad) t.throws(() => new ChunkCache(o), TypeError, `${name} throws TypeError`)
  const c = new ChunkCache({ maxBytes: 10 })
  t.equal(c.chunkSize, DEFAULT_CHUNK_SIZE, 'the chunk size defaults to DEFAULT_CHUNK_SIZE')
  t.equal(DEFAULT_CHUNK_SIZE, 2 * 1024 * 1024, 'which is 2 MiB')
  t.throws(() => c.get('k', 'cold' as CacheName), TypeError, 'an unknown cache name throws TypeError')
})

/** Fetch is a fetch the test ends; it counts calls and ignores or honours its signal. */
function heldFetch(bytes: Uint8Array, honourAbort = true): {
  fetch: (signal: AbortSignal) => Promise<Uint8Array>
  signals: AbortSignal[]
  end: (how: 'ok' | 'fail') => void
} {
  const signals: AbortSignal[] = []
  const ends = gate<'ok' | 'fail'>()
  return {
    signals,
    end: how => ends.open(how),
    fetch: signal => {
      signals.push(signal)
      return new Promise<Uint8Array>((resolve, reject) => {
        if (honourAbort) signal.addEventListener('abort', () => reject(abortError(signal)), { once: true })
        void ends.promise.then(how => (how === 'ok' ? resolve(new Uint8Array(bytes)) : reject(new CutoverError('ERR_IO', 'fetch failed'))))
      })
    },
  }
}

type Counted = Pick<
  ChunkCacheStats,
  'loads' | 'loadsDeduplicated' | 'loadErrors' | 'loadsCancelled' | 'prefetchStarted' | 'prefetchUsed' | 'prefetchWasted'
> & {
  readonly hits: number
  readonly misses: number
  readonly cached: boolean
}

const counted = (c: ChunkCache, key = 'k'): Counted => ({
  loads: c.stats.loads,
  loadsDeduplicated: c.stats.loadsDeduplicated,
  loadErrors: c.stats.loadErrors,
  loadsCancelled: c.stats.loadsCancelled,
  prefetchStarted: c.stats.prefetchStarted,
  prefetchUsed: c.stats.prefetchUsed,
  prefetchWasted: c.stats.prefetchWasted,
  hits: c.stats.main.hits,
  misses: c.stats.main.misses,
  cached: c.has(key),
})

const zero: Counted = {
  loads: 0,
  loadsDeduplicated: 0,
  loadErrors: 0,
  loadsCancelled: 0,
  prefetchStarted: 0,
  prefetchUsed: 0,
  prefetchWasted: 0,
  hits: 0,
  misses: 0,
  cached: false,
}

const outcome = (p: Promise<Uint8Array>): Promise<string> => p.then(b => `${b.length} bytes`, (e: unknown) => codeOf(e) ?? String(e))

interface LoadCase {
  readonly name: string
  /** Runs the scenario on a cache of 64 bytes and returns what the requests got. */
  readonly run: (c: ChunkCache) => Promise<readonly string[]>
  readonly got: readonly string[]
  readonly want: Partial<Counted>
}

const four = new Uint8Array([1, 2, 3, 4])

const loadCases: readonly LoadCase[] = [
  {
    name: 'a miss loads and caches, the next request hits',
    run: async c => {
      const f = heldFetch(four)
      const first = outcome(c.load('k', f.fetch))
      f.end('ok')
      return [await first, await outcome(c.load('k', f.fetch))]
    },
    got: ['4 bytes', '4 bytes'],
    want: { loads: 1, hits: 1, misses: 1, cached: true },
  },
  {
    name: 'concurrent requests join one load',
    run: async c => {
      const f = heldFetch(four)
      const all = [0, 1, 2].map(() => outcome(c.load('k', f.fetch)))
      f.end('ok')
      return Promise.all(all)
    },
    got: ['4 bytes', '4 bytes', '4 bytes'],
    want: { loads: 1, loadsDeduplicated: 2, misses: 3, cached: true },
  },
  {
    name: 'a failed load is not cached and the next request loads again',
    run: async c => {
      const bad = heldFetch(four)
      const first = outcome(c.load('k', bad.fetch))
      bad.end('fail')
      const failed = await first
      const good = heldFetch(four)
      const second = outcome(c.load('k', good.fetch))
      good.end('ok')
      return [failed, await second]
    },
    got: ['ERR_IO', '4 bytes'],
    want: { loads: 2, loadErrors: 1, misses: 2, cached: true },
  },
  {
    name: 'a load every request left is cancelled, and not cached even if its bytes arrive',
    run: async c => {
      const f = heldFetch(four, false)
      const ctrl = new AbortController()
      const first = outcome(c.load('k', f.fetch, { signal: ctrl.signal }))
      ctrl.abort()
      const got = await first
      f.end('ok')
      // The fetch resolves after its abort: give it its turn, then look.
      await Promise.resolve()
      return [got, `aborted=${f.signals[0]!.aborted}`]
    },
    got: ['ERR_ABORTED', 'aborted=true'],
    want: { loads: 1, loadsCancelled: 1, misses: 1, cached: false },
  },
  {
    name: 'an aborted signal neither looks up nor loads',
    run: async c => [await outcome(c.load('k', heldFetch(four).fetch, { signal: AbortSignal.abort() }))],
    got: ['ERR_ABORTED'],
    want: {},
  },
  {
    name: 'a prefetch loads without a hit or a miss; a later read uses it',
    run: async c => {
      const f = heldFetch(four)
      const p = c.prefetch('k', f.fetch)
      f.end('ok')
      await p
      return [await outcome(c.load('k', f.fetch)), await outcome(c.load('k', f.fetch))]
    },
    got: ['4 bytes', '4 bytes'],
    want: { loads: 1, prefetchStarted: 1, prefetchUsed: 1, hits: 2, cached: true },
  },
  {
    name: 'a read that joins a prefetch in flight uses it',
    run: async c => {
      const f = heldFetch(four)
      const p = c.prefetch('k', f.fetch)
      const read = outcome(c.load('k', f.fetch))
      f.end('ok')
      await p
      return [await read, await outcome(c.load('k', f.fetch))]
    },
    got: ['4 bytes', '4 bytes'],
    want: { loads: 1, loadsDeduplicated: 1, prefetchStarted: 1, prefetchUsed: 1, hits: 1, misses: 1, cached: true },
  },
  {
    name: 'a prefetch of a cached chunk does nothing',
    run: async c => {
      c.add('k', four)
      await c.prefetch('k', heldFetch(four).fetch)
      return []
    },
    got: [],
    want: { cached: true },
  },
  {
    name: 'a prefetch that joins a read starts nothing and counts no use',
    run: async c => {
      const f = heldFetch(four)
      const read = outcome(c.load('k', f.fetch))
      const p = c.prefetch('k', f.fetch)
      f.end('ok')
      await p
      return [await read]
    },
    got: ['4 bytes'],
    want: { loads: 1, loadsDeduplicated: 1, misses: 1, cached: true },
  },
  {
    name: 'a prefetch evicted before use is wasted',
    run: async c => {
      const f = heldFetch(four)
      const p = c.prefetch('k', f.fetch)
      f.end('ok')
      await p
      c.add('filler', new Uint8Array(c.maxBytes))
      return []
    },
    got: [],
    want: { loads: 1, prefetchStarted: 1, prefetchWasted: 1, cached: false },
  },
  {
    name: 'a prefetch cancelled before use is wasted',
    run: async c => {
      const f = heldFetch(four)
      const ctrl = new AbortController()
      const p = c.prefetch('k', f.fetch, { signal: ctrl.signal })
      ctrl.abort()
      await p
      return [`aborted=${f.signals[0]!.aborted}`]
    },
    got: ['aborted=true'],
    want: { loads: 1, loadsCancelled: 1, prefetchStarted: 1, prefetchWasted: 1 },
  },
  {
    name: 'a failed prefetch is wasted and never rejects',
    run: async c => {
      const f = heldFetch(four)
      const p = c.prefetch('k', f.fetch)
      f.end('fail')
      await p
      return []
    },
    got: [],
    want: { loads: 1, loadErrors: 1, prefetchStarted: 1, prefetchWasted: 1 },
  },
  {
    name: 'a cancelled prefetch that a read had joined is used, not wasted',
    run: async c => {
      const f = heldFetch(four)
      const pc = new AbortController()
      const rc = new AbortController()
      const p = c.prefetch('k', f.fetch, { signal: pc.signal })
      const read = outcome(c.load('k', f.fetch, { signal: rc.signal }))
      rc.abort()
      pc.abort()
      await p
      return [await read]
    },
    got: ['ERR_ABORTED'],
    want: { loads: 1, loadsDeduplicated: 1, loadsCancelled: 1, prefetchStarted: 1, prefetchUsed: 1, misses: 1 },
  },
]

t.test('load and prefetch: singleflight, errors, cancels and prefetch counts', async t => {
  for (const c of loadCases) {
    const cache = new ChunkCache({ maxBytes: 64, chunkSize: 4 })
    t.strictSame(await c.run(cache), c.got, `${c.name}: what the requests got`)
    t.strictSame(counted(cache), { ...zero, ...c.want }, `${c.name}: stats`)
    const s = cache.stats
    t.ok(s.prefetchUsed + s.prefetchWasted <= s.prefetchStarted, `${c.name}: no prefetch is both used and wasted`)
  }
})
