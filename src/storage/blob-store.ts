import { CutoverError } from '../core/errors.js'

/**
 * BlobInfo is what a {@link BlobStore} knows of one version of a blob without reading it.
 *
 * `version` names the bytes: two infos of one key with the same version describe the same bytes,
 * so a cache may key chunks on `<key>@<version>/<chunk index>` and keep them forever. It is
 * undefined while the blob is *settling*: it changed so recently that the store cannot promise its
 * bytes are final (a file in the middle of an in-place write shows its new size and mtime before
 * its new bytes). A settling blob can still be read (a read still fails if the store sees the blob
 * change), but nothing read from it may be cached under any version, and validators derived from
 * it must be weak (RFC 9110 §8.8.1).
 */
export interface BlobInfo {
  /** The key the blob was found under. */
  readonly key: string
  /** Size in bytes. */
  readonly size: number
  /** Modification time in milliseconds since the Unix epoch (fractional when the store knows more). */
  readonly mtimeMs: number
  /** The version of the bytes, or undefined while the blob is settling (see above). */
  readonly version: string | undefined
}

/**
 * BlobStore is where payload bytes live (a directory, an object store, an origin server), reduced to
 * what serving needs: find a blob's current version, then read byte ranges of exactly that version.
 *
 * Contract:
 * - `stat(key)` resolves with the blob's current {@link BlobInfo}; it rejects with ERR_NOT_FOUND when
 *   the key names no blob the store serves (missing, or refused by the store's own rules: a store
 *   never says which), ERR_FORBIDDEN when the store may not read it, ERR_IO otherwise.
 * - `read(info, off, len)` resolves with the `len` bytes at `off` of the version `info` describes,
 *   fewer only where the blob ends (none at or past its end). If the blob is no longer that version
 *   it rejects with ERR_BLOB_CHANGED, whether the change came before or during the read: it never
 *   resolves with bytes of another version, nor with bytes of two versions mixed.
 * - When `signal` aborts, pending work rejects with ERR_ABORTED as soon as it can.
 */
export interface BlobStore<I extends BlobInfo = BlobInfo> {
  stat(key: string, signal?: AbortSignal): Promise<I>
  read(info: I, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array>
}

/**
 * Allocate gives a store the buffer a read resolves with: exactly `length` bytes, the caller's alone
 * from then on (never handed out twice). The store writes every byte of it before resolving; a read
 * that fails drops it. The chunk cache's pre-touched memory (cache/chunk-memory.ts) is one.
 */
export type Allocate = (length: number) => Uint8Array

/** newBytes is the {@link Allocate} of a store given none: fresh, zeroed memory. */
export const newBytes: Allocate = length => new Uint8Array(length)

/**
 * blobChunks is the chunk loader of one blob version for content/chunk-aligned.ts: chunk `index`
 * is the `chunkSize` bytes at `index * chunkSize` (the last one shorter), read from `store`. A
 * chunk cache sits between the two: it may keep a chunk under `<key>@<version>/<index>` only when
 * `info.version` is defined. A chunk that comes back short (the blob is shorter than `info` said)
 * rejects with ERR_SHORT_READ. Throws TypeError for a chunk size that is not a positive integer.
 */
export function blobChunks<I extends BlobInfo>(
  store: BlobStore<I>,
  info: I,
  chunkSize: number,
): (index: number, signal?: AbortSignal) => Promise<Uint8Array> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new TypeError('chunkSize must be a positive integer')
  return async (index, signal) => {
    const start = index * chunkSize
    const len = Math.max(0, Math.min(chunkSize, info.size - start))
    const chunk = await store.read(info, start, len, signal)
    if (chunk.length !== len) throw new CutoverError('ERR_SHORT_READ', `chunk ${index}: got ${chunk.length} of ${len} bytes`)
    return chunk
  }
}
