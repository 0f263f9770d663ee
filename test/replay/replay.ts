import t from 'tap'
import { ManualClock } from '../helpers/manual-clock.js'
import type { Comparison } from '../../src/audit/divergence.js'
import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import type { Backend } from '../../src/audit/http-backend.js'
import { EtagPairs } from '../../src/audit/etag-pairs.js'
import { DEFAULT_RULES } from '../../src/audit/rules.js'
import { chooseProbes } from '../../src/replay/probes.js'
import type { ParsedLine } from '../../src/replay/record.js'
import { ReplayStats, runReplay } from '../../src/replay/replay.js'

const FILE = Buffer.from('0123456789abcdefghij') // 20 bytes

/**
 * serverDouble answers like a Go-parity server over FILE; `corruptSlices` flips the byte at that
 * offset in its range answers only (its full body stays right).
 */
function serverDouble(name: string, tag: string, corruptSlices?: number): Backend & { seen: ExchangeRequest[] } {
  const data = Buffer.from(FILE)
  if (corruptSlices !== undefined) data[corruptSlices] = data[corruptSlices]! ^ 1
  const seen: ExchangeRequest[] = []
  return {
    name,
    base: `http://${name}`,
    seen,
    close: async () => undefined,
    async send(req: ExchangeRequest): Promise<Observed> {
      seen.push(req)
      const body = (b: Buffer): AsyncIterable<Uint8Array> =>
        (async function* () {
          yield b
        })()
      if (req.path !== '/f') return { kind: 'response', status: 404, headers: [], body: body(Buffer.alloc(0)), durationMs: 1 }
      if (req.headers['if-none-match'] === tag) return { kind: 'response', status: 304, headers: [['etag', tag]], body: body(Buffer.alloc(0)), durationMs: 1 }
      const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
      const ifRange = req.headers['if-range']
      if (m && (ifRange === undefined || ifRange === tag)) {
        const start = m[1] === '' ? data.length - Number(m[2]) : Number(m[1])
        const end = m[1] === '' || m[2] === '' ? data.length - 1 : Math.min(Number(m[2]), data.length - 1)
        return {
          kind: 'response',
          status: 206,
          headers: [['etag', tag], ['content-range', `bytes ${start}-${end}/${data.length}`], ['content-length', String(end - start + 1)]],
          body: body(data.subarray(start, end + 1)),
          durationMs: 1,
        }
      }
      return { kind: 'response', status: 200, headers: [['etag', tag], ['content-length', String(FILE.length)]], body: body(FILE), durationMs: 1 }
    },
  }
}

const rec = (line: number, path: string, headers: Record<string, string> = {}, time?: number): ParsedLine => ({
  kind: 'record',
  record: { file: 'log', line, method: 'GET', path, headers, ...(time !== undefined ? { time: new Date(time) } : {}) },
})

async function* lines(list: ParsedLine[]): AsyncGenerator<ParsedLine> {
  yield* list
}

t.test('runReplay compares every record, reports bad lines, and translates validators', async t => {
  const old = serverDouble('old', '"o1"')
  const nw = serverDouble('new', '"n1"')
  const out: Comparison[] = []
  const bad: string[] = []
  const stats = await runReplay(
    lines([
      rec(1, '/f'),
      { kind: 'bad', bad: { file: 'log', line: 2, reason: 'status: not a number', text: 'x' } },
      rec(3, '/f', { 'if-none-match': '"o1"' }),
      rec(4, '/missing'),
    ]),
    { old, new: nw, rules: { ...DEFAULT_RULES, etag: 'consistent' }, etags: new EtagPairs(), onComparison: c => out.push(c), onBad: b => bad.push(`${b.file}:${b.line}`), concurrency: 1 },
  )
  t.equal(stats.records, 3)
  t.equal(stats.bad, 1)
  t.same(bad, ['log:2'])
  t.equal(stats.compared, 3)
  t.equal(stats.divergent, 0, `no divergence: ${JSON.stringify(out.flatMap(c => c.divergences))}`)
  t.equal(nw.seen[1]!.headers['if-none-match'], '"n1"', "new got its own ETag in If-None-Match")
})

