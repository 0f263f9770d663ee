import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { listenOn } from '../core/listen.js'

/** HealthOptions tell a {@link MetricsServer} what its health endpoints answer. */
export interface HealthOptions {
  /**
   * Whether the process wants new traffic: false from the moment a drain starts (and before it
   * listens), so that a load balancer polling `/readyz` stops sending before the grace period ends.
   * If unset, always true.
   */
  readonly ready?: () => boolean
}

/** text answers a short plain-text body. */
function text(res: ServerResponse, status: number, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(head ? undefined : body)
}

/**
 * MetricsServer serves, on a listener of its own (apart from the public traffic, so that scraping
 * and probing never compete with clients and none of it is exposed on the public port):
 * - `GET /metrics`: one prom-client Registry in the Prometheus text format;
 * - `GET /healthz`: 200 `ok` while the process answers at all (liveness);
 * - `GET /readyz`: 200 `ready`, or 503 `draining` once {@link HealthOptions.ready} says false
 *   (readiness: a drain has started).
 * HEAD works on each. Anything else is 404.
 */
export class MetricsServer {
  readonly server: Server
  readonly #registry: Registry

  constructor(registry: Registry, health: HealthOptions = {}) {
    this.#registry = registry
    const ready = health.ready ?? (() => true)
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]
      const head = req.method === 'HEAD'
      if (req.method !== 'GET' && !head) {
        text(res, 404, '404 page not found\n', head)
        return
      }
      if (path === '/healthz') {
        text(res, 200, 'ok\n', head)
        return
      }
      if (path === '/readyz') {
        if (ready()) text(res, 200, 'ready\n', head)
        else text(res, 503, 'draining\n', head)
        return
      }
      if (path !== '/metrics') {
        text(res, 404, '404 page not found\n', head)
        return
      }
      this.#registry.metrics().then(
        text => {
          res.writeHead(200, {
            'content-type': this.#registry.contentType,
            'content-length': Buffer.byteLength(text),
          })
          res.end(req.method === 'HEAD' ? undefined : text)
        },
        () =>
          res
            .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
            .end('500 Internal Server Error\n'),
      )
    })
  }

  /** listen starts accepting on host:port (port 0 picks a free one) and resolves with the address. */
  listen(port: number, host: string): Promise<AddressInfo> {
    return listenOn(this.server, port, host)
  }

  /** close stops the listener and closes its connections. */
  close(): Promise<void> {
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    return closed
  }
}
