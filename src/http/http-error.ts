import type { ServerResponse } from 'node:http'
import { codeOf, type ErrorCode } from '../core/errors.js'

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
  return httpErrorOf(codeOf(err))
}

/**
 * httpErrorOf is {@link toHttpError} of an error code (undefined: not a CutoverError), for answers
 * that are outcomes rather than errors (a resolver's miss is exactly an ERR_NOT_FOUND on the wire).
 */
export function httpErrorOf(code: ErrorCode | undefined): HttpError {
  switch (code) {
    case 'ERR_NOT_FOUND':
      return { status: 404, message: '404 page not found' }
    case 'ERR_FORBIDDEN':
      return { status: 403, message: '403 Forbidden' }
    case 'ERR_BAD_REQUEST':
      return { status: 400, message: '400 Bad Request' }
    case 'ERR_HTTP_VERSION':
      return { status: 505, message: '505 HTTP Version Not Supported' }
    case 'ERR_BLOB_CHANGED':
      // The blob changed under the read: its bytes are never sent mixed. Known before the header,
      // it is a 500 (a retry gets the new version); after it, serveContent cuts the connection, so
      // the body ends short of its Content-Length and no client takes it as complete.
      return { status: 500, message: '500 Internal Server Error' }
    case 'ERR_UPSTREAM':
      // A remote store (S3, an origin) failed to answer, retries and fallbacks spent: the server
      // acted as a gateway to it (RFC 9110 §15.6.3).
      return { status: 502, message: '502 Bad Gateway' }
    case 'ERR_TIMEOUT':
      // A remote store did not answer within --store-timeout (RFC 9110 §15.6.5).
      return { status: 504, message: '504 Gateway Timeout' }
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

/** VERSION: an HTTP-version as RFC 9112 §2.3 writes it, `HTTP/` DIGIT `.` DIGIT. */
const VERSION = / HTTP\/(\d)\.(\d)\r?$/

/**
 * parseErrorToHttp maps an error of Node's HTTP parser (a server 'clientError') to the answer Go's
 * server gives to the same bytes: 431 for a header block over the limit (RFC 6585 §5), 408 for a
 * header block that did not arrive in time, 505 for a well-formed version whose major is not 1
 * (Node's parser refuses e.g. HTTP/3.0 itself, Go answers 505: RFC 9110 §15.6.6), 400 otherwise.
 * `rawPacket` is the bytes the parser was given, when Node supplies them.
 */
export function parseErrorToHttp(err: { code?: string | undefined; rawPacket?: Buffer | undefined }): HttpError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: '431 Request Header Fields Too Large' }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: '408 Request Timeout' }
    case 'HPE_INVALID_VERSION': {
      const head = err.rawPacket?.subarray(0, 8192).toString('latin1') ?? ''
      const eol = head.indexOf('\n')
      const m = VERSION.exec(eol < 0 ? head : head.slice(0, eol))
      if (m && m[1] !== '1') return { status: 505, message: '505 HTTP Version Not Supported' }
      return { status: 400, message: '400 Bad Request' }
    }
    default:
      return { status: 400, message: '400 Bad Request' }
  }
}

/**
 * parseErrorResponse is the whole response to a request Node's parser refused: a plain-text error
 * as {@link sendError} writes it, then the connection is closed (`Connection: close`), since the
 * request's framing cannot be trusted (RFC 9112 §11.2).
 */
export function parseErrorResponse(e: HttpError): Buffer {
  const body = `${e.message}\n`
  const reason = e.message.slice(String(e.status).length + 1)
  const h = plainTextHeaders(body)
  let head = `HTTP/1.1 ${e.status} ${reason}\r\n`
  for (let i = 0; i + 1 < h.length; i += 2) head += `${h[i]}: ${h[i + 1]}\r\n`
  return Buffer.from(`${head}Connection: close\r\n\r\n${body}`, 'latin1')
}
