import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { codeOf } from '../core/errors.js'
import { sendError, toHttpError } from '../http/http-error.js'
import { DEFAULT_PIECE_SIZE, serveContent, type ServeResult } from '../http/serve-content.js'
import { BufferBudget, DEFAULT_MAX_BUFFER_MEMORY } from '../http/buffer-budget.js'
import { accessRecordHeaders, type AccessLog } from '../core/access-log.js'
import type { Resolution, StaticRoot } from './static-root.js'
import { listenOn } from '../core/listen.js'
import { within } from '../core/within.js'

/** DownloadServerOptions configures {@link DownloadServer}. */
export interface DownloadServerOptions {
  /** Where files come from. */
  readonly root: StaticRoot
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
}

/** DownloadServerStats are cumulative counters of the server. */
export interface DownloadServerStats {
  requests: number
  active: number
  aborted: number
  bytes: number
  errors: number
}

/**
 * DownloadServer is `cutover serve`: an HTTP/1.1 server that answers GET and HEAD from a
 * {@link StaticRoot} with Go ServeContent semantics, logs each request, and shuts down gracefully.
 */
export class DownloadServer {
  readonly server: Server
  readonly stats: DownloadServerStats = { requests: 0, active: 0, aborted: 0, bytes: 0, errors: 0 }
  readonly #o: DownloadServerOptions
  /** The read buffers of every download of this server. */
  readonly budget: BufferBudget
  #idle: (() => void) | undefined

  constructor(o: DownloadServerOptions) {
    this.#o = o
    if (o.budget && o.pieceSize !== undefined && o.pieceSize !== o.budget.pieceSize) {
      throw new TypeError(`pieceSize ${o.pieceSize} differs from the budget's ${o.budget.pieceSize}`)
    }
    this.budget =
      o.budget ??
      new BufferBudget({
        bytes: Math.max(DEFAULT_MAX_BUFFER_MEMORY, o.pieceSize ?? DEFAULT_PIECE_SIZE),
        pieceSize: o.pieceSize ?? DEFAULT_PIECE_SIZE,
      })
    this.server = createServer({ keepAliveTimeout: 5000 }, (req, res) => this.#handle(req, res))
    this.server.timeout = o.idleTimeoutMs ?? 120_000
  }

  /** listen starts accepting on host:port (port 0 picks a free one) and resolves with the address. */
  listen(port: number, host: string): Promise<AddressInfo> {
    return listenOn(this.server, port, host)
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const log = this.#o.accessLog
    // Read now: once the socket is destroyed (a client that aborted) its address is gone.
    const remote = log ? (req.socket.remoteAddress ?? '') : ''
    const start = log ? process.hrtime.bigint() : 0n
    const startMs = log ? Date.now() : 0
    this.stats.requests++
    this.stats.active++
    // Filled by whichever path answers; read when the response closes, which may come before the
    // serving promise settles.
    const result: ServeResult = { status: 0, bytes: 0, aborted: false }
    res.once('close', () => {
      this.stats.active--
      const aborted = result.aborted || !res.writableFinished
      if (aborted) this.stats.aborted++
      this.stats.bytes += result.bytes
      log?.write({
        time: new Date(startMs).toISOString(),
        remote,
        method: req.method ?? '',
        path: req.url ?? '',
        headers: accessRecordHeaders(req),
        status: res.headersSent ? res.statusCode : result.status,
        bytes: result.bytes,
        durationMs: Number(process.hrtime.bigint() - start) / 1e6,
        aborted,
      })
      if (this.stats.active === 0) this.#idle?.()
    })
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD') {
      result.status = 405
      result.bytes = sendError(res, method, { status: 405, message: '405 Method Not Allowed' }, ['Allow', 'GET, HEAD'])
      return
    }
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const rawPath = q < 0 ? url : url.slice(0, q)
    let hit: Resolution | undefined
    try {
      hit = this.#o.root.lookup(rawPath)
    } catch {
      hit = undefined // resolve() below meets the same error and answers it
    }
    if (hit) {
      this.#respond(req, res, hit, result, url)
      return
    }
    this.#o.root.resolve(rawPath, q < 0 ? '' : url.slice(q)).then(
      r => this.#respond(req, res, r, result, url),
      (err: unknown) => {
        const e = toHttpError(err)
        if (e.status >= 500) {
          this.stats.errors++
          this.#o.logger.error({ err, path: url }, 'request failed')
        }
        result.status = e.status
        if (res.headersSent || res.destroyed) return
        result.bytes = sendError(res, method, e)
      },
    )
  }

  /** #respond answers a resolved path; it never throws, and releases the resolution when done. */
  #respond(req: IncomingMessage, res: ServerResponse, r: Resolution, result: ServeResult, url: string): void {
    if (r.kind === 'redirect') {
      result.status = 301
      result.bytes = sendError(res, req.method ?? 'GET', { status: 301, message: '301 Moved Permanently' }, [
        'Location',
        r.location,
      ])
      return
    }
    const served = serveContent(req, res, r.entity, { budget: this.budget, result })
    if (!(served instanceof Promise)) {
      r.release()
      return
    }
    served.then(
      done => {
        r.release()
        if (done.error !== undefined && codeOf(done.error) !== 'ERR_ABORTED') {
          this.stats.errors++
          this.#o.logger.error({ err: done.error, path: url }, 'read failed while serving')
        }
      },
      (err: unknown) => {
        // serveContent does not reject; this is a bug, and the connection is cut rather than hung.
        r.release()
        this.stats.errors++
        this.#o.logger.error({ err, path: url }, 'unexpected failure')
        res.destroy()
      },
    )
  }

  /**
   * close stops accepting connections, closes idle keep-alive connections, lets responses in flight
   * finish for up to `graceMs`, then closes every connection that is left. Resolves when the server
   * is closed; reports whether the grace period ran out.
   */
  async close(graceMs: number): Promise<{ forced: boolean }> {
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    this.server.closeIdleConnections()
    let forced = false
    if (this.stats.active > 0) forced = !(await within(new Promise<void>(resolve => (this.#idle = resolve)), graceMs))
    this.server.closeAllConnections()
    await closed
    return { forced }
  }
}