t.test('runReplay probes each successful path and catches a slice both servers get wrong alike', async t => {
  // Both servers answer ranges with byte 15 flipped, alike, so old-vs-new comparisons of slices see
  // nothing; only the check of new's slices against old's (right) full body can find it.
  const old = serverDouble('old', '"t"', 15)
  const nw = serverDouble('new', '"t"', 15)
  const out: Comparison[] = []
  const stats = await runReplay(lines([rec(1, '/f', { range: 'bytes=0-3' }), rec(2, '/f')]), {
    old,
    new: nw,
    rules: DEFAULT_RULES,
    etags: new EtagPairs(),
    probes: 9,
    random: () => 0.5,
    concurrency: 1,
    onComparison: c => out.push(c),
    onBad: () => undefined,
  })
  t.equal(stats.probes, 9, 'nine probes for the one path')
  t.equal(nw.seen.length, 2 + 9, 'new is asked once per record and once per probe (its one answer is also verified)')
  t.equal(stats.compared, 2 + 9, 'one comparison each')
  const single = chooseProbes({ path: '/f', size: FILE.length, etag: '"t"' }, 9, () => 0.5).filter(p => p.verify)
  t.equal(stats.probesVerified, single.length, "every single-range probe is verified against old's full body")
  // The logged range bytes=0-3 misses byte 15: every slice over byte 15 diverges, nothing else does.
  const hit = single.filter(p => p.verify!.start <= 15 && 15 <= p.verify!.end)
  t.ok(hit.length > 0, 'some probes cover byte 15')
  const divergent = out.filter(c => c.divergences.length > 0)
  t.equal(divergent.length, hit.length, 'each probe whose slice covers byte 15 diverges, once')
  t.ok(
    divergent.every(c => c.divergences.every(d => d.kind === 'body-bytes')),
    'as a body-bytes divergence',
  )
})

t.test('runReplay keeps the log pacing, scaled, with an injected clock', async t => {
  const clock = new ManualClock()
  const waits: number[] = []
  const old = serverDouble('old', '"t"')
  const nw = serverDouble('new', '"t"')
  await runReplay(lines([rec(1, '/f', {}, 1000), rec(2, '/f', {}, 3000), rec(3, '/f', {}, 7000)]), {
    old,
    new: nw,
    rules: DEFAULT_RULES,
    etags: new EtagPairs(),
    speed: 2,
    clock,
    sleep: async ms => {
      waits.push(ms)
      clock.advance(ms)
    },
    concurrency: 1,
    onComparison: () => undefined,
    onBad: () => undefined,
  })
  t.same(waits, [1000, 2000], 'gaps of 2 s and 4 s at speed 2')
})

t.test('runReplay applies filters and the limit', async t => {
  const old = serverDouble('old', '"t"')
  const nw = serverDouble('new', '"t"')
  const stats = await runReplay(lines([rec(1, '/f'), rec(2, '/skip'), rec(3, '/f'), rec(4, '/f')]), {
    old,
    new: nw,
    rules: DEFAULT_RULES,
    etags: new EtagPairs(),
    filter: { path: /^\/f$/ },
    limit: 2,
    onComparison: () => undefined,
    onBad: () => undefined,
  })
  t.equal(stats.filtered, 1)
  t.equal(stats.sent, 2)
})

t.test("runReplay skips a mirror's shadow records unless told to replay them", async t => {
  const shadow = (line: number): ParsedLine => ({ kind: 'record', record: { file: 'log', line, method: 'GET', path: '/f', headers: {}, shadow: true } })
  const cases: Array<[string, boolean, { shadows: number; sent: number }]> = [
    ['by default', false, { shadows: 2, sent: 1 }],
    ['with includeShadows', true, { shadows: 0, sent: 3 }],
  ]
  for (const [name, includeShadows, want] of cases) {
    const old = serverDouble('old', '"t"')
    const nw = serverDouble('new', '"t"')
    const stats = await runReplay(lines([shadow(1), rec(2, '/f'), shadow(3)]), {
      old,
      new: nw,
      rules: DEFAULT_RULES,
      etags: new EtagPairs(),
      includeShadows,
      onComparison: () => undefined,
      onBad: () => undefined,
    })
    t.strictSame({ shadows: stats.shadows, sent: stats.sent, records: stats.records }, { ...want, records: 3 }, name)
    t.equal(old.seen.length, want.sent, `${name}: what old was sent`)
  }
})

