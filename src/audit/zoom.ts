import { systemClock, type Clock } from '../core/clock.js'
import { cancelBody, cancelStream } from './cancel-body.js'
import type { ExchangeRequest, Observed } from './exchange.js'
import type { Backend, SendOptions } from './http-backend.js'

/** DEFAULT_ZOOMS_PER_MINUTE is the default bound of a {@link ZoomBudget}: 60 re-requests a minute. */
export const DEFAULT_ZOOMS_PER_MINUTE = 60

/**
 * ZoomBudget bounds the ranged re-requests that locate a difference exactly: each one is a request
 * to the production old server as well as to the new one. A token bucket: `perMinute` a minute,
 * in bursts of up to 10. It counts what it allowed and what it refused.
 */
export class ZoomBudget {
  /** Re-requests allowed (each one sent to both sides). */
  made = 0
  /** Re-requests refused because the budget was spent: those differences stay located to a block. */
  refused = 0
  /** Re-requests allowed a minute. */
  readonly perMinute: number
  readonly #perMs: number
  readonly #burst: number
  readonly #clock: Clock
  #tokens: number
  #at: number

  /**
   * @param perMinute re-requests allowed a minute (> 0).
   * @param clock where time comes from; if unset, the system clock.
   */
  constructor(perMinute: number = DEFAULT_ZOOMS_PER_MINUTE, clock: Clock = systemClock) {
    if (!(perMinute > 0) || !Number.isFinite(perMinute)) throw new TypeError('perMinute must be a positive number')
    this.perMinute = perMinute
    this.#perMs = perMinute / 60_000
    this.#burst = Math.max(1, Math.min(10, perMinute))
    this.#clock = clock
    this.#tokens = this.#burst
    this.#at = clock.monotonic()
  }

  /** take uses one re-request of the budget, if one is left, and counts the outcome. */
  take(): boolean {
    const now = this.#clock.monotonic()
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs)
    this.#at = now
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      this.made++
      return true
    }
    this.refused++
    return false
  }
}

/** isStrongEtag tells whether an ETag is a strong validator (RFC 9110 §8.8.3: no `W/` prefix). */
export const isStrongEtag = (etag: string | undefined): etag is string =>
  etag !== undefined && /^"[^"]*"$/.test(etag.trim())

/** ZoomSide is one side of a re-request: where to send it and the strong ETag it must still have. */
export interface ZoomSide {
  readonly backend: Backend
  readonly etag: string
}

/**
 * ZoomResult is what a re-request of one block from both sides found, in offsets relative to the
 * block's start: the first differing byte (and context), no difference in the bytes both returned
 * (`shorter` is how many that was), or why it could not tell.
 */
export type ZoomResult =
  | {
      readonly kind: 'differ'
      readonly offset: number
      readonly control: Buffer
      readonly candidate: Buffer
    }
  | { readonly kind: 'same'; readonly control: number; readonly candidate: number }
  | { readonly kind: 'unknown'; readonly why: string }

/** Validators and range fields of the original request that a re-request replaces. */
const REPLACED: ReadonlySet<string> = new Set(['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'])

/**
 * readUpTo reads at most `max` bytes of a 206's body, then cancels the rest: a server that sends
 * more than the range cannot make a re-request cost more than a block.
 */
async function readUpTo(body: AsyncIterable<Uint8Array>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  const it = body[Symbol.asyncIterator]()
  try {
    while (n < max) {
      const r = await it.next()
      if (r.done) break
      const c = Buffer.from(r.value.buffer, r.value.byteOffset, Math.min(r.value.length, max - n))
      chunks.push(c)
      n += c.length
    }
  } finally {
    if (n >= max) cancelStream(body, it)
  }
  return Buffer.concat(chunks, n)
}

/**
 * fetchBlock asks one side for bytes [from, to) of the representation, If-Range its ETag (RFC 9110
 * §13.1.5): a 206 for exactly that range gives the bytes; a 200 means the representation changed
 * since it was compared.
 */
async function fetchBlock(
  request: ExchangeRequest,
  side: ZoomSide,
  from: number,
  to: number,
  send: SendOptions | undefined,
): Promise<Buffer | string> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(request.headers)) if (!REPLACED.has(k)) headers[k] = v
  headers.range = `bytes=${from}-${to - 1}`
  headers['if-range'] = side.etag
  const o: Observed = await side.backend.send({ ...request, id: `${request.id}:zoom`, method: 'GET', headers }, send)
  if (o.kind === 'error') return `${side.backend.name}: ${o.message}`
  if (o.status === 200) {
    cancelBody(o)
    return `${side.backend.name} changed since (If-Range answered 200)`
  }
  const range = o.headers.find(([k]) => k === 'content-range')?.[1]
  const m = range ? /^bytes (\d+)-(\d+)\//.exec(range) : null
  if (o.status !== 206 || !m || Number(m[1]) !== from) {
    cancelBody(o)
    return `${side.backend.name} answered ${o.status}${range ? ` ${range}` : ''} to bytes=${from}-${to - 1}`
  }
  try {
    return await readUpTo(o.body, to - from)
  } catch (err) {
    return `${side.backend.name}: body broke (${err instanceof Error ? err.message : String(err)})`
  }
}

/**
 * zoomBlock re-requests bytes [from, to) of the representation (absolute offsets) from both sides
 * at once, each If-Range its own strong ETag, and compares what they return byte for byte. The
 * request's other fields go out as they were (Accept-Encoding included), so the same
 * representation is asked for. Never rejects.
 */
export async function zoomBlock(
  request: ExchangeRequest,
  control: ZoomSide,
  candidate: ZoomSide,
  from: number,
  to: number,
  send?: SendOptions,
): Promise<ZoomResult> {
  const [a, b] = await Promise.all([
    fetchBlock(request, control, from, to, send),
    fetchBlock(request, candidate, from, to, send),
  ])
  if (typeof a === 'string') return { kind: 'unknown', why: a }
  if (typeof b === 'string') return { kind: 'unknown', why: b }
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return { kind: 'differ', offset: i, control: a, candidate: b }
  return { kind: 'same', control: a.length, candidate: b.length }
}
