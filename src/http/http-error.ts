import type { ServerResponse } from 'node:http'
import { codeOf } from '../core/errors.js'

/** HttpError is the public face of a failure: a status and a fixed message. */
export interface HttpError {
  readonly status: number
  readonly message: string
}

/**
 * toHttpError maps any error to the status and fixed public message a client sees. It is the one
 * place errors become HTTP: the message never comes from the error itself, so internals (paths,
 * store names, stack traces) never leak; details go to the log only (as Go's toHTTPError).
 */
export function toHttpError(err: unknown): HttpError {
  switch (codeOf(err)) {
    case 'ERR_NOT_FOUND':
      return { status: 404, message: '404 page not found' }
    case 'ERR_FORBIDDEN':
      return { status: 403, message: '403 Forbidden' }
    case 'ERR_BAD_REQUEST':
      return { status: 400, message: '400 Bad Request' }
    default:
      return { status: 500, message: '500 Internal Server Error' }
  }
}

/**
 * plainTextHeaders are the headers of a plain-text error body as Go's http.Error writes them
 * (`text/plain; charset=utf-8`, `X-Content-Type-Options: nosniff`), plus its exact Content-Length.
 */
export function plainTextHeaders(body: string): string[] {
  return [
    'Content-Type',
    'text/plain; charset=utf-8',
    'X-Content-Type-Options',
    'nosniff',
    'Content-Length',
    String(Buffer.byteLength(body)),
  ]
}

/**
 * sendError writes a plain-text error response the way Go's http.Error does
 * (`text/plain; charset=utf-8`, `X-Content-Type-Options: nosniff`, the message and a newline).
 * `extra` headers (e.g. Allow, Location) are added first.
 */
export function sendError(res: ServerResponse, method: string, e: HttpError, extra: string[] = []): number {
  const body = `${e.message}\n`
  res.writeHead(e.status, [...extra, ...plainTextHeaders(body)])
  res.end(method === 'HEAD' ? undefined : body)
  return method === 'HEAD' ? 0 : Buffer.byteLength(body)
}
