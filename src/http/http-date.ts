/**
 * HTTP dates, parsed exactly as Go's `http.ParseTime` does: it tries `TimeFormat`
 * ("Mon, 02 Jan 2006 15:04:05 GMT", RFC 9110 §5.6.7 IMF-fixdate), then RFC 850
 * ("Monday, 02-Jan-06 15:04:05 MST") and then ANSI C asctime ("Mon Jan _2 15:04:05 2006"), with the
 * quirks of Go's `time.Parse`: names are case-insensitive, a space in the layout matches one or more
 * spaces, the hour may have one digit, a fraction after the seconds is accepted, the weekday is
 * checked as a name but not against the date, and the day is checked against the month.
 *
 * A zone in RFC 850 dates (an abbreviation, `GMT+h`, `+hh`) is checked for form only and the wall
 * clock is read as UTC, as Go does on a server whose local zone is UTC.
 */

const SHORT_DAYS: readonly string[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const LONG_DAYS: readonly string[] = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']
const MONTHS: readonly string[] = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** Cursor walks a value the way Go's time.Parse consumes it. */
class Cursor {
  constructor(
    public s: string,
    public i = 0,
  ) {}
  get done(): boolean {
    return this.i >= this.s.length
  }
  /** Go's skip(): a layout space matches one or more spaces (zero only at the end of the value). */
  spaces(): boolean {
    if (this.i < this.s.length && this.s[this.i] !== ' ') return false
    while (this.i < this.s.length && this.s[this.i] === ' ') this.i++
    return true
  }
  lit(l: string): boolean {
    if (!this.s.startsWith(l, this.i)) return false
    this.i += l.length
    return true
  }
  digit(k: number): boolean {
    const c = this.s.charCodeAt(this.i + k)
    return c >= 0x30 && c <= 0x39
  }
  /** Go's getnum: one or two digits, or exactly two when fixed. */
  num2(fixed: boolean): number | undefined {
    if (!this.digit(0)) return undefined
    if (!this.digit(1)) {
      if (fixed) return undefined
      return Number(this.s[this.i++])
    }
    const v = Number(this.s.slice(this.i, this.i + 2))
    this.i += 2
    return v
  }
  digits(n: number): number | undefined {
    for (let k = 0; k < n; k++) if (!this.digit(k)) return undefined
    const v = Number(this.s.slice(this.i, this.i + n))
    this.i += n
    return v
  }
  /** Go's lookup: a case-insensitive prefix match against a list of names. */
  name(list: readonly string[]): number | undefined {
    for (let k = 0; k < list.length; k++) {
      const n = list[k]!
      if (this.s.slice(this.i, this.i + n.length).toLowerCase() === n) {
        this.i += n.length
        return k
      }
    }
    return undefined
  }
}

/** clock parses "15:04:05" plus Go's accepted fraction; returns seconds of day with fraction. */
function clock(c: Cursor): number | undefined {
  const h = c.num2(false)
  if (h === undefined || h > 23 || !c.lit(':')) return undefined
  const m = c.num2(true)
  if (m === undefined || m > 59 || !c.lit(':')) return undefined
  const s = c.num2(true)
  if (s === undefined || s > 59) return undefined
  let frac = 0
  // Go parses a fraction that follows the seconds even when the layout has none.
  if ((c.s[c.i] === '.' || c.s[c.i] === ',') && c.digit(1)) {
    let j = c.i + 1
    while (j < c.s.length && c.digit(j - c.i)) j++
    // Go keeps nanoseconds: digits past the ninth are read and dropped.
    frac = Number(`0.${c.s.slice(c.i + 1, Math.min(j, c.i + 10))}`)
    c.i = j
  }
  return h * 3600 + m * 60 + s + frac
}

function daysIn(month: number, year: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate()
}

/** toSeconds returns Unix seconds (with fraction) or undefined when the day is out of range. */
function toSeconds(year: number, month: number, day: number, secs: number): number | undefined {
  if (day < 1 || day > daysIn(month, year)) return undefined
  const d = new Date(0)
  d.setUTCFullYear(year, month, day)
  return d.getTime() / 1000 + secs
}

function imfFixdate(c: Cursor): number | undefined {
  if (c.name(SHORT_DAYS) === undefined || !c.lit(',') || !c.spaces()) return undefined
  const day = c.num2(true)
  if (day === undefined || !c.spaces()) return undefined
  const month = c.name(MONTHS)
  if (month === undefined || !c.spaces()) return undefined
  const year = c.digits(4)
  if (year === undefined || !c.spaces()) return undefined
  const secs = clock(c)
  if (secs === undefined || !c.spaces() || !c.lit('GMT') || !c.done) return undefined
  return toSeconds(year, month, day, secs)
}

/** signedOffset is Go's parseSignedOffset: the length of a leading "+h"/"-h" (h <= 23), or 0. */
function signedOffset(v: string): number {
  const m = /^[+-]([0-9]+)/.exec(v)
  return m && Number(m[1]) <= 23 ? m[0].length : 0
}

/**
 * zone consumes a zone name as Go's parseTimeZone does and tells whether there was one. The offset
 * is never applied: for a name that is not the local zone's, Go's Parse builds the time from the wall
 * clock in UTC and only attaches a fabricated zone, so the instant is the wall clock read as UTC.
 */
function zone(c: Cursor): boolean {
  const rest = c.s.slice(c.i)
  if (rest.length < 3) return false
  if (rest.startsWith('ChST') || rest.startsWith('MeST')) {
    c.i += 4
    return true
  }
  if (rest.startsWith('GMT')) {
    c.i += 3 + signedOffset(rest.slice(3))
    return true
  }
  if (rest[0] === '+' || rest[0] === '-') {
    const n = signedOffset(rest)
    c.i += n
    return n > 0
  }
  let n = 0
  while (n < 6 && n < rest.length && rest.charCodeAt(n) >= 0x41 && rest.charCodeAt(n) <= 0x5a) n++
  if (n === 3 || (n === 4 && (rest[3] === 'T' || rest.startsWith('WITA'))) || (n === 5 && rest[4] === 'T')) {
    c.i += n
    return true
  }
  return false
}

function rfc850(c: Cursor): number | undefined {
  if (c.name(LONG_DAYS) === undefined || !c.lit(',') || !c.spaces()) return undefined
  const day = c.num2(true)
  if (day === undefined || !c.lit('-')) return undefined
  const month = c.name(MONTHS)
  if (month === undefined || !c.lit('-')) return undefined
  const yy = c.digits(2)
  if (yy === undefined || !c.spaces()) return undefined
  const secs = clock(c)
  if (secs === undefined || !c.spaces()) return undefined
  if (!zone(c) || !c.done) return undefined
  return toSeconds(yy >= 69 ? 1900 + yy : 2000 + yy, month, day, secs)
}

function asctime(c: Cursor): number | undefined {
  if (c.name(SHORT_DAYS) === undefined || !c.spaces()) return undefined
  const month = c.name(MONTHS)
  if (month === undefined || !c.spaces()) return undefined
  if (c.s[c.i] === ' ') c.i++
  const day = c.num2(false)
  if (day === undefined || !c.spaces()) return undefined
  const secs = clock(c)
  if (secs === undefined || !c.spaces()) return undefined
  const year = c.digits(4)
  if (year === undefined || !c.done) return undefined
  return toSeconds(year, month, day, secs)
}

/**
 * parseHttpDate returns the Unix time in seconds (fraction kept) of an HTTP date, or undefined when
 * Go's http.ParseTime would reject it.
 */
export function parseHttpDate(s: string): number | undefined {
  return imfFixdate(new Cursor(s)) ?? rfc850(new Cursor(s)) ?? asctime(new Cursor(s))
}

/** formatHttpDate formats a time as IMF-fixdate (Go's TimeFormat), truncated to the second. */
export function formatHttpDate(d: Date): string {
  return d.toUTCString()
}
