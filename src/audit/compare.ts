import { systemClock, type Clock } from '../core/clock.js'
import { CutoverError } from '../core/errors.js'
import { Halt, type StopSignal } from '../core/halt.js'
import { connectionTokens, HOP_BY_HOP } from '../http/header-facts.js'
import { parseHttpDate } from '../http/http-date.js'
import { diffDigests, type BodyDigest, type BodyDigester } from './body-digest.js'
import { cancelBody } from './cancel-body.js'
import { digestBody, type Needed, type SideBody } from './digest-body.js'
import { DigestPair } from './digest-pair.js'
import type { Comparison, Divergence, NotComparedReason } from './divergence.js'
import type { ExchangeRequest, Observed, Side } from './exchange.js'
import type { Backend, SendOptions } from './http-backend.js'
import { boundaryOf } from './multipart-parser.js'
import type { ReadPace } from './read-pacer.js'
import { ALWAYS_IGNORED, type Rules } from './rules.js'
import { CONTEXT_BYTES } from './stream-compare.js'
import { isStrongEtag, zoomBlock, type ZoomBudget } from './zoom.js'

export { cancelBody } from './cancel-body.js'

/** DEFAULT_BODY_TIMEOUT_MS is how long a body may send no byte before its side times out: 60 s. */
export const DEFAULT_BODY_TIMEOUT_MS = 60_000

/**
 * Zoom says how a comparison may locate a difference exactly: the budget of re-requests, and the
 * servers to send them to (a side without one is not re-requested, so neither is the block).
 */
export interface Zoom {
  readonly budget: ZoomBudget
  readonly control?: Backend | undefined
  readonly candidate?: Backend | undefined
  /** Options of the re-requests (abort signal, shadow marker, X-Forwarded-For). */
  readonly send?: SendOptions | undefined
}

/** CompareOptions tunes one comparison. */
export interface CompareOptions {
  /** Header and body rules; see rules.ts. */
  readonly rules: Rules
  /**
   * Under `etag: consistent`, whether this exchange's pair of ETags ({@link judgedEtags}) agrees
   * with the pairs learnt from earlier exchanges: the experiment asks EtagPairs before comparing,
   * so the comparison itself reads no state. If unset, true (consistency judged per exchange).
   */
  readonly etagsConsistent?: boolean
  /** Where the comparison's `time` and its body timeout come from. If unset, the system clock. */
  readonly clock?: Clock
  /**
   * A side whose body sends no byte for this long times out (a `timeout` divergence of that side).
   * If unset, DEFAULT_BODY_TIMEOUT_MS.
   */
  readonly bodyTimeoutMs?: number | undefined
  /**
   * The side whose body a client reads (the mirror's primary): it goes at the client's pace, so it
   * has no time limit, and a client that leaves early cuts it (ERR_CLIENT_GONE): what it received
   * is compared. If unset, none.
   */
  readonly paced?: Side | undefined
  /**
   * How the side compared with a client-paced one is read past its first bytes (the mirror's
   * shadow; see ExperimentOptions.shadowPace). Unused without `paced`. If unset, as fast as it comes.
   */
  readonly shadowPace?: ReadPace | undefined
  /** Locating a difference exactly by a ranged re-request of its block. If unset, no re-request. */
  readonly zoom?: Zoom | undefined
}

/** Response is an {@link Observed} that is a response. */
export type Response = Extract<Observed, { kind: 'response' }>

/** Found collects divergences and the ones rules explain, as a comparison goes. */
export class Found {
  readonly divergences: Divergence[] = []
  readonly ignored: Array<{ divergence: Divergence; reason: string }> = []
  add(d: Divergence, ignoredBy?: string): void {
    if (ignoredBy) this.ignored.push({ divergence: d, reason: ignoredBy })
    else this.divergences.push(d)
  }
}

/** headerMap folds a header list into name → value, joining repeated fields with ", " (RFC 9110 §5.3). */
function headerMap(h: Response['headers']): Map<string, string> {
  const m = new Map<string, string>()
  for (const [k, v] of h) {
    const name = k.toLowerCase()
    const prev = m.get(name)
    m.set(name, prev === undefined ? v : `${prev}, ${v}`)
  }
  return m
}


