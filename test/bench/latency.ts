import t from 'tap'

/** The part of bench/lib/latency.mjs (plain ESM, no types) these tests use. */
interface Summary {
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}
interface ClassFigures {
  scheduled: number
  completed: number
  failed: number
  bytes: number | null
  latency_us: Summary | null
}
interface Run {
  scheduled: number
  completed: number
  failed: number
  bytes: number
  achieved_rate: number
  mb_per_s: number
  latency_us: Summary | null
  send_lag_us: { p50: number; p99: number; max: number }
  rss_max_bytes: number
  server_cpu_cores: number
  foreign_cpu_cores: number
  warnings: string[]
  valid: boolean
  errors: Record<string, number>
  error_samples: string[]
  max_inflight: number
  classes?: Record<string, ClassFigures>
  raw_ms?: Record<string, number[]>
}
interface Pooled extends Run {
  rounds: number
  per_round: Array<{ latency_us: Summary | null; mb_per_s: number; classes?: Record<string, { completed: number; latency_us: Summary | null }> }>
}
interface Latency {
  percentile(sorted: ArrayLike<number>, p: number): number | null
  latencyOf(sorted: ArrayLike<number>): Summary | null
  poolRounds(rounds: Run[]): Pooled
  pooledDiffInterval(
    a: Run[],
    b: Run[],
    cls: string,
    o?: { p?: number; resamples?: number; level?: number; seed?: number; minRounds?: number },
  ): { diff_us: number; lo_us: number; hi_us: number; rounds: number; resamples: number; level: number } | null
}

// dist/test/bench/latency.js -> the repository root is three levels up.
const lat = (await import(new URL('../../../bench/lib/latency.mjs', import.meta.url).href)) as Latency

/** run makes one fixed-rate run's result from its latencies (ms) per class, as fixed-rate.mjs --raw prints it. */
function run(byClass: Record<string, number[]>, extra: Partial<Run> = {}): Run {
  const all = Object.values(byClass).flat().sort((a, b) => a - b)
  const classes: Record<string, ClassFigures> = {}
  const raw: Record<string, number[]> = { all }
  for (const [c, xs] of Object.entries(byClass)) {
    const sorted = [...xs].sort((a, b) => a - b)
    classes[c] = { scheduled: xs.length, completed: xs.length, failed: 0, bytes: 100 * xs.length, latency_us: lat.latencyOf(sorted) }
    raw[c] = sorted
  }
  return {
    scheduled: all.length,
    completed: all.length,
    failed: 0,
    bytes: 100 * all.length,
    achieved_rate: 200,
    mb_per_s: 10,
    latency_us: lat.latencyOf(all),
    send_lag_us: { p50: 10, p99: 100, max: 200 },
    rss_max_bytes: 1000,
    server_cpu_cores: 0.5,
    foreign_cpu_cores: 0,
    warnings: [],
    valid: true,
    errors: { status: 0, bytes: 0, socket: 0 },
    error_samples: [],
    max_inflight: 4,
    classes,
    raw_ms: raw,
    ...extra,
  }
}

/** ramp is n latencies 1..n ms plus `offset`. */
const ramp = (n: number, offset = 0): number[] => Array.from({ length: n }, (_, i) => i + 1 + offset)

t.test('percentile is the nearest rank, as fixed-rate.mjs has always computed it', async t => {
  const rows: ReadonlyArray<[number[], number, number | null]> = [
    [[], 50, null],
    [[5], 99, 5],
    [ramp(100), 50, 50],
    [ramp(100), 99, 99],
    [ramp(100), 100, 100],
    [ramp(900), 99, 891],
    [ramp(3600), 99, 3564],
  ]
  for (const [xs, p, want] of rows) t.equal(lat.percentile(xs, p), want, `p${p} of ${xs.length}`)
})

