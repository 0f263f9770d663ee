import { connect } from 'node:net'
import type { RawResponse } from './e2e.js'

/** Exchange is what came back on one connection for bytes sent as they are. */
export interface Exchange {
  /** The responses, in order, parsed from the bytes the server sent. */
  readonly responses: RawResponse[]
  /** Everything the server sent. */
  readonly raw: Buffer
  /** The connection ended with a reset (ECONNRESET/EPIPE) rather than a FIN. */
  readonly reset: boolean
}

/**
 * exchange opens a connection to `base` (http://127.0.0.1:port), writes `bytes` exactly as given
 * (a string goes out as latin1, one byte per char), never half-closes (Node's server drops a
 * response in flight when the client sends FIN first), and collects what the server sends until it
 * closes the connection. Bounded: rejects after `timeoutMs` without a close. Responses are parsed
 * with {@link parseResponses}; `headOnly` says that responses carry no body (HEAD requests).
 */
export function exchange(base: string, bytes: string | Buffer, timeoutMs = 10_000, headOnly = false): Promise<Exchange> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname)
    const chunks: Buffer[] = []
    let reset = false
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`no close within ${timeoutMs} ms after ${JSON.stringify(String(bytes).slice(0, 80))}`))
    }, timeoutMs)
    sock.on('data', (d: Buffer) => chunks.push(d))
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') reset = true
      else {
        clearTimeout(timer)
        reject(err)
      }
    })
    sock.on('close', () => {
      clearTimeout(timer)
      const raw = Buffer.concat(chunks)
      try {
        resolve({ responses: parseResponses(raw, headOnly), raw, reset })
      } catch (err) {
        reject(err)
      }
    })
    sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
  })
}

/**
 * parseResponses splits the bytes of a connection into HTTP/1.x responses: bodies by
 * Content-Length, chunked, or up to the close; 1xx, 204 and 304 (and every response when
 * `headOnly`) have none. Throws on bytes that are not a response.
 */
export function parseResponses(raw: Buffer, headOnly = false): RawResponse[] {
  const out: RawResponse[] = []
  let pos = 0
  for (let guard = 0; pos < raw.length && guard < 10_000; guard++) {
    const end = raw.indexOf('\r\n\r\n', pos)
    if (end < 0) throw new Error(`no header block at ${pos}: ${JSON.stringify(raw.subarray(pos, pos + 200).toString('latin1'))}`)
    const lines = raw.subarray(pos, end).toString('latin1').split('\r\n')
    const statusLine = lines.shift() ?? ''
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
    if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`)
    const status = Number(m[1])
    const headers: [string, string][] = lines.map(l => {
      const i = l.indexOf(':')
      return [l.slice(0, i), l.slice(i + 1).trim()]
    })
    const get = (n: string): string | undefined => headers.find(([k]) => k.toLowerCase() === n)?.[1]
    let body: Buffer
    pos = end + 4
    if (headOnly || status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0)
    } else if (get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = []
      for (let g = 0; g < 1_000_000; g++) {
        const eol = raw.indexOf('\r\n', pos)
        if (eol < 0) throw new Error('truncated chunk size')
        const size = parseInt(raw.subarray(pos, eol).toString('latin1'), 16)
        if (!Number.isFinite(size)) throw new Error('bad chunk size')
        pos = eol + 2
        if (size === 0) {
          // The trailer section: fields up to an empty line (RFC 9112 §7.1.2).
          for (let f = 0; f < 1000; f++) {
            const lineEnd = raw.indexOf('\r\n', pos)
            if (lineEnd < 0) {
              pos = raw.length
              break
            }
            const empty = lineEnd === pos
            pos = lineEnd + 2
            if (empty) break
          }
          break
        }
        parts.push(raw.subarray(pos, pos + size))
        pos += size + 2
      }
      body = Buffer.concat(parts)
    } else if (get('content-length') !== undefined) {
      const n = Number(get('content-length'))
      body = raw.subarray(pos, pos + n)
      pos += n
    } else {
      body = raw.subarray(pos)
      pos = raw.length
    }
    out.push({ status, statusLine, headers, body })
  }
  return out
}

/** request builds the bytes of one GET/HEAD request with `Connection: close` and `Host: x`. */
export function requestBytes(method: string, target: string, headers: [string, string][] = [], version = 'HTTP/1.1'): string {
  let s = `${method} ${target} ${version}\r\nHost: x\r\n`
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`
  return `${s}Connection: close\r\n\r\n`
}
