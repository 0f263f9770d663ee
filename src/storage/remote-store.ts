import { abortError, codeOf, CutoverError } from '../core/errors.js'
import { systemClock, type Clock } from '../core/clock.js'
import { newBytes, type Allocate } from './blob-store.js'
import { DEFAULT_RETRIES, DEFAULT_RETRY_BASE_MS, DEFAULT_RETRY_CAP_MS, validateRetryOptions, withRetries } from './retry.js'

/** DEFAULT_TIMEOUT_MS bounds one request to a remote store, from sending it to the last body byte. */
export const DEFAULT_TIMEOUT_MS = 30_000

/**
 * RemoteStoreOptions are the options every remote {@link BlobStore} (S3, HTTP origin) shares: how
 * long one request may take and how failures are retried.
 */
export interface RemoteStoreOptions {
  /**
   * How long one request (one attempt) may take, from sending it to its last body byte, in
   * milliseconds; past it the attempt fails with ERR_TIMEOUT (and may be retried). If unset,
   * defaults to {@link DEFAULT_TIMEOUT_MS}.
   */
  readonly timeoutMs?: number
  /**
   * Retries of one operation after a retryable failure (a 5xx answer, a connection refused or reset,
   * a body cut short, a timeout); never after an answer that says something about the blob (404,
   * 403, a changed version). An integer from 0 to 10. If unset, defaults to DEFAULT_RETRIES (2).
   */
  readonly retries?: number
  /**
   * The backoff bound of the first retry in milliseconds; it doubles per retry up to `retryCapMs`,
   * and the wait is uniform below it ("full jitter"). If unset, defaults to DEFAULT_RETRY_BASE_MS (100).
   */
  readonly retryBaseMs?: number
  /** The largest backoff bound in milliseconds. If unset, defaults to DEFAULT_RETRY_CAP_MS (2000). */
  readonly retryCapMs?: number
  /** Where timeouts and backoff timers come from. If unset, defaults to systemClock (core/clock.ts). */
  readonly clock?: Clock
  /** Uniform randomness in [0, 1) for the jitter. If unset, defaults to Math.random. */
  readonly random?: () => number
  /** Where read() puts the bytes it resolves with. If unset, defaults to newBytes (blob-store.ts). */
  readonly allocate?: Allocate
}

/**
 * RemoteStoreStats are the counters of a remote store, plain numbers a caller may read at any time
 * (to export as metrics, or in tests). Each only grows.
 */
export interface RemoteStoreStats {
  /** stat() calls that resolved. */
  stats: number
  /** read() calls that resolved. */
  reads: number
  /** Bytes that resolved read() calls returned. */
  bytes: number
  /** Requests sent (first attempts and retries). */
  attempts: number
  /** Retries sent (attempts after a retryable failure). */
  retries: number
  /** stat() and read() calls that rejected, except with ERR_NOT_FOUND (an answer, not a fault) and ERR_ABORTED (the caller's choice). */
  errors: number
}

/** RemoteSettings are {@link RemoteStoreOptions} validated, with their defaults. */
export interface RemoteSettings {
  readonly timeoutMs: number
  readonly retries: number
  readonly retryBaseMs: number
  readonly retryCapMs: number
  readonly clock: Clock
  readonly random: () => number
  readonly allocate: Allocate
}

/** remoteSettings validates `o` (TypeError for a bad value) and fills in the defaults. */
export function remoteSettings(o: RemoteStoreOptions): RemoteSettings {
  const s: RemoteSettings = {
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: o.retries ?? DEFAULT_RETRIES,
    retryBaseMs: o.retryBaseMs ?? DEFAULT_RETRY_BASE_MS,
    retryCapMs: o.retryCapMs ?? DEFAULT_RETRY_CAP_MS,
    clock: o.clock ?? systemClock,
    random: o.random ?? Math.random,
    allocate: o.allocate ?? newBytes,
  }
  if (!Number.isFinite(s.timeoutMs) || s.timeoutMs <= 0) throw new TypeError('timeoutMs must be a positive number')
  validateRetryOptions(s.retries, s.retryBaseMs, s.retryCapMs)
  return s
}

