import { createServer, type AddressInfo } from 'node:net'
import { gate, type Gate } from './gate.js'
import type { T } from './serve.js'

/** A request head as a backend received it: the request line and the fields in wire order. */
export interface Head {
  line: string
  fields: Array<[string, string]>
}

/** A request as a backend received it: its head and its body, de-chunked. */
export interface Received extends Head {
  body: string
}

/**
 * bodyEnd finds where the body that starts `buf` ends, as its head frames it (Content-Length, or
 * chunked without trailers): [end, body], or undefined while it is incomplete.
 */
function bodyEnd(h: Head, buf: string): [number, string] | undefined {
  const te = h.fields.find(([k]) => k.toLowerCase() === 'transfer-encoding')
  if (te) {
    let body = ''
    let at = 0
    for (let chunks = 0; chunks < 1000; chunks++) {
      const eol = buf.indexOf('\r\n', at)
      if (eol < 0) return undefined
      const size = parseInt(buf.slice(at, eol), 16)
      if (size === 0) return buf.length >= eol + 4 ? [eol + 4, body] : undefined
      if (buf.length < eol + 2 + size + 2) return undefined
      body += buf.slice(eol + 2, eol + 2 + size)
      at = eol + 2 + size + 2
    }
    throw new Error('too many chunks')
  }
  const cl = Number(h.fields.find(([k]) => k.toLowerCase() === 'content-length')?.[1] ?? 0)
  return buf.length >= cl ? [cl, buf.slice(0, cl)] : undefined
}

/**
 * rawServer answers every request with `200 ok` and records its head byte for byte and its body
 * (bounded: over 64 KiB buffered fails the test).
 */
export async function rawServer(t: T) {
  const heads: Received[] = []
  const arrived: Gate[] = []
  const next = (i: number): Gate => (arrived[i] ??= gate())
  const server = createServer(socket => {
    let buf = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      buf += chunk
      if (buf.length > 65536) socket.destroy()
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const lines = buf.slice(0, end).split('\r\n')
        const fields = lines.slice(1).map((l): [string, string] => {
          const colon = l.indexOf(':')
          return [l.slice(0, colon), l.slice(colon + 1).trim()]
        })
        const head = { line: lines[0]!, fields }
        const framed = bodyEnd(head, buf.slice(end + 4))
        if (!framed) return // the rest of the body is still to come
        buf = buf.slice(end + 4 + framed[0])
        heads.push({ ...head, body: framed[1] })
        next(heads.length - 1).open()
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok')
      }
    })
    socket.on('error', () => undefined)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, heads, arrived: next }
}

