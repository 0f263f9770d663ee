import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { listenOn } from '../core/listen.js'

/**
 * MetricsServer serves one prom-client Registry in the Prometheus text format at `GET /metrics`
 * (HEAD too) on a listener of its own, apart from the traffic the mirror proxies, so that scraping
 * never competes with clients and the metrics are never exposed on the public port. Anything else
 * is 404.
 */
export class MetricsServer {
  readonly server: Server
  readonly #registry: Registry

  constructor(registry: Registry) {
    this.#registry = registry
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]
      if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n')
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
