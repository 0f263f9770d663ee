import { readlinkSync, realpathSync, statSync, type Stats } from 'node:fs'
import { LRUCache } from 'lru-cache'
import { CutoverError } from '../core/errors.js'
import { bytes } from '../content/bytes.js'
import type { Entity } from '../content/entity.js'
import { FileContent, fileIdentity, sameVersion, type FileIdentity } from '../storage/file-content.js'
import { systemClock, type Clock } from '../core/clock.js'
import { fileEtag, type EtagFormat } from './file-etag.js'
import { ContentTypeResolver } from '../http/content-type-resolver.js'
import { SNIFF_LEN } from '../http/sniff.js'
import { formatHttpDate } from '../http/http-date.js'

/** StaticRootOptions configures a {@link StaticRoot}. */
export interface StaticRootOptions {
  /** The directory to serve. It must exist; it is resolved to its real path once. */
  readonly root: string
  /** Serve files and directories whose name starts with a dot. If unset, defaults to false (404). */
  readonly dotfiles?: boolean
  /**
   * Files up to this size are kept in memory after the first request and revalidated with a stat
   * on each request. If unset, defaults to {@link DEFAULT_SMALL_FILE_MAX}.
   */
  readonly smallFileMax?: number
  /** Memory budget of the small-file cache in bytes. If unset, defaults to {@link DEFAULT_CACHE_BYTES}. */
  readonly cacheBytes?: number
  /** Directory index file name. If unset, defaults to `index.html`. */
  readonly index?: string
  /** ETag convention (see {@link ETAG_FORMATS}). If unset, defaults to `cutover`. */
  readonly etag?: EtagFormat
  /**
   * A file whose ctime is less than this many milliseconds before the request is settling: it
   * may be in the middle of an in-place write, so it is served with a weak ETag, its date never
   * satisfies If-Range, and nothing of it is cached. If unset, defaults to {@link DEFAULT_SETTLE_MS}.
   * 0 trusts every file at once (only safe when files are always published by rename).
   */
  readonly settleMs?: number
  /** Where "now" comes from. If unset, defaults to the system clock. */
  readonly clock?: Clock
  /**
   * Picks each file's Content-Type; sniffed types are kept with the cached metadata, never
   * re-sniffed per request. If unset, defaults to `new ContentTypeResolver()` (Go's rule: the
   * extension, else sniffing).
   */
  readonly contentTypes?: ContentTypeResolver
}

/**
 * DEFAULT_SETTLE_MS is how long after its last change a file is trusted: one second, as Apache
 * weakens its ETags for (and git's "racy" check reasons). Linux sets a file's mtime and ctime when a
 * write *starts*, before its data is copied, so a read overlapping the write sees the new identity
 * with old or mixed bytes, and a check after the read sees nothing change; within one clock tick,
 * several writes even share one mtime. Only time tells: a write that began a second before the
 * read has ended (assuming no single write lasts a second).
 */
export const DEFAULT_SETTLE_MS = 1000

/**
 * DEFAULT_SMALL_FILE_MAX is the largest file kept in memory: 1 MiB. Hot installers and indexes are
 * then sent straight from memory (as the talk's chunk cache does) instead of through a thread-pool
 * read per piece; larger files stream from disk.
 */
export const DEFAULT_SMALL_FILE_MAX = 1024 * 1024
/**
 * OPEN_FILE_TTL_MS bounds how long an idle large file stays open: a file deleted or replaced on
 * disk keeps its space allocated while a descriptor holds it, so idle descriptors are let go.
 */
export const OPEN_FILE_TTL_MS = 30_000
/**
 * MAX_OPEN_FILES bounds the large files kept open between requests. They are kept per file, not per
 * request path: `//a.bin` and `/%61.bin` name one file, and must not each pin a descriptor.
 */
export const MAX_OPEN_FILES = 256

/** DEFAULT_CACHE_BYTES is the memory budget of the small-file cache: 64 MiB. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024

/** Resolution is what a request path leads to. */
export type Resolution =
  | { readonly kind: 'entity'; readonly entity: Entity; release(): void }
  | { readonly kind: 'redirect'; readonly location: string }

/**
 * Cached is what the cache keeps per request path, valid while a stat of the path shows the same
 * version (identity and ctime). Only files that had settled when they were read are cached.
 */
interface Cached {
  readonly fsPath: string
  readonly identity: FileIdentity
  /** Entity whose content is in memory; undefined for large files. */
  readonly small?: Entity
  /** The file's validators and type; a large file's content comes from the open-file cache. */
  readonly meta: Omit<Entity, 'content'>
}