const mediaType = (v: string | undefined): string | undefined => v?.split(';')[0]!.trim().toLowerCase()

/**
 * compareHeaders compares normalised response headers: hop-by-hop fields and Date are never
 * compared; Content-Length only when both sides send it (chunked vs Content-Length is not a
 * divergence when the bytes agree) and not for multipart bodies (the boundary's length may differ);
 * a multipart Content-Type is compared without its boundary; the rules decide the rest.
 */
function compareHeaders(
  status: number,
  c: Map<string, string>,
  n: Map<string, string>,
  multipart: boolean,
  o: CompareOptions,
  found: Found,
): void {
  // The connection names little (usually nothing): the constant sets are looked up, not copied.
  const named = [...connectionTokens(c.get('connection')), ...connectionTokens(n.get('connection'))]
  const names = [...new Set([...c.keys(), ...n.keys()])].sort()
  const rules = o.rules
  const statusOnly = rules.statusOnly.has(status)
  for (const name of names) {
    if (HOP_BY_HOP.has(name) || ALWAYS_IGNORED.has(name) || named.includes(name)) continue
    const cv = c.get(name)
    const nv = n.get(name)
    const d: Divergence = { kind: 'header', name, ...(cv !== undefined ? { control: cv } : {}), ...(nv !== undefined ? { candidate: nv } : {}) }
    if (statusOnly && name !== 'content-range') {
      if (cv !== nv) found.add(d, `statusOnly: ${status}`)
      continue
    }
    if (name === 'content-length' && (cv === undefined || nv === undefined || multipart)) continue
    if (rules.ignoreHeaders.has(name)) {
      if (cv !== nv) found.add(d, `ignoreHeaders: ${name}`)
      continue
    }
    if (rules.ignoreHeadersByStatus.get(status)?.has(name)) {
      if (cv !== nv) found.add(d, `ignoreHeadersByStatus: ${status} ${name}`)
      continue
    }
    if (name === 'etag' && rules.etag !== 'exact') {
      if (rules.etag === 'ignore') {
        if (cv !== nv) found.add(d, 'etag: ignore')
      } else if (cv === undefined || nv === undefined) {
        found.add(d) // consistent still wants both sides to tag, or neither
      } else {
        // Which pairs came before is the experiment's business: judgedEtags names this pair to it.
        if (o.etagsConsistent === false) found.add(d)
        else if (cv !== nv) found.add(d, 'etag: consistent')
      }
      continue
    }
    if (name === 'content-type' && (multipart || rules.contentTypeParams === 'ignore')) {
      if (mediaType(cv) !== mediaType(nv)) found.add(d)
      else if (cv !== nv && !multipart) found.add(d, 'contentTypeParams: ignore')
      continue
    }
    const tolerance = rules.dateTolerance.get(name)
    if (tolerance !== undefined && cv !== undefined && nv !== undefined) {
      const ct = parseHttpDate(cv)
      const nt = parseHttpDate(nv)
      if (ct !== undefined && nt !== undefined && Math.abs(ct - nt) <= tolerance) {
        if (cv !== nv) found.add(d, `dateTolerance: ${name} ${tolerance}s`)
        continue
      }
    }
    if (cv !== nv) found.add(d)
  }
}

/**
 * judgedEtags returns the control's and the candidate's ETag when `compareExchange` would judge
 * their consistency (`etag: consistent`, both answers with the same status, that status not
 * `statusOnly`, ETag not ignored by a rule nor named by either Connection field, and both sides
 * tagged), or undefined. The experiment learns exactly these pairs, before comparing, and passes
 * the verdict as {@link CompareOptions.etagsConsistent}. Pure; reads no body.
 */
export function judgedEtags(control: Observed, candidate: Observed, rules: Rules): readonly [string, string] | undefined {
  if (rules.etag !== 'consistent' || control.kind !== 'response' || candidate.kind !== 'response') return undefined
  const status = control.status
  if (status !== candidate.status || rules.statusOnly.has(status)) return undefined
  if (rules.ignoreHeaders.has('etag') || rules.ignoreHeadersByStatus.get(status)?.has('etag')) return undefined
  const c = headerMap(control.headers)
  const n = headerMap(candidate.headers)
  if ([...connectionTokens(c.get('connection')), ...connectionTokens(n.get('connection'))].includes('etag')) return undefined
  const cv = c.get('etag')
  const nv = n.get('etag')
  return cv === undefined || nv === undefined ? undefined : [cv, nv]
}


