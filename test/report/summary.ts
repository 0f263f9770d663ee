import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Chalk } from 'chalk'
import t from 'tap'
import { DIVERGENCE_KINDS, type Comparison, type Divergence } from '../../src/audit/divergence.js'
import {
  compareCommand,
  renderSummary,
  SEVERITY,
  summarize,
  Summarizer,
  type Summary,
} from '../../src/report/summary.js'
import { comparison, expectedKinds, fixtureComparisons } from '../helpers/comparisons.js'

const plain = new Chalk({ level: 0 })
const status: Divergence = { kind: 'status', control: 200, candidate: 404 }
const etag = (candidate: string): Divergence => ({ kind: 'header', name: 'etag', control: '"a"', candidate })

/** at returns an ISO time `s` seconds after 2024-05-01T10:00:00Z. */
const at = (s: number): string => new Date(Date.parse('2024-05-01T10:00:00Z') + s * 1000).toISOString()

t.test('summarize counts an empty log as zeros', async t => {
  const s = await summarize([])
  t.match(s, {
    comparisons: 0,
    divergent: 0,
    divergences: 0,
    ignored: 0,
    noise: 0,
    paths: [],
    headers: [],
    examples: [],
  })
  t.equal(s.firstTime, undefined)
  t.strictSame(s.timeline.buckets, [])
  t.strictSame(s.latency.control, { count: 0, sampled: false })
  t.equal(s.kinds.header.divergences, 0)
})

t.test('summarize gives exact counts', async t => {
  const cases: Array<{ name: string; input: Comparison[]; want: Record<string, unknown> }> = [
    {
      name: 'one status divergence',
      input: [comparison({ divergences: [status] })],
      want: {
        comparisons: 1,
        divergent: 1,
        divergences: 1,
        kinds: { status: { divergences: 1, comparisons: 1 } },
      },
    },
    {
      name: 'two header divergences in one request count once as a request',
      input: [comparison({ divergences: [etag('"b"'), { kind: 'header', name: 'server', control: 'x' }] })],
      want: { divergent: 1, divergences: 2, kinds: { header: { divergences: 2, comparisons: 1 } } },
    },
    {
      name: 'ignored and noise are counted apart from divergences',
      input: [
        comparison({ ignored: [{ divergence: etag('"b"'), reason: 'etag: consistent' }] }),
        comparison({ noise: [{ kind: 'header', name: 'server', control: 'a', candidate: 'b' }] }),
        comparison({}),
      ],
      want: { comparisons: 3, divergent: 0, divergences: 0, ignored: 1, noise: 1 },
    },
  ]
  for (const c of cases) t.match(await summarize(c.input), c.want, c.name)
})

t.test('summarize adds up the fixture log exactly', async t => {
  const cs = fixtureComparisons(50)
  const s = await summarize(cs)
  t.equal(s.comparisons, 50)
  t.equal(s.divergent, 40)
  t.equal(s.divergences, 45)
  t.equal(s.ignored, 5)
  t.equal(s.noise, 5)
  t.strictSame(s.kinds, expectedKinds(cs))
  t.equal(s.kinds.header.divergences, 15)
  t.equal(s.kinds.header.comparisons, 10)
  t.equal(s.firstTime, '2024-05-01T10:00:00.000Z')
  t.equal(s.lastTime, '2024-05-01T10:09:48.000Z')
  t.strictSame(
    s.paths.map(p => [p.path, p.divergences, p.comparisons, p.error]),
    [
      ['/pkgs/index.json?v=2', 15, 10, 0],
      ['/iso/big.iso', 10, 10, 0],
      ['/sdk/v1.zip', 10, 10, 0],
      ['/<script>alert(1)</script>.txt', 5, 5, 0],
      [`/a b'$(x).txt`, 5, 5, 0],
    ],
    'paths by divergences, ties by path',
  )
  t.strictSame(s.paths[0]!.kinds, { header: 10, error: 5 })
  t.strictSame(
    s.headers.map(h => [h.name, h.count]),
    [
      ['etag', 10],
      ['last-modified', 5],
    ],
  )
  t.strictSame(s.headers[1]!.example, { control: 'Mon, 01 Jan 2024 00:00:00 GMT' })
  t.strictSame(
    s.rules.map(r => [r.reason, r.count]),
    [['etag: consistent', 5]],
  )
  t.strictSame(
    s.noiseKeys.map(n => [n.key, n.count]),
    [['header:server', 5]],
  )
  t.equal(s.timeline.bucketMs, 60_000)
  t.equal(s.timeline.buckets.length, 10, 'one bucket per minute')
  t.strictSame(s.timeline.buckets[0], {
    start: Date.parse('2024-05-01T10:00:00Z'),
    counts: { header: 3, status: 1, 'body-length': 1, 'body-bytes': 1 },
  })
  t.equal(
    s.timeline.buckets.reduce((a, b) => a + Object.values(b.counts).reduce((x, y) => x + (y ?? 0), 0), 0),
    45,
    'the buckets hold every divergence',
  )
  t.match(s.latency.control, { count: 50, min: 10, max: 28, sampled: false })
  t.match(s.latency.candidate, { count: 50, min: 12, max: 52, sampled: false })
})

