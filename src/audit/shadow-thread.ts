import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { systemClock } from '../core/clock.js'
import { codeOf, CutoverError } from '../core/errors.js'
import { within } from '../core/within.js'
import type { GiveUpCode, TeeSink } from './body-tee.js'
import type { Comparison } from './divergence.js'
import type { ExchangeRequest, Observed } from './exchange.js'
import type { PortableBackendOptions } from './http-backend.js'
import type { Clock } from '../core/clock.js'
import { PAIR_HOLD_BYTES } from './digest-pair.js'
import type { EtagPairs } from './etag-pairs.js'
import type { ExperimentOptions } from './experiment.js'
import { checkPace } from './read-pacer.js'
import type { Rules } from './rules.js'
import type { ZoomBudget } from './zoom.js'

/**
 * SLOT_BYTES is the size of the slots the primary's bodies go to the comparison thread in: 256 KiB.
 * A body is copied into a slot of shared memory as it comes, and the slot is handed over (one small
 * message) when it is full, when the body ends, or when it has waited {@link FLUSH_MS}. The thread
 * copies the bytes out at once and frees the slot: the memory is fixed, and no buffer goes from one
 * thread's collector to the other's (moving them, the mirror peaked at 520-685 MB in three runs at
 * saturation).
 */
export const SLOT_BYTES = 256 * 1024

/** FLUSH_MS is how long bytes may wait in a slot that is not full (a slow download's): 50 ms. */
export const FLUSH_MS = 50

/**
 * Slots of the counters the mirror and its comparison thread share (an Int32Array): bytes of
 * primary bodies handed over and not yet taken by the thread, and bytes taken and not yet read by
 * its comparers. With the bytes in slots being filled, they are what the tee budget bounds.
 */
export const POSTED = 0
export const UNREAD = 1

/** CLOSE_MS is how long close() waits for the thread to exit on its own before stopping it: 5 s. */
const CLOSE_MS = 5000

/** THREAD_YOUNG_MB is the comparison thread's young generation, in MB (see ShadowThread). */
const THREAD_YOUNG_MB = 8

/** slotCount is how many slots a budget of `budgetBytes` makes (at least one). */
export const slotCount = (budgetBytes: number): number => Math.max(1, Math.floor(budgetBytes / SLOT_BYTES))

/** ShadowExperiment is what the mirror's experiment options are made from, on either thread. */
export interface ShadowExperiment {
  readonly primaryIsOld: boolean
  readonly rules?: Rules | undefined
  readonly etags: EtagPairs
  readonly bodyTimeoutMs?: number | undefined
  readonly zoom?: ZoomBudget | undefined
  readonly clock: Clock
  readonly shadowRate?: number | undefined
}

/**
 * shadowExperiment is the options of a mirror's comparisons, the same whichever thread runs them:
 * validators carry the tags of whichever server answers clients; past the pair's hold, the shadow
 * body is read no faster than `shadowRate` (checked here, not at the first large body).
 */
export function shadowExperiment(o: ShadowExperiment): ExperimentOptions {
  return {
    rules: o.rules,
    etags: o.etags,
    validatorsOf: o.primaryIsOld ? 'control' : 'candidate',
    bodyTimeoutMs: o.bodyTimeoutMs,
    zoom: o.zoom,
    clock: o.clock,
    shadowPace: o.shadowRate === undefined ? undefined : checkPace({ afterBytes: PAIR_HOLD_BYTES, bytesPerSecond: o.shadowRate }),
  }
}

/** ShadowThreadConfig is what the comparison thread is started with: plain data only. */
export interface ShadowThreadConfig {
  /** Which server answers clients: its body comes from the mirror, and its re-requests go to it. */
  readonly primaryIsOld: boolean
  readonly old: PortableBackendOptions
  readonly new: PortableBackendOptions
  readonly baseline?: PortableBackendOptions | undefined
  readonly rules?: Rules | undefined
  /** Re-requests a minute that locate a difference exactly; unset: none (`--no-zoom`). */
  readonly zoomPerMinute?: number | undefined
  readonly bodyTimeoutMs?: number | undefined
  /** The most bytes a second a shadow body is read past the pair's hold (see MirrorOptions.shadowRate). */
  readonly shadowRate?: number | undefined
  /** The bound of each primary body's tee: bytes received by the thread and not yet read by its comparer. */
  readonly teeBytes: number
  /** The bound of all of them together, with those on their way and in slots. */
  readonly budgetBytes: number
}

