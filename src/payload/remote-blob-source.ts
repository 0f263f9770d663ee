import { cachedChunkLoader, chunkKey } from '../cache/cached-chunk-loader.js'
import type { ChunkCache } from '../cache/chunk-cache.js'
import { bytes } from '../content/bytes.js'
import { chunkAligned, type ChunkLoader } from '../content/chunk-aligned.js'
import type { Content } from '../content/content.js'
import { codeOf, CutoverError } from '../core/errors.js'
import { blobChunks, type BlobInfo } from '../storage/blob-store.js'
import type { StatCache } from '../storage/stat-cache.js'
import type { BlobSource } from './blob-source.js'

/** RemoteBlobSourceOptions configures {@link remoteBlobSource}. */
export interface RemoteBlobSourceOptions {
  /**
   * The store (an S3 bucket, an origin, a fallback chain of stores) behind the cache of its stats:
   * a stat is trusted for the cache's TTL, which is how soon a replaced blob is served.
   */
  readonly stats: StatCache
  /** Where chunks of every blob are kept, shared by every download (and its chunk size). */
  readonly cache: ChunkCache
  /**
   * How many chunks past the one being read a sequential download loads ahead, so it streams at the
   * store's bandwidth rather than at one chunk's latency. If unset, the cache loader's default.
   */
  readonly prefetch?: number | undefined
}

/**
 * remoteBlobSource is the {@link BlobSource} of a store that is not a local directory: a blob is
 * the chunk-aligned Content of its stat's version, each chunk (`<key>@<version>/<index>`, of the
 * cache's chunk size) read from the store once and kept in the shared chunk cache, so a spike of
 * downloads of one hot blob reads each chunk from the store once. A version is revalidated against
 * the stat cache: while its stat is trusted nothing is asked of the store; after that, the next
 * request stats again. A blob still settling (no version) is read straight through, never cached.
 * Reads of a version that changed in the store reject with ERR_BLOB_CHANGED (the server then cuts
 * the download): chunks of two versions are never mixed, since their keys differ.
 *
 * Its {@link BlobSource.inMemory} answers from the chunk cache: a blob whose chunks are all cached
 * is a Content of those very chunks (a one-chunk blob the same Content object for as long as its
 * chunk is the cached one), so a small content served from memory is the cache's one copy.
 */
export function remoteBlobSource(o: RemoteBlobSourceOptions): BlobSource {
  const { stats, cache } = o
  const chunkSize = cache.chunkSize
  // The Content of a one-chunk blob, per chunk: the same object while the chunk is alive (so the
  // resolver can keep what it derived from it), and gone with the chunk (a weak key never holds it).
  const whole = new WeakMap<Uint8Array, Content>()
  const empty = bytes(new Uint8Array(0))
  // The chunk keys of each version asked about (an info names one version for good).
  const keysOf = new WeakMap<BlobInfo, readonly string[]>()
  return {
    inMemory(info: BlobInfo): Content | undefined {
      const version = info.version
      if (version === undefined) return undefined
      const n = Math.ceil(info.size / chunkSize)
      if (n === 0) return empty
      let keys = keysOf.get(info)
      if (keys === undefined) keysOf.set(info, (keys = Array.from({ length: n }, (_, i) => chunkKey(info.key, version, i))))
      // Looked up without counting first: a blob missing one chunk is read afresh, and that read
      // counts the miss once.
      for (const k of keys) if (!cache.has(k)) return undefined
      const chunks = keys.map(k => cache.get(k)!)
      if (n > 1) return chunkAligned(i => Promise.resolve(chunks[i]!), info.size, chunkSize)
      const chunk = chunks[0]!
      let c = whole.get(chunk)
      if (c === undefined) whole.set(chunk, (c = bytes(chunk)))
      return c
    },
    unchanged(info: BlobInfo): boolean {
      const now = stats.fresh(info.key)
      return now !== undefined && now.version !== undefined && now.version === info.version
    },
    async open(key, expect, sha256) {
      let info: BlobInfo
      try {
        info = await stats.stat(key)
      } catch (err) {
        if (codeOf(err) === 'ERR_NOT_FOUND') return undefined
        throw asUpstream(err)
      }
      // A fallback chain continues a failed read from another store only for a blob whose digest is
      // declared (FallbackBlobInfo.sha256): the manifest's, carried on a copy of the info.
      if (sha256 !== undefined && 'sha256' in info) info = { ...info, sha256: sha256.toLowerCase() } as BlobInfo
      const loader = cachedChunkLoader(cache, {
        key,
        version: info.version,
        size: info.size,
        load: upstreamErrors(blobChunks(stats, info, cache.chunkSize)),
        ...(o.prefetch !== undefined ? { prefetch: o.prefetch } : {}),
      })
      const cacheable = info.version !== undefined && (expect === undefined || expect.version === info.version)
      return {
        blob: {
          info,
          content: chunkAligned(loader, info.size, chunkSize),
          tag: info.version ?? `settling:${info.mtimeMs}:${info.size}`,
          close: () => loader.close(),
        },
        cacheable,
      }
    },
  }
}

/**
 * asUpstream names a store's I/O failure (retries and fallbacks spent) as the upstream failure it is
 * to a client: ERR_UPSTREAM, answered 502 before the header (RFC 9110 §15.6.3). A store that kept
 * answering bodies shorter than asked (ERR_SHORT_READ) is one too: an invalid answer of the
 * store, not a fault of the server (it was a 500). Other codes pass: ERR_TIMEOUT (504),
 * ERR_BLOB_CHANGED, ERR_ABORTED, ERR_FORBIDDEN.
 */
function asUpstream(err: unknown): unknown {
  const code = codeOf(err)
  return code === 'ERR_IO' || code === 'ERR_SHORT_READ' ? new CutoverError('ERR_UPSTREAM', (err as Error).message, { cause: err }) : err
}

/** upstreamErrors is a chunk loader whose store I/O failures reject as {@link asUpstream} says. */
function upstreamErrors(load: ChunkLoader): ChunkLoader {
  return (index, signal) => load(index, signal).catch((err: unknown) => Promise.reject(asUpstream(err)))
}
