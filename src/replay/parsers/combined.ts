import { validDateTime } from './iso-date.js'
import { bad, type LineResult, quotedBytes, record } from './line-parser.js'
import { isMethod, isProtocol, requestTarget } from './request-target.js'

/** CombinedOptions chooses the variant {@link parseCombined} reads. */
export interface CombinedOptions {
  /**
   * `combined` requires the `"$http_referer" "$http_user_agent"` fields after the size; `common`
   * (Apache's `%h %l %u %t "%r" %>s %b`) ends at the size. If unset, defaults to `combined`.
   */
  format?: 'combined' | 'common'
}

/**
 * parseCombined reads one line of an nginx or Apache access log in the `combined` or `common` format:
 *
 *     $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
 *         "$http_referer" "$http_user_agent"
 *
 * optionally followed by a quoted `"$http_range"` field. That field is recognised only
 * when it comes right after the user agent (right after the size for `common`) and looks like a
 * Range header (`bytes=...`, any case) or is `-` (nginx's empty value); any other trailing field is
 * ignored, so custom formats that append e.g. `$request_time` still read.
 *
 * The line must be decoded as latin1 (one character per byte) so that raw bytes survive. Quoted
 * fields are unescaped as nginx (`\xXX` for `"`, `\`, control and non-ASCII bytes) and Apache (`\"`,
 * `\\`, `\xhh`, `\n`...) write them, and the request target is rebuilt from the exact bytes by
 * {@link requestTarget}: its percent-encoding is kept, raw bytes are percent-encoded.
 *
 * Pure; a line it cannot read is a `bad` result whose reason names the field, with nginx's variable
 * names (`time_local: not a date ("32/Oct/2000:13:55:36 -0700")`).
 */
export function parseCombined(line: string, o: CombinedOptions = {}): LineResult {
  const format = o.format ?? 'combined'
  const s = new Scanner(line)
  // host ident user [: anything else is not an access log line at all (binary junk, another format).
  const head = s.token() !== '' && s.space() && s.token() !== '' && s.space() && s.token() !== '' && s.space()
  if (!head || s.peek() !== '[') return bad(`line: not "host ident user [time] ..." (${q(line)})`)
  const timeText = s.bracketed()
  if (timeText === undefined) return bad(`time_local: no closing "]" (${q(s.rest())})`)
  const time = parseTimeLocal(timeText)
  if (time === undefined) return bad(`time_local: not a date (${q(timeText)})`)
  if (!s.space()) return bad('request: missing')
  const req = s.quotedField()
  if (typeof req !== 'string') return bad(`request: ${req.reason}`)
  const rl = parseRequestLine(req)
  if (typeof rl === 'string') return bad(`request: ${rl}`)
  if (!s.space()) return bad('status: missing')
  const status = s.token()
  if (!/^\d{3}$/.test(status)) return bad(`status: not a 3-digit code (${q(status)})`)
  if (!s.space()) return bad('body_bytes_sent: missing')
  const size = s.token()
  // Apache's %b writes "-" for an empty body; nginx always writes a number.
  if (!/^(\d+|-)$/.test(size)) return bad(`body_bytes_sent: not a number (${q(size)})`)
  if (format === 'combined') {
    for (const name of ['http_referer', 'http_user_agent']) {
      if (!s.space()) return bad(`${name}: missing`)
      const f = s.quotedField()
      if (typeof f !== 'string') return bad(`${name}: ${f.reason}`)
    }
  }
  const headers: Record<string, string> = {}
  if (s.space() && s.peek() === '"') {
    const f = s.quotedField()
    // A malformed trailing field is not ours to judge (it may be a custom one); only a well-formed
    // one that looks like a Range header is taken as $http_range.
    if (typeof f === 'string' && /^bytes\s*=/i.test(f)) headers.range = f
  }
  return record({ time, method: rl.method, path: rl.target, headers, status: Number(status) })
}

const MONTHS: readonly string[] = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * parseTimeLocal reads nginx's `$time_local` / Apache's `%t` (`10/Oct/2000:13:55:36 -0700`, English
 * month names, numeric zone) to a Date, or undefined if it is not one or the date does not exist.
 */
export function parseTimeLocal(s: string): Date | undefined {
  if (!TIME_LOCAL.test(s)) return undefined
  // Fixed width from here: read the numbers by position, as this runs once per log line.
  const n = (at: number, len: number) => Number(s.slice(at, at + len))
  const [d, mo, y, h, mi, sec] = [
    n(0, 2),
    MONTHS.indexOf(s.slice(3, 6)) + 1,
    n(7, 4),
    n(12, 2),
    n(15, 2),
    n(18, 2),
  ]
  const [zh, zm] = [n(22, 2), n(24, 2)]
  if (mo === 0 || zh > 23 || zm > 59 || !validDateTime(y, mo, d, h, mi, sec)) return undefined
  const offsetMinutes = (s[21] === '-' ? -1 : 1) * (zh * 60 + zm)
  return new Date(Date.UTC(y, mo - 1, d, h, mi, sec) - offsetMinutes * 60_000)
}

