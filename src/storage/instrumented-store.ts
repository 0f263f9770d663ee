import { systemClock, type Clock } from '../core/clock.js'
import { codeOf } from '../core/errors.js'
import type { BlobInfo, BlobStore } from './blob-store.js'

/** StoreOp names the operations of a {@link BlobStore}, as labels. */
export type StoreOp = 'stat' | 'read'

/**
 * StoreLatency receives the duration of every operation of one store, successful or not: what a
 * Prometheus histogram (`prom-client`'s `observe`) consumes, without storage/ depending on it.
 */
export interface StoreLatency {
  /** observe takes the duration in seconds of one `op` that ended, with `error` its code when it failed (`other` for a non-CutoverError). */
  observe(op: StoreOp, seconds: number, error?: string): void
}

/** InstrumentedStoreStats are the counters of one store; `errors` is a null-prototype record. */
export interface InstrumentedStoreStats {
  /** Stats asked of the store, ended or not. */
  stats: number
  /** Reads asked of the store, ended or not. */
  reads: number
  /** Bytes the store's reads resolved with. */
  bytesRead: number
  /**
   * Failed operations (stats and reads) by error code (`other` for an error that is not a
   * CutoverError). ERR_NOT_FOUND and ERR_ABORTED are counted too: they are answers, not faults, and a
   * consumer that wants faults only leaves them out.
   */
  readonly errors: Record<string, number>
}

/** InstrumentedStoreOptions configures an {@link InstrumentedStore}. */
export interface InstrumentedStoreOptions {
  /** The store's name in metrics (`s3`, `disk`). Non-empty. */
  readonly name: string
  /** Receives every operation's duration. If unset, durations are not measured. */
  readonly latency?: StoreLatency
  /** Where durations are read from (its monotonic reading). If unset, defaults to systemClock. */
  readonly clock?: Clock
}

/**
 * InstrumentedStore is a {@link BlobStore} that passes every call to `store` unchanged and counts it
 * ({@link InstrumentedStoreStats}), giving its duration to a {@link StoreLatency}: a store's
 * requests, bytes, faults and latency, which the metrics report per store. Wrap each store of
 * a fallback chain in its own, so a store's figures are its own.
 */
export class InstrumentedStore<I extends BlobInfo = BlobInfo> implements BlobStore<I> {
  /** The store's name in metrics ({@link InstrumentedStoreOptions.name}). */
  readonly name: string
  /** The store's counters (see {@link InstrumentedStoreStats}), read by telemetry/store-metrics.ts at scrape time. */
  readonly stats: InstrumentedStoreStats = { stats: 0, reads: 0, bytesRead: 0, errors: Object.create(null) as Record<string, number> }
  readonly #store: BlobStore<I>
  readonly #latency: StoreLatency | undefined
  readonly #clock: Clock

  /** Throws TypeError for an empty name. */
  constructor(store: BlobStore<I>, o: InstrumentedStoreOptions) {
    if (typeof o.name !== 'string' || o.name === '') throw new TypeError('an instrumented store needs a name')
    this.name = o.name
    this.#store = store
    this.#latency = o.latency
    this.#clock = o.clock ?? systemClock
  }

  /** stat is the store's {@link BlobStore.stat}, counted. */
  async stat(key: string, signal?: AbortSignal): Promise<I> {
    this.stats.stats++
    const start = this.#clock.monotonic()
    try {
      const info = await this.#store.stat(key, signal)
      this.#latency?.observe('stat', (this.#clock.monotonic() - start) / 1000)
      return info
    } catch (err) {
      this.#failed('stat', start, err)
      throw err
    }
  }

  /** read is the store's {@link BlobStore.read}, counted with the bytes it resolved with. */
  async read(info: I, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> {
    this.stats.reads++
    const start = this.#clock.monotonic()
    try {
      const bytes = await this.#store.read(info, off, len, signal)
      this.stats.bytesRead += bytes.length
      this.#latency?.observe('read', (this.#clock.monotonic() - start) / 1000)
      return bytes
    } catch (err) {
      this.#failed('read', start, err)
      throw err
    }
  }

  /** #failed counts a failure by its code and gives its duration. */
  #failed(op: StoreOp, start: number, err: unknown): void {
    const code = codeOf(err) ?? 'other'
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1
    this.#latency?.observe(op, (this.#clock.monotonic() - start) / 1000, code)
  }
}
