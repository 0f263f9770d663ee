import t from 'tap'
import { overlapWitness } from '../../src/manifest/pattern-overlap.js'
import { parsePattern, segmentBounds, type Params, type UrlPattern } from '../../src/manifest/url-pattern.js'
import { mulberry32 } from '../helpers/random.js'

/** compile parses a pattern the test knows to be valid. */
function compile(text: string): UrlPattern {
  const r = parsePattern(text)
  if (!r.ok) throw new Error(`test pattern ${text} does not parse: ${r.error.message}`)
  return r.pattern
}

/** plain copies a params record (null prototype) into an ordinary object for comparison. */
function plain(p: Params | undefined): Record<string, string> | undefined {
  return p === undefined ? undefined : { ...p }
}

t.test('parse errors carry the offset of the offending character and a sentence', async t => {
  const cases: Array<[string, number, string]> = [
    ['', 0, "a pattern must start with '/'"],
    ['sdk/x', 0, "a pattern must start with '/'"],
    ['/a/:', 3, "a named segment needs a name after ':'"],
    ['/a/:1x', 3, "a named segment needs a name after ':'"],
    ['/a/x-:/y', 5, "a named segment needs a name after ':'"],
    ['/:os/:os', 5, 'duplicate name :os'],
    ['/sdk/:version/tools-:version.zip', 20, 'duplicate name :version'],
    ['/a**', 2, "'**' must be a whole segment"],
    ['/**b', 1, "'**' must be a whole segment"],
    ['/***', 1, "'**' must be a whole segment"],
    ['/a/x**/b', 4, "'**' must be a whole segment"],
    ['/a/\\***', 5, "'**' must be a whole segment"],
    ['/a\\', 2, 'a backslash at the end of a pattern escapes nothing'],
    ['/:a/b\\', 5, 'a backslash at the end of a pattern escapes nothing'],
    ['/:a/:', 4, "a named segment needs a name after ':'"], // the first error is reported
  ]
  for (const [text, offset, message] of cases) {
    t.strictSame(parsePattern(text), { ok: false, error: { offset, message } }, JSON.stringify(text))
  }
})

t.test('parsePattern never throws, whatever it is given', async t => {
  const odd: unknown[] = [undefined, null, 42, {}, [], '/\u0000', '/\ud800', '/' + ':'.repeat(1000), '/'.repeat(1000)]
  for (const v of odd) {
    t.doesNotThrow(() => parsePattern(v as string), `input ${JSON.stringify(String(v).slice(0, 20))}`)
  }
  t.strictSame(parsePattern(42 as unknown as string), { ok: false, error: { offset: 0, message: 'a pattern must be a string' } })
})

t.test('kind, literal count and names', async t => {
  const cases: Array<[string, string, number, string[]]> = [
    ['/', 'exact', 1, []],
    ['/sdk/latest/tools.zip', 'exact', 21, []],
    ['/a\\:b', 'exact', 4, []], // the backslash is not a literal character, the escaped one is
    ['/a\\*\\?\\\\', 'exact', 5, []],
    ['/sdk/:version/tools-:os.zip', 'named', 16, ['version', 'os']],
    ['/:a:b', 'named', 1, ['a', 'b']],
    ['/:_x9/y', 'named', 3, ['_x9']],
    ['/a/*.zip', 'glob', 7, []],
    ['/a/?', 'glob', 3, []],
    ['/a/**', 'glob', 3, []],
    ['/a/**/b', 'glob', 5, []],
    ['/dl/:v/*.zip', 'glob', 9, ['v']], // a glob even with named segments
  ]
  for (const [text, kind, literalCount, names] of cases) {
    const p = compile(text)
    t.strictSame({ kind: p.kind, literalCount: p.literalCount, names: [...p.names], text: p.text }, { kind, literalCount, names, text }, text)
  }
})