/** newStats returns zeroed {@link RemoteStoreStats}. */
export function newStats(): RemoteStoreStats {
  return { stats: 0, reads: 0, bytes: 0, attempts: 0, retries: 0, errors: 0 }
}

/**
 * RETRYABLE are the codes an attempt fails with when another attempt may succeed: the service
 * failed (5xx), the connection failed (refused, reset, cut mid-body, a short body), or it was slow.
 */
const RETRYABLE: ReadonlySet<string> = new Set(['ERR_UPSTREAM', 'ERR_CONNECT', 'ERR_TIMEOUT', 'ERR_SHORT_READ'])

/** NETWORK_CODES are Node's and undici's codes of a connection that failed (retryable). */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
])

/** networkCode finds a connection failure's code on `err` or its causes (bounded), or undefined. */
export function networkCode(err: unknown): string | undefined {
  let e: unknown = err
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code
    if ((e as { message?: unknown }).message === 'aborted' || (e as { message?: unknown }).message === 'socket hang up') return 'ECONNRESET'
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Attempt is one request's cancellation: `signal` aborts when the caller's signal does or when the
 * attempt's timeout passes; `outcome(err)` then names which (ERR_ABORTED, ERR_TIMEOUT) or gives
 * undefined for a failure of its own. `done()` must be called once the attempt is over.
 */
interface Attempt {
  readonly signal: AbortSignal
  outcome(err: unknown): CutoverError | undefined
  done(): void
}

/** startAttempt starts the timeout of one attempt on `clock` and links it to the caller's `outer` signal. */
function startAttempt(clock: Clock, timeoutMs: number, outer: AbortSignal | undefined, what: string): Attempt {
  const ac = new AbortController()
  let timedOut = false
  const onAbort = (): void => ac.abort(outer?.reason)
  outer?.addEventListener('abort', onAbort, { once: true })
  if (outer?.aborted) ac.abort(outer.reason)
  const timer = clock.setTimeout(() => {
    timedOut = true
    ac.abort(new CutoverError('ERR_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`))
  }, timeoutMs)
  return {
    signal: ac.signal,
    outcome: err => {
      if (outer?.aborted) return abortError(outer)
      if (timedOut) return new CutoverError('ERR_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`, { cause: err })
      return undefined
    },
    done: () => {
      timer.clear()
      outer?.removeEventListener('abort', onAbort)
    },
  }
}

/**
 * runRemote runs one store operation with the store's retries. Each attempt is given a signal that
 * aborts when the caller's `signal` does or when `s.timeoutMs` passes ({@link startAttempt}); a
 * failure of an attempt is then ERR_ABORTED or ERR_TIMEOUT, else what `classify` makes of it (a
 * CutoverError, retryable ones with the codes in RETRYABLE). Once retries are spent, a retryable
 * failure other than a timeout is reported as ERR_IO (the {@link BlobStore} contract's code for a
 * failed store), with the same message (attempts name store and key, never credentials), the
 * failure as its cause; a failure that is no CutoverError is ERR_IO naming `what`.
 */
export async function runRemote<T>(
  s: RemoteSettings,
  stats: RemoteStoreStats,
  what: string,
  signal: AbortSignal | undefined,
  attempt: (signal: AbortSignal) => Promise<T>,
  classify: (err: unknown) => unknown,
): Promise<T> {
  try {
    return await withRetries(
      async () => {
        stats.attempts++
        const a = startAttempt(s.clock, s.timeoutMs, signal, what)
        try {
          return await attempt(a.signal)
        } catch (err) {
          throw a.outcome(err) ?? classify(err)
        } finally {
          a.done()
        }
      },
      {
        retries: s.retries,
        baseMs: s.retryBaseMs,
        capMs: s.retryCapMs,
        clock: s.clock,
        random: s.random,
        signal,
        retryable: err => RETRYABLE.has(codeOf(err) ?? ''),
        onRetry: () => void stats.retries++,
      },
    )
  } catch (err) {
    const code = codeOf(err)
    if (code !== 'ERR_NOT_FOUND' && code !== 'ERR_ABORTED') stats.errors++
    if (code === 'ERR_UPSTREAM' || code === 'ERR_CONNECT') {
      throw new CutoverError('ERR_IO', (err as Error).message, { cause: err })
    }
    if (code === undefined) throw new CutoverError('ERR_IO', `${what}: failed`, { cause: err })
    throw err
  }
}

/**
 * ContentRange is a parsed `Content-Range: bytes first-last/complete` (RFC 9110 §14.4), `complete`
 * undefined for `*`.
 */
export interface ContentRange {
  readonly first: number
  readonly last: number
  readonly complete: number | undefined
}

/** parseContentRange parses a byte Content-Range of a 206, or gives undefined for anything else. */
export function parseContentRange(v: string | undefined): ContentRange | undefined {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v ?? '')
  if (!m) return undefined
  const first = Number(m[1])
  const last = Number(m[2])
  const complete = m[3] === '*' ? undefined : Number(m[3])
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) return undefined
  if (complete !== undefined && (!Number.isSafeInteger(complete) || last >= complete)) return undefined
  return { first, last, complete }
}

/**
 * readExactly reads a response body that must be exactly `length` bytes and resolves with the `n`
 * of them at `skip` (the asked bytes of an answer that covers more than was asked), in a buffer
 * from `allocate` (if unset, newBytes) taken before the first byte is read. A longer body
 * is ERR_UPSTREAM, a shorter one (the body ended early, its framing intact) ERR_SHORT_READ, both
 * retryable; a stream error (a connection cut mid-body) is thrown as it came. It never resolves
 * with fewer than `n` bytes.
 */
export async function readExactly(
  body: AsyncIterable<Uint8Array | string>,
  length: number,
  what: string,
  skip = 0,
  n = length - skip,
  allocate: Allocate = newBytes,
): Promise<Uint8Array> {
  const buf = allocate(n)
  let got = 0
  for await (const chunk of body) {
    const c = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    if (got + c.length > length) throw new CutoverError('ERR_UPSTREAM', `${what} longer than the ${length} bytes announced`)
    // The part of this chunk that falls in [skip, skip + n), if any.
    const from = Math.max(0, skip - got)
    const to = Math.min(c.length, skip + n - got)
    if (from < to) buf.set(c.subarray(from, to), got + from - skip)
    got += c.length
  }
  if (got !== length) throw new CutoverError('ERR_SHORT_READ', `${what} ended after ${got} of ${length} bytes`)
  return buf
}

/** checkRange throws RangeError for an offset or length that is not a nonnegative safe integer. */
export function checkRange(off: number, len: number): void {
  if (!Number.isSafeInteger(off) || off < 0) throw new RangeError(`invalid offset ${off}`)
  if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`invalid length ${len}`)
}

/** isStrongEtag tells a strong entity tag (RFC 9110 §8.8.3: `"..."`, no `W/` prefix). */
export function isStrongEtag(etag: string): boolean {
  return /^"[\x21\x23-\x7e\x80-\xff]*"$/.test(etag)
}

/** DEFAULT_S3_REGION is the region an S3Store (s3-store.ts) signs for when none is given; here so that naming it does not load the AWS SDK. */
export const DEFAULT_S3_REGION = 'us-east-1'

/**
 * rangeSlice checks a 206's Content-Range against the version asked for and the bytes wanted: the
 * total must be the stat's size (else the blob changed: ERR_BLOB_CHANGED), and the range must cover
 * [off, off + n) (else ERR_IO; a server may answer more than asked, RFC 9110 §14.2). Returns how many
 * body bytes come and how many of them to skip before the wanted ones.
 */
export function rangeSlice(
  range: { readonly first: number; readonly last: number; readonly complete: number | undefined },
  size: number,
  off: number,
  n: number,
  what: string,
): { readonly length: number; readonly skip: number } {
  if (range.complete !== size) throw new CutoverError('ERR_BLOB_CHANGED', `${what}: size ${range.complete ?? '*'} is not ${size}`)
  if (range.first > off || range.last < off + n - 1) {
    throw new CutoverError('ERR_IO', `${what}: answered bytes ${range.first}-${range.last} for ${off}-${off + n - 1}`)
  }
  return { length: range.last - range.first + 1, skip: off - range.first }
}
