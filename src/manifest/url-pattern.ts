/**
 * URL path patterns of the payload manifest (docs: "URL path patterns" of the manifest format).
 *
 * A pattern is compiled once into a list of segments, each a list of tokens; matching walks that list with a
 * feasibility table instead of a backtracking search, so a match costs O(pattern tokens x path length) whatever
 * the input: a pattern such as `/:a:b:c:d:e:f:g` against a long segment cannot blow up. No RegExp is built from
 * manifest text.
 */

/** PatternKind is the precedence class of a pattern: exact paths win over named-segment patterns, which win over globs. */
export type PatternKind = 'exact' | 'named' | 'glob'

/**
 * PatternSyntaxError describes why a pattern text does not compile: `offset` is the index (UTF-16 code unit) of the
 * offending character in the pattern text, `message` a plain sentence for the operator.
 */
export interface PatternSyntaxError {
  readonly offset: number
  readonly message: string
}

/** Params maps each named segment of a pattern to the text it matched. It has no prototype (a name may be `__proto__`). */
export type Params = Record<string, string>

/**
 * PatternToken is one element of a compiled segment: a literal run (`lit`, escapes already resolved), `?` (`one`,
 * exactly one character other than `/`), `*` (`star`, zero or more characters other than `/`) or a named segment
 * (`named`, one or more characters other than `/`; `index` is its position in {@link UrlPattern.names}).
 */
export type PatternToken =
  | { readonly t: 'lit'; readonly s: string }
  | { readonly t: 'one' }
  | { readonly t: 'star' }
  | { readonly t: 'named'; readonly name: string; readonly index: number }

/**
 * PatternSegment is one `/`-separated segment of a compiled pattern. `globstar` segments (`**`) match zero or more
 * whole path segments and have no tokens; a trailing `**` (one or more segments, the first possibly empty) is
 * compiled as an any-segment (`[star]`) followed by a globstar. `literal` is set when the segment is one literal run
 * (or empty), the case matched by plain string comparison.
 */
export interface PatternSegment {
  readonly globstar: boolean
  readonly tokens: readonly PatternToken[]
  readonly literal: string | undefined
  /**
   * The index of the only variable-length token (`*` or named), -1 when there is none, -2 when there are several (the
   * general matcher); `before` and `after` are the characters the fixed-length tokens around it take. Precomputed so
   * that the common one-variable segment is matched by slicing.
   */
  readonly varAt: number
  readonly before: number
  readonly after: number
  /** The fewest characters a path segment needs to match (when varAt is not -2): checked before any token is read. */
  readonly minLength: number
  /**
   * Set when the segment is one variable-length token between at most a literal `prefix` and a literal `suffix` (''
   * when absent), as in `tools-:os.zip` or `*.sig`: it is then matched by two comparisons, without reading `tokens`.
   * `capture` is the variable token's index in {@link UrlPattern.names} when it is a named segment, else -1.
   */
  readonly affix: boolean
  readonly prefix: string
  readonly suffix: string
  readonly capture: number
}

/** StepCounter receives the number of elementary steps a match took (for tests that bound the work, never time it). */
export interface StepCounter {
  steps: number
}

/** ParseResult is what {@link parsePattern} returns: a compiled pattern or the first syntax error. */
export type ParseResult = { readonly ok: true; readonly pattern: UrlPattern } | { readonly ok: false; readonly error: PatternSyntaxError }

/** NAME_START and NAME_PART are the characters of a named segment's name: `[A-Za-z_][A-Za-z0-9_]*`. */
const NAME_START = /[A-Za-z_]/
const NAME_PART = /[A-Za-z0-9_]/

/**
 * parsePattern compiles a manifest URL path pattern. It never throws, whatever `text` is (a non-string is a syntax
 * error at offset 0). Syntax: the text starts with `/`; `:name` (`[A-Za-z_][A-Za-z0-9_]*`, unique in the pattern) is a
 * named segment; `*` and `?` are globs within a segment; `**` must be a whole segment; a backslash escapes the next
 * character (`\/` is the character `/`, which separates segments like any other). The first error found (leftmost) is
 * returned.
 */