t.test('runReplay names the payload of each record on its comparisons (probes included), and filters by payload', async t => {
  const of = (line: number, path: string, payload?: string): ParsedLine => ({
    kind: 'record',
    record: { file: 'log', line, method: 'GET', path, headers: {}, ...(payload === undefined ? {} : { payload }) },
  })
  const log = [of(1, '/f', 'tools'), of(2, '/missing'), of(3, '/missing', 'notes'), of(4, '/f', 'tools')]
  const cases: Array<{ title: string; payloads?: string[]; probes?: number; want: Array<[id: string, payload: string | undefined]>; filtered: number }> = [
    {
      title: 'every record, each comparison with its payload or none',
      want: [['log:1', 'tools'], ['log:2', undefined], ['log:3', 'notes'], ['log:4', 'tools']],
      filtered: 0,
    },
    { title: 'one payload kept', payloads: ['notes'], want: [['log:3', 'notes']], filtered: 3 },
    { title: 'two payloads kept', payloads: ['notes', 'tools'], want: [['log:1', 'tools'], ['log:3', 'notes'], ['log:4', 'tools']], filtered: 1 },
    { title: 'a payload no record names keeps nothing', payloads: ['docs'], want: [], filtered: 4 },
    {
      title: "probes carry their record's payload",
      payloads: ['tools'],
      probes: 2,
      want: [['log:1', 'tools'], ['log:1:probe:first-byte', 'tools'], ['log:1:probe:last-byte', 'tools'], ['log:4', 'tools']],
      filtered: 2,
    },
  ]
  for (const c of cases) {
    const out: Comparison[] = []
    const stats = await runReplay(lines(log), {
      old: serverDouble('old', '"t"'),
      new: serverDouble('new', '"t"'),
      rules: DEFAULT_RULES,
      etags: new EtagPairs(),
      concurrency: 1,
      probes: c.probes ?? 0,
      random: () => 0,
      ...(c.payloads ? { filter: { payloads: new Set(c.payloads) } } : {}),
      onComparison: x => out.push(x),
      onBad: () => undefined,
    })
    const got = out.map(x => [x.request.id, x.payload] as [string, string | undefined]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    t.strictSame(got, c.want, `${c.title}: the comparisons and their payloads`)
    t.equal(stats.filtered, c.filtered, `${c.title}: filtered`)
    t.ok(out.every(x => (x.payload === undefined) === !('payload' in x)), `${c.title}: a comparison without a payload has no payload field`)
  }
})

t.test('chooseProbes picks the edge cases in order and none for an empty file', async t => {
  const names = chooseProbes({ path: '/x', size: 5 * 1024 * 1024, etag: '"e"' }, 20, () => 0.25).map(p => `${p.name} ${p.headers.range}`)
  t.same(names, [
    'first-byte bytes=0-0',
    'last-byte bytes=-1',
    'suffix bytes=-100',
    'open-ended bytes=2621440-',
    'chunk-straddle bytes=2097150-2097153',
    'random-slice bytes=1310720-1327104',
    'multipart bytes=0-0,5242879-5242879',
    'if-range-etag bytes=0-9',
    'if-range-stale bytes=0-9',
  ])
  t.same(chooseProbes({ path: '/e', size: 0 }, 9, Math.random), [])
  t.equal(chooseProbes({ path: '/x', size: 10 }, 3, Math.random).length, 3)
})

/** withBaseline replays `records` against old, new and a baseline with default rules, keeping every comparison. */
async function withBaseline(records: Parameters<typeof lines>[0], old: Backend, nw: Backend, baseline: Backend) {
  const out: Comparison[] = []
  const stats = await runReplay(lines(records), {
    old,
    new: nw,
    baseline,
    rules: DEFAULT_RULES,
    etags: new EtagPairs(),
    onComparison: c => out.push(c),
    onBad: () => undefined,
  })
  return { stats, out }
}

t.test('runReplay with a baseline: what old-vs-baseline also shows is noise, and old is asked once', async t => {
  const old = serverDouble('old', '"o"')
  const nw = serverDouble('new', '"n"')
  const baseline = serverDouble('baseline', '"b"')
  const { stats, out } = await withBaseline([rec(1, '/f'), rec(2, '/f', { range: 'bytes=0-3' })], old, nw, baseline)
  t.equal(old.seen.length, 2, 'one request to old per record: its body feeds both comparisons')
  t.equal(stats.divergent, 0)
  t.equal(stats.noise, 2, 'the ETag difference is noise: the baseline differs the same way')
  t.match(out[0]!.noise, [{ kind: 'header', name: 'etag' }])
})

t.test('runReplay counts comparisons, not divergences, as the mirror does', async t => {
  // On every 200, new differs from old in four headers (etag, content-length, x-extra, x-other)
  // and the body length; the baseline differs in two of them (etag, x-extra), which are noise.
  const withExtra = (b: Backend, extra: Array<[string, string]>, longer: boolean): Backend => ({
    ...b,
    send: async (r: ExchangeRequest): Promise<Observed> => {
      const a = await b.send(r)
      if (a.kind !== 'response' || a.status !== 200) return a
      const headers = [...a.headers.map(([k, v]) => [k, k === 'content-length' && longer ? '21' : v] as const), ...extra]
      const body = longer ? Buffer.concat([FILE, Buffer.from('!')]) : FILE
      return { ...a, headers, body: (async function* () { yield body })() }
    },
  })
  const old = serverDouble('old', '"o"')
  const nw = withExtra(serverDouble('new', '"n"'), [['x-extra', '2'], ['x-other', '1']], true)
  const baseline = withExtra(serverDouble('baseline', '"b"'), [['x-extra', '1']], false)
  const { stats, out } = await withBaseline([rec(1, '/f'), rec(2, '/f')], old, nw, baseline)
  t.strictSame(out.map(c => [c.divergences.length, c.noise.length]), [[3, 2], [3, 2]], 'each comparison: three divergences, two of noise')
  t.match(stats, { compared: 2, divergent: 2, noise: 2 }, 'noise: comparisons with noise')
  t.strictSame(stats.divergentByKind, { header: 2, 'body-length': 2 }, 'per kind: comparisons with a divergence of the kind')
})

t.test('runReplay counts what a progress display needs: every request sent ends settled, probes included, and not before its probes are planned', async t => {
  const cases: Array<{ title: string; lines: ParsedLine[]; probes: number; concurrency: number; sent: number; probesWanted: number }> = [
    { title: 'no probes', lines: [rec(1, '/f'), rec(2, '/g'), rec(3, '/f')], probes: 0, concurrency: 2, sent: 3, probesWanted: 0 },
    { title: 'probes of one path, one slot', lines: [rec(1, '/f'), rec(2, '/f')], probes: 4, concurrency: 1, sent: 2, probesWanted: 4 },
    { title: 'probes of one path, many slots', lines: [rec(1, '/f'), rec(2, '/missing'), rec(3, '/f')], probes: 9, concurrency: 8, sent: 3, probesWanted: 9 },
  ]
  for (const c of cases) {
    const stats = new ReplayStats()
    let early = 0
    const result = await runReplay(lines(c.lines), {
      old: serverDouble('old', '"t"'),
      new: serverDouble('new', '"t"'),
      rules: DEFAULT_RULES,
      etags: new EtagPairs(),
      probes: c.probes,
      random: () => 0.5,
      concurrency: c.concurrency,
      stats,
      // A comparison is made before its exchange counts as settled: what has ended stays below the total until the end.
      onComparison: () => {
        if (stats.settled + stats.probesSettled >= stats.sent + stats.probesPlanned) early++
      },
      onBad: () => undefined,
    })
    t.equal(result, stats, `${c.title}: the stats given are the ones updated and returned`)
    t.strictSame(
      { sent: stats.sent, settled: stats.settled, probes: stats.probes, planned: stats.probesPlanned, probesSettled: stats.probesSettled, compared: stats.compared, early },
      { sent: c.sent, settled: c.sent, probes: c.probesWanted, planned: c.probesWanted, probesSettled: c.probesWanted, compared: c.sent + c.probesWanted, early: 0 },
      c.title,
    )
  }
})
