import { overlapWitness } from './pattern-overlap.js'
import { segmentBounds, UrlPattern, type Params, type PatternKind } from './url-pattern.js'

/**
 * RouteEntry is one path pattern of the manifest: `payload` is the payload's index in the manifest, `path` the
 * pattern's index in that payload's `paths`. Both are non-negative integers; they break precedence ties.
 */
export interface RouteEntry {
  readonly pattern: UrlPattern
  readonly payload: number
  readonly path: number
}

/** RouteMatch is the entry that wins for a request path and the values of its named segments ({} if none). */
export interface RouteMatch {
  readonly entry: RouteEntry
  readonly params: Params
}

/**
 * RouteOverlap is a pair of entries that some path matches both of: `winner` takes precedence over `loser` (for
 * that pair; a third entry may beat both), and `witness` is one path they both match.
 */
export interface RouteOverlap {
  readonly winner: RouteEntry
  readonly loser: RouteEntry
  readonly witness: string
}

/**
 * Ranked is an entry with its position in precedence order (0 = wins over everything), its pattern (one object less
 * to reach per candidate) and `known`, the number of its leading literal segments, which a lookup that reached it
 * through the trie has already compared.
 */
interface Ranked {
  readonly rank: number
  readonly entry: RouteEntry
  readonly pattern: UrlPattern
  readonly known: number
}

/**
 * Node is a level of the literal-prefix trie: a pattern lives at the node of its leading whole-literal segments, so a
 * lookup only tries the patterns on the way down the request path's segments. Within a node, patterns are keyed
 * further by one more literal segment when they have one, so a shape such as `/:channel/<product>/latest.zip` or
 * `/**` + `/<name>.sig` does not put every such pattern in front of every request:
 * - `keyed`: a pattern without `**` with `S` segments whose segment `d` (the first literal one below the node) is
 *   `lit` is under key `S * STRIDE + d`, then `lit`; a pattern with `**` whose segment `k`-th from the end (after its
 *   last `**`) is literal is under key `-k`, then that literal (those segments always meet the path's k-th from the end);
 * - `fixed`: the other patterns without `**`, by segment count (a path needs that many segments to match them);
 * - `variable`: the other patterns with `**`.
 * `bySegments` and `tails` index `fixed` and `keyed` for the lookup, so it probes only the keys that exist.
 */
interface Node {
  readonly depth: number
  readonly children: Map<string, Node>
  /** The {@link sketchBit}s of the keys of `children`: a path segment whose bit is not here is no child. */
  childSketch: number
  readonly keyed: Map<number, KeyedAt>
  readonly fixed: Map<number, Ranked[]>
  readonly variable: Ranked[]
  /**
   * Indexed by a segment count S (a sparse array: one index operation, not a Map lookup per kind of key): the `fixed`
   * list of S and the `S * STRIDE + d` maps of `keyed` (`at` = d), in the order they were made.
   */
  readonly bySegments: Array<{ fixed: Ranked[] | undefined; keyed: KeyedAt[] } | undefined>
  /** The `-k` maps of `keyed` (`at` = k), by increasing k. */
  readonly tails: KeyedAt[]
}

/**
 * KeyedAt is one map of {@link Node.keyed} with the path segment its literal is compared with, and the
 * {@link sketchBit}s of its keys: most request paths are ruled out by one AND, without a substring or a Map lookup.
 */
interface KeyedAt {
  readonly at: number
  readonly byLit: Map<string, Ranked[]>
  sketch: number
}

/** NO_CAPTURES are the captures of a pattern without named segments: shared, never written. */
const NO_CAPTURES: readonly string[] = Object.freeze([])

/**
 * Match is a {@link RouteMatch} whose `params` object is made when first read: finding the payload
 * is the lookup, and a caller that needs no segment values (an exact path, a payload whose blob key
 * names none, a route already known) pays nothing for them.
 */
class Match implements RouteMatch {
  readonly entry: RouteEntry
  readonly #caps: readonly string[]
  #params: Params | undefined

  constructor(entry: RouteEntry, caps: readonly string[]) {
    this.entry = entry
    this.#caps = caps
  }

