import t from 'tap'

/** bench/lib/rounds.mjs (plain ESM, no types). */
interface Run {
  value: number
  valid: boolean
  warnings: string[]
  raw: { rss_max_bytes?: number; tag?: string }
  rounds?: number[]
}
interface RoundsModule {
  medianRun(runs: Run[]): Run | null
  pairedRatios(a: Array<Run | undefined>, b: Array<Run | undefined>): { per_round: Array<number | null>; median: number | null }
  roundOrder<T>(targets: T[], k: number): T[]
}

const rounds = (await import(new URL('../../../bench/lib/rounds.mjs', import.meta.url).href)) as RoundsModule

const run = (value: number, rss: number, tag: string, valid = true, warnings: string[] = []): Run => ({ value, valid, warnings, raw: { rss_max_bytes: rss, tag } })

t.test('medianRun: the median round stands for the row, with the peak RSS of every round (table)', async t => {
  const rows: Array<{ name: string; runs: Run[]; tag: string | null; rss?: number; valid?: boolean; warnings?: string[] }> = [
    { name: 'no run', runs: [], tag: null },
    { name: 'one run: itself', runs: [run(5, 100, 'a')], tag: 'a', rss: 100, valid: true, warnings: [] },
    { name: 'three runs: the middle value, the highest RSS', runs: [run(7, 120, 'a'), run(3, 200, 'b'), run(5, 150, 'c')], tag: 'c', rss: 200, valid: true, warnings: [] },
    { name: 'four runs: the lower of the two middle ones', runs: [run(4, 1, 'a'), run(9, 1, 'b'), run(1, 1, 'c'), run(6, 9, 'd')], tag: 'a', rss: 9, valid: true, warnings: [] },
    { name: 'one invalid round makes the row invalid, its warnings named by round', runs: [run(5, 1, 'a'), run(6, 1, 'b', false, ['errors']), run(7, 1, 'c')], tag: 'b', rss: 1, valid: false, warnings: ['round 2: errors'] },
    { name: 'equal values: the middle one in the order measured', runs: [run(2, 1, 'a'), run(2, 3, 'b'), run(2, 2, 'c')], tag: 'b', rss: 3, valid: true, warnings: [] },
  ]
  for (const r of rows) {
    const got = rounds.medianRun(r.runs)
    if (r.tag === null) {
      t.equal(got, null, `${r.name}: null`)
      continue
    }
    t.equal(got?.raw.tag, r.tag, `${r.name}: the run`)
    t.equal(got?.raw.rss_max_bytes, r.rss, `${r.name}: peak RSS`)
    t.equal(got?.valid, r.valid, `${r.name}: valid`)
    t.strictSame(got?.warnings, r.warnings, `${r.name}: warnings`)
    t.strictSame(got?.rounds, r.runs.map(x => x.value), `${r.name}: every round's value kept`)
  }
})

t.test('pairedRatios: the ratio within each round, and the median of them (table)', async t => {
  const v = (value: number): Run => run(value, 0, '')
  const rows: Array<{ name: string; a: Array<Run | undefined>; b: Array<Run | undefined>; per: Array<number | null>; median: number | null }> = [
    { name: 'one round', a: [v(3)], b: [v(6)], per: [0.5], median: 0.5 },
    // The median of the ratios, not the ratio of the medians (that would be 4/8 = 0.5).
    { name: 'three rounds', a: [v(4), v(6), v(2)], b: [v(8), v(6), v(10)], per: [0.5, 1, 0.2], median: 0.5 },
    { name: 'two rounds: the mean of the two', a: [v(1), v(3)], b: [v(2), v(4)], per: [0.5, 0.75], median: 0.625 },
    { name: 'a zero or missing denominator has no ratio', a: [v(1), v(2), v(3)], b: [v(0), undefined, v(6)], per: [null, null, 0.5], median: 0.5 },
    { name: 'no ratio at all', a: [v(1)], b: [v(0)], per: [null], median: null },
  ]
  for (const r of rows) {
    const got = rounds.pairedRatios(r.a, r.b)
    t.strictSame(got.per_round, r.per, `${r.name}: per round`)
    t.equal(got.median, r.median, `${r.name}: median`)
  }
})

t.test('roundOrder: the two parts of the target next to each other, the first of them alternating by round (table)', async t => {
  const rows: Array<{ name: string; targets: string[]; k: number; want: string[] }> = [
    { name: 'round 1: as given', targets: ['nginx-mirror', 'cutover-mirror', 'floor'], k: 0, want: ['nginx-mirror', 'cutover-mirror', 'floor'] },
    { name: 'round 2: the first two swapped, the references after them', targets: ['nginx-mirror', 'cutover-mirror', 'floor', 'client'], k: 1, want: ['cutover-mirror', 'nginx-mirror', 'floor', 'client'] },
    { name: 'round 3: as given again', targets: ['old', 'cutover-mirror'], k: 2, want: ['old', 'cutover-mirror'] },
    { name: 'round 6: swapped', targets: ['old', 'cutover-mirror'], k: 5, want: ['cutover-mirror', 'old'] },
    { name: 'one target: nothing to swap', targets: ['old'], k: 1, want: ['old'] },
    { name: 'no target', targets: [], k: 1, want: [] },
  ]
  for (const r of rows) {
    const before = [...r.targets]
    t.same(rounds.roundOrder(r.targets, r.k), r.want, r.name)
    t.same(r.targets, before, `${r.name}: the list given is not changed`)
  }
})