/** WorkerData is what the thread is started with: its configuration and the memory it shares with the mirror. */
export interface WorkerData extends ShadowThreadConfig {
  /** The shared counters ({@link POSTED}, {@link UNREAD}). */
  readonly held: SharedArrayBuffer
  /** The slots ({@link slotCount} of {@link SLOT_BYTES}). */
  readonly slots: SharedArrayBuffer
  /** Each slot's state (Int32Array): 1 while the mirror fills it or the thread has not taken its bytes, 0 once free. */
  readonly slotState: SharedArrayBuffer
}

/**
 * Begin rides on the first message of a body: the thread starts its digest then (its multipart
 * boundary, if any). The thread forgets a body only after its comparison ran or was stopped, both
 * of which come after that first message.
 */
export interface Begin {
  readonly boundary: string | undefined
}

/** ToWorker are the messages the mirror sends the comparison thread. */
export type ToWorker =
  | { readonly t: 'data'; readonly id: number; readonly begin?: Begin | undefined; readonly slot: number; readonly length: number; readonly end: boolean }
  | { readonly t: 'error'; readonly id: number; readonly begin?: Begin | undefined; readonly code: string | undefined; readonly message: string }
  | { readonly t: 'abandon'; readonly id: number; readonly begin?: Begin | undefined; readonly code: GiveUpCode }
  | {
      readonly t: 'run'
      readonly id: number
      readonly begin?: Begin | undefined
      readonly req: ExchangeRequest
      readonly primary: ObservedHead
      readonly remote: string
    }
  | { readonly t: 'stop'; readonly id: number }
  | { readonly t: 'shutdown'; readonly message: string }
  | { readonly t: 'close' }

/** FromWorker are the messages the comparison thread sends back. */
export type FromWorker =
  /** The thread listens: what is sent from now on is taken as it comes. */
  | { readonly t: 'ready' }
  | {
      readonly t: 'done'
      readonly id: number
      readonly comparison?: Comparison | undefined
      /** Why there is no comparison: the experiment threw (a bug). */
      readonly failure?: string | undefined
      /** Each answer of a server the experiment sent to: its duration, and whether it failed. */
      readonly answers: ReadonlyArray<{ readonly durationMs: number; readonly error: boolean }>
      readonly zooms: { readonly made: number; readonly refused: number }
    }

/** ObservedHead is an observation without its body, as it crosses to the comparison thread. */
export type ObservedHead = Exclude<Observed, { kind: 'response' }> | Omit<Extract<Observed, { kind: 'response' }>, 'body'>

/** ThreadOutcome is what a shadow comparison run in the thread came to. */
export interface ThreadOutcome {
  readonly comparison?: Comparison | undefined
  readonly failure?: string | undefined
  /** The failure is the thread's own: it failed, and every comparison after it fails alike. */
  readonly threadFailed?: boolean
  readonly answers: ReadonlyArray<{ readonly durationMs: number; readonly error: boolean }>
}

/**
 * ThreadFeed is the mirror's tee of one primary body when comparisons run in a
 * {@link ShadowThread}: the same contract as a BodyTee's producer side (never blocks, never waits),
 * but the chunks are copied into a slot of shared memory and handed to the comparison thread a
 * slot at a time. The bounds are the same too: there each body's tee holds at most the tee bound
 * of bytes its comparer has not read, and all of them together, with the bytes on their way and in
 * slots, the tee budget; a push past either (or with no slot free) gives the comparison up
 * (ERR_ABANDONED).
 */
export class ThreadFeed implements TeeSink {
  readonly id: number
  readonly #thread: ShadowThread
  /** The slot being filled, if any (-1), its bytes, and how many it holds. */
  #slot = -1
  #view: Uint8Array | undefined
  #gathered = 0
  /** @internal when the slot being filled got its first byte (handed over after FLUSH_MS). */
  since = 0
  #boundary: string | undefined
  /** The primary answered: a body is coming. */
  #begun = false
  /** The thread was told the body starts (at its first message). */
  #announced = false
  /** end, error or abandon was called (nothing more is sent but a stop). */
  #finished = false
  /** The thread is done with it (ran, or was told to stop): nothing more is sent. */
  #closed = false

