import t from 'tap'
import { ReadPacer } from '../../src/audit/read-pacer.js'
import { ManualClock } from '../helpers/manual-clock.js'

t.test('the wait before each read: none within the first bytes, then the bytes past them spread at the rate, no credit for slow stretches', async t => {
  // Each step: milliseconds that pass before it, the total read so far, the wait expected (0: none).
  type Step = readonly [advanceMs: number, total: number, waitMs: number]
  const rows: ReadonlyArray<[string, { afterBytes: number; bytesPerSecond: number }, readonly Step[]]> = [
    ['all within the first bytes', { afterBytes: 1000, bytesPerSecond: 1000 }, [[0, 500, 0], [0, 1000, 0]]],
    ['past the first bytes, at once', { afterBytes: 1000, bytesPerSecond: 1000 }, [[0, 1000, 0], [0, 1500, 500]]],
    ['a chunk straddling the first bytes counts only its part past them', { afterBytes: 1000, bytesPerSecond: 1000 }, [[0, 1200, 200]]],
    ['waits add up while reads come faster than the rate', { afterBytes: 0, bytesPerSecond: 1000 }, [[0, 100, 100], [100, 200, 100], [50, 300, 150]]],
    ['time already spent counts', { afterBytes: 0, bytesPerSecond: 1000 }, [[0, 100, 100], [300, 200, 100]]],
    ['a slow stretch earns no credit for a burst after it', { afterBytes: 0, bytesPerSecond: 1000 }, [[0, 100, 100], [10_000, 1100, 1000]]],
    ['waits under a millisecond are carried, not slept', { afterBytes: 0, bytesPerSecond: 1_000_000 }, [[0, 400, 0], [0, 800, 0], [0, 1500, 1.5]]],
    ['the same total twice adds nothing', { afterBytes: 0, bytesPerSecond: 1000 }, [[0, 100, 100], [100, 100, 0]]],
  ]
  for (const [name, pace, steps] of rows) {
    const clock = new ManualClock()
    const pacer = new ReadPacer(pace, clock)
    steps.forEach(([advance, total, wait], i) => {
      clock.advance(advance)
      const before = clock.pending
      const g = pacer.gate(total)
      t.equal(g === undefined, wait === 0, `${name}, step ${i}: ${wait === 0 ? 'no wait' : 'a wait'}`)
      if (g !== undefined) t.equal(clock.pending, before + 1, `${name}, step ${i}: one timer`)
    })
    // Measure the last wait exactly: the gate opens when its timer is due, not before.
    const last = steps.at(-1)!
    if (last[2] === 0) continue
    const clock2 = new ManualClock()
    const pacer2 = new ReadPacer(pace, clock2)
    let g: Promise<void> | undefined
    for (const [advance, total] of steps) {
      clock2.advance(advance)
      g = pacer2.gate(total)
    }
    let open = false
    void g!.then(() => (open = true))
    clock2.advance(last[2] - 0.01)
    await Promise.resolve()
    t.notOk(open, `${name}: still closed just before ${last[2]} ms`)
    clock2.advance(0.01)
    await Promise.resolve()
    t.ok(open, `${name}: open after ${last[2]} ms`)
  }
})

t.test('a pace that is no pace is refused', async t => {
  const clock = new ManualClock()
  for (const pace of [
    { afterBytes: 0, bytesPerSecond: 0 },
    { afterBytes: 0, bytesPerSecond: -1 },
    { afterBytes: 0, bytesPerSecond: Number.NaN },
    { afterBytes: 0, bytesPerSecond: Number.POSITIVE_INFINITY },
    { afterBytes: -1, bytesPerSecond: 1 },
    { afterBytes: 0.5, bytesPerSecond: 1 },
  ])
    t.throws(() => new ReadPacer(pace, clock), TypeError, JSON.stringify(pace))
})
