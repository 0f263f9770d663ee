import type { IncomingMessage } from 'node:http'
import { JsonlFile } from './jsonl-file.js'

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
 * `mirror --capture`, read by `cutover replay` (formats in the README). Field order is fixed.
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
  /**
   * Present (true) only when the request carried `cutover mirror`'s shadow marker: audit traffic,
   * not a client's, which `replay` skips unless told otherwise.
   */
  shadow?: true
  /**
   * The manifest payload the request was routed to (`serve --manifest` only; absent in directory
   * mode and when no payload matched). Readers ignore fields they do not know, so older replays
   * read these records.
   */
  payload?: string
  /**
   * What the resolver decided (`serve --manifest` only): `served`, `miss` (no payload, or one not
   * revealed yet), `deny:<rule>`, `expired`, `missing-blob` (the manifest names a blob the store lacks).
   */
  decision?: string
  /**
   * The client's address as the access policy believed it (`serve --manifest`, payloads with access
   * rules): X-Forwarded-For walked through the trusted proxies, where `remote` is the socket's peer.
   */
  client?: string
  /** The first 12 hex digits of the SHA-256 of the manifest that answered (`serve --manifest`): a log spanning a reload tells which manifest answered each request. */
  manifest?: string
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

/** AccessLog is the JSONL access log of `serve` and the capture file of `mirror`. */
export class AccessLog extends JsonlFile<AccessRecord> {}
