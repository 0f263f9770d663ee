/**
 * ErrorCode is the closed set of stable codes a {@link CutoverError} carries. Callers branch on the
 * code, never on the message: messages are for operators and may change.
 */
export type ErrorCode =
  | 'ERR_NOT_FOUND'
  | 'ERR_FORBIDDEN'
  | 'ERR_BAD_REQUEST'
  /** A request line with an HTTP major version other than 1 (505). */
  | 'ERR_HTTP_VERSION'
  /**
   * A blob is no longer the version that was looked at (rewritten, replaced or gone), before or
   * during a read: the read fails rather than return bytes of another version or of two mixed.
   */
  | 'ERR_BLOB_CHANGED'
  | 'ERR_SHORT_READ'
  | 'ERR_ABORTED'
  | 'ERR_IO'
  | 'ERR_INVALID_ARGUMENT'
  /** A backend gave no status in time (audit: shadow requests), or a remote blob store did not answer in time (serve: 504). */
  | 'ERR_TIMEOUT'
  /** A backend could not be reached: connection refused, unknown host, connect timeout. */
  | 'ERR_CONNECT'
  /**
   * A backend failed after the connection was made: reset, closed, malformed response; or a remote
   * blob store failed, retries and fallbacks spent (serve: 502).
   */
  | 'ERR_UPSTREAM'
  /**
   * A comparison was given up because its reader fell too far behind the client, or the bytes held
   * for comparers reached their budget (audit tee).
   */
  | 'ERR_ABANDONED'
  /** A comparison was cut because the audit was stopping (grace period over). */
  | 'ERR_SHUTDOWN'
  /** A comparison in progress was given up because the mirror stayed saturated (load shedding). */
  | 'ERR_SHED'
  /** The client went away before the end of a body: what it received is all there is to compare. */
  | 'ERR_CLIENT_GONE'
  /** A multipart body that does not parse (audit comparison). */
  | 'ERR_MULTIPART'
  /** A body shorter than announced, or cut by an error after the status (audit comparison). */
  | 'ERR_TRUNCATED'

const BRAND = Symbol.for('cutover.error')

/**
 * CutoverError is the one error class of cutover. Operational failures reject with it; programmer
 * errors (bad options) throw TypeError synchronously instead. Wrap with `{ cause }` so the original
 * error reaches the log, never the HTTP response (see http/http-error.ts).
 */
export class CutoverError extends Error {
  readonly code: ErrorCode
  readonly [BRAND] = true
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CutoverError'
    this.code = code
  }
}

/** isCutoverError tells a CutoverError apart from any other value, across copies of this module. */
export function isCutoverError(err: unknown): err is CutoverError {
  return typeof err === 'object' && err !== null && (err as { [BRAND]?: boolean })[BRAND] === true
}

/** codeOf returns the ERR_* code of a CutoverError, or undefined for anything else. */
export function codeOf(err: unknown): ErrorCode | undefined {
  return isCutoverError(err) ? err.code : undefined
}

/** abortError is the error a read rejects with when its abort signal (an AbortSignal, a Halt) fires. */
export function abortError(signal?: { readonly reason: unknown }): CutoverError {
  return new CutoverError('ERR_ABORTED', 'operation aborted', { cause: signal?.reason })
}
