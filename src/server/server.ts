import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { codeOf } from '../core/errors.js'
import { httpErrorOf, type HttpError, parseErrorResponse, parseErrorToHttp, sendError, toHttpError } from '../http/http-error.js'
import { checkRequestHead, parseRequestTarget, type RequestTarget } from '../http/request-target.js'
import { SHADOW_MARKER } from '../http/header-facts.js'
import { DEFAULT_PIECE_SIZE, serveContent, type ServeResult } from '../http/serve-content.js'
import { BufferBudget, DEFAULT_MAX_BUFFER_MEMORY } from '../http/buffer-budget.js'
import { accessRecordHeaders, type AccessLog } from '../telemetry/access-log.js'
import type { RequestFacts, Resolution, ResolutionLog, Resolver } from '../payload/resolver.js'
import { systemClock, type Clock } from '../core/clock.js'
import { listenOn } from '../core/listen.js'
import { within } from '../core/within.js'
import { redactSignature } from '../http/redact-signature.js'

/**
 * DEFAULT_MAX_HEADER_BYTES is the largest request head (request line and header fields) accepted:
 * 1 MiB, Go's http.DefaultMaxHeaderBytes, instead of Node's 16 KiB, so that what Go's server
 * accepts (a Range header with 10 000 ranges, a large cookie) is served here too. Each connection
 * may hold up to this much while its head arrives.
 */
export const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024

/** DEFAULT_HEADERS_TIMEOUT_MS is how long a request head may take to arrive: Node's 60 s. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 60_000

/**
 * PARSE_ERROR_LINGER_MS is how long a connection whose request could not be parsed stays half-open
 * after its error response, so the client can read that response before the close.
 */
const PARSE_ERROR_LINGER_MS = 5_000

/**
 * CLOSE_RECORDED_MS bounds the wait, after the grace period has cut the connections left, for their
 * responses' 'close' events (each writes its access-log record and its counts).
 */
const CLOSE_RECORDED_MS = 5_000

/** GONE is the answer to a {@link Resolution} of kind `gone`: 410, the same minimal body as a 404. */
const GONE: HttpError = Object.freeze({ status: 410, message: '410 Gone' })

/** DownloadServerOptions configures {@link DownloadServer}. */
export interface DownloadServerOptions {
  /** What each request is answered with: the only thing the server asks about payloads. */
  readonly resolver: Resolver
  /**
   * Where the access log's request times and durations and the shutdown's grace period come from.
   * If unset, defaults to systemClock (core/clock.ts).
   */
  readonly clock?: Clock
  /** Operational log (errors, lifecycle). */
  readonly logger: Logger
  /** JSONL access log; if unset, none is written. */
  readonly accessLog?: AccessLog | undefined
  /**
   * Read and write unit of streamed bodies; with a `budget`, it must be the budget's piece size
   * (TypeError otherwise). If unset, the budget's, or DEFAULT_PIECE_SIZE (512 KiB) without one.
   */
  readonly pieceSize?: number
  /**
   * The read buffers of all downloads in flight (see BufferBudget): a download waits for one when
   * it is spent. If unset, one of DEFAULT_MAX_BUFFER_MEMORY (64 MiB, or one piece if that is more) of
   * `pieceSize` pieces.
   */
  readonly budget?: BufferBudget | undefined
  /**
   * A connection that accepts no bytes for this long is closed (a stalled client must not pin a
   * descriptor forever). If unset, defaults to 120 000 ms. 0 disables it.
   */
  readonly idleTimeoutMs?: number
  /**
   * Largest request head (request line and header fields) in bytes; a larger one gets 431. If unset,
   * defaults to {@link DEFAULT_MAX_HEADER_BYTES} (1 MiB, as Go).
   */
  readonly maxHeaderBytes?: number
  /**
   * A request head that has not fully arrived after this long gets 408 and the connection is closed
   * (a client sending its headers a byte at a time must not pin a connection: slowloris). If unset,
   * defaults to {@link DEFAULT_HEADERS_TIMEOUT_MS}. 0 disables it.
   */
  readonly headersTimeoutMs?: number
}

