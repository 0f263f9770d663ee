import t from 'tap'
import { overlapWitness } from '../../src/manifest/pattern-overlap.js'
import { comparePrecedence, RouteTable, type RouteEntry } from '../../src/manifest/route-table.js'
import { parsePattern, type UrlPattern } from '../../src/manifest/url-pattern.js'
import { mulberry32 } from '../helpers/random.js'

function compile(text: string): UrlPattern {
  const r = parsePattern(text)
  if (!r.ok) throw new Error(`test pattern ${text} does not parse: ${r.error.message}`)
  return r.pattern
}

/** table builds a table from payloads given as lists of path patterns, in manifest order. */
function table(payloads: string[][]): { table: RouteTable; entries: RouteEntry[] } {
  const entries: RouteEntry[] = []
  payloads.forEach((paths, payload) => paths.forEach((text, path) => entries.push({ pattern: compile(text), payload, path })))
  return { table: new RouteTable(entries), entries }
}

/** who names an entry as "payload.path" for readable assertions. */
function who(e: RouteEntry | undefined): string | undefined {
  return e === undefined ? undefined : `${e.payload}.${e.path}`
}

t.test('precedence: kinds, literal characters, then declaration order', async t => {
  const cases: Array<[string, string[][], string, string | undefined]> = [
    ['exact beats named declared earlier', [['/a/:x'], ['/a/b']], '/a/b', '1.0'],
    ['exact beats glob declared earlier', [['/a/*'], ['/a/b']], '/a/b', '1.0'],
    ['named beats glob with more literal characters', [['/a/bc*'], ['/a/:x']], '/a/bcd', '1.0'],
    ['named with more literal characters wins', [['/:x/:y'], ['/a/:y']], '/a/b', '1.0'],
    ['glob with more literal characters wins', [['/a/**'], ['/a/*.zip']], '/a/x.zip', '1.0'],
    ['named tie: earlier payload wins', [['/a/:x'], ['/a/:y']], '/a/b', '0.0'],
    ['named tie within a payload: earlier path wins', [['/z', '/a/:x', '/a/:y']], '/a/b', '0.1'],
    ['glob tie: earlier payload wins', [['/x'], ['/a/*'], ['/a/?']], '/a/b', '1.0'],
    ['exact duplicate: earlier payload wins', [['/a/b'], ['/a/b']], '/a/b', '0.0'],
    ['exact duplicate within a payload: earlier path wins', [['/a/b', '/a/b']], '/a/b', '0.0'],
    // Candidates from different index lists (root keyed by the last segment, a deeper trie node) are merged in order.
    ['a root ** pattern with more literals beats a deeper one', [['/a/b/*'], ['/**/x.zip']], '/a/b/x.zip', '1.0'],
    ['a deeper pattern with more literals beats a root one', [['/**/x.zip'], ['/a/b/*.zip']], '/a/b/x.zip', '1.0'],
    ['named at the root beats a glob in a deeper node', [['/a/b/**'], ['/:p/b/c']], '/a/b/c', '1.0'],
    ['a keyed named pattern ties with an unkeyed one by order', [['/:c/:d/z'], ['/:c/:d/:e']], '/x/y/z', '0.0'],
    ['no match', [['/a/:x'], ['/b/**']], '/c/d', undefined],
    ['no match: segment count', [['/a/:x']], '/a/b/c', undefined],
    ['no match: not a path', [['/a/**']], 'a/b', undefined],
  ]
  for (const [name, payloads, path, want] of cases) {
    t.equal(who(table(payloads).table.match(path)?.entry), want, name)
  }
})

