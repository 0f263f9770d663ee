import { randomBytes } from 'node:crypto'
import { contentRange, type ByteRange } from './range.js'

/**
 * randomBoundary makes a multipart boundary the way Go's mime/multipart does: 30 random bytes in
 * hex. Keeping Go's length keeps our multipart Content-Length equal to Go's for the same ranges.
 */
export function randomBoundary(): string {
  return randomBytes(30).toString('hex')
}

/** MultipartPart is one part of a multipart/byteranges body: its header block and its range. */
export interface MultipartPart {
  readonly header: Buffer
  readonly range: ByteRange
}

/** MultipartLayout is a whole multipart/byteranges body, laid out before the first byte is sent. */
export interface MultipartLayout {
  readonly boundary: string
  readonly parts: readonly MultipartPart[]
  /** The closing delimiter, written after the last part's bytes. */
  readonly trailer: Buffer
  /** Exact body length: every header block, every range and the trailer. */
  readonly length: number
}

/**
 * multipartLayout lays out a multipart/byteranges body (RFC 7233 §4.1) byte for byte as Go's
 * mime/multipart Writer does: the first part opens with `--B`, later ones with `\r\n--B`; each
 * header block has Content-Range then Content-Type (Go sorts header keys), a blank line, then the
 * bytes; the body ends with `\r\n--B--\r\n`. The parts keep the request order.
 */
export function multipartLayout(
  ranges: readonly ByteRange[],
  contentType: string,
  size: number,
  boundary: string,
): MultipartLayout {
  let length = 0
  const parts = ranges.map((range, i) => {
    const header = Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\n` +
        `Content-Range: ${contentRange(range, size)}\r\nContent-Type: ${contentType}\r\n\r\n`,
      'latin1',
    )
    length += header.length + range.length
    return { header, range }
  })
  const trailer = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1')
  length += trailer.length
  return { boundary, parts, trailer, length }
}
