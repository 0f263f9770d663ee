import { parse as parseYaml, YAMLParseError } from 'yaml'
import { CutoverError } from '../core/errors.js'
import { scanETag } from '../http/etag.js'
import type { ExchangeRequest } from './exchange.js'

/**
 * Rules say which differences between two servers are expected, so that only the others count as
 * divergences. Ignored differences are still recorded (Comparison.ignored), with the rule's name.
 */
export interface Rules {
  /** Response headers not compared (lower-case), on top of hop-by-hop headers and Date. */
  readonly ignoreHeaders: ReadonlySet<string>
  /** Response headers not compared on responses of one status, e.g. Last-Modified on 304. */
  readonly ignoreHeadersByStatus: ReadonlyMap<number, ReadonlySet<string>>
  /** Headers compared as HTTP dates that may differ by up to this many seconds. */
  readonly dateTolerance: ReadonlyMap<string, number>
  /**
   * How ETags are compared: `exact`; `consistent`: any value, as long as each side gives the same
   * tag for the same representation and different tags for different ones (a one-to-one mapping
   * per path, learnt as the audit goes, see {@link EtagPairs}); `ignore`.
   */
  readonly etag: 'exact' | 'consistent' | 'ignore'
  /** Compare Content-Type by media type only (`text/plain` equals `text/plain; charset=utf-8`). */
  readonly contentTypeParams: 'compare' | 'ignore'
  /**
   * Statuses whose answers are each server's own error page (404, 412, 416...): only the status and
   * Content-Range are compared; the body and every other header are explained by this rule.
   */
  readonly statusOnly: ReadonlySet<number>
}

/** HOP_BY_HOP headers (RFC 9110 §7.6.1) and others that describe the connection, never compared. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
])

/** ALWAYS_IGNORED are headers that differ on every response by nature. */
export const ALWAYS_IGNORED: ReadonlySet<string> = new Set(['date'])

/** DEFAULT_RULES compare everything exactly. */
export const DEFAULT_RULES: Rules = {
  ignoreHeaders: new Set(),
  ignoreHeadersByStatus: new Map(),
  dateTolerance: new Map(),
  etag: 'exact',
  contentTypeParams: 'compare',
  statusOnly: new Set(),
}

const invalid = (file: string, field: string, why: string): CutoverError =>
  new CutoverError('ERR_INVALID_ARGUMENT', `${file}: ${field}: ${why}`)

/**
 * parseRules reads a rules document (YAML or JSON, which is YAML) and returns frozen Rules, or
 * throws ERR_INVALID_ARGUMENT naming the file, the line (for syntax errors) and the field:
 *
 * ```yaml
 * ignoreHeaders: [server, x-request-id]
 * ignoreHeadersByStatus: { 304: [last-modified] }
 * dateTolerance: { last-modified: 1, expires: 5 }
 * etag: consistent          # exact | consistent | ignore
 * contentTypeParams: ignore # compare | ignore
 * statusOnly: [404, 412, 416]
 * ```
 */
export function parseRules(text: string, file = 'rules'): Rules {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    const line = err instanceof YAMLParseError && err.linePos ? `:${err.linePos[0].line}` : ''
    throw new CutoverError('ERR_INVALID_ARGUMENT', `${file}${line}: not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`)
  }
  if (doc === null || doc === undefined) return DEFAULT_RULES
  if (typeof doc !== 'object' || Array.isArray(doc)) throw invalid(file, '(top)', 'expected a mapping of rule names')
  const known = ['ignoreHeaders', 'ignoreHeadersByStatus', 'dateTolerance', 'etag', 'contentTypeParams', 'statusOnly']
  const o = doc as Record<string, unknown>
  for (const k of Object.keys(o)) if (!known.includes(k)) throw invalid(file, k, `unknown rule (known: ${known.join(', ')})`)

  const names = (field: string, v: unknown = o[field] ?? []): string[] => {
    if (!Array.isArray(v)) throw invalid(file, field, 'expected a list of header names')
    return v.map((x, i) => {
      if (typeof x !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(x)) throw invalid(file, `${field}[${i}]`, 'expected a header name')
      return x.toLowerCase()
    })
  }
  const byStatus = o.ignoreHeadersByStatus ?? {}
  if (typeof byStatus !== 'object' || byStatus === null || Array.isArray(byStatus))
    throw invalid(file, 'ignoreHeadersByStatus', 'expected a mapping of status code to header names')
  const ignoreHeadersByStatus = new Map<number, ReadonlySet<string>>()
  for (const [k, v] of Object.entries(byStatus)) {
    const status = Number(k)
    if (!Number.isInteger(status) || status < 100 || status > 599) throw invalid(file, `ignoreHeadersByStatus.${k}`, 'expected a status code')
    ignoreHeadersByStatus.set(status, new Set(names(`ignoreHeadersByStatus.${k}`, v)))
  }
  const tol = o.dateTolerance ?? {}
  if (typeof tol !== 'object' || tol === null || Array.isArray(tol)) throw invalid(file, 'dateTolerance', 'expected a mapping of header name to seconds')
  const dateTolerance = new Map<string, number>()
  for (const [k, v] of Object.entries(tol)) {
    if (typeof v !== 'number' || !(v >= 0)) throw invalid(file, `dateTolerance.${k}`, 'expected a number of seconds >= 0')
    dateTolerance.set(k.toLowerCase(), v)
  }
  const oneOf = <T extends string>(field: string, allowed: readonly T[], dflt: T): T => {
    const v = o[field] ?? dflt
    if (typeof v !== 'string' || !allowed.includes(v as T)) throw invalid(file, field, `expected one of ${allowed.join(', ')}`)
    return v as T
  }
  const statuses = o.statusOnly ?? []
  if (!Array.isArray(statuses)) throw invalid(file, 'statusOnly', 'expected a list of status codes')
  const statusOnly = new Set(
    statuses.map((x, i) => {
      if (!Number.isInteger(x) || (x as number) < 100 || (x as number) > 599) throw invalid(file, `statusOnly[${i}]`, 'expected a status code')
      return x as number
    }),
  )
  return Object.freeze({
    ignoreHeaders: new Set(names('ignoreHeaders')),
    ignoreHeadersByStatus,
    dateTolerance,
    etag: oneOf('etag', ['exact', 'consistent', 'ignore'] as const, 'exact'),
    contentTypeParams: oneOf('contentTypeParams', ['compare', 'ignore'] as const, 'compare'),
    statusOnly,
  })
}

