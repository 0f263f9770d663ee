import t from 'tap'
import { systemClock, type Clock, type Timer } from '../../src/core/clock.js'
import { codeOf, CutoverError } from '../../src/core/errors.js'
import { backoffMs, validateRetryOptions, withRetries } from '../../src/storage/retry.js'
import { ManualClock } from '../helpers/manual-clock.js'

/** recordingClock runs every timeout on the next microtask and records the delays asked for. */
function recordingClock(): { clock: Clock; delays: number[] } {
  const delays: number[] = []
  const timer: Timer = { clear: () => undefined, unref: () => timer }
  const clock: Clock = {
    ...systemClock,
    setTimeout: (fn, ms) => {
      delays.push(ms)
      queueMicrotask(fn)
      return timer
    },
  }
  return { clock, delays }
}

const retryable = (err: unknown): boolean => codeOf(err) === 'ERR_UPSTREAM'
const FLAKY = (): CutoverError => new CutoverError('ERR_UPSTREAM', 'flaky')
const FATAL = (): CutoverError => new CutoverError('ERR_NOT_FOUND', 'gone')

t.test('withRetries retries only retryable failures, a bounded number of times, with full-jitter backoff', async t => {
  // Each row: what attempts 0, 1, ... do ('ok', 'flaky', 'fatal'), the retries allowed, what comes out,
  // how many attempts ran and the backoffs waited (random() is 0.5, base 100, cap 300).
  const rows: Array<{ name: string; plan: string[]; retries: number; want: string; attempts: number; delays: number[] }> = [
    { name: 'success at once', plan: ['ok'], retries: 3, want: 'ok 0', attempts: 1, delays: [] },
    { name: 'one flaky failure, then success', plan: ['flaky', 'ok'], retries: 3, want: 'ok 1', attempts: 2, delays: [50] },
    { name: 'backoff doubles up to the cap', plan: ['flaky', 'flaky', 'flaky', 'ok'], retries: 3, want: 'ok 3', attempts: 4, delays: [50, 100, 150] },
    { name: 'retries run out', plan: ['flaky', 'flaky', 'flaky'], retries: 2, want: 'ERR_UPSTREAM', attempts: 3, delays: [50, 100] },
    { name: 'no retries at all', plan: ['flaky', 'ok'], retries: 0, want: 'ERR_UPSTREAM', attempts: 1, delays: [] },
    { name: 'a fatal failure is never retried', plan: ['fatal', 'ok'], retries: 3, want: 'ERR_NOT_FOUND', attempts: 1, delays: [] },
    { name: 'a fatal failure after a retry ends it', plan: ['flaky', 'fatal', 'ok'], retries: 3, want: 'ERR_NOT_FOUND', attempts: 2, delays: [50] },
  ]
  for (const row of rows) {
    const { clock, delays } = recordingClock()
    let attempts = 0
    const retries: number[] = []
    const got = await withRetries(
      async n => {
        attempts++
        const step = row.plan[n]
        if (step === 'flaky') throw FLAKY()
        if (step === 'fatal') throw FATAL()
        return `ok ${n}`
      },
      { retries: row.retries, baseMs: 100, capMs: 300, clock, random: () => 0.5, retryable, onRetry: (_e, n) => retries.push(n) },
    ).catch((e: unknown) => String(codeOf(e)))
    t.equal(got, row.want, `${row.name}: ${row.want}`)
    t.equal(attempts, row.attempts, `${row.name}: ${row.attempts} attempts`)
    t.strictSame(delays, row.delays, `${row.name}: backoffs ${row.delays.join(', ') || 'none'}`)
    t.strictSame(retries, row.delays.map((_d, i) => i + 1), `${row.name}: onRetry numbers each retry`)
  }
})

t.test('backoffMs is uniform below min(cap, base * 2^retry)', async t => {
  const rows: Array<[number, number, number, number, number]> = [
    // retry, base, cap, random, want
    [0, 100, 2000, 0, 0],
    [0, 100, 2000, 0.999, 99.9],
    [3, 100, 2000, 0.5, 400],
    [10, 100, 2000, 0.5, 1000],
    [2, 0, 2000, 0.7, 0],
  ]
  for (const [retry, baseMs, capMs, r, want] of rows) {
    t.equal(Math.round(backoffMs(retry, { baseMs, capMs, random: () => r }) * 1000) / 1000, want, `retry ${retry}, base ${baseMs}, cap ${capMs}, random ${r}: ${want} ms`)
  }
})

t.test('an abort while waiting to retry rejects with ERR_ABORTED and runs no more attempts', async t => {
  const clock = new ManualClock()
  const ac = new AbortController()
  let attempts = 0
  let waiting!: () => void
  const retried = new Promise<void>(resolve => (waiting = resolve))
  const p = withRetries(
    async () => {
      attempts++
      throw FLAKY()
    },
    { retries: 5, baseMs: 1000, capMs: 1000, clock, random: () => 1, signal: ac.signal, retryable, onRetry: () => waiting() },
  ).catch((e: unknown) => String(codeOf(e)))
  await retried
  t.equal(clock.pending, 1, 'the backoff waits on the clock')
  ac.abort()
  t.equal(await p, 'ERR_ABORTED')
  t.equal(attempts, 1, 'no attempt after the abort')
  t.equal(clock.pending, 0, 'the backoff timer is cleared')
})

t.test('the backoff waits on the clock: the retry runs once time has moved by the delay', async t => {
  const clock = new ManualClock()
  let attempts = 0
  let waiting!: () => void
  const retried = new Promise<void>(resolve => (waiting = resolve))
  const p = withRetries(
    async () => {
      if (++attempts === 1) throw FLAKY()
      return 'ok'
    },
    { retries: 1, baseMs: 1000, capMs: 1000, clock, random: () => 0.5, retryable, onRetry: () => waiting() },
  )
  await retried
  clock.advance(499)
  await Promise.resolve()
  t.equal(attempts, 1, 'not before the delay')
  clock.advance(1)
  t.equal(await p, 'ok')
  t.equal(attempts, 2)
})

t.test('an already aborted signal runs no attempt', async t => {
  let attempts = 0
  const got = await withRetries(
    async () => {
      attempts++
      return 'ok'
    },
    { retries: 1, baseMs: 0, capMs: 0, clock: systemClock, random: Math.random, signal: AbortSignal.abort(), retryable },
  ).catch((e: unknown) => String(codeOf(e)))
  t.equal(got, 'ERR_ABORTED')
  t.equal(attempts, 0)
})

t.test('validateRetryOptions refuses bad settings with TypeError', async t => {
  const rows: Array<[string, number, number, number, boolean]> = [
    ['defaults', 2, 100, 2000, true],
    ['zero everything', 0, 0, 0, true],
    ['negative retries', -1, 100, 2000, false],
    ['fractional retries', 1.5, 100, 2000, false],
    ['too many retries', 11, 100, 2000, false],
    ['negative base', 2, -1, 2000, false],
    ['infinite cap', 2, 100, Infinity, false],
  ]
  for (const [name, retries, base, cap, ok] of rows) {
    if (ok) t.doesNotThrow(() => validateRetryOptions(retries, base, cap), name)
    else t.throws(() => validateRetryOptions(retries, base, cap), TypeError, name)
  }
})
