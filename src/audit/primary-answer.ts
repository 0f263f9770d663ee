import { EventEmitter } from 'node:events'
import type { Dispatcher } from 'undici'

/** Why a {@link PrimaryAnswer} holds its reading: its client's socket is full, or its turn's bytes are in. */
export type HoldReason = 'drain' | 'turn'

/**
 * PrimaryAnswer is the primary's answer to one request of the mirror, read with undici's dispatch
 * API: it is the handler passed to `Dispatcher.dispatch`, and it tells the mirror what comes as
 * events. undici frames the body by RFC 9112 §6.3 (no body for HEAD, 1xx, 204 and 304; chunked with
 * its trailers; Content-Length; until the connection closes) and hands the body over as views of the
 * bytes read from the socket, where Node's HTTP client copies every chunk (in CPU profiles of a
 * plain proxy at saturation, Node's client took 232 µs of the proxy's 1,459 per request, and the
 * proxy spent five times as long in GC as the same proxy on plain sockets).
 *
 * Events, in order: `'response'` once the status and fields are in (1xx answers are skipped, as
 * Node's client does), `'data'` per body chunk (never empty), then `'end'` (the trailers in
 * {@link rawTrailers}) or `'error'` (before or after `'response'`; after it the body is cut short).
 * Nothing is emitted after `'end'` or `'error'`.
 *
 * Reading is held while any reason to hold it stands ({@link hold}, {@link release}); and, once
 * `bytesPerTurn` bytes of the body have come in one turn of the event loop, until the turn's check
 * phase, so that one fast download does not hold the thread every other client waits on (the same
 * bound as {@link boundReadTurns} on Node's client). A body whose Content-Length is under the bound
 * is never held for it. {@link destroy} aborts the exchange; it does nothing once it is over.
 */
export class PrimaryAnswer extends EventEmitter implements Dispatcher.DispatchHandler {
  /** The status, once `'response'` was emitted. */
  statusCode = 0
  statusMessage = ''
  /** The fields as the primary sent them: names with their case, in order, repeated ones repeated. */
  rawHeaders: string[] = []
  /** The fields by lower-case name; repeated ones joined with `, ` (only the framing is read from here). */
  headers: Record<string, string> = {}
  /** The trailer fields, like {@link rawHeaders}, once `'end'` was emitted. */
  rawTrailers: string[] = []
  readonly #bytesPerTurn: number
  #abort: ((err?: Error) => void) | undefined
  #resume: (() => void) | undefined
  readonly #held = new Set<HoldReason>()
  #bounded = false
  #taken = 0
  #turnOpen = false
  #over = false
  #destroyed: Error | undefined

  /** `bytesPerTurn`: the read bound per turn of the event loop; 0 for none. */
  constructor(bytesPerTurn: number) {
    super()
    this.#bytesPerTurn = bytesPerTurn
  }

  /**
   * Whether the body is read at most `bytesPerTurn` per turn (known once `'response'` is
   * emitted): its Content-Length is not under the bound, or it has none.
   */
  get bounded(): boolean {
    return this.#bounded
  }

  /** hold stops reading the body until every reason given is released. */
  hold(reason: HoldReason): void {
    this.#held.add(reason)
  }

  /** release takes a reason to hold back; reading goes on once none is left. */
  release(reason: HoldReason): void {
    if (!this.#held.delete(reason) || this.#held.size > 0 || this.#over) return
    // The parser may already have handed its socket to another request: a finished exchange
    // never resumes it.
    this.#resume?.()
  }

  /** destroy aborts the exchange (the connection is closed): an `'error'` follows, unless it is over. */
  destroy(err: Error = new Error('the exchange was aborted')): void {
    if (this.#over || this.#destroyed) return
    this.#destroyed = err
    this.#abort?.(err)
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    // Destroyed while it waited for a connection: abort as soon as it can be.
    if (this.#destroyed) abort(this.#destroyed)
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string): boolean {
    if (statusCode < 200) return true
    this.statusCode = statusCode
    this.statusMessage = statusMessage
    this.#resume = resume
    const raw: string[] = []
    const headers: Record<string, string> = {}
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1')
      const value = rawHeaders[i + 1]!.toString('latin1')
      raw.push(name, value)
      const key = name.toLowerCase()
      const seen = headers[key]
      headers[key] = seen === undefined ? value : `${seen}, ${value}`
    }
    this.rawHeaders = raw
    this.headers = headers
    const length = Number(headers['content-length'] ?? Number.NaN)
    this.#bounded = this.#bytesPerTurn > 0 && !(Number.isSafeInteger(length) && length < this.#bytesPerTurn)
    this.emit('response')
    return this.#held.size === 0
  }

  onData(chunk: Buffer): boolean {
    // undici's parser hands over empty chunks: they carry nothing.
    if (chunk.length === 0) return this.#held.size === 0
    if (this.#bounded) this.#count(chunk.length)
    this.emit('data', chunk)
    return this.#held.size === 0
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    this.#over = true
    if (trailers) this.rawTrailers = trailers.map(t => (typeof t === 'string' ? t : t.toString('latin1')))
    this.emit('end')
  }

  onError(err: Error): void {
    if (this.#over) return
    this.#over = true
    this.emit('error', err)
  }

  /** #count adds a chunk to this turn's bytes; past the bound, reading waits for the check phase. */
  #count(n: number): void {
    this.#taken += n
    if (!this.#turnOpen) {
      this.#turnOpen = true
      setImmediate(() => {
        this.#turnOpen = false
        this.#taken = 0
        this.release('turn')
      })
    }
    if (this.#taken >= this.#bytesPerTurn) this.hold('turn')
  }
}
