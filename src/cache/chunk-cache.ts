import { LRUCache } from 'lru-cache'
import { abortError } from '../core/errors.js'
import { Singleflight } from './singleflight.js'

/**
 * CacheName names one of the two caches of a {@link ChunkCache} that share its byte budget:
 * `main` holds the chunks this server owns; `hot` holds chunks that other peers own but that are
 * asked for here often enough to keep a copy (groupcache's hot cache). A key lives in one of them
 * only: which one follows from who owns it, so the caller always names the same one for a key.
 */
export type CacheName = 'main' | 'hot'

/** CacheTierStats counts what happened in one of the caches of a {@link ChunkCache}. */
export interface CacheTierStats {
  /** Demand lookups ({@link ChunkCache.get}, {@link ChunkCache.load}) that found the chunk. */
  readonly hits: number
  /** Demand lookups that did not. Prefetches never count as hits or misses. */
  readonly misses: number
  /** Chunks removed to keep the two caches within the budget. */
  readonly evictions: number
  /** Bytes held now (an empty chunk counts as 1 byte). */
  readonly bytes: number
  /** Chunks held now. */
  readonly items: number
}

/**
 * ChunkCacheStats is the live count of a {@link ChunkCache}: the cache updates the fields in place,
 * the caller only reads them (a summary and, later, metrics read the same numbers).
 */
export interface ChunkCacheStats {
  readonly main: CacheTierStats
  readonly hot: CacheTierStats
  /** Underlying loads started (demand and prefetch). */
  readonly loads: number
  /** Requests (demand or prefetch) that joined a load already in flight instead of starting one. */
  readonly loadsDeduplicated: number
  /** Underlying loads that failed (aborts because every waiter left are not errors: see `loadsCancelled`). */
  readonly loadErrors: number
  /** Underlying loads aborted because every waiter left before they ended. */
  readonly loadsCancelled: number
  /** Loads of a settling blob version (no version): passed through, never cached nor shared. */
  readonly uncachedLoads: number
  /** Underlying loads that a prefetch started (a prefetch that finds its chunk cached or in flight starts none). */
  readonly prefetchStarted: number
  /** Prefetched chunks that a demand read then found, cached or still in flight (each counted once). */
  readonly prefetchUsed: number
  /** Prefetched chunks evicted, cancelled or failed before any demand read found them. */
  readonly prefetchWasted: number
}

/** Mutable<T> is T with its fields writable: the cache's own view of its stats. */
type Mutable<T> = { -readonly [P in keyof T]: T[P] extends object ? Mutable<T[P]> : T[P] }

/** Entry is what a cache keeps for one chunk. */
interface Entry {
  readonly bytes: Uint8Array
  /** Stored by a prefetch and not yet found by a demand read (for prefetchUsed / prefetchWasted). */
  prefetched: boolean
}

/** FlightInfo is what the cache tracks of one underlying load, for the prefetch counts. */
interface FlightInfo {
  readonly byPrefetch: boolean
  /** A demand read joined the load (only meaningful when byPrefetch). */
  used: boolean
}

/** ChunkCacheOptions configures a {@link ChunkCache}. */
export interface ChunkCacheOptions {
  /**
   * The one byte budget of the main and hot caches together: a positive safe integer no greater
   * than half of Number.MAX_SAFE_INTEGER. A chunk larger than the budget is never stored. Required.
   */
  readonly maxBytes: number
  /**
   * The chunk size in bytes of every blob cut into chunks through this cache, so that a key
   * `<blob>@<version>/<index>` always names the same bytes. If unset, defaults to 2 MiB
   * ({@link DEFAULT_CHUNK_SIZE}), dl.google.com's chunk size.
   */
  readonly chunkSize?: number
}

/** DEFAULT_CHUNK_SIZE is the chunk size of a {@link ChunkCache} whose options name none: 2 MiB. */
export const DEFAULT_CHUNK_SIZE = 2 * 1024 * 1024

/** ChunkLoadOptions are the per-request options of {@link ChunkCache.load} and {@link ChunkCache.prefetch}. */
export interface ChunkLoadOptions {
  /** When it aborts, this request leaves (see {@link Singleflight}). If unset, the request never leaves. */
  readonly signal?: AbortSignal
  /** The cache the key belongs to. If unset, defaults to `'main'`. */
  readonly which?: CacheName
}