/** boundaryFor is the boundary of a multipart/byteranges answer (a 206), or undefined. */
export function boundaryFor(r: Response): string | undefined {
  if (r.status !== 206) return undefined
  return boundaryOf(r.headers.find(([k]) => k === 'content-type')?.[1])
}

/**
 * compareHeads compares what both sides said before any body byte: a failure before the status
 * (error or timeout), the status, and the normalised headers. It records what it finds in `found`
 * (at once: nothing that happens to the bodies later can lose it) and returns whether the bodies
 * are to be compared (both answered, with the same status, not a `statusOnly` one). Pure.
 */
export function compareHeads(control: Observed, candidate: Observed, o: CompareOptions, found: Found): boolean {
  for (const [side, r] of [['control', control], ['candidate', candidate]] as const) {
    if (r.kind !== 'error') continue
    if (r.code === 'ERR_CLIENT_GONE') {
      found.add({ kind: 'not-compared', reason: 'client-gone', message: r.message })
      continue
    }
    found.add(r.code === 'ERR_TIMEOUT' ? { kind: 'timeout', side, afterMs: r.durationMs } : { kind: 'error', side, code: r.code, message: r.message })
  }
  if (control.kind === 'error' || candidate.kind === 'error') return false
  if (control.status !== candidate.status) {
    found.add({ kind: 'status', control: control.status, candidate: candidate.status })
    return false
  }
  const ch = headerMap(control.headers)
  const nh = headerMap(candidate.headers)
  const multipart = boundaryFor(control) !== undefined && boundaryFor(candidate) !== undefined
  compareHeaders(control.status, ch, nh, multipart, o, found)
  return !o.rules.statusOnly.has(control.status)
}

/**
 * digestResponse reads one side's body on its own ({@link digestBody}): multipart parsed when it is
 * a multipart/byteranges answer, with the idle limit unless the side is client-paced.
 */
export function digestResponse(
  r: Response,
  side: Side,
  o: CompareOptions,
  signal?: StopSignal,
  digester?: BodyDigester,
  needed?: Needed,
): Promise<SideBody> {
  return digestBody(r.body, {
    boundary: boundaryFor(r),
    idleMs: o.paced === side ? undefined : (o.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS),
    pace: o.paced !== undefined && o.paced !== side ? o.shadowPace : undefined,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(signal ? { signal } : {}),
    digester,
    needed,
  })
}

/** The codes of a body given up on purpose, and the reason each gives. */
const GIVEN_UP: Readonly<Record<string, NotComparedReason>> = { ERR_ABANDONED: 'budget', ERR_SHUTDOWN: 'shutdown', ERR_SHED: 'shed' }

/** givenUpReason is why a side's body was given up on purpose (not a server's fault), or undefined. */
export const givenUpReason = (b: SideBody): NotComparedReason | undefined => (b.failure ? GIVEN_UP[b.failure.code] : undefined)

/**
 * failedHere tells whether a side's body failure is the server's (to be reported, and a reason to
 * stop reading the other side): not a client that left, nor the caller's own abort.
 */
export const failedHere = (b: SideBody): boolean =>
  b.failure !== undefined && b.failure.code !== 'ERR_CLIENT_GONE' && b.failure.code !== 'ERR_ABORTED'

const headerOf = (r: Response, name: string): string | undefined => r.headers.find(([k]) => k === name)?.[1]

/** rangeStart is the first byte a 206's Content-Range (or a part's) covers; 0 for a 200. */
function rangeStart(status: number, contentRange: string | undefined): number | undefined {
  if (status === 200) return 0
  const m = contentRange ? /^bytes (\d+)-\d+\//.exec(contentRange) : null
  return m ? Number(m[1]) : undefined
}

/** contextOf is the context of a difference at `offset` from bytes that start at `base`. */
function contextOf(a: Buffer, b: Buffer, base: number, offset: number): { from: number; control: string; candidate: string } {
  const from = Math.max(base, offset - CONTEXT_BYTES)
  const end = offset + CONTEXT_BYTES - base
  return { from, control: a.subarray(from - base, end).toString('hex'), candidate: b.subarray(from - base, end).toString('hex') }
}

