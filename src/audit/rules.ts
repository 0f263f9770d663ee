import { parse as parseYaml, YAMLParseError } from 'yaml'
import { CutoverError } from '../core/errors.js'

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
   * per path, learnt as the audit goes: EtagPairs in etag-pairs.ts); `ignore`.
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

/** ALWAYS_IGNORED are headers that differ on every response by nature. */
export const ALWAYS_IGNORED: ReadonlySet<string> = new Set(['date'])

/** DEFAULT_RULES compare everything exactly. */
export const DEFAULT_RULES: Readonly<Rules> = {
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
