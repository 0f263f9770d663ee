import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import { listen } from './gate.js'
import type { T } from './serve.js'

/** ProxyFault is one way one answer goes wrong, injected by {@link startFaultProxy}. */
export interface ProxyFault {
  /** Answer this status with a short plain body instead of forwarding. */
  readonly status?: number
  /** Forward the header and this many body bytes, then cut the connection (a reset mid-body). */
  readonly resetAfter?: number
  /** Forward a body this many bytes shorter, its Content-Length lowered to match (clean framing, short body). */
  readonly shortBy?: number
  /** Never answer: the request hangs until the client gives up or the test ends. */
  readonly stall?: boolean
  /** Forward the header and this many body bytes, then send nothing more (a stall mid-body). */
  readonly stallAfter?: number
  /** Set (or replace) this response header. */
  readonly setHeader?: readonly [string, string]
  /** Set (or replace) these response headers. */
  readonly setHeaders?: Readonly<Record<string, string>>
  /** Hold the request until this settles, then forward it (a slow store the test releases, or a moment to change the store in). */
  readonly hold?: Promise<void>
}

/** ProxyRequest is one request a {@link FaultProxy} saw. */
export interface ProxyRequest {
  readonly method: string
  readonly url: string
  /** Its Range header, if it had one. */
  readonly range: string | undefined
}

/** FaultProxy is a running {@link startFaultProxy}. */
export interface FaultProxy {
  readonly url: string
  /** Requests seen, by method (HEAD, GET, ...). */
  readonly count: Record<string, number>
  /** Every request seen, in arrival order. */
  readonly log: readonly ProxyRequest[]
  /**
   * inject queues faults for the next requests of `method`, one each; requests past them are
   * forwarded untouched. `method` may name a Range too (`GET bytes=0-99`): those faults spoil only
   * requests with exactly that Range header, and go before the method's own queue.
   */
  inject(method: string, ...faults: ProxyFault[]): void
  /** arrived resolves once `n` requests of `method` in all have come in. */
  arrived(method: string, n: number): Promise<void>
}

const HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade'])

/**
 * startFaultProxy runs an HTTP proxy in front of `target` (`http://host:port`) that forwards every
 * request with its headers untouched (Host included, so signed S3 requests still verify), except
 * that queued {@link ProxyFault}s spoil the answers of the next requests of their method. Closed,
 * with every connection, at teardown.
 */
export async function startFaultProxy(t: T, target: string): Promise<FaultProxy> {
  const up = new URL(target)
  const queues: Record<string, ProxyFault[]> = {}
  const count: Record<string, number> = {}
  const waiters: Array<{ method: string; n: number; resolve: () => void }> = []
  const log: ProxyRequest[] = []
  const s = await listen(t, (req, res) => {
    const method = req.method ?? 'GET'
    count[method] = (count[method] ?? 0) + 1
    log.push({ method, url: req.url ?? '', range: req.headers.range })
    for (const w of waiters.filter(w => w.method === method && w.n <= count[method]!)) {
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
    const byRange = req.headers.range !== undefined ? queues[`${method} ${req.headers.range}`] : undefined
    const f: ProxyFault = (byRange !== undefined && byRange.length > 0 ? byRange.shift() : queues[method]?.shift()) ?? {}
    if (f.stall) return
    if (f.hold !== undefined) {
      const held = f.hold
      void held.then(() => answer(req, res, method, { ...f, hold: undefined }))
      return
    }
    answer(req, res, method, f)
  })

  function answer(req: IncomingMessage, res: ServerResponse, method: string, f: ProxyFault): void {
    if (req.destroyed) return
    if (f.status !== undefined) {
      req.resume()
      res.writeHead(f.status, { 'content-type': 'text/plain', 'content-length': '6' })
      res.end('fault\n')
      return
    }
    const out = httpRequest(
      { host: up.hostname, port: up.port, method, path: req.url, headers: req.headers, agent: false },
      (ures: IncomingMessage) => {
        const headers: OutgoingHttpHeaders = {}
        for (const [k, v] of Object.entries(ures.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v
        if (f.setHeader) headers[f.setHeader[0]] = f.setHeader[1]
        Object.assign(headers, f.setHeaders)
        const declared = Number(ures.headers['content-length'] ?? NaN)
        let limit = Infinity
        if (f.shortBy !== undefined && Number.isFinite(declared)) {
          limit = Math.max(0, declared - f.shortBy)
          headers['content-length'] = String(limit)
        }
        const cutAt = f.resetAfter
        if (f.stallAfter !== undefined) limit = f.stallAfter
        res.writeHead(ures.statusCode ?? 502, headers)
        let sent = 0
        ures.on('data', (chunk: Buffer) => {
          if (cutAt !== undefined && sent + chunk.length >= cutAt) {
            // Let the header and the first bytes reach the client, then cut the connection.
            res.write(chunk.subarray(0, cutAt - sent), () => res.destroy())
            sent = cutAt
            ures.destroy()
            return
          }
          const part = chunk.subarray(0, Math.max(0, Math.min(chunk.length, limit - sent)))
          sent += part.length
          if (part.length > 0) res.write(part)
        })
        ures.on('end', () => {
          if (f.stallAfter !== undefined) return
          if (cutAt === undefined) res.end()
          else res.destroy()
        })
        ures.on('error', () => res.destroy())
      },
    )
    out.on('error', () => res.destroy())
    req.pipe(out)
  }
  return {
    url: s.url,
    count,
    log,
    inject: (method, ...faults) => {
      ;(queues[method] ??= []).push(...faults)
    },
    arrived: (method, n) =>
      (count[method] ?? 0) >= n ? Promise.resolve() : new Promise<void>(resolve => waiters.push({ method, n, resolve })),
  }
}
