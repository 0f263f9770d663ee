import t from 'tap'
import { Singleflight } from '../../src/cache/singleflight.js'
import { abortError, codeOf, CutoverError } from '../../src/core/errors.js'
import { gate } from '../helpers/gate.js'

/** HeldLoad is a load the test ends: it counts calls and rejects with ERR_ABORTED on its signal. */
function heldLoad(): {
  load: (signal: AbortSignal) => Promise<string>
  signals: AbortSignal[]
  end: (how: 'ok' | 'fail') => void
} {
  const signals: AbortSignal[] = []
  const ends = gate<'ok' | 'fail'>()
  const load = (signal: AbortSignal): Promise<string> => {
    signals.push(signal)
    const n = signals.length
    return new Promise<string>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(abortError(signal)), { once: true })
      void ends.promise.then(how => (how === 'ok' ? resolve(`value ${n}`) : reject(new CutoverError('ERR_IO', 'load failed'))))
    })
  }
  return { load, signals, end: how => ends.open(how) }
}

/** outcome turns a settled promise into what the table compares: the value or the error code. */
const outcome = (p: Promise<string>): Promise<string> => p.then(v => v, (e: unknown) => codeOf(e) ?? String(e))

interface Case {
  readonly name: string
  /** One entry per waiter: whether it has a signal of its own. */
  readonly signals: readonly boolean[]
  /** Waiters (by position) that abort while the load is in flight. */
  readonly abort: readonly number[]
  /** How the load ends (if it was not aborted). */
  readonly end: 'ok' | 'fail'
  /** What each waiter gets. */
  readonly want: readonly string[]
  /** Whether the underlying load saw its signal abort. */
  readonly loadAborted: boolean
}

const cases: readonly Case[] = [
  { name: 'three waiters share one load', signals: [true, true, true], abort: [], end: 'ok', want: ['value 1', 'value 1', 'value 1'], loadAborted: false },
  {
    name: 'one waiter of three aborts: it alone rejects',
    signals: [true, true, true],
    abort: [1],
    end: 'ok',
    want: ['value 1', 'ERR_ABORTED', 'value 1'],
    loadAborted: false,
  },
  {
    name: 'every waiter aborts: the load is aborted',
    signals: [true, true],
    abort: [0, 1],
    end: 'ok',
    want: ['ERR_ABORTED', 'ERR_ABORTED'],
    loadAborted: true,
  },
  {
    name: 'a waiter without a signal keeps the load alive',
    signals: [true, false, true],
    abort: [0, 2],
    end: 'ok',
    want: ['ERR_ABORTED', 'value 1', 'ERR_ABORTED'],
    loadAborted: false,
  },
  { name: 'a failed load fails every waiter', signals: [true, true], abort: [], end: 'fail', want: ['ERR_IO', 'ERR_IO'], loadAborted: false },
  {
    name: 'a failed load with an aborted waiter',
    signals: [true, true],
    abort: [0],
    end: 'fail',
    want: ['ERR_ABORTED', 'ERR_IO'],
    loadAborted: false,
  },
]

for (const c of cases) {
  t.test(c.name, { timeout: 10_000 }, async t => {
    const sf = new Singleflight<string, string>()
    const h = heldLoad()
    const ctrls = c.signals.map(has => (has ? new AbortController() : undefined))
    const results = ctrls.map(ctrl => outcome(sf.do('k', h.load, ctrl?.signal)))
    t.equal(h.signals.length, 1, 'one underlying load for every waiter')
    t.ok(sf.has('k'), 'the load is in flight')
    for (const i of c.abort) {
      ctrls[i]!.abort()
      // The load is still held: a waiter that waited for it instead of leaving would hang here.
      t.equal(await results[i], 'ERR_ABORTED', `waiter ${i} rejects at once`)
    }
    t.equal(h.signals[0]!.aborted, c.loadAborted, `the load ${c.loadAborted ? 'is' : 'is not'} aborted`)
    t.equal(sf.has('k'), !c.loadAborted, 'an abandoned load is forgotten at once')
    h.end(c.end)
    t.strictSame(await Promise.all(results), c.want, 'what each waiter gets')
    t.equal(sf.size, 0, 'nothing in flight once it ended')

    // Nothing is remembered: the next call loads again (a retry after a failure or an abort).
    const again = heldLoad()
    const next = outcome(sf.do('k', again.load))
    again.end('ok')
    t.equal(await next, 'value 1', 'the next call runs a new load')
    t.equal(again.signals.length, 1, 'exactly one new load')
  })
}

t.test('edge cases', async t => {
  interface Seen {
    readonly got: string
    readonly loads: number
  }
  const rows: ReadonlyArray<{ name: string; run: (sf: Singleflight<string, string>) => Promise<Seen>; want: Seen }> = [
    {
      name: 'an already aborted signal starts no load',
      run: async sf => {
        const h = heldLoad()
        const got = await outcome(sf.do('k', h.load, AbortSignal.abort()))
        return { got, loads: h.signals.length }
      },
      want: { got: 'ERR_ABORTED', loads: 0 },
    },
    {
      name: 'a load that throws synchronously is a failed load',
      run: async sf => {
        let loads = 0
        const got = await outcome(
          sf.do('k', () => {
            loads++
            throw new CutoverError('ERR_IO', 'sync')
          }),
        )
        return { got: `${got} in flight=${sf.size}`, loads }
      },
      want: { got: 'ERR_IO in flight=0', loads: 1 },
    },
    {
      name: 'different keys load separately',
      run: async sf => {
        const h = heldLoad()
        const a = outcome(sf.do('a', h.load))
        const b = outcome(sf.do('b', h.load))
        h.end('ok')
        return { got: (await Promise.all([a, b])).join(','), loads: h.signals.length }
      },
      want: { got: 'value 1,value 2', loads: 2 },
    },
    {
      name: 'a request after every waiter left starts a fresh load, not the abandoned one',
      run: async sf => {
        const h = heldLoad()
        const ctrl = new AbortController()
        const first = outcome(sf.do('k', h.load, ctrl.signal))
        ctrl.abort()
        const second = outcome(sf.do('k', h.load))
        h.end('ok')
        return { got: `${await first},${await second}`, loads: h.signals.length }
      },
      want: { got: 'ERR_ABORTED,value 2', loads: 2 },
    },
  ]
  for (const r of rows) t.strictSame(await r.run(new Singleflight<string, string>()), r.want, r.name)
})
