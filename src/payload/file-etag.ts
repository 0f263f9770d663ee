/**
 * ETAG_FORMATS are the ETag conventions `cutover serve` can follow for a file, so that after the
 * cut-over the validators clients hold (resumed downloads with If-Range, caches with
 * If-None-Match) still match:
 * - `cutover`: `"<mtime µs hex>-<size hex>"` (the default);
 * - `nginx`: `"<mtime s hex>-<size hex>"`, what nginx's static module sends;
 * - `apache`: `"<size hex>-<mtime µs hex>"`, Apache httpd 2.4's default `FileETag MTime Size`,
 *   weak (`W/`) while the file changed no more than a second before the request, as Apache does;
 * - `none`: no ETag, as Go's http.ServeContent sends when the handler sets none; only the
 *   Last-Modified date validates then.
 */
export const ETAG_FORMATS = ['cutover', 'nginx', 'apache', 'none'] as const

/** EtagFormat is one of {@link ETAG_FORMATS}. */
export type EtagFormat = (typeof ETAG_FORMATS)[number]

/** FileStamp is what a file's ETag is derived from: no byte of the file is read. */
export interface FileStamp {
  readonly size: number
  /** Modification time in nanoseconds since the epoch, as the kernel keeps it. */
  readonly mtimeNs: bigint
}

/** FileEtag is a file's ETag under one format, and whether it may change while the file does not. */
export interface FileEtag {
  /** The quoted tag, `W/`-prefixed when weak; undefined for format `none`. */
  readonly etag: string | undefined
  /**
   * False when the tag was made weak by the format's own rule for a recent mtime (Apache), which
   * turns strong once time has moved on: such a tag must be computed again per request, not kept.
   */
  readonly final: boolean
}

const hex = (n: bigint | number): string => n.toString(16)

/**
 * fileEtag derives the ETag a server following `format` sends for a file with stamp `st`, at time
 * `nowMs`. `settling` makes any tag weak: the file changed too recently for the server to promise
 * that two responses carrying this tag have the same bytes (RFC 9110 §8.8.1: a strong validator
 * changes whenever the bytes do; a write in progress changes them after its mtime was set).
 */
export function fileEtag(format: EtagFormat, st: FileStamp, nowMs: number, settling: boolean): FileEtag {
  const us = st.mtimeNs / 1000n
  let tag: string
  let weak = settling
  let final = true
  switch (format) {
    case 'none':
      return { etag: undefined, final }
    case 'nginx':
      // ngx_http_set_etag: "%xT-%xO", last_modified_time (seconds) and content_length_n.
      tag = `"${hex(st.mtimeNs / 1_000_000_000n)}-${hex(st.size)}"`
      break
    case 'apache':
      // ap_make_etag: size then mtime (apr_time_t, microseconds, truncated), strong only when the
      // request comes more than one second after the mtime: the file "may be modified again later
      // in the second, and the validation would be incorrect". request_time is in microseconds.
      tag = `"${hex(st.size)}-${hex(us)}"`
      if (!(BigInt(Math.floor(nowMs * 1000)) - us > 1_000_000n)) {
        weak = true
        final = false
      }
      break
    case 'cutover':
      // Microseconds rounded to nearest: what `(UnixNano + 500) / 1000` gives in Go.
      tag = `"${hex((st.mtimeNs + 500n) / 1000n)}-${hex(st.size)}"`
      break
  }
  return { etag: weak ? `W/${tag}` : tag, final }
}
