import type { Histogram } from 'prom-client'
import { Metrics } from '../telemetry/metrics.js'
import { AuditStats } from './audit-stats.js'
import type { Load } from './load-gauge.js'
import type { TaskQueue } from './task-queue.js'
import type { ZoomBudget } from './zoom.js'

/**
 * MirrorStats are the mirror's counters: the comparison counters of {@link AuditStats} plus the
 * fate of every client request. Every request ends in exactly one of `compared`, `abandoned`,
 * `dropped` or `skipped`, or is still `pending`, so at any moment
 * `requests = compared + abandoned + dropped + skipped + pending`.
 */
export class MirrorStats extends AuditStats {
  /** Client requests received. */
  requests = 0
  /** Shadow work refused: the shadow queue was full, or the mirror was saturated (`shed`). */
  dropped = 0
  /**
   * Shadow work refused because the mirror was saturated (see MirrorOptions.shedAbove); also
   * counted in `dropped`.
   */
  shed = 0
  /**
   * Comparisons given up: the comparer fell more than `teeBytes` behind the client, the client went
   * away before the primary's body was complete, or the mirror was stopped before they finished.
   */
  abandoned = 0
  /** Not shadowed: the method is not in shadowMethods, or the request was not sampled. */
  skipped = 0
  /** Shadowed requests not yet compared or abandoned (a gauge). */
  pending = 0
  /** Shadow sends (to the other server or the baseline) that failed before a status. */
  shadowErrors = 0
  /** Client requests the primary could not answer (the client got 502 or a cut response). */
  proxyErrors = 0
}

/** MirrorHistograms are the latencies the mirror observes (the only metrics it writes to). */
export interface MirrorHistograms {
  /** Client requests through the mirror, from request to the end of the response, in seconds. */
  readonly clientSeconds: Histogram
  /** Shadow requests, from sending to the status, in seconds. */
  readonly shadowSeconds: Histogram
}

const BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/**
 * mirrorMetrics registers the mirror's Prometheus metrics (`cutover_mirror_*`) on `m`'s registry.
 * Every counter and gauge reads `stats`, the queue or the load when scraped, so the metrics and
 * the summary are the same numbers; the two latency histograms are returned for the mirror to
 * observe.
 */
export function mirrorMetrics(m: Metrics, stats: MirrorStats, queue: TaskQueue, load: Load, zoom?: Pick<ZoomBudget, 'made' | 'refused'>): MirrorHistograms {
  m.gauge('cutover_mirror_pending', 'Shadowed requests not yet compared or abandoned.', () => stats.pending)
  m.gauge('cutover_mirror_shadow_queued', 'Shadow work items waiting for a slot.', () => queue.stats.queued)
  m.gauge(
    'cutover_mirror_event_loop_utilization',
    'Moving average of the event loop utilization that shadow shedding follows, 0..1.',
    () => load.utilization,
  )
  m.counter('cutover_mirror_requests_total', 'Client requests received.', () => stats.requests)
  m.counter('cutover_mirror_compared_total', 'Requests whose answers were compared.', () => stats.compared)
  m.labelledCounter(
    'cutover_mirror_divergent_total',
    'Compared requests with at least one divergence of this kind.',
    'kind',
    () => stats.divergentByKind,
  )
  m.counter(
    'cutover_mirror_noise_total',
    'Compared requests with divergences explained by the baseline.',
    () => stats.noise,
  )
  m.counter(
    'cutover_mirror_dropped_total',
    'Shadow work dropped: the shadow queue was full, or the mirror was saturated (see shed_total).',
    () => stats.dropped,
  )
  m.counter(
    'cutover_mirror_shed_total',
    'Shadow work refused because the mirror was saturated (also counted in dropped_total).',
    () => stats.shed,
  )
  m.counter(
    'cutover_mirror_abandoned_total',
    'Comparisons abandoned (comparer too slow, client gone, shutdown).',
    () => stats.abandoned,
  )
  m.labelledCounter(
    'cutover_mirror_not_compared_total',
    'Requests recorded as not compared, by reason (budget, shed, queue-full, shutdown, client-gone).',
    'reason',
    () => stats.notComparedByReason,
  )
  m.counter(
    'cutover_mirror_zooms_total',
    'Ranged re-requests of one differing block from both servers, to locate a difference exactly.',
    () => zoom?.made ?? 0,
  )
  m.counter(
    'cutover_mirror_zooms_refused_total',
    'Re-requests not made because their budget (--zoom-rate) was spent: those differences are located to a block.',
    () => zoom?.refused ?? 0,
  )
  m.counter(
    'cutover_mirror_skipped_total',
    'Requests not shadowed (method not shadowed, or not sampled).',
    () => stats.skipped,
  )
  m.counter(
    'cutover_mirror_shadow_errors_total',
    'Shadow requests that failed before a status.',
    () => stats.shadowErrors,
  )
  m.counter(
    'cutover_mirror_proxy_errors_total',
    'Client requests the primary could not answer.',
    () => stats.proxyErrors,
  )
  return {
    clientSeconds: m.histogram(
      'cutover_mirror_client_seconds',
      'Client requests through the mirror, from request to the end of the response.',
      BUCKETS,
    ),
    shadowSeconds: m.histogram('cutover_mirror_shadow_seconds', 'Shadow requests, from sending to the status.', BUCKETS),
  }
}
