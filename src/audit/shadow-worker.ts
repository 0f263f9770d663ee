/**
 * The comparison thread of a mirror (see {@link ShadowThread}): it takes the primary's bodies from
 * the shared slots, sends the shadow requests to the other server, and runs the same experiment as
 * the main thread would; each comparison goes back as its record.
 */
import { setMaxListeners } from 'node:events'
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { CutoverError } from '../core/errors.js'
import { Halt } from '../core/halt.js'
import { systemClock } from '../core/clock.js'
import { BodyTee, TeeBudget } from './body-tee.js'
import { digestBody, type SideBody } from './digest-body.js'
import { DEFAULT_PAIR_BUDGET, DigestPair } from './digest-pair.js'
import { EtagPairs } from './etag-pairs.js'
import { EMPTY_BODY, withBody, type ExchangeRequest, type Observed } from './exchange.js'
import { runExperiment, type Answered, type ExperimentOptions } from './experiment.js'
import { HttpBackend } from './http-backend.js'
import { feedError, POSTED, shadowExperiment, SLOT_BYTES, UNREAD, type FromWorker, type ObservedHead, type ToWorker, type WorkerData } from './shadow-thread.js'
import { ZoomBudget } from './zoom.js'

/** One primary body in the thread: the tee its comparer reads, and its digest (started at its first message). */
interface Entry {
  readonly tee: BodyTee
  readonly digest: { readonly body: Promise<SideBody>; readonly stop: (reason: unknown) => void; readonly pair: DigestPair }
}

/**
 * PAIR_BUDGET_FACTOR: the thread's pairs may hold twice the main thread's budget. A primary's body
 * reaches the thread in slots, often whole before the other server's first byte, so each pair in
 * flight holds its primary's body: with 16 MiB, some 26 pairs of 1 MiB passed the budget, split,
 * and hashed both bodies (SHA-256 took 1.2 ms of each compared exchange; 0.09 ms with 32 MiB).
 */
const PAIR_BUDGET_FACTOR = 2

/** ShadowWorker is the thread's state and its handling of the mirror's messages. */
class ShadowWorker {
  readonly #port: MessagePort
  readonly #config: WorkerData
  readonly #backends: { readonly old: HttpBackend; readonly new: HttpBackend; readonly baseline: HttpBackend | undefined }
  readonly #experiment: ExperimentOptions
  readonly #pairBudget = new TeeBudget(PAIR_BUDGET_FACTOR * DEFAULT_PAIR_BUDGET)
  readonly #stop = new AbortController()
  readonly #entries = new Map<number, Entry>()
  readonly #held: Int32Array
  readonly #slots: Uint8Array
  readonly #slotState: Int32Array
  readonly #zoom: ZoomBudget | undefined
  #running = 0
  #closing = false