  /** @internal made by {@link ShadowThread.feed}. */
  constructor(thread: ShadowThread, id: number) {
    this.#thread = thread
    this.id = id
  }

  /** begin says that the body starts (its multipart boundary, if any). */
  begin(boundary: string | undefined): void {
    this.#begun = true
    this.#boundary = boundary
  }

  push(chunk: Uint8Array): void {
    if (!this.#begun || this.#finished || this.#closed) return
    const thread = this.#thread
    // The bound is on the bytes the comparer has not read, as with a tee, not on how they travel:
    // what is gathered goes over before it would pass it.
    const bound = thread.teeBytes
    if (this.#gathered > 0 && this.#gathered + chunk.length > bound) this.#flush(false)
    if (chunk.length > bound || !thread.room(this.#gathered + chunk.length)) {
      this.abandon('ERR_ABANDONED')
      return
    }
    let at = 0
    while (at < chunk.length) {
      if (this.#slot < 0) {
        this.#slot = thread.take()
        if (this.#slot < 0) {
          this.abandon('ERR_ABANDONED')
          return
        }
        this.#view = thread.slot(this.#slot)
        this.since = performance.now()
        thread.filling(this)
      }
      const n = Math.min(SLOT_BYTES - this.#gathered, chunk.length - at)
      this.#view!.set(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n), this.#gathered)
      this.#gathered += n
      at += n
      if (this.#gathered === SLOT_BYTES || this.#gathered >= bound) this.#flush(false)
    }
  }

  end(): void {
    if (!this.#begun || this.#finished || this.#closed) return
    this.#finished = true
    this.#flush(true)
  }

  error(err: unknown): void {
    if (!this.#begun || this.#finished || this.#closed) return
    this.#finished = true
    // What was received before the break is compared, as with a tee.
    if (this.#gathered > 0) this.#flush(false)
    this.#thread.post({ t: 'error', id: this.id, begin: this.first(), code: codeOf(err), message: err instanceof Error ? err.message : String(err) })
  }

  abandon(code: GiveUpCode = 'ERR_ABANDONED'): void {
    if (!this.#begun || this.#finished || this.#closed) return
    this.#finished = true
    this.#drop()
    this.#thread.post({ t: 'abandon', id: this.id, begin: this.first(), code })
  }

  /** @internal what the first message of the body carries: its {@link Begin} (undefined on the others, and without a body). */
  first(): Begin | undefined {
    if (this.#announced || !this.#begun) return undefined
    this.#announced = true
    return { boundary: this.#boundary }
  }

  /** @internal hands over what waits in the slot, if anything (FLUSH_MS passed). */
  flushWaiting(): void {
    if (this.#gathered > 0 && !this.#finished && !this.#closed) this.#flush(false)
  }

  /** @internal the thread is done with this body: nothing more is sent. */
  close(): void {
    this.#closed = true
    this.#drop()
  }

  /** #drop frees the slot being filled, unsent. */
  #drop(): void {
    if (this.#slot >= 0) this.#thread.free(this.#slot)
    this.#slot = -1
    this.#view = undefined
    this.#gathered = 0
  }

  /** #flush hands the slot over (a body that ends with nothing in a slot sends its end alone). */
  #flush(end: boolean): void {
    const begin = this.first()
    const length = this.#gathered
    const slot = this.#slot
    this.#slot = -1
    this.#view = undefined
    this.#gathered = 0
    if (length > 0) this.#thread.posted(length)
    else if (slot >= 0) this.#thread.free(slot)
    this.#thread.post({ t: 'data', id: this.id, begin, slot: length > 0 ? slot : -1, length, end })
  }
}

/** ShadowThreadOptions configure a {@link ShadowThread}. */
export interface ShadowThreadOptions {
  readonly config: ShadowThreadConfig
  /** Told when the thread fails (its comparisons in flight are then given up). */
  readonly onFailure?: (err: Error) => void
}

/**
 * ShadowThread runs the mirror's comparisons in a worker thread of their own: the other server's
 * answers are read and both bodies hashed and compared there, with the same experiment as on the
 * main thread (`runExperiment`), so that the client path keeps the main thread. The primary's body
 * goes over through {@link ThreadFeed}s; each comparison comes back as its record. A thread that
 * fails gives up the comparisons in flight (each resolves with a failure) and those after it.
 */
export class ShadowThread {
  readonly #worker: Worker
  readonly #feeds = new Map<number, ThreadFeed>()
  readonly #runs = new Map<number, (o: ThreadOutcome) => void>()
  readonly #onFailure: ((err: Error) => void) | undefined
  readonly #exited: Promise<void>
  readonly #held: Int32Array
  /** The bound of each body's bytes not yet read by its comparer (ShadowThreadConfig.teeBytes). */
  readonly teeBytes: number
  readonly #budget: number
  readonly #slots: Uint8Array
  readonly #slotState: Int32Array
  /** Feeds with a slot being filled: what waits there longer than FLUSH_MS is handed over. */
  readonly #filling = new Set<ThreadFeed>()
  readonly #flushTimer: NodeJS.Timeout
  #next = 1
  #failed: string | undefined
  /** close() was called: the thread's exit is expected. */
  #closing = false
  /** Re-requests made and refused by the thread's zoom budget so far (updated with each record). */
  readonly zooms = { made: 0, refused: 0 }
  /**
   * Resolves once the thread listens (or has failed). Bodies sent before are queued, not lost, but
   * a fast one could pass its tee's bound while the thread loads: a 16 MiB download at loopback
   * speed, the first request after the start, was given up that way in tests.
   */
  readonly ready: Promise<void>
  #readied!: () => void

  constructor(o: ShadowThreadOptions) {
    const count = slotCount(o.config.budgetBytes)
    const data: WorkerData = {
      ...o.config,
      held: new SharedArrayBuffer(8),
      slots: new SharedArrayBuffer(count * SLOT_BYTES),
      slotState: new SharedArrayBuffer(4 * count),
    }
    this.#held = new Int32Array(data.held)
    this.#budget = o.config.budgetBytes
    this.teeBytes = o.config.teeBytes
    this.#slots = new Uint8Array(data.slots)
    this.#slotState = new Int32Array(data.slotState)
    this.#onFailure = o.onFailure
    this.ready = new Promise(resolve => (this.#readied = resolve))
    this.#worker = new Worker(new URL('./shadow-worker.js', import.meta.url), {
      workerData: data,
      // The thread's garbage is short-lived (socket buffers, the bytes it takes from the slots): a
      // young generation of 8 MB. With V8's default the mirror's memory reached 520-685 MB in three
      // runs of 10 s at saturation, against 291-294 MB.
      resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_MB },
    })
    this.#flushTimer = setInterval(() => this.#flushWaiting(), FLUSH_MS).unref()
    this.#worker.on('message', (m: FromWorker) => this.#onMessage(m))
    this.#worker.on('error', err => this.#fail(err))
    this.#exited = new Promise(resolve =>
      this.#worker.once('exit', code => {
        // Asked to close, it exits: nothing failed (what still waits is given up all the same).
        this.#fail(new Error(`the comparison thread exited${code === 0 ? '' : ` with code ${code}`}`))
        resolve()
      }),
    )
  }

  /**
   * eventLoopUtilization is the thread's own (performance.eventLoopUtilization's contract): a
   * {@link LoadGauge} made with it tells how busy the comparisons keep their thread.
   */
  readonly eventLoopUtilization: typeof performance.eventLoopUtilization = (a, b) => this.#worker.performance.eventLoopUtilization(a, b)

  /** feed makes the tee of one primary body that a comparison in this thread will read. */
  feed(): ThreadFeed {
    const f = new ThreadFeed(this, this.#next++)
    // A failed thread takes nothing more: the feed is closed at once, and its comparison gives up when it runs.
    if (this.#failed === undefined) this.#feeds.set(f.id, f)
    else f.close()
    return f
  }

  /**
   * run compares the primary's answer (`primary`, its body from `feed`) with the other server's,
   * in the thread. Never rejects: a thread that failed resolves with a failure.
   */
  run(feed: ThreadFeed, req: ExchangeRequest, primary: Observed, remote: string): Promise<ThreadOutcome> {
    if (this.#failed !== undefined) {
      this.#release(feed)
      return Promise.resolve({ failure: this.#failed, threadFailed: true, answers: [] })
    }
    const head: ObservedHead = primary.kind === 'response' ? { kind: 'response', status: primary.status, headers: primary.headers, durationMs: primary.durationMs } : primary
    return new Promise(resolve => {
      this.#runs.set(feed.id, resolve)
      this.post({ t: 'run', id: feed.id, begin: feed.first(), req, primary: head, remote })
    })
  }

  /** stop tells the thread that the comparison of this body will not run: its digest stops. */
  stop(feed: ThreadFeed): void {
    if (!this.#feeds.has(feed.id)) return
    this.post({ t: 'stop', id: feed.id })
    this.#release(feed)
  }

  /** shutdown cuts every comparison in the thread (their sends and reads fail with ERR_SHUTDOWN). */
  shutdown(message: string): void {
    this.post({ t: 'shutdown', message })
  }

  /** close stops the thread once its comparisons are done or cut; resolves when it has exited. */
  async close(): Promise<void> {
    this.#closing = true
    clearInterval(this.#flushTimer)
    this.post({ t: 'close' })
    // The thread closes its connections and exits; a thread that does not is stopped.
    if (!(await within(this.#exited, CLOSE_MS, systemClock))) await this.#worker.terminate()
  }

  /** held is how many bytes of primary bodies the thread holds, or are on their way to it. */
  get held(): number {
    return Atomics.load(this.#held, POSTED) + Atomics.load(this.#held, UNREAD)
  }

  /** @internal whether `bytes` more may be held without going over the budget. */
  room(bytes: number): boolean {
    return this.held + bytes <= this.#budget
  }

  /** @internal `bytes` were posted to the thread. */
  posted(bytes: number): void {
    Atomics.add(this.#held, POSTED, bytes)
  }

  /**
   * @internal takes the first free slot; -1 when none is. The first, so that only as many slots
   * are ever written (and resident) as were in use at once.
   */
  take(): number {
    const n = this.#slotState.length
    for (let i = 0; i < n; i++) if (Atomics.compareExchange(this.#slotState, i, 0, 1) === 0) return i
    return -1
  }

  /** @internal the bytes of slot `i`. */
  slot(i: number): Uint8Array {
    return this.#slots.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES)
  }

  /** @internal frees a slot that was not handed over. */
  free(i: number): void {
    Atomics.store(this.#slotState, i, 0)
  }

  /** @internal a feed started filling a slot. */
  filling(feed: ThreadFeed): void {
    this.#filling.add(feed)
  }

  /** #flushWaiting hands over the slots that waited FLUSH_MS or more (their feeds' downloads are slow). */
  #flushWaiting(): void {
    const before = performance.now() - FLUSH_MS
    for (const f of this.#filling) {
      if (f.since > before) continue
      this.#filling.delete(f)
      f.flushWaiting()
    }
  }

  /** @internal */
  post(m: ToWorker): void {
    if (this.#failed !== undefined) return
    this.#worker.postMessage(m)
  }

  #release(feed: ThreadFeed): void {
    this.#feeds.delete(feed.id)
    feed.close()
  }

  #onMessage(m: FromWorker): void {
    if (m.t === 'ready') this.#readied()
    else if (m.t === 'done') {
      Object.assign(this.zooms, m.zooms)
      const feed = this.#feeds.get(m.id)
      if (feed) this.#release(feed)
      const resolve = this.#runs.get(m.id)
      this.#runs.delete(m.id)
      resolve?.({ comparison: m.comparison, failure: m.failure, answers: m.answers })
    }
  }

  #fail(err: Error): void {
    if (this.#failed !== undefined) return
    this.#failed = `the comparison thread failed: ${err.message}`
    this.#readied()
    for (const resolve of this.#runs.values()) resolve({ failure: this.#failed, threadFailed: true, answers: [] })
    this.#runs.clear()
    for (const f of this.#feeds.values()) f.close()
    this.#feeds.clear()
    if (!this.#closing) this.#onFailure?.(err)
  }
}

/** feedError is the error a tee of the comparison thread is failed with, from a {@link ToWorker} `error`: a CutoverError when it had a code. */
export function feedError(code: string | undefined, message: string): Error {
  return code === undefined ? new Error(message) : new CutoverError(code as ConstructorParameters<typeof CutoverError>[0], message)
}
