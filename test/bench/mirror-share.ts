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
}
interface ShareModule {
  steadyShare(a: Counts, b: Counts, fromS: number, toS: number): Steady
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
