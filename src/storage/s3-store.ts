import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CutoverError, isCutoverError } from '../core/errors.js'
import type { BlobInfo, BlobStore } from './blob-store.js'
import {
  checkRange,
  DEFAULT_S3_REGION,
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

export { DEFAULT_S3_REGION }

/** S3Credentials are static S3 credentials (an access key pair, with a session token for temporary ones). */
export interface S3Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

/** S3StoreOptions configure an {@link S3Store}; the timeout and retry options are {@link RemoteStoreOptions}. */
export interface S3StoreOptions extends RemoteStoreOptions {
  /** The bucket that holds the blobs. */
  readonly bucket: string
  /** Prepended to every key to form the object key (`prefix + key`, nothing inserted). If unset, defaults to "". */
  readonly prefix?: string
  /** The service's URL, for S3-compatible services (MinIO, R2, ...). If unset, defaults to AWS S3 of `region`. */
  readonly endpoint?: string
  /** The region requests are signed for. If unset, defaults to {@link DEFAULT_S3_REGION}. */
  readonly region?: string
  /** Address the bucket in the path (`endpoint/bucket/key`) rather than the host name. If unset, defaults to false. */
  readonly forcePathStyle?: boolean
  /**
   * The credentials to sign with. If unset, defaults to the SDK's standard provider chain
   * (environment, shared config files, container and instance metadata): src/storage reads no
   * environment itself, the SDK does.
   */
  readonly credentials?: S3Credentials
  /**
   * An S3Client to use instead of making one (tests); `endpoint`, `region`, `forcePathStyle` and
   * `credentials` are then ignored, and it should be made with `maxAttempts: 1` so the retry count
   * stays the store's. The store does not destroy a client it was given.
   */
  readonly client?: S3Client
}

/** S3BlobInfo is a {@link BlobInfo} of an object, with its ETag as the service sent it. */
export interface S3BlobInfo extends BlobInfo {
  /** The ETag of the object as HeadObject gave it (quoted), or undefined if it gave none. */
  readonly etag: string | undefined
}

/**
 * S3Store is the {@link BlobStore} of the objects under one prefix of one bucket of an S3-compatible
 * service: `stat` is HeadObject (mtime from LastModified; 0, the Unix epoch, if there is none), `read`
 * a GetObject of a byte range. An answer covering more than the range asked is accepted, its extra
 * bytes dropped (s3rver answers `bytes=0-0` with the whole object).
 *
 * Versions: the object's ETag is its version when it is strong (S3's always are; a weak or missing
 * one leaves the version undefined, so nothing read is cached). Every ranged answer is checked
 * against the version that was looked at: its ETag must be the same and its Content-Range must
 * show the same total size, else the read rejects with ERR_BLOB_CHANGED. The request also carries
 * If-Match (S3 answers 412 when it fails), but the check does not depend on it: some S3-compatible
 * servers ignore If-Match. A 404 or a 416 to a read also means the object changed since its stat.
 *
 * Errors: 404 (NoSuchKey, NotFound) is ERR_NOT_FOUND, 401/403 ERR_FORBIDDEN, a request past
 * `timeoutMs` ERR_TIMEOUT, the caller's abort ERR_ABORTED, anything else ERR_IO with a message that
 * names the bucket and key (never credentials). A body cut short never resolves: it rejects (ERR_IO,
 * or ERR_SHORT_READ when its framing ended cleanly). 5xx answers, connection failures, short bodies
 * and timeouts are retried as {@link RemoteStoreOptions} says; the SDK's own retries are off
 * (maxAttempts 1), so the count is the store's.
 */
export class S3Store implements BlobStore<S3BlobInfo> {
  /** The bucket. */
  readonly bucket: string
  /** The key prefix. */
  readonly prefix: string
  /** Counters for metrics and tests (see {@link RemoteStoreStats}). */
  readonly stats: RemoteStoreStats = newStats()
  readonly #client: S3Client
  readonly #own: boolean
  readonly #s: RemoteSettings

  /** Throws TypeError for an empty bucket, an endpoint that is not an http(s) URL, or bad timeout and retry options. */
  constructor(o: S3StoreOptions) {
    if (typeof o.bucket !== 'string' || o.bucket === '') throw new TypeError('bucket must be a nonempty string')
    this.bucket = o.bucket
    this.prefix = o.prefix ?? ''
    if (typeof this.prefix !== 'string') throw new TypeError('prefix must be a string')
    this.#s = remoteSettings(o)
    if (o.endpoint !== undefined) {
      let u: URL
      try {
        u = new URL(o.endpoint)
      } catch {
        throw new TypeError('endpoint must be an http(s) URL')
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('endpoint must be an http(s) URL')
    }
    this.#own = o.client === undefined
    this.#client =
      o.client ??
      new S3Client({
        region: o.region ?? DEFAULT_S3_REGION,
        ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
        forcePathStyle: o.forcePathStyle ?? false,
        ...(o.credentials === undefined ? {} : { credentials: o.credentials }),
        // The store counts and spaces its own retries (RemoteStoreOptions).
        maxAttempts: 1,
        // A ranged GET has no whole-object checksum to validate; the store checks ETag and size instead.
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestChecksumCalculation: 'WHEN_REQUIRED',
      })
  }

  /** close lets go of the client's connections (only of a client the store made itself). */
  close(): void {
    if (this.#own) this.#client.destroy()
  }

  /** stat is {@link BlobStore.stat}: a HeadObject of `prefix + key`. */
  async stat(key: string, signal?: AbortSignal): Promise<S3BlobInfo> {
    const what = this.#what(key)
    const info = await runRemote(
      this.#s,
      this.stats,
      what,
      signal,
      async (abort): Promise<S3BlobInfo> => {
        const r = await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: abort })
        const size = r.ContentLength
        if (size === undefined || !Number.isSafeInteger(size) || size < 0) throw new CutoverError('ERR_IO', `${what}: no object size in the answer`)
        const etag = r.ETag
        return { key, size, mtimeMs: r.LastModified?.getTime() ?? 0, version: etag !== undefined && isStrongEtag(etag) ? etag : undefined, etag }
      },
      err => s3Error(err, what, 'stat'),
    )
    this.stats.stats++
    return info
  }

  /**
   * read is {@link BlobStore.read}: a GetObject of `Range: bytes=off-end` (end clamped to the
   * blob's end; nothing is asked at or past it), checked against `info` as the class says.
   */
  async read(info: S3BlobInfo, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> {
    checkRange(off, len)
    const what = this.#what(info.key)
    const n = Math.max(0, Math.min(len, info.size - off))
    const attempt = async (abort: AbortSignal): Promise<Uint8Array> => {
      if (n === 0) return new Uint8Array(0)
      let body: (AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void; on?: (ev: 'error', fn: () => void) => unknown }) | undefined
      // The SDK may stop watching the signal once the headers are in: the body is cut here too. Its
      // 'error' gets a listener, so a body nobody iterates any more does not crash the process.
      const cut = (): void => {
        body?.on?.('error', () => undefined)
        body?.destroy?.(new Error('request cancelled'))
      }
      abort.addEventListener('abort', cut, { once: true })
      try {
        const r = await this.#client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + info.key,
            Range: `bytes=${off}-${off + n - 1}`,
            ...(info.etag === undefined ? {} : { IfMatch: info.etag }),
          }),
          { abortSignal: abort },
        )
        body = r.Body as unknown as typeof body
        if (abort.aborted) {
          cut()
          throw abort.reason
        }
        const drop = (): void => body?.destroy?.()
        if (r.ETag !== info.etag) {
          drop()
          throw new CutoverError('ERR_BLOB_CHANGED', `${what}: ETag ${r.ETag ?? '(none)'} is not ${info.etag ?? '(none)'}`)
        }
        const range = parseContentRange(r.ContentRange)
        // The body may cover more than was asked (s3rver answers `bytes=0-0` with the whole object).
        let length = n
        let skip = 0
        if (range === undefined) {
          // No Content-Range: the whole object came (a service that ignores Range); only right if that was asked.
          if (r.ContentRange !== undefined || off !== 0 || n !== info.size || r.ContentLength !== info.size) {
            drop()
            throw new CutoverError('ERR_IO', `${what}: answer without a usable Content-Range for bytes ${off}-${off + n - 1}`)
          }
        } else {
          try {
            ;({ length, skip } = rangeSlice(range, info.size, off, n, what))
          } catch (err) {
            drop()
            throw err
          }
        }
        if (body === undefined) throw new CutoverError('ERR_UPSTREAM', 'answer without a body')
        return await readExactly(body, length, `${what}: body`, skip, n, this.#s.allocate)
      } finally {
        abort.removeEventListener('abort', cut)
      }
    }
    const bytes = await runRemote(this.#s, this.stats, what, signal, attempt, err => s3Error(err, what, 'read'))
    this.stats.reads++
    this.stats.bytes += bytes.length
    return bytes
  }

  /** #what names the object in messages: bucket and object key, nothing of the credentials or endpoint. */
  #what(key: string): string {
    return `s3 ${this.bucket}/${this.prefix}${key}`
  }
}

