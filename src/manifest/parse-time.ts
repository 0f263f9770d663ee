/** TIME_MESSAGE is the problem message for a value that is not an RFC 3339 time with an offset. */
export const TIME_MESSAGE = 'must be an RFC 3339 time with a UTC offset, e.g. 2026-12-10T09:00:00Z'

/**
 * parseTime turns an RFC 3339 date-time (section 5.6: full-date "T" full-time, with `Z` or a
 * `+hh:mm`/`-hh:mm` offset; a space for the T as section 5.6's note allows) into epoch milliseconds,
 * or undefined when the text is not one or names no real instant (February 30th, hour 24). Fractions
 * of a second are cut to milliseconds. Leap seconds (`:60`) are refused: epoch time cannot hold them.
 */
export function parseTime(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(text)
  if (m === null) return undefined
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map(i => Number(m[i]))
  if (month! < 1 || month! > 12 || day! < 1 || hour! > 23 || minute! > 59 || second! > 59) return undefined
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate()
  if (day! > daysInMonth) return undefined
  let offsetMinutes = 0
  if (m[8] === undefined) {
    const oh = Number(m[10])
    const om = Number(m[11])
    if (oh > 23 || om > 59) return undefined
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om)
  }
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000)
  const utc = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!, ms)
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear puts the year back as written.
  const d = new Date(utc)
  d.setUTCFullYear(year!)
  return d.getTime() - offsetMinutes * 60_000
}
