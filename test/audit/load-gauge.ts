import type { EventLoopUtilization } from 'node:perf_hooks'
import t from 'tap'
import { LoadGauge } from '../../src/audit/load-gauge.js'

/**
 * scripted is an eventLoopUtilization that replays busy shares: each reading advances the clock by
 * `stepMs` (100 ms unless given), `share` of it active. Called with two readings, it gives their
 * difference, as Node does.
 */
function scripted(shares: number[], stepMs = 100): typeof performance.eventLoopUtilization {
  let active = 0
  let idle = 0
  let i = 0
  return (a, b) => {
    if (a && b) {
      const da = a.active - b.active
      const di = a.idle - b.idle
      return { active: da, idle: di, utilization: da / (da + di) }
    }
    const share = i === 0 ? 0 : shares[i - 1]!
    i++
    active += stepMs * share
    idle += stepMs * (1 - share)
    return { active, idle, utilization: active / (active + idle || 1) }
  }
}

t.test('LoadGauge averages the utilization of each interval, weighing the newest by alpha', async t => {
  const cases: Array<[string, number, number[], number[]]> = [
    ['busy all the time, alpha 1: the last sample', 1, [1, 1], [1, 1]],
    ['idle, alpha 1', 1, [0, 0], [0, 0]],
    ['busy from idle, alpha 0.5: 1 - 0.5^n', 0.5, [1, 1, 1, 1], [0.5, 0.75, 0.875, 0.9375]],
    ['a burst fades', 0.5, [1, 0, 0], [0.5, 0.25, 0.125]],
    ['a quarter busy, alpha 1', 1, [0.25], [0.25]],
  ]
  for (const [name, alpha, shares, want] of cases) {
    // An interval that never fires during the test: samples are taken by hand.
    const g = new LoadGauge({ intervalMs: 3_600_000, alpha, elu: scripted(shares) })
    const got = shares.map(() => (g.sample(), g.utilization))
    g.close()
    t.strictSame(got, want, name)
  }
})

t.test('LoadGauge by default tells a burst from lasting overload (samples of 50 ms)', async t => {
  // Measured in the mixed bench row on a two-core machine: the mirror's loop at 0.35-0.7 while it
  // compares every request, and at 1 for 0.4-0.9 s while one 64 MiB download is compared.
  const settle = (share: number, n: number) => Array.from({ length: n }, () => share)
  const cases: Array<[string, number[], 'below' | 'above']> = [
    ['a busy loop (0.6), then a compared 64 MiB download holding it for 0.9 s', [...settle(0.6, 100), ...settle(1, 18)], 'below'],
    ['a busy loop (0.7), then a second at full load', [...settle(0.7, 100), ...settle(1, 20)], 'below'],
    ['idle, then 2.25 s at full load', settle(1, 45), 'above'],
    ['a busy loop (0.6), then 1.5 s at full load', [...settle(0.6, 100), ...settle(1, 30)], 'above'],
  ]
  for (const [name, shares, want] of cases) {
    const g = new LoadGauge({ intervalMs: 3_600_000, elu: scripted(shares, 50) })
    for (let i = 0; i < shares.length; i++) g.sample()
    g.close()
    t.equal(g.utilization > 0.9 ? 'above' : 'below', want, `${name}: ${g.utilization.toFixed(3)}`)
  }
})

t.test('LoadGauge.sustained is the lowest sample of the last second, once a second has been sampled', async t => {
  const ones = (n: number) => Array.from({ length: n }, () => 1)
  // [case, shares of 100 ms samples, sustainedMs (default when undefined), want]
  const cases: Array<[string, number[], number | undefined, number]> = [
    ['busy for a second', ones(10), undefined, 1],
    ['busy for 0.9 s: not a second yet', ones(9), undefined, 0],
    ['a second with one sample at 0.5', [1, 1, 1, 1, 0.5, 1, 1, 1, 1, 1], undefined, 0.5],
    ['a sample older than the second no longer counts', [0.2, ...ones(10)], undefined, 1],
    ['a sample just inside the second still counts', [0.2, ...ones(9)], undefined, 0.2],
    ['idle', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], undefined, 0],
    ['a shorter span', [0.3, 0.95, 0.97], 200, 0.95],
  ]
  for (const [name, shares, sustainedMs, want] of cases) {
    const g = new LoadGauge({ intervalMs: 3_600_000, sustainedMs, elu: scripted(shares) })
    for (let i = 0; i < shares.length; i++) g.sample()
    g.close()
    t.equal(g.sustained, want, name)
  }
})

t.test('LoadGauge.sustained by default leaves out one large download and sees lasting overload at once', async t => {
  // Samples of 50 ms. Measured by hand on a two-core machine: one 64 MiB download through a mirror
  // comparing a mixed load kept its loop at 0.9 or more for up to 0.45 s (0.5 s at 0.8), apart from
  // the first one through a just-started mirror (1.55 s): there the mirror's queue decides, and no
  // request of two such runs was shed (test/audit/mirror.ts has the queue's part).
  const settle = (share: number, n: number) => Array.from({ length: n }, () => share)
  const cases: Array<[string, number[], 'below' | 'above']> = [
    ['a busy loop (0.6), then a download holding it for 0.9 s', [...settle(0.6, 100), ...settle(1, 18)], 'below'],
    ['a busy loop (0.6), then a second at full load', [...settle(0.6, 100), ...settle(1, 20)], 'above'],
    ['idle, then a second at 0.95', [...settle(0, 100), ...settle(0.95, 20)], 'above'],
    ['a second at full load but for one sample at 0.85', [...settle(1, 10), 0.85, ...settle(1, 9)], 'below'],
  ]
  for (const [name, shares, want] of cases) {
    const g = new LoadGauge({ intervalMs: 3_600_000, elu: scripted(shares, 50) })
    for (let i = 0; i < shares.length; i++) g.sample()
    g.close()
    t.equal(g.sustained > 0.9 ? 'above' : 'below', want, `${name}: ${g.sustained}`)
  }
})

t.test('LoadGauge reads the real event loop by default', async t => {
  const g = new LoadGauge({ intervalMs: 3_600_000 })
  t.teardown(() => g.close())
  const u = g.sample()
  t.ok(u >= 0 && u <= 1, `a utilization between 0 and 1: ${u}`)
})

t.test('LoadGauge rejects bad options', async t => {
  const cases: Array<[string, ConstructorParameters<typeof LoadGauge>[0]]> = [
    ['interval 0', { intervalMs: 0 }],
    ['negative interval', { intervalMs: -1 }],
    ['alpha 0', { alpha: 0 }],
    ['alpha above 1', { alpha: 1.5 }],
    ['alpha NaN', { alpha: Number.NaN }],
    ['sustainedMs 0', { sustainedMs: 0 }],
    ['negative sustainedMs', { sustainedMs: -1 }],
    ['sustainedMs NaN', { sustainedMs: Number.NaN }],
  ]
  for (const [name, o] of cases) t.throws(() => new LoadGauge(o), TypeError, name)
})
