import { overlapWitness } from './pattern-overlap.js'
import { UrlPattern, type Params, type PatternKind } from './url-pattern.js'

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

/** Ranked is an entry with its position in precedence order (0 = wins over everything). */
interface Ranked {
  readonly rank: number
  readonly entry: RouteEntry
}

/**
 * Node is a level of the literal-prefix trie: a pattern lives at the node of its leading whole-literal segments, so a
 * lookup only tries the patterns on the way down the request path's segments. Patterns without `**` are further
 * split by their segment count, which a path must have to match them.
 */
interface Node {
  readonly children: Map<string, Node>
  readonly fixed: Map<number, Ranked[]>
  readonly variable: Ranked[]
}

const KIND_ORDER: Record<PatternKind, number> = { exact: 0, named: 1, glob: 2 }

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

function newNode(): Node {
  return { children: new Map(), fixed: new Map(), variable: [] }
}

/**
 * RouteTable finds the manifest entry that serves a request path, by the manifest's precedence (see
 * {@link comparePrecedence}). Exact paths are one Map lookup; patterns are indexed by their leading literal segments
 * so a lookup tries only the patterns that could match, in precedence order, and stops at the first that does.
 * Immutable once built.
 */
export class RouteTable {
  readonly #exact = new Map<string, RouteEntry>()
  readonly #root: Node = newNode()
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
    this.#ranked = sorted.map((entry, rank) => ({ rank, entry }))
    for (const r of this.#ranked) {
      const p = r.entry.pattern
      if (p.exactPath !== undefined) {
        // Sorted order: the first entry for a path is the one that wins it.
        if (!this.#exact.has(p.exactPath)) this.#exact.set(p.exactPath, r.entry)
        continue
      }
      const node = this.#nodeFor(p)
      if (p.hasGlobstar) node.variable.push(r)
      else {
        const list = node.fixed.get(p.segments.length)
        if (list) list.push(r)
        else node.fixed.set(p.segments.length, [r])
      }
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
    if (exact !== undefined) return { entry: exact, params: Object.create(null) as Params }
    if (typeof path !== 'string' || path[0] !== '/') return undefined
    const segs = path.slice(1).split('/')
    const lists = this.#candidates(segs)
    if (lists.length === 1) {
      for (const r of lists[0]!) {
        const params = r.entry.pattern.matchSegments(segs)
        if (params !== undefined) return { entry: r.entry, params }
      }
      return undefined
    }
    // k-way merge of the candidate lists (each in precedence order): the first match in merged order wins.
    const at = new Array<number>(lists.length).fill(0)
    for (;;) {
      let best = -1
      let bestRank = Infinity
      for (let k = 0; k < lists.length; k++) {
        const r = lists[k]![at[k]!]
        if (r !== undefined && r.rank < bestRank) {
          best = k
          bestRank = r.rank
        }
      }
      if (best < 0) return undefined
      const r = lists[best]![at[best]!++]!
      const params = r.entry.pattern.matchSegments(segs)
      if (params !== undefined) return { entry: r.entry, params }
    }
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
      const segs = path.slice(1).split('/')
      for (const list of this.#candidates(segs)) {
        for (const r of list) {
          if (r.entry.pattern.matchSegments(segs) === undefined) continue
          for (const e of group) found.push({ w: e, l: r, witness: path })
        }
      }
    }
    const visit = (node: Node): Ranked[] => {
      const own = [...node.variable, ...[...node.fixed.values()].flat()]
      const below: Ranked[] = []
      for (const child of node.children.values()) below.push(...visit(child))
      for (let x = 0; x < own.length; x++) {
        for (let y = x + 1; y < own.length; y++) this.#pair(own[x]!, own[y]!, found)
        for (const r of below) this.#pair(own[x]!, r, found)
      }
      return own.concat(below)
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

  /** #nodeFor returns the trie node of a pattern's leading whole-literal segments, creating it when needed. */
  #nodeFor(p: UrlPattern): Node {
    let node = this.#root
    for (const s of p.segments) {
      if (s.globstar || s.literal === undefined) break
      let child = node.children.get(s.literal)
      if (child === undefined) {
        child = newNode()
        node.children.set(s.literal, child)
      }
      node = child
    }
    return node
  }

  /** #candidates returns the non-empty pattern lists on the way down the trie along `segs`, each in precedence order. */
  #candidates(segs: readonly string[]): Ranked[][] {
    const lists: Ranked[][] = []
    let node: Node | undefined = this.#root
    for (let d = 0; node !== undefined; d++) {
      const fixed = node.fixed.get(segs.length)
      if (fixed !== undefined) lists.push(fixed)
      if (node.variable.length > 0) lists.push(node.variable)
      if (d >= segs.length) break
      node = node.children.get(segs[d]!)
    }
    return lists
  }
}

/**
 * mayOverlap is a cheap necessary condition: two patterns without `**` need the same number of segments, and no
 * position where both segments are literal and different.
 */
function mayOverlap(a: UrlPattern, b: UrlPattern): boolean {
  if (a.hasGlobstar || b.hasGlobstar) return true
  if (a.segments.length !== b.segments.length) return false
  for (let k = 0; k < a.segments.length; k++) {
    const x = a.segments[k]!.literal
    const y = b.segments[k]!.literal
    if (x !== undefined && y !== undefined && x !== y) return false
  }
  return true
}