t.test('examples: most serious kind first, the first comparisons of each kind that differ from each other', async t => {
  const s = await summarize(fixtureComparisons(50))
  // In the fixture each kind comes back on the same path: only a HEAD to it is another example.
  t.strictSame(
    s.examples.map(e => [e.kind, e.items.map(i => i.request.id)]),
    [
      ['body-bytes', ['r2', 'r12']],
      ['body-length', ['r4']],
      ['range-part', ['r5', 'r25']],
      ['status', ['r3']],
      ['header', ['r0', 'r1']],
      ['error', ['r6']],
      ['timeout', ['r7']],
    ],
  )
  t.strictSame([...SEVERITY].sort(), [...DIVERGENCE_KINDS].sort(), 'SEVERITY orders every kind')
  const header = s.examples.find(e => e.kind === 'header')!
  t.equal(header.items[1]!.others, 1, 'the other divergence of r1 is counted')
  const distinct = await summarize([
    comparison({ path: '/a', divergences: [etag('"x"')] }),
    comparison({ path: '/a', divergences: [etag('"y"')] }),
    comparison({ path: '/a', divergences: [{ kind: 'header', name: 'server', control: 'a', candidate: 'b' }] }),
    comparison({ path: '/b', divergences: [etag('"x"')] }),
    comparison({ path: '/c', divergences: [etag('"x"')] }),
  ])
  t.strictSame(
    distinct.examples[0]!.items.map(e => [e.request.path, e.divergence.kind === 'header' ? e.divergence.name : '']),
    [
      ['/a', 'etag'],
      ['/a', 'server'],
      ['/b', 'etag'],
    ],
    'a second etag difference on /a is not another example; another header on it is',
  )
  const few = await summarize(fixtureComparisons(50), { examples: 1 })
  t.ok(
    few.examples.every(e => e.items.length === 1),
    'examples: 1 keeps one',
  )
})

t.test('paths beyond maxPaths are estimated, heavy ones still found', async t => {
  const cs: Comparison[] = []
  // 30 divergences on /hot spread through 100 one-off paths.
  for (let i = 0; i < 100; i++) {
    cs.push(comparison({ path: `/cold/${i}`, divergences: [status] }))
    if (i % 3 === 0) cs.push(comparison({ path: '/hot', divergences: [status] }))
    if (i % 10 === 0) cs.push(comparison({ path: '/warm', divergences: [status] }))
  }
  const s = await summarize(cs, { maxPaths: 8, top: 2 })
  t.equal(s.pathsExact, false)
  t.equal(s.pathsTracked, 8)
  t.equal(s.paths[0]!.path, '/hot')
  t.ok(
    s.paths[0]!.divergences >= 34 && s.paths[0]!.divergences - s.paths[0]!.error <= 34,
    'count bounds the truth',
  )
  t.ok(s.paths.length <= 2)
  const exact = await summarize(cs, { top: 2 })
  t.equal(exact.pathsExact, true)
  t.strictSame(
    exact.paths.map(p => [p.path, p.divergences, p.error]),
    [
      ['/hot', 34, 0],
      ['/warm', 10, 0],
    ],
  )
})