const notFound = (): CutoverError => new CutoverError('ERR_NOT_FOUND', 'not found')
const badRequest = (why: string): CutoverError => new CutoverError('ERR_BAD_REQUEST', why)

/**
 * cleanPath turns a request target's path into the relative path of a file under the root, or
 * throws: ERR_BAD_REQUEST for a path that is not origin-form, has a bad percent-escape, a NUL, a
 * backslash, or a `..` segment (raw or encoded: traversal is refused, not normalised away);
 * ERR_NOT_FOUND for a dot-segment name when dotfiles are hidden. Empty and `.` segments are
 * dropped (merged slashes, as nginx does). The result has no leading slash ("" is the root).
 */
export function cleanPath(rawPath: string, dotfiles: boolean): string {
  if (rawPath[0] !== '/') throw badRequest('path is not absolute')
  let decoded = rawPath
  if (rawPath.includes('%')) {
    try {
      decoded = decodeURIComponent(rawPath)
    } catch {
      throw badRequest('bad percent-encoding')
    }
  }
  if (decoded.includes('\0') || decoded.includes('\\')) throw badRequest('forbidden character in path')
  const out: string[] = []
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') throw badRequest('path traversal')
    if (!dotfiles && seg[0] === '.') throw notFound()
    out.push(seg)
  }
  return out.join('/')
}

/**
 * redirectLocation is the Location of the redirect from a directory to its slash form: built from
 * the cleaned relative path `rel` (as {@link cleanPath} gives it), never from the raw request path,
 * so that it is path-only and never starts with `//` or `/\` (which a browser reads as another
 * host: `GET //evil.example` must not answer `Location: //evil.example/`). Each segment is
 * percent-encoded again (so a name with CR, LF, `?`, `#` or non-ASCII characters stays inside its
 * segment and no header value can carry a control byte); the query is kept, with every byte outside
 * visible ASCII percent-encoded.
 */