/** DownloadServerStats are cumulative counters of the server. */
export interface DownloadServerStats {
  /** Requests received. */
  requests: number
  /** Requests whose response has not closed yet (a gauge). */
  active: number
  /** Responses cut before their end (the client went away, or a read failed mid-body). */
  aborted: number
  /** Body bytes handed to sockets. */
  bytes: number
  /** Failures of ours (5xx answers, reads that failed while serving), each also logged. */
  errors: number
  /** Closed responses per status code, as the access log records them (0: no answer was chosen before the connection closed). */
  statuses: Record<number, number>
  /**
   * Per payload (manifest mode: the payload that answered, as the access log names it), closed
   * responses per status code and body bytes handed to sockets. Payloads only ever come from the
   * manifest, so the names are bounded by it.
   */
  readonly payloads: Map<string, { readonly statuses: Record<number, number>; bytes: number }>
}

/**
 * DownloadServer is `cutover serve`: an HTTP/1.1 server that answers GET and HEAD with what a
 * {@link Resolver} gives, with Go ServeContent semantics, logs each request, and shuts down
 * gracefully. How each {@link Resolution} is answered is documented there.
 */
export class DownloadServer {
  readonly server: Server
  readonly stats: DownloadServerStats = { requests: 0, active: 0, aborted: 0, bytes: 0, errors: 0, statuses: {}, payloads: new Map() }
  readonly #o: DownloadServerOptions
  readonly #clock: Clock
  /** The read buffers of every download of this server. */
  readonly budget: BufferBudget
  #idle: (() => void) | undefined
  /** Responses in progress per connection: a parse error is answered only on a connection without. */
  readonly #inFlight = new WeakMap<Duplex, number>()

