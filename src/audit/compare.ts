import type { Comparison } from './divergence.js'
import type { ExchangeRequest, Observed } from './exchange.js'
import type { EtagPairs, Rules } from './rules.js'

/** CompareOptions tunes one comparison. */
export interface CompareOptions {
  /** Header and body rules; see rules.ts. */
  readonly rules: Rules
  /** ETag pairs learnt so far, for `etag: consistent`; if unset, consistency is judged per exchange. */
  readonly etags?: EtagPairs
  /** Abandon the body comparison after this long (a `timeout` divergence). If unset, 60 000 ms. */
  readonly bodyTimeoutMs?: number
}

/**
 * compareExchange compares the control's and the candidate's answers to one request and resolves
 * with the {@link Comparison}: status, normalised headers, and bodies read as two streams in
 * lockstep, chunk by chunk, in O(chunk) memory (206: Content-Range and the slice; multipart: part
 * by part, boundary ignored). It consumes (or cancels) both bodies. It never rejects: failures of
 * either side are divergences of kind `error` or `timeout`.
 */
export declare function compareExchange(
  request: ExchangeRequest,
  control: Observed,
  candidate: Observed,
  options: CompareOptions,
): Promise<Comparison>
