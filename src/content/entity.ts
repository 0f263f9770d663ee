import type { Content } from './content.js'

/**
 * Entity is a representation ready to be served: the bytes plus the metadata that conditional and
 * range requests depend on. The same Entity must always describe the same bytes: if the bytes can
 * change, the ETag must change with them (a strong validator, RFC 9110 §8.8.1).
 */
export interface Entity {
  readonly content: Content
  /** Strong ETag, quoted (`"..."`). Undefined: no ETag header, and only date validators apply. */
  readonly etag?: string | undefined
  /** Last-Modified time. Undefined or the Unix epoch: no Last-Modified header (Go's zero time). */
  readonly lastModified?: Date | undefined
  /**
   * The Last-Modified header text of `lastModified` (an IMF-fixdate, RFC 9110 §5.6.7), when the
   * entity's producer formatted it once for many responses; it must be exactly that date's text.
   * If unset, the date is formatted per response. Ignored when there is no Last-Modified header.
   */
  readonly lastModifiedText?: string | undefined
  /**
   * True when Last-Modified is only a weak validator (RFC 9110 §8.8.2.2): the representation
   * changed too recently to promise that one date means one sequence of bytes. An If-Range date
   * then never matches (RFC 9110 §13.1.5), so a resumed download gets the whole body again
   * instead of a slice spliced onto bytes of another version. If unset, defaults to false.
   */
  readonly lastModifiedWeak?: boolean | undefined
  /** Content-Type header value. Undefined: no Content-Type header. */
  readonly contentType?: string | undefined
  /**
   * Extra response headers (Cache-Control, custom headers) as [name, value] pairs. They are sent
   * on 200, 206, 304 and 412; error responses drop Cache-Control, Content-Encoding, ETag and
   * Last-Modified as Go 1.23 does.
   */
  readonly headers?: ReadonlyArray<readonly [string, string]> | undefined
}