t.test('match returns the params of the winning pattern', async t => {
  const { table: tb } = table([['/sdk/latest/tools.zip'], ['/sdk/:version/tools-:os.zip'], ['/mirror/sdk/**']])
  const cases: Array<[string, string | undefined, Record<string, string> | undefined]> = [
    ['/sdk/latest/tools.zip', '0.0', {}],
    ['/sdk/1.2/tools-linux.x64.zip', '1.0', { version: '1.2', os: 'linux.x64' }],
    ['/mirror/sdk/a/b', '2.0', {}],
    ['/mirror/sdk', undefined, undefined],
  ]
  for (const [path, entry, params] of cases) {
    const m = tb.match(path)
    t.strictSame({ entry: who(m?.entry), params: m ? { ...m.params } : undefined }, { entry, params }, path)
  }
  t.equal(tb.size, 3)
})

t.test('bad entries are a TypeError at construction', async t => {
  const p = compile('/a')
  const bad: unknown[] = [
    'not an array',
    [null],
    [{ pattern: '/a', payload: 0, path: 0 }],
    [{ pattern: p, payload: -1, path: 0 }],
    [{ pattern: p, payload: 0, path: 1.5 }],
    [{ pattern: p, payload: 0 }],
  ]
  for (const b of bad) t.throws(() => new RouteTable(b as RouteEntry[]), TypeError, JSON.stringify(b))
})

t.test('overlaps: pairs, winners and witnesses', async t => {
  const cases: Array<[string, string[][], Array<[string, string]>]> = [
    ['exact duplicates across payloads', [['/a/b'], ['/a/b'], ['/a/b']], [['0.0', '1.0'], ['0.0', '2.0'], ['1.0', '2.0']]],
    ['exact against the patterns that match it', [['/a/:x'], ['/a/b'], ['/a/*.zip']], [['1.0', '0.0'], ['0.0', '2.0']]],
    ['exact against no pattern', [['/a/:x/c'], ['/a/b'], ['/a/*.zip']], []],
    ['named against glob', [['/a/*'], ['/a/:x']], [['1.0', '0.0']]],
    ['disjoint globs', [['/a/*.zip'], ['/a/*.tar']], []],
    ['different literal first segments', [['/a/:x'], ['/b/:x']], []],
    ['different segment counts', [['/a/:x'], ['/a/:x/:y']], []],
    ['** reaches into a deeper node', [['/a/b/:c'], ['/a/**']], [['0.0', '1.0']]],
    ['** at the root against a deep exact path', [['/x/y/z.sig'], ['/**/*.sig'], ['/x/**']], [['0.0', '1.0'], ['0.0', '2.0'], ['1.0', '2.0']]],
    ['same payload, two paths', [['/a/:x', '/a/*']], [['0.0', '0.1']]],
  ]
  for (const [name, payloads, want] of cases) {
    const got = table(payloads).table.overlaps()
    t.strictSame(
      got.map(o => [who(o.winner), who(o.loser)]),
      want,
      name,
    )
    for (const o of got) {
      t.ok(o.winner.pattern.match(o.witness) && o.loser.pattern.match(o.witness), `${name}: witness ${o.witness} matches both`)
      t.ok(comparePrecedence(o.winner, o.loser) < 0, `${name}: the winner takes precedence`)
    }
  }
})


/** randomTable makes a table of patterns over a small vocabulary, so that many overlap and many paths match. */
function randomTable(rnd: () => number, payloads: number): RouteEntry[] {
  // '**' only after a literal 'c', so that not every path matches something.
  const pieces = ['a', 'b', 'c', ':p', ':q', '*', '?', 'a*', ':p.b', 'c/**', 'c/**/b']
  const entries: RouteEntry[] = []
  for (let payload = 0; payload < payloads; payload++) {
    const paths = 1 + Math.floor(rnd() * 2)
    for (let path = 0; path < paths; path++) {
      let text = ''
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) text += '/' + pieces[Math.floor(rnd() * pieces.length)]
      const r = parsePattern(text)
      if (r.ok) entries.push({ pattern: r.pattern, payload, path })
    }
  }
  return entries
}

function randomPath(rnd: () => number): string {
  let p = ''
  for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) p += '/' + ['a', 'b', 'c', 'a.b', 'ab', 'x', ''][Math.floor(rnd() * 7)]
  return p
}