  get params(): Params {
    return (this.#params ??= this.entry.pattern.paramsOf(this.#caps))
  }
}

/** STRIDE separates the segment count from the segment index in a key (paths with 65,536 segments do not occur). */
const STRIDE = 65536

const KIND_ORDER: Readonly<Record<PatternKind, number>> = { exact: 0, named: 1, glob: 2 }

/**
 * comparePrecedence orders two entries by the manifest's precedence: exact, then named, then glob; within a kind more
 * literal characters first; then payload order, then the order of the payload's paths. Negative: `a` wins.
 */
export function comparePrecedence(a: RouteEntry, b: RouteEntry): number {
  return (
    KIND_ORDER[a.pattern.kind] - KIND_ORDER[b.pattern.kind] ||
    b.pattern.literalCount - a.pattern.literalCount ||
    a.payload - b.payload ||
    a.path - b.path
  )
}

function newNode(depth: number): Node {
  return {
    depth,
    children: new Map(),
    childSketch: 0,
    keyed: new Map(),
    fixed: new Map(),
    variable: [],
    bySegments: [],
    tails: [],
  }
}

/** segmentsOf returns `node.bySegments[n]`, creating it when needed. */
function segmentsOf(node: Node, n: number): { fixed: Ranked[] | undefined; keyed: KeyedAt[] } {
  let at = node.bySegments[n]
  if (at === undefined) node.bySegments[n] = at = { fixed: undefined, keyed: [] }
  return at
}

function push<K>(map: Map<K, Ranked[]>, key: K, r: Ranked): void {
  const list = map.get(key)
  if (list) list.push(r)
  else map.set(key, [r])
}

/**
 * RouteTable finds the manifest entry that serves a request path, by the manifest's precedence (see
 * {@link comparePrecedence}). Exact paths are one Map lookup; patterns are indexed by their leading literal segments
 * (and one more literal segment when they have one) so a lookup tries only the patterns that could match: each list
 * of candidates in precedence order, up to its first match or to the rank of the best match found in another list.
 * Immutable once built.
 */
export class RouteTable {
  readonly #exact = new Map<string, RouteEntry>()
  readonly #root: Node = newNode(0)
  readonly #ranked: readonly Ranked[]

