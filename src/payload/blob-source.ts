import { codeOf } from '../core/errors.js'
import type { Content } from '../content/content.js'
import type { BlobInfo } from '../storage/blob-store.js'
import { sameVersion } from '../storage/file-content.js'
import type { FileBlobInfo, FileStore } from '../storage/file-store.js'

/**
 * OpenedBlob is one pinned version of a blob: what it is (`info`), a Content of exactly those
 * bytes, and `close` to give back what pinning it holds (a descriptor, prefetches in flight).
 */
export interface OpenedBlob {
  readonly info: BlobInfo
  readonly content: Content
  /**
   * A string that changes whenever the bytes can have: the version, or while the blob is settling
   * (no version yet) what the store saw of it. Validators (ETags) are derived from it.
   */
  readonly tag: string
  close(): void
}

/** Opened is what {@link BlobSource.open} gives: the blob, and whether what was derived from it may be kept. */
export interface Opened {
  readonly blob: OpenedBlob
  /**
   * The blob had settled and the bytes pinned are the version the source looked up: what is
   * derived from them (bytes in memory, validators) may be kept under `info` and revalidated with
   * {@link BlobSource.unchanged}. With `expect`, also: the version opened is that one.
   */
  readonly cacheable: boolean
}

/**
 * BlobSource is what the manifest resolver needs of the place its blob keys point to: open the
 * current version of a blob, and tell cheaply, per request, whether a version seen before is still
 * the current one. A directory ({@link fileBlobSource}) answers from the kernel at every request; a
 * remote store answers from a stat it trusts for a while (its stat TTL).
 */
export interface BlobSource {
  /**
   * unchanged tells, synchronously, whether `info` (from an earlier {@link open}) is still the
   * blob's current version as far as the source may know without waiting: false sends the caller
   * back to {@link open}. Throws as the store does (ERR_FORBIDDEN, ERR_IO).
   */
  unchanged(info: BlobInfo): boolean
  /**
   * open pins the current version of `key` and resolves with it, or with undefined when there is no
   * such blob (missing, or refused by the store's rules: it never says which). With `expect` (the
   * info of a version derived from before), `cacheable` also says the version opened is that one.
   * `sha256` is the blob's declared digest, if any: a source that can continue a failed read from
   * another store does so only for a blob with one (the caller checks full reads against it).
   * Rejects with the store's ERR_FORBIDDEN or ERR_IO.
   */
  open(key: string, expect?: BlobInfo, sha256?: string): Promise<Opened | undefined>
  /**
   * inMemory is present on a source that keeps blobs' bytes in memory of its own (a remote store's
   * chunk cache): the Content of version `info` (from an earlier {@link open}) when every byte of it
   * is in that memory now, at once and without a read, else undefined (the caller then opens it).
   * The bytes are the source's, not a copy: they are never changed, and they stay valid while the
   * Content is held even if the source drops them meanwhile. A source without it keeps nothing: the
   * resolver then keeps small contents' bytes itself, so that the cache budget holds one copy.
   */
  inMemory?(info: BlobInfo): Content | undefined
}

/**
 * fileBlobSource is the {@link BlobSource} of a directory: a version is revalidated with one
 * stat(2) of its path per request, and a blob is pinned by an open descriptor, shared by every
 * request for the same settled version (many clients download one payload at once).
 */
export function fileBlobSource(store: FileStore): BlobSource {
  return {
    unchanged: info => store.unchanged(info as FileBlobInfo),
    async open(key, expect) {
      let seen: FileBlobInfo['identity'] | undefined
      if (expect !== undefined) {
        seen = (expect as FileBlobInfo).identity
      } else {
        const entry = store.peek(key)
        if (entry?.kind !== 'file') return undefined
        seen = entry.identity
      }
      let blob
      try {
        blob = await store.open(key, { seen, share: true })
      } catch (err) {
        if (codeOf(err) === 'ERR_NOT_FOUND') return undefined
        throw err
      }
      const info = blob.info
      const content = blob.content
      // Bytes read from a file that may be mid-write, or another version than the one looked up,
      // must never be remembered under that version's identity.
      const cacheable = info.version !== undefined && sameVersion(content.identity, seen)
      return {
        blob: {
          info,
          content,
          tag: info.version ?? `${info.identity.ino}:${info.mtimeNs}:${info.size}`,
          close: () => content.close(),
        },
        cacheable,
      }
    },
  }
}
