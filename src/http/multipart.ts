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

/**
 * MultipartLayout is a whole multipart/byteranges body, laid out before the first byte is sent. Part
 * header blocks are made when asked for (`header(i)`), so the layout holds only the ranges: memory
 * does not grow with the number of parts beyond the ranges themselves.
 */
export interface MultipartLayout {
  readonly boundary: string
  readonly ranges: readonly ByteRange[]
  /** header returns the header block that opens part `i`. */
  header(i: number): Buffer
  /** parts materialises every part (header and range): for inspection and tests, not for serving. */
  readonly parts: readonly MultipartPart[]
  /** The closing delimiter, written after the last part's bytes. */
  readonly trailer: Buffer
  /** Exact body length: every header block, every range and the trailer. */
  readonly length: number
}

/**
 * multipartLayout lays out a multipart/byteranges body (RFC 9110 §15.3.7.2) byte for byte as Go's
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
  const headerText = (i: number): string =>
    `${i === 0 ? '' : '\r\n'}--${boundary}\r\n` +
    `Content-Range: ${contentRange(ranges[i]!, size)}\r\nContent-Type: ${contentType}\r\n\r\n`
  const header = (i: number): Buffer => Buffer.from(headerText(i), 'latin1')
  const trailer = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1')
  let length = trailer.length
  for (let i = 0; i < ranges.length; i++) length += Buffer.byteLength(headerText(i), 'latin1') + ranges[i]!.length
  return {
    boundary,
    ranges,
    header,
    get parts() {
      return ranges.map((range, i) => ({ header: header(i), range }))
    },
    trailer,
    length,
  }
}
