/** DURATION_MESSAGE is the problem message for a value that is not a duration. */
export const DURATION_MESSAGE = 'must be a duration: a whole number of seconds, or a number with a unit s, m, h or d, e.g. 90s, 15m, 1h, 1d'

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 }

/**
 * parseDuration turns a manifest duration into whole seconds: a non-negative integer is seconds, a
 * string is a number with a unit s, m, h or d (`90s`, `1.5h`). It returns a plain-sentence reason
 * instead when the value is not a duration or does not come to a whole, safe number of seconds
 * (Cache-Control's max-age is whole seconds, RFC 9111 section 1.2.2).
 */
export function parseDuration(value: unknown): number | string {
  let seconds: number
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return DURATION_MESSAGE
    seconds = value
  } else if (typeof value === 'string') {
    const m = /^([0-9]+(?:\.[0-9]+)?)([smhd])$/.exec(value)
    if (m === null) return DURATION_MESSAGE
    seconds = Number(m[1]) * UNIT_SECONDS[m[2]!]!
    // 0.1h is 360 s exactly, but floating point says 360.00000000000006: round what is within a nanosecond.
    const rounded = Math.round(seconds)
    if (Math.abs(seconds - rounded) < 1e-9) seconds = rounded
    if (!Number.isInteger(seconds)) return `must come to a whole number of seconds (${value} is ${seconds} s)`
  } else return DURATION_MESSAGE
  if (!Number.isSafeInteger(seconds)) return 'is too long a duration'
  return seconds
}
