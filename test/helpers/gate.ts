import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { T } from './serve.js'

/** Gate is a deferred promise: tests await `promise` and release it with `open()`. */
export interface Gate<V = void> {
  readonly promise: Promise<V>
  open(v: V): void
  readonly opened: boolean
}

/** gate returns a closed {@link Gate}; concurrency tests wait on gates, never on sleeps. */
export function gate<V = void>(): Gate<V> {
  let resolve!: (v: V) => void
  const promise = new Promise<V>(r => (resolve = r))
  const g = {
    promise,
    opened: false,
    open(v: V) {
      g.opened = true
      resolve(v)
    },
  }
  return g
}

/** listen runs `handler` on 127.0.0.1:0 and closes the server (and every connection) at teardown. */
export async function listen(t: T, handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(handler)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>(resolve => server.close(() => resolve()))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

/**
 * heldListen is {@link listen} with `handler` held back: `arrived` opens when a request comes in,
 * and the handler runs only once the test opens `release` (a slow or stuck server, without sleeps).
 */
export async function heldListen(
  t: T,
  handler: RequestListener,
): Promise<{ url: string; server: Server; arrived: Gate; release: Gate }> {
  const arrived = gate()
  const release = gate()
  const s = await listen(t, (req, res) => {
    arrived.open()
    void release.promise.then(() => handler(req, res))
  })
  return { ...s, arrived, release }
}