export function redirectLocation(rel: string, query: string): string {
  // The bytes encodeURIComponent keeps; the rest is escaped (a `/` inside a name too).
  const seg = (name: string): string => name.replace(/[^A-Za-z0-9\-_.!~*'()]/gu, percentEncode)
  const path = rel === '' ? '/' : `/${rel.split('/').map(seg).join('/')}/`
  return path + query.replace(/[^\x21-\x7e]/gu, percentEncode)
}

/** percentEncode writes the UTF-8 bytes of `c` as `%XX` escapes; it never throws (no URIError). */
function percentEncode(c: string): string {
  let out = ''
  for (const b of Buffer.from(c, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  return out
}

/**
 * StaticRoot maps request paths to files under one directory, safely: no traversal, no symlink that
 * leads out of the root (checked on the opened descriptor itself, so a symlink swapped after the
 * check cannot win a race), dotfiles hidden unless asked for, directories redirected to their slash
 * form and served through their index file, or refused (403) without one: there are no listings.
 *
 * Small files are kept in memory and revalidated on every request with one stat(2) on the event loop
 * (cheap for a local filesystem: no thread hop); a file that changed is read again. Large files are
 * opened per request and pinned for the whole response (see FileContent).
 */
export class StaticRoot {
  readonly root: string
  readonly #dotfiles: boolean
  readonly #smallMax: number
  readonly #index: string
  readonly #etag: EtagFormat
  readonly #settleMs: number
  readonly #clock: Clock
  readonly #types: ContentTypeResolver
  readonly #cache: LRUCache<string, Cached>
  /**
   * Open large files by filesystem path, shared by the requests for that file while its identity
   * holds (the cache holds one reference). Saves an open, an fstat and a close per request: a
   * download manager fetching many ranges of one file hits it constantly.
   */
  readonly #files = new LRUCache<string, FileContent>({
    max: MAX_OPEN_FILES,
    ttl: OPEN_FILE_TTL_MS,
    ttlAutopurge: true,
    // An evicted, replaced or expired file gives back its descriptor.
    dispose: f => f.close(),
  })
  /** Counters for metrics and tests. */
  readonly stats = { hits: 0, misses: 0, opens: 0, escapes: 0 }

  constructor(o: StaticRootOptions) {
    this.root = realpathSync(o.root)
    if (!statSync(this.root).isDirectory()) throw new TypeError(`root ${o.root} is not a directory`)
    this.#dotfiles = o.dotfiles ?? false
    this.#smallMax = o.smallFileMax ?? DEFAULT_SMALL_FILE_MAX
    this.#index = o.index ?? 'index.html'
    this.#etag = o.etag ?? 'cutover'
    this.#settleMs = o.settleMs ?? DEFAULT_SETTLE_MS
    if (!Number.isFinite(this.#settleMs) || this.#settleMs < 0) throw new TypeError('settleMs must be a nonnegative number')
    this.#clock = o.clock ?? systemClock
    this.#types = o.contentTypes ?? new ContentTypeResolver()
    const cacheBytes = o.cacheBytes ?? DEFAULT_CACHE_BYTES
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes <= 0) throw new TypeError('cacheBytes must be a positive integer')
    this.#cache = new LRUCache<string, Cached>({
      maxSize: cacheBytes,
      // Entries without bytes still cost their metadata; count them so the entry count is bounded too.
      sizeCalculation: c => (c.small ? c.identity.size : 0) + 256,
    })
  }

  /**
   * resolve finds what `rawPath` (the request target's path, before `?`) names. The caller must call
   * `release()` on an entity resolution once the response is done. Rejects with CutoverError:
   * ERR_BAD_REQUEST, ERR_NOT_FOUND, ERR_FORBIDDEN or ERR_IO.
   */
  async resolve(rawPath: string, query = ''): Promise<Resolution> {
    const hit = this.#cache.get(rawPath)
    if (hit) {
      const st = this.#stat(hit.fsPath)
      if (st?.isFile() && sameVersion(fileIdentity(st), hit.identity)) {
        this.stats.hits++
        if (hit.small) return { kind: 'entity', entity: hit.small, release: noop }
        const file = this.#files.get(hit.fsPath)
        if (file && sameVersion(file.identity, hit.identity) && file.retain()) {
          return { kind: 'entity', entity: { ...hit.meta, content: file }, release: () => file.close() }
        }
        return this.#openLarge(rawPath, hit.fsPath, st, this.#clock.now())
      }
      this.#cache.delete(rawPath)
    }
    return this.#resolveMiss(rawPath, query)
  }

  /**
   * lookup is the synchronous fast path of {@link resolve}: it answers only for a file held in
   * memory whose stat shows it unchanged, and returns undefined otherwise (then call resolve).
   * It may throw what resolve rejects with.
   */
  lookup(rawPath: string): Resolution | undefined {
    const hit = this.#cache.get(rawPath)
    if (!hit?.small) return undefined
    const st = this.#stat(hit.fsPath)
    if (!st?.isFile() || !sameVersion(fileIdentity(st), hit.identity)) {
      // Stale: resolve() then goes straight to the miss instead of stat'ing this entry again.
      this.#cache.delete(rawPath)
      return undefined
    }
    this.stats.hits++
    return { kind: 'entity', entity: hit.small, release: noop }
  }

  async #resolveMiss(rawPath: string, query: string): Promise<Resolution> {
    this.stats.misses++
    // "Now" is taken before the file is looked at: a later time would make it look settled sooner.
    const now = this.#clock.now()
    const rel = cleanPath(rawPath, this.#dotfiles)
    let fsPath = rel === '' ? this.root : `${this.root}/${rel}`
    let st = this.#stat(fsPath)
    if (!st) throw notFound()
    if (st.isDirectory()) {
      if (!rawPath.endsWith('/')) {
        return { kind: 'redirect', location: redirectLocation(rel, query) }
      }
      fsPath = `${fsPath}/${this.#index}`
      st = this.#stat(fsPath)
      if (!st?.isFile()) throw new CutoverError('ERR_FORBIDDEN', 'directory without index')
    } else if (rawPath.endsWith('/')) {
      throw notFound() // "/file/" names no directory (ENOTDIR, as nginx answers)
    }
    if (!st.isFile()) throw notFound() // fifos, sockets, devices are never served
    return this.#openLarge(rawPath, fsPath, st, now)
  }

  /** #stat follows symlinks; missing or unreachable paths give undefined, permission errors 403. */
  #stat(path: string): Stats | undefined {
    try {
      return statSync(path, { throwIfNoEntry: false })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EACCES' || code === 'EPERM') throw new CutoverError('ERR_FORBIDDEN', 'permission denied', { cause: err })
      if (code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP') return undefined
      throw new CutoverError('ERR_IO', 'stat failed', { cause: err })
    }
  }

  /**
   * #openLarge opens the file, checks that the descriptor really lies under the root, and builds its
   * entity. Small files are read into memory. The version served is the one the descriptor holds.
   * Nothing is cached unless the file had settled at `now` (taken before the stat) and the
   * descriptor shows what the stat showed: bytes read from a file that may be mid-write must
   * never be remembered under its identity.
   */
  async #openLarge(rawPath: string, fsPath: string, st: Stats, now: number): Promise<Resolution> {
    const shared = this.#files.get(fsPath)
    if (shared && sameVersion(shared.identity, fileIdentity(st)) && shared.retain()) {
      // Another path already opened (and checked) this very file: serve through that descriptor.
      let meta: Omit<Entity, 'content'>
      let cacheable: boolean
      try {
        ;({ meta, cacheable } = this.#meta(shared, await this.#typeOf(fsPath, shared), now))
      } catch (err) {
        shared.close()
        throw err
      }
      if (cacheable) this.#cache.set(rawPath, { fsPath, identity: shared.identity, meta })
      return { kind: 'entity', entity: { ...meta, content: shared }, release: () => shared.close() }
    }
    let fc: FileContent
    try {
      fc = await FileContent.open(fsPath)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') throw notFound()
      if (code === 'EACCES' || code === 'EPERM') throw new CutoverError('ERR_FORBIDDEN', 'permission denied', { cause: err })
      throw new CutoverError('ERR_IO', 'open failed', { cause: err })
    }
    this.stats.opens++
    try {
      const id = fc.identity
      if (!this.#inside(fc.fd, fsPath)) {
        this.stats.escapes++
        throw notFound()
      }
      const stable = sameVersion(id, fileIdentity(st))
      if (id.size <= this.#smallMax) {
        const data = await readAll(fc)
        fc.close()
        const { meta, cacheable: settled } = this.#meta(fc, await this.#typeOf(fsPath, fc, data), now)
        const cacheable = settled && stable
        const small: Entity = { ...meta, content: bytes(data) }
        if (cacheable) this.#cache.set(rawPath, { fsPath, identity: id, small, meta })
        return { kind: 'entity', entity: small, release: noop }
      }
      const { meta, cacheable: settled } = this.#meta(fc, await this.#typeOf(fsPath, fc), now)
      if (settled && stable) {
        this.#cache.set(rawPath, { fsPath, identity: id, meta })
        if (fc.retain()) this.#files.set(fsPath, fc)
      }
      return { kind: 'entity', entity: { ...meta, content: fc }, release: () => fc.close() }
    } catch (err) {
      fc.close()
      throw err
    }
  }

  /**
   * #typeOf is a file's Content-Type: by its name, else sniffed from its first bytes (`data` when the
   * whole file is already in memory, otherwise one read of the head).
   */
  async #typeOf(fsPath: string, fc: FileContent, data?: Uint8Array): Promise<string> {
    return this.#types.byName(fsPath) ?? this.#types.sniff(data ? data.subarray(0, SNIFF_LEN) : await readHead(fc))
  }

  /**
   * #meta is an opened file's validators and type at time `now`, and whether they may be cached:
   * not while the file is settling (then the ETag is weak and the date no strong validator,
   * RFC 9110 §8.8.2.2), nor while the ETag format's own rule makes the tag weak for a while.
   * Looking like Apache includes its Last-Modified: an mtime in the future is sent as the time of
   * the response, as RFC 9110 §8.8.2.1 requires (Go and nginx send the future date).
   */
  #meta(fc: FileContent, contentType: string, now: number): { meta: Omit<Entity, 'content'>; cacheable: boolean } {
    const settling = now - fc.identity.ctimeMs < this.#settleMs
    const tag = fileEtag(this.#etag, fc, now, settling)
    const lastModified = new Date(Math.floor(this.#etag === 'apache' ? Math.min(fc.identity.mtimeMs, now) : fc.identity.mtimeMs))
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

  /**
   * #inside tells whether an open descriptor's file lies under the root. On Linux the kernel's own
   * record of what was opened (/proc/self/fd) is read, so no symlink swap between check and open
   * can fool it; elsewhere the path's realpath is checked.
   */
  #inside(fd: number, fsPath: string): boolean {
    let real: string
    try {
      real = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      try {
        real = realpathSync(fsPath)
      } catch {
        return false
      }
    }
    return real === this.root || real.startsWith(this.root === '/' ? '/' : `${this.root}/`)
  }
}

const noop = (): void => undefined

/** readHead reads the first bytes of a (large) file that sniffing looks at: one read of 512 bytes. */
async function readHead(fc: FileContent): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafe(Math.min(SNIFF_LEN, fc.size))
  const got = buf.length === 0 ? 0 : await fc.readAt(buf, 0)
  return buf.subarray(0, got)
}

/** readAll reads a whole (small) file content into one buffer. */
async function readAll(fc: FileContent): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(fc.size)
  const got = fc.size === 0 ? 0 : await fc.readAt(buf, 0)
  if (got !== fc.size) throw new CutoverError('ERR_BLOB_CHANGED', 'file changed while it was read')
  return buf
}