export function parsePattern(text: string): ParseResult {
  if (typeof text !== 'string') return fail(0, 'a pattern must be a string')
  if (text[0] !== '/') return fail(0, "a pattern must start with '/'")
  const raw: Array<{ globstar: boolean; tokens: PatternToken[] }> = []
  const names: string[] = []
  let tokens: PatternToken[] = []
  let lit = ''
  let literalCount = 1 // the leading '/'
  let glob = false
  let i = 1
  const flush = (): void => {
    // Built a character at a time, `lit` is a rope of one node per character (about 30 bytes each, a
    // 10,000-payload manifest's patterns held 27 MB of them); the table keeps a flat copy.
    if (lit !== '') tokens.push({ t: 'lit', s: flatString(lit) })
    lit = ''
  }
  const endSegment = (globstar: boolean): void => {
    flush()
    raw.push({ globstar, tokens })
    tokens = []
  }
  let segmentStart = 1
  let trailingGlobstar = false
  while (i < text.length) {
    const c = text[i]!
    if (c === '\\') {
      if (i + 1 >= text.length) return fail(i, 'a backslash at the end of a pattern escapes nothing')
      if (text[i + 1] === '/') {
        // An escaped '/' is still the character '/', and in a path that character always separates segments.
        endSegment(false)
        literalCount++
        i += 2
        segmentStart = i
        continue
      }
      lit += text[i + 1]
      literalCount++
      i += 2
    } else if (c === '/') {
      endSegment(false)
      literalCount++
      i++
      segmentStart = i
    } else if (c === ':') {
      let j = i + 1
      if (j >= text.length || !NAME_START.test(text[j]!)) return fail(i, "a named segment needs a name after ':'")
      while (j < text.length && NAME_PART.test(text[j]!)) j++
      const name = text.slice(i + 1, j)
      if (names.includes(name)) return fail(i, `duplicate name :${name}`)
      flush()
      tokens.push({ t: 'named', name, index: names.length })
      names.push(name)
      i = j
    } else if (c === '*') {
      glob = true
      if (text[i + 1] === '*') {
        // '**' crosses segment boundaries, so it only makes sense as a segment of its own.
        const whole = i === segmentStart && (i + 2 === text.length || text[i + 2] === '/')
        if (!whole) return fail(i, "'**' must be a whole segment")
        i += 2
        if (i === text.length) {
          trailingGlobstar = true // pushed below
          break
        }
        endSegment(true)
        literalCount++
        i++
        segmentStart = i
        continue
      }
      flush()
      tokens.push({ t: 'star' })
      i++
    } else if (c === '?') {
      glob = true
      flush()
      tokens.push({ t: 'one' })
      i++
    } else {
      lit += c
      literalCount++
      i++
    }
  }
  if (trailingGlobstar) {
    // '/a/**' is everything under '/a/': one path segment (possibly empty) then any number more.
    raw.push({ globstar: false, tokens: [{ t: 'star' }] })
    raw.push({ globstar: true, tokens: [] })
  } else {
    endSegment(false)
  }
  const segments: PatternSegment[] = raw.map(r => {
    const l = layoutOf(r.tokens)
    // Every property written out (no spread), so the object literal's shape has them all and V8 can keep them inside
    // the object; properties a spread adds after the literal's own may land in a separate property array, one more
    // memory access per segment on a lookup.
    return {
      globstar: r.globstar,
      tokens: r.tokens,
      literal: r.globstar ? undefined : literalOf(r.tokens),
      varAt: l.varAt,
      before: l.before,
      after: l.after,
      minLength: l.minLength,
      affix: l.affix,
      prefix: l.prefix,
      suffix: l.suffix,
      capture: l.capture,
    }
  })
  const kind: PatternKind = glob ? 'glob' : names.length > 0 ? 'named' : 'exact'
  return { ok: true, pattern: new UrlPattern(text, kind, literalCount, names, segments) }
}

/**
 * UrlPattern is a compiled manifest URL path pattern; get one from {@link parsePattern}. Matching is case-sensitive,
 * against a cleaned, percent-decoded path that starts with `/`; named segments are greedy with backtracking
 * (regular-expression semantics: the leftmost named segment takes the longest text that still lets the rest match),
 * and so is `**`. It is immutable and safe to share.
 */