t.test('timeline buckets widen past maxBuckets and keep every count', async t => {
  const cs = [0, 61, 130, 190, 250, 370, 601].map(s => comparison({ time: at(s), divergences: [status] }))
  const s = await summarize(cs, { maxBuckets: 3 })
  t.equal(s.timeline.bucketMs, 240_000, 'minute → 2 → 4 minutes')
  t.strictSame(
    s.timeline.buckets.map(b => [new Date(b.start).toISOString().slice(11, 16), b.counts.status]),
    [
      ['10:00', 4],
      ['10:04', 2],
      ['10:08', 1],
    ],
  )
})

t.test('latency percentiles are exact up to the reservoir size, then sampled', async t => {
  const cs = Array.from({ length: 100 }, (_, i) =>
    comparison({ durationsMs: { control: i + 1, candidate: 2 * (i + 1) } }),
  )
  const exact = await summarize(cs)
  t.match(exact.latency.control, {
    count: 100,
    min: 1,
    max: 100,
    mean: 50.5,
    p50: 50,
    p90: 90,
    p99: 99,
    sampled: false,
  })
  t.match(exact.latency.candidate, { p50: 100, p90: 180, p99: 198 })
  // Past the reservoir (algorithm R), the random source decides which durations stay: scripted
  // sources make the kept sample, hence the percentiles, exact.
  const reservoirCases: Array<[string, () => number, { p50: number; p90: number; p99: number }]> = [
    ['a source that never replaces keeps the first 10', () => 0.999, { p50: 5, p90: 9, p99: 10 }],
    ['a source that always picks slot 0 keeps the last in it', () => 0, { p50: 6, p90: 10, p99: 100 }],
  ]
  for (const [name, random, want] of reservoirCases) {
    const sampled = await summarize(cs, { latencySamples: 10, random })
    t.strictSame(sampled.latency.control, { count: 100, min: 1, max: 100, mean: 50.5, ...want, sampled: true }, name)
  }
  const none = await summarize([comparison({ durationsMs: {} })])
  t.strictSame(none.latency.candidate, { count: 0, sampled: false }, 'missing durations are not counted')
})

t.test('summarize reads an async stream', async t => {
  async function* gen(): AsyncGenerator<Comparison> {
    for (const c of fixtureComparisons(20)) yield c
  }
  t.equal((await summarize(gen())).divergent, 16)
})

t.test('Summarizer rejects bad options', async t => {
  t.throws(() => new Summarizer({ top: 0 }), TypeError)
  t.throws(() => new Summarizer({ maxPaths: 1.5 }), TypeError)
  t.throws(() => new Summarizer({ examples: -1 }), TypeError)
})

/** argv runs `cmd` in bash with `cutover` replaced by a printer of its arguments. */
async function argv(cmd: string): Promise<string[]> {
  const printer = `printarg() { for a in "$@"; do printf '%s\\0' "$a"; done; }; `
  const { stdout } = await promisify(execFile)(
    'bash',
    ['-c', printer + cmd.replace(/^cutover /, 'printarg ')],
    {
      env: { OLD: 'http://old', NEW: 'http://new', PATH: process.env.PATH },
    },
  )
  return stdout.split('\0').slice(0, -1)
}

