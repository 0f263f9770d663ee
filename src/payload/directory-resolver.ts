import { LRUCache } from 'lru-cache'
import { codeOf } from '../core/errors.js'
import { bytes } from '../content/bytes.js'
import { readAll, readHead } from './read-content.js'
import type { Entity } from '../content/entity.js'
import { ContentTypeResolver } from '../http/content-type-resolver.js'
import { formatHttpDate } from '../http/http-date.js'
import { SNIFF_LEN } from '../http/sniff.js'
import { sameVersion, type FileIdentity } from '../storage/file-content.js'
import type { FileBlob, FileBlobInfo, FileStore } from '../storage/file-store.js'
import { cleanPath } from './clean-path.js'
import { fileEtag, type EtagFormat } from './file-etag.js'
import { redirectLocation } from './redirect-location.js'
import { MISS, pending, type Pending, type RequestFacts, type Resolution, type Resolver } from './resolver.js'

/**
 * DEFAULT_SMALL_FILE_MAX is the largest file kept in memory: 1 MiB. Hot installers and indexes are
 * then sent straight from memory (as the talk's chunk cache does) instead of through a thread-pool
 * read per piece; larger files stream from disk.
 */
export const DEFAULT_SMALL_FILE_MAX = 1024 * 1024

/** DEFAULT_CACHE_BYTES is the memory budget of the small-file cache: 64 MiB. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024

/** DirectoryResolverOptions configures a {@link DirectoryResolver}. */
export interface DirectoryResolverOptions {
  /** The files to serve: their root, the dotfile and settle rules are the store's. */
  readonly store: FileStore
  /**
   * Files up to this size are kept in memory after the first request and revalidated with a stat
   * on each request. If unset, defaults to {@link DEFAULT_SMALL_FILE_MAX}.
   */
  readonly smallFileMax?: number
  /** Memory budget of the small-file cache in bytes. If unset, defaults to {@link DEFAULT_CACHE_BYTES}. */
  readonly cacheBytes?: number
  /** Directory index file name: one path segment, hidden only if the store serves dotfiles. If unset, defaults to `index.html`. */
  readonly index?: string
  /** ETag convention (see ETAG_FORMATS in file-etag.ts). If unset, defaults to `cutover`. */
  readonly etag?: EtagFormat
  /**
   * Picks each file's Content-Type; sniffed types are kept with the cached metadata, never
   * re-sniffed per request. If unset, defaults to `new ContentTypeResolver()` (Go's rule: the
   * extension, else sniffing).
   */
  readonly contentTypes?: ContentTypeResolver
}

/** DirectoryResolverStats are the counters of a {@link DirectoryResolver}, for metrics and tests. */
export interface DirectoryResolverStats {
  /** Requests answered from the cache of their path (after a stat showed the file unchanged). */
  hits: number
  /** Requests whose path was looked up afresh. */
  misses: number
}

type EntityResolution = Extract<Resolution, { kind: 'entity' }>

/**
 * Cached is what the cache keeps per request path, valid while a stat of the path shows the same
 * version (identity and ctime). Only files that had settled when they were read are cached.
 */
interface Cached {
  /** The version, as its descriptor showed it. */
  readonly info: FileBlobInfo
  /** The file's validators and type; a large file's content comes from the store's shared descriptor. */
  readonly meta: Omit<Entity, 'content'>
  /** The whole answer for a small file, whose content is in memory; undefined for large files. */
  readonly small?: EntityResolution
}

const noop = (): void => undefined

/**
 * DirectoryResolver is directory mode (`serve --root`): it maps request paths to the files of a
 * {@link FileStore}. Paths are cleaned first (no traversal: `..` is a 400; hidden names are denied,
 * answered as a miss, unless the store serves dotfiles); directories are redirected to their slash
 * form and served through their index file, or denied visibly (403) without one: there are no
 * listings. A file outside the root (a symlink leading out) is denied as a miss too: the store
 * refuses it.
 *
 * Small files are kept in memory and revalidated on every request with one stat of their path,
 * answered without a promise (the hot path); a file that changed is read again. Large files are
 * pinned for the whole response through the store (a shared descriptor while they hold still).
 * Nothing is cached while a file is settling (the store gives it no version): it is served with a
 * weak ETag and a weak date, RFC 9110 §8.8.2.2.
 */