export class UrlPattern {
  /** The pattern as written in the manifest. */
  readonly text: string
  /** The precedence class: any glob metacharacter makes a glob, else any named segment makes a named pattern. */
  readonly kind: PatternKind
  /**
   * The number of literal characters (UTF-16 code units, `/` separators and escaped characters included, the
   * backslashes not), used for precedence: within a kind, more literal characters win.
   */
  readonly literalCount: number
  /** The names of the named segments, in pattern order. */
  readonly names: readonly string[]
  /** The compiled segments (see {@link PatternSegment}); read by the route table and the overlap check. */
  readonly segments: readonly PatternSegment[]
  /** For an exact pattern, the path it matches (escapes resolved); undefined otherwise. */
  readonly exactPath: string | undefined
  /** Whether a `**` segment makes the number of path segments matched variable. */
  readonly hasGlobstar: boolean

  /** The index of the only `**` segment, or -1 when there are none or several (the general matcher then). */
  readonly #globstarAt: number
  /** The number of names (kept here so a candidate that fails is not made to read the names array). */
  readonly #nameCount: number
  /** The fewest path segments a match needs: one per pattern segment that is not `**`. */
  readonly #minSegments: number
  /**
   * The literal text every matching path ends with (the trailing literal run of the last segment when that segment is
   * not `**`; it always meets the path's last segment), '' when there is none: a quick reject before the matcher.
   */
  readonly #suffix: string

  /** @internal Use {@link parsePattern}; the arguments are trusted to be consistent. */
  constructor(
    text: string,
    kind: PatternKind,
    literalCount: number,
    names: readonly string[],
    segments: readonly PatternSegment[],
  ) {
    this.text = text
    this.kind = kind
    this.literalCount = literalCount
    this.names = names
    this.segments = segments
    this.hasGlobstar = segments.some(s => s.globstar)
    const g = segments.findIndex(s => s.globstar)
    this.#globstarAt = g >= 0 && segments.findIndex((s, k) => k > g && s.globstar) < 0 ? g : -1
    this.exactPath = kind === 'exact' ? '/' + segments.map(s => s.literal).join('/') : undefined
    this.#nameCount = names.length
    this.#minSegments = segments.filter(s => !s.globstar).length
    const last = segments[segments.length - 1]
    const tail = last === undefined || last.globstar ? undefined : last.tokens[last.tokens.length - 1]
    this.#suffix = tail !== undefined && tail.t === 'lit' ? tail.s : ''
  }

  /**
   * match tells whether `path` matches and returns the named segments' values ({} when there are none), or undefined
   * when it does not match (also when `path` is not a string or does not start with `/`). If `counter` is given, the
   * elementary steps taken are added to it.
   */
  match(path: string, counter?: StepCounter): Params | undefined {
    if (typeof path !== 'string' || path[0] !== '/') return undefined
    const caps = this.capture(path, segmentBounds(path), counter)
    return caps === undefined ? undefined : this.paramsOf(caps)
  }

