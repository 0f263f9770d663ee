import { LRUCache } from 'lru-cache'
import { systemClock, type Clock } from '../core/clock.js'
import { abortError, codeOf } from '../core/errors.js'
import type { BlobInfo, BlobStore } from './blob-store.js'

/**
 * DEFAULT_STAT_TTL_MS is how long a stat is trusted (the future `--stat-ttl`): one second. It is how
 * soon a replaced blob is served: for up to this long after a replace, requests are answered from the
 * old info (a read of it fails with ERR_BLOB_CHANGED, which drops it at once, see {@link StatCache}).
 * One second is the file store's settle time (a blob younger than that is never trusted anyway) and
 * turns the stats of a hot blob, one per request (a HEAD to a remote store, tens of milliseconds),
 * into one per second.
 */
export const DEFAULT_STAT_TTL_MS = 1000

/**
 * DEFAULT_STAT_CACHE_ENTRIES bounds the blobs whose stat is kept: 10,000, a manifest of 10,000
 * payloads (the bench's) at a few hundred bytes each, a few MB at most.
 */
export const DEFAULT_STAT_CACHE_ENTRIES = 10_000

/** StatCacheOptions configures a {@link StatCache}. */
export interface StatCacheOptions {
  /**
   * How long, in milliseconds, a stat is trusted, counted from when it was asked (so never longer than
   * the store's answer could be stale). If unset, defaults to {@link DEFAULT_STAT_TTL_MS}. 0 keeps
   * nothing: concurrent stats are still joined.
   */
  readonly ttlMs?: number
  /** The most keys kept, least recently used dropped first. If unset, defaults to {@link DEFAULT_STAT_CACHE_ENTRIES}. */
  readonly maxEntries?: number
  /** Where time comes from (its monotonic reading, immune to clock steps). If unset, defaults to systemClock. */
  readonly clock?: Clock
}

/** StatCacheStats are the counters of a {@link StatCache}. */
export interface StatCacheStats {
  /** Stats answered from a trusted entry. */
  hits: number
  /** Stats that asked the store (joined ones not counted). */
  misses: number
  /** Stats that joined one already asking the store for the same key. */
  joined: number
  /** Entries dropped because a read of them found the blob changed. */
  invalidated: number
}

/** Entry is a kept stat and when (monotonic ms) it was asked. */
interface Entry<I> {
  readonly info: I
  readonly at: number
}

/** Flight is one stat of the store in progress, shared by every caller of its key. */
interface Flight<I> {
  readonly key: string
  readonly promise: Promise<I>
  readonly controller: AbortController
  /** Callers still waiting (not aborted): when none is left, the store's stat is aborted. */
  waiting: number
}

/**
 * StatCache is a {@link BlobStore} that trusts a store's stat for `ttlMs` per key, so a hot blob costs
 * the store one stat per `ttlMs`, not one per request.
 *
 * - Concurrent stats of one key share one stat of the store (singleflight). Each caller's own signal
 *   rejects only its own wait with ERR_ABORTED; the store's stat is aborted once every caller waiting
 *   on it has gone.
 * - Only settled infos are kept: an info whose `version` is undefined (settling) is never kept, since
 *   its blob may still be changing and it must be looked at again on the next request.
 * - Errors are never kept, ERR_NOT_FOUND included: a blob published (or a store recovered) is found
 *   by the next request, and the cost of a flood of requests for a missing key stays what it is
 *   without the cache, one store stat per request, fewer where they overlap (joined).
 * - `read` passes through; when it rejects with ERR_BLOB_CHANGED the kept stat of that key is dropped
 *   if it is that same info, so the next request sees the new version at once rather than after
 *   `ttlMs`.
 *
 * Thus a replaced blob is served at most `ttlMs` after the replace, sooner once a read notices.
 */
export class StatCache<I extends BlobInfo = BlobInfo> implements BlobStore<I> {
  /** The cache's counters (see {@link StatCacheStats}). */
  readonly stats: StatCacheStats = { hits: 0, misses: 0, joined: 0, invalidated: 0 }
  readonly #store: BlobStore<I>
  readonly #ttlMs: number
  readonly #clock: Clock
  readonly #entries: LRUCache<string, Entry<I>>
  readonly #flights = new Map<string, Flight<I>>()

