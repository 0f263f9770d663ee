import { systemClock, type Clock } from '../core/clock.js'
import { codeOf } from '../core/errors.js'
import { connectionTokens, HOP_BY_HOP } from '../http/header-facts.js'
import { parseHttpDate } from '../http/http-date.js'
import type { Comparison, Divergence } from './divergence.js'
import type { ExchangeRequest, Observed, Side } from './exchange.js'
import { boundaryOf, parseMultipart, type MultipartPart } from './multipart-parser.js'
import { ALWAYS_IGNORED, type Rules } from './rules.js'
import { compareStreams, type StreamVerdict } from './stream-compare.js'

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
  /** Abandon the body comparison after this long (a `timeout` divergence). If unset, 60 000 ms. */
  readonly bodyTimeoutMs?: number
}

type Response = Extract<Observed, { kind: 'response' }>

/** Found collects divergences and the ones rules explain, as a comparison goes. */
class Found {
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

/** bodyError turns a broken stream into an `error` divergence of that side. */
function bodyError(side: Side, err: unknown, got: number): Divergence {
  const multipart = codeOf(err) === 'ERR_MULTIPART'
  const message = `${multipart ? 'malformed' : 'body broke'} after ${got} bytes: ${err instanceof Error ? err.message : String(err)}`
  return { kind: 'error', side, code: multipart ? 'ERR_MULTIPART' : 'ERR_TRUNCATED', message }
}

/**
 * streamDivergences turns a stream comparison into divergences: a truncation of the side that broke,
 * the first differing byte (with both lengths, digests and context), or a length difference; none
 * when the streams are equal. `part` is set for multipart parts.
 */
export function streamDivergences(v: StreamVerdict, part?: number): Divergence[] {
  if (v.failed) return [bodyError(v.failed.side, v.failed.error, v.failed.side === 'control' ? v.controlLength : v.candidateLength)]
  const p = part === undefined ? {} : { part }
  if (v.offset !== undefined) {
    return [
      {
        kind: 'body-bytes',
        offset: v.offset,
        controlLength: v.controlLength,
        candidateLength: v.candidateLength,
        controlSha256: v.controlSha256,
        candidateSha256: v.candidateSha256,
        ...p,
        ...(v.context ? { context: v.context } : {}),
      },
    ]
  }
  if (v.controlLength !== v.candidateLength) return [{ kind: 'body-length', control: v.controlLength, candidate: v.candidateLength, ...p }]
  return []
}

/** addStreamVerdict records a stream comparison's divergences. */
function addStreamVerdict(v: StreamVerdict, found: Found, part?: number): void {
  for (const d of streamDivergences(v, part)) found.add(d)
}

/** declaredLength checks a body against its Content-Length: a short body is a truncation. */
function checkDeclared(side: Side, cl: string | undefined, got: number, found: Found): boolean {
  if (cl === undefined || !/^\d+$/.test(cl) || Number(cl) === got) return true
  found.add({ kind: 'error', side, code: 'ERR_TRUNCATED', message: `body has ${got} bytes, Content-Length says ${cl}` })
  return false
}

/**
 * compareMultipart compares two multipart/byteranges bodies part by part, ignoring the boundary:
 * part count, each part's Content-Range and Content-Type, and each part's bytes (streamed).
 */
async function compareMultipart(
  control: Response,
  candidate: Response,
  cb: string,
  nb: string,
  o: CompareOptions,
  found: Found,
  signal: AbortSignal,
): Promise<number> {
  const ci = parseMultipart(control.body, cb)
  const ni = parseMultipart(candidate.body, nb)
  let compared = 0
  for (let part = 0; ; part++) {
    const [cr, nr] = await Promise.allSettled([ci.next(), ni.next()])
    if (cr.status === 'rejected' || nr.status === 'rejected') {
      // A body that is not valid multipart, or that broke in the middle of a part header.
      if (cr.status === 'rejected') found.add(bodyError('control', cr.reason, compared))
      if (nr.status === 'rejected') found.add(bodyError('candidate', nr.reason, compared))
      await Promise.all([ci.return(undefined).catch(() => undefined), ni.return(undefined).catch(() => undefined)])
      return compared
    }
    const cs: IteratorResult<MultipartPart> = cr.value
    const ns: IteratorResult<MultipartPart> = nr.value
    if (cs.done || ns.done) {
      if (!cs.done || !ns.done) {
        found.add({ kind: 'range-part', part, field: 'count', control: cs.done ? 'end' : 'more parts', candidate: ns.done ? 'end' : 'more parts' })
        await Promise.all([ci.return(undefined).catch(() => undefined), ni.return(undefined).catch(() => undefined)])
      }
      return compared
    }
    const ch = new Map(cs.value.headers)
    const nh = new Map(ns.value.headers)
    for (const field of ['content-range', 'content-type'] as const) {
      let cv = ch.get(field)
      let nv = nh.get(field)
      if (field === 'content-type' && o.rules.contentTypeParams === 'ignore') {
        cv = mediaType(cv)
        nv = mediaType(nv)
      }
      if (cv !== nv) found.add({ kind: 'range-part', part, field, ...(cv !== undefined ? { control: cv } : {}), ...(nv !== undefined ? { candidate: nv } : {}) })
    }
    const v = await compareStreams(cs.value.body, ns.value.body, signal)
    compared += Math.min(v.controlLength, v.candidateLength)
    addStreamVerdict(v, found, part)
    if (v.failed) {
      await Promise.all([ci.return(undefined).catch(() => undefined), ni.return(undefined).catch(() => undefined)])
      return compared
    }
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

/** cancelBody gives up reading a response's body (releasing its connection); no-op for an error. */
export const cancelBody = (r: Observed): void => {
  if (r.kind === 'response') void (r.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]().return?.()?.catch(() => undefined)
}

/**
 * compareExchange compares the control's and the candidate's answers to one request and resolves
 * with the {@link Comparison}: status; normalised headers; and bodies read as two streams in
 * lockstep, chunk by chunk, in O(chunk) memory, recording the first differing offset, both lengths
 * and both sha256 (206: Content-Range as a header and the slice as the body; multipart: part by
 * part, boundary ignored; a body shorter than its Content-Length or cut by an error is a truncation).
 * Headers and bodies are compared only when the statuses agree. It consumes (or cancels) both
 * bodies and never rejects: failures of either side are divergences of kind `error` or `timeout`.
 */
export async function compareExchange(
  request: ExchangeRequest,
  control: Observed,
  candidate: Observed,
  options: CompareOptions,
): Promise<Comparison> {
  const found = new Found()
  let bytesCompared = 0
  const record = (): Comparison => ({
    request,
    time: new Date((options.clock ?? systemClock).now()).toISOString(),
    status: {
      ...(control.kind === 'response' ? { control: control.status } : {}),
      ...(candidate.kind === 'response' ? { candidate: candidate.status } : {}),
    },
    durationsMs: { control: control.durationMs, candidate: candidate.durationMs },
    bytesCompared,
    divergences: found.divergences,
    ignored: found.ignored,
    noise: [],
  })

  for (const [side, o] of [['control', control], ['candidate', candidate]] as const) {
    if (o.kind !== 'error') continue
    found.add(o.code === 'ERR_TIMEOUT' ? { kind: 'timeout', side, afterMs: o.durationMs } : { kind: 'error', side, code: o.code, message: o.message })
  }
  if (control.kind === 'error' || candidate.kind === 'error') {
    cancelBody(control)
    cancelBody(candidate)
    return record()
  }
  if (control.status !== candidate.status) {
    found.add({ kind: 'status', control: control.status, candidate: candidate.status })
    cancelBody(control)
    cancelBody(candidate)
    return record()
  }
  // Each side's fields are folded once, for the headers, the multipart check and Content-Length.
  const ch = headerMap(control.headers)
  const nh = headerMap(candidate.headers)
  const cb = boundaryOf(ch.get('content-type'))
  const nb = boundaryOf(nh.get('content-type'))
  compareHeaders(control.status, ch, nh, cb !== undefined && nb !== undefined, options, found)
  if (options.rules.statusOnly.has(control.status)) {
    cancelBody(control)
    cancelBody(candidate)
    return record()
  }

  const ac = new AbortController()
  const timeoutMs = options.bodyTimeoutMs ?? 60_000
  let timedOut = false
  const timer = (options.clock ?? systemClock).setTimeout(() => {
    timedOut = true
    ac.abort()
  }, timeoutMs)
  try {
    if (control.status === 206 && cb !== undefined && nb !== undefined) {
      bytesCompared = await compareMultipart(control, candidate, cb, nb, options, found, ac.signal)
      if (timedOut) found.add({ kind: 'timeout', side: 'candidate', afterMs: timeoutMs })
    } else {
      const v = await compareStreams(control.body, candidate.body, ac.signal)
      bytesCompared = Math.min(v.controlLength, v.candidateLength)
      if (timedOut) {
        const side = v.controlLength < v.candidateLength ? 'control' : 'candidate'
        found.add({ kind: 'timeout', side, afterMs: timeoutMs })
      } else if (v.failed) {
        addStreamVerdict(v, found)
      } else if (request.method !== 'HEAD') {
        const okC = checkDeclared('control', ch.get('content-length'), v.controlLength, found)
        const okN = checkDeclared('candidate', nh.get('content-length'), v.candidateLength, found)
        if (okC && okN) addStreamVerdict(v, found)
      }
    }
  } finally {
    timer.clear()
  }
  return record()
}
