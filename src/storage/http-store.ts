import { Pool, type Dispatcher } from 'undici'
import { CutoverError, isCutoverError } from '../core/errors.js'
import type { BlobInfo, BlobStore } from './blob-store.js'
import {
  checkRange,
  isStrongEtag,
  networkCode,
  newStats,
  parseContentRange,
  rangeSlice,
  readExactly,
  remoteSettings,
  runRemote,
  type RemoteSettings,
  type RemoteStoreOptions,
  type RemoteStoreStats,
} from './remote-store.js'

/** DEFAULT_HTTP_CONNECTIONS bounds the keep-alive connections an {@link HttpStore} opens to its origin. */
export const DEFAULT_HTTP_CONNECTIONS = 16

/** HttpStoreOptions configure an {@link HttpStore}; the timeout and retry options are {@link RemoteStoreOptions}. */
export interface HttpStoreOptions extends RemoteStoreOptions {
  /**
   * The origin and path prefix, `http(s)://host[:port]/prefix`: key `a/b.bin` is fetched from
   * `/prefix/a/b.bin` (a `/` is put between them when the prefix lacks one). No user name,
   * password, query or fragment.
   */
  readonly origin: string
  /** Keep-alive connections to the origin, at most. If unset, defaults to {@link DEFAULT_HTTP_CONNECTIONS}. */
  readonly connections?: number
  /**
   * A dispatcher to send requests through instead of the store's own Pool (tests, or one Agent
   * shared by several stores); `connections` is then ignored and the store does not close it.
   */
  readonly dispatcher?: Dispatcher
}

/** HttpBlobInfo is a {@link BlobInfo} of an origin's resource, with its validators as the origin sent them. */
export interface HttpBlobInfo extends BlobInfo {
  /** The ETag the HEAD answer carried, strong or weak, or undefined. */
  readonly etag: string | undefined
  /** The Last-Modified the HEAD answer carried, verbatim, or undefined. */
  readonly lastModified: string | undefined
}

/**
 * HttpStore is the {@link BlobStore} of the resources under one path of an HTTP(S) origin, over a
 * keep-alive undici Pool: `stat` is HEAD (size from Content-Length, mtime from Last-Modified; 0,
 * the Unix epoch, when there is none, which serving treats as no time at all, as Go's isZeroTime
 * does), `read` a GET with a Range. Redirects are not followed (they are ERR_IO).
 *
 * Versions: a STRONG ETag (RFC 9110 §8.8.3) is the version, and reads carry `If-Match` with it
 * (RFC 9110 §13.1.1): the origin answers 412 when the resource changed. Each answer is checked too,
 * for origins that ignore If-Match: its ETag must be the HEAD's, and a 206's Content-Range must
 * show the same total size. Without a strong ETag the store cannot promise a version: a weak ETag
 * or a Last-Modified (one-second resolution) does not change when a resource is rewritten twice
 * within a second at one size, so the version is undefined (settling: nothing read is ever cached,
 * validators derived from it are weak). Reads then still carry `If-Unmodified-Since` with the
 * Last-Modified (RFC 9110 §13.1.4), and each answer's ETag, Last-Modified and total size must be
 * the HEAD's, so every change these validators can show is still caught.
 *
 * An origin that ignores Range (a 200 to a ranged GET) is accepted only when the whole resource was
 * asked (`off` 0, `len` its size) and the answer has exactly its size; otherwise the read is ERR_IO
 * (the origin does not serve ranges). A 412, a 416, a 404 or a 410 to a read, a different ETag,
 * Last-Modified or total size, are ERR_BLOB_CHANGED.
 *
 * Errors: 404 and 410 are ERR_NOT_FOUND, 401/403 ERR_FORBIDDEN, a request past `timeoutMs`
 * ERR_TIMEOUT, the caller's abort ERR_ABORTED, anything else ERR_IO naming the origin (without
 * any credentials) and key. A body cut short never resolves. 5xx answers, connection failures,
 * short bodies and timeouts are retried as {@link RemoteStoreOptions} says.
 */
