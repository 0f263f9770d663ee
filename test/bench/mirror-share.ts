import t from 'tap'

/** bench/lib/share.mjs (plain ESM, no types). */
interface Counts {
  requests: number
  compared: number
  skipped: number
  pending: number
}
interface Steady {
  compared: number
  eligible: number
  share: number | null
  from_s: number
  to_s: number
  pending: [number, number]
  per_round?: Array<number | null>
}
interface ShareModule {
  steadyShare(a: Counts, b: Counts, fromS: number, toS: number): Steady
  poolSteady(windows: Array<Steady | null>): Steady | null
}

const suite = (await import(new URL('../../../bench/lib/share.mjs', import.meta.url).href)) as ShareModule

t.test('steadyShare: what was compared over what came in between two readings (table)', async t => {
  const at = (requests: number, compared: number, skipped = 0, pending = 0): Counts => ({ requests, compared, skipped, pending })
  const rows: Array<{ name: string; a: Counts; b: Counts; compared: number; eligible: number; share: number | null }> = [
    { name: 'a third compared', a: at(1000, 400, 0, 30), b: at(1900, 700, 0, 30), compared: 300, eligible: 900, share: 1 / 3 },
    { name: 'skipped requests are not eligible', a: at(100, 10, 50), b: at(300, 60, 150), compared: 50, eligible: 100, share: 0.5 },
    { name: 'earlier comparisons completing count in the window', a: at(500, 100, 0, 270), b: at(600, 180, 0, 200), compared: 80, eligible: 100, share: 0.8 },
    { name: 'nothing came in', a: at(10, 5), b: at(10, 5), compared: 0, eligible: 0, share: null },
    { name: 'too few came in to say (three long downloads finishing, one new)', a: at(100, 60, 0, 40), b: at(101, 63, 0, 38), compared: 3, eligible: 1, share: null },
    { name: 'twenty came in: enough', a: at(100, 60, 0, 40), b: at(120, 70, 0, 40), compared: 10, eligible: 20, share: 0.5 },
  ]
  for (const r of rows) {
    const got = suite.steadyShare(r.a, r.b, 3.5, 5.8)
    t.equal(got.compared, r.compared, `${r.name}: compared`)
    t.equal(got.eligible, r.eligible, `${r.name}: eligible`)
    if (r.share === null) t.equal(got.share, null, `${r.name}: no share`)
    else t.ok(Math.abs(got.share! - r.share) < 1e-9, `${r.name}: share ${got.share}`)
    t.strictSame([got.from_s, got.to_s, got.pending], [3.5, 5.8, [r.a.pending, r.b.pending]], `${r.name}: window and pending`)
  }
})

t.test('poolSteady: compared over eligible over every round read (table)', async t => {
  const w = (compared: number, eligible: number): Steady => ({ compared, eligible, share: eligible >= 20 ? compared / eligible : null, from_s: 3.5, to_s: 5.8, pending: [1, 2] })
  const rows: Array<{ name: string; windows: Array<Steady | null>; compared?: number; eligible?: number; share?: number | null; per?: Array<number | null> }> = [
    { name: 'nothing read', windows: [null, null] },
    { name: 'none', windows: [] },
    { name: 'three rounds', windows: [w(30, 90), w(40, 100), w(35, 110)], compared: 105, eligible: 300, share: 0.35, per: [1 / 3, 0.4, 35 / 110] },
    { name: 'a round not read is left out of the sums, shown as n/a', windows: [w(30, 90), null, w(40, 100)], compared: 70, eligible: 190, share: 70 / 190, per: [1 / 3, null, 0.4] },
    { name: 'too few together: no share', windows: [w(3, 5), w(4, 6)], compared: 7, eligible: 11, share: null, per: [null, null] },
    { name: 'too few in each, enough together', windows: [w(5, 10), w(6, 12)], compared: 11, eligible: 22, share: 0.5, per: [null, null] },
  ]
  for (const r of rows) {
    const got = suite.poolSteady(r.windows)
    if (r.compared === undefined) {
      t.equal(got, null, `${r.name}: null`)
      continue
    }
    t.equal(got?.compared, r.compared, `${r.name}: compared`)
    t.equal(got?.eligible, r.eligible, `${r.name}: eligible`)
    if (r.share === null) t.equal(got?.share, null, `${r.name}: no share`)
    else t.ok(Math.abs(got!.share! - r.share!) < 1e-9, `${r.name}: share ${got?.share}`)
    t.equal(got?.per_round?.length, r.per!.length, `${r.name}: one entry per round`)
    r.per!.forEach((p, k) => (p === null ? t.equal(got?.per_round?.[k], null, `${r.name}: round ${k + 1} n/a`) : t.ok(Math.abs(got!.per_round![k]! - p) < 1e-9, `${r.name}: round ${k + 1}`)))
  }
})
