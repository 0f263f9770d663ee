import type { IncomingMessage, ServerResponse } from 'node:http'
import { abortError, CutoverError } from '../core/errors.js'
import { isResident, type Content } from '../content/content.js'
import type { Entity } from '../content/entity.js'
import { formatHttpDate } from './http-date.js'
import { plainTextHeaders } from './http-error.js'
import { multipartLayout, randomBoundary, type MultipartLayout } from './multipart.js'
import { evaluatePreconditions, isZeroTime, type ConditionalHeaders } from './preconditions.js'
import { contentRange, parseRange, sumRangesSize, type ByteRange } from './range.js'

/** ResponseBody is what follows the header block of a planned response. */
export type ResponseBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'range'; readonly range: ByteRange }
  | { readonly kind: 'multipart'; readonly layout: MultipartLayout }

/**
 * ResponsePlan is the whole decision serveContent makes before reading a byte: status, headers
 * (flat [name, value, ...] as Node's writeHead takes them) and the body to send. For HEAD the body is
 * still described (its length is in Content-Length) but never sent.
 */
export interface ResponsePlan {
  readonly status: number
  readonly headers: string[]
  readonly body: ResponseBody
}

/** EntityMeta is everything of an Entity but its bytes: enough to plan a response. */
export interface EntityMeta extends Omit<Entity, 'content'> {
  readonly size: number
}

/** Headers that Go's serveError removes from error responses (Go 1.23). */
const DROPPED_ON_ERROR = new Set(['cache-control', 'content-encoding', 'etag', 'last-modified'])
/** Headers that writeNotModified removes from a 304 (RFC 7232 §4.1). */
const DROPPED_ON_304 = new Set(['content-type', 'content-length', 'content-encoding'])

function errorPlan(
  method: string,
  status: number,
  text: string,
  extra: EntityMeta['headers'],
  more: string[] = [],
): ResponsePlan {
  const headers: string[] = []
  for (const [k, v] of extra ?? []) if (!DROPPED_ON_ERROR.has(k.toLowerCase())) headers.push(k, v)
  const body = `${text}\n`
  headers.push(...more, ...plainTextHeaders(body))
  return { status, headers, body: method === 'HEAD' ? { kind: 'none' } : { kind: 'text', text: body } }
}

/**
 * planResponse decides the response to a GET or HEAD (or any method, as Go's ServeContent does) for
 * a representation, with exact parity with Go 1.23's `http.ServeContent` in status, Content-Range,
 * Content-Length, Accept-Ranges, body and multipart layout (design.md §4):
 * preconditions first (412/304), then the Range header (RFC 7233): malformed → 416; nothing overlaps
 * → 416 with `Content-Range: bytes *\/size` unless the content is empty (200); ranges summing to more
 * than the size are ignored (200); one range → 206 with Content-Range; several →
 * multipart/byteranges with an exact Content-Length. `boundary` is called only for multipart.
 */
