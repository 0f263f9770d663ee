import { abortError, CutoverError, type ErrorCode } from '../../src/core/errors.js'
import type { BlobInfo, BlobStore } from '../../src/storage/blob-store.js'
import { gate, type Gate } from './gate.js'

/** ScriptedBlob is one blob of a {@link ScriptedStore}: its bytes and whether it is settling. */
interface ScriptedBlob {
  readonly bytes: Uint8Array
  readonly version: number
  readonly settling: boolean
}

/**
 * ScriptedStore is an in-memory {@link BlobStore} that keeps the contract (a read of a replaced
 * version rejects with ERR_BLOB_CHANGED) and fails, or holds, when the test says so:
 * - `statFault` / `readFault`: the code the next stats / reads reject with (undefined: none);
 *   `readFaultAfter` lets that many reads succeed first (a failure mid-download).
 * - `holdStats()`: stats wait until the returned gate opens (they still end early on their signal),
 *   so concurrency is tested without sleeps.
 * Versions count up from 1 per put, so a replaced blob never shows an old version again.
 */
export class ScriptedStore implements BlobStore {
  readonly #blobs = new Map<string, ScriptedBlob>()
  #next = 1
  statFault: ErrorCode | undefined
  readFault: ErrorCode | undefined
  readFaultAfter = 0
  /** Calls seen, and the signals the stats were given. */
  readonly calls = { stats: 0, reads: 0, aborted: 0 }
  #hold: Gate | undefined
  readonly name: string

  constructor(name: string, blobs: Record<string, string | Uint8Array> = {}) {
    this.name = name
    for (const [key, bytes] of Object.entries(blobs)) this.put(key, bytes)
  }

  /** put writes (or replaces) `key`: a new version, settling when `settling`. */
  put(key: string, bytes: string | Uint8Array, settling = false): void {
    this.#blobs.set(key, { bytes: typeof bytes === 'string' ? Buffer.from(bytes) : bytes, version: this.#next++, settling })
  }

  /** remove deletes `key`. */
  remove(key: string): void {
    this.#blobs.delete(key)
  }

  /** holdStats makes stats wait until the returned gate opens. */
  holdStats(): Gate {
    const g = gate()
    this.#hold = g
    return g
  }

  async stat(key: string, signal?: AbortSignal): Promise<BlobInfo> {
    this.calls.stats++
    const hold = this.#hold
    if (hold !== undefined && !hold.opened) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.calls.aborted++
          reject(abortError(signal))
        }
        if (signal?.aborted) return onAbort()
        signal?.addEventListener('abort', onAbort, { once: true })
        void hold.promise.then(() => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        })
      })
    }
    if (this.statFault !== undefined) throw new CutoverError(this.statFault, `${this.name}: scripted stat fault`)
    const b = this.#blobs.get(key)
    if (b === undefined) throw new CutoverError('ERR_NOT_FOUND', `${this.name}: no blob ${key}`)
    return { key, size: b.bytes.length, mtimeMs: 1_700_000_000_000 + b.version, version: b.settling ? undefined : `v${b.version}` }
  }

  async read(info: BlobInfo, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> {
    this.calls.reads++
    if (signal?.aborted) throw abortError(signal)
    if (this.readFault !== undefined) {
      if (this.readFaultAfter > 0) this.readFaultAfter--
      else throw new CutoverError(this.readFault, `${this.name}: scripted read fault`)
    }
    const b = this.#blobs.get(info.key)
    // A settling info has no version: it is compared by size and mtime, as a file's would be.
    if (b === undefined || b.bytes.length !== info.size || 1_700_000_000_000 + b.version !== info.mtimeMs) {
      throw new CutoverError('ERR_BLOB_CHANGED', `${this.name}: ${info.key} changed`)
    }
    return b.bytes.slice(Math.min(off, b.bytes.length), Math.min(off + len, b.bytes.length))
  }
}
