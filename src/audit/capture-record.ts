import type { IncomingMessage } from 'node:http'
import { accessRecordHeaders, type AccessRecord } from '../telemetry/access-log.js'
import { redactSignature } from '../http/redact-signature.js'

/** ClientExchange is what the mirror knows of one client request once its response has closed. */
export interface ClientExchange {
  /** Request start, milliseconds since the Unix epoch (from the mirror's clock). */
  readonly startMs: number
  /** Client address as the socket saw it. */
  readonly remote: string
  /** The status the client got, or the primary's when nothing was sent (0: none). */
  readonly status: number
  /** Body bytes of the primary handed on to the client. */
  readonly bytes: number
  /** From request start to the response's close, in milliseconds. */
  readonly durationMs: number
  /** True when the response did not finish (client gone, response cut). */
  readonly aborted: boolean
}

/**
 * captureRecord is the access record `mirror --capture` writes for one client request: the
 * format `serve --access-log` writes and `cutover replay` reads, fields in their fixed order.
 */
export function captureRecord(req: IncomingMessage, e: ClientExchange): AccessRecord {
  return {
    time: new Date(e.startMs).toISOString(),
    remote: e.remote,
    method: req.method ?? 'GET',
    // A signed link is a credential until it expires: the capture keeps the link, not the key to it.
    path: redactSignature(req.url ?? ''),
    headers: accessRecordHeaders(req),
    status: e.status,
    bytes: e.bytes,
    durationMs: e.durationMs,
    aborted: e.aborted,
  }
}
