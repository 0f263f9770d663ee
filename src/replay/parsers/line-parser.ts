import { LOGGED_HEADERS } from '../../telemetry/access-log.js'
import type { ReplayRecord } from '../record.js'

/** RequestFields is what a parser reads from one line: a {@link ReplayRecord} without its file and line. */
export type RequestFields = Omit<ReplayRecord, 'file' | 'line'>

/**
 * LineResult is a parser's verdict on one line (or record) of a log:
 * - `record`: a request to replay;
 * - `bad`: unreadable, with a reason that names the field (`status: not a 3-digit code ("2OO")`);
 * - `skipped`: readable but not a request (a GoReplay response record), counted apart from bad lines.
 */
export type LineResult =
  | { readonly kind: 'record'; readonly request: RequestFields }
  | { readonly kind: 'bad'; readonly reason: string }
  | { readonly kind: 'skipped'; readonly reason: string }

/**
 * LineParser reads one line of a line-based log. It is pure: no I/O, no state kept between calls, and
 * it never throws on input (a line it cannot read is a `bad` result).
 */
export type LineParser = (line: string) => LineResult

/**
 * REPLAYED_HEADERS are the request headers a replayed request carries, lower-case: the ones that
 * decide which bytes a download gets (cutover's own {@link LOGGED_HEADERS}) plus accept-encoding,
 * which decides their encoding. Any other header a log holds (cookies, authorization...) is dropped.
 */
export const REPLAYED_HEADERS: readonly string[] = Object.freeze([...LOGGED_HEADERS, 'accept-encoding'])

/**
 * pickHeaders keeps the {@link REPLAYED_HEADERS} of a list of name/value pairs, with lower-case names.
 * Repeated fields are joined with ", " as RFC 9110 §5.3 allows for list-valued fields.
 */
export function pickHeaders(fields: Iterable<readonly [string, string]>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of fields) {
    const n = name.toLowerCase()
    if (!REPLAYED_HEADERS.includes(n)) continue
    const prev = out[n]
    out[n] = prev === undefined ? value : `${prev}, ${value}`
  }
  return out
}

/**
 * record wraps request fields as a `record` result, or a `bad` one naming the header when a header
 * value is one no request can carry (see {@link isSendableValue}): such a line cannot be replayed, so
 * it is a bad line of the log, not a divergence of the servers.
 */
export function record(request: RequestFields): LineResult {
  for (const [name, value] of Object.entries(request.headers)) {
    if (!isSendableValue(value)) {
      return bad(`headers.${name}: not a value a request can carry (CR, LF, NUL or a character above U+00FF): ${quoted(value)}`)
    }
  }
  return { kind: 'record', request }
}

/**
 * isSendableValue tells whether a header value can be sent as it is: RFC 9110 §5.5 field-value
 * characters (VCHAR, obs-text, SP, HTAB), one byte each. CR, LF and NUL are never allowed (RFC 9110
 * §5.5), and a character above U+00FF has no single byte: Node.js refuses to send either.
 */
export const isSendableValue = (v: string): boolean => !/[^\t\u0020-\u007e\u0080-\u00ff]/.test(v)

/** bad makes a `bad` result; the reason should start with the field's name. */
export const bad = (reason: string): LineResult => ({ kind: 'bad', reason })

/**
 * printable makes text safe to show in a terminal or a reason: control characters (C0, DEL, C1)
 * become `\xXX`, and text longer than `max` characters is cut and marked with an ellipsis.
 */
export const printable = (s: string, max = 200): string => escape(s, max, CONTROLS)

/**
 * printableBytes shows a latin1-decoded string (one character per byte) the way nginx logs bytes:
 * printable ASCII as it is, every other byte as `\xXX`. Nothing is lost and nothing is guessed about
 * an encoding: an nginx log line comes back as it was written.
 */
export const printableBytes = (latin1: string, max = 200): string => escape(latin1, max, NON_ASCII)

/** quoted shows a value in a reason: {@link printable}, max 60 characters, in quotes (`"`, `\` escaped). */
export const quoted = (s: string): string => `"${escape(s, 60, CONTROLS_QUOTES)}"`

/** quotedBytes is {@link quoted} for a latin1-decoded string, shown as by {@link printableBytes}. */
export const quotedBytes = (latin1: string): string => `"${escape(latin1, 60, NON_ASCII_QUOTES)}"`

const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g
const NON_ASCII = /[^\u0020-\u007e]/g
const CONTROLS_QUOTES = /[\u0000-\u001f\u007f-\u009f"\\]/g
const NON_ASCII_QUOTES = /[^\u0020-\u0021\u0023-\u005b\u005d-\u007e]/g

function escape(s: string, max: number, re: RegExp): string {
  // Cut first: the text may be a whole document, and escaping only lengthens it.
  const out = s
    .slice(0, max + 1)
    .replace(re, c => (c === '"' || c === '\\' ? `\\${c}` : `\\x${hex2(c.charCodeAt(0))}`))
  return out.length > max ? `${out.slice(0, max - 1)}…` : out
}

/** hex2 writes a byte as two upper-case hex digits, as nginx and percent-encoding do. */
export const hex2 = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0')

/** isObject tells a JSON object apart from null, arrays and other values. */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