/**
 * s3Error maps a failed SDK call to a CutoverError: CutoverErrors of the store's own checks pass
 * through; statuses by their meaning (for a read, 404, 412 and 416 mean the object changed since
 * its stat); 5xx and connection failures get retryable codes. Only the SDK's error name and the
 * status reach the message.
 */
function s3Error(err: unknown, what: string, op: 'stat' | 'read'): CutoverError {
  if (isCutoverError(err)) return err
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } }
  const status = typeof e?.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined
  const name = typeof e?.name === 'string' ? e.name : 'Error'
  const said = `${what}: ${op} failed (${name}${status === undefined ? '' : ` ${status}`})`
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound') {
    return op === 'read' ? new CutoverError('ERR_BLOB_CHANGED', `${what}: object gone since its stat`, { cause: err }) : new CutoverError('ERR_NOT_FOUND', `${what}: no such object`, { cause: err })
  }
  if (status === 403 || status === 401) return new CutoverError('ERR_FORBIDDEN', `${what}: access denied`, { cause: err })
  if (op === 'read' && (status === 412 || status === 416)) return new CutoverError('ERR_BLOB_CHANGED', `${what}: object changed since its stat (${status})`, { cause: err })
  if (status !== undefined && status >= 500) return new CutoverError('ERR_UPSTREAM', said, { cause: err })
  const net = networkCode(err)
  if (net !== undefined) return new CutoverError('ERR_UPSTREAM', `${what}: ${op} failed (${net})`, { cause: err })
  return new CutoverError('ERR_IO', said, { cause: err })
}