export class HttpStore implements BlobStore<HttpBlobInfo> {
  /** The origin, `http(s)://host[:port]`. */
  readonly origin: string
  /** The path prefix, ending in `/`. */
  readonly prefix: string
  /** Counters for metrics and tests (see {@link RemoteStoreStats}). */
  readonly stats: RemoteStoreStats = newStats()
  readonly #d: Dispatcher
  readonly #own: boolean
  readonly #s: RemoteSettings

  /** Throws TypeError for an origin that is not a plain http(s) URL, bad connections, or bad timeout and retry options. */
  constructor(o: HttpStoreOptions) {
    let u: URL
    try {
      u = new URL(o.origin)
    } catch {
      throw new TypeError('origin must be an http(s) URL')
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('origin must be an http(s) URL')
    // Credentials in the URL would end up in messages and logs; they are refused rather than hidden.
    if (u.username !== '' || u.password !== '') throw new TypeError('origin must not contain a user name or password')
    if (u.search !== '' || u.hash !== '') throw new TypeError('origin must not contain a query or fragment')
    this.origin = u.origin
    this.prefix = u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`
    this.#s = remoteSettings(o)
    const connections = o.connections ?? DEFAULT_HTTP_CONNECTIONS
    if (!Number.isSafeInteger(connections) || connections <= 0) throw new TypeError('connections must be a positive integer')
    this.#own = o.dispatcher === undefined
    this.#d = o.dispatcher ?? new Pool(this.origin, { connections })
  }

  /** close closes the store's own Pool (not a dispatcher it was given), once requests in flight end. */
  async close(): Promise<void> {
    if (this.#own) await this.#d.close()
  }

  /** stat is {@link BlobStore.stat}: a HEAD of the key's path. A key with an empty, `.` or `..` segment or a NUL names nothing. */
  async stat(key: string, signal?: AbortSignal): Promise<HttpBlobInfo> {
    const what = this.#what(key)
    const path = this.#pathOf(key)
    if (path === undefined) throw new CutoverError('ERR_NOT_FOUND', `${what}: not a key of this store`)
    const stat = async (abort: AbortSignal): Promise<HttpBlobInfo> => {
      // The identity representation's size is wanted: the one ranges of GETs count in.
      const r = await this.#d.request({ origin: this.origin, path, method: 'HEAD', headers: { 'accept-encoding': 'identity' }, signal: abort })
      await r.body.dump()
      if (r.statusCode !== 200) throw statusError(r.statusCode, what, 'stat')
      const size = Number(header(r.headers, 'content-length') ?? NaN)
      if (!Number.isSafeInteger(size) || size < 0) throw new CutoverError('ERR_IO', `${what}: HEAD answer without a Content-Length`)
      const etag = header(r.headers, 'etag')
      const lastModified = header(r.headers, 'last-modified')
      const mtime = lastModified === undefined ? NaN : Date.parse(lastModified)
      const info: HttpBlobInfo = {
        key,
        size,
        mtimeMs: Number.isFinite(mtime) ? mtime : 0,
        version: etag !== undefined && isStrongEtag(etag) ? etag : undefined,
        etag,
        lastModified,
      }
      return info
    }
    const info = await runRemote(this.#s, this.stats, what, signal, stat, err => httpError(err, what, 'stat'))
    this.stats.stats++
    return info
  }

  /**
   * read is {@link BlobStore.read}: a GET with `Range: bytes=off-end` (end clamped to the blob's
   * end; nothing is asked at or past it) and the preconditions and checks the class describes.
   */
  async read(info: HttpBlobInfo, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> {
    checkRange(off, len)
    const what = this.#what(info.key)
    const path = this.#pathOf(info.key)
    if (path === undefined) throw new CutoverError('ERR_BLOB_CHANGED', `${what}: not a key of this store`)
    const n = Math.max(0, Math.min(len, info.size - off))
    const headers: Record<string, string> = {
      range: `bytes=${off}-${off + n - 1}`,
      // Content-Range counts bytes of the representation; a compressed one would count others.
      'accept-encoding': 'identity',
    }
    if (info.version !== undefined) headers['if-match'] = info.version
    else if (info.lastModified !== undefined) headers['if-unmodified-since'] = info.lastModified
    const attempt = async (abort: AbortSignal): Promise<Uint8Array> => {
      if (n === 0) return new Uint8Array(0)
      const r = await this.#d.request({ origin: this.origin, path, method: 'GET', headers, signal: abort })
      try {
        const changed = (why: string): CutoverError => new CutoverError('ERR_BLOB_CHANGED', `${what}: ${why}`)
        if (r.statusCode !== 206 && r.statusCode !== 200) throw statusError(r.statusCode, what, 'read')
        const etag = header(r.headers, 'etag')
        if (etag !== info.etag) throw changed(`ETag ${etag ?? '(none)'} is not ${info.etag ?? '(none)'}`)
        if (info.version === undefined && header(r.headers, 'last-modified') !== info.lastModified) throw changed('Last-Modified differs from its stat')
        // The body may cover more than was asked (RFC 9110 §14.2 lets an origin widen ranges).
        let length = n
        let skip = 0
        if (r.statusCode === 200) {
          // The origin ignored Range (RFC 9110 §14.2 lets it): only the whole resource is an answer.
          const size = Number(header(r.headers, 'content-length') ?? NaN)
          if (Number.isSafeInteger(size) && size !== info.size) throw changed(`size ${size} is not ${info.size}`)
          if (off !== 0 || n !== info.size) throw new CutoverError('ERR_IO', `${what}: origin ignored the Range header (200 for bytes ${off}-${off + n - 1})`)
          if (size !== info.size) throw new CutoverError('ERR_IO', `${what}: 200 answer without a Content-Length`)
        } else {
          const range = parseContentRange(header(r.headers, 'content-range'))
          if (range === undefined) throw new CutoverError('ERR_IO', `${what}: 206 without a single byte Content-Range`)
          ;({ length, skip } = rangeSlice(range, info.size, off, n, what))
        }
        return await readExactly(r.body, length, `${what}: body`, skip, n, this.#s.allocate)
      } finally {
        // A body left unread (an error above) is drained, up to undici's limit (then the
        // connection is closed), so the connection can be reused; destroy() would emit an error.
        void r.body.dump().catch(() => undefined)
      }
    }
    const bytes = await runRemote(this.#s, this.stats, what, signal, attempt, err => httpError(err, what, 'read'))
    this.stats.reads++
    this.stats.bytes += bytes.length
    return bytes
  }

  /** #pathOf is the request path of a key (each segment percent-encoded), or undefined for a key this store does not serve. */
  #pathOf(key: string): string | undefined {
    if (key.includes('\0')) return undefined
    const segs = key.split('/')
    // An empty, "." or ".." segment would reach outside the prefix once the origin normalises the path.
    if (segs.some(s => s === '' || s === '.' || s === '..')) return undefined
    return this.prefix + segs.map(encodeURIComponent).join('/')
  }

  /** #what names the resource in messages: origin, prefix and key (the origin has no credentials: see the constructor). */
  #what(key: string): string {
    return `http ${this.origin}${this.prefix}${key}`
  }
}

/** header is one response header's value (the first of several). */
function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/** statusError maps an unexpected status: 404/410, 401/403, 412/416 (reads), 5xx (retryable), others ERR_IO. */
function statusError(status: number, what: string, op: 'stat' | 'read'): CutoverError {
  if (status === 404 || status === 410) {
    return op === 'read' ? new CutoverError('ERR_BLOB_CHANGED', `${what}: gone since its stat (${status})`) : new CutoverError('ERR_NOT_FOUND', `${what}: not found (${status})`)
  }
  if (status === 401 || status === 403) return new CutoverError('ERR_FORBIDDEN', `${what}: access denied (${status})`)
  if (op === 'read' && (status === 412 || status === 416)) return new CutoverError('ERR_BLOB_CHANGED', `${what}: changed since its stat (${status})`)
  if (status >= 500) return new CutoverError('ERR_UPSTREAM', `${what}: ${op} failed (${status})`)
  return new CutoverError('ERR_IO', `${what}: ${op} failed (${status})`)
}

/** httpError maps a failed request: the store's own CutoverErrors pass; connection failures are retryable. */
function httpError(err: unknown, what: string, op: 'stat' | 'read'): CutoverError {
  if (isCutoverError(err)) return err
  const net = networkCode(err)
  if (net !== undefined) return new CutoverError('ERR_UPSTREAM', `${what}: ${op} failed (${net})`, { cause: err })
  return new CutoverError('ERR_IO', `${what}: ${op} failed`, { cause: err })
}