export class DirectoryResolver implements Resolver {
  readonly store: FileStore
  readonly #smallMax: number
  readonly #index: string
  readonly #etag: EtagFormat
  readonly #types: ContentTypeResolver
  readonly #cache: LRUCache<string, Cached>
  readonly stats: DirectoryResolverStats = { hits: 0, misses: 0 }

  /** Throws TypeError for a cacheBytes that is not a positive integer or an index that is not one plain name. */
  constructor(o: DirectoryResolverOptions) {
    this.store = o.store
    this.#smallMax = o.smallFileMax ?? DEFAULT_SMALL_FILE_MAX
    this.#index = o.index ?? 'index.html'
    if (this.#index === '' || this.#index === '.' || this.#index === '..' || /[/\0]/u.test(this.#index)) {
      throw new TypeError(`index must be one file name, got "${this.#index}"`)
    }
    if (this.#index[0] === '.' && !this.store.dotfiles) throw new TypeError(`index ${this.#index} is a hidden name the store does not serve`)
    this.#etag = o.etag ?? 'cutover'
    this.#types = o.contentTypes ?? new ContentTypeResolver()
    const cacheBytes = o.cacheBytes ?? DEFAULT_CACHE_BYTES
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes <= 0) throw new TypeError('cacheBytes must be a positive integer')
    this.#cache = new LRUCache<string, Cached>({
      maxSize: cacheBytes,
      // Entries without bytes still cost their metadata; count them so the entry count is bounded too.
      sizeCalculation: c => (c.small ? c.info.size : 0) + 256,
    })
  }

  /**
   * resolve finds what the request path names (see {@link Resolver}): a cached small file that a
   * stat shows unchanged directly, anything else as {@link Pending}. Fails with CutoverError:
   * ERR_BAD_REQUEST (a path that cannot be cleaned), ERR_FORBIDDEN (permission denied), ERR_IO or
   * ERR_BLOB_CHANGED (a small file that changed while it was read).
   */
  resolve(request: RequestFacts): Resolution | Pending {
    const rawPath = request.path
    const hit = this.#cache.get(rawPath)
    if (hit !== undefined) {
      if (this.store.unchanged(hit.info)) {
        this.stats.hits++
        return hit.small ?? pending(this.#openCached(rawPath, hit))
      }
      // Stale: the miss below does not stat this entry again.
      this.#cache.delete(rawPath)
    }
    return pending(this.#resolveMiss(rawPath, request.query))
  }

  async #resolveMiss(rawPath: string, query: string): Promise<Resolution> {
    this.stats.misses++
    let rel: string
    try {
      rel = cleanPath(rawPath, this.store.dotfiles)
    } catch (err) {
      return denied(err)
    }
    let key = rel
    let entry = this.store.peek(key)
    if (entry === undefined) return MISS
    if (entry.kind === 'directory') {
      if (!rawPath.endsWith('/')) return { kind: 'redirect', location: redirectLocation(rel, query) }
      key = rel === '' ? this.#index : `${rel}/${this.#index}`
      entry = this.store.peek(key)
      if (entry?.kind !== 'file') return { kind: 'deny', reason: 'directory without index', visible: true }
    } else if (rawPath.endsWith('/')) {
      return MISS // "/file/" names no directory (ENOTDIR, as nginx answers)
    }
    if (entry.kind !== 'file') return { kind: 'deny', reason: 'not a regular file' } // fifos, sockets, devices
    let blob: FileBlob
    try {
      // Large files are read in many pieces by many requests: their descriptor is worth sharing.
      blob = await this.store.open(key, { seen: entry.identity, share: entry.identity.size > this.#smallMax })
    } catch (err) {
      return denied(err)
    }
    return this.#entityOf(rawPath, blob, entry.identity)
  }

  /** #openCached serves a cached large file through the store's shared descriptor, or a new one. */
  async #openCached(rawPath: string, hit: Cached): Promise<Resolution> {
    let blob: FileBlob
    try {
      blob = await this.store.open(hit.info.key, { seen: hit.info.identity, share: true })
    } catch (err) {
      return denied(err)
    }
    const content = blob.content
    if (!sameVersion(content.identity, hit.info.identity)) return this.#entityOf(rawPath, blob, hit.info.identity)
    return { kind: 'entity', entity: { ...hit.meta, content }, release: () => content.close() }
  }

  /**
   * #entityOf builds the entity of an opened file version and caches what may be: nothing unless the
   * file had settled (the store gave it a version) and the descriptor shows what the stat of the
   * path (`seen`) showed: bytes read from a file that may be mid-write must never be remembered
   * under its identity. Small files are read into memory and their descriptor closed.
   */
  async #entityOf(rawPath: string, blob: FileBlob, seen: FileIdentity): Promise<Resolution> {
    const { info, content } = blob
    const stable = sameVersion(content.identity, seen)
    if (info.size <= this.#smallMax) {
      let data: Buffer
      try {
        data = await readAll(content)
      } finally {
        content.close()
      }
      const { meta, cacheable } = this.#meta(info, this.#types.byName(info.path) ?? this.#types.sniff(data.subarray(0, SNIFF_LEN)))
      const small: EntityResolution = { kind: 'entity', entity: { ...meta, content: bytes(data) }, release: noop }
      if (cacheable && stable) this.#cache.set(rawPath, { info, meta, small })
      return small
    }
    let meta: Omit<Entity, 'content'>
    let cacheable: boolean
    try {
      ;({ meta, cacheable } = this.#meta(info, this.#types.byName(info.path) ?? this.#types.sniff(await readHead(content))))
    } catch (err) {
      content.close()
      throw err
    }
    if (cacheable && stable) this.#cache.set(rawPath, { info, meta })
    return { kind: 'entity', entity: { ...meta, content }, release: () => content.close() }
  }

  /**
   * #meta is a file version's validators and type, and whether they may be cached: not while the
   * file is settling (then the ETag is weak and the date no strong validator, RFC 9110 §8.8.2.2),
   * nor while the ETag format's own rule makes the tag weak for a while. Time-dependent rules use
   * the instant the store judged the file at. Looking like Apache includes its Last-Modified: an
   * mtime in the future is sent as the time of the response, as RFC 9110 §8.8.2.1 requires (Go and
   * nginx send the future date).
   */
  #meta(info: FileBlobInfo, contentType: string): { meta: Omit<Entity, 'content'>; cacheable: boolean } {
    const now = info.seenAt
    const settling = info.version === undefined
    const tag = fileEtag(this.#etag, { size: info.size, mtimeNs: info.mtimeNs }, now, settling)
    const lastModified = new Date(Math.floor(this.#etag === 'apache' ? Math.min(info.mtimeMs, now) : info.mtimeMs))
    const meta: Omit<Entity, 'content'> = {
      etag: tag.etag,
      lastModified,
      // Formatted once per file version, not per response: cached entities carry it.
      lastModifiedText: formatHttpDate(lastModified),
      contentType,
      // Apache weakens its date with its tag (RFC 9110 §8.8.2.2: a date within a second of the
      // response is weak), so an If-Range date fails there too.
      ...(settling || !tag.final ? { lastModifiedWeak: true } : {}),
    }
    return { meta, cacheable: !settling && tag.final }
  }
}

/**
 * denied turns a refusal into its resolution: ERR_NOT_FOUND from cleaning (a hidden name) or from
 * the store (missing since the stat, outside the root, not a key it serves) is a deny answered as a
 * miss, with the reason for the log; anything else is rethrown.
 */
function denied(err: unknown): Resolution {
  if (codeOf(err) === 'ERR_NOT_FOUND') return { kind: 'deny', reason: (err as Error).message }
  throw err
}


