import { Counter, Histogram } from 'prom-client'
import type { Metrics } from './metrics.js'

/**
 * STORE_LATENCY_BUCKETS are the upper bounds, in seconds, of the store latency histogram: from a
 * local disk's page-cache hit (under a millisecond) to a remote store's slow answer (seconds).
 */
export const STORE_LATENCY_BUCKETS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])

/**
 * StoreCounters are the counters of one store as storage/instrumented-store.ts keeps them (stated
 * here by shape: telemetry/ does not import storage/).
 */
export interface StoreCounters {
  readonly stats: number
  readonly reads: number
  readonly bytesRead: number
  /** Failures by error code. */
  readonly errors: Readonly<Record<string, number>>
}

/** CountedStore is a store with a name and its {@link StoreCounters} (an InstrumentedStore). */
export interface CountedStore {
  readonly name: string
  readonly stats: StoreCounters
}

/** FallbackCounters are the counters of a fallback chain as storage/fallback-store.ts keeps them. */
export interface FallbackCounters {
  /** By the store left, then by the reason (error code). */
  readonly fallbacks: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly readReroutes: number
  /** Reroutes refused, by reason. */
  readonly refused: Readonly<Record<string, number>>
  readonly verifications: number
}

/** StoreMetricsOptions are what {@link storeCounters} reports. */
export interface StoreMetricsOptions {
  /** The stores, each with its own counters. */
  readonly stores: readonly CountedStore[]
  /** The fallback chain's counters. If unset, no fallback metric is registered. */
  readonly fallback?: FallbackCounters
}

/** StoreLatencyMetric is the histogram of store durations, as storage's StoreLatency hooks feed it. */
export interface StoreLatencyMetric {
  /**
   * forStore is the latency hook of the store `name` (storage/instrumented-store.ts's StoreLatency,
   * by shape): each call observes one duration under the labels store, op and outcome (`ok`, or the
   * error code).
   */
  forStore(name: string): { observe(op: string, seconds: number, error?: string): void }
}

/**
 * storeLatency registers the latency histogram of blob stores, `cutover_store_duration_seconds`
 * (buckets {@link STORE_LATENCY_BUCKETS}), on `m`'s registry and gives each store its hook. It comes
 * first: the stores are built with their hooks, then the chain over them, then
 * {@link storeCounters} over both.
 */
export function storeLatency(m: Metrics): StoreLatencyMetric {
  const histogram = new Histogram({
    name: 'cutover_store_duration_seconds',
    help: 'Durations of store stats and reads, by store, operation and outcome (ok or the error code).',
    labelNames: ['store', 'op', 'outcome'],
    buckets: [...STORE_LATENCY_BUCKETS],
    registers: [m.registry],
  })
  return {
    forStore: store => ({
      observe: (op, seconds, error) => histogram.observe({ store, op, outcome: error ?? 'ok' }, seconds),
    }),
  }
}

/**
 * storeCounters registers the counters of blob stores (`cutover_store_*_total`) on `m`'s registry:
 * per store, stats, reads, bytes read and failures by code; per chain, fallbacks by store and
 * reason, rerouted reads, refused reroutes by reason and verifications. They read the stores' own
 * counters at scrape time, as {@link Metrics} does, so metrics and summaries agree.
 */
export function storeCounters(m: Metrics, o: StoreMetricsOptions): void {
  const registers = [m.registry]
  /** perStore registers a counter labelled by store, read from each store's counters. */
  const perStore = (name: string, help: string, read: (c: StoreCounters) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['store'],
      registers,
      collect() {
        this.reset()
        for (const s of o.stores) this.inc({ store: s.name }, read(s.stats))
      },
    })
  }
  perStore('cutover_store_stats_total', 'Stats asked of the store.', c => c.stats)
  perStore('cutover_store_reads_total', 'Reads asked of the store.', c => c.reads)
  perStore('cutover_store_read_bytes_total', 'Bytes the store\'s reads returned.', c => c.bytesRead)
  new Counter({
    name: 'cutover_store_errors_total',
    help: 'Failed stats and reads of the store, by error code (ERR_NOT_FOUND and ERR_ABORTED included: answers, not faults).',
    labelNames: ['store', 'code'],
    registers,
    collect() {
      this.reset()
      for (const s of o.stores) for (const [code, n] of Object.entries(s.stats.errors)) this.inc({ store: s.name, code }, n)
    },
  })
  const f = o.fallback
  if (f !== undefined) {
    new Counter({
      name: 'cutover_store_fallbacks_total',
      help: 'Stats and reads that left a store for the next, by the store left and the error code that made it be left.',
      labelNames: ['store', 'reason'],
      registers,
      collect() {
        this.reset()
        for (const [store, by] of Object.entries(f.fallbacks)) for (const [reason, n] of Object.entries(by)) this.inc({ store, reason }, n)
      },
    })
    m.counter('cutover_store_read_reroutes_total', 'Reads that failed on their store and continued from a later one holding the declared bytes.', () => f.readReroutes)
    m.labelledCounter('cutover_store_reroutes_refused_total', 'Failed reads that could not continue elsewhere, by reason (undeclared, digest, size, unavailable).', 'reason', () => f.refused)
    m.counter('cutover_store_verifications_total', 'Blob versions of later stores hashed in full before a read continued from them.', () => f.verifications)
  }
}
