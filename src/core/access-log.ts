import type { IncomingMessage } from 'node:http'
import { pino } from 'pino'

/** Request headers an access-log record keeps: the ones that decide a download's bytes. */
export const LOGGED_HEADERS = [
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
] as const

/**
 * AccessRecord is one line of cutover's JSONL access log: written by `serve --access-log` and
 * `mirror --capture`, read by `cutover replay` (design.md §8). Field order is fixed.
 */
export interface AccessRecord {
  /** Request start, ISO 8601 UTC with milliseconds. */
  time: string
  /** Client address as the socket saw it. */
  remote: string
  method: string
  /** The request target exactly as received (path and query). */
  path: string
  /** The present headers of {@link LOGGED_HEADERS}, lower-case names. */
  headers: Record<string, string>
  status: number
  /** Body bytes handed to the socket. */
  bytes: number
  /** From request start to response end or abort, in milliseconds (microsecond precision). */
  durationMs: number
  /** True when the client went away or the response was cut before its end. */
  aborted: boolean
}

/** accessRecordHeaders picks the logged headers of a request. */
export function accessRecordHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const h of LOGGED_HEADERS) {
    const v = req.headers[h]
    if (typeof v === 'string') out[h] = v
  }
  return out
}

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

/** AccessLog is the JSONL access log of `serve` and the capture file of `mirror`. */
export class AccessLog extends JsonlFile<AccessRecord> {}
