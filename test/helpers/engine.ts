import { mulberry32 } from './random.js'
import type { Observed } from '../../src/audit/exchange.js'

/** chunked streams `data` in chunks cut at seeded random places (some empty), then optionally throws. */
export async function* chunked(data: Uint8Array, seed: number, fail?: Error): AsyncGenerator<Uint8Array> {
  const rnd = mulberry32(seed)
  for (let off = 0; off < data.length; ) {
    const n = Math.floor(rnd() * 5000)
    yield data.subarray(off, Math.min(data.length, off + n))
    off += n
  }
  if (fail) throw fail
}

/** response builds an Observed response over `body` chunked with `seed`. */
export function response(
  status: number,
  headers: Array<[string, string]>,
  body: Uint8Array | string = '',
  seed = 1,
  fail?: Error,
): Observed {
  const data = typeof body === 'string' ? Buffer.from(body, 'latin1') : body
  return { kind: 'response', status, headers, body: chunked(data, seed, fail), durationMs: 1 }
}

/** multipart builds a multipart/byteranges body the way a given server lays it out. */
export function multipart(
  boundary: string,
  parts: Array<{ range: string; type: string; data: string }>,
  style: 'go' | 'nginx',
): string {
  let s = style === 'nginx' ? '\r\n' : ''
  parts.forEach((p, i) => {
    s += `${i > 0 || style === 'nginx' ? (i > 0 ? '\r\n' : '') : ''}--${boundary}\r\n`
    s +=
      style === 'go'
        ? `Content-Range: ${p.range}\r\nContent-Type: ${p.type}\r\n\r\n`
        : `Content-Type: ${p.type}\r\nContent-Range: ${p.range}\r\n\r\n`
    s += p.data
  })
  return `${s}\r\n--${boundary}--\r\n`
}