  /**
   * Builds the table. Throws TypeError when an entry is not `{ pattern: UrlPattern, payload, path }` with
   * non-negative integer `payload` and `path`.
   */
  constructor(entries: readonly RouteEntry[]) {
    if (!Array.isArray(entries)) throw new TypeError('RouteTable: entries must be an array')
    for (const e of entries) {
      if (
        e === null ||
        typeof e !== 'object' ||
        !(e.pattern instanceof UrlPattern) ||
        !Number.isSafeInteger(e.payload) ||
        e.payload < 0 ||
        !Number.isSafeInteger(e.path) ||
        e.path < 0
      ) {
        throw new TypeError('RouteTable: every entry needs a compiled pattern and non-negative integer payload and path')
      }
    }
    const sorted = [...entries].sort(comparePrecedence)
    this.#ranked = sorted.map((entry, rank) => ({
      rank,
      entry,
      pattern: entry.pattern,
      known: leadingLiterals(entry.pattern),
    }))
    for (const r of this.#ranked) {
      const p = r.entry.pattern
      if (p.exactPath !== undefined) {
        // Sorted order: the first entry for a path is the one that wins it.
        if (!this.#exact.has(p.exactPath)) this.#exact.set(p.exactPath, r.entry)
        continue
      }
      this.#place(this.#nodeFor(p), r)
    }
  }

  /** The number of entries in the table. */
  get size(): number {
    return this.#ranked.length
  }

  /**
   * match returns the winning entry for `path` (a cleaned, percent-decoded request path starting with `/`) and its
   * named segments' values, or undefined when no entry matches.
   */
  match(path: string): RouteMatch | undefined {
    const exact = this.#exact.get(path)
    if (exact !== undefined) return new Match(exact, NO_CAPTURES)
    if (typeof path !== 'string' || path[0] !== '/') return undefined
    const bounds = segmentBounds(path)
    const lists: Ranked[][] = []
    this.#candidates(path, bounds, lists)
    // The winner is the matching candidate of least rank. Each list is in rank order, so a list is tried only up to
    // its first match, or up to the rank of the best match found so far in another list (which it cannot beat).
    let best: Ranked | undefined
    let caps: readonly string[] | undefined
    for (let l = 0; l < lists.length; l++) {
      const list = lists[l]!
      for (let k = 0; k < list.length; k++) {
        const r = list[k]!
        if (best !== undefined && r.rank >= best.rank) break
        const c = r.pattern.capture(path, bounds, undefined, r.known)
        if (c !== undefined) {
          best = r
          caps = c
          break
        }
      }
    }
    if (best === undefined || caps === undefined) return undefined
    return new Match(best.entry, caps)
  }

  /**
   * overlaps lists every pair of entries that some path matches both of (exact duplicates included), each with the
   * winner, the loser and a witness path, ordered by the winner's then the loser's precedence. Pairs whose leading
   * literal segments differ, or whose segment counts differ without `**`, are never compared. For `cutover manifest
   * check`, not for the request path.
   */
  overlaps(): RouteOverlap[] {
    const found: Array<{ w: Ranked; l: Ranked; witness: string }> = []
    const byPath = new Map<string, Ranked[]>()
    for (const r of this.#ranked) {
      const p = r.entry.pattern.exactPath
      if (p === undefined) continue
      const group = byPath.get(p)
      if (group) group.push(r)
      else byPath.set(p, [r])
    }
    for (const [path, group] of byPath) {
      for (let x = 0; x < group.length; x++)
        for (let y = x + 1; y < group.length; y++) found.push({ w: group[x]!, l: group[y]!, witness: path })
      // An exact path beats every pattern: the patterns that match it are its losers.
      const bounds = segmentBounds(path)
      const lists: Ranked[][] = []
      this.#candidates(path, bounds, lists)
      for (const list of lists) {
        for (const r of list) {
          if (r.pattern.capture(path, bounds, undefined, r.known) === undefined) continue
          for (const e of group) found.push({ w: e, l: r, witness: path })
        }
      }
    }
    // Depth-first: a node's patterns are compared with each other and with its subtree's (the only patterns whose
    // leading literals agree with theirs); a pattern without '**' only with those of its segment count or with '**'.
    interface Subtree {
      bySegments: Map<number, Ranked[]>
      globstar: Ranked[]
    }
    const visit = (node: Node): Subtree => {
      const sub: Subtree = { bySegments: new Map(), globstar: [] }
      for (const child of node.children.values()) {
        const c = visit(child)
        for (const [n, list] of c.bySegments) for (const r of list) push(sub.bySegments, n, r)
        for (const r of c.globstar) sub.globstar.push(r)
      }
      const own: Ranked[] = [...node.variable]
      for (const list of node.fixed.values()) for (const r of list) own.push(r)
      for (const { byLit } of node.keyed.values()) for (const list of byLit.values()) for (const r of list) own.push(r)
      for (const x of own) {
        if (x.entry.pattern.hasGlobstar) {
          for (const list of sub.bySegments.values()) for (const y of list) this.#pair(x, y, found)
        } else {
          for (const y of sub.bySegments.get(x.entry.pattern.segments.length) ?? []) this.#pair(x, y, found)
        }
        for (const y of sub.globstar) this.#pair(x, y, found)
        // x joins the set, so the patterns after it in `own` meet it once.
        if (x.entry.pattern.hasGlobstar) sub.globstar.push(x)
        else push(sub.bySegments, x.entry.pattern.segments.length, x)
      }
      return sub
    }
    visit(this.#root)
    found.sort((a, b) => a.w.rank - b.w.rank || a.l.rank - b.l.rank)
    return found.map(f => ({ winner: f.w.entry, loser: f.l.entry, witness: f.witness }))
  }

  /** #pair records the overlap of two patterns, if any, winner first. */
  #pair(a: Ranked, b: Ranked, found: Array<{ w: Ranked; l: Ranked; witness: string }>): void {
    if (!mayOverlap(a.entry.pattern, b.entry.pattern)) return
    const witness = overlapWitness(a.entry.pattern, b.entry.pattern)
    if (witness === undefined) return
    if (a.rank < b.rank) found.push({ w: a, l: b, witness })
    else found.push({ w: b, l: a, witness })
  }

  /** #place files a pattern in its node, under a literal key when it has one (see {@link Node}). Rank order is kept. */
  #place(node: Node, r: Ranked): void {
    const segs = r.entry.pattern.segments
    const P = segs.length
    if (!r.entry.pattern.hasGlobstar) {
      for (let d = node.depth + 1; d < P; d++) {
        const lit = segs[d]!.literal
        if (lit === undefined) continue
        let keyed = node.keyed.get(P * STRIDE + d)
        if (keyed === undefined) {
          node.keyed.set(P * STRIDE + d, (keyed = { at: d, byLit: new Map(), sketch: 0 }))
          segmentsOf(node, P).keyed.push(keyed)
        }
        push(keyed.byLit, lit, r)
        keyed.sketch |= sketchBit(lit, 0, lit.length)
        return
      }
      push(node.fixed, P, r)
      segmentsOf(node, P).fixed = node.fixed.get(P)
      return
    }
    for (let k = 1; k <= P && !segs[P - k]!.globstar; k++) {
      const lit = segs[P - k]!.literal
      if (lit === undefined) continue
      let keyed = node.keyed.get(-k)
      if (keyed === undefined) {
        node.keyed.set(-k, (keyed = { at: k, byLit: new Map(), sketch: 0 }))
        node.tails.push(keyed)
        node.tails.sort((x, y) => x.at - y.at)
      }
      push(keyed.byLit, lit, r)
      keyed.sketch |= sketchBit(lit, 0, lit.length)
      return
    }
    node.variable.push(r)
  }

  /**
   * #nodeFor returns the trie node of a pattern's leading whole-literal segments, creating it when needed (its depth
   * is {@link leadingLiterals} of the pattern).
   */
  #nodeFor(p: UrlPattern): Node {
    let node = this.#root
    for (const s of p.segments) {
      if (s.globstar || s.literal === undefined) break
      let child = node.children.get(s.literal)
      if (child === undefined) {
        child = newNode(node.depth + 1)
        node.children.set(s.literal, child)
        node.childSketch |= sketchBit(s.literal, 0, s.literal.length)
      }
      node = child
    }
    return node
  }

  /**
   * #candidates appends to `out` the non-empty pattern lists on the way down the trie along `path` (its segments
   * located by `bounds`, see segmentBounds), each in precedence order.
   */
  #candidates(path: string, bounds: readonly number[], out: Ranked[][]): void {
    let node: Node | undefined = this.#root
    const S = bounds.length - 1
    for (let d = 0; node !== undefined; d++) {
      const bySegments = node.bySegments[S]
      if (bySegments !== undefined && bySegments.fixed !== undefined) out.push(bySegments.fixed)
      if (node.variable.length > 0) out.push(node.variable)
      // Keyed at d' (> node depth, < S by construction): the literal meets path segment d'.
      if (bySegments !== undefined) {
        for (const keyed of bySegments.keyed) {
          const from = bounds[keyed.at]! + 1
          const to = bounds[keyed.at + 1]!
          if ((keyed.sketch & sketchBit(path, from, to)) === 0) continue
          const l = keyed.byLit.get(path.slice(from, to))
          if (l !== undefined) out.push(l)
        }
      }
      // Keyed -k: the literal meets the path's k-th segment from the end.
      for (const keyed of node.tails) {
        if (keyed.at > S) break
        const from = bounds[S - keyed.at]! + 1
        const to = bounds[S - keyed.at + 1]!
        if ((keyed.sketch & sketchBit(path, from, to)) === 0) continue
        const l = keyed.byLit.get(path.slice(from, to))
        if (l !== undefined) out.push(l)
      }
      if (d >= S) break
      const from = bounds[d]! + 1
      const to = bounds[d + 1]!
      if ((node.childSketch & sketchBit(path, from, to)) === 0) break
      node = node.children.get(path.slice(from, to))
    }
  }

}

