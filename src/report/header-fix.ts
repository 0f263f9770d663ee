import { parseHttpDate } from '../http/http-date.js'

/** HeaderValues are the two values of a differing response header (absent on a side: undefined). */
export interface HeaderValues {
  readonly control?: string | undefined
  readonly candidate?: string | undefined
}

/** Headers whose difference follows from different bodies: no flag or rule is the fix. */
const BODY_HEADERS: ReadonlySet<string> = new Set(['content-length', 'content-range', 'content-encoding', 'transfer-encoding'])

/** Headers holding an HTTP date, which a tolerance can absorb. */
const DATE_HEADERS: ReadonlySet<string> = new Set(['last-modified', 'expires'])

/**
 * etagFormatOf names the `serve --etag` format that writes `tag` for a file, or undefined when the
 * tag is none of them: nginx `"<mtime s hex>-<size hex>"` (the seconds take 8 hex digits from 1987
 * to 2106), Apache `"<size hex>-<mtime µs hex>"` and cutover `"<mtime µs hex>-<size hex>"` (the
 * microseconds take 12 or more).
 */
export function etagFormatOf(tag: string): 'nginx' | 'apache' | 'cutover' | undefined {
  const m = /^(?:W\/)?"([0-9a-f]+)-([0-9a-f]+)"$/.exec(tag)
  if (!m) return undefined
  const [a, b] = [m[1]!.length, m[2]!.length]
  if (a === 8 && b < 12) return 'nginx'
  if (a < 12 && b >= 12) return 'apache'
  if (a >= 12 && b < 12) return 'cutover'
  return undefined
}

/**
 * headerFix names what would remove a header divergence (RFC 9110 field semantics decide which
 * differences a setting can explain): the `cutover serve` flag that makes new send what old
 * sends, or the comparison rule that accepts the difference. Undefined for headers that differ
 * because the bodies do (Content-Length and the like): no setting is the fix there.
 */
export function headerFix(name: string, v: HeaderValues): string | undefined {
  if (BODY_HEADERS.has(name)) return undefined
  const ignore = `the rule \`ignoreHeaders: [${name}]\``
  if (name === 'etag') {
    if (v.control === undefined) return 'serve --etag none (old sends no ETag), or the rule `etag: ignore`'
    const format = etagFormatOf(v.control)
    if (format === 'nginx' || format === 'apache')
      return `serve --etag ${format} (old's tags are in ${format}'s format: clients' validators stay valid)`
    return 'the rule `etag: consistent` (one tag pair per path), or `etag: ignore`'
  }
  if (name === 'content-type') {
    const base = (s: string | undefined): string | undefined => s?.split(';')[0]!.trim().toLowerCase()
    if (v.control !== undefined && v.candidate !== undefined && base(v.control) === base(v.candidate))
      return 'the rule `contentTypeParams: ignore` (only the parameters differ)'
    return `serve --mime-types <old's mime.types> --default-type <old's default> (type files as old does), or ${ignore}`
  }
  if (DATE_HEADERS.has(name) && v.control !== undefined && v.candidate !== undefined) {
    const a = parseHttpDate(v.control)
    const b = parseHttpDate(v.candidate)
    if (a !== undefined && b !== undefined) {
      const seconds = Math.max(1, Math.ceil(Math.abs(a - b)))
      return `the rule \`dateTolerance: { ${name}: ${seconds} }\`, or ${ignore}`
    }
  }
  return ignore
}
