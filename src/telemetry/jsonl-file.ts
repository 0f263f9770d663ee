import { pino } from 'pino'

/**
 * JsonlFile appends JSON lines to a file without blocking the event loop: lines are buffered and
 * written asynchronously (pino's sonic-boom writer). close() waits for the disk.
 */
export class JsonlFile<T = unknown> {
  readonly #out: ReturnType<typeof pino.destination>
  constructor(path: string) {
    this.#out = pino.destination({ dest: path, append: true, mkdir: true, sync: false, minLength: 4096 })
  }
  /** write queues one record as one line. */
  write(r: T): void {
    this.#out.write(`${JSON.stringify(r)}\n`)
  }
  /** close flushes what is queued and closes the file. */
  close(): Promise<void> {
    return new Promise(resolve => {
      this.#out.once('close', () => resolve())
      this.#out.once('error', () => resolve())
      this.#out.end()
    })
  }
}
