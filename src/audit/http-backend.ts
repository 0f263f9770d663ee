import { Pool, type Dispatcher } from 'undici'
import { systemClock, type Clock } from '../core/clock.js'
import { CutoverError } from '../core/errors.js'
import type { ExchangeRequest, Observed } from './exchange.js'
import { ResponseBody } from './response-body.js'
import { connectionTokens, HOP_BY_HOP, rawHeaderPairs, SHADOW_MARKER } from '../http/header-facts.js'

/** SendOptions tune one {@link Backend.send}. */
export interface SendOptions {
  /**
   * Aborts the exchange: before the status it resolves as an ERR_ABORTED error, after it the body rejects.
   */
  readonly signal?: AbortSignal
  /** Adds `x-cutover-shadow: 1`, so that the backend (and its logs) can tell shadow traffic apart. */
  readonly marker?: boolean
  /** The client's address, appended to X-Forwarded-For (`existing, ip`). If unset, XFF is left as is. */
  readonly forwardedFor?: string
}

/**
 * Backend is one server of an audit (old, new, baseline): it sends an {@link ExchangeRequest} and
 * resolves with what it observed. `send` never rejects: failures before a status are
 * `{ kind: 'error' }` observations. The caller must consume or cancel the body of a response.
 */
export interface Backend {
  /** Short name for records and messages: `old`, `new`, `baseline`. */
  readonly name: string
  /** The URL the backend sends to (origin, optionally with a path prefix). */
  readonly base: string
  send(req: ExchangeRequest, o?: SendOptions): Promise<Observed>
  /** close releases connections; exchanges still running fail. */
  close(): Promise<void>
}

/** HttpBackendOptions configure an {@link HttpBackend}. */
export interface HttpBackendOptions {
  /** Name in records and messages (`old`, `new`, `baseline`). */
  readonly name: string
  /**
   * The backend's URL: an http(s) origin such as `http://127.0.0.1:8080`, optionally with a path
   * prefix that is put before every request target (`http://h/prefix` + `/a` → `/prefix/a`).
   */
  readonly base: string
  /** Time from sending to receiving the status, including waiting for a connection. If unset, 30 000 ms. */
  readonly timeoutMs?: number
  /**
   * `rewrite`: Host is the backend's host:port (what a server behind a proxy usually expects);
   * `keep`: the client's Host is sent (virtual hosts on the backend). If unset, `rewrite`.
   */
  readonly hostHeader?: 'keep' | 'rewrite'
  /** Connections kept to the backend when the backend makes its own pool. If unset, 64. */
  readonly connections?: number
  /** undici dispatcher to send through (tests, proxies). If unset, the backend owns a Pool to `base`. */
  readonly dispatcher?: Dispatcher
  /** Where the status timeout and the durations come from. If unset, the system clock. */
  readonly clock?: Clock
}

/**
 * PortableBackendOptions are the options of an {@link HttpBackend} that can be handed to another
 * thread (plain data: no dispatcher, no clock), from which it makes the same backend.
 */
export type PortableBackendOptions = Pick<HttpBackendOptions, 'name' | 'base' | 'timeoutMs' | 'hostHeader' | 'connections'>

/** MARKER_HEADER is the header that tells a backend a request is shadow traffic (SHADOW_MARKER). */
export const MARKER_HEADER = SHADOW_MARKER

/** NEVER_FORWARDED are the fields requestFields always leaves out: hop-by-hop ones, Host (set apart), the client's own marker. */
const NEVER_FORWARDED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'host', MARKER_HEADER])

/** RequestFieldOptions tune {@link requestFields}. */
export interface RequestFieldOptions {
  /** The Host value, sent first. If unset, no Host (the HTTP client adds its own). */
  readonly host?: string | undefined
  /** The client's address, appended to X-Forwarded-For (`existing, ip`). If unset, XFF is left as is. */
  readonly forwardedFor?: string | undefined
  /** Adds `x-cutover-shadow: 1` last. If unset, no marker. */
  readonly marker?: boolean | undefined
  /**
   * The request is sent with its body: Content-Length and Expect go out as received. If false, they
   * do not (a Content-Length of 0 excepted). If unset, false.
   */
  readonly body?: boolean | undefined
}

