import { scanETag } from '../http/etag.js'
import type { ExchangeRequest, Side } from './exchange.js'

/** weakness is an entity-tag's weakness indicator (RFC 9110 §8.8.3): `W/`, or nothing. */
const weakness = (tag: string): string => (tag.startsWith('W/') ? 'W/' : '')

/** opaqueOf is an entity-tag without its weakness indicator: `W/"x"` → `"x"`. */
const opaqueOf = (tag: string): string => tag.slice(weakness(tag).length)

/**
 * EtagPairs learns, per path, which candidate ETag goes with which control ETag, so that
 * `etag: consistent` can accept different tag formats while still catching a server that gives one
 * tag to two representations (or two tags to one). It also translates validators: a client's
 * If-None-Match carries the control's tags, and the shadow request must carry the candidate's.
 *
 * Tags are paired by their opaque part, as the weak comparison of RFC 9110 §8.8.3.2 matches them:
 * a server may send `W/"x"` while a file it has just written settles and `"x"` once it has
 * (Apache's rule, and `cutover serve`'s), one representation all along. A translated tag keeps the
 * weakness of the tag it translates: a client holding a weak tag holds a weak one on either side.
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
   * tells whether that is consistent with what was seen before: the opaque parts paired one to one
   * (a tag turning weak or strong changes nothing).
   */
  observe(path: string, control: string, candidate: string): boolean {
    let m = this.#byPath.get(path)
    if (!m) {
      if (this.#byPath.size >= this.#max) this.#byPath.delete(this.#byPath.keys().next().value!)
      m = { c2n: new Map(), n2c: new Map() }
      this.#byPath.set(path, m)
    }
    const c = opaqueOf(control)
    const n = opaqueOf(candidate)
    const knownN = m.c2n.get(c)
    const knownC = m.n2c.get(n)
    if (knownN === undefined && knownC === undefined) {
      m.c2n.set(c, n)
      m.n2c.set(n, c)
      return true
    }
    return knownN === n && knownC === c
  }

  /** translate maps a control ETag of `path` to the candidate's, when known. */
  translate(path: string, controlTag: string): string | undefined {
    const n = this.#byPath.get(path)?.c2n.get(opaqueOf(controlTag))
    return n === undefined ? undefined : weakness(controlTag) + n
  }

  /**
   * untranslate maps a candidate ETag of `path` back to the control's, when known: once the new
   * server is primary, clients revalidate with its tags and the shadow sent to old needs old's.
   */
  untranslate(path: string, candidateTag: string): string | undefined {
    const c = this.#byPath.get(path)?.n2c.get(opaqueOf(candidateTag))
    return c === undefined ? undefined : weakness(candidateTag) + c
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

/**
 * validatorsFor is `req` as it must be sent to one side of an experiment when its validators carry
 * the ETags of side `from` (the server that answers the client): sent to the candidate, control
 * tags are translated to the candidate's; sent to the control (or its baseline), candidate tags
 * are translated back. Tags not learnt yet are left as they are. Returns `req` itself when there
 * is nothing to translate (no `etags`, the same side, or no known tag).
 */
export function validatorsFor(
  req: ExchangeRequest,
  etags: EtagPairs | undefined,
  from: Side,
  to: Side,
): ExchangeRequest {
  if (!etags || from === to) return req
  return to === 'candidate'
    ? translateValidators(req, tag => etags.translate(req.path, tag))
    : translateValidators(req, tag => etags.untranslate(req.path, tag))
}
