/**
 * ExchangeRequest is one request as the audit sends it to every backend: what a client asked for,
 * independent of any connection. Header names are lower-case; values are as the client sent them.
 */
export interface ExchangeRequest {
  /** Unique per exchange (for the divergence record and logs). */
  readonly id: string
  readonly method: string
  /** The request target: path and query, exactly as received. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
}

/**
 * Observed is what one backend answered to an ExchangeRequest, as the comparer sees it (the
 * Scientist `Observation`): either a response (status, headers in wire order, and a body stream
 * that must be consumed or cancelled exactly once) or an error that stopped the exchange before a
 * status arrived. Errors after the status (a truncated or aborted body) surface as a rejection of
 * the body iterator.
 */
export type Observed =
  | {
      readonly kind: 'response'
      readonly status: number
      /** Response headers as [lower-case name, value] pairs, in the order received. */
      readonly headers: ReadonlyArray<readonly [string, string]>
      /** The body. Reading it to the end or calling `return()` releases the connection. */
      readonly body: AsyncIterable<Uint8Array>
      /** Milliseconds from sending the request to receiving the status line. */
      readonly durationMs: number
    }
  | {
      readonly kind: 'error'
      /** ERR_TIMEOUT, ERR_CONNECT, ERR_UPSTREAM ... */
      readonly code: string
      readonly message: string
      readonly durationMs: number
    }

/** Side names one of the servers of an exchange. */
export type Side = 'control' | 'candidate'

/** EMPTY_BODY is a body with no byte. */
export const EMPTY_BODY: Readonly<AsyncIterable<Uint8Array>> = { [Symbol.asyncIterator]: async function* () {} }

/** withBody gives a response observation another body reader (an empty one if unset); an error observation is returned as is. */
export function withBody(o: Observed, body: AsyncIterable<Uint8Array> | undefined): Observed {
  return o.kind === 'response' ? { ...o, body: body ?? EMPTY_BODY } : o
}
