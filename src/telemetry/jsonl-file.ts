import { pino } from 'pino'
import { systemClock, type Clock, type Timer } from '../core/clock.js'

/**
 * DEFAULT_FLUSH_INTERVAL_MS is how long a written line may wait in memory before it is written to
 * its file: 1 s. Lines are batched (up to 4 KiB are written at once) so a busy log costs few
 * syscalls, and this bound keeps a quiet one from holding records back: what was written more than
 * a second ago is on disk, even if the process is then killed with SIGKILL.
 */
export const DEFAULT_FLUSH_INTERVAL_MS = 1000

/** JsonlFileOptions configures {@link JsonlFile}. */
export interface JsonlFileOptions {
  /**
   * Lines written are on disk at most this long afterwards, in milliseconds: a positive integer
   * (TypeError otherwise). If unset, defaults to {@link DEFAULT_FLUSH_INTERVAL_MS} (1 s).
   */
  readonly flushIntervalMs?: number
  /** Where the flush timer comes from. If unset, defaults to systemClock (core/clock.ts). */
  readonly clock?: Clock
}

/**
 * JsonlFile appends JSON lines to a file without blocking the event loop: lines are buffered and
 * written asynchronously (pino's sonic-boom writer), in batches of up to 4 KiB, and at the latest
 * `flushIntervalMs` after they were written. reopen() starts a new file at the same path (after a
 * log rotation); close() waits for the disk.
 */
export class JsonlFile<T = unknown> {
  readonly #out: ReturnType<typeof pino.destination>
  readonly #timer: Timer
  #buffered = 0
  #dropped = 0
  #closed = false

  constructor(path: string, o: JsonlFileOptions = {}) {
    const every = o.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS
    if (!Number.isSafeInteger(every) || every <= 0) throw new TypeError('flushIntervalMs must be a positive integer')
    this.#out = pino.destination({ dest: path, append: true, mkdir: true, sync: false, minLength: 4096 })
    // A periodic chore: it must not keep the process alive.
    this.#timer = (o.clock ?? systemClock).setInterval(() => {
      if (this.#buffered > 0) void this.flush()
    }, every).unref()
  }

  /**
   * buffered is how many lines were written since the last flush began (timed or explicit): those
   * may still be in memory.
   */
  get buffered(): number {
    return this.#buffered
  }

  /** dropped is how many lines were written after close() and so never reached the file. */
  get dropped(): number {
    return this.#dropped
  }

  /** write queues one record as one line; after close() it only counts the line in {@link dropped}. */
  write(r: T): void {
    if (this.#closed) {
      this.#dropped++
      return
    }
    this.#buffered++
    this.#out.write(`${JSON.stringify(r)}\n`)
  }

  /** flush writes what is queued; resolves once it has reached the file (or failed, or the file is closed). */
  flush(): Promise<void> {
    this.#buffered = 0
    if (this.#closed) return Promise.resolve()
    return new Promise(resolve => this.#out.flush(() => resolve()))
  }

  /**
   * reopen writes what is queued to the file open now, then opens `path` again (creating it if it
   * was moved away): every line written before the call is in the old file, every line after it in
   * the new one. For logrotate's create mode (rename, then signal). Resolves once the new file is
   * open (at once if the file is closed).
   */
  async reopen(): Promise<void> {
    await this.flush()
    if (this.#closed) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        this.#out.off('ready', done)
        this.#out.off('error', done)
        resolve()
      }
      this.#out.once('ready', done)
      this.#out.once('error', done)
      this.#out.reopen()
    })
  }

  /** close flushes what is queued and closes the file; later writes are dropped and counted. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#closed = true
    this.#timer.clear()
    return new Promise(resolve => {
      this.#out.once('close', () => resolve())
      this.#out.once('error', () => resolve())
      this.#out.end()
    })
  }
}
