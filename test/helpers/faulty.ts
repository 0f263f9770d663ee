import type { IncomingHttpHeaders } from 'node:http'
import { request } from 'undici'
import { listen } from './gate.js'
import type { T } from './serve.js'

/** Fault is one way the "new" server can go wrong, injected in front of a real server. */
export interface Fault {
  /**
   * XOR this byte of the representation (0-based) with 0x01, as a corrupt file would serve it: in a
   * 206 the offset counts from the start of its Content-Range.
   */
  readonly flipByte?: number
  /** Remove this response header. */
  readonly dropHeader?: string
  /** Set (or replace) this response header. */
  readonly setHeader?: readonly [string, string]
  /** Send this many body bytes, then cut the connection. */
  readonly truncateAt?: number
  /** Answer this status with a short plain body instead of forwarding. */
  readonly status?: number
  /** Hold the answer until this promise settles (a slow server, released by the test). */
  readonly gate?: Promise<unknown>
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host'])

/**
 * startFaulty runs a proxy in front of `target` that injects `faults[path]` into the answers for
 * that path (the path without query) and forwards everything else untouched. Closed at teardown.
 */
export async function startFaulty(t: T, target: string, faults: Record<string, Fault>): Promise<{ url: string }> {
  return listen(t, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const f = faults[path] ?? {}
    const run = async (): Promise<void> => {
      if (f.gate) await f.gate
      if (f.status) {
        res.writeHead(f.status, { 'content-type': 'text/plain', 'content-length': '6' })
        res.end('fault\n')
        return
      }
      const headers: IncomingHttpHeaders = {}
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v
      const up = await request(`${target}${req.url}`, { method: req.method as 'GET', headers: headers as Record<string, string> })
      const out: Record<string, string | string[]> = {}
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v
      if (f.dropHeader) delete out[f.dropHeader]
      if (f.setHeader) out[f.setHeader[0]] = f.setHeader[1]
      res.writeHead(up.statusCode, out)
      const range = up.statusCode === 206 ? /^bytes (\d+)-/.exec(String(up.headers['content-range'] ?? '')) : null
      const flip = f.flipByte === undefined ? undefined : f.flipByte - (range ? Number(range[1]) : 0)
      let offset = 0
      for await (const chunk of up.body) {
        let c = Buffer.from(chunk as Uint8Array)
        if (flip !== undefined && flip >= offset && flip < offset + c.length) {
          c = Buffer.from(c)
          c[flip - offset] = c[flip - offset]! ^ 0x01
        }
        if (f.truncateAt !== undefined && offset + c.length >= f.truncateAt) {
          // Let the header and the partial body reach the client, then cut the connection.
          await new Promise<void>(resolve => res.write(c.subarray(0, f.truncateAt! - offset), () => resolve()))
          res.destroy()
          await up.body.dump().catch(() => undefined)
          return
        }
        offset += c.length
        if (!res.write(c)) await new Promise(resolve => res.once('drain', resolve))
      }
      res.end()
    }
    run().catch(() => res.destroy())
  })
}