export function planResponse(
  method: string,
  cond: ConditionalHeaders,
  e: EntityMeta,
  boundary: () => string = randomBoundary,
): ResponsePlan {
  const size = e.size
  const base: string[] = []
  const lastModified = isZeroTime(e.lastModified) ? undefined : formatHttpDate(e.lastModified!)
  const verdict = evaluatePreconditions(method, cond, e)

  if (verdict.kind === 'not-modified') {
    // RFC 7232 §4.1: no representation metadata but what guides caches; Last-Modified only when
    // there is no ETag.
    if (lastModified !== undefined && e.etag === undefined) base.push('Last-Modified', lastModified)
    if (e.etag !== undefined) base.push('ETag', e.etag)
    for (const [k, v] of e.headers ?? []) if (!DROPPED_ON_304.has(k.toLowerCase())) base.push(k, v)
    return { status: 304, headers: base, body: { kind: 'none' } }
  }
  if (lastModified !== undefined) base.push('Last-Modified', lastModified)
  if (e.etag !== undefined) base.push('ETag', e.etag)
  for (const [k, v] of e.headers ?? []) base.push(k, v)

  if (verdict.kind === 'failed') {
    // Go writes a bare 412: its server then adds Content-Length: 0, except to a HEAD.
    if (method !== 'HEAD') base.push('Content-Length', '0')
    return { status: 412, headers: base, body: { kind: 'none' } }
  }

  const ctype = e.contentType
  let ranges: readonly ByteRange[] | undefined
  const parsed = parseRange(verdict.range, size)
  switch (parsed.kind) {
    case 'invalid':
      return errorPlan(method, 416, 'invalid range', e.headers)
    case 'no-overlap':
      // Some clients send a Range on every request to cap the response; an empty file gets 200.
      if (size !== 0) {
        return errorPlan(method, 416, 'invalid range: failed to overlap', e.headers, ['Content-Range', `bytes */${size}`])
      }
      break
    case 'ranges':
      // More bytes asked for than the whole: probably an attack or a dumb client; serve it all.
      if (sumRangesSize(parsed.ranges) <= size) ranges = parsed.ranges
      break
  }

  const headers = base
  const hasEncoding = (e.headers ?? []).some(([k, v]) => v !== '' && k.toLowerCase() === 'content-encoding')
  let status = 200
  let body: ResponseBody
  let sendSize: number
  if (ranges !== undefined && ranges.length === 1) {
    // RFC 7233 §4.1: a single part is sent with Content-Range, never as multipart.
    const r = ranges[0]!
    status = 206
    if (ctype !== undefined) headers.push('Content-Type', ctype)
    headers.push('Content-Range', contentRange(r, size))
    body = { kind: 'range', range: r }
    sendSize = r.length
  } else if (ranges !== undefined && ranges.length > 1) {
    status = 206
    const layout = multipartLayout(ranges, ctype ?? '', size, boundary())
    headers.push('Content-Type', `multipart/byteranges; boundary=${layout.boundary}`)
    body = { kind: 'multipart', layout }
    sendSize = layout.length
  } else {
    if (ctype !== undefined) headers.push('Content-Type', ctype)
    body = { kind: 'range', range: { start: 0, length: size } }
    sendSize = size
  }
  headers.push('Accept-Ranges', 'bytes')
  // Go omits Content-Length on a whole-body response that carries a Content-Encoding (a wrapper may
  // be compressing on the fly); a range response always gets it.
  if (status === 206 || !hasEncoding) headers.push('Content-Length', String(sendSize))
  return { status, headers, body: method === 'HEAD' ? { kind: 'none' } : body }
}

/**
 * firstHeader returns the first value of a request header, as Go's Header.Get does. Node joins
 * repeated If-Match, If-None-Match, If-Range and Range headers with ", ", which would change their
 * meaning, so repeated headers are looked up in rawHeaders.
 */
function firstHeader(req: IncomingMessage, lower: string): string | undefined {
  const joined = req.headers[lower]
  if (joined === undefined || typeof joined !== 'string' || !joined.includes(',')) {
    return typeof joined === 'string' ? joined : undefined
  }
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lower) return raw[i + 1]
  return joined
}

/** conditionalHeaders extracts the headers preconditions and ranges depend on from a request. */
export function conditionalHeaders(req: IncomingMessage): ConditionalHeaders {
  const h = req.headers
  return {
    ifMatch: h['if-match'] === undefined ? undefined : firstHeader(req, 'if-match'),
    ifUnmodifiedSince: h['if-unmodified-since'],
    ifNoneMatch: h['if-none-match'] === undefined ? undefined : firstHeader(req, 'if-none-match'),
    ifModifiedSince: h['if-modified-since'],
    ifRange: h['if-range'] === undefined ? undefined : firstHeader(req, 'if-range'),
    range: h.range === undefined ? undefined : firstHeader(req, 'range'),
  }
}

/** ServeContentOptions tunes how bodies are streamed. */
export interface ServeContentOptions {
  /**
   * Largest read handed to Content.readAt and to the socket at once, in bytes. Memory per
   * download is about two pieces. If unset, defaults to {@link DEFAULT_PIECE_SIZE}.
   */
  readonly pieceSize?: number
  /** Reused read buffers; if unset, each download allocates its own. */
  readonly pool?: BufferPool
  /**
   * Filled in as the response progresses (status at header time, bytes as they are written), so a
   * caller that logs on the response's 'close' event sees the figures even before the returned
   * promise settles. If unset, a fresh object is used.
   */
  readonly result?: ServeResult
  /** Called with multipart boundaries; if unset, random 60-hex-digit boundaries. */
  readonly boundary?: () => string
}

/** DEFAULT_PIECE_SIZE is the default read and write unit of a streamed body: 256 KiB. */
export const DEFAULT_PIECE_SIZE = 256 * 1024

/** ServeResult reports what happened to one response, for access logs and metrics. */
export interface ServeResult {
  status: number
  /** Body bytes handed to the socket. */
  bytes: number
  /** True when the response did not complete: the client went away or a read failed mid-body. */
  aborted: boolean
  /** The read error that aborted the response, if any. */
  error?: unknown
}

