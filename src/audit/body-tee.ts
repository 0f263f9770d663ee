import { CutoverError } from '../core/errors.js'

/** DEFAULT_TEE_BYTES is the default bound of a {@link BodyTee}: 8 MiB. */
export const DEFAULT_TEE_BYTES = 8 * 1024 * 1024

/**
 * TeeBudget is one byte budget shared by every tee of a mirror: the bound per tee keeps one slow
 * comparison from growing, the shared budget keeps many of them (64 downloads of big files whose
 * shadows wait in the queue) from adding up. `used` is maintained by the tees.
 */
export class TeeBudget {
  used = 0
  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new TypeError('max must be a positive integer')
  }
}

/**
 * TeeSink is the producer's side of a tee: the client path calls {@link push} for every chunk it
 * writes to the client, then exactly one of {@link end} or {@link error}; none of them blocks or
 * waits. {@link abandon} gives the comparison up (see {@link BodyTee.abandon}).
 */
export interface TeeSink {
  push(chunk: Uint8Array): void
  end(): void
  error(err: unknown): void
  abandon(code?: GiveUpCode): void
}

/**
 * BodyTee hands the chunks of a response that is being streamed to a client to one comparer,
 * without ever slowing the client down (Scientist's rule: "the control always wins").
 *
 * The producer (the client path) calls {@link push} for every chunk it writes to the client, then
 * exactly one of {@link end} or {@link error}; none of them blocks or waits. The consumer reads the
 * tee once, as an async iterable. Chunks not yet read are buffered up to `maxBufferedBytes`; a push
 * past that bound means the comparer has fallen too far behind the client, so the tee is abandoned
 * rather than allowed to grow (a 4 GiB download must not sit in memory): the buffer is dropped,
 * {@link abandoned} becomes true and the reader's next read rejects with ERR_ABANDONED.
 *
 * Chunks are kept by reference, not copied: the producer must not reuse a pushed buffer (Node's
 * stream chunks are never reused). The consumer may stop early with the iterator's `return()`;
 * later pushes are then discarded. For a second consumer, create a second tee and push to both.
 */
export class BodyTee implements AsyncIterable<Uint8Array>, TeeSink {
  readonly #max: number
  #chunks: Uint8Array[] = []
  #head = 0
  #buffered = 0
  #ended = false
  #error: unknown = undefined
  #failed = false
  #abandoned = false
  #abandonedBy: GiveUpCode = 'ERR_ABANDONED'
  #closed = false
  #wake: (() => void) | undefined

  readonly #budget: TeeBudget | undefined

  /**
   * @param maxBufferedBytes the most unread bytes held; if unset, {@link DEFAULT_TEE_BYTES}.
   * @param budget a byte budget shared with other tees; a push that would exceed it abandons this tee.
   */
  constructor(maxBufferedBytes: number = DEFAULT_TEE_BYTES, budget?: TeeBudget) {
    if (!Number.isSafeInteger(maxBufferedBytes) || maxBufferedBytes < 1) {
      throw new TypeError('maxBufferedBytes must be a positive integer')
    }
    this.#max = maxBufferedBytes
    this.#budget = budget
  }

  /** abandoned is true once the comparer fell behind by more than the bound (or abandon() was called). */
  get abandoned(): boolean {
    return this.#abandoned
  }

  /** buffered is the number of bytes pushed and not yet read. */
  get buffered(): number {
    return this.#buffered
  }

  /** push hands one chunk to the reader, or abandons the tee when the reader is too far behind. */
  push(chunk: Uint8Array): void {
    if (this.#ended || this.#failed || this.#abandoned || this.#closed) return
    if (this.#buffered + chunk.length > this.#max || (this.#budget && this.#budget.used + chunk.length > this.#budget.max)) {
      this.abandon('ERR_ABANDONED')
      return
    }
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    if (this.#budget) this.#budget.used += chunk.length
    this.#signal()
  }

  /** end marks the end of the body: the reader finishes once it has read what is buffered. */
  end(): void {
    if (this.#ended || this.#failed || this.#abandoned) return
    this.#ended = true
    this.#signal()
  }

  /**
   * error marks the body as broken (the primary reset, the client path failed); the reader rejects with `err`
   * after the buffered chunks.
   */
  error(err: unknown): void {
    if (this.#ended || this.#failed || this.#abandoned) return
    this.#failed = true
    this.#error = err
    this.#signal()
  }

  /**
   * abandon gives up the tee at once: buffered data is dropped and the reader rejects with a
   * CutoverError of `code`: ERR_ABANDONED past the bound (the default), ERR_SHUTDOWN when the
   * mirror stops, ERR_SHED when it sheds the comparison. The comparison records it as not
   * compared, with that reason.
   */
  abandon(code: GiveUpCode = 'ERR_ABANDONED'): void {
    if (this.#ended || this.#failed || this.#abandoned) return
    this.#abandoned = true
    this.#abandonedBy = code
    this.#drop()
    this.#signal()
  }

  #drop(): void {
    if (this.#budget) this.#budget.used -= this.#buffered
    this.#chunks = []
    this.#head = 0
    this.#buffered = 0
  }

  #signal(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  async #next(): Promise<IteratorResult<Uint8Array, undefined>> {
    for (;;) {
      if (this.#closed) return { done: true, value: undefined }
      if (this.#abandoned) throw new CutoverError(this.#abandonedBy, ABANDONED[this.#abandonedBy](this.#max))
      if (this.#head < this.#chunks.length) {
        const chunk = this.#chunks[this.#head]!
        this.#chunks[this.#head++] = EMPTY // release the reference now, not at the next compaction
        this.#buffered -= chunk.length
        if (this.#budget) this.#budget.used -= chunk.length
        if (this.#head === this.#chunks.length) {
          this.#chunks = []
          this.#head = 0
        }
        return { done: false, value: chunk }
      }
      if (this.#failed) throw this.#error
      if (this.#ended) return { done: true, value: undefined }
      await new Promise<void>(resolve => (this.#wake = resolve))
    }
  }

  /** The tee's one reader. `return()` stops reading: the buffer is dropped and later pushes discarded. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array, undefined> {
    return {
      next: () => this.#next(),
      return: async () => {
        this.#closed = true
        this.#drop()
        this.#signal()
        return { done: true, value: undefined }
      },
    }
  }
}

const EMPTY = new Uint8Array(0)

/** GiveUpCode is why a tee was given up: the codes {@link BodyTee.abandon} takes. */
export type GiveUpCode = 'ERR_ABANDONED' | 'ERR_SHUTDOWN' | 'ERR_SHED'

/** What a reader of an abandoned tee is told, per code. */
const ABANDONED: Readonly<Record<GiveUpCode, (max: number) => string>> = {
  ERR_ABANDONED: max => `the comparer fell more than ${max} bytes behind the client, or the bytes held for comparers reached their budget`,
  ERR_SHUTDOWN: () => 'the mirror stopped before the body was compared',
  ERR_SHED: () => 'shed: the mirror stayed saturated while the body was being compared',
}