/**
 * ChunkCache keeps immutable chunks in memory under immutable keys, in two LRU caches (main and
 * hot) that share ONE byte budget, and loads missing chunks at most once at a time per key
 * ({@link Singleflight}).
 *
 * Eviction is groupcache's rule: after an insert, while the two caches together hold more than the
 * budget, evict the least recently used chunk of the hot cache if it holds more than an eighth of
 * the main cache's bytes, else of the main cache. The hot cache thus stays small next to the main
 * one without a budget of its own.
 *
 * Immutability: a key must always name the same bytes (callers key chunks on a blob *version*, never
 * on a blob that may still change), and a chunk, once given to or returned by the cache, must never
 * be written by anyone: every reader of the key gets that same buffer, without a copy. A loader must
 * therefore resolve with a buffer it never reuses (no pooled or recycled buffers).
 */
export class ChunkCache {
  /** The byte budget of the main and hot caches together. */
  readonly maxBytes: number
  /** The chunk size of the blobs whose chunks this cache holds. */
  readonly chunkSize: number
  readonly #stats: Mutable<ChunkCacheStats> = {
    main: { hits: 0, misses: 0, evictions: 0, bytes: 0, items: 0 },
    hot: { hits: 0, misses: 0, evictions: 0, bytes: 0, items: 0 },
    loads: 0,
    loadsDeduplicated: 0,
    loadErrors: 0,
    loadsCancelled: 0,
    uncachedLoads: 0,
    prefetchStarted: 0,
    prefetchUsed: 0,
    prefetchWasted: 0,
  }
  readonly #main: LRUCache<string, Entry>
  readonly #hot: LRUCache<string, Entry>
  readonly #flights = new Singleflight<string, Uint8Array>()
  readonly #flightInfo = new Map<string, FlightInfo>()

  /** Throws TypeError for a budget or chunk size outside the bounds {@link ChunkCacheOptions} states. */
  constructor(options: ChunkCacheOptions) {
    const { maxBytes, chunkSize = DEFAULT_CHUNK_SIZE } = options
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0 || maxBytes > Math.floor(Number.MAX_SAFE_INTEGER / 2)) {
      throw new TypeError('maxBytes must be a positive safe integer')
    }
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new TypeError('chunkSize must be a positive integer')
    this.maxBytes = maxBytes
    this.chunkSize = chunkSize
    this.#main = this.#tier('main')
    this.#hot = this.#tier('hot')
  }

  /** stats is the live count of this cache (see {@link ChunkCacheStats}); read it, never write it. */
  get stats(): ChunkCacheStats {
    return this.#stats
  }

  /**
   * get returns the chunk cached under `key` in cache `which` (default `'main'`) and marks it
   * recently used, or undefined; it counts a hit or a miss.
   */
  get(key: string, which: CacheName = 'main'): Uint8Array | undefined {
    const entry = this.#cache(which).get(key)
    const tier = this.#stats[which]
    if (entry === undefined) {
      tier.misses++
      return undefined
    }
    tier.hits++
    if (entry.prefetched) {
      entry.prefetched = false
      this.#stats.prefetchUsed++
    }
    return entry.bytes
  }

  /** has tells whether `key` is cached in `which` (default `'main'`), without counting or touching recency. */
  has(key: string, which: CacheName = 'main'): boolean {
    return this.#cache(which).has(key)
  }

  /**
   * add caches `bytes` under `key` in `which` (default `'main'`), then evicts by the class's rule.
   * A key already cached there is left as it is (a key always names the same bytes). A chunk
   * larger than the whole budget is not stored. The caller gives up the right to change `bytes`.
   */
  add(key: string, bytes: Uint8Array, which: CacheName = 'main'): void {
    this.#store(key, bytes, which, false)
  }

  /**
   * load resolves with the chunk of `key`: from cache `which` when it is there (a hit), else from
   * `fetch(signal)`, which runs at most once at a time per key however many requests want the key
   * (they join it: {@link Singleflight}, including its abort rule for `options.signal`), and whose
   * result is cached before the requests resolve. A failed fetch is not cached: the next request
   * fetches again. A fetch abandoned by every request is aborted and its result, should it arrive
   * anyway, is not cached. A signal already aborted rejects with ERR_ABORTED before any lookup.
   * The load of a key is shared whichever cache asked, since a key belongs to one cache only (see
   * {@link CacheName}). The chunk resolved is shared by every reader: never write it.
   */
  load(key: string, fetch: (signal: AbortSignal) => Promise<Uint8Array>, options: ChunkLoadOptions = {}): Promise<Uint8Array> {
    const { signal, which = 'main' } = options
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    const hit = this.get(key, which)
    if (hit !== undefined) return Promise.resolve(hit)
    if (this.#flights.has(key)) {
      this.#stats.loadsDeduplicated++
      const info = this.#flightInfo.get(key)
      if (info !== undefined && info.byPrefetch && !info.used) {
        info.used = true
        this.#stats.prefetchUsed++
      }
    }
    return this.#flights.do(key, s => this.#fill(key, fetch, which, false, s), signal)
  }

  /**
   * prefetch makes sure `key` is cached in `which` (default `'main'`) ahead of a read: nothing
   * when it is cached already; it joins the load in flight, if any (keeping it alive while
   * `options.signal` does not abort); else it starts `fetch(signal)` as {@link load} would. It
   * counts no hit nor miss. It resolves when the chunk is cached, or was not, and never rejects:
   * a failed or cancelled prefetch counts in the stats and nowhere else.
   */
  async prefetch(key: string, fetch: (signal: AbortSignal) => Promise<Uint8Array>, options: ChunkLoadOptions = {}): Promise<void> {
    const { signal, which = 'main' } = options
    if (signal?.aborted === true || this.#cache(which).has(key)) return
    if (this.#flights.has(key)) this.#stats.loadsDeduplicated++
    try {
      await this.#flights.do(key, s => this.#fill(key, fetch, which, true, s), signal)
    } catch {
      // Counted by #fill (error, cancel, waste); a prefetch has nobody to report to.
    }
  }

  /**
   * countUncached records one load that bypassed the cache because its blob is settling (has no
   * version yet): such bytes may never be cached, so they only show in `uncachedLoads`.
   */
  countUncached(): void {
    this.#stats.uncachedLoads++
  }

  /** fill is the one underlying load of `key` (run by the Singleflight), caching what it gets. */
  async #fill(
    key: string,
    fetch: (signal: AbortSignal) => Promise<Uint8Array>,
    which: CacheName,
    byPrefetch: boolean,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const stats = this.#stats
    stats.loads++
    if (byPrefetch) stats.prefetchStarted++
    const info: FlightInfo = { byPrefetch, used: false }
    this.#flightInfo.set(key, info)
    const wasted = (): boolean => byPrefetch && !info.used
    // Counted when the abort happens, not when the fetch gets round to rejecting (it may never).
    const onAbort = (): void => {
      stats.loadsCancelled++
      if (wasted()) stats.prefetchWasted++
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const bytes = await fetch(signal)
      // Abandoned by every waiter: counted as cancelled already, and not cached (see load()).
      if (signal.aborted) throw abortError(signal)
      this.#store(key, bytes, which, wasted())
      return bytes
    } catch (err) {
      if (!signal.aborted) {
        stats.loadErrors++
        if (wasted()) stats.prefetchWasted++
      }
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
      if (this.#flightInfo.get(key) === info) this.#flightInfo.delete(key)
    }
  }

  #store(key: string, bytes: Uint8Array, which: CacheName, prefetched: boolean): void {
    const cache = this.#cache(which)
    // lru-cache refuses sizes below 1; an empty chunk is charged 1 byte.
    const size = Math.max(1, bytes.byteLength)
    if (size > this.maxBytes || cache.has(key)) return
    // A view into a larger buffer would keep all of it alive while the budget counts only the view:
    // keep an exact copy instead, so the budget is the memory held. Not with slice(): a Buffer's is
    // a view (a small Buffer is a view of Node's shared 8 KiB pool); a Uint8Array's constructor copies.
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
    cache.set(key, { bytes: own, prefetched }, { size })
    const main = this.#main
    const hot = this.#hot
    // groupcache's rule. Bounded: each pass removes one chunk, and a cache the rule picks is never
    // empty while the total is over a positive budget (hot > main/8 >= 0 means hot holds bytes; else
    // hot <= main/8, so main holds bytes).
    while (main.calculatedSize + hot.calculatedSize > this.maxBytes) {
      const victim = hot.calculatedSize > main.calculatedSize / 8 ? hot : main
      if (victim.size === 0) break
      victim.pop()
    }
    this.#sync()
  }

  #sync(): void {
    this.#stats.main.bytes = this.#main.calculatedSize
    this.#stats.main.items = this.#main.size
    this.#stats.hot.bytes = this.#hot.calculatedSize
    this.#stats.hot.items = this.#hot.size
  }

  #cache(which: CacheName): LRUCache<string, Entry> {
    if (which === 'main') return this.#main
    if (which === 'hot') return this.#hot
    throw new TypeError(`unknown cache ${String(which)}`)
  }

  #tier(which: CacheName): LRUCache<string, Entry> {
    return new LRUCache<string, Entry>({
      // The shared budget is enforced by #store. lru-cache's own limit is set where it can never
      // bite (a cache within the budget plus one chunk within the budget), so that eviction follows
      // the two-cache rule only.
      maxSize: 2 * this.maxBytes,
      maxEntrySize: this.maxBytes,
      dispose: (entry, _key, reason) => {
        if (reason !== 'evict') return
        this.#stats[which].evictions++
        if (entry.prefetched) this.#stats.prefetchWasted++
      },
    })
  }
}