t.test('matches and non-matches, with params', async t => {
  const cases: Array<[string, string, Record<string, string> | undefined]> = [
    ['/sdk/latest/tools.zip', '/sdk/latest/tools.zip', {}],
    ['/sdk/latest/tools.zip', '/sdk/latest/tools.ZIP', undefined], // case-sensitive
    ['/sdk/latest/tools.zip', '/sdk/latest/tools.zip/', undefined],
    ['/sdk/:version/tools-:os.zip', '/sdk/1.2/tools-linux.x64.zip', { version: '1.2', os: 'linux.x64' }],
    ['/sdk/:version/tools-:os.zip', '/sdk/1.2/tools-.zip', undefined], // a named segment is one or more characters
    ['/sdk/:version/tools-:os.zip', '/sdk//tools-linux.zip', undefined],
    ['/sdk/:version/tools-:os.zip', '/sdk/1/2/tools-linux.zip', undefined], // never across '/'
    ['/:a:b', '/xyz', { a: 'xy', b: 'z' }], // greedy: the first takes all it can
    ['/:a.:b', '/1.2.3', { a: '1.2', b: '3' }],
    ['/:a-:b-:c', '/x-y-z-w', { a: 'x-y', b: 'z', c: 'w' }],
    ['/:a:b', '/x', undefined],
    ['/*-:v', '/a-b-c', { v: 'c' }], // '*' is greedy too
    ['/:v-*', '/a-b-c', { v: 'a-b' }],
    ['/:__proto__/x', '/p/x', Object.fromEntries([['__proto__', 'p']]) as Record<string, string>],
    ['/a/*.zip', '/a/.zip', {}], // '*' may be empty
    ['/a/*.zip', '/a/b/c.zip', undefined],
    ['/a/?.zip', '/a/b.zip', {}],
    ['/a/?.zip', '/a/.zip', undefined],
    ['/a/?.zip', '/a/bc.zip', undefined],
    ['/a\\:b', '/a:b', {}],
    ['/a\\*', '/a*', {}],
    ['/a\\*', '/ab', undefined],
    ['/a\\?', '/a?', {}],
    ['/a\\\\b', '/a\\b', {}],
    ['/a\\/b', '/a/b', {}], // an escaped '/' is still the character '/', a separator
    ['/a\\/:v', '/a/b', { v: 'b' }],
    ['/a\\/**', '/a/b/c', {}],
    ['/\\:v/:v', '/:v/1', { v: '1' }],
    // '**' at the end: everything under the prefix, not the prefix itself.
    ['/a/**', '/a/', {}],
    ['/a/**', '/a/x', {}],
    ['/a/**', '/a/x/y/z', {}],
    ['/a/**', '/a', undefined],
    ['/a/**', '/ab/x', undefined],
    ['/**', '/', {}],
    ['/**', '/x/y', {}],
    // '**' in the middle: zero or more whole segments.
    ['/a/**/b', '/a/b', {}],
    ['/a/**/b', '/a/x/y/b', {}],
    ['/a/**/b', '/a/xb', undefined],
    ['/a/**/b', '/a/x/yb', undefined],
    ['/a/**/:f.sig', '/a/x/y/z.sig', { f: 'z' }],
    // '**' at the start.
    ['/**/b', '/b', {}],
    ['/**/b', '/x/y/b', {}],
    ['/**/b', '/x/y/bb', undefined],
    ['/**/:dir/:f', '/x/y/z', { dir: 'y', f: 'z' }],
    // several '**': greedy, the first takes the most segments.
    ['/**/:v/**', '/a/b/c', { v: 'b' }],
    ['/x/**/:v/**/:w', '/x/a/b/c/d', { v: 'c', w: 'd' }],
    ['/**/a/**/a', '/a/a/a', {}],
    ['/**/a/**/a', '/a/b', undefined],
    // not a path
    ['/a', 'a', undefined],
    ['/a/**', '', undefined],
  ]
  for (const [text, path, want] of cases) {
    t.strictSame(plain(compile(text).match(path)), want, `${text} against ${path}`)
  }
})

t.test('segmentBounds locates every segment, empty ones included', async t => {
  const cases: Array<[string, number[], string[]]> = [
    ['/', [0, 1], ['']],
    ['/a', [0, 2], ['a']],
    ['/a/bc/', [0, 2, 5, 6], ['a', 'bc', '']],
    ['//x', [0, 1, 3], ['', 'x']],
    ['/dl/p-5/1.2/t-linux.zip', [0, 3, 7, 11, 23], ['dl', 'p-5', '1.2', 't-linux.zip']],
  ]
  for (const [path, want, segs] of cases) {
    const b = segmentBounds(path)
    t.strictSame(b, want, path)
    t.strictSame(
      segs.map((_, k) => path.slice(b[k]! + 1, b[k + 1])),
      path.slice(1).split('/'),
      `${path}: the segments of split('/')`,
    )
  }
})

