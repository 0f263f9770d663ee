import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { systemClock, type Clock, type Timer } from '../core/clock.js'

/** Load is what the mirror asks before taking on shadow work: how busy its event loop is, 0..1. */
export interface Load {
  /** Recent share of time the event loop spent running code rather than waiting for I/O, 0..1. */
  readonly utilization: number
  /**
   * The lowest utilization of the samples covering the last second or so (see
   * {@link LoadGaugeOptions.sustainedMs}): at or above a threshold, the loop has been that busy the
   * whole time. 0 until that much has been sampled. A load without it is never taken as sustained.
   */
  readonly sustained?: number
}

/**
 * DEFAULT_SUSTAINED_MS is the span {@link LoadGauge.sustained} covers: 1 s. The moving average
 * crossed 0.9 only 3-5 s after a saturating load began (its samples come late on a busy loop: 60-90
 * ms apart), and a mirror comparing every request meanwhile served 1 MiB downloads at about half the
 * rate it had once shedding (bench/README.md). The mirror therefore also sheds when
 * the loop has been busy for this whole span while shadows wait for a slot. In the mixed bench row
 * (200 req/s, one 64 MiB download every 5 s), a second of samples at 0.9 or more came only once in
 * 60 s: 1.55 s, the first 64 MiB download through a mirror just started.
 */
export const DEFAULT_SUSTAINED_MS = 1000

/** MAX_SAMPLES bounds the samples kept for {@link LoadGauge.sustained}, however short they are. */
const MAX_SAMPLES = 256

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
  /** The span {@link LoadGauge.sustained} covers, in ms. If unset, {@link DEFAULT_SUSTAINED_MS}. */
  readonly sustainedMs?: number
  /** Source of utilization readings. If unset, `performance.eventLoopUtilization` (tests script one). */
  readonly elu?: typeof performance.eventLoopUtilization
  /** Where the sampling timer comes from. If unset, the system clock. */
  readonly clock?: Clock
}

/**
 * LoadGauge follows the event-loop utilization of this thread (Node's
 * `performance.eventLoopUtilization`, the share of time spent outside the poll for I/O) as an
 * exponentially weighted moving average, sampled on an unref'd timer, and keeps the samples of the
 * last second for {@link sustained} (at most 256 of them). The mirror's client path and
 * its shadow work share one event loop: a loop that is busy all the time is one where clients wait
 * behind comparisons, so the mirror sheds shadow work while it is (Scientist's rule, "the control
 * always wins"). Call {@link close} to stop the timer.
 */
export class LoadGauge implements Load {
  #last: EventLoopUtilization
  #value = 0
  /** Recent samples, oldest first: how long each covered (ms) and its utilization. */
  readonly #recent: Array<{ ms: number; u: number }> = []
  /** The sum of the recent samples' spans. */
  #recentMs = 0
  #sustained = 0
  readonly #sustainedMs: number
  readonly #alpha: number
  readonly #elu: typeof performance.eventLoopUtilization
  readonly #timer: Timer

  constructor(o: LoadGaugeOptions = {}) {
    const intervalMs = o.intervalMs ?? 50
    const alpha = o.alpha ?? DEFAULT_ALPHA
    if (!(intervalMs > 0)) throw new TypeError('intervalMs must be positive')
    if (!(alpha > 0 && alpha <= 1)) throw new TypeError('alpha must be in (0, 1]')
    const sustainedMs = o.sustainedMs ?? DEFAULT_SUSTAINED_MS
    if (!(sustainedMs > 0)) throw new TypeError('sustainedMs must be positive')
    this.#sustainedMs = sustainedMs
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
    const d = this.#elu(now, this.#last)
    const u = d.utilization
    this.#last = now
    this.#value = this.#alpha * u + (1 - this.#alpha) * this.#value
    // The span comes from the readings themselves (active and idle time), not from the timer: a
    // sample taken late covers more.
    const ms = d.active + d.idle
    if (ms > 0) {
      this.#recent.push({ ms, u })
      this.#recentMs += ms
      // Keep the newest samples that cover the span, and no more.
      const covered = (): boolean =>
        this.#recent.length > 1 && this.#recentMs - this.#recent[0]!.ms >= this.#sustainedMs
      while (this.#recent.length > MAX_SAMPLES || covered()) this.#recentMs -= this.#recent.shift()!.ms
    }
    // Worked out here, every 50 ms, rather than on each read (the mirror reads it per request).
    let low = 1
    for (const r of this.#recent) low = Math.min(low, r.u)
    this.#sustained = this.#recentMs < this.#sustainedMs ? 0 : low
    return u
  }

  get utilization(): number {
    return this.#value
  }

  get sustained(): number {
    return this.#sustained
  }

  close(): void {
    this.#timer.clear()
  }
}
