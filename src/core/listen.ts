import type { Server } from 'node:net'
import type { AddressInfo } from 'node:net'

/**
 * listenOn starts `server` accepting on host:port (port 0 picks a free one) and resolves with the
 * address it got, or rejects with the listen error (EADDRINUSE, EACCES...).
 */
export function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve(server.address() as AddressInfo)
    })
  })
}

/** hostPort formats a listening address for a URL: `127.0.0.1:8080`, `[::1]:8080`. */
export function hostPort(a: AddressInfo): string {
  return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
}
