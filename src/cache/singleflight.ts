import { abortError, CutoverError } from '../core/errors.js'

/** One underlying load and the waiters that share it. */
interface Flight<V> {
  readonly controller: AbortController
  readonly promise: Promise<V>
  /** Waiters still waiting (each one left exactly once: settled, or aborted). */
  waiters: number
  settled: boolean
}

/**
 * Singleflight runs at most one load per key at a time, as Go's `golang.org/x/sync/singleflight`
 * does, with cancellation by reference count: every caller of {@link Singleflight.do} for a key
 * whose load is in flight waits on that same load instead of starting another.
 *
 * Contract:
 * - Concurrent calls of one key cause ONE call of `load`; every waiter settles with its result (the
 *   same value, or the same error).
 * - Each waiter has its own AbortSignal. A waiter whose signal aborts rejects at once with
 *   ERR_ABORTED and leaves; the others keep waiting, unharmed. The signal given to `load` aborts
 *   only when every waiter has left before the load settled (nobody wants the result any more), and
 *   the key is then forgotten at once, so the next call starts a fresh load instead of joining the
 *   abandoned one. A waiter without a signal never leaves, so it keeps the load alive.
 * - Nothing is remembered once a load settles: a failed load is not cached, and the next call of
 *   its key starts a new load (a retry). Caching a value is the caller's business.
 */
export class Singleflight<K, V> {
  readonly #flights = new Map<K, Flight<V>>()

  /** has tells whether a load of `key` is in flight, i.e. whether {@link do} would join it. */
  has(key: K): boolean {
    return this.#flights.has(key)
  }

  /** size is the number of loads in flight. */
  get size(): number {
    return this.#flights.size
  }

  /**
   * do resolves with the result of the load of `key` in flight, starting `load(signal)` first when
   * there is none; see the class contract for aborts. A signal that is already aborted rejects at
   * once with ERR_ABORTED and neither starts nor joins a load. A `load` that throws synchronously
   * counts as a failed load.
   */
  do(key: K, load: (signal: AbortSignal) => Promise<V>, signal?: AbortSignal): Promise<V> {
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    let flight = this.#flights.get(key)
    if (flight === undefined) flight = this.#start(key, load)
    const f = flight
    f.waiters++
    return new Promise<V>((resolve, reject) => {
      let gone = false
      const onAbort = (): void => {
        if (gone) return
        gone = true
        this.#leave(key, f)
        reject(abortError(signal))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      f.promise.then(
        v => {
          if (gone) return
          gone = true
          signal?.removeEventListener('abort', onAbort)
          f.waiters--
          resolve(v)
        },
        (err: unknown) => {
          if (gone) return
          gone = true
          signal?.removeEventListener('abort', onAbort)
          f.waiters--
          reject(err)
        },
      )
    })
  }

  #start(key: K, load: (signal: AbortSignal) => Promise<V>): Flight<V> {
    const controller = new AbortController()
    // The flight is registered before `load` runs, so a load that (synchronously) asks for its own
    // key joins itself rather than recursing into a second load.
    let settle!: { resolve: (v: V) => void; reject: (e: unknown) => void }
    const promise = new Promise<V>((resolve, reject) => (settle = { resolve, reject }))
    const flight: Flight<V> = { controller, promise, waiters: 0, settled: false }
    this.#flights.set(key, flight)
    // Nobody may be left to observe a failure (every waiter aborted): never an unhandled rejection.
    promise.catch(() => {})
    const done = (): void => {
      flight.settled = true
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
    }
    let running: Promise<V>
    try {
      running = load(controller.signal)
    } catch (err) {
      running = Promise.reject(err)
    }
    running.then(
      v => {
        done()
        settle.resolve(v)
      },
      (err: unknown) => {
        done()
        settle.reject(err)
      },
    )
    return flight
  }

  /** leave drops one waiter; the last one to leave an unsettled load aborts it and forgets it. */
  #leave(key: K, flight: Flight<V>): void {
    flight.waiters--
    if (flight.waiters > 0 || flight.settled) return
    if (this.#flights.get(key) === flight) this.#flights.delete(key)
    flight.controller.abort(new CutoverError('ERR_ABORTED', 'every waiter of the load left'))
  }
}
