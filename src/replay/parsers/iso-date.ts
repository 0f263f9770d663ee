const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})$/

/**
 * parseIsoDate reads an RFC 3339 / ISO 8601 timestamp with a date, a time and a zone
 * (`2024-03-01T12:00:00.123Z`, `2024-03-01T13:00:00+01:00`), as cutover's JSONL and HAR write them.
 * It returns undefined for anything else, including dates that do not exist: `Date.parse` accepts
 * `2024-02-30` and rolls it over to March, which would hide a corrupt log.
 */
export function parseIsoDate(s: string): Date | undefined {
  const m = ISO.exec(s)
  if (m === null) return undefined
  const n = (i: number) => Number(m[i] ?? 0)
  if (!validDateTime(n(1), n(2), n(3), n(4), n(5), n(6))) return undefined
  const t = Date.parse(s)
  return Number.isNaN(t) ? undefined : new Date(t)
}

/**
 * validDateTime tells whether a calendar date and wall-clock time exist (month 1-12, a day that the
 * month has, 00:00:00-23:59:59; a leap second is not accepted).
 */
export function validDateTime(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
  return d <= (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!)
}

const DAYS_IN_MONTH: readonly number[] = Object.freeze([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