  constructor(port: MessagePort, config: WorkerData) {
    this.#port = port
    this.#config = config
    this.#backends = {
      old: new HttpBackend(config.old),
      new: new HttpBackend(config.new),
      baseline: config.baseline ? new HttpBackend(config.baseline) : undefined,
    }
    this.#held = new Int32Array(config.held)
    this.#slots = new Uint8Array(config.slots)
    this.#slotState = new Int32Array(config.slotState)
    this.#zoom = config.zoomPerMinute === undefined ? undefined : new ZoomBudget(config.zoomPerMinute)
    // Every shadow send in flight listens to the stop signal: no listener-leak warning past 10.
    setMaxListeners(0, this.#stop.signal)
    this.#experiment = shadowExperiment({ ...config, etags: new EtagPairs(), zoom: this.#zoom, clock: systemClock })
    port.on('message', (m: ToWorker) => this.#onMessage(m))
    this.#post({ t: 'ready' })
  }

  #onMessage(m: ToWorker): void {
    if ((m.t === 'data' || m.t === 'error' || m.t === 'abandon' || m.t === 'run') && m.begin) this.#begin(m.id, m.begin.boundary)
    switch (m.t) {
      case 'data': {
        const tee = this.#entries.get(m.id)?.tee
        if (m.slot >= 0) {
          const bytes = this.#takeSlot(m.slot, m.length)
          this.#counted(tee, t => t.push(bytes))
        }
        if (m.end) tee?.end()
        return
      }
      case 'error':
        this.#entries.get(m.id)?.tee.error(feedError(m.code, m.message))
        return
      case 'abandon':
        this.#counted(this.#entries.get(m.id)?.tee, t => t.abandon(m.code))
        return
      case 'run':
        void this.#run(m.id, m.req, m.primary, m.remote)
        return
      case 'stop':
        this.#forget(m.id, true)
        return
      case 'shutdown':
        // As on the main thread: a body cut here is a comparison given up at shutdown.
        this.#stop.abort(new CutoverError('ERR_SHUTDOWN', m.message))
        for (const e of this.#entries.values()) this.#counted(e.tee, t => t.abandon('ERR_SHUTDOWN'))
        return
      case 'close':
        this.#closing = true
        if (this.#running === 0) void this.#close()
        return
    }
  }

  /**
   * #takeSlot copies a slot's bytes out and frees the slot at once: the bytes then live (and die) in
   * this thread's memory, like those of a socket read.
   */
  #takeSlot(slot: number, length: number): Buffer {
    const bytes = Buffer.allocUnsafe(length)
    bytes.set(this.#slots.subarray(slot * SLOT_BYTES, slot * SLOT_BYTES + length))
    Atomics.store(this.#slotState, slot, 0)
    Atomics.sub(this.#held, POSTED, length)
    return bytes
  }

  /** #counted changes a tee and counts the change of the bytes it holds unread (shared with the mirror, which bounds them). */
  #counted(tee: BodyTee | undefined, change: (tee: BodyTee) => void): void {
    if (!tee) return
    const before = tee.buffered
    change(tee)
    Atomics.add(this.#held, UNREAD, tee.buffered - before)
  }

  /** #read is the tee as its comparer reads it: each chunk read is no longer held unread. */
  #read(tee: BodyTee): AsyncIterable<Uint8Array> {
    const held = this.#held
    return {
      [Symbol.asyncIterator]() {
        const it = tee[Symbol.asyncIterator]()
        return {
          next: async () => {
            const r = await it.next()
            if (!r.done) Atomics.sub(held, UNREAD, r.value.length)
            return r
          },
          // The tee drops what it holds at once (before its promise settles).
          return: () => {
            const before = tee.buffered
            const out = it.return!()
            Atomics.add(held, UNREAD, tee.buffered - before)
            return out
          },
        }
      },
    }
  }

  /** #begin starts a body's digest, as the main thread does when its primary answers. */
  #begin(id: number, boundary: string | undefined): void {
    const tee = new BodyTee(this.#config.teeBytes)
    const halt = new Halt()
    // The shadow's side (1) is paced by the pair; with a baseline the agreed bytes are hashed too.
    const pair = new DigestPair(undefined, this.#pairBudget, [1], this.#config.baseline !== undefined)
    const body = digestBody(this.#read(tee), { boundary, clock: systemClock, signal: halt.signal, digester: pair.side(0) })
    this.#entries.set(id, { tee, digest: { body, stop: reason => halt.abort(reason), pair } })
  }

  /**
   * #forget drops a body once its comparison is over (or will not run): its digest stopped when it
   * did not finish, its tee's bytes no longer held.
   */
  #forget(id: number, stopDigest: boolean): void {
    const e = this.#entries.get(id)
    if (!e) return
    this.#entries.delete(id)
    this.#counted(e.tee, t => t.abandon())
    if (stopDigest) e.digest.stop(new CutoverError('ERR_ABORTED', 'the comparison is over'))
    e.digest.pair.detach()
  }

  /** #run is one comparison, as the mirror's #runShadow runs it on its own thread; its record goes back. */
  async #run(id: number, req: ExchangeRequest, head: ObservedHead, remote: string): Promise<void> {
    this.#running++
    const entry = this.#entries.get(id)
    const answers: Array<{ durationMs: number; error: boolean }> = []
    const zooms = (): { made: number; refused: number } => ({ made: this.#zoom?.made ?? 0, refused: this.#zoom?.refused ?? 0 })
    const { primaryIsOld } = this.#config
    const b = this.#backends
    let ran = false
    try {
      const observed: Observed = head.kind === 'response' ? { ...head, body: EMPTY_BODY } : head
      const answered: Answered = { answer: withBody(observed, entry?.tee), backend: primaryIsOld ? b.old : b.new, paced: true, digest: entry?.digest }
      const comparison = await runExperiment(
        req,
        { control: primaryIsOld ? answered : b.old, candidate: primaryIsOld ? b.new : answered, baseline: b.baseline },
        {
          ...this.#experiment,
          send: { signal: this.#stop.signal, marker: true, forwardedFor: remote },
          onAnswer: (_side, a) => answers.push({ durationMs: a.durationMs, error: a.kind === 'error' }),
        },
      )
      ran = true
      this.#forget(id, false)
      this.#post({ t: 'done', id, comparison, answers, zooms: zooms() })
    } catch (err) {
      this.#forget(id, !ran)
      this.#post({ t: 'done', id, failure: err instanceof Error ? (err.stack ?? err.message) : String(err), answers, zooms: zooms() })
    } finally {
      this.#running--
      if (this.#closing && this.#running === 0) void this.#close()
    }
  }

  #post(m: FromWorker): void {
    this.#port.postMessage(m)
  }

  /** #close releases the connections and the port: the thread then exits. */
  async #close(): Promise<void> {
    const b = this.#backends
    await Promise.all([b.old.close(), b.new.close(), b.baseline?.close()])
    this.#port.close()
  }
}

if (!parentPort) throw new Error('shadow-worker runs as a worker thread')
new ShadowWorker(parentPort, workerData as WorkerData)
