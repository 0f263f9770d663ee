import { createHash, type Hash } from 'node:crypto'
import { abortError } from '../core/errors.js'

/** CONTEXT_BYTES is how many bytes of each side are kept before and after a first difference. */
export const CONTEXT_BYTES = 32

/**
 * StreamVerdict is the outcome of comparing two byte streams: both lengths and sha256 digests, the
 * first differing offset within the common length (if any), bytes of context around it, and the
 * failure of a side whose stream broke (then lengths and digests cover what arrived).
 */
export interface StreamVerdict {
  readonly controlLength: number
  readonly candidateLength: number
  readonly controlSha256: string
  readonly candidateSha256: string
  /** First differing byte within the common length; undefined if the common prefix is equal. */
  readonly offset?: number
  readonly context?: { readonly from: number; readonly control: string; readonly candidate: string }
  /** A side whose stream threw: the error it threw. */
  readonly failed?: { readonly side: 'control' | 'candidate'; readonly error: unknown }
}

const EMPTY = new Uint8Array(0)

const view = (u: Uint8Array, from: number, to: number): Buffer => Buffer.from(u.buffer, u.byteOffset + from, to - from)

/** Side is one stream being compared: its current chunk and what it has seen so far. */
class Side {
  chunk: Uint8Array = EMPTY
  pos = 0
  total = 0
  done = false
  error: unknown
  /** The last CONTEXT_BYTES bytes before chunk[pos], for context before a difference. */
  tail: Buffer = Buffer.alloc(0)
  /** Bytes from the first difference on, up to CONTEXT_BYTES, once a difference is found. */
  after: Buffer[] | undefined
  afterLength = 0
  /** This side's own digest, forked from the common one once the sides part (see compareStreams). */
  hash: Hash | undefined
  /** Why the comparison was stopped (halt), once it was. */
  #halted: { reason: unknown } | undefined
  /** Rejects the read in flight: a stalled next() must not hold a halted comparison forever. */
  #rejectRead: ((reason: unknown) => void) | undefined

  constructor(readonly it: AsyncIterator<Uint8Array>) {}

  /**
   * halt stops the side: the read in flight (if any) rejects with `reason` at once, later reads
   * too, and the stream is cancelled.
   */
  halt(reason: unknown): void {
    this.#halted ??= { reason }
    const reject = this.#rejectRead
    this.#rejectRead = undefined
    reject?.(reason)
    this.cancel()
  }

  /**
   * #next is one read that a halt can cut short. Not Promise.race with one long-lived "stop"
   * promise: every race leaves a reaction on that promise which holds the race's result, so each
   * chunk read stayed reachable until the comparison ended (540 MB for a 256 MiB body, and the GC
   * churn of promoting all of it).
   */
  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#halted) return Promise.reject(this.#halted.reason)
    return new Promise((resolve, reject) => {
      this.#rejectRead = reject
      this.it.next().then(
        r => {
          this.#rejectRead = undefined
          resolve(r)
        },
        (err: unknown) => {
          this.#rejectRead = undefined
          reject(err)
        },
      )
    })
  }

  get remaining(): number {
    return this.chunk.length - this.pos
  }

  /** pull moves to the next non-empty chunk; false at the end or on error (kept in `error`). */
  async pull(): Promise<boolean> {
    while (!this.done) {
      let r: IteratorResult<Uint8Array>
      try {
        r = await this.#next()
      } catch (err) {
        this.error = err
        this.done = true
        return false
      }
      if (r.done) {
        this.done = true
        return false
      }
      if (r.value.length === 0) continue
      this.chunk = r.value
      this.pos = 0
      this.total += r.value.length
      this.hash?.update(r.value)
      if (this.after) this.#keepAfter(r.value)
      return true
    }
    return false
  }

  /** advance consumes n bytes of the current chunk, keeping the context tail. */
  advance(n: number): void {
    const consumed = view(this.chunk, this.pos, this.pos + n)
    this.tail =
      consumed.length >= CONTEXT_BYTES
        ? consumed.subarray(consumed.length - CONTEXT_BYTES)
        : Buffer.concat([this.tail, consumed]).subarray(-CONTEXT_BYTES)
    this.pos += n
  }

  /** fork gives this side its own digest: the common prefix's, plus the rest of the current chunk. */
  fork(common: Hash): void {
    this.hash = common.copy()
    this.hash.update(this.chunk.subarray(this.pos))
  }

  /** startAfter begins collecting context from the current position (the first difference). */
  startAfter(): void {
    this.after = []
    this.#keepAfter(this.chunk.subarray(this.pos))
  }

  #keepAfter(data: Uint8Array): void {
    if (this.afterLength >= CONTEXT_BYTES) return
    const take = data.subarray(0, CONTEXT_BYTES - this.afterLength)
    this.after!.push(Buffer.from(take))
    this.afterLength += take.length
  }

  /** drain reads the rest of the stream (for its length and digest). */
  async drain(): Promise<void> {
    while (await this.pull()) {
      // pull() hashes and counts every chunk
    }
  }

  cancel(): void {
    this.done = true
    void this.it.return?.()?.catch?.(() => undefined)
  }
}

