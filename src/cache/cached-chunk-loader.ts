import type { ChunkLoader } from '../content/chunk-aligned.js'
import { CutoverError } from '../core/errors.js'
import type { CacheName, ChunkCache } from './chunk-cache.js'

/**
 * chunkKey is the cache key of chunk `index` of version `version` of blob `key`:
 * `<key>@<version>/<index>`. Such a key names the same bytes forever, since a version never
 * changes. A version holding `%`, `@` or `/` is written percent-encoded (encodeURIComponent) so that
 * no two (key, version, index) triples share a key; versions without them are written as they are.
 */
export function chunkKey(key: string, version: string, index: number): string {
  const v = /[%@/]/.test(version) ? encodeURIComponent(version) : version
  return `${key}@${v}/${index}`
}

/** CachedChunkLoaderOptions describes the one download a {@link cachedChunkLoader} serves. */
export interface CachedChunkLoaderOptions {
  /** The blob's key in its store. */
  readonly key: string
  /**
   * The blob's version (BlobInfo.version). Undefined while the blob is settling: then nothing is
   * cached, looked up nor prefetched, and every read goes straight to `load`.
   */
  readonly version: string | undefined
  /** The blob's size in bytes: a non-negative safe integer. */
  readonly size: number
  /**
   * The underlying loader of chunks of `cache.chunkSize` bytes of exactly this blob version
   * (storage's blobChunks, for one). It must resolve with a buffer that nobody writes afterwards.
   */
  readonly load: ChunkLoader
  /**
   * How many chunks past a sequential read to load ahead: a non-negative safe integer, 0 turning
   * prefetch off. If unset, defaults to 2 (one 2 MiB chunk in use and two on the way keep a remote
   * store streaming at its bandwidth rather than at one chunk's latency per chunk).
   */
  readonly prefetch?: number
  /** The cache the blob's chunks belong to. If unset, defaults to `'main'`. */
  readonly which?: CacheName
}

/**
 * CachedChunkLoader is the {@link ChunkLoader} of one download, to give to content's chunkAligned
 * with `cache.chunkSize`, plus the end of that download.
 */
export interface CachedChunkLoader extends ChunkLoader {
  /**
   * close ends the download: its prefetches still in flight are cancelled (unless some other
   * request waits for the same chunk) and no new one starts. Reads after close still work, without
   * prefetch. Idempotent.
   */
  close(): void
  /** idle resolves once no prefetch of this download is in flight. Never rejects. */
  idle(): Promise<void>
}

/** DEFAULT_PREFETCH is the number of chunks a {@link cachedChunkLoader} loads ahead if its options name none. */
export const DEFAULT_PREFETCH = 2

/**
 * cachedChunkLoader is the chunk loader of one download of one blob through `cache`: chunk `index`
 * comes from the cache under {@link chunkKey}, or from `options.load` (once however many downloads
 * want it at the same time), and is cached. A chunk from `load` whose length is not the chunk's
 * (`cache.chunkSize`, the last one shorter) rejects with ERR_SHORT_READ and is not cached.
 *
 * Prefetch: one loader is one download. When it reads chunk 0, or chunk i right after chunk i-1
 * (a sequential read), it also loads chunks i+1 .. i+prefetch that are neither cached nor already
 * being prefetched by it into the cache, in the background, so that a remote store streams at its
 * bandwidth rather than at one chunk's latency per chunk. The prefetch starts in the microtask after
 * the read, from the highest chunk read sequentially in that turn (chunkAligned asks for all chunks
 * of one read in one turn: those are read, not prefetched). A prefetch is tied to the read's signal
 * (one listener on it per prefetch in flight) and to
 * {@link CachedChunkLoader.close}: when either ends it, the prefetch leaves its load, which is then
 * aborted unless another request (a read, or another download's prefetch) still waits for that
 * chunk. A read that is not sequential starts no prefetch.
 *
 * A settling blob (`version` undefined) is never cached: every read calls `load` and counts in
 * `cache.stats.uncachedLoads`.
 *
 * Chunks are immutable once handed out: every reader of a chunk gets the same buffer and must not
 * write it (chunkAligned only copies out of it). Throws TypeError for options outside the bounds
 * {@link CachedChunkLoaderOptions} states. An index outside the blob rejects with RangeError.
 */