t.test('compareCommand shell-quotes nasty paths and headers so bash gives them back exactly', async t => {
  const cases: Array<{ path: string; headers?: Record<string, string>; method?: string; want: string }> = [
    { path: '/sdk/v1.zip', want: `cutover compare '/sdk/v1.zip' --old "$OLD" --new "$NEW"` },
    { path: `/a b'$(x).txt`, want: `cutover compare '/a b'\\''$(x).txt' --old "$OLD" --new "$NEW"` },
    {
      path: '/`id`;rm -rf ~ &&$HOME\\*',
      want: `cutover compare '/\`id\`;rm -rf ~ &&$HOME\\*' --old "$OLD" --new "$NEW"`,
    },
    { path: '/x\u001b[31m\n.txt', want: `cutover compare $'/x\\x1b[31m\\x0a.txt' --old "$OLD" --new "$NEW"` },
    {
      path: '/r',
      headers: { range: 'bytes=0-99', 'if-none-match': `"it's"`, 'user-agent': 'curl', host: 'h' },
      want: `cutover compare '/r' --old "$OLD" --new "$NEW" -H 'Range: bytes=0-99' -H 'If-None-Match: "it'\\''s"'`,
    },
    { path: '/h', method: 'HEAD', want: `cutover compare '/h' --old "$OLD" --new "$NEW" --method HEAD` },
  ]
  for (const c of cases) {
    const request = { id: 'x', method: c.method ?? 'GET', path: c.path, headers: c.headers ?? {} }
    const cmd = compareCommand(request)!
    t.equal(cmd, c.want, JSON.stringify(c.path))
    const args = await argv(cmd)
    t.equal(args[1], c.path, `bash passes ${JSON.stringify(c.path)} through unchanged`)
    t.strictSame(args.slice(2, 6), ['--old', 'http://old', '--new', 'http://new'])
    const hs = args.flatMap((a, i) => (args[i - 1] === '-H' ? [a] : []))
    const want = Object.entries(c.headers ?? {})
      .filter(([k]) => k === 'range' || k === 'if-none-match')
      .map(([, v]) => v)
    t.strictSame(
      hs.map(h => h.slice(h.indexOf(': ') + 2)),
      want,
      'headers come back exactly',
    )
  }
})

t.test('compareCommand uses the given servers and leaves out what compare cannot send', async t => {
  const req = { id: 'x', method: 'GET', path: '/p', headers: { range: 'bytes=0-1\r\nX: y', accept: 'a/b' } }
  t.equal(
    compareCommand(req, { oldUrl: 'http://old:80', newUrl: 'http://new host/' }),
    `cutover compare '/p' --old http://old:80 --new 'http://new host/' -H 'Accept: a/b'`,
    'a value with CR LF is dropped; URLs are quoted when needed',
  )
  t.equal(compareCommand({ ...req, method: 'POST' }), undefined, 'compare sends GET and HEAD only')
  t.equal(
    compareCommand(req, { headers: [] }),
    `cutover compare '/p' --old "$OLD" --new "$NEW"`,
    'headers: [] repeats none',
  )
})