t.test('capture: values in name order, quick rejects, and the leading segments the caller vouches for', async t => {
  const cases: Array<[string, string, number, string[] | undefined]> = [
    ['/sdk/:version/tools-:os.zip', '/sdk/1.2/tools-linux.zip', 0, ['1.2', 'linux']],
    ['/sdk/:version/tools-:os.zip', '/sdk/1.2/tools-linux.tgz', 0, undefined], // required suffix
    ['/sdk/:version/tools-:os.zip', '/sdk/1.2/x/tools-linux.zip', 0, undefined], // segment count
    ['/sdk/:version/tools-:os.zip', '/sdk/1.2/tools-.zip', 0, undefined], // a named segment takes a character
    // known = 1: the first segment is not compared again (the route table's trie has compared it).
    ['/sdk/:version/tools-:os.zip', '/SDK/1.2/tools-linux.zip', 1, ['1.2', 'linux']],
    ['/sdk/:version/tools-:os.zip', '/SDK/1.2/tools-linux.zip', 0, undefined],
    ['/a/**/:f.sig', '/a/b/c/x.sig', 1, ['x']],
    ['/a/*.zip', '/a/.zip', 0, []],
    ['/a/b', '/a/b', 0, []],
    ['/a/b', '/a/c', 0, undefined],
  ]
  for (const [text, path, known, want] of cases) {
    const p = compile(text)
    const got = p.capture(path, segmentBounds(path), undefined, known)
    t.strictSame(got === undefined ? undefined : [...got], want, `${text} against ${path} (known ${known})`)
    if (got !== undefined) {
      t.strictSame(plain(p.paramsOf(got)), Object.fromEntries(p.names.map((n, k) => [n, want![k]])), 'paramsOf')
    }
  }
})

t.test('matching is bounded in steps on pathological inputs', async t => {
  // [pattern, path, matches, most steps, rejected by the quick checks (required suffix, segment count) with no step]
  const cases: Array<[string, string, boolean, number, boolean]> = [
    // A backtracking engine tries O(L^6) splits of the segment before failing; the table is O(tokens x L).
    ['/:a:b:c:d:e:f:g', '/' + 'x'.repeat(5000), true, 8 * 5001 * 2, false],
    ['/:a:b:c:d:e:f:g.zip', '/' + 'x'.repeat(5000), false, 8 * 5001 * 2, true],
    ['/:a:b:c:d:e:f:g-:h.zip', '/' + 'x'.repeat(5000) + '.zip', false, 10 * 5005 * 2, false],
    ['/*a*a*a*a*a*b', '/' + 'a'.repeat(5000), false, 12 * 5001 * 2, true],
    ['/*a*a*a*a*a*c*b', '/' + 'a'.repeat(5000) + 'b', false, 16 * 5002 * 2, false],
    ['/**/a/**/a/**/a/**/b', '/' + 'a/'.repeat(500) + 'a', false, 10 * 502 * 4, true],
    ['/**/a/**/a/**/a/**/c/**/b', '/' + 'a/'.repeat(500) + 'b', false, 12 * 502 * 4, false],
    ['/**/:x/**/:y/**/z', '/' + 'q/'.repeat(500) + 'z', true, 10 * 502 * 4, false],
  ]
  for (const [text, path, matches, bound, quick] of cases) {
    const counter = { steps: 0 }
    const got = compile(text).match(path, counter)
    t.equal(got !== undefined, matches, `${text} ${matches ? 'matches' : 'does not match'}`)
    if (quick) t.equal(counter.steps, 0, `${text}: rejected before the matcher runs`)
    else t.ok(counter.steps > 0 && counter.steps <= bound, `${text}: ${counter.steps} steps <= ${bound}`)
  }
})


type RefToken = { t: 'lit'; c: string } | { t: 'one' } | { t: 'star' } | { t: 'named'; name: string } | { t: 'globstar' }

/**
 * reference is an independent reading of the spec: it tokenizes the pattern its own way and builds a RegExp (safe
 * here: the fuzz patterns and paths are short). Returns undefined for a pattern the spec rejects.
 */