export function cachedChunkLoader(cache: ChunkCache, options: CachedChunkLoaderOptions): CachedChunkLoader {
  const { key, version, size, load, prefetch = DEFAULT_PREFETCH, which = 'main' } = options
  if (typeof key !== 'string') throw new TypeError('key must be a string')
  if (version !== undefined && typeof version !== 'string') throw new TypeError('version must be a string or undefined')
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError('size must be a non-negative integer')
  if (typeof load !== 'function') throw new TypeError('load must be a function')
  if (!Number.isSafeInteger(prefetch) || prefetch < 0) throw new TypeError('prefetch must be a non-negative integer')
  if (which !== 'main' && which !== 'hot') throw new TypeError("which must be 'main' or 'hot'")
  const chunkSize = cache.chunkSize
  const count = Math.ceil(size / chunkSize)
  const badIndex = (index: number): RangeError | undefined =>
    Number.isSafeInteger(index) && index >= 0 && index < count
      ? undefined
      : new RangeError(`chunk ${index} is outside a blob of ${count} chunks`)

  if (version === undefined) {
    // Bytes of a settling blob may not be final: never cached, never shared with another download.
    const passThrough = (index: number, signal?: AbortSignal): Promise<Uint8Array> => {
      const bad = badIndex(index)
      if (bad !== undefined) return Promise.reject(bad)
      cache.countUncached()
      return load(index, signal)
    }
    return Object.assign(passThrough, { close: () => {}, idle: async () => {} })
  }

  const fetchOf =
    (index: number) =>
    async (signal: AbortSignal): Promise<Uint8Array> => {
      const want = Math.min(chunkSize, size - index * chunkSize)
      const chunk = await load(index, signal)
      if (chunk.length !== want) throw new CutoverError('ERR_SHORT_READ', `chunk ${index}: got ${chunk.length} of ${want} bytes`)
      return chunk
    }
  // The prefetches of this download in flight, by chunk: close() makes each of them leave.
  const pending = new Map<number, { readonly done: Promise<void>; readonly leave: AbortController }>()
  let closed = false
  let last: number | undefined
  // The highest sequential read of this turn and its signal, whose prefetch is scheduled.
  let ahead: { index: number; signal: AbortSignal | undefined } | undefined

  const startPrefetch = (from: number, signal: AbortSignal | undefined): void => {
    if (closed || signal?.aborted === true) return
    const end = Math.min(from + prefetch, count - 1)
    for (let j = from + 1; j <= end; j++) {
      const k = chunkKey(key, version, j)
      if (pending.has(j) || cache.has(k, which)) continue
      // The prefetch leaves when the download ends either way: its read's signal, or close().
      const leave = new AbortController()
      const onEnd = (): void => leave.abort()
      signal?.addEventListener('abort', onEnd, { once: true })
      const done = cache.prefetch(k, fetchOf(j), { signal: leave.signal, which }).finally(() => {
        signal?.removeEventListener('abort', onEnd)
        pending.delete(j)
      })
      pending.set(j, { done, leave })
    }
  }

  const read = (index: number, signal?: AbortSignal): Promise<Uint8Array> => {
    const bad = badIndex(index)
    if (bad !== undefined) return Promise.reject(bad)
    const sequential = index === 0 || (last !== undefined && index === last + 1)
    last = index
    const got = cache.load(chunkKey(key, version, index), fetchOf(index), { signal, which })
    if (sequential && prefetch > 0 && !closed) {
      // chunkAligned asks for every chunk of one read in the same turn: prefetch once that turn is
      // over, past the last of them, rather than "ahead" into chunks the read itself is loading.
      if (ahead === undefined) {
        queueMicrotask(() => {
          const a = ahead
          ahead = undefined
          if (a !== undefined) startPrefetch(a.index, a.signal)
        })
      }
      if (ahead === undefined || index > ahead.index) ahead = { index, signal }
    }
    return got
  }
  return Object.assign(read, {
    close: () => {
      closed = true
      for (const p of pending.values()) p.leave.abort()
    },
    idle: async () => {
      // Bounded by the reads of the download: a pass ends only when a new read started a prefetch.
      while (pending.size > 0) await Promise.all([...pending.values()].map(p => p.done))
    },
  })
}