  /**
   * capture is {@link UrlPattern.match} on a path whose segments are already located (`bounds` must be
   * {@link segmentBounds}`(path)`, so the route table finds them once for all its candidate patterns): it returns the
   * named segments' values in {@link UrlPattern.names} order (an empty array when there are none), or undefined when
   * `path` does not match. No object is made for a path that fails the quick checks (segment count, required
   * suffix); turn a result into {@link Params} with {@link UrlPattern.paramsOf}. `known` is the number of leading
   * path segments the caller has already found equal to this pattern's leading literal segments (the route table's
   * trie does), which are then not compared again; it must not exceed the number of such segments. If unset, defaults
   * to 0.
   */
  capture(
    path: string,
    bounds: readonly number[],
    counter?: StepCounter,
    known = 0,
  ): readonly string[] | undefined {
    if (this.exactPath !== undefined) return path === this.exactPath ? NO_CAPTURES : undefined
    const S = bounds.length - 1
    if (this.hasGlobstar ? S < this.#minSegments : S !== this.segments.length) return undefined
    const suffix = this.#suffix
    if (suffix !== '' && !path.endsWith(suffix)) return undefined
    const caps = this.#nameCount === 0 ? (NO_CAPTURES as string[]) : new Array<string>(this.#nameCount)
    const ok = !this.hasGlobstar
      ? matchFixed(this.segments, known, path, bounds, caps, counter)
      : this.#globstarAt >= 0
        ? matchOneGlobstar(this.segments, this.#globstarAt, known, path, bounds, caps, counter)
        : matchWithGlobstar(this.segments, path, bounds, caps, counter)
    return ok ? caps : undefined
  }

  /**
   * paramsOf turns the values {@link UrlPattern.capture} returned into a {@link Params} object that inherits nothing
   * (see PARAMS_PROTO; for a pattern without named segments, one shared frozen empty object: callers only read params).
   */
  paramsOf(caps: readonly string[]): Params {
    if (this.names.length === 0) return NO_PARAMS
    const params: Params = Object.create(PARAMS_PROTO)
    for (let k = 0; k < this.names.length; k++) params[this.names[k]!] = caps[k]!
    return params
  }
}

/**
 * segmentBounds locates the `/`-separated segments of a path that starts with `/`: entry k is the index of the `/`
 * that opens segment k and the last entry is `path.length`, so there are `length - 1` segments and segment k is
 * `path.slice(b[k] + 1, b[k + 1])`. One scan per request path, and no substring is made for it.
 */
export function segmentBounds(path: string): number[] {
  const b = [0]
  for (let i = path.indexOf('/', 1); i >= 0; i = path.indexOf('/', i + 1)) b.push(i)
  b.push(path.length)
  return b
}

/**
 * NO_CAPTURES is what {@link UrlPattern.capture} returns for a pattern without named segments: frozen, so sharing it
 * between calls is safe (nothing is ever written to it, as such a pattern has no named token).
 */
const NO_CAPTURES: readonly string[] = Object.freeze([])

/**
 * PARAMS_PROTO is the prototype of every {@link Params} object: itself empty and prototype-less, so a
 * params object inherits nothing (`constructor`, `toString` and `__proto__` are plain names there, as
 * in Object.create(null)), while V8 keeps its properties in fast mode: an object whose prototype is
 * null is made a dictionary, several times slower to create.
 */
const PARAMS_PROTO: object = Object.freeze(Object.create(null) as object)

/** NO_PARAMS are the values of a pattern without named segments: one frozen, prototype-less, empty object, shared. */
const NO_PARAMS: Params = Object.freeze(Object.create(PARAMS_PROTO) as Params)

/**
 * segmentMatches tells whether one path segment (no `/`) matches one non-globstar pattern segment; for the overlap
 * check, which tries literal segments against pattern segments.
 */
export function segmentMatches(seg: PatternSegment, s: string): boolean {
  return !seg.globstar && matchSegment(seg, s, 0, s.length, undefined, undefined)
}

function fail(offset: number, message: string): ParseResult {
  return { ok: false, error: { offset, message } }
}

/** layoutOf finds a segment's only variable-length token and the fixed lengths around it (see PatternSegment). */
function layoutOf(tokens: readonly PatternToken[]): Pick<
  PatternSegment,
  'varAt' | 'before' | 'after' | 'minLength' | 'affix' | 'prefix' | 'suffix' | 'capture'
> {
  let varAt = -1
  let before = 0
  let after = 0
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!
    const len = t.t === 'lit' ? t.s.length : t.t === 'one' ? 1 : -1
    if (len < 0) {
      if (varAt >= 0) {
        return { varAt: -2, before: 0, after: 0, minLength: 0, affix: false, prefix: '', suffix: '', capture: -1 }
      }
      varAt = k
    } else if (varAt < 0) before += len
    else after += len
  }
  const vt = varAt >= 0 ? tokens[varAt]! : undefined
  const named = vt !== undefined && vt.t === 'named' ? 1 : 0 // a named segment takes one character or more
  // The parser merges adjacent literal characters into one token, so an affix segment has at most three tokens.
  const pre = tokens[varAt - 1]
  const post = tokens[varAt + 1]
  const affix =
    vt !== undefined &&
    tokens.length === 1 + (pre ? 1 : 0) + (post ? 1 : 0) &&
    (pre === undefined || pre.t === 'lit') &&
    (post === undefined || post.t === 'lit')
  return {
    varAt,
    before,
    after,
    minLength: before + after + named,
    affix,
    prefix: affix && pre?.t === 'lit' ? pre.s : '',
    suffix: affix && post?.t === 'lit' ? post.s : '',
    capture: vt?.t === 'named' ? vt.index : -1,
  }
}

/** literalOf returns the text of a segment made of at most one literal run, else undefined. */
/**
 * flatString returns `s` as one flat, sequential string (its own characters, not a rope of
 * concatenations nor a slice of a larger string). Decoding its UTF-8 bytes always makes a new flat string.
 */
function flatString(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8')
}

function literalOf(tokens: readonly PatternToken[]): string | undefined {
  if (tokens.length === 0) return ''
  const t = tokens[0]!
  return tokens.length === 1 && t.t === 'lit' ? t.s : undefined
}

/**
 * matchFixed matches a pattern without `**`: one pattern segment per path segment, in order, from segment `known` (the
 * ones before are known to match). The path is `s` with its segments located by `b` (see {@link segmentBounds}), as
 * in every matcher below.
 */
function matchFixed(
  pattern: readonly PatternSegment[],
  known: number,
  s: string,
  b: readonly number[],
  caps: string[] | undefined,
  counter: StepCounter | undefined,
): boolean {
  if (pattern.length !== b.length - 1) return false
  for (let k = known; k < pattern.length; k++) {
    if (!matchSegment(pattern[k]!, s, b[k]! + 1, b[k + 1]!, caps, counter)) return false
  }
  return true
}

/**
 * matchOneGlobstar matches a pattern with exactly one `**` (at index g): the segments before it align with the start
 * of the path and those after it with the end, so there is a single alignment to check. Segments before `known` (at
 * most g) are known to match.
 */
function matchOneGlobstar(
  pattern: readonly PatternSegment[],
  g: number,
  known: number,
  s: string,
  b: readonly number[],
  caps: string[],
  counter: StepCounter | undefined,
): boolean {
  const S = b.length - 1
  const post = pattern.length - 1 - g
  if (S < g + post) return false
  for (let k = known; k < g; k++) {
    if (!matchSegment(pattern[k]!, s, b[k]! + 1, b[k + 1]!, caps, counter)) return false
  }
  const shift = S - pattern.length // pattern segment k > g meets path segment k + shift
  for (let k = g + 1; k < pattern.length; k++) {
    if (!matchSegment(pattern[k]!, s, b[k + shift]! + 1, b[k + shift + 1]!, caps, counter)) return false
  }
  return true
}

/**
 * matchWithGlobstar matches a pattern with `**` segments. ok[p][i] = "pattern segments p.. match path segments i.."
 * is computed backwards (each cell O(1) plus one segment match), then a forward walk picks, for every `**`, the most
 * path segments that still let the rest match (greedy, as the regular expression `(?:[^/]*\/)*` would) and
 * captures the named segments on that one path. O(pattern segments x path length x tokens).
 */
function matchWithGlobstar(
  pattern: readonly PatternSegment[],
  s: string,
  b: readonly number[],
  caps: string[],
  counter: StepCounter | undefined,
): boolean {
  const P = pattern.length
  const S = b.length - 1
  const W = S + 1
  const ok = new Uint8Array((P + 1) * W)
  ok[P * W + S] = 1
  let steps = 0
  for (let p = P - 1; p >= 0; p--) {
    const seg = pattern[p]!
    for (let i = S; i >= 0; i--) {
      steps++
      let v = 0
      if (seg.globstar) v = ok[(p + 1) * W + i]! | (i < S ? ok[p * W + i + 1]! : 0)
      else if (i < S && ok[(p + 1) * W + i + 1] === 1 && matchSegment(seg, s, b[i]! + 1, b[i + 1]!, undefined, counter))
        v = 1
      ok[p * W + i] = v
    }
  }
  if (counter) counter.steps += steps
  if (ok[0] !== 1) return false
  let i = 0
  for (let p = 0; p < P; p++) {
    const seg = pattern[p]!
    if (seg.globstar) {
      let e = S
      while (ok[(p + 1) * W + e] !== 1) e-- // ok[p][i] guarantees some e >= i
      i = e
    } else {
      matchSegment(seg, s, b[i]! + 1, b[i + 1]!, caps, counter)
      i++
    }
  }
  return true
}

/**
 * matchSegment matches the path segment `s[from..to)` (no `/`) against one (non-globstar) pattern segment, writing
 * the named segments' values into `caps` when given. Segments with at most one variable-length token (`*` or a named
 * segment) have a single possible alignment, fixed by the fixed-length tokens around it, and are matched in place
 * (no substring is made but the captured value); others go through {@link matchTokens}.
 */
function matchSegment(
  seg: PatternSegment,
  s: string,
  from: number,
  to: number,
  caps: string[] | undefined,
  counter: StepCounter | undefined,
): boolean {
  const L = to - from
  const literal = seg.literal
  if (literal !== undefined) return L === literal.length && litAt(s, from, literal)
  const tokens = seg.tokens
  const v = seg.varAt
  if (v === -2) return matchTokens(tokens, s.slice(from, to), caps, counter)
  if (counter) counter.steps += tokens.length
  if (seg.affix) {
    if (L < seg.minLength) return false
    const prefix = seg.prefix
    const suffix = seg.suffix
    if (!litAt(s, from, prefix) || !litAt(s, to - suffix.length, suffix)) return false
    if (caps !== undefined && seg.capture >= 0) {
      caps[seg.capture] = s.slice(from + prefix.length, to - suffix.length)
    }
    return true
  }
  const before = seg.before
  const after = seg.after
  if (v < 0 ? L !== before : L < seg.minLength) return false
  // The length checks above keep every fixed-length token inside [from, to).
  let i = from
  const end = v < 0 ? tokens.length : v
  for (let k = 0; k < end && i >= 0; k++) i = fixedAt(tokens[k]!, s, i)
  if (i < 0) return false
  if (v >= 0) {
    let j = to - after
    const start = j
    for (let k = v + 1; k < tokens.length && j >= 0; k++) j = fixedAt(tokens[k]!, s, j)
    if (j < 0) return false
    const vt = tokens[v]!
    if (caps !== undefined && vt.t === 'named') caps[vt.index] = s.slice(from + before, start)
  }
  return true
}

/**
 * fixedAt matches a fixed-length token at `i` of `s` and returns the next index, or -1. The caller has checked that
 * the token fits before the end of the segment, and a path segment never holds `/`, so `?` always matches.
 */
function fixedAt(t: PatternToken, s: string, i: number): number {
  if (t.t === 'lit') return litAt(s, i, t.s) ? i + t.s.length : -1
  return i + 1
}

/**
 * litAt tells whether `lit` occurs in `s` at index `i`. A character loop: for the short literals of path patterns it
 * is several times faster than `s.startsWith(lit, i)` or comparing a slice (measured on Node 20).
 */
function litAt(s: string, i: number, lit: string): boolean {
  if (i + lit.length > s.length) return false
  for (let k = 0; k < lit.length; k++) if (s.charCodeAt(i + k) !== lit.charCodeAt(k)) return false
  return true
}

/**
 * matchTokens is the general segment matcher. can[t][i] = "tokens t.. match s[i..]" and any[t][i] = "can[t][j] for
 * some j >= i" are filled backwards in O(tokens x length) (a `*` or named cell is O(1) thanks to `any`); a forward
 * walk then gives each variable token the longest span that keeps the rest feasible, which is exactly the match a
 * backtracking regular-expression engine finds first with greedy quantifiers, without its exponential worst case.
 */
function matchTokens(
  tokens: readonly PatternToken[],
  s: string,
  caps: string[] | undefined,
  counter: StepCounter | undefined,
): boolean {
  const T = tokens.length
  const L = s.length
  const W = L + 1
  const can = new Uint8Array((T + 1) * W)
  const any = new Uint8Array((T + 1) * W)
  can[T * W + L] = 1
  for (let i = 0; i <= L; i++) any[T * W + i] = 1
  let steps = 0
  for (let t = T - 1; t >= 0; t--) {
    const tok = tokens[t]!
    const base = t * W
    const next = base + W
    for (let i = L; i >= 0; i--) {
      steps++
      let v = 0
      switch (tok.t) {
        case 'lit':
          v = i + tok.s.length <= L && can[next + i + tok.s.length] === 1 && s.startsWith(tok.s, i) ? 1 : 0
          break
        case 'one':
          v = i < L ? can[next + i + 1]! : 0
          break
        case 'star':
          v = any[next + i]!
          break
        case 'named':
          v = i < L ? any[next + i + 1]! : 0
          break
      }
      can[base + i] = v
      any[base + i] = v | (i < L ? any[base + i + 1]! : 0)
    }
  }
  if (can[0] !== 1) {
    if (counter) counter.steps += steps
    return false
  }
  let i = 0
  for (let t = 0; t < T; t++) {
    const tok = tokens[t]!
    const next = (t + 1) * W
    if (tok.t === 'lit') i += tok.s.length
    else if (tok.t === 'one') i++
    else {
      let j = L
      while (can[next + j] !== 1) {
        j--
        steps++
      }
      if (caps !== undefined && tok.t === 'named') caps[tok.index] = s.slice(i, j)
      i = j
    }
  }
  if (counter) counter.steps += steps
  return true
}
