import type { IncomingMessage, ServerResponse } from 'node:http'
import { abortError, CutoverError } from '../core/errors.js'
import { isResident, isViewed, type Content } from '../content/content.js'
import type { Entity } from '../content/entity.js'
import { formatHttpDate } from './http-date.js'
import { plainTextHeaders } from './http-error.js'
import { multipartLayout, randomBoundary, type MultipartLayout } from './multipart.js'
import { evaluatePreconditions, isZeroTime, type ConditionalHeaders } from './preconditions.js'
import { contentRange, parseRange, sumRangesSize, type ByteRange } from './range.js'
import { BufferBudget, type Lease } from './buffer-budget.js'

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
const DROPPED_ON_ERROR: ReadonlySet<string> = new Set(['cache-control', 'content-encoding', 'etag', 'last-modified'])
/** Headers that writeNotModified removes from a 304 (RFC 9110 §15.4.5). */
const DROPPED_ON_304: ReadonlySet<string> = new Set(['content-type', 'content-length', 'content-encoding'])

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
 * Content-Length, Accept-Ranges, body and multipart layout (Go's net/http/fs.go):
 * preconditions first (412/304), then the Range header (RFC 9110 §14): malformed → 416; nothing overlaps
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
  // Formatting the date was most of this function's cost: an entity served often brings its text.
  const lastModified = isZeroTime(e.lastModified) ? undefined : (e.lastModifiedText ?? formatHttpDate(e.lastModified!))
  const verdict = evaluatePreconditions(method, cond, e)

  if (verdict.kind === 'not-modified') {
    // RFC 9110 §15.4.5: no representation metadata but what guides caches; Last-Modified only when
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
    // RFC 9110 §15.3.7.1: a single part is sent with Content-Range, never as multipart.
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
   * Largest read handed to Content.readAt and to the socket at once, in bytes, when there is no
   * `budget` (with one, its piece size is used). If unset, defaults to {@link DEFAULT_PIECE_SIZE}.
   */
  readonly pieceSize?: number
  /**
   * The read buffers, shared by every download of a server: a download waits for one before each
   * read when the budget is spent. If unset, each download gets a budget of its own of two pieces.
   */
  readonly budget?: BufferBudget
  /**
   * Filled in as the response progresses (status at header time, bytes as they are written), so a
   * caller that logs on the response's 'close' event sees the figures even before the returned
   * promise settles. If unset, a fresh object is used.
   */
  readonly result?: ServeResult
  /** Called with multipart boundaries; if unset, random 60-hex-digit boundaries. */
  readonly boundary?: () => string
}

/**
 * DEFAULT_PIECE_SIZE is the default read and write unit of a streamed body: 512 KiB. Larger pieces
 * mean fewer thread-pool reads per byte (1 MiB range slices ran 1.16 GB/s with 256 KiB pieces and
 * 2.08 GB/s with 512 KiB here); a download holds at most two pieces, and all downloads together
 * at most their {@link BufferBudget}.
 */
export const DEFAULT_PIECE_SIZE = 512 * 1024

/** ServeResult reports what happened to one response, for access logs and metrics. */
export interface ServeResult {
  status: number
  /**
   * Body bytes handed to the socket: a streamed piece counts once its write has completed, so a
   * response cut mid-body counts what left the process, not what was still queued in it.
   */
  bytes: number
  /** True when the response did not complete: the client went away or a read failed mid-body. */
  aborted: boolean
  /** The read error that aborted the response, if any. */
  error?: unknown
}

/**
 * Served is what {@link serveContent} returns. `result` is the options' result object (filled in as
 * the response progresses). `done` is undefined when the whole response was written before
 * serveContent returned (errors, 304/412, HEAD, in-memory content: the hot path pays for no promise
 * and no extra tick); otherwise it settles, never rejecting, with `result` once the body has been
 * streamed or given up.
 */
export interface Served {
  readonly result: ServeResult
  readonly done: Promise<ServeResult> | undefined
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
 * Piece is one socket write of a streamed body: literal bytes (multipart part headers, the closing
 * delimiter) followed by `len` bytes of content from `off`. Sending a part header in the same write
 * as the bytes after it saves a syscall per part.
 */
export interface Piece {
  readonly literal: readonly Uint8Array[]
  readonly literalLength: number
  readonly off: number
  readonly len: number
}

/**
 * pieces cuts a planned body into {@link Piece}s of at most `size` bytes each (literal bytes
 * included), in order. A single range is cut into plain pieces; a multipart body's part headers
 * ride at the front of the piece that starts their part, and the closing delimiter is a last piece
 * of its own.
 */
export function* pieces(body: StreamedBody, size: number): Generator<Piece> {
  let literal: Uint8Array[] = []
  let literalLength = 0
  for (const seg of segments(body)) {
    if (seg instanceof Uint8Array) {
      literal.push(seg)
      literalLength += seg.length
      continue
    }
    let off = seg.start
    const end = seg.start + seg.length
    do {
      // A part header as large as a piece (an absurd content type) still goes, in a piece of its own.
      const len = Math.min(Math.max(0, size - literalLength), end - off)
      if (len > 0 || literalLength > 0) yield { literal, literalLength, off, len }
      literal = []
      literalLength = 0
      off += len
    } while (off < end)
  }
  if (literalLength > 0) yield { literal, literalLength, off: 0, len: 0 }
}

/** segments lists a body's literal bytes and content ranges in order, making part headers lazily. */
function* segments(body: StreamedBody): Generator<Uint8Array | ByteRange> {
  if (body.kind === 'range') {
    yield body.range
    return
  }
  const l = body.layout
  for (let i = 0; i < l.ranges.length; i++) {
    yield l.header(i)
    yield l.ranges[i]!
  }
  yield l.trailer
}

/** StreamedBody is a planned body that has bytes to send. */
type StreamedBody = Exclude<ResponseBody, { kind: 'none' } | { kind: 'text' }>

/** Loaded is a piece ready to write, and the lease of its buffer to give back once the socket has it. */
interface Loaded {
  readonly data: Uint8Array
  readonly lease?: Lease | undefined
}

const noop = (): void => undefined

/**
 * Pump streams the pieces of one body to one response with backpressure and at most one piece of
 * read-ahead (across part boundaries): the next piece is read while the current one is written,
 * and nothing more is read while the socket is above its high-water mark.
 *
 * Buffers come from the server's {@link BufferBudget}. A piece's buffer is taken before its read
 * and given back when the socket write that carried it has completed (flushed to the kernel), not
 * when the response ends. The first buffer of a download is waited for in the budget's queue; the
 * read-ahead buffer is taken only if one is free at that moment, never waited for; and a download
 * that still holds a written piece waits for that one to come back rather than queue for a second.
 * So a download holds at most two pieces, and takes a second one only while buffers are free; while
 * its socket is blocked it offers a loaded read-ahead back to the budget, which gives it to a
 * waiting download. Once the budget is spent, a client that stops reading therefore holds one
 * piece (the one in its socket) until the idle timeout closes its connection. Content
 * already in memory is written as views, without buffers or reads; so is a piece that lies within
 * one chunk of chunked content (a remote blob's cached chunk), read as a view of that chunk: its
 * memory is the chunk cache's, not the read buffers'.
 */
class Pump {
  readonly #budget: BufferBudget
  /** Leases this download holds: being read into, loaded, or written and not yet flushed. */
  readonly #held = new Set<Lease>()
  /** Wakes #lease when one of this download's own leases comes back. */
  #onReturn: (() => void) | undefined
  /** The read-ahead, awaited by close() before any buffer is given back; undefined once reclaimed. */
  #ahead: Promise<Loaded> | undefined
  /** The read-ahead's lease while it is not yet being written, and whether its read has settled. */
  #aheadLease: Lease | undefined
  #aheadReady = false
  /** True while write() waits for the socket to drain. */
  #blocked = false
  /** The offer made to the budget while blocked with a loaded read-ahead (see #offer). */
  readonly #reclaim = (): boolean => {
    this.#offered = false
    const lease = this.#aheadLease
    if (!this.#blocked || !this.#aheadReady || lease === undefined || !this.#held.has(lease)) return false
    // Its bytes were read for nothing: the piece is read again once the socket takes more.
    this.#aheadLease = undefined
    this.#ahead = undefined
    this.#return(lease)
    return true
  }
  #offered = false
  constructor(
    readonly res: ServerResponse,
    readonly content: Content,
    readonly result: ServeResult,
    budget: BufferBudget,
    readonly signal: AbortSignal,
  ) {
    this.#budget = budget
  }

  /** #direct returns a piece that needs no buffer (a lone literal, or resident content). */
  #direct(p: Piece): Loaded | undefined {
    if (p.len === 0 && p.literal.length === 1) return { data: p.literal[0]! }
    if (p.literalLength === 0 && isResident(this.content)) return { data: this.content.view(p.off, p.len) }
    return undefined
  }

  /** #view loads a piece as a view of the content's own bytes, when it offers one for the piece. */
  #view(p: Piece): Promise<Loaded> | undefined {
    if (p.literalLength !== 0 || p.len === 0 || !isViewed(this.content)) return undefined
    return this.content.viewAt(p.off, p.len, this.signal)?.then(data => {
      if (data.length !== p.len) throw new CutoverError('ERR_SHORT_READ', `content ended at ${p.off + data.length}, expected ${p.off + p.len}`)
      return { data }
    })
  }

  /** load reads a piece, waiting for a buffer when the budget is spent. */
  async load(p: Piece): Promise<Loaded> {
    const direct = this.#direct(p)
    if (direct) return direct
    const view = this.#view(p)
    if (view) return view
    // Literal bytes larger than a piece cannot happen with Go-sized part headers; such a piece
    // gets a buffer of its own, outside the budget, rather than fail.
    if (p.literalLength + p.len > this.#budget.pieceSize) return this.#fill(p, undefined)
    return this.#fill(p, await this.#lease())
  }

  /**
   * loadAhead starts loading a piece only if that needs no wait: no buffer, or one free in the
   * budget right now (and this download holds fewer than two); the promise is also kept in #ahead.
   * Otherwise it returns undefined and the piece is loaded with {@link load} once the current one
   * has been written.
   */
  loadAhead(p: Piece): Promise<Loaded> | undefined {
    const direct = this.#direct(p)
    if (direct) return (this.#ahead = Promise.resolve(direct))
    const view = this.#view(p)
    if (view) {
      // The rejection is handled when awaited; no unhandled rejection meanwhile.
      view.catch(noop)
      return (this.#ahead = view)
    }
    if (p.literalLength + p.len > this.#budget.pieceSize) return undefined
    if (this.#held.size >= 2) return undefined
    const lease = this.#budget.tryAcquire()
    if (!lease) return undefined
    this.#held.add(lease)
    const ahead = this.#fill(p, lease)
    this.#ahead = ahead
    this.#aheadLease = lease
    this.#aheadReady = false
    // The rejection is handled when awaited; no unhandled rejection meanwhile.
    ahead.then(
      () => {
        if (this.#aheadLease !== lease) return
        this.#aheadReady = true
        this.#offer()
      },
      noop,
    )
    return ahead
  }

  /**
   * #offer lets the budget take the read-ahead buffer back while the socket is blocked and the
   * read-ahead is loaded: a client that stops reading then holds only the piece in its socket
   * once others wait.
   */
  #offer(): void {
    if (!this.#blocked || !this.#aheadReady || this.#aheadLease === undefined || this.#offered) return
    this.#offered = true
    this.#budget.addReclaimer(this.#reclaim)
  }

  /** #lease takes a buffer: from the queue when holding none, else only once one of ours is back. */
  async #lease(): Promise<Lease> {
    for (;;) {
      if (this.#held.size === 0) {
        const lease = await this.#budget.acquire(this.signal)
        this.#held.add(lease)
        return lease
      }
      const lease = this.#budget.tryAcquire()
      if (lease) {
        this.#held.add(lease)
        return lease
      }
      // The budget is spent and the socket still has a piece of ours: wait for it to be flushed.
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(abortError(this.signal))
        if (this.signal.aborted) return onAbort()
        this.signal.addEventListener('abort', onAbort, { once: true })
        this.#onReturn = () => {
          this.signal.removeEventListener('abort', onAbort)
          resolve()
        }
      })
    }
  }

  /** #return gives a lease back to the budget and wakes a #lease waiting for it. */
  #return(lease: Lease): void {
    if (!this.#held.delete(lease)) return
    lease.release()
    const wake = this.#onReturn
    this.#onReturn = undefined
    wake?.()
  }

  /** #fill reads the piece's literal bytes and then its content bytes into the lease's buffer. */
  async #fill(p: Piece, lease: Lease | undefined): Promise<Loaded> {
    const buf = lease?.buf ?? Buffer.allocUnsafe(p.literalLength + p.len)
    try {
      let at = 0
      for (const l of p.literal) {
        buf.set(l, at)
        at += l.length
      }
      if (p.len > 0) {
        const got = await this.content.readAt(buf.subarray(at, at + p.len), p.off, this.signal)
        if (got !== p.len) throw new CutoverError('ERR_SHORT_READ', `content ended at ${p.off + got}, expected ${p.off + p.len}`)
      }
      return { data: buf.subarray(0, at + p.len), lease }
    } catch (err) {
      // The read has settled (readAt never retains the buffer after that): the buffer is free.
      if (lease) this.#return(lease)
      throw err
    }
  }

  /** write hands one loaded piece to the socket and resolves once the socket can take more. */
  async write(piece: Loaded): Promise<void> {
    if (this.signal.aborted || this.res.destroyed) throw abortError(this.signal)
    const lease = piece.lease
    const n = piece.data.length
    // The callback runs once this chunk has been handed to the kernel (or the socket has failed):
    // only then may another download read into the buffer, and only then are its bytes counted (a
    // chunk still queued in Node when the connection is cut never left the process).
    const ok = this.res.write(piece.data, err => {
      if (!err) this.result.bytes += n
      if (lease) this.#return(lease)
    })
    if (ok) return
    this.#blocked = true
    this.#offer()
    try {
      await waitDrain(this.res)
    } finally {
      this.#blocked = false
      if (this.#offered) {
        this.#offered = false
        this.#budget.removeReclaimer(this.#reclaim)
      }
    }
  }

  /** run writes `first` and then loads and writes the remaining pieces in order. */
  async run(iter: Iterator<Piece>, first: Loaded | undefined): Promise<void> {
    let current = first
    while (current) {
      const step = iter.next()
      this.#ahead = undefined
      if (!step.done) this.loadAhead(step.value)
      await this.write(current)
      if (step.done) return
      // The read-ahead, unless the budget took it back while the socket was blocked.
      const ahead = this.#ahead
      this.#aheadLease = undefined
      current = await (ahead ?? this.load(step.value))
    }
  }

  /**
   * close gives back every buffer this download still holds, once its read-ahead (if any) has
   * settled: a buffer being read into must never go to another download. Called when the response
   * has ended or the connection is gone, when no write of ours is pending in the socket any more.
   */
  async close(): Promise<void> {
    await this.#ahead?.catch(noop)
    for (const lease of [...this.#held]) this.#return(lease)
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
 * content) is sent synchronously (see {@link Served}). Neither it nor `done` throws or rejects.
 */
export function serveContent(
  req: IncomingMessage,
  res: ServerResponse,
  entity: Entity,
  options: ServeContentOptions = {},
): Served {
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
    return { result, done: undefined }
  }
  if (body.kind === 'range' && isResident(content)) {
    // In-memory bytes go to the socket as they are: no read, no copy.
    const view = content.view(body.range.start, body.range.length)
    res.writeHead(plan.status, plan.headers)
    res.end(view)
    result.bytes = view.length
    return { result, done: undefined }
  }
  return { result, done: streamBody(req, res, entity, plan, body, result, options) }
}

/** streamBody sends a planned body that has to be read from its Content. */
async function streamBody(
  req: IncomingMessage,
  res: ServerResponse,
  entity: Entity,
  plan: ResponsePlan,
  body: StreamedBody,
  result: ServeResult,
  options: ServeContentOptions,
): Promise<ServeResult> {
  const budget =
    options.budget ??
    new BufferBudget({ bytes: 2 * (options.pieceSize ?? DEFAULT_PIECE_SIZE), pieceSize: options.pieceSize ?? DEFAULT_PIECE_SIZE, idleDropMs: 0 })
  const ac = new AbortController()
  const onClose = (): void => {
    if (!res.writableFinished) ac.abort()
  }
  res.on('close', onClose)
  const pump = new Pump(res, entity.content, result, budget, ac.signal)
  const iter = pieces(body, budget.pieceSize)
  let headerSent = false
  try {
    // The first piece is loaded before the status goes out, so an early store error is a clean 500.
    const step = iter.next()
    const first = step.done ? undefined : await pump.load(step.value)
    res.writeHead(plan.status, plan.headers)
    headerSent = true
    await pump.run(iter, first)
    await new Promise<void>(resolve => {
      res.once('close', resolve)
      res.end(resolve)
    })
    if (!res.writableFinished) result.aborted = true
  } catch (err) {
    result.aborted = true
    if (!ac.signal.aborted) result.error = err
    ac.abort()
    if (!headerSent) {
      await pump.close()
      return failBeforeHeader(req, res, entity, result, err)
    }
    // The header promised bytes we cannot deliver: cut the connection rather than end the body.
    res.destroy()
  } finally {
    res.off('close', onClose)
    // Ended (every write flushed) or destroyed (no write of ours will reach the socket any more).
    await pump.close()
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
