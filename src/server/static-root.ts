import { readlinkSync, realpathSync, statSync, type Stats } from 'node:fs'
import { extname } from 'node:path'
import { LRUCache } from 'lru-cache'
import mime from 'mime-types'
import { CutoverError } from '../core/errors.js'
import { bytes } from '../content/bytes.js'
import type { Entity } from '../content/entity.js'
import { FileContent, fileIdentity, sameIdentity, type FileIdentity } from '../content/file-content.js'

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
}

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

/** Cached is what the cache keeps per request path, valid while the file keeps its identity. */
interface Cached {
  readonly fsPath: string
  readonly identity: FileIdentity
  /** Entity whose content is in memory; undefined for large files. */
  readonly small?: Entity
  /** The file's validators and type; a large file's content comes from the open-file cache. */
  readonly meta: Omit<Entity, 'content'>
}

/**
 * etagFor derives the strong ETag of a file from its metadata, without reading it:
 * `"<mtime in µs, hex>-<size, hex>"`. It changes whenever the file is written (mtime), resized, or
 * replaced by a file with another mtime. Replicas that copy files with their mtimes (rsync -a,
 * tar) give the same ETag for the same bytes, so a client that resumes against another replica
 * still gets its 206. It does not change if a file is rewritten with the same size and its mtime is
 * then forced back (touch -d): do not do that to a served file.
 */
export function etagFor(id: FileIdentity): string {
  return `"${Math.round(id.mtimeMs * 1000).toString(16)}-${id.size.toString(16)}"`
}

/** contentTypeFor picks the Content-Type by extension; text types get `charset=utf-8` as Go does. */
export function contentTypeFor(name: string): string {
  const t = mime.lookup(extname(name))
  if (!t) return 'application/octet-stream'
  return t.startsWith('text/') ? `${t}; charset=utf-8` : t
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
      if (st?.isFile() && sameIdentity(fileIdentity(st), hit.identity)) {
        this.stats.hits++
        if (hit.small) return { kind: 'entity', entity: hit.small, release: noop }
        const file = this.#files.get(hit.fsPath)
        if (file && sameIdentity(file.identity, hit.identity) && file.retain()) {
          return { kind: 'entity', entity: { ...hit.meta, content: file }, release: () => file.close() }
        }
        return this.#openLarge(rawPath, hit.fsPath, st)
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
    if (!st?.isFile() || !sameIdentity(fileIdentity(st), hit.identity)) {
      // Stale: resolve() then goes straight to the miss instead of stat'ing this entry again.
      this.#cache.delete(rawPath)
      return undefined
    }
    this.stats.hits++
    return { kind: 'entity', entity: hit.small, release: noop }
  }

  async #resolveMiss(rawPath: string, query: string): Promise<Resolution> {
    this.stats.misses++
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
    return this.#openLarge(rawPath, fsPath, st)
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
   * entity. Small files are read into memory and cached. The version served is the one the
   * descriptor holds; if it differs from what stat saw, the cache is not filled with it.
   */
  async #openLarge(rawPath: string, fsPath: string, st: Stats): Promise<Resolution> {
    const shared = this.#files.get(fsPath)
    if (shared && sameIdentity(shared.identity, fileIdentity(st)) && shared.retain()) {
      // Another path already opened (and checked) this very file: serve through that descriptor.
      const meta = metaOf(shared.identity, fsPath)
      this.#cache.set(rawPath, { fsPath, identity: shared.identity, meta })
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
      const stable = sameIdentity(id, fileIdentity(st))
      if (!this.#inside(fc.fd, fsPath)) {
        this.stats.escapes++
        throw notFound()
      }
      const meta = metaOf(id, fsPath)
      if (id.size <= this.#smallMax) {
        const data = await readAll(fc)
        fc.close()
        const small: Entity = { ...meta, content: bytes(data) }
        if (stable) this.#cache.set(rawPath, { fsPath, identity: id, small, meta })
        return { kind: 'entity', entity: small, release: noop }
      }
      if (stable) {
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

/** metaOf is an entity's validators and type, from the file's identity and name. */
function metaOf(id: FileIdentity, fsPath: string): Omit<Entity, 'content'> {
  return { etag: etagFor(id), lastModified: new Date(Math.floor(id.mtimeMs)), contentType: contentTypeFor(fsPath) }
}

/** readAll reads a whole (small) file content into one buffer. */
async function readAll(fc: FileContent): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(fc.size)
  const got = fc.size === 0 ? 0 : await fc.readAt(buf, 0)
  if (got !== fc.size) throw new CutoverError('ERR_BLOB_CHANGED', 'file changed while it was read')
  return buf
}
