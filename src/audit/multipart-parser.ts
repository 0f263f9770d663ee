import { CutoverError } from '../core/errors.js'

/** MultipartPart is one part of a streamed multipart body: its headers and its bytes, streamed. */
export interface MultipartPart {
  /** Header fields as [lower-case name, value]. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** The part's bytes. Must be consumed (or the next part requested) before anything else. */
  readonly body: AsyncIterable<Uint8Array>
}

/** MAX_PART_HEADER_BYTES bounds a part's header block: a parser must not buffer without limit. */
export const MAX_PART_HEADER_BYTES = 16 * 1024

/** boundaryOf returns the boundary parameter of a multipart Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return undefined
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  return m ? (m[1] ?? m[2]) : undefined
}

const syntax = (why: string): CutoverError => new CutoverError('ERR_MULTIPART', `multipart body: ${why}`)

/**
 * Reader buffers a byte stream just enough to find delimiters: at most one chunk plus a delimiter's
 * length is held while a part body streams through, so memory does not grow with the body.
 */
class Reader {
  buf: Buffer = Buffer.alloc(0)
  #done = false
  constructor(readonly it: AsyncIterator<Uint8Array>) {}
  /** fill appends the next chunk; false at the end of the stream. */
  async fill(): Promise<boolean> {
    if (this.#done) return false
    const r = await this.it.next()
    if (r.done) {
      this.#done = true
      return false
    }
    const chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength)
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    return true
  }
}

/**
 * parseMultipart reads a multipart body (RFC 2046 §5.1.1, as multipart/byteranges uses it,
 * RFC 9110 §15.3.7.2) from a byte stream and yields its parts in order, streaming each part's bytes.
 * Preamble and epilogue are skipped, so a body that opens with CRLF (nginx) and one that does not
 * (Go) parse alike. A malformed body rejects with ERR_MULTIPART. A part's body must be read (or
 * abandoned by asking for the next part, which skips it) before the next part is yielded.
 */
export async function* parseMultipart(src: AsyncIterable<Uint8Array>, boundary: string): AsyncGenerator<MultipartPart> {
  const r = new Reader(src[Symbol.asyncIterator]())
  const dash = Buffer.from(`--${boundary}`, 'latin1')
  const delim = Buffer.from(`\r\n--${boundary}`, 'latin1')
  // 1. The first delimiter: "--B" at the very start, or "\r\n--B" after a preamble.
  for (;;) {
    if (r.buf.length >= dash.length && r.buf.subarray(0, dash.length).equals(dash)) {
      r.buf = r.buf.subarray(dash.length)
      break
    }
    const at = r.buf.indexOf(delim)
    if (at >= 0) {
      r.buf = r.buf.subarray(at + delim.length)
      break
    }
    if (r.buf.length > MAX_PART_HEADER_BYTES) throw syntax('no opening boundary')
    if (!(await r.fill())) throw syntax('no opening boundary')
  }
  for (let index = 0; ; index++) {
    // 2. After a delimiter: "--" closes the body; otherwise optional padding, then CRLF.
    while (r.buf.length < 2) if (!(await r.fill())) throw syntax('body ends after a boundary')
    if (r.buf[0] === 0x2d && r.buf[1] === 0x2d) return
    let eol: number
    while ((eol = r.buf.indexOf('\r\n')) < 0) {
      if (r.buf.length > 1024 || !(await r.fill())) throw syntax('no line end after a boundary')
    }
    if (!/^[ \t]*$/.test(r.buf.subarray(0, eol).toString('latin1'))) throw syntax('text after a boundary')
    r.buf = r.buf.subarray(eol + 2)
    // 3. The header block, up to an empty line.
    let end: number
    while ((end = r.buf.indexOf('\r\n\r\n')) < 0 && !(r.buf[0] === 0x0d && r.buf[1] === 0x0a)) {
      if (r.buf.length > MAX_PART_HEADER_BYTES) throw syntax(`part ${index} header too large`)
      if (!(await r.fill())) throw syntax(`part ${index} header not terminated`)
    }
    let headers: Array<[string, string]> = []
    if (r.buf[0] === 0x0d && r.buf[1] === 0x0a) {
      r.buf = r.buf.subarray(2) // no header fields at all
    } else {
      headers = r.buf
        .subarray(0, end)
        .toString('latin1')
        .split('\r\n')
        .map(line => {
          const colon = line.indexOf(':')
          if (colon <= 0) throw syntax(`part ${index} has a malformed header line`)
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as [string, string]
        })
      r.buf = r.buf.subarray(end + 4)
    }
    // 4. The body, streamed up to the next "\r\n--B".
    let finished = false
    /** next returns the next piece of this part's bytes, or undefined at its end. */
    const next = async (): Promise<Uint8Array | undefined> => {
      for (;;) {
        if (finished) return undefined
        const at = r.buf.indexOf(delim)
        if (at >= 0) {
          const data = r.buf.subarray(0, at)
          r.buf = r.buf.subarray(at + delim.length)
          finished = true
          return data.length > 0 ? data : undefined
        }
        const safe = r.buf.length - (delim.length - 1)
        if (safe > 0) {
          const data = r.buf.subarray(0, safe)
          r.buf = r.buf.subarray(safe)
          return data
        }
        if (!(await r.fill())) throw syntax(`part ${index} is not terminated by a boundary`)
      }
    }
    const body = async function* (): AsyncGenerator<Uint8Array> {
      for (let d = await next(); d !== undefined; d = await next()) yield d
    }
    yield { headers, body: body() }
    // The consumer may have left part of the body unread (or stopped iterating): skip the rest.
    while ((await next()) !== undefined) {
      // skipping
    }
  }
}