function reference(text: string): { re: RegExp; tokens: RefToken[][] } | undefined {
  if (!text.startsWith('/')) return undefined
  const segs: RefToken[][] = [[]]
  const names = new Set<string>()
  for (let i = 1; i < text.length; ) {
    const seg = segs[segs.length - 1]!
    const c = text[i]!
    if (c === '\\') {
      if (i + 1 === text.length) return undefined
      if (text[i + 1] === '/') {
        segs.push([]) // the spec's '/' is a separator however it is written
        i += 2
        continue
      }
      seg.push({ t: 'lit', c: text[i + 1]! })
      i += 2
    } else if (c === '/') {
      segs.push([])
      i++
    } else if (c === ':') {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))
      if (!m || names.has(m[0])) return undefined
      names.add(m[0])
      seg.push({ t: 'named', name: m[0] })
      i += 1 + m[0].length
    } else if (c === '*' && text[i + 1] === '*') {
      if (seg.length > 0 || !(i + 2 === text.length || text[i + 2] === '/')) return undefined
      seg.push({ t: 'globstar' })
      i += 2
    } else {
      seg.push(c === '*' ? { t: 'star' } : c === '?' ? { t: 'one' } : { t: 'lit', c })
      i++
    }
  }
  let src = '^/'
  segs.forEach((seg, k) => {
    const last = k === segs.length - 1
    if (seg[0]?.t === 'globstar') {
      src += last ? '.*' : '(?:[^/]*/)*'
      return
    }
    for (const tok of seg) {
      if (tok.t === 'lit') src += tok.c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
      else if (tok.t === 'one') src += '[^/]'
      else if (tok.t === 'star') src += '[^/]*'
      else if (tok.t === 'named') src += `(?<${tok.name}>[^/]+)`
    }
    if (!last) src += '/'
  })
  return { re: new RegExp(src + '$'), tokens: segs }
}

/** instantiate makes a path that the reference tokens match (mostly), so the fuzz sees many matches. */
function instantiate(tokens: RefToken[][], rnd: () => number): string {
  const word = (min: number): string => {
    const n = min + Math.floor(rnd() * 3)
    let s = ''
    for (let k = 0; k < n; k++) s += 'ab.x:-'[Math.floor(rnd() * 6)]
    return s
  }
  const parts = tokens.map(seg => {
    if (seg[0]?.t === 'globstar') return Array.from({ length: Math.floor(rnd() * 3) }, () => word(1)).join('/')
    return seg
      .map(tok =>
        tok.t === 'lit' ? tok.c : tok.t === 'one' ? word(1).slice(0, 1) : tok.t === 'star' ? word(0) : tok.t === 'named' ? word(1) : '',
      )
      .join('')
  })
  return '/' + parts.join('/').replace(/\/\/+/g, rnd() < 0.5 ? '/' : '//')
}

t.test('fuzz: parsePattern agrees with the reference on validity, match on every path', async t => {
  const rnd = mulberry32(20261205)
  const alphabet = ['a', 'b', '.', '/', '/', ':', ':a', ':b', ':x1', '*', '*', '?', '\\', 'x', '-']
  let valid = 0
  let matched = 0
  let compared = 0
  const mismatches: string[] = []
  for (let n = 0; n < 3000; n++) {
    let text = rnd() < 0.95 ? '/' : ''
    const len = 1 + Math.floor(rnd() * 10)
    for (let k = 0; k < len; k++) text += alphabet[Math.floor(rnd() * alphabet.length)]
    let r: ReturnType<typeof parsePattern>
    try {
      r = parsePattern(text)
    } catch (e) {
      mismatches.push(`${text}: threw ${String(e)}`)
      continue
    }
    const ref = reference(text)
    if (r.ok !== (ref !== undefined)) {
      mismatches.push(`${text}: parsePattern ok=${r.ok}, reference ok=${ref !== undefined}`)
      continue
    }
    if (!r.ok || ref === undefined) continue
    valid++
    const paths: string[] = []
    for (let k = 0; k < 4; k++) paths.push(instantiate(ref.tokens, rnd))
    for (let k = 0; k < 2; k++) {
      let p = '/'
      for (let m = Math.floor(rnd() * 8); m > 0; m--) p += 'ab./:x-'[Math.floor(rnd() * 7)]
      paths.push(p)
    }
    for (const path of paths) {
      compared++
      const want = ref.re.exec(path)
      const got = r.pattern.match(path)
      const wantParams = want ? { ...(want.groups ?? {}) } : undefined
      if (got !== undefined) matched++
      if (JSON.stringify(plain(got)) !== JSON.stringify(wantParams)) {
        mismatches.push(`${text} on ${path}: got ${JSON.stringify(plain(got))}, reference ${JSON.stringify(wantParams)}`)
      }
    }
  }
  t.strictSame(mismatches.slice(0, 10), [], 'no disagreement with the reference')
  // The fuzz must exercise both outcomes to mean anything.
  t.ok(valid > 1000, `${valid} valid patterns`)
  t.ok(matched > compared / 4 && matched < compared, `${matched} of ${compared} paths matched`)
})

