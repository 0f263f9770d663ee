import type { Clock } from '../core/clock.js'

/** ReadPace is how a body is read past its start: no faster than `bytesPerSecond` after its first `afterBytes`. */
export interface ReadPace {
  /** Bytes read at whatever pace the body comes, before any limit. */
  readonly afterBytes: number
  /** The most bytes a second read past `afterBytes`. */
  readonly bytesPerSecond: number
}

/** checkPace returns `pace`, or throws a TypeError naming what makes it no pace. */
export function checkPace(pace: ReadPace): ReadPace {
  if (!(pace.bytesPerSecond > 0) || !Number.isFinite(pace.bytesPerSecond)) throw new TypeError('bytesPerSecond must be a positive number')
  if (!Number.isSafeInteger(pace.afterBytes) || pace.afterBytes < 0) throw new TypeError('afterBytes must be a non-negative integer')
  return pace
}

/**
 * ReadPacer spreads the reading of one body over time ({@link ReadPace}): told how many bytes have
 * been read so far, {@link gate} says how long to wait before the next read. It earns no credit
 * while the body comes slower than the limit (a slow start is not made up for by a burst later),
 * and waits under a millisecond are carried over rather than slept, so a body of small chunks
 * costs no timer per chunk.
 */
export class ReadPacer {
  readonly #pace: ReadPace
  readonly #clock: Clock
  /** Bytes already accounted for. */
  #seen = 0
  /** When (on the monotonic scale) the bytes accounted for have been spread over enough time. */
  #due = Number.NEGATIVE_INFINITY

  constructor(pace: ReadPace, clock: Clock) {
    this.#pace = checkPace(pace)
    this.#clock = clock
  }

  /**
   * gate accounts for the bytes read up to `total` and returns undefined when the next read may
   * start now, or a promise that resolves when it may.
   */
  gate(total: number): Promise<void> | undefined {
    // Within the first bytes (every read of a body no longer than them): nothing to account, no clock read.
    if (total <= this.#pace.afterBytes) return undefined
    const over = Math.min(total - this.#seen, total - this.#pace.afterBytes)
    this.#seen = Math.max(this.#seen, total)
    const now = this.#clock.monotonic()
    if (over > 0) this.#due = Math.max(this.#due, now) + (over / this.#pace.bytesPerSecond) * 1000
    const wait = this.#due - now
    if (!(wait >= 1)) return undefined
    // The body's own connection keeps the process alive while it matters; the wait never does.
    return new Promise(resolve => void this.#clock.setTimeout(resolve, wait).unref())
  }
}
