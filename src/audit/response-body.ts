import type { Dispatcher } from 'undici'

/**
 * HIGH_WATER_BYTES is how many bytes of a {@link ResponseBody} wait for their reader before the
 * connection's reading is paused: 64 KiB, the high-water mark of the body stream undici's
 * `request()` makes.
 */
export const HIGH_WATER_BYTES = 64 * 1024

/** ResponseStart is a response's status and fields, as {@link ResponseBody} hands them over. */
export interface ResponseStart {
  readonly status: number
  /** The fields as `[name, value, ...]`, as sent (latin1), 1xx answers skipped. */
  readonly rawHeaders: string[]
}

/**
 * ResponseBody is one exchange sent with undici's dispatch API: it is the handler passed to
 * `Dispatcher.dispatch`, and the response's body as an async iterable for one reader. It exists
 * because the body stream `request()` makes, read with `for await`, costs a comparing mirror's
 * thread a stream, its events and its promises for every chunk (with its shadows read that way, the
 * bench's least comparing mirror, run by hand at 1 MiB, kept 0.88-1.07 of its throughput in four
 * rounds, 0.93 at the median); here a chunk is handed from the parser to the reader directly.
 *
 * Before the status, exactly one of `onStart` (the status and fields) or `onFailure` (the error that
 * stopped the exchange: a connection failure, a reset, an invalid request, or the reason given to
 * {@link abort}) is called. After `onStart` the body is read with the iterator: chunks in order (views
 * of the bytes read from the socket, never reused), then the end, or a rejection with the error that
 * cut the body (after the chunks that came before it). While {@link HIGH_WATER_BYTES} or more wait
 * for the reader, the connection's reading is paused. The iterator's `return()` before the end
 * aborts the exchange (its connection is closed, as undici closes it for a destroyed body stream).
 * {@link abort} ends the exchange at any time with a reason: before the status through `onFailure`,
 * after it as the body's rejection; nothing once the body is over. One reader; not thread-safe.
 */
export class ResponseBody implements Dispatcher.DispatchHandler, AsyncIterable<Uint8Array>, AsyncIterator<Uint8Array> {
  readonly #onStart: (r: ResponseStart) => void
  readonly #onFailure: (err: Error) => void
  /** Set once the status came (onStart called). */
  #started = false
  /** Set once the exchange is over: complete, failed, aborted or cancelled. No resume after it. */
  #over = false
  #chunks: Uint8Array[] = []
  #head = 0
  #waiting = 0
  #paused = false
  #ended = false
  #error: Error | undefined
  /** The reason of an abort asked for before the connection was there. */
  #pending: Error | undefined
  #abortFn: ((err?: Error) => void) | undefined
  #resume: (() => void) | undefined
  #wake: ((r: IteratorResult<Uint8Array, undefined>) => void) | undefined
  #fail: ((err: unknown) => void) | undefined
  /** Called once the body is over for the reader (ended, failed or cancelled). */
  onClose: (() => void) | undefined

  constructor(onStart: (r: ResponseStart) => void, onFailure: (err: Error) => void) {
    this.#onStart = onStart
    this.#onFailure = onFailure
  }

  /** abort ends the exchange with `reason` (see the class contract); nothing once it is over. */
  abort(reason: Error): void {
    if (this.#over || this.#pending) return
    this.#pending = reason
    this.#abortFn?.(reason)
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abortFn = abort
    // Aborted while it waited for a connection: abort as soon as it can be.
    if (this.#pending) abort(this.#pending)
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx answers are not the response (RFC 9110 §15.2): skipped, as Node's client does.
    if (statusCode < 200) return true
    this.#started = true
    this.#resume = resume
    const raw: string[] = []
    for (const b of rawHeaders) raw.push(b.toString('latin1'))
    this.#onStart({ status: statusCode, rawHeaders: raw })
    return true
  }

  onData(chunk: Buffer): boolean {
    // undici's parser hands over empty chunks: they carry nothing. After a cancel, nothing is kept.
    if (chunk.length === 0 || this.#over) return !this.#paused
    const wake = this.#wake
    if (wake) {
      this.#wake = undefined
      this.#fail = undefined
      wake({ value: chunk, done: false })
      return true
    }
    this.#chunks.push(chunk)
    this.#waiting += chunk.length
    if (this.#waiting >= HIGH_WATER_BYTES) this.#paused = true
    return !this.#paused
  }

  onComplete(): void {
    if (this.#over) return
    this.#over = true
    this.#ended = true
    this.#settle()
  }

  onError(err: Error): void {
    if (this.#over) return
    this.#over = true
    if (!this.#started) {
      this.#onFailure(err)
      return
    }
    this.#error = err
    this.#settle()
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this
  }

  next(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head]!
      this.#chunks[this.#head++] = EMPTY
      if (this.#head === this.#chunks.length) {
        this.#chunks = []
        this.#head = 0
      }
      this.#waiting -= chunk.length
      if (this.#paused && this.#waiting < HIGH_WATER_BYTES) {
        this.#paused = false
        // The parser may already have handed its socket to another request: a finished exchange
        // never resumes it.
        if (!this.#over) this.#resume?.()
      }
      return Promise.resolve({ value: chunk, done: false })
    }
    if (this.#error) {
      const err = this.#error
      this.#error = undefined
      this.#ended = true
      this.#closed()
      return Promise.reject(err)
    }
    if (this.#ended) {
      this.#closed()
      return Promise.resolve({ value: undefined, done: true })
    }
    return new Promise((resolve, reject) => {
      this.#wake = resolve
      this.#fail = reject
    })
  }

  /**
   * return stops reading: the exchange is aborted if its body is not over (its connection closed),
   * and a read still waiting ends.
   */
  return(): Promise<IteratorResult<Uint8Array, undefined>> {
    this.#chunks = []
    this.#head = 0
    this.#waiting = 0
    this.#ended = true
    this.#error = undefined
    if (!this.#over) {
      const reason = new Error('the body was cancelled')
      this.#over = true
      this.#pending = reason
      this.#abortFn?.(reason)
    }
    this.#settle()
    this.#closed()
    return Promise.resolve({ value: undefined, done: true })
  }

  /** #settle hands a reader waiting for a chunk what {@link next} now gives: the end or the error. */
  #settle(): void {
    const wake = this.#wake
    const fail = this.#fail
    if (!wake || !fail) return
    this.#wake = undefined
    this.#fail = undefined
    this.next().then(wake, fail)
  }

  #closed(): void {
    const f = this.onClose
    this.onClose = undefined
    f?.()
  }
}

const EMPTY = new Uint8Array(0)