const TIME_LOCAL = /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$/

/**
 * unescapeField undoes the escaping nginx and Apache apply inside a quoted log field (without its
 * quotes). Input and output are latin1 strings, one character per byte: `\xXX` (either case) is that
 * byte, `\"` and `\\` are the character, and Apache's `\b \f \n \r \t \v` are those control bytes. A
 * backslash before anything else is kept as it is (neither server writes one, so it is literal text).
 */
export function unescapeField(s: string): string {
  if (!s.includes('\\')) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '\\' && i + 1 < s.length) {
      const e = s[i + 1]!
      if (e === 'x' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 2, i + 4))) {
        out += String.fromCharCode(parseInt(s.slice(i + 2, i + 4), 16))
        i += 3
        continue
      }
      const ctl = CONTROL_ESCAPES[e]
      if (ctl !== undefined) {
        out += ctl
        i++
        continue
      }
    }
    out += c
  }
  return out
}

const CONTROL_ESCAPES: Readonly<Record<string, string>> = Object.freeze({
  '"': '"',
  '\\': '\\',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
})

/**
 * parseRequestLine splits the unescaped `$request` into method and target, or returns why not.
 * Three parts is `METHOD TARGET PROTOCOL`; two parts is an HTTP/0.9 request (`GET /x`), which nginx
 * logs that way. A target with spaces in it (nginx logs the raw line of a client that sent one, and
 * answers 400) keeps them, percent-encoded.
 */
function parseRequestLine(line: string): { method: string; target: string } | string {
  if (line === '-' || line === '') return `missing (${q(line)})`
  const first = line.indexOf(' ')
  const last = line.lastIndexOf(' ')
  let target: string | undefined
  if (first > 0 && last > first && isProtocol(line.slice(last + 1))) target = line.slice(first + 1, last)
  else if (first > 0 && last === first) target = line.slice(first + 1)
  const method = line.slice(0, first)
  // A space next to the method or the protocol (`GET  /a`) is not a request line nginx would parse.
  if (target === undefined || target === '' || /^ | $/.test(target) || !isMethod(method)) {
    return `not "METHOD TARGET PROTOCOL" (${q(line)})`
  }
  const path = requestTarget(target)
  if (path === undefined) return `target is not a path (${q(line)})`
  return { method, target: path }
}

/** q quotes a piece of the latin1-decoded line for a reason, with nginx's escapes. */
const q = quotedBytes

/**
 * Scanner walks a log line field by field. One instance per line; it is never shared.
 */
class Scanner {
  #s: string
  #i = 0
  constructor(s: string) {
    this.#s = s
  }
  peek(): string | undefined {
    return this.#s[this.#i]
  }
  rest(): string {
    return this.#s.slice(this.#i)
  }
  /** space consumes one or more spaces; false if there is none. */
  space(): boolean {
    const start = this.#i
    while (this.#s[this.#i] === ' ') this.#i++
    return this.#i > start
  }
  /** endOfField tells whether the scanner is at a space or at the end. */
  endOfField(): boolean {
    return this.#i === this.#s.length || this.#s[this.#i] === ' '
  }
  /** token consumes characters up to the next space or the end. */
  token(): string {
    const start = this.#i
    const end = this.#s.indexOf(' ', start)
    this.#i = end < 0 ? this.#s.length : end
    return this.#s.slice(start, this.#i)
  }
  /** bracketed consumes `[...]` and returns what is inside, or undefined if there is none. */
  bracketed(): string | undefined {
    if (this.#s[this.#i] !== '[') return undefined
    const end = this.#s.indexOf(']', this.#i)
    if (end < 0) return undefined
    const inside = this.#s.slice(this.#i + 1, end)
    this.#i = end + 1
    return inside
  }
  /**
   * quotedField consumes a `"..."` field and returns its unescaped text (latin1), or a reason: no
   * opening quote, no closing quote (a truncated line), or text glued to the closing quote.
   */
  quotedField(): string | { reason: string } {
    const s = this.#s
    if (s[this.#i] !== '"') return { reason: `expected a quoted field (${q(this.rest())})` }
    // The closing quote is the first one not escaped by a backslash; a backslash escapes one character.
    let j = this.#i + 1
    for (;;) {
      const quote = s.indexOf('"', j)
      const backslash = s.indexOf('\\', j)
      if (quote < 0) return { reason: `no closing quote (${q(this.rest().slice(1))})` }
      if (backslash < 0 || backslash > quote) {
        j = quote
        break
      }
      j = backslash + 2
    }
    const inside = s.slice(this.#i + 1, j)
    this.#i = j + 1
    if (!this.endOfField()) return { reason: `text after the closing quote (${q(this.rest())})` }
    return unescapeField(inside)
  }
}
