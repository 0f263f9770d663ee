import t from 'tap'
import { LoadGauge } from '../../src/audit/load-gauge.js'

/** busy keeps the event loop running code for `ms` (a bounded busy-wait: the load being measured). */
function busy(ms: number): void {
  const end = performance.now() + ms
  let spins = 0
  while (performance.now() < end && spins < 1e9) spins++
}

t.test('LoadGauge: a loop that runs code all the time reads as saturated, an idle one does not', async t => {
  // An interval that never fires during the test: samples are taken by hand.
  const g = new LoadGauge({ intervalMs: 3_600_000, alpha: 1 })
  t.teardown(() => g.close())
  t.equal(g.utilization, 0, 'starts idle')
  busy(100)
  const u = g.sample()
  t.ok(u > 0.9, `busy the whole interval: ${u}`)
  t.equal(g.utilization, u, 'alpha 1: the average is the last sample')
  // Waiting for I/O (a timer here) is idle time.
  await new Promise(resolve => setTimeout(resolve, 50))
  t.ok(g.sample() < 0.5, 'mostly waiting: below half')
})

t.test('LoadGauge: the moving average weighs the newest sample by alpha', async t => {
  const g = new LoadGauge({ intervalMs: 3_600_000, alpha: 0.5 })
  t.teardown(() => g.close())
  const seen: number[] = []
  for (let i = 0; i < 4; i++) {
    busy(20)
    seen.push(g.sample())
  }
  // Each sample is close to 1, so the average after n samples is close to 1 - 0.5^n.
  const expected = seen.reduce((avg, u) => 0.5 * u + 0.5 * avg, 0)
  t.ok(Math.abs(g.utilization - expected) < 1e-12, 'the average follows the samples')
  t.ok(g.utilization > 0.85, `four busy samples from idle: ${g.utilization}`)
})

t.test('LoadGauge rejects bad options', async t => {
  const cases: Array<[string, ConstructorParameters<typeof LoadGauge>[0]]> = [
    ['interval 0', { intervalMs: 0 }],
    ['negative interval', { intervalMs: -1 }],
    ['alpha 0', { alpha: 0 }],
    ['alpha above 1', { alpha: 1.5 }],
    ['alpha NaN', { alpha: Number.NaN }],
  ]
  for (const [name, o] of cases) t.throws(() => new LoadGauge(o), TypeError, name)
})