  constructor(o: DownloadServerOptions) {
    this.#o = o
    this.#clock = o.clock ?? systemClock
    if (o.budget && o.pieceSize !== undefined && o.pieceSize !== o.budget.pieceSize) {
      throw new TypeError(`pieceSize ${o.pieceSize} differs from the budget's ${o.budget.pieceSize}`)
    }
    this.budget =
      o.budget ??
      new BufferBudget({
        bytes: Math.max(DEFAULT_MAX_BUFFER_MEMORY, o.pieceSize ?? DEFAULT_PIECE_SIZE),
        pieceSize: o.pieceSize ?? DEFAULT_PIECE_SIZE,
      })
    const maxHeaderSize = o.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES
    if (!Number.isSafeInteger(maxHeaderSize) || maxHeaderSize <= 0) throw new TypeError('maxHeaderBytes must be a positive integer')
    const headersTimeout = o.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS
    if (!Number.isSafeInteger(headersTimeout) || headersTimeout < 0) throw new TypeError('headersTimeoutMs must be a non-negative integer')
    this.server = createServer(
      {
        keepAliveTimeout: 5000,
        maxHeaderSize,
        headersTimeout,
        // Node checks the headers timeout only this often (30 s by default): a short timeout needs
        // a finer check, or it would fire up to 30 s late.
        connectionsCheckingInterval: headersTimeout > 0 ? Math.min(30_000, Math.max(10, Math.floor(headersTimeout / 4))) : 30_000,
        // Node refuses a headers timeout longer than the request timeout (300 s by default).
        requestTimeout: Math.max(300_000, headersTimeout),
        // RFC 9112 §3.2: an HTTP/1.1 request without Host gets 400 (Node's default, stated here).
        requireHostHeader: true,
      },
      (req, res) => this.#handle(req, res),
    )
    this.server.timeout = o.idleTimeoutMs ?? 120_000
    this.server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) =>
      this.#onParseError(err, socket),
    )
  }

  /** listen starts accepting on host:port (port 0 picks a free one) and resolves with the address. */
  listen(port: number, host: string): Promise<AddressInfo> {
    return listenOn(this.server, port, host)
  }

  /**
   * #onParseError answers a request Node's parser refused, with Go's status for the same bytes (see
   * parseErrorToHttp), unless a response is already going out on that connection (an error response
   * in its middle would corrupt it): then the connection is cut, as Node does by default.
   */
  #onParseError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex): void {
    if (!socket.writable || (this.#inFlight.get(socket) ?? 0) > 0) {
      socket.destroy()
      return
    }
    socket.end(parseErrorResponse(parseErrorToHttp(err)))
    // Half-open until the client closes, bounded: a client that never does must not pin the socket.
    // (An HTTP server's connections are net.Sockets; Node types the argument as a Duplex.)
    ;(socket as Socket).setTimeout(PARSE_ERROR_LINGER_MS, () => socket.destroy())
  }

  /**
   * #fail answers a failure that no path expected (a throw while answering): a clean 500 if nothing
   * was sent yet, a cut connection otherwise. It never throws, so a request can never crash the
   * process.
   */
  #fail(res: ServerResponse, method: string, result: ServeResult, url: string, err: unknown): void {
    this.stats.errors++
    this.#o.logger.error({ err, path: url }, 'unexpected failure')
    try {
      if (res.headersSent || res.destroyed) res.destroy()
      else {
        result.status = 500
        result.bytes = sendError(res, method, toHttpError(undefined))
      }
    } catch {
      res.destroy()
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const log = this.#o.accessLog
    // Read now: once the socket is destroyed (a client that aborted) its address is gone.
    const remote = log ? (req.socket.remoteAddress ?? '') : ''
    const start = log ? this.#clock.monotonic() : 0
    const startMs = log ? this.#clock.now() : 0
    this.stats.requests++
    this.stats.active++
    const socket = req.socket
    this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 0) + 1)
    // Filled by whichever path answers; read when the response closes, which may come before the
    // serving promise settles.
    const result: ServeResult = { status: 0, bytes: 0, aborted: false }
    // What the resolver says about its answer, for the access log (set when the answer is chosen).
    const tag: { log?: ResolutionLog | undefined } = {}
    res.once('close', () => {
      this.stats.active--
      this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 1) - 1)
      const aborted = result.aborted || !res.writableFinished
      if (aborted) this.stats.aborted++
      this.stats.bytes += result.bytes
      const status = res.headersSent ? res.statusCode : result.status
      this.stats.statuses[status] = (this.stats.statuses[status] ?? 0) + 1
      const payload = tag.log?.payload
      if (payload !== undefined) {
        let p = this.stats.payloads.get(payload)
        if (p === undefined) this.stats.payloads.set(payload, (p = { statuses: {}, bytes: 0 }))
        p.statuses[status] = (p.statuses[status] ?? 0) + 1
        p.bytes += result.bytes
      }
      log?.write({
        time: new Date(startMs).toISOString(),
        remote,
        method: req.method ?? '',
        // A signed link is a credential until it expires: the log keeps the link, not the key to it.
        path: redactSignature(req.url ?? ''),
        headers: accessRecordHeaders(req),
        status,
        bytes: result.bytes,
        durationMs: this.#clock.monotonic() - start,
        aborted,
        ...(req.headers[SHADOW_MARKER] !== undefined ? { shadow: true as const } : {}),
        ...(tag.log?.payload !== undefined ? { payload: tag.log.payload } : {}),
        ...(tag.log !== undefined ? { decision: tag.log.decision } : {}),
        ...(tag.log?.client !== undefined ? { client: tag.log.client } : {}),
        ...(tag.log?.manifest !== undefined ? { manifest: tag.log.manifest } : {}),
      })
      if (this.stats.active === 0) this.#idle?.()
    })
    const method = req.method ?? 'GET'
    const url = req.url ?? '/'
    // What Go's server refuses before any handler runs (bad target, version, Host) is refused here
    // first, and the connection closed after the answer, as Go does.
    let target: RequestTarget
    try {
      target = parseRequestTarget(url)
      checkRequestHead(req.httpVersionMajor, req.httpVersionMinor, req.rawHeaders)
    } catch (err) {
      const e = toHttpError(err)
      result.status = e.status
      result.bytes = sendError(res, method, e, ['Connection', 'close'])
      return
    }
    if (target.kind === 'asterisk' && method === 'OPTIONS') {
      // `OPTIONS *` asks about the server itself (RFC 9110 §9.3.7); Go answers 200 with no body.
      result.status = 200
      res.writeHead(200, ['Content-Length', '0'])
      res.end()
      return
    }
    if (method !== 'GET' && method !== 'HEAD') {
      result.status = 405
      result.bytes = sendError(res, method, { status: 405, message: '405 Method Not Allowed' }, ['Allow', 'GET, HEAD'])
      return
    }
    if (target.kind === 'asterisk') {
      // Go takes `GET *` as the path "*": no such file.
      result.status = 404
      result.bytes = sendError(res, method, httpErrorOf('ERR_NOT_FOUND'))
      return
    }
    const facts: RequestFacts = {
      method,
      path: target.path,
      query: target.query,
      headers: req.headers,
      remote: req.socket.remoteAddress ?? '',
    }
    let r: ReturnType<Resolver['resolve']>
    try {
      r = this.#o.resolver.resolve(facts)
    } catch (err) {
      this.#refuse(res, method, result, url, err)
      return
    }
    if (r.kind !== 'pending') {
      tag.log = r.log
      this.#respond(req, res, r, result, url)
      return
    }
    r.pending.then(
      resolved => {
        tag.log = resolved.log
        this.#respond(req, res, resolved, result, url)
      },
      (err: unknown) => this.#refuse(res, method, result, url, err),
    )
  }

  /**
   * #refuse answers a resolver's failure through the error mapping (http/http-error.ts): a
   * CutoverError's code picks the status, anything else is a 500; 5xx are logged and counted.
   */
  #refuse(res: ServerResponse, method: string, result: ServeResult, url: string, err: unknown): void {
    const e = toHttpError(err)
    if (e.status >= 500) {
      this.stats.errors++
      this.#o.logger.error({ err, path: url }, 'request failed')
    }
    result.status = e.status
    if (res.headersSent || res.destroyed) return
    try {
      result.bytes = sendError(res, method, e)
    } catch (e2) {
      this.#fail(res, method, result, url, e2)
    }
  }

  /** #respond answers a resolution; it never throws, and releases an entity when its response is done. */
  #respond(req: IncomingMessage, res: ServerResponse, r: Resolution, result: ServeResult, url: string): void {
    const method = req.method ?? 'GET'
    if (r.kind !== 'entity') {
      try {
        if (r.kind === 'redirect') {
          result.status = 301
          result.bytes = sendError(res, method, { status: 301, message: '301 Moved Permanently' }, ['Location', r.location])
          return
        }
        if (r.kind === 'gone') {
          // RFC 9110 §15.5.11, in the plain-text form of every other error answer.
          result.status = 410
          result.bytes = sendError(res, method, GONE)
          return
        }
        // A deny is answered as a miss unless the resolver makes it visible; its reason is for the log.
        if (r.kind === 'deny') this.#o.logger.debug({ path: url, reason: r.reason }, 'denied')
        const e = httpErrorOf(r.kind === 'deny' && r.visible === true ? 'ERR_FORBIDDEN' : 'ERR_NOT_FOUND')
        result.status = e.status
        result.bytes = sendError(res, method, e)
      } catch (err) {
        // A Location Node refuses (ERR_INVALID_CHAR) must cost a 500, never the process.
        this.#fail(res, method, result, url, err)
      }
      return
    }
    let done: Promise<ServeResult> | undefined
    try {
      done = serveContent(req, res, r.entity, { budget: this.budget, result }).done
    } catch (err) {
      r.release()
      this.#fail(res, method, result, url, err)
      return
    }
    if (done === undefined) {
      r.release()
      return
    }
    done.then(
      done => {
        r.release()
        if (done.error !== undefined && codeOf(done.error) !== 'ERR_ABORTED') {
          this.stats.errors++
          this.#o.logger.error({ err: done.error, path: url }, 'read failed while serving')
        }
      },
      (err: unknown) => {
        // serveContent does not reject; this is a bug, answered like any unexpected failure.
        r.release()
        this.#fail(res, method, result, url, err)
      },
    )
  }

  /**
   * close stops accepting connections, closes idle keep-alive connections, lets responses in flight
   * finish for up to `graceMs`, then closes every connection that is left. Resolves when the server
   * is closed and every response's close has been counted and written to the access log (so the
   * log may be closed then); reports whether the grace period ran out.
   */
  async close(graceMs: number): Promise<{ forced: boolean }> {
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    this.server.closeIdleConnections()
    let forced = false
    if (this.stats.active > 0) forced = !(await within(new Promise<void>(resolve => (this.#idle = resolve)), graceMs, this.#clock))
    this.server.closeAllConnections()
    // A cut response emits 'close' on a later tick than the listener's close callback may run: the
    // caller closes the access log once this resolves, so wait until every response's 'close' has
    // been recorded (bounded: a destroyed socket closes within ticks).
    if (this.stats.active > 0) await within(new Promise<void>(resolve => (this.#idle = resolve)), CLOSE_RECORDED_MS, this.#clock)
    await closed
    return { forced }
  }
}
