import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { systemClock, type Clock, type Timer } from '../core/clock.js'

/** Load is what the mirror asks before taking on shadow work: how busy its event loop is, 0..1. */
export interface Load {
  /** Recent share of time the event loop spent running code rather than waiting for I/O, 0..1. */
  readonly utilization: number
}

/**
 * DEFAULT_ALPHA is the weight of the newest 50 ms sample in the moving average: 0.05, a time
 * constant of about a second. A mirror comparing every request of a mixed load at 200 req/s
 * (35 MB/s) runs its loop at 0.35-0.7, and one compared 64 MiB download at loopback speed holds it
 * at 1 for 0.4-0.9 s on a two-core machine: at 0.1 the average crossed 0.9 on such a burst (up to
 * 0.93, and requests were shed); at 0.05 the same samples peak at 0.81. Overload that lasts is shed
 * 1.1 s later than at 0.1 (after 2.25 s from idle instead of 1.1 s), which cost no measurable
 * throughput at saturation (1 MiB, 64 connections).
 */
export const DEFAULT_ALPHA = 0.05

/** LoadGaugeOptions tune a {@link LoadGauge}. */
export interface LoadGaugeOptions {
  /** How often the utilization is sampled, in ms. If unset, 50. */
  readonly intervalMs?: number
  /**
   * Weight of the newest sample in the moving average, 0..1. If unset, {@link DEFAULT_ALPHA} (0.05):
   * from idle, a loop busy all the time crosses 0.9 after 45 samples (2.25 s at 50 ms). Shedding
   * answers sustained overload, not a burst: one big download at loopback speed keeps the loop busy
   * for as long as it lasts, and shedding then would drop the small requests that arrive meanwhile.
   * Bodies are hashed as they stream, so a burst holds no bytes for comparers; the tee bounds still
   * cap what it could.
   */
  readonly alpha?: number
  /** Source of utilization readings. If unset, `performance.eventLoopUtilization` (tests script one). */
  readonly elu?: typeof performance.eventLoopUtilization
  /** Where the sampling timer comes from. If unset, the system clock. */
  readonly clock?: Clock
}

/**
 * LoadGauge follows the event-loop utilization of this thread (Node's
 * `performance.eventLoopUtilization`, the share of time spent outside the poll for I/O) as an
 * exponentially weighted moving average, sampled on an unref'd timer. The mirror's client path and
 * its shadow work share one event loop: a loop that is busy all the time is one where clients wait
 * behind comparisons, so the mirror sheds shadow work while it is (Scientist's rule, "the control
 * always wins"). Call {@link close} to stop the timer.
 */
export class LoadGauge implements Load {
  #last: EventLoopUtilization
  #value = 0
  readonly #alpha: number
  readonly #elu: typeof performance.eventLoopUtilization
  readonly #timer: Timer

  constructor(o: LoadGaugeOptions = {}) {
    const intervalMs = o.intervalMs ?? 50
    const alpha = o.alpha ?? DEFAULT_ALPHA
    if (!(intervalMs > 0)) throw new TypeError('intervalMs must be positive')
    if (!(alpha > 0 && alpha <= 1)) throw new TypeError('alpha must be in (0, 1]')
    this.#alpha = alpha
    this.#elu = o.elu ?? performance.eventLoopUtilization.bind(performance)
    this.#last = this.#elu()
    this.#timer = (o.clock ?? systemClock).setInterval(() => this.sample(), intervalMs).unref()
  }

  /**
   * sample folds the utilization since the previous sample into the average and returns that
   * sample's utilization. The timer calls it every interval; tests call it directly.
   */
  sample(): number {
    const now = this.#elu()
    const u = this.#elu(now, this.#last).utilization
    this.#last = now
    this.#value = this.#alpha * u + (1 - this.#alpha) * this.#value
    return u
  }

  get utilization(): number {
    return this.#value
  }

  close(): void {
    this.#timer.clear()
  }
}