t.test('overlap witnesses: known pairs', async t => {
  const cases: Array<[string, string, boolean]> = [
    ['/a/*.zip', '/a/*.tar', false],
    ['/a/*.zip', '/a/:x', true],
    ['/a/:x', '/b/:x', false],
    ['/a/?', '/a/bb', false],
    ['/a/?', '/a/b', true],
    ['/a/**', '/a', false],
    ['/a/**', '/a/b/:c', true],
    ['/**', '/x', true],
    ['/a/**/b', '/**/c/b', true],
    ['/sdk/:v/tools-:os.zip', '/sdk/*/tools-linux.*', true],
    ['/sdk/:v/tools-:os.zip', '/sdk/:v/tools-:os.tar', false],
    ['/:a:b:c', '/??', false], // three one-or-more runs need three characters
    ['/:a:b:c', '/???', true],
    ['/x/**/y', '/x/**/z', false],
    ['/x/**/y/**', '/**/z/**/w', true],
    ['/a\\*', '/a*', true],
    ['/a\\*', '/ab', false],
  ]
  for (const [a, b, overlaps] of cases) {
    const pa = compile(a)
    const pb = compile(b)
    for (const [x, y] of [
      [pa, pb],
      [pb, pa],
    ] as const) {
      const w = overlapWitness(x, y)
      t.equal(w !== undefined, overlaps, `${x.text} and ${y.text} ${overlaps ? 'overlap' : 'do not overlap'}`)
      if (w !== undefined) t.ok(x.match(w) && y.match(w), `witness ${w} matches both`)
    }
  }
})

t.test('fuzz: overlap witnesses match both patterns, and no overlap is missed', async t => {
  const rnd = mulberry32(7)
  const alphabet = ['a', 'b', '/', '/', ':a', ':b', '*', '?', '**', '.']
  const patterns: Array<{ p: UrlPattern; paths: string[] }> = []
  while (patterns.length < 150) {
    let text = '/'
    for (let k = 1 + Math.floor(rnd() * 6); k > 0; k--) text += alphabet[Math.floor(rnd() * alphabet.length)]
    const r = parsePattern(text)
    const ref = reference(text)
    if (!r.ok || ref === undefined) continue
    patterns.push({ p: r.pattern, paths: Array.from({ length: 6 }, () => instantiate(ref.tokens, rnd)) })
  }
  let overlapping = 0
  const problems: string[] = []
  for (let x = 0; x < patterns.length; x++) {
    for (let y = x + 1; y < patterns.length; y++) {
      const a = patterns[x]!
      const b = patterns[y]!
      const w = overlapWitness(a.p, b.p)
      if (w !== undefined) {
        overlapping++
        if (!a.p.match(w) || !b.p.match(w)) problems.push(`${a.p.text} / ${b.p.text}: witness ${w} does not match both`)
      } else {
        const both = [...a.paths, ...b.paths].find(path => a.p.match(path) && b.p.match(path))
        if (both !== undefined) problems.push(`${a.p.text} / ${b.p.text}: no overlap found, but ${both} matches both`)
      }
    }
  }
  t.strictSame(problems.slice(0, 10), [], 'every witness is right and no overlap is missed on the sample paths')
  t.ok(overlapping > 100, `${overlapping} overlapping pairs seen`)
})