/**
 * requestFields is the one rule for the fields a request is forwarded with, on the mirror's client
 * path and on every shadow send alike, as a flat `[name, value, ...]` list in the client's order:
 * Host first when given (the client's one is never passed through otherwise); hop-by-hop fields
 * (RFC 9110 §7.6.1: HOP_BY_HOP and every field the Connection field names) left out, since each
 * hop's client writes its own Connection and framing; a client's own `x-cutover-shadow` left out
 * (only the mirror marks its shadows); X-Forwarded-For appended to in place (or added last);
 * everything else exactly as received. `headers` are Node's joined request fields, lower-case.
 */
export function requestFields(headers: Readonly<Record<string, string>>, o: RequestFieldOptions = {}): string[] {
  // The fixed part of the rule is one set built at load; per request only what Connection names
  // (usually nothing) and the body fields are decided.
  const named = headers.connection === undefined ? undefined : new Set(connectionTokens(headers.connection))
  // No body goes out: a Content-Length other than 0 would announce one, and nothing is to continue.
  const dropLength = !o.body && headers['content-length'] !== '0'
  const out: string[] = []
  if (o.host !== undefined) out.push('host', o.host)
  let hasXff = false
  for (const [name, value] of Object.entries(headers)) {
    if (NEVER_FORWARDED.has(name) || named?.has(name)) continue
    if (!o.body && (name === 'expect' || (name === 'content-length' && dropLength))) continue
    if (name === 'x-forwarded-for' && o.forwardedFor !== undefined) {
      out.push(name, `${value}, ${o.forwardedFor}`)
      hasXff = true
      continue
    }
    out.push(name, value)
  }
  if (o.forwardedFor !== undefined && !hasXff) out.push('x-forwarded-for', o.forwardedFor)
  if (o.marker) out.push(MARKER_HEADER, '1')
  return out
}

/** Codes of errors that mean the connection was never made. */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
])

/**
 * HttpBackend sends exchanges to one HTTP server with undici, as a proxy would: hop-by-hop request
 * headers (RFC 9110 §7.6.1, and any field named in Connection) are removed; everything else (Range,
 * If-*, User-Agent, Accept-Encoding...) goes out exactly; X-Forwarded-For is appended and the shadow
 * marker set when asked. Bodies are never decompressed: the comparer sees the bytes on the wire.
 * An ExchangeRequest carries no request body, so Content-Length (other than 0) and Expect are not
 * sent either (the mirror shadows only requests without a body). The fields are {@link requestFields},
 * the rule the mirror's client path follows too.
 *
 * `send` never rejects. Before a status: a connection failure is `ERR_CONNECT`, a reset or protocol
 * error `ERR_UPSTREAM`, no status within `timeoutMs` `ERR_TIMEOUT`, the caller's abort `ERR_ABORTED`
 * (the last two at once, even while the request waits for a free connection). After the status, a
 * broken body rejects the body iterator, and the caller's abort rejects it with the signal's
 * reason. The answer is read with undici's dispatch API ({@link ResponseBody}). Safe for
 * concurrent use.
 */
export class HttpBackend implements Backend {
  readonly name: string
  readonly base: string
  readonly #origin: string
  readonly #prefix: string
  readonly #host: string
  readonly #timeoutMs: number
  readonly #clock: Clock
  readonly #keepHost: boolean
  readonly #dispatcher: Dispatcher
  readonly #owned: boolean
  /**
   * The options another thread makes the same backend from; undefined when it was given a
   * dispatcher or a clock other than the system's, which cannot go to another thread.
   */
  readonly portable: PortableBackendOptions | undefined