  /** Throws TypeError for a negative or non-finite ttlMs, or a maxEntries that is not a positive integer. */
  constructor(store: BlobStore<I>, o: StatCacheOptions = {}) {
    const ttlMs = o.ttlMs ?? DEFAULT_STAT_TTL_MS
    if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new TypeError('ttlMs must be a nonnegative number')
    const max = o.maxEntries ?? DEFAULT_STAT_CACHE_ENTRIES
    if (!Number.isSafeInteger(max) || max <= 0) throw new TypeError('maxEntries must be a positive integer')
    this.#store = store
    this.#ttlMs = ttlMs
    this.#clock = o.clock ?? systemClock
    this.#entries = new LRUCache({ max })
  }

  /** size is how many stats are kept now (expired ones included until looked up or pushed out). */
  get size(): number {
    return this.#entries.size
  }

  /** stat is {@link BlobStore.stat}: the kept info while it is trusted, else the store's (see {@link StatCache}). */
  async stat(key: string, signal?: AbortSignal): Promise<I> {
    if (signal?.aborted) throw abortError(signal)
    const kept = this.#entries.get(key)
    if (kept !== undefined) {
      if (this.#clock.monotonic() - kept.at < this.#ttlMs) {
        this.stats.hits++
        return kept.info
      }
      this.#entries.delete(key)
    }
    let flight = this.#flights.get(key)
    if (flight === undefined) {
      this.stats.misses++
      flight = this.#fly(key)
    } else {
      this.stats.joined++
    }
    return this.#wait(flight, signal)
  }

  /**
   * fresh is the kept info of `key` while it is trusted, else undefined, without asking the store,
   * waiting or counting: what a caller revalidating a version it derived something from compares
   * with, synchronously, on every request.
   */
  fresh(key: string): I | undefined {
    const kept = this.#entries.peek(key)
    return kept !== undefined && this.#clock.monotonic() - kept.at < this.#ttlMs ? kept.info : undefined
  }

  /** read is {@link BlobStore.read} of the store; ERR_BLOB_CHANGED drops the kept stat of that info. */
  async read(info: I, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> {
    try {
      return await this.#store.read(info, off, len, signal)
    } catch (err) {
      // By version, not identity: a caller may read through a copy of the info (FallbackBlobInfo with its sha256).
      if (codeOf(err) === 'ERR_BLOB_CHANGED' && this.#entries.peek(info.key)?.info.version === info.version) {
        this.#entries.delete(info.key)
        this.stats.invalidated++
      }
      throw err
    }
  }

  /** #fly starts the one stat of `key` that callers share, and keeps its answer if it may be kept. */
  #fly(key: string): Flight<I> {
    const controller = new AbortController()
    // Taken before asking: the answer may be as old as the question.
    const at = this.#clock.monotonic()
    const promise = (async (): Promise<I> => {
      // One tick first, so that the flight is registered before `finally` can run (a store that throws at once).
      await undefined
      try {
        const info = await this.#store.stat(key, controller.signal)
        if (info.version !== undefined && this.#ttlMs > 0) this.#entries.set(key, { info, at })
        return info
      } finally {
        this.#land(key, controller)
      }
    })()
    const flight: Flight<I> = { key, promise, controller, waiting: 0 }
    this.#flights.set(key, flight)
    // Nobody may be left to await it (all aborted): its rejection must not go unhandled.
    promise.catch(() => undefined)
    return flight
  }

  /**
   * #land forgets the flight of `key` that `controller` belongs to, once it ended or was given up,
   * unless another flight has taken the key since.
   */
  #land(key: string, controller: AbortController): void {
    if (this.#flights.get(key)?.controller === controller) this.#flights.delete(key)
  }

  /** #wait is one caller's wait for a flight, which its own signal ends early. */
  #wait(flight: Flight<I>, signal: AbortSignal | undefined): Promise<I> {
    flight.waiting++
    if (signal === undefined) return flight.promise
    return new Promise<I>((resolve, reject) => {
      const onAbort = (): void => {
        if (--flight.waiting === 0) {
          // A caller arriving now must start a stat of its own, not join one being aborted.
          this.#land(flight.key, flight.controller)
          flight.controller.abort(signal.reason)
        }
        reject(abortError(signal))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      flight.promise.then(
        info => {
          signal.removeEventListener('abort', onAbort)
          resolve(info)
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(err)
        },
      )
    })
  }
}
