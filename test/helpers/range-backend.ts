import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import type { Backend } from '../../src/audit/http-backend.js'

/** chunked yields `bytes` in chunks of `size` (odd sizes cross block boundaries). */
export async function* chunked(bytes: Buffer, size = 7919): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, Math.min(bytes.length, at + size))
}

/**
 * RangeBackend is a Backend serving one representation from memory with a strong ETag, honouring
 * `Range: bytes=a-b` and If-Range (a mismatching If-Range gets the whole 200, RFC 9110 §13.1.5). It
 * records every request. `bytes` and `etag` may be changed between requests (a file replaced).
 */
export class RangeBackend implements Backend {
  readonly base: string
  readonly seen: ExchangeRequest[] = []
  constructor(
    readonly name: string,
    public bytes: Buffer,
    public etag = '"v1"',
  ) {
    this.base = `http://${name}.invalid`
  }

  async send(req: ExchangeRequest): Promise<Observed> {
    this.seen.push(req)
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    const ifRange = req.headers['if-range']
    const headers: Array<[string, string]> = [['etag', this.etag], ['content-type', 'application/octet-stream']]
    if (range && (ifRange === undefined || ifRange === this.etag)) {
      const from = Number(range[1])
      const to = Math.min(Number(range[2]), this.bytes.length - 1)
      const slice = this.bytes.subarray(from, to + 1)
      headers.push(['content-range', `bytes ${from}-${to}/${this.bytes.length}`], ['content-length', String(slice.length)])
      return { kind: 'response', status: 206, headers, body: chunked(slice), durationMs: 1 }
    }
    headers.push(['content-length', String(this.bytes.length)])
    return { kind: 'response', status: 200, headers, body: chunked(this.bytes), durationMs: 1 }
  }

  async close(): Promise<void> {}
}