t.test('randomized: the indexed lookup agrees with trying every entry in precedence order', async t => {
  const rnd = mulberry32(99)
  let compared = 0
  let hits = 0
  const problems: string[] = []
  for (let round = 0; round < 20; round++) {
    const entries = randomTable(rnd, 60)
    const tb = new RouteTable(entries)
    const sorted = [...entries].sort(comparePrecedence)
    for (let k = 0; k < 100; k++) {
      const path = randomPath(rnd)
      const want = sorted.find(e => e.pattern.match(path) !== undefined)
      const got = tb.match(path)
      compared++
      if (want) hits++
      if (got?.entry !== want) problems.push(`${path}: table ${got?.entry.pattern.text}, brute force ${want?.pattern.text}`)
      else if (got && JSON.stringify({ ...got.params }) !== JSON.stringify({ ...want!.pattern.match(path) }))
        problems.push(`${path}: params differ`)
    }
  }
  t.strictSame(problems.slice(0, 10), [], 'same winner and params')
  t.ok(hits > compared / 3 && hits < compared, `${hits} of ${compared} paths matched`)
})

t.test('randomized: overlaps() finds exactly the pairs a pairwise check finds', async t => {
  const rnd = mulberry32(5)
  const problems: string[] = []
  let pairs = 0
  for (let round = 0; round < 10; round++) {
    const entries = randomTable(rnd, 40)
    const key = (a: RouteEntry, b: RouteEntry): string => `${a.payload}.${a.path}>${b.payload}.${b.path}`
    const want = new Set<string>()
    for (let x = 0; x < entries.length; x++) {
      for (let y = x + 1; y < entries.length; y++) {
        const a = entries[x]!
        const b = entries[y]!
        if (overlapWitness(a.pattern, b.pattern) === undefined) continue
        want.add(comparePrecedence(a, b) < 0 ? key(a, b) : key(b, a))
      }
    }
    const got = new RouteTable(entries).overlaps()
    pairs += got.length
    const gotKeys = new Set(got.map(o => key(o.winner, o.loser)))
    for (const k of want) if (!gotKeys.has(k)) problems.push(`round ${round}: missed ${k}`)
    for (const k of gotKeys) if (!want.has(k)) problems.push(`round ${round}: extra ${k}`)
    if (gotKeys.size !== got.length) problems.push(`round ${round}: a pair is reported twice`)
    for (const o of got) {
      if (!o.winner.pattern.match(o.witness) || !o.loser.pattern.match(o.witness))
        problems.push(`round ${round}: witness ${o.witness} of ${o.winner.pattern.text} / ${o.loser.pattern.text}`)
    }
  }
  t.strictSame(problems.slice(0, 10), [], 'same pairs, true witnesses, no duplicates')
  t.ok(pairs > 100, `${pairs} overlapping pairs`)
})

t.test('a large table: 10,000 payloads build, match and check overlaps', async t => {
  // Sizes and shapes of bench/manifest-match.mjs, without timing: the index must keep candidates few.
  const entries: RouteEntry[] = []
  for (let p = 0; p < 10000; p++) {
    const product = `product-${p % 400}`
    const text =
      p % 10 < 6
        ? `/dl/${product}/${p}/${product}-${p}.zip`
        : p % 10 < 9
          ? `/dl/${product}/:version/tools${p}-:os.zip`
          : `/archive/${product}/${p}/**`
    entries.push({ pattern: compile(text), payload: p, path: 0 })
  }
  const tb = new RouteTable(entries)
  t.equal(who(tb.match('/dl/product-5/5/product-5-5.zip')?.entry), '5.0')
  t.strictSame({ ...tb.match('/dl/product-6/1.0/tools406-linux.zip')?.params }, { version: '1.0', os: 'linux' })
  t.equal(who(tb.match('/archive/product-9/409/a/b')?.entry), '409.0')
  t.equal(tb.match('/dl/product-6/1.0/tools407-linux.zip'), undefined)
  // Named patterns of one product overlap each other only where their literals allow: tools<p>- differ, so none do.
  t.strictSame(tb.overlaps(), [])
})
