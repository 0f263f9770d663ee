import t from 'tap'

/** The part of bench/lib/mix.mjs (plain ESM, no types) these tests use. */
interface Planned {
  cls: string
  path: string
  range?: string
  ranges?: Array<[number, number]>
  status: number
  bytes: number | null
}
interface Mix {
  mixedPlan(seed: number, n: number): Planned[]
  deckCounts(n: number): Record<string, number>
  checkMultipart(
    contentType: string | undefined,
    body: Buffer,
    ranges: Array<[number, number]>,
  ): string | null
  MIX_DECK: number
  clearOf(plan: Array<{ cls: string }>, due: ArrayLike<number>, end: ArrayLike<number>, done: ArrayLike<number>, cls?: string, big?: string): number[]
}

// dist/test/bench/mix.js -> the repository root is three levels up.
const mix = (await import(new URL('../../../bench/lib/mix.mjs', import.meta.url).href)) as Mix

const MiB = 1024 * 1024

t.test('mixedPlan: same seed, same plan; another seed, another order', async t => {
  t.same(mix.mixedPlan(7, 2500), mix.mixedPlan(7, 2500))
  t.not(JSON.stringify(mix.mixedPlan(7, 1000)), JSON.stringify(mix.mixedPlan(8, 1000)))
})

t.test('mixedPlan: each full deck has exactly the mix', async t => {
  const plan = mix.mixedPlan(20240601, 3 * mix.MIX_DECK)
  for (let d = 0; d < 3; d++) {
    const counts: Record<string, number> = {}
    for (const r of plan.slice(d * mix.MIX_DECK, (d + 1) * mix.MIX_DECK)) {
      counts[r.cls] = (counts[r.cls] ?? 0) + 1
    }
    t.same(counts, { small: 900, '1m': 89, range: 10, '64m': 1 }, `deck ${d}`)
  }
})

t.test('deckCounts: short decks keep every kind, the small file takes the rest', async t => {
  const cases: Array<[number, Record<string, number>]> = [
    [1000, { '1m': 89, range1: 8, range2: 2, '64m': 1, small: 900 }],
    [600, { '1m': 53, range1: 4, range2: 1, '64m': 1, small: 541 }],
    [10, { '1m': 1, range1: 1, range2: 1, '64m': 1, small: 6 }],
    [2, { '1m': 1, range1: 1, range2: 0, '64m': 0, small: 0 }],
  ]
  for (const [n, want] of cases) t.same(mix.deckCounts(n), want, `n = ${n}`)
})

t.test('mixedPlan: ranges lie in 1m.bin, two-range requests ascend with a gap', async t => {
  for (const r of mix.mixedPlan(3, 20 * mix.MIX_DECK).filter(x => x.ranges)) {
    const rs = r.ranges!
    t.equal(r.status, 206)
    t.equal(r.range, `bytes=${rs.map(([a, b]) => `${a}-${b}`).join(',')}`)
    for (const [a, b] of rs) t.ok(a >= 0 && a <= b && b < MiB, `${a}-${b} within 1m.bin`)
    if (rs.length === 1) t.equal(r.bytes, rs[0]![1] - rs[0]![0] + 1)
    else {
      const gap = rs[1]![0] - rs[0]![1] - 1
      t.ok(gap >= 1024 && r.bytes === null, 'second range at least 1 KiB after the first')
    }
  }
})

t.test('checkMultipart', async t => {
  const part = ([range, data]: [string, string]): string =>
    `--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${range}/10\r\n\r\n${data}\r\n`
  const body = (parts: Array<[string, string]>, close = '--XYZ--\r\n'): Buffer =>
    Buffer.from(parts.map(part).join('') + close)
  const ok = body([['0-2', 'abc'], ['5-6', 'fg']])
  const ct = 'multipart/byteranges; boundary=XYZ'
  const cases: Array<[string, string | undefined, Buffer, Array<[number, number]>, RegExp | null]> = [
    ['fits', ct, ok, [[0, 2], [5, 6]], null],
    ['quoted boundary', 'multipart/byteranges; boundary="XYZ"', ok, [[0, 2], [5, 6]], null],
    ['other range asked', ct, ok, [[0, 2], [5, 7]], /part 2: Content-Range/],
    [
      'payload too long',
      ct,
      body([['0-2', 'abc'], ['5-6', 'fgh']]),
      [[0, 2], [5, 6]],
      /part 2: 3 bytes, expected 2/,
    ],
    ['part missing', ct, body([['0-2', 'abc']]), [[0, 2], [5, 6]], /part 2: delimiter missing/],
    [
      'no closing delimiter',
      ct,
      body([['0-2', 'abc'], ['5-6', 'fg']], '--XYZ\r\n'),
      [[0, 2], [5, 6]],
      /closing delimiter/,
    ],
    ['not multipart', 'application/octet-stream', ok, [[0, 2], [5, 6]], /no boundary/],
    ['no Content-Type', undefined, ok, [[0, 2], [5, 6]], /no boundary/],
  ]
  for (const [name, type, b, ranges, want] of cases) {
    const got = mix.checkMultipart(type, b, ranges)
    if (want === null) t.equal(got, null, name)
    else t.match(got, want, name)
  }
})

t.test('clearOf: the small requests that overlap no 64 MiB download, unfinished ones left out', async t => {
  // Request 0 is a 64 MiB download from 100 to 200 ms; the others are small.
  const rows: Array<[string, number, number, number, boolean]> = [
    ['before it', 0, 50, 1, true],
    ['ends as it starts', 50, 100, 1, true],
    ['ends inside it', 50, 150, 1, false],
    ['inside it', 120, 130, 1, false],
    ['spans it', 50, 250, 1, false],
    ['starts inside it', 150, 260, 1, false],
    ['starts as it ends', 200, 260, 1, true],
    ['after it, failed', 300, 310, 2, true],
    ['unfinished', 300, 0, 0, false],
  ]
  const plan = [{ cls: '64m' }, ...rows.map(() => ({ cls: 'small' }))]
  const due = [100, ...rows.map(r => r[1])]
  const end = [200, ...rows.map(r => r[2])]
  const done = [1, ...rows.map(r => r[3])]
  const clear = new Set(mix.clearOf(plan, due, end, done))
  rows.forEach((r, k) => t.equal(clear.has(k + 1), r[4], r[0]))
  t.same(mix.clearOf([{ cls: 'small' }], [0], [10], [1]), [0], 'no large download: every small request is clear')
})