/**
 * compareStreams reads two byte streams in lockstep, chunk by chunk (replay checks a probe's slice
 * against old's whole body with it: both are fetched by replay, no client waits on either), whatever their chunking, and
 * finds the first differing byte, both lengths and both sha256 digests. Memory is O(chunk): only
 * the current chunk of each side and CONTEXT_BYTES of context are held, so a 4 GiB body costs no
 * more than a 4 KiB one. Both streams are read to their end (or until one breaks, after which the
 * other is cancelled). Aborting `signal` cancels both streams; the verdict then reports the side
 * that broke first.
 */
export async function compareStreams(
  control: AsyncIterable<Uint8Array>,
  candidate: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<StreamVerdict> {
  const a = new Side(control[Symbol.asyncIterator]())
  const b = new Side(candidate[Symbol.asyncIterator]())
  const onAbort = (): void => {
    const err = abortError(signal)
    a.halt(err)
    b.halt(err)
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  if (signal?.aborted) onAbort()
  let offset = 0
  let diffAt: number | undefined
  // While the sides agree, one digest covers both: equal bodies are hashed once, not twice.
  const common = createHash('sha256')
  let context: StreamVerdict['context']
  try {
    for (;;) {
      const needA = a.remaining === 0 && !a.done
      const needB = b.remaining === 0 && !b.done
      if (needA || needB) await Promise.all([needA ? a.pull() : undefined, needB ? b.pull() : undefined])
      if (a.error !== undefined || b.error !== undefined) break
      const n = Math.min(a.remaining, b.remaining)
      if (n === 0) break // one side has ended; lengths tell the rest
      const va = view(a.chunk, a.pos, a.pos + n)
      const vb = view(b.chunk, b.pos, b.pos + n)
      if (!va.equals(vb)) {
        let i = 0
        while (va[i] === vb[i]) i++
        diffAt = offset + i
        a.advance(i)
        b.advance(i)
        a.startAfter()
        b.startAfter()
        break
      }
      common.update(va)
      a.advance(n)
      b.advance(n)
      offset += n
    }
    // The sides part here (a difference, an end or an error): each gets its own digest from now on.
    if (diffAt !== undefined) common.update(view(a.chunk, a.pos - (diffAt - offset), a.pos))
    a.fork(common)
    b.fork(common)
    if (a.error === undefined && b.error === undefined) {
      if (diffAt !== undefined) {
        const before = { a: a.tail, b: b.tail }
        await Promise.all([a.drain(), b.drain()])
        context = {
          from: diffAt - before.a.length,
          control: Buffer.concat([before.a, ...(a.after ?? [])]).toString('hex'),
          candidate: Buffer.concat([before.b, ...(b.after ?? [])]).toString('hex'),
        }
      } else {
        await Promise.all([a.drain(), b.drain()])
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  const failedSide = a.error !== undefined ? 'control' : b.error !== undefined ? 'candidate' : undefined
  if (failedSide) (failedSide === 'control' ? b : a).cancel()
  return {
    controlLength: a.total,
    candidateLength: b.total,
    controlSha256: a.hash!.digest('hex'),
    candidateSha256: b.hash!.digest('hex'),
    ...(diffAt !== undefined ? { offset: diffAt, context } : {}),
    ...(failedSide ? { failed: { side: failedSide, error: failedSide === 'control' ? a.error : b.error } } : {}),
  }
}
