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
  const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map(i => Number(m[i] ?? 0)) as [number, number, number, number, number, number]
  if (!validDateTime(y, mo, d, h, mi, sec)) return undefined
  const t = Date.parse(s)
  return Number.isNaN(t) ? undefined : new Date(t)
}

/**
 * validDateTime tells whether a calendar date and wall-clock time exist (month 1-12, a day that the
 * month has, 00:00:00-23:59:59; a leap second is not accepted).
 */
export function validDateTime(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false
  // Day 0 of the next month is the last day of this one.
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate()
}