t.test('poolRounds: percentiles over every round\'s requests, counts summed, the worst of the rest', async t => {
  const rows: ReadonlyArray<{ name: string; rounds: Run[]; small: { p50: number; p99: number; max: number }; scheduled: number; valid: boolean; rss: number; warnings: number; errors?: Record<string, number>; samples?: number; inflight?: number }> = [
    {
      name: 'one round: its own figures',
      rounds: [run({ small: ramp(900), '64m': [300] })],
      small: { p50: 450_000, p99: 891_000, max: 900_000 },
      scheduled: 901,
      valid: true,
      rss: 1000,
      warnings: 0,
    },
    {
      // A slow round's tail weighs as its share of the requests, not as a whole verdict: the
      // pooled p99 (36th slowest of 3,600) is the slow round's 36th slowest, not its 9th.
      name: 'one slow round of four',
      rounds: [run({ small: ramp(900) }), run({ small: ramp(900) }), run({ small: ramp(900) }), run({ small: ramp(900, 1000) })],
      small: { p50: 600_000, p99: 1864_000, max: 1900_000 },
      scheduled: 3600,
      valid: true,
      rss: 1000,
      warnings: 0,
    },
    {
      name: 'a failed round makes the pool invalid; peak RSS and warnings from every round',
      rounds: [
        run({ small: ramp(10) }, { errors: { status: 1, bytes: 0, socket: 0 }, error_samples: ['status: 502'] }),
        run({ small: ramp(10) }, { valid: false, rss_max_bytes: 5000, warnings: ['1 of 10 requests failed'], errors: { status: 0, bytes: 0, socket: 2 }, error_samples: ['socket: a', 'socket: b'], max_inflight: 9 }),
      ],
      small: { p50: 5_000, p99: 10_000, max: 10_000 },
      scheduled: 20,
      valid: false,
      rss: 5000,
      warnings: 1,
      errors: { status: 1, bytes: 0, socket: 2 },
      samples: 3,
      inflight: 9,
    },
  ]
  for (const r of rows) {
    const p = lat.poolRounds(r.rounds)
    const s = p.classes!.small!.latency_us!
    t.same({ p50: s.p50, p99: s.p99, max: s.max }, r.small, `${r.name}: small-file percentiles`)
    t.equal(p.scheduled, r.scheduled, `${r.name}: scheduled summed`)
    t.equal(p.classes!.small!.scheduled, r.rounds.reduce((a, x) => a + x.classes!.small!.scheduled, 0), `${r.name}: per class too`)
    t.equal(p.valid, r.valid, `${r.name}: valid`)
    t.equal(p.rss_max_bytes, r.rss, `${r.name}: peak RSS`)
    t.equal(p.warnings.length, r.warnings, `${r.name}: warnings`)
    t.equal(p.rounds, r.rounds.length, `${r.name}: rounds`)
    t.equal(p.per_round.length, r.rounds.length, `${r.name}: one entry per round`)
    t.equal(p.per_round[0]!.classes!.small!.latency_us!.p99, r.rounds[0]!.classes!.small!.latency_us!.p99, `${r.name}: each round's own p99 kept`)
    t.notOk('raw_ms' in p, `${r.name}: the raw latencies are not kept`)
    t.same(p.errors, r.errors ?? { status: 0, bytes: 0, socket: 0 }, `${r.name}: failures by kind, every round's`)
    t.equal(p.error_samples.length, r.samples ?? 0, `${r.name}: failure samples from every round`)
    t.equal(p.max_inflight, r.inflight ?? 4, `${r.name}: the most requests in flight`)
  }
})

t.test('poolRounds refuses nothing to pool, and a run without raw latencies', async t => {
  t.throws(() => lat.poolRounds([]), /no run/)
  const { raw_ms: _, ...bare } = run({ small: ramp(5) })
  t.throws(() => lat.poolRounds([bare]), /--raw/)
})

t.test('pooledDiffInterval: the pooled difference and its interval over resampled rounds (table)', async t => {
  // Each round: 100 small latencies 1..100 ms plus a shift, so a round's p99 is 99 ms plus its shift.
  const rounds = (shifts: number[]): Run[] => shifts.map(d => run({ small: ramp(100, d) }))
  const rows: Array<{ name: string; a: Run[]; b: Run[]; want: { diff: number; lo: number; hi: number; rounds: number } | null }> = [
    // Every round 5 ms slower: every resample gives +5 ms, so the interval is that point.
    { name: 'a constant shift', a: rounds([5, 5, 5, 5, 5]), b: rounds([0, 0, 0, 0, 0]), want: { diff: 5000, lo: 5000, hi: 5000, rounds: 5 } },
    // One round of a far slower: the pooled p99 falls in it (the 6th largest of 500: 145 against
    // 99); a third of the resamples leave it out (+0), and more than 2.5% draw it three times or more (+50).
    { name: 'one slow round widens the interval', a: rounds([0, 0, 0, 0, 50]), b: rounds([0, 0, 0, 0, 0]), want: { diff: 46000, lo: 0, hi: 50000, rounds: 5 } },
    // Rounds past the shorter list are left out: a's sixth round (+100) does not count.
    { name: 'paired by round, the extra ones left out', a: rounds([2, 2, 2, 2, 2, 100]), b: rounds([0, 0, 0, 0, 0]), want: { diff: 2000, lo: 2000, hi: 2000, rounds: 5 } },
    { name: 'four rounds: too few for an interval', a: rounds([1, 1, 1, 1]), b: rounds([0, 0, 0, 0]), want: null },
    { name: 'one round pairs up: no interval', a: rounds([1]), b: rounds([0, 0, 0, 0, 0]), want: null },
    { name: 'no latency of the class', a: Array.from({ length: 5 }, () => run({ big: ramp(10) })), b: rounds([0, 0, 0, 0, 0]), want: null },
  ]
  for (const r of rows) {
    const got = lat.pooledDiffInterval(r.a, r.b, 'small', { resamples: 400 })
    if (r.want === null) {
      t.equal(got, null, r.name)
      continue
    }
    t.ok(got, r.name)
    if (!got) continue
    t.strictSame([got.diff_us, got.lo_us, got.hi_us, got.rounds, got.level], [r.want.diff, r.want.lo, r.want.hi, r.want.rounds, 0.95], r.name)
    t.ok(got.lo_us <= got.diff_us && got.diff_us <= got.hi_us, `${r.name}: the difference lies in its interval`)
  }
  // The same seed gives the same interval; the resamples are the count asked for.
  const a = rounds([0, 3, 9, 1, 4])
  const b = rounds([1, 0, 2, 0, 1])
  t.strictSame(lat.pooledDiffInterval(a, b, 'small', { seed: 7 }), lat.pooledDiffInterval(a, b, 'small', { seed: 7 }), 'deterministic for a seed')
  t.equal(lat.pooledDiffInterval(a, b, 'small', { resamples: 123 })?.resamples, 123, 'as many resamples as asked')
})
