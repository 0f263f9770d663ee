/**
 * Clock is where time comes from, injected wherever behaviour depends on it (how long ago a file
 * changed, expiries, reveal dates), so tests set the time instead of sleeping.
 */
export interface Clock {
  /** now returns the current time in milliseconds since the Unix epoch, as Date.now() does. */
  now(): number
}

/** systemClock is the wall clock. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() })
