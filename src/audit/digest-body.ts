import { systemClock, type Clock, type Timer } from '../core/clock.js'
import { abortError, codeOf, CutoverError } from '../core/errors.js'
import type { StopSignal } from '../core/halt.js'
import { BLOCK_BYTES, BlockDigester, type BodyDigest, type BodyDigester } from './body-digest.js'
import { cancelStream } from './cancel-body.js'
import { parseMultipart } from './multipart-parser.js'
import { ReadPacer, type ReadPace } from './read-pacer.js'

/**
 * HEAD_BUDGET_BYTES bounds the leading bytes kept whole per side: the first block of a body, or of
 * each multipart part until 256 KiB are kept. A difference there is located exactly without a
 * re-request.
 */
export const HEAD_BUDGET_BYTES = 4 * BLOCK_BYTES

/** PartDigest is one part of a multipart body: its header fields and its bytes' digest. */
export interface PartDigest {
  /** Header fields as [lower-case name, value]. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly digest: BodyDigest
}

/**
 * BodyFailure is why a body was not read to its end: its code (ERR_TRUNCATED: the stream broke;
 * ERR_MULTIPART: not valid multipart; ERR_TIMEOUT: no byte for the idle limit; ERR_ABORTED: the
 * caller stopped it; or the code the stream itself rejected with, such as ERR_CLIENT_GONE,
 * ERR_ABANDONED, ERR_SHUTDOWN or ERR_SHED from a mirror's tee) and a sentence.
 */
export interface BodyFailure {
  readonly code: string
  readonly message: string
}

/**
 * SideBody is one side's body as {@link digestBody} read it: the digest of the bytes received, for
 * a multipart body also the digests of its parts (those complete, and the one it broke in), and
 * the failure that stopped it early, if any.
 */
export interface SideBody {
  /** The whole body (as received, boundaries and part headers included for multipart). */
  readonly digest: BodyDigest
  readonly parts?: readonly PartDigest[]
  readonly failure?: BodyFailure
}

/**
 * Needed tells {@link digestBody} how much of a body is needed: all of it, until {@link cut} names a
 * length (the body it is compared with was cut there by a client that left, and no comparison looks
 * further). Set once; later calls are ignored.
 */
export class Needed {
  #bytes = Number.POSITIVE_INFINITY
  #onCut: (() => void) | undefined

  /** bytes is how many leading bytes are needed (Infinity: all). */
  get bytes(): number {
    return this.#bytes
  }

