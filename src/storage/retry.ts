import { abortError } from '../core/errors.js'
import type { Clock } from '../core/clock.js'

/** DEFAULT_RETRIES is how many times a remote store retries one operation after its first attempt. */
export const DEFAULT_RETRIES = 2
/** DEFAULT_RETRY_BASE_MS is the backoff before the first retry, at most (full jitter picks below it). */
export const DEFAULT_RETRY_BASE_MS = 100
/** DEFAULT_RETRY_CAP_MS caps the backoff of any retry, however many came before. */
export const DEFAULT_RETRY_CAP_MS = 2000

/** RetryOptions configure {@link withRetries}. */
export interface RetryOptions {
  /** Retries after the first attempt (so at most `retries + 1` attempts); a nonnegative integer. */
  readonly retries: number
  /** The backoff bound of the first retry, in milliseconds; it doubles per retry. */
  readonly baseMs: number
  /** The largest backoff bound, in milliseconds. */
  readonly capMs: number
  /** Where the backoff timers come from (tests pass a ManualClock, or a 0 ms base). */
  readonly clock: Clock
  /** A uniform random number in [0, 1), as Math.random gives: the jitter (injectable for tests). */
  readonly random: () => number
  /** Aborts the waiting between attempts (rejecting with ERR_ABORTED); `fn` must watch it itself. */
  readonly signal?: AbortSignal | undefined
  /** Tells whether a failure may be retried; anything else rejects at once. */
  readonly retryable: (err: unknown) => boolean
  /** Called before each retry with the failure that caused it and the backoff chosen (for counters and logs). */
  readonly onRetry?: ((err: unknown, attempt: number, delayMs: number) => void) | undefined
}

/**
 * backoffMs is the "full jitter" backoff of retry number `retry` (0 for the first retry):
 * `random() * min(capMs, baseMs * 2^retry)`. Full jitter spreads the retries of many clients that
 * failed together over the whole window instead of bunching them at its edge.
 */
export function backoffMs(retry: number, o: Pick<RetryOptions, 'baseMs' | 'capMs' | 'random'>): number {
  return o.random() * Math.min(o.capMs, o.baseMs * 2 ** retry)
}

/**
 * validateRetryOptions throws TypeError for retry settings a store must refuse at construction:
 * a retry count that is not a nonnegative integer (at most 10: the count is meant to be small) or
 * a negative or non-finite base or cap.
 */
export function validateRetryOptions(retries: number, baseMs: number, capMs: number): void {
  if (!Number.isSafeInteger(retries) || retries < 0 || retries > 10) throw new TypeError('retries must be an integer from 0 to 10')
  if (!Number.isFinite(baseMs) || baseMs < 0) throw new TypeError('retryBaseMs must be a nonnegative number')
  if (!Number.isFinite(capMs) || capMs < 0) throw new TypeError('retryCapMs must be a nonnegative number')
}

/**
 * withRetries runs `fn(attempt)` (attempt 0, 1, ...) until it resolves, it fails with an error
 * `retryable` refuses, or `retries` retries have failed; it then rejects with the last failure.
 * Between attempts it waits {@link backoffMs} on `clock`; an abort of `signal` during that wait
 * rejects with ERR_ABORTED at once, and an abort before an attempt starts prevents it.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (o.signal?.aborted) throw abortError(o.signal)
    try {
      return await fn(attempt)
    } catch (err) {
      if (attempt >= o.retries || !o.retryable(err) || o.signal?.aborted) throw err
      const delay = backoffMs(attempt, o)
      o.onRetry?.(err, attempt + 1, delay)
      await sleep(o.clock, delay, o.signal)
    }
  }
}

/** sleep waits `ms` on `clock`, rejecting with ERR_ABORTED when `signal` aborts first. */
function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timer.clear()
      reject(abortError(signal))
    }
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