/**
 * BufferPool recycles fixed-size read buffers between downloads so that streaming a large body does
 * not allocate (and fault in) a fresh buffer per piece. A buffer goes back to the pool only after
 * the socket write that used it has completed. At most `max` idle buffers are kept.
 */
export class BufferPool {
  readonly #free: Buffer[] = []
  readonly size: number
  readonly #max: number
  constructor(size: number, max = 64) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new TypeError('size must be a positive integer')
    this.size = size
    this.#max = max
  }
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }
  give(b: Buffer): void {
    if (b.length === this.size && this.#free.length < this.#max) this.#free.push(b)
  }
}

/** waitDrain resolves when `res` can take more data, and rejects if it closes first. */
function waitDrain(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.reject(abortError())
  return new Promise((resolve, reject) => {
    const done = (err?: unknown): void => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      if (err) reject(err)
      else resolve()
    }
    const onDrain = (): void => done()
    const onClose = (): void => done(abortError())
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}

/**
 * Pump streams byte ranges of one Content to one response in pieces, with backpressure and one read
 * ahead: the next piece is read while the current one is written, and nothing more is read while
 * the socket is above its high-water mark. Memory per response is two pieces at most.
 */
class Pump {
  readonly #pool: BufferPool
  constructor(
    readonly res: ServerResponse,
    readonly content: Content,
    readonly result: ServeResult,
    pool: BufferPool,
    readonly signal: AbortSignal,
  ) {
    this.#pool = pool
  }

  async #read(off: number, n: number): Promise<Buffer> {
    const buf = this.#pool.take()
    try {
      const got = await this.content.readAt(buf.subarray(0, n), off, this.signal)
      if (got !== n) throw new CutoverError('ERR_SHORT_READ', `content ended at ${off + got}, expected ${off + n}`)
      return buf
    } catch (err) {
      this.#pool.give(buf)
      throw err
    }
  }

  write(chunk: Uint8Array, recycle?: Buffer): Promise<void> | undefined {
    if (this.signal.aborted) throw abortError(this.signal)
    this.result.bytes += chunk.length
    const ok = this.res.write(chunk, recycle ? () => this.#pool.give(recycle) : undefined)
    return ok ? undefined : waitDrain(this.res)
  }

  async range(r: ByteRange): Promise<void> {
    const piece = this.#pool.size
    const end = r.start + r.length
    const c = this.content
    if (isResident(c)) {
      // In-memory bytes: write views, piece by piece so backpressure still paces the socket.
      for (let off = r.start; off < end; off += piece) {
        const drained = this.write(c.view(off, Math.min(piece, end - off)))
        if (drained) await drained
      }
      return
    }
    let off = r.start
    let next = off < end ? this.#read(off, Math.min(piece, end - off)) : undefined
    while (next) {
      const buf = await next
      const n = Math.min(piece, end - off)
      off += n
      // Read ahead while the socket takes this piece.
      next = off < end ? this.#read(off, Math.min(piece, end - off)) : undefined
      next?.catch(() => undefined) // handled when awaited; avoid an unhandled rejection meanwhile
      const drained = this.write(buf.subarray(0, n), buf)
      if (drained) await drained
    }
  }
}

/**
 * serveContent answers `req` with `entity` on `res` with Go ServeContent semantics (see
 * {@link planResponse}) and streams the body from `entity.content` in bounded pieces with
 * backpressure. Memory does not grow with the file size or the number of ranges.
 *
 * Failure contract: a read error before the header is sent turns into a clean 500; a read error
 * after it destroys the connection, so the client sees a short body against the Content-Length and
 * never a complete-looking response with wrong bytes. A client that disconnects aborts the pending
 * reads through their AbortSignal. A response that needs no read (errors, 304/412, in-memory
 * content) is sent synchronously and its result returned directly; otherwise a promise is returned.
 * It never throws or rejects.
 */
export function serveContent(
  req: IncomingMessage,
  res: ServerResponse,
  entity: Entity,
  options: ServeContentOptions = {},
): ServeResult | Promise<ServeResult> {
  const content = entity.content
  const plan = planResponse(
    req.method ?? 'GET',
    conditionalHeaders(req),
    { ...entity, size: content.size },
    options.boundary,
  )
  const result: ServeResult = options.result ?? { status: 0, bytes: 0, aborted: false }
  result.status = plan.status
  const body = plan.body
  // Everything that needs no read is answered synchronously: no promise, no extra tick.
  if (body.kind === 'none' || body.kind === 'text') {
    res.writeHead(plan.status, plan.headers)
    if (body.kind === 'text') result.bytes = Buffer.byteLength(body.text)
    res.end(body.kind === 'text' ? body.text : undefined)
    return result
  }
  if (body.kind === 'range' && isResident(content)) {
    // In-memory bytes go to the socket as they are: no read, no copy.
    const view = content.view(body.range.start, body.range.length)
    res.writeHead(plan.status, plan.headers)
    res.end(view)
    result.bytes = view.length
    return result
  }
  return streamBody(req, res, entity, plan, body, result, options)
}

/** streamBody sends a planned body that has to be read from its Content. */
async function streamBody(
  req: IncomingMessage,
  res: ServerResponse,
  entity: Entity,
  plan: ResponsePlan,
  body: Exclude<ResponseBody, { kind: 'none' } | { kind: 'text' }>,
  result: ServeResult,
  options: ServeContentOptions,
): Promise<ServeResult> {
  const content = entity.content
  const pieceSize = options.pool?.size ?? options.pieceSize ?? DEFAULT_PIECE_SIZE
  if (body.kind === 'range' && body.range.length <= pieceSize) {
    // Small body: one read, then header and body in one write. A failed read is still a clean 500.
    const buf = Buffer.allocUnsafe(body.range.length)
    try {
      const got = body.range.length === 0 ? 0 : await content.readAt(buf, body.range.start)
      if (got !== body.range.length) throw new CutoverError('ERR_SHORT_READ', 'content shorter than its size')
    } catch (err) {
      return failBeforeHeader(req, res, entity, result, err)
    }
    res.writeHead(plan.status, plan.headers)
    res.end(buf)
    result.bytes = buf.length
    return result
  }

  const pool = options.pool ?? new BufferPool(pieceSize, 2)
  const ac = new AbortController()
  const onClose = (): void => {
    if (!res.writableFinished) ac.abort()
  }
  res.on('close', onClose)
  const pump = new Pump(res, content, result, pool, ac.signal)
  let headerSent = false
  try {
    if (body.kind === 'range') {
      // Read the first piece before committing to a status, so an early store error is a 500.
      const first = Math.min(pieceSize, body.range.length)
      const buf = pool.take()
      try {
        const got = await content.readAt(buf.subarray(0, first), body.range.start, ac.signal)
        if (got !== first) throw new CutoverError('ERR_SHORT_READ', 'content shorter than its size')
      } catch (err) {
        pool.give(buf)
        return failBeforeHeader(req, res, entity, result, err)
      }
      res.writeHead(plan.status, plan.headers)
      headerSent = true
      const rest = { start: body.range.start + first, length: body.range.length - first }
      const next = rest.length > 0 ? pump.range(rest) : undefined
      next?.catch(() => undefined)
      const drained = pump.write(buf.subarray(0, first), buf)
      if (drained) await drained
      if (next) await next
    } else {
      res.writeHead(plan.status, plan.headers)
      headerSent = true
      for (const part of body.layout.parts) {
        const d = pump.write(part.header)
        if (d) await d
        await pump.range(part.range)
      }
      const d = pump.write(body.layout.trailer)
      if (d) await d
    }
    await new Promise<void>(resolve => {
      res.once('close', resolve)
      res.end(resolve)
    })
    if (!res.writableFinished) result.aborted = true
  } catch (err) {
    result.aborted = true
    if (!ac.signal.aborted) result.error = err
    if (!headerSent) return failBeforeHeader(req, res, entity, result, err)
    // The header promised bytes we cannot deliver: cut the connection rather than end the body.
    res.destroy()
  } finally {
    res.off('close', onClose)
  }
  return result
}

/** failBeforeHeader answers a 500 with Go's error headers when nothing has been sent yet. */
function failBeforeHeader(
  req: IncomingMessage,
  res: ServerResponse,
  entity: Entity,
  result: ServeResult,
  err: unknown,
): ServeResult {
  result.error = err
  if (res.headersSent || res.destroyed) {
    result.aborted = true
    res.destroy()
    return result
  }
  const plan = errorPlan(req.method ?? 'GET', 500, 'Internal Server Error', entity.headers)
  res.writeHead(500, plan.headers)
  res.end(plan.body.kind === 'text' ? plan.body.text : undefined)
  result.status = 500
  result.bytes = 0
  result.aborted = false
  return result
}
