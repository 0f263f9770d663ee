import { segmentMatches, type PatternSegment, type PatternToken, type UrlPattern } from './url-pattern.js'

/**
 * Overlap of two URL path patterns, for `cutover manifest check`: is there a path both match, and which one.
 *
 * Both levels are products of position automata searched breadth-first: path segments against pattern segments
 * (`**` = any number of whole segments), then, for two single segments, characters against token atoms. A state is
 * a pair of positions, so the work is bounded by the product of the two patterns' sizes; breadth-first search gives a
 * short witness.
 */

/**
 * Atoms of a segment's automaton, one per position, as numbers: a character code (>= 0), ANY (any one character
 * other than '/') or STAR (any run, a position with a self-loop).
 */
const ANY = -1
const STAR = -2

/** WITNESS_CODE stands for "any character other than '/'" in a witness ('x'). */
const WITNESS_CODE = 0x78

/**
 * overlapWitness returns a path that both `a` and `b` match, or undefined when no path does. The witness prefers
 * non-empty segments (a cleaned request path has none) when such a witness exists. Cost: O(segments(a) x
 * segments(b) x atoms x atoms) at worst; no exponential case.
 */
export function overlapWitness(a: UrlPattern, b: UrlPattern): string | undefined {
  const A = a.segments
  const B = b.segments
  const W = B.length + 1
  const n = (A.length + 1) * W
  // prev[state] = previous state + 1 (0: not reached); seg[state] = the path segment added on the way in (or null).
  const prev = new Int32Array(n)
  const seg: Array<string | null> = new Array<string | null>(n).fill(null)
  const queue = new Int32Array(n)
  let head = 0
  let tail = 0
  prev[0] = -1
  queue[tail++] = 0
  const goal = A.length * W + B.length
  const visit = (from: number, i: number, j: number, s: string | null): void => {
    const st = i * W + j
    if (prev[st] !== 0) return
    prev[st] = from + 1
    seg[st] = s
    queue[tail++] = st
  }
  while (head < tail) {
    const st = queue[head++]!
    if (st === goal) break
    const i = Math.floor(st / W)
    const j = st % W
    const sa = A[i]
    const sb = B[j]
    if (sa?.globstar) visit(st, i + 1, j, null)
    if (sb?.globstar) visit(st, i, j + 1, null)
    if (sa === undefined || sb === undefined) continue
    if (sa.globstar && sb.globstar) continue // consuming a segment with both on '**' changes no state
    if (sa.globstar) {
      const w = segmentWitness(sb, undefined)
      if (w !== undefined) visit(st, i, j + 1, w)
    } else if (sb.globstar) {
      const w = segmentWitness(sa, undefined)
      if (w !== undefined) visit(st, i + 1, j, w)
    } else {
      const w = segmentWitness(sa, sb)
      if (w !== undefined) visit(st, i + 1, j + 1, w)
    }
  }
  if (prev[goal] === 0) return undefined
  const parts: string[] = []
  for (let st = goal; st !== 0; st = prev[st]! - 1) {
    const s = seg[st]
    if (s !== null && s !== undefined) parts.push(s)
  }
  return '/' + parts.reverse().join('/')
}

/** atomsOf expands a segment's tokens into automaton positions: a named segment is one character then any run. */
function atomsOf(tokens: readonly PatternToken[]): Int32Array {
  let n = 0
  for (const t of tokens) n += t.t === 'lit' ? t.s.length : t.t === 'named' ? 2 : 1
  const out = new Int32Array(n)
  let k = 0
  for (const t of tokens) {
    // Code units, not code points: the matcher's '?' takes one code unit, like a RegExp without the u flag.
    if (t.t === 'lit') for (let c = 0; c < t.s.length; c++) out[k++] = t.s.charCodeAt(c)
    else if (t.t === 'one') out[k++] = ANY
    else if (t.t === 'star') out[k++] = STAR
    else {
      out[k++] = ANY
      out[k++] = STAR
    }
  }
  return out
}

/**
 * someMatch returns a shortest non-empty segment a pattern segment matches (the empty one only if that is all it
 * matches): literals as written, 'x' for each `?` and named segment, `*` empty unless nothing else is there.
 */
function someMatch(tokens: readonly PatternToken[]): string {
  let s = ''
  for (const t of tokens) s += t.t === 'lit' ? t.s : t.t === 'star' ? '' : 'x'
  return s === '' && tokens.some(t => t.t === 'star') ? 'x' : s
}

/**
 * segmentWitness returns one path segment that both pattern segments match (`b` undefined: any segment), or
 * undefined when none does. A literal side is checked against the other by the matcher; otherwise breadth-first over
 * (position in a, position in b, "a character was emitted"), so an empty witness is only returned when the
 * intersection is the empty string alone.
 */
function segmentWitness(a: PatternSegment, b: PatternSegment | undefined): string | undefined {
  if (b === undefined) return someMatch(a.tokens)
  if (a.literal !== undefined) return segmentMatches(b, a.literal) ? a.literal : undefined
  if (b.literal !== undefined) return segmentMatches(a, b.literal) ? b.literal : undefined
  const X = atomsOf(a.tokens)
  const Y = atomsOf(b.tokens)
  const W = Y.length + 1
  const n = (X.length + 1) * W * 2
  const prev = new Int32Array(n) // previous state + 1, 0 = not reached
  const emitted = new Int32Array(n) // the character code emitted on the way in, -1 for none
  const queue = new Int32Array(n)
  let head = 0
  let tail = 0
  prev[0] = -1
  queue[tail++] = 0
  const visit = (from: number, i: number, j: number, f: number, c: number): void => {
    const st = (i * W + j) * 2 + f
    if (prev[st] !== 0) return
    prev[st] = from + 1
    emitted[st] = c
    queue[tail++] = st
  }
  while (head < tail) {
    const st = queue[head++]!
    const ij = st >> 1
    const i = Math.floor(ij / W)
    const j = ij - i * W
    const x = i < X.length ? X[i]! : undefined
    const y = j < Y.length ? Y[j]! : undefined
    if (x === STAR) visit(st, i + 1, j, st & 1, -1)
    if (y === STAR) visit(st, i, j + 1, st & 1, -1)
    if (x === undefined || y === undefined) continue
    let c: number
    if (x >= 0) c = y >= 0 ? (x === y ? x : -1) : x
    else c = y >= 0 ? y : WITNESS_CODE
    if (c < 0) continue
    visit(st, x === STAR ? i : i + 1, y === STAR ? j : j + 1, 1, c)
  }
  const end = (X.length * W + Y.length) * 2
  const goal = prev[end + 1] !== 0 ? end + 1 : prev[end] !== 0 ? end : -1
  if (goal < 0) return undefined
  const codes: number[] = []
  for (let st = goal; st !== 0; st = prev[st]! - 1) if (emitted[st]! >= 0) codes.push(emitted[st]!)
  return String.fromCharCode(...codes.reverse())
}
