import type { Payload } from '../manifest/manifest.js'

/**
 * RevealState is where a payload stands at an instant:
 * - `live`: revealed (or never hidden) and not expired;
 * - `unrevealed`: before its reveal time it does not exist: the request gets the same 404 as a path
 *   no payload serves, byte for byte, for every method and header (saying "not yet" would reveal it);
 * - `expired`: from its expiry on, the payload's `expiredStatus` (404, or 410 Gone: RFC 9110 §15.5.11).
 */
export type RevealState =
  | { readonly state: 'live' }
  | { readonly state: 'unrevealed'; readonly reveal: number }
  | { readonly state: 'expired'; readonly expires: number; readonly status: 404 | 410 }

/**
 * revealState tells where `payload` stands at `at` (epoch milliseconds). The reveal instant itself
 * is live; the expiry instant itself is expired. Pure.
 */
export function revealState(payload: Payload, at: number): RevealState {
  if (payload.reveal !== undefined && at < payload.reveal) return { state: 'unrevealed', reveal: payload.reveal }
  if (payload.expires !== undefined && at >= payload.expires)
    return { state: 'expired', expires: payload.expires, status: payload.expiredStatus }
  return LIVE
}

/** LIVE is the one state of every live payload: shared, so the request path allocates nothing for it. */
const LIVE: RevealState = Object.freeze({ state: 'live' })