t.test('renderSummary shows totals, kinds, paths, headers, latency, examples and bad lines', async t => {
  const cs = [
    comparison({
      request: { id: 'a', method: 'GET', path: `/a b'$(x).txt`, headers: { range: 'bytes=0-9' } },
      time: at(0),
      divergences: [status, etag('"b"')],
      durationsMs: { control: 10, candidate: 30 },
    }),
    comparison({
      path: '/e\u001b[2J',
      time: at(30),
      divergences: [etag('"c"')],
      durationsMs: { control: 20, candidate: 40 },
    }),
    comparison({ time: at(60), ignored: [{ divergence: etag('"d"'), reason: 'etag: consistent' }] }),
  ]
  const s = await summarize(cs)
  const text = renderSummary(s, {
    chalk: plain,
    oldUrl: 'http://old',
    newUrl: 'http://new',
    files: ['d.jsonl'],
    badLines: { count: 3, first: ['d.jsonl:4: not JSON', 'd.jsonl:5: request is missing'] },
  })
  const want = [
    'cutover report of d.jsonl',
    '3 comparisons, 2 divergent (66.7%), 3 divergences; 1 ignored by rules, 0 noise',
    'from 2024-05-01T10:00:00.000Z to 2024-05-01T10:01:00.000Z',
    '3 input lines are not comparisons (listed at the end)',
    '',
    'divergences by kind',
    '  kind    divergences  requests',
    '  header            2         2',
    '  status            1         1',
    '',
    'top paths',
    `  2  /a b'$(x).txt  status 1, header 1; 1 request`,
    '  1  /e\\x1b[2J      header 1; 1 request',
    '',
    'top differing headers',
    '  2  etag  e.g. old "\\"a\\"", new "\\"b\\""',
    '           fix: the rule `etag: consistent` (one tag pair per path), or `etag: ignore`',
    '',
    'latency (ms)',
    '              p50     p90     p99     max   count',
    '  old          10      20      20      20       3',
    '  new          30      40      40      40       3',
    '',
    'examples',
    '  status',
    `    GET /a b'$(x).txt  2024-05-01T10:00:00.000Z  old 200, new 200`,
    '      status: old 200, new 404 (+1 more)',
    `      $ cutover compare '/a b'\\''$(x).txt' --old http://old --new http://new -H 'Range: bytes=0-9'`,
    '  header',
    `    GET /a b'$(x).txt  2024-05-01T10:00:00.000Z  old 200, new 200`,
    '      header etag: old "\\"a\\"", new "\\"b\\"" (+1 more)',
    `      $ cutover compare '/a b'\\''$(x).txt' --old http://old --new http://new -H 'Range: bytes=0-9'`,
    '    GET /e\\x1b[2J  2024-05-01T10:00:30.000Z  old 200, new 200',
    '      header etag: old "\\"a\\"", new "\\"c\\""',
    `      $ cutover compare $'/e\\x1b[2J' --old http://old --new http://new`,
    '',
    'ignored by rules (1)',
    '  1  etag: consistent: e.g. header etag: old "\\"a\\"", new "\\"d\\""',
    '',
    'input lines that are not comparisons (3)',
    '  d.jsonl:4: not JSON',
    '  d.jsonl:5: request is missing',
    '  ... and 1 more',
    '',
  ].join('\n')
  t.equal(text, want)
  t.notMatch(text, /\u001b/, 'no raw escape character from the data reaches the terminal')
})

