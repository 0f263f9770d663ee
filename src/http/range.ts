/**
 * ByteRange is one satisfiable range of a representation: `length` bytes from `start`.
 * `length` is 0 only for the suffix range `-0`, which Go serves as an empty 206.
 */
export interface ByteRange {
  readonly start: number
  readonly length: number
}

/**
 * RangeResult is the outcome of {@link parseRange}, as a union rather than numeric sentinels:
 * - `none`: no Range header, or one with no non-empty element (`bytes=`): serve 200.
 * - `ranges`: the satisfiable ranges, in request order, never sorted or merged.
 * - `invalid`: malformed (416 without Content-Range).
 * - `no-overlap`: every element starts at or past the end (416 with `Content-Range: bytes *\/size`).
 */
export type RangeResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteRange[] }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'no-overlap' }

const NONE: Readonly<RangeResult> = { kind: 'none' }
const INVALID: Readonly<RangeResult> = { kind: 'invalid' }
const NO_OVERLAP: Readonly<RangeResult> = { kind: 'no-overlap' }
const INT64_MAX = 9223372036854775807n

/** trimOws trims what Go's textproto.TrimString trims: ASCII space, tab, CR and LF. */
export function trimOws(s: string): string {
  let a = 0
  let b = s.length
  while (a < b && isOws(s.charCodeAt(a))) a++
  while (b > a && isOws(s.charCodeAt(b - 1))) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}
const isOws = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d

/**
 * parseInt64 parses like Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits,
 * rejecting anything outside int64. Values beyond 2^53 come back rounded, which is harmless here:
 * every content size is a safe integer, so such a value compares past any size either way.
 */
function parseInt64(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined
  if (s.length <= 16) return Number(s)
  const v = BigInt(s)
  if (v > INT64_MAX || v < -INT64_MAX - 1n) return undefined
  return Number(v)
}

/**
 * parseRange parses a Range header value against a representation of `size` bytes exactly as Go
 * 1.23's `net/http` parseRange does (RFC 9110 §14.1.2, with Go's leniencies): elements split on `,`,
 * trimmed, empty ones skipped; `-N` is a suffix (N > size clamps); `a-` and `a-b` with `a >= size`
 * are skipped; `b >= size` clamps; `a > b`, a missing `-` or a bad number makes the whole header
 * invalid. The caller applies the remaining rules of serveContent (empty content, total > size).
 */
export function parseRange(s: string | undefined, size: number): RangeResult {
  if (s === undefined || s === '') return NONE
  if (!s.startsWith('bytes=')) return INVALID
  const ranges: ByteRange[] = []
  let noOverlap = false
  for (const raw of s.slice(6).split(',')) {
    const ra = trimOws(raw)
    if (ra === '') continue
    const dash = ra.indexOf('-')
    if (dash < 0) return INVALID
    const startStr = trimOws(ra.slice(0, dash))
    const endStr = trimOws(ra.slice(dash + 1))
    if (startStr === '') {
      // Suffix range: "-N" asks for the last N bytes; N must be a non-negative integer.
      if (endStr === '' || endStr[0] === '-') return INVALID
      let n = parseInt64(endStr)
      if (n === undefined || n < 0) return INVALID
      if (n > size) n = size
      ranges.push({ start: size - n, length: n })
      continue
    }
    const start = parseInt64(startStr)
    if (start === undefined || start < 0) return INVALID
    if (start >= size) {
      // A range that begins past the end does not overlap; it is skipped, not an error.
      noOverlap = true
      continue
    }
    if (endStr === '') {
      ranges.push({ start, length: size - start })
      continue
    }
    let end = parseInt64(endStr)
    if (end === undefined || start > end) return INVALID
    if (end >= size) end = size - 1
    ranges.push({ start, length: end - start + 1 })
  }
  if (noOverlap && ranges.length === 0) return NO_OVERLAP
  if (ranges.length === 0) return NONE
  return { kind: 'ranges', ranges }
}

/** sumRangesSize is the number of bytes all the ranges cover, overlaps counted twice (as Go does). */
export function sumRangesSize(ranges: readonly ByteRange[]): number {
  let n = 0
  for (const r of ranges) n += r.length
  return n
}

/** contentRange formats the Content-Range value of `r` (RFC 9110 §14.4): `bytes first-last/size`. */
export function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.start + r.length - 1}/${size}`
}