  /** cut says that no byte past the first `bytes` is needed. */
  cut(bytes: number): void {
    if (this.#bytes !== Number.POSITIVE_INFINITY) return
    this.#bytes = bytes
    this.#onCut?.()
  }

  /** onCut sets what to do when {@link cut} is called (one reader); at once if it was already. */
  onCut(f: () => void): void {
    this.#onCut = f
    if (this.#bytes !== Number.POSITIVE_INFINITY) f()
  }
}

/** DigestOptions configure {@link digestBody}. */
export interface DigestOptions {
  /** The body is multipart with this boundary: it is parsed and each part digested. If unset, one plain body. */
  readonly boundary?: string | undefined
  /** Stops reading (failure ERR_ABORTED, or the signal's reason when it is a CutoverError). */
  readonly signal?: StopSignal
  /** Give up when no byte arrived for this long (failure ERR_TIMEOUT). If unset, no limit. */
  readonly idleMs?: number | undefined
  /** Where the idle limit's time comes from. If unset, the system clock. */
  readonly clock?: Clock
  /**
   * What hashes the whole body: one side of a DigestPair (digest-pair.ts), whose digest may wait for
   * the other side. If unset, a BlockDigester of its own.
   */
  readonly digester?: BodyDigester | undefined
  /**
   * How much of a plain (not multipart) body is needed: once that many bytes are read, the stream
   * is cancelled and the digest covers what was read, with no failure. If unset, all of it.
   */
  readonly needed?: Needed | undefined
  /**
   * Past its first bytes, the body is read no faster than this ({@link ReadPace}): time spent
   * waiting is not idle time. If unset, as fast as it comes.
   */
  readonly pace?: ReadPace | undefined
}

/**
 * Guarded reads a stream for {@link digestBody}: each read in flight can be cut short (abort, idle
 * limit), which rejects it at once and cancels the stream, and every chunk counts as progress.
 * Before each read it waits for `ready` (the digester's pacing); time spent waiting there is not
 * idle time: the server sent nothing because we asked for nothing.
 */
class Guarded implements AsyncIterable<Uint8Array> {
  bytes = 0
  last: number
  /** True while waiting for `ready`: the idle limit does not run. */
  waiting = false
  #halted: unknown = undefined
  #reject: ((reason: unknown) => void) | undefined

  constructor(
    readonly body: AsyncIterable<Uint8Array>,
    readonly it: AsyncIterator<Uint8Array>,
    readonly clock: Clock,
    readonly onChunk?: (chunk: Uint8Array) => void,
    readonly ready?: () => Promise<void> | undefined,
  ) {
    this.last = clock.monotonic()
  }

  /** halt cuts the read in flight and every later one with `reason`, and cancels the stream. */
  halt(reason: unknown): void {
    if (this.#halted !== undefined) return
    this.#halted = reason
    const reject = this.#reject
    this.#reject = undefined
    reject?.(reason)
    cancelStream(this.body, this.it)
  }

  /**
   * One read that a halt can cut short. Not Promise.race with a long-lived "stop" promise: every
   * race leaves a reaction on it that holds the chunk read, so each chunk would stay reachable
   * until the body ended.
   */
  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#halted !== undefined) return Promise.reject(this.#halted)
    return new Promise((resolve, reject) => {
      this.#reject = reject
      const gate = this.ready?.()
      if (gate === undefined) return this.#read(resolve, reject)
      this.waiting = true
      void gate.then(() => {
        this.waiting = false
        this.last = this.clock.monotonic()
        // A halt while waiting has rejected this read already.
        if (this.#halted === undefined) this.#read(resolve, reject)
      })
    })
  }

  #read(resolve: (r: IteratorResult<Uint8Array>) => void, reject: (reason: unknown) => void): void {
    this.it.next().then(
      r => {
        this.#reject = undefined
        if (!r.done) {
          this.bytes += r.value.length
          this.last = this.clock.monotonic()
          this.onChunk?.(r.value)
        }
        resolve(r)
      },
      (err: unknown) => {
        this.#reject = undefined
        reject(err)
      },
    )
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return { next: () => this.next(), return: async () => ({ done: true, value: undefined }) }
  }
}

/** both is a gate open once two gates (either unset: open) are. */
function both(a: Promise<void> | undefined, b: Promise<void> | undefined): Promise<void> | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Promise.all([a, b]).then(() => undefined)
}

/** failureOf names what stopped a body. */
function failureOf(err: unknown, bytes: number): BodyFailure {
  const code = codeOf(err)
  const why = err instanceof Error ? err.message : String(err)
  if (code === 'ERR_MULTIPART') return { code, message: `malformed after ${bytes} bytes: ${why}` }
  if (code !== undefined && code !== 'ERR_UPSTREAM') return { code, message: why }
  return { code: 'ERR_TRUNCATED', message: `body broke after ${bytes} bytes: ${why}` }
}

/**
 * digestBody reads one side's body to its end on its own, never waiting for any other body, and
 * hashes it in blocks ({@link BlockDigester}): O(block) memory whatever the body's size or pace. A
 * multipart body is parsed and each part digested apart (boundaries differ between servers by
 * design). It never rejects: a body that breaks, times out or is aborted resolves with what was
 * read and the {@link BodyFailure}; the stream is then cancelled.
 */
export async function digestBody(body: AsyncIterable<Uint8Array>, o: DigestOptions = {}): Promise<SideBody> {
  const clock = o.clock ?? systemClock
  // The whole body's digest, multipart or not: what is compared when only one side is multipart.
  const digester: BodyDigester = o.digester ?? new BlockDigester()
  const pacer = o.pace && new ReadPacer(o.pace, clock)
  const ready = pacer ? (): Promise<void> | undefined => both(digester.ready?.(), pacer.gate(src.bytes)) : digester.ready?.bind(digester)
  const src: Guarded = new Guarded(
    body,
    body[Symbol.asyncIterator](),
    clock,
    o.boundary === undefined ? undefined : c => digester.update(c),
    ready,
  )
  const onAbort = (): void => {
    const r: unknown = o.signal?.reason
    src.halt(codeOf(r) !== undefined ? r : abortError(o.signal))
  }
  o.signal?.addEventListener('abort', onAbort, { once: true })
  if (o.signal?.aborted) onAbort()
  // Reading stops, with no failure, once a plain body has given every byte needed.
  const needed = o.boundary === undefined ? o.needed : undefined
  // Made when first needed, not for every body: an error costs a stack trace.
  let enough: CutoverError | undefined
  const stopEnough = (): void => src.halt((enough ??= new CutoverError('ERR_ABORTED', 'no byte past this is needed')))
  needed?.onCut(() => {
    if (src.bytes >= needed.bytes) stopEnough()
  })
  let timer: Timer | undefined
  const idleMs = o.idleMs
  if (idleMs !== undefined) {
    // One timer, re-armed only when it fires early: resetting it on every chunk would cost a timer
    // per chunk.
    const arm = (ms: number): void => {
      timer = clock.setTimeout(() => {
        const idle = src.waiting ? 0 : clock.monotonic() - src.last
        if (idle >= idleMs) src.halt(new CutoverError('ERR_TIMEOUT', `no byte for ${idleMs} ms after ${src.bytes} bytes`))
        else arm(idleMs - idle)
      }, ms)
    }
    arm(idleMs)
  }
  const parts: PartDigest[] = []
  let failure: BodyFailure | undefined
  try {
    if (o.boundary === undefined) {
      for (;;) {
        const r = await src.next()
        if (r.done) break
        digester.update(r.value)
        if (needed && src.bytes >= needed.bytes) {
          stopEnough()
          break
        }
      }
    } else {
      let headLeft = HEAD_BUDGET_BYTES
      for await (const part of parseMultipart(src, o.boundary)) {
        const d = new BlockDigester(Math.min(BLOCK_BYTES, headLeft))
        try {
          for await (const chunk of part.body) d.update(chunk)
        } finally {
          // A part the body broke in is kept with what it got.
          const digest = d.finish()
          parts.push({ headers: part.headers, digest })
          headLeft -= digest.head.length
        }
      }
    }
  } catch (err) {
    if (enough === undefined || err !== enough) failure = failureOf(err, src.bytes)
    src.halt(err)
  } finally {
    timer?.clear()
    o.signal?.removeEventListener('abort', onAbort)
  }
  return {
    digest: await digester.finish(),
    ...(o.boundary === undefined ? {} : { parts }),
    ...(failure ? { failure } : {}),
  }
}