t.test('renderSummary without servers points at $OLD and $NEW, and colours only when asked', async t => {
  const s = await summarize([comparison({ divergences: [status] })])
  const text = renderSummary(s, { chalk: plain })
  t.match(text, '(set OLD and NEW to the servers, or give report --old and --new)')
  t.match(text, `$ cutover compare '/big.bin' --old "$OLD" --new "$NEW"`)
  t.notMatch(text, /input lines/)
  t.match(renderSummary(s, { chalk: new Chalk({ level: 1 }) }), /\u001b\[31m/, 'divergent in red')
  const clean = renderSummary(await summarize([comparison({})]), { chalk: plain })
  t.match(clean, '1 comparison, 0 divergent (0.0%), 0 divergences')
  t.notMatch(clean, /examples|top paths|divergences by kind/)
})

t.test('renderSummary marks estimated paths and lists noise', async t => {
  const noise: Divergence[] = [{ kind: 'header', name: 'server', control: 'a', candidate: 'b' }]
  const cs = [
    ...['/p0', '/p1'].map(path => comparison({ path, divergences: [status], noise })),
    ...Array.from({ length: 10 }, () => comparison({ path: '/hot', divergences: [status], noise })),
    ...['/p2', '/p3', '/p4', '/p5'].map(path => comparison({ path, divergences: [status], noise })),
  ]
  const text = renderSummary(await summarize(cs, { maxPaths: 2 }), { chalk: plain })
  t.match(
    text,
    'top paths (estimated: more than 2 distinct paths)\n  11 (±1)  /hot  status 10; 10 requests\n\n',
  )
  t.match(
    text,
    'noise, also between old and baseline (16)\n  16  header:server: e.g. header server: old "a", new "b"',
  )
})

t.test('renderSummary says why a POST example has no command', async t => {
  const c = comparison({ divergences: [status] })
  const s = await summarize([{ ...c, request: { ...c.request, method: 'POST' } }])
  t.match(renderSummary(s, { chalk: plain }), '(no compare command: compare sends GET and HEAD only)')
})

t.test('estimated tables list only keys that stand out', async t => {
  // 2,000 one-off paths and one path with a fifth of the divergences.
  const cs: Comparison[] = []
  for (let i = 0; i < 2000; i++) {
    cs.push(comparison({ path: `/cold/${i}`, divergences: [status] }))
    if (i % 4 === 0) cs.push(comparison({ path: '/hot.iso', divergences: [status] }))
  }
  const s = await summarize(cs, { maxPaths: 50 })
  t.strictSame(
    s.paths.map(p => p.path),
    ['/hot.iso'],
    'the hot path, and no one-off path with a large error bound',
  )
  t.ok(s.paths[0]!.divergences >= 500 && s.paths[0]!.divergences - s.paths[0]!.error <= 500)
  const uniform = await summarize(
    cs.filter(c => c.request.path !== '/hot.iso'),
    { maxPaths: 50 },
  )
  t.strictSame(uniform.paths, [])
  t.match(
    renderSummary(uniform, { chalk: plain }),
    'top paths\n  none stands out among more than 50 distinct paths\n',
  )
})

t.test('records not compared are counted apart, by reason, with the paths most often not compared', async t => {
  const not = (reason: 'budget' | 'shed' | 'queue-full', path: string, ...more: Divergence[]): Comparison =>
    comparison({ path, divergences: [...more, { kind: 'not-compared', reason, message: 'why' }] })
  const s = await summarize([
    not('shed', '/iso'),
    not('shed', '/iso'),
    not('budget', '/iso'),
    not('queue-full', '/zip', etag('"b"')),
    comparison({ path: '/a', divergences: [status] }),
    comparison({ path: '/clean' }),
  ])
  t.match(s, { comparisons: 6, notCompared: 4, notComparedByReason: { shed: 2, budget: 1, 'queue-full': 1 } })
  t.equal(s.divergent, 2, 'the header found before the body was given up counts; not-compared alone does not')
  t.equal(s.divergences, 2)
  t.equal(s.kinds['not-compared'].divergences, 0, 'not a kind of divergence')
  t.strictSame(
    s.notComparedPaths.map(p => [p.path, p.count, p.reason]),
    [['/iso', 3, 'budget'], ['/zip', 1, 'queue-full']],
  )
  const text = renderSummary(s, { chalk: plain })
  t.match(text, /not compared: 4 requests \(shed 2, budget 1, queue-full 1\)\n\s+3 {2}\/iso {2}budget\n\s+1 {2}\/zip {2}queue-full/)
})

t.test('summarize and renderSummary group the comparisons by payload, only when one names a payload', async t => {
  const cases: Array<{ title: string; input: Comparison[]; top?: number; section: string[] }> = [
    { title: 'no payload: no section', input: [comparison({ divergences: [status] }), comparison()], section: [] },
    {
      title: 'payloads and the records of none',
      input: [
        comparison({ payload: 'sdk-tools', divergences: [status, etag('"b"')] }),
        comparison({ payload: 'sdk-tools', divergences: [etag('"c"')] }),
        comparison({ payload: 'notes', ignored: [{ divergence: etag('"d"'), reason: 'etag: consistent' }] }),
        comparison({ divergences: [status] }),
      ],
      section: [
        'by payload',
        '  payload       compared  divergent  top divergence kinds (requests)',
        '  sdk-tools            2          2  header 2, status 1',
        '  notes                1          0',
        '  (no payload)         1          1  status 1',
      ],
    },
    {
      title: '--top bounds the payloads listed',
      input: [comparison({ payload: 'a', divergences: [status] }), comparison({ payload: 'b' }), comparison({ payload: 'c' })],
      top: 1,
      section: ['by payload', '  payload  compared  divergent  top divergence kinds (requests)', '  a               1          1  status 1', '  ... 2 more payloads not listed'],
    },
  ]
  for (const c of cases) {
    const s = await summarize(c.input, c.top === undefined ? {} : { top: c.top })
    const text = renderSummary(s, { chalk: plain }).split('\n')
    const from = text.indexOf('by payload')
    const section = from < 0 ? [] : text.slice(from, text.indexOf('', from))
    t.strictSame(section, c.section, c.title)
    if (from >= 0) t.ok(text.indexOf('top differing headers') < 0 || text.indexOf('top differing headers') > from, `${c.title}: before the headers`)
  }
})
