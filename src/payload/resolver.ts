import type { IncomingHttpHeaders } from 'node:http'
import type { Entity } from '../content/entity.js'

/**
 * RequestFacts is what a {@link Resolver} may know of a request: enough to pick a payload and to
 * decide who may have it, nothing of the connection's state. Built once per request by the server.
 */
export interface RequestFacts {
  /** The request method: GET or HEAD (the server answers every other one itself). */
  readonly method: string
  /** The request target's path exactly as received (origin-form, before `?`, still percent-encoded). */
  readonly path: string
  /** The query with its leading `?`, or "" when there is none. */
  readonly query: string
  /** The request headers as Node parsed them (lower-case names). */
  readonly headers: IncomingHttpHeaders
  /** The client's address as the socket saw it ("" when it is already gone). */
  readonly remote: string
}

/**
 * ResolutionLog is what a resolver tells the access log about its answer (never sent to the
 * client): the payload it picked, if any, and its decision (`served`, `miss`, `deny:<rule>`,
 * `expired`, `missing-blob`). Directory mode gives none.
 */
export interface ResolutionLog {
  /** The name of the payload the request was routed to; undefined when none matched. */
  readonly payload?: string | undefined
  /** The decision, one short token: `served`, `miss`, `deny:<rule>`, `expired`, `missing-blob`. */
  readonly decision: string
  /** The first hex digits of the SHA-256 of the manifest that answered (manifest mode). */
  readonly manifest?: string | undefined
  /** The client's address as the access policy believed it (X-Forwarded-For through trusted proxies), when a policy decided. */
  readonly client?: string | undefined
}

/**
 * Resolution is what a request leads to:
 * - `entity`: a representation to serve (Go ServeContent semantics, see http/serve-content.ts);
 *   the caller calls `release()` exactly once, when the response is over, and not before;
 * - `miss`: nothing there: 404 `404 page not found`;
 * - `gone`: something was there and is gone for good: 410 `410 Gone` (RFC 9110 §15.5.11: the
 *   origin knows the resource is no longer available and expects that to be permanent, so caches
 *   and link checkers may drop it), in the same minimal plain-text form as the 404;
 * - `deny`: something there the client may not have. `reason` is for the log only, never sent.
 *   Unless `visible`, it is answered with exactly the bytes of a miss (404), so that a client cannot
 *   tell a hidden or unrevealed payload from a missing one; `visible: true` answers 403 `403
 *   Forbidden` (a refusal the client may know about, such as a directory without an index);
 * - `redirect`: 301 to `location`, which must be a valid header value (a path the resolver built
 *   itself, never a client's bytes): a value Node refuses costs the request a 500.
 *
 * Every kind may carry a `log` ({@link ResolutionLog}) for the access log; it changes nothing on the wire.
 */
export type Resolution =
  | { readonly kind: 'entity'; readonly entity: Entity; release(): void; readonly log?: ResolutionLog | undefined }
  | { readonly kind: 'miss'; readonly log?: ResolutionLog | undefined }
  | { readonly kind: 'gone'; readonly log?: ResolutionLog | undefined }
  | { readonly kind: 'deny'; readonly reason: string; readonly visible?: boolean | undefined; readonly log?: ResolutionLog | undefined }
  | { readonly kind: 'redirect'; readonly location: string; readonly log?: ResolutionLog | undefined }

/** Pending is a {@link Resolution} still being worked out (a file being opened, a store being asked). */
export interface Pending {
  readonly kind: 'pending'
  readonly pending: Promise<Resolution>
}

/**
 * Resolver maps a request to what it is answered with: the only thing the server asks. Directory
 * mode and manifest mode are two resolvers.
 *
 * `resolve` answers directly when it has nothing to wait for (a payload held in memory: the hot
 * path costs no promise and no extra tick) and with a {@link Pending} otherwise; the caller tells
 * the two apart by `kind`. A failure, thrown or as a rejection, is answered by the server through
 * http/http-error.ts: a CutoverError's code picks the status (ERR_BAD_REQUEST 400, ERR_FORBIDDEN
 * 403, ...), and anything else is a 500 whose details go to the log only.
 */
export interface Resolver {
  resolve(request: RequestFacts): Resolution | Pending
}

/** MISS is the {@link Resolution} of nothing there. */
export const MISS: Resolution = Object.freeze({ kind: 'miss' })

/** pending wraps a promise of a {@link Resolution} as the answer of a {@link Resolver} that must wait. */
export function pending(p: Promise<Resolution>): Pending {
  return { kind: 'pending', pending: p }
}
