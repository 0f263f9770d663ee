/** Timer is a pending {@link Clock} callback. */
export interface Timer {
  /** clear cancels the callback (and every later one of an interval); clearing twice is harmless. */
  clear(): void
  /**
   * unref lets the process exit while the timer is pending (for a timer that guards work which
   * itself keeps the process running, or a periodic chore); returns the timer.
   */
  unref(): Timer
}

/**
 * Clock is where time comes from, injected wherever behaviour depends on it (how long ago a file
 * changed, expiries, reveal dates, timeouts, durations), so tests move time instead of sleeping.
 * `cli/` builds the one {@link systemClock} and passes it down.
 */
export interface Clock {
  /** now returns the current time in milliseconds since the Unix epoch, as Date.now() does. */
  now(): number
  /**
   * monotonic returns milliseconds (fractional) from an arbitrary origin that never goes back, as
   * performance.now() does: durations are differences of two readings, immune to clock steps.
   */
  monotonic(): number
  /** setTimeout calls `fn` once, `ms` milliseconds from now, as the global setTimeout does. */
  setTimeout(fn: () => void, ms: number): Timer
  /** setInterval calls `fn` every `ms` milliseconds until cleared, as the global setInterval does. */
  setInterval(fn: () => void, ms: number): Timer
}

/** systemClock is the wall clock and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): Timer => nodeTimer(setTimeout(fn, ms)),
  setInterval: (fn: () => void, ms: number): Timer => nodeTimer(setInterval(fn, ms)),
})

/** nodeTimer wraps a Node timer handle (clearTimeout also clears an interval). */
function nodeTimer(t: NodeJS.Timeout): Timer {
  const timer: Timer = {
    clear: () => clearTimeout(t),
    unref: () => {
      t.unref()
      return timer
    },
  }
  return timer
}