  constructor(o: HttpBackendOptions) {
    let url: URL
    try {
      url = new URL(o.base)
    } catch {
      throw new TypeError(`${o.name}: base must be a URL, got ${JSON.stringify(o.base)}`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`${o.name}: base must be http(s)`)
    if (url.search || url.hash || url.username)
      throw new TypeError(`${o.name}: base must be an origin with an optional path`)
    const timeoutMs = o.timeoutMs ?? 30_000
    if (!(timeoutMs > 0)) throw new TypeError('timeoutMs must be positive')
    const connections = o.connections ?? 64
    if (!Number.isSafeInteger(connections) || connections < 1)
      throw new TypeError('connections must be a positive integer')
    this.name = o.name
    this.base = o.base
    this.#origin = url.origin
    this.#prefix = url.pathname.replace(/\/+$/, '')
    this.#host = url.host
    this.#timeoutMs = timeoutMs
    this.#clock = o.clock ?? systemClock
    this.#keepHost = o.hostHeader === 'keep'
    this.#owned = o.dispatcher === undefined
    this.portable =
      this.#owned && (o.clock === undefined || o.clock === systemClock)
        ? { name: o.name, base: o.base, timeoutMs, hostHeader: o.hostHeader ?? 'rewrite', connections }
        : undefined
    // The status timeout is ours (it also covers waiting for a free connection); undici's own
    // headers timeout only backs it up. Its body timeout counts idle time while the body is
    // flowing and pauses with backpressure, so a slow comparer does not trip it.
    this.#dispatcher =
      o.dispatcher ?? new Pool(url.origin, { connections, headersTimeout: Math.max(timeoutMs, 300_000) })
  }

  /** send sends one exchange; see the class contract. */
  send(req: ExchangeRequest, o: SendOptions = {}): Promise<Observed> {
    const clock = this.#clock
    const start = clock.monotonic()
    const ms = (): number => clock.monotonic() - start
    const caller = o.signal
    return new Promise<Observed>(resolve => {
      let settled = false
      // The status timeout, and the caller's abort before the status, settle at once: the exchange
      // may still be waiting for a free connection, and is aborted as soon as it has one.
      const fail = (code: string, message: string): void => {
        if (settled) return
        settled = true
        timer.clear()
        unlink()
        resolve({ kind: 'error', code, message, durationMs: ms() })
      }
      const body = new ResponseBody(
        r => {
          if (settled) return
          settled = true
          timer.clear()
          // The caller's abort still cuts the body, until the body is done.
          body.onClose = unlink
          resolve({ kind: 'response', status: r.status, headers: rawHeaderPairs(r.rawHeaders), body, durationMs: ms() })
        },
        // The caller's abort settled the exchange already (onAbort): what follows it is no failure.
        err => fail(classify(err), `${this.name}: ${describe(err)}`),
      )
      const timer = clock.setTimeout(() => {
        const message = `${this.name}: no status in ${this.#timeoutMs} ms`
        fail('ERR_TIMEOUT', message)
        body.abort(new CutoverError('ERR_TIMEOUT', message))
      }, this.#timeoutMs)
      // Before the status an abort is an ERR_ABORTED observation; after it, the body rejects with
      // the caller's reason (a mirror that stops tells its comparisons why).
      const onAbort = (): void => {
        const reason = caller?.reason
        fail('ERR_ABORTED', `${this.name}: aborted`)
        body.abort(reason instanceof Error ? reason : new CutoverError('ERR_ABORTED', `${this.name}: aborted`))
      }
      const unlink = (): void => caller?.removeEventListener('abort', onAbort)
      if (caller?.aborted) {
        onAbort()
        return
      }
      caller?.addEventListener('abort', onAbort, { once: true })
      this.#dispatcher.dispatch(
        { origin: this.#origin, path: this.#prefix + req.path, method: req.method, headers: this.#headers(req, o) },
        body,
      )
    })
  }

  /** #headers builds the outgoing header list: {@link requestFields} of a bodiless request. */
  #headers(req: ExchangeRequest, o: SendOptions): string[] {
    return requestFields(req.headers, {
      // undici adds Host from the origin when none is given, which is the rewrite.
      ...(this.#keepHost ? { host: req.headers.host ?? this.#host } : {}),
      forwardedFor: o.forwardedFor,
      marker: o.marker,
      body: false,
    })
  }

  /**
   * close destroys the backend's own pool (exchanges still running fail); a given dispatcher is left alone.
   */
  async close(): Promise<void> {
    if (this.#owned) await this.#dispatcher.destroy()
  }
}

function codeOfError(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** classify maps a transport error (undici's or Node's) to the code of an error observation. */
export function classify(err: unknown): string {
  const code = codeOfError(err)
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'ERR_TIMEOUT'
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return 'ERR_BAD_REQUEST'
  if (code !== undefined && CONNECT_CODES.has(code)) return 'ERR_CONNECT'
  // Happy eyeballs (autoSelectFamily) reports a refused connection as an AggregateError of attempts.
  if (err instanceof AggregateError && err.errors.some(e => CONNECT_CODES.has(codeOfError(e) ?? '')))
    return 'ERR_CONNECT'
  return 'ERR_UPSTREAM'
}

/** describe is a transport error's one-line text: its code and message. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = codeOfError(err)
  const msg =
    err.message || (err instanceof AggregateError ? err.errors.map(e => describe(e)).join('; ') : '')
  return code && !msg.includes(code) ? `${code} ${msg}`.trim() : msg || err.name
}
