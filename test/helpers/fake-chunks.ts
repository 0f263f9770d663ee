import type { ChunkLoader } from '../../src/content/chunk-aligned.js'
import { abortError, CutoverError } from '../../src/core/errors.js'
import { gate, type Gate } from './gate.js'

/** LoadCall is one call of a {@link FakeChunks} loader, as the test sees it. */
export interface LoadCall {
  readonly index: number
  /** The signal the loader was given (a cache gives its own per underlying load). */
  readonly signal: AbortSignal | undefined
  /** Opening it lets a held load resolve (or fail, as `fault` said). */
  readonly release: Gate
}

/** Fault decides how call number `n` (0-based, per index) of chunk `index` ends. */
export type Fault = (index: number, n: number) => 'ok' | 'short' | 'fail'

/**
 * FakeChunks is a counting chunk loader over `data`: every call is recorded, every chunk is a fresh
 * copy (never a reused buffer). When `held` is true, a load waits for its own `release` gate; when
 * it is a Gate, every load waits for that one gate. A held load rejects with ERR_ABORTED when its
 * signal aborts first. So tests decide when loads end, without sleeps.
 */
export class FakeChunks {
  readonly calls: LoadCall[] = []
  readonly #counts = new Map<number, number>()
  constructor(
    readonly data: Uint8Array,
    readonly chunkSize: number,
    readonly held: boolean | Gate = false,
    readonly fault: Fault = () => 'ok',
  ) {}

  /** count is how many times chunk `index` was asked for. */
  count(index: number): number {
    return this.#counts.get(index) ?? 0
  }

  /** callsOf lists the calls of chunk `index`, oldest first. */
  callsOf(index: number): LoadCall[] {
    return this.calls.filter(c => c.index === index)
  }

  /** releaseAll opens the gate of every call so far. */
  releaseAll(): void {
    for (const c of this.calls) if (!c.release.opened) c.release.open()
  }

  readonly load: ChunkLoader = async (index, signal) => {
    const n = this.count(index)
    this.#counts.set(index, n + 1)
    const release = gate()
    this.calls.push({ index, signal, release })
    const wait = this.held === true ? release.promise : this.held === false ? undefined : this.held.promise
    if (wait !== undefined) {
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted === true) return reject(abortError(signal))
        const onAbort = (): void => reject(abortError(signal))
        signal?.addEventListener('abort', onAbort, { once: true })
        void wait.then(() => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        })
      })
    }
    const how = this.fault(index, n)
    if (how === 'fail') throw new CutoverError('ERR_IO', `chunk ${index} failed`)
    const start = index * this.chunkSize
    const end = Math.min(this.data.length, start + this.chunkSize)
    // A copy, never a view of `data`: a cache may keep it, and nobody reuses it.
    return new Uint8Array(this.data.subarray(start, how === 'short' ? Math.max(start, end - 1) : end))
  }
}
