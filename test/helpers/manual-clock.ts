import { systemClock, type Clock, type Timer } from '../../src/core/clock.js'

interface Pending {
  /** When it falls due, on the monotonic scale. */
  at: number
  /** Creation order: timers due at the same time run in the order they were set. */
  readonly seq: number
  readonly fn: () => void
  /** The period of an interval; undefined for a timeout. */
  readonly every: number | undefined
}

/**
 * ManualClock is a Clock whose time moves only when the test says so: `advance(ms)` runs, in time
 * order, every timer that falls due, so timeouts and intervals are tested without sleeping.
 * `now()` starts at `startMs` (2024-05-01T10:00:00Z if unset); `monotonic()` starts at 0.
 */
export class ManualClock implements Clock {
  #wall: number
  #mono = 0
  #seq = 0
  readonly #pending = new Set<Pending>()

  constructor(startMs = Date.parse('2024-05-01T10:00:00Z')) {
    this.#wall = startMs
  }

  now(): number {
    return this.#wall
  }

  monotonic(): number {
    return this.#mono
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.#add(fn, ms, undefined)
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.#add(fn, ms, Math.max(1, ms))
  }

  /** pending is how many timers are waiting. */
  get pending(): number {
    return this.#pending.size
  }

  /** advance moves time forward by `ms`, running every timer due on the way (at most 100 000 runs). */
  advance(ms: number): void {
    const end = this.#mono + ms
    for (let runs = 0; runs < 100_000; runs++) {
      let next: Pending | undefined
      for (const p of this.#pending) if (next === undefined || p.at < next.at || (p.at === next.at && p.seq < next.seq)) next = p
      if (next === undefined || next.at > end) break
      this.#move(next.at - this.#mono)
      if (next.every === undefined) this.#pending.delete(next)
      else next.at += next.every
      next.fn()
    }
    this.#move(end - this.#mono)
  }

  #move(ms: number): void {
    this.#mono += ms
    this.#wall += ms
  }

  #add(fn: () => void, ms: number, every: number | undefined): Timer {
    const p: Pending = { at: this.#mono + Math.max(0, ms), seq: this.#seq++, fn, every }
    this.#pending.add(p)
    const timer: Timer = {
      clear: () => void this.#pending.delete(p),
      unref: () => timer,
    }
    return timer
  }
}

/** clockWith is the system clock with its wall time read from `now` (e.g. ten seconds ahead of it). */
export const clockWith = (now: () => number): Clock => ({ ...systemClock, now })