/**
 * mayOverlap is a cheap necessary condition for two patterns to overlap: the segments before the first `**` meet
 * the path's first segments in both, those after the last `**` its last segments, so two different literal segments
 * there rule an overlap out; a pattern without `**` has one segment count, which the other must be able to take.
 */
function mayOverlap(a: UrlPattern, b: UrlPattern): boolean {
  const A = a.segments
  const B = b.segments
  if (!a.hasGlobstar && !b.hasGlobstar && A.length !== B.length) return false
  if (!b.hasGlobstar && A.length - globstars(a) > B.length) return false
  if (!a.hasGlobstar && B.length - globstars(b) > A.length) return false
  for (let k = 0; k < A.length && k < B.length && !A[k]!.globstar && !B[k]!.globstar; k++) {
    const x = A[k]!.literal
    const y = B[k]!.literal
    if (x !== undefined && y !== undefined && x !== y) return false
  }
  for (let k = 1; k <= A.length && k <= B.length && !A[A.length - k]!.globstar && !B[B.length - k]!.globstar; k++) {
    const x = A[A.length - k]!.literal
    const y = B[B.length - k]!.literal
    if (x !== undefined && y !== undefined && x !== y) return false
  }
  return true
}

/**
 * sketchBit is one bit of 32 picked by the length and the first and last characters of `s[from..to)`: a key's bit is
 * set in the sketch of its map, so a segment whose bit is not set is not a key. Cheap (no substring, no hashing of the
 * whole text) and, for keys such as `<product>-<n>.sig`, it rules out most segments that are not keys.
 */
function sketchBit(s: string, from: number, to: number): number {
  const n = to - from
  return n === 0 ? 1 : 1 << ((n * 7 + s.charCodeAt(from) * 3 + s.charCodeAt(to - 1)) & 31)
}

/** leadingLiterals is the number of a pattern's leading whole-literal segments (its depth in the trie). */
function leadingLiterals(p: UrlPattern): number {
  let n = 0
  for (const s of p.segments) {
    if (s.globstar || s.literal === undefined) break
    n++
  }
  return n
}

function globstars(p: UrlPattern): number {
  let n = 0
  for (const s of p.segments) if (s.globstar) n++
  return n
}