/**
 * Locator finds where two bodies (or two parts) first differ: from their digests, from the heads
 * kept whole, or by re-requesting the one block that differs.
 */
class Locator {
  #zoom: ReturnType<typeof zoomFor> | undefined

  constructor(
    readonly request: ExchangeRequest,
    readonly found: Found,
    readonly control: Response,
    readonly candidate: Response,
    readonly options: CompareOptions,
  ) {}

  /** zoom is why no block can be re-requested, or the sides to re-request it from: decided once, when first needed. */
  get zoom(): ReturnType<typeof zoomFor> {
    return (this.#zoom ??= zoomFor(this.control, this.candidate, this.options))
  }

  /**
   * locate compares `a` (control) with `b` (candidate) up to `limit` (all if unset), records the
   * first difference, and returns the bytes compared. `start` is where the bytes begin in the
   * representation on both sides (for a re-request), undefined when they cannot be asked for.
   */
  async locate(a: BodyDigest, b: BodyDigest, limit: number | undefined, start: number | undefined, part?: number): Promise<number> {
    const d = diffDigests(a, b, limit)
    const p = part === undefined ? {} : { part }
    const shortest = Math.min(a.length, b.length)
    const bytes = {
      controlLength: a.length,
      candidateLength: b.length,
      ...(a.sha256 === undefined ? {} : { controlSha256: a.sha256 }),
      ...(b.sha256 === undefined ? {} : { candidateSha256: b.sha256 }),
      ...p,
    }
    switch (d.kind) {
      case 'equal':
        return d.compared
      case 'prefix':
        this.found.add({ kind: 'body-length', control: a.length, candidate: b.length, ...p })
        return shortest
      case 'bytes':
        this.found.add({ kind: 'body-bytes', offset: d.offset, ...bytes, context: contextOf(a.head, b.head, 0, d.offset) })
        return shortest
    }
    let why: string
    const zoom = this.zoom
    if (typeof zoom === 'string') why = zoom
    else if (start === undefined) why = 'the block cannot be re-requested (the sides sent different ranges)'
    else if (!zoom.z.budget.take()) why = 're-request budget spent'
    else {
      const { z, control, candidate, etags } = zoom
      const r = await zoomBlock(
        this.request,
        { backend: control, etag: etags[0] },
        { backend: candidate, etag: etags[1] },
        start + d.from,
        start + d.to,
        z.send,
      )
      if (r.kind === 'differ') {
        const offset = d.from + r.offset
        this.found.add({ kind: 'body-bytes', offset, ...bytes, context: contextOf(r.control, r.candidate, d.from, offset) })
        return shortest
      }
      if (r.kind === 'same' && shortest < d.to && d.from + Math.min(r.control, r.candidate) >= shortest) {
        // The shorter body ends in this block and the bytes before its end agree: a prefix.
        this.found.add({ kind: 'body-length', control: a.length, candidate: b.length, ...p })
        return shortest
      }
      why = r.kind === 'same' ? 'the re-request found the block equal: the difference did not repeat' : r.why
    }
    if (a.length !== b.length && shortest <= d.to) {
      // The shorter body ends in the block: a length difference, with bytes that may also differ there.
      this.found.add({ kind: 'body-length', control: a.length, candidate: b.length, ...p, equalUpTo: d.from })
    } else {
      this.found.add({ kind: 'body-bytes', offset: d.from, ...bytes, block: { from: d.from, to: d.to, why } })
    }
    return shortest
  }
}

/** zoomFor says how a difference in these answers may be located exactly, or why it may not. */
function zoomFor(
  control: Response,
  candidate: Response,
  o: CompareOptions,
): string | { readonly z: Zoom; readonly control: Backend; readonly candidate: Backend; readonly etags: readonly [string, string] } {
  const z = o.zoom
  if (!z) return 'no re-request (--no-zoom)'
  if (!z.control || !z.candidate) return 'no server to re-request from'
  const etags = [headerOf(control, 'etag'), headerOf(candidate, 'etag')] as const
  if (!isStrongEtag(etags[0]) || !isStrongEtag(etags[1])) return 'no re-request: both sides need a strong ETag (If-Range)'
  // A range is of the selected representation (RFC 9110 §14.1.2): only the same coding is comparable.
  if (headerOf(control, 'content-encoding') !== headerOf(candidate, 'content-encoding'))
    return 'no re-request: the sides sent different content codings'
  return { z, control: z.control, candidate: z.candidate, etags: [etags[0], etags[1]] }
}

/** declaredLength checks a body against its Content-Length: a short body is a truncation. */
function checkDeclared(side: Side, r: Response, got: number, found: Found): boolean {
  const cl = headerOf(r, 'content-length')
  if (cl === undefined || !/^\d+$/.test(cl) || Number(cl) === got) return true
  found.add({ kind: 'error', side, code: 'ERR_TRUNCATED', message: `body has ${got} bytes, Content-Length says ${cl}` })
  return false
}

/**
 * compareBodies compares two bodies from their digests ({@link digestResponse}) and records what
 * differs: a body given up on purpose (`not-compared`, with its reason), a side that broke or went
 * idle (`error`, `timeout`), a body shorter than its Content-Length, and the first difference, located
 * exactly (from the heads, or by a re-request of its block when `o.zoom` allows) or to its block.
 * Multipart bodies are compared part by part, boundaries ignored. A body its client cut short is
 * compared as far as the client got. Returns the body bytes compared.
 */
export async function compareBodies(
  request: ExchangeRequest,
  control: Response,
  candidate: Response,
  cb: SideBody,
  nb: SideBody,
  o: CompareOptions,
  found: Found,
): Promise<number> {
  for (const b of [cb, nb]) {
    const reason = givenUpReason(b)
    if (reason) {
      found.add({ kind: 'not-compared', reason, message: b.failure!.message })
      return 0
    }
  }
  let broken = false
  for (const [side, b] of [['control', cb], ['candidate', nb]] as const) {
    if (!failedHere(b)) continue
    broken = true
    const f = b.failure!
    if (f.code === 'ERR_TIMEOUT') found.add({ kind: 'timeout', side, afterMs: o.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS })
    else found.add({ kind: 'error', side, code: f.code === 'ERR_MULTIPART' ? 'ERR_MULTIPART' : 'ERR_TRUNCATED', message: f.message })
  }
  if (broken || cb.failure?.code === 'ERR_ABORTED' || nb.failure?.code === 'ERR_ABORTED') return 0
  if (request.method === 'HEAD') return 0
  const cut = cb.failure ? cb : nb.failure ? nb : undefined
  if (cut && cut.digest.length === 0) {
    found.add({ kind: 'not-compared', reason: 'client-gone', message: 'the client went away before any body byte' })
    return 0
  }
  if (!cut) {
    const okC = checkDeclared('control', control, cb.digest.length, found)
    const okN = checkDeclared('candidate', candidate, nb.digest.length, found)
    if (!okC || !okN) return 0
  }
  const locator = new Locator(request, found, control, candidate, o)
  if (cb.parts && nb.parts) return compareParts(cb, nb, cut, locator, o)
  const cs = rangeStart(control.status, headerOf(control, 'content-range'))
  const ns = rangeStart(candidate.status, headerOf(candidate, 'content-range'))
  // Only one side multipart: their whole bodies are compared (the Content-Type already differs).
  const plain = !cb.parts && !nb.parts
  return locator.locate(cb.digest, nb.digest, cut?.digest.length, plain && cs === ns ? cs : undefined)
}

/** compareParts compares two multipart bodies part by part: count, Content-Range, Content-Type, bytes. */
async function compareParts(cb: SideBody, nb: SideBody, cut: SideBody | undefined, locator: Locator, o: CompareOptions): Promise<number> {
  const cp = cb.parts!
  const np = nb.parts!
  const found = locator.found
  let compared = 0
  for (let part = 0; ; part++) {
    const c = cp[part]
    const n = np[part]
    if (!c || !n) {
      // A body its client cut has fewer parts through no fault of the server.
      if ((c || n) && !cut) found.add({ kind: 'range-part', part, field: 'count', control: c ? 'more parts' : 'end', candidate: n ? 'more parts' : 'end' })
      return compared
    }
    const ch = new Map(c.headers)
    const nh = new Map(n.headers)
    for (const field of ['content-range', 'content-type'] as const) {
      let cv = ch.get(field)
      let nv = nh.get(field)
      if (field === 'content-type' && o.rules.contentTypeParams === 'ignore') {
        cv = mediaType(cv)
        nv = mediaType(nv)
      }
      if (cv !== nv) found.add({ kind: 'range-part', part, field, ...(cv !== undefined ? { control: cv } : {}), ...(nv !== undefined ? { candidate: nv } : {}) })
    }
    const cs = rangeStart(206, ch.get('content-range'))
    const last = cut && part === (cut === cb ? cp : np).length - 1
    compared += await locator.locate(c.digest, n.digest, last ? (cut === cb ? c : n).digest.length : undefined, cs === rangeStart(206, nh.get('content-range')) ? cs : undefined, part)
  }
}

/** comparisonOf is the record of one comparison. */
export function comparisonOf(
  request: ExchangeRequest,
  control: Observed,
  candidate: Observed,
  found: Found,
  bytesCompared: number,
  clock: Clock = systemClock,
): Comparison {
  return {
    request,
    time: new Date(clock.now()).toISOString(),
    status: {
      ...(control.kind === 'response' ? { control: control.status } : {}),
      ...(candidate.kind === 'response' ? { candidate: candidate.status } : {}),
    },
    durationsMs: { control: control.durationMs, candidate: candidate.durationMs },
    bytesCompared,
    divergences: found.divergences,
    ignored: found.ignored,
    noise: [],
  }
}

/**
 * digestBoth reads two bodies at once, each on its own ({@link digestResponse}): neither waits for
 * the other, and the bytes they agree on are compared, not hashed ({@link DigestPair}). When one fails
 * through its server's fault (or is given up), the other is stopped: there is nothing left to
 * compare it with.
 */
export async function digestBoth(control: Response, candidate: Response, o: CompareOptions): Promise<[SideBody, SideBody]> {
  const halts = [new Halt(), new Halt()] as const
  const stopOther = (i: 0 | 1) => (b: SideBody): SideBody => {
    if (failedHere(b)) halts[1 - i]!.abort(new CutoverError('ERR_ABORTED', 'the other side failed'))
    return b
  }
  const pair = new DigestPair()
  return Promise.all([
    digestResponse(control, 'control', o, halts[0], pair.side(0)).then(stopOther(0)),
    digestResponse(candidate, 'candidate', o, halts[1], pair.side(1)).then(stopOther(1)),
  ])
}

/**
 * compareExchange compares the control's and the candidate's answers to one request and resolves
 * with the {@link Comparison}: failures before a status, the status, the normalised headers
 * ({@link compareHeads}, recorded whatever happens to the bodies), then, when the statuses agree,
 * the bodies, each read on its own and hashed in blocks ({@link compareBodies}). It consumes (or
 * cancels) both bodies and never rejects.
 */
export async function compareExchange(
  request: ExchangeRequest,
  control: Observed,
  candidate: Observed,
  options: CompareOptions,
): Promise<Comparison> {
  const found = new Found()
  let bytesCompared = 0
  if (!compareHeads(control, candidate, options, found) || control.kind !== 'response' || candidate.kind !== 'response') {
    cancelBody(control)
    cancelBody(candidate)
  } else {
    const [cb, nb] = await digestBoth(control, candidate, options)
    bytesCompared = await compareBodies(request, control, candidate, cb, nb, options, found)
  }
  return comparisonOf(request, control, candidate, found, bytesCompared, options.clock)
}

/**
 * notComparedRecord is the record of an exchange that was not compared at all (no shadow sent,
 * or the client left before the primary answered): the statuses known, and why.
 */
export function notComparedRecord(
  request: ExchangeRequest,
  reason: NotComparedReason,
  message: string,
  status: Comparison['status'],
  clock: Clock = systemClock,
): Comparison {
  return {
    request,
    time: new Date(clock.now()).toISOString(),
    status,
    durationsMs: {},
    bytesCompared: 0,
    divergences: [{ kind: 'not-compared', reason, message }],
    ignored: [],
    noise: [],
  }
}