/**
 * EtagPairs learns, per path, which candidate ETag goes with which control ETag, so that
 * `etag: consistent` can accept different tag formats while still catching a server that gives one
 * tag to two representations (or two tags to one). It also translates validators: a client's
 * If-None-Match carries the control's tags, and the shadow request must carry the candidate's.
 * Bounded: at most `maxPaths` paths are remembered (oldest forgotten first).
 */
export class EtagPairs {
  readonly #byPath = new Map<string, { c2n: Map<string, string>; n2c: Map<string, string> }>()
  readonly #max: number
  constructor(maxPaths = 100_000) {
    this.#max = maxPaths
  }

  /**
   * observe records that `control` and `candidate` tagged the same representation of `path` and
   * tells whether that is consistent with what was seen before.
   */
  observe(path: string, control: string, candidate: string): boolean {
    let m = this.#byPath.get(path)
    if (!m) {
      if (this.#byPath.size >= this.#max) this.#byPath.delete(this.#byPath.keys().next().value!)
      m = { c2n: new Map(), n2c: new Map() }
      this.#byPath.set(path, m)
    }
    const n = m.c2n.get(control)
    const c = m.n2c.get(candidate)
    if (n === undefined && c === undefined) {
      m.c2n.set(control, candidate)
      m.n2c.set(candidate, control)
      return true
    }
    return n === candidate && c === control
  }

  /** translate maps a control ETag of `path` to the candidate's, when known. */
  translate(path: string, controlTag: string): string | undefined {
    return this.#byPath.get(path)?.c2n.get(controlTag)
  }

  /**
   * untranslate maps a candidate ETag of `path` back to the control's, when known: once the new
   * server is primary, clients revalidate with its tags and the shadow sent to old needs old's.
   */
  untranslate(path: string, candidateTag: string): string | undefined {
    return this.#byPath.get(path)?.n2c.get(candidateTag)
  }
}
/** The request fields that carry entity-tags (RFC 9110 §13.1). */
const VALIDATOR_HEADERS = ['if-none-match', 'if-match', 'if-range'] as const

/**
 * translateValidators rewrites the entity-tags of If-None-Match, If-Match and If-Range with `map`
 * where it knows a translation (RFC 9110 §13.1: `*`, dates and anything unparsable are left as
 * they are), so that a revalidation that matches on one server also matches on the other when
 * their tag formats differ. Returns `req` itself when nothing changes.
 */
export function translateValidators(
  req: ExchangeRequest,
  map: (tag: string) => string | undefined,
): ExchangeRequest {
  let headers: Record<string, string> | undefined
  for (const name of VALIDATOR_HEADERS) {
    const v = req.headers[name]
    if (v === undefined) continue
    const t = translateTagList(v, map)
    if (t !== v) (headers ??= { ...req.headers })[name] = t
  }
  return headers ? { ...req, headers } : req
}

function translateTagList(v: string, map: (tag: string) => string | undefined): string {
  const tags: string[] = []
  let changed = false
  let rest = v
  for (;;) {
    const s = scanETag(rest)
    if (!s) return v
    const t = map(s.etag)
    if (t !== undefined && t !== s.etag) changed = true
    tags.push(t ?? s.etag)
    rest = s.rest.replace(/^[ \t]+/, '')
    if (rest === '') break
    // #entity-tag lists (RFC 9110 §5.6.1) allow empty elements: `"a", , "b"`.
    const m = /^(?:[ \t]*,)+/.exec(rest)
    if (!m) return v
    rest = rest.slice(m[0].length)
    if (rest.trim() === '') break
  }
  return changed ? tags.join(', ') : v
}

