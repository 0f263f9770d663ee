import t from 'tap'
import { codeOf, type ErrorCode } from '../../src/core/errors.js'
import { InstrumentedStore, type StoreOp } from '../../src/storage/instrumented-store.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { ScriptedStore } from '../helpers/scripted-store.js'

/** A store whose stats and reads take `ms` of the manual clock each, so durations are exact. */
class SlowStore extends ScriptedStore {
  constructor(
    readonly clock: ManualClock,
    readonly ms: number,
    blobs: Record<string, string>,
  ) {
    super('slow', blobs)
  }
  override async stat(key: string, signal?: AbortSignal) {
    this.clock.advance(this.ms)
    return super.stat(key, signal)
  }
  override async read(...args: Parameters<ScriptedStore['read']>) {
    this.clock.advance(this.ms)
    return super.read(...args)
  }
}

type Call = readonly ['stat', string] | readonly ['read', number, number] | readonly ['statFault', ErrorCode | undefined] | readonly ['readFault', ErrorCode | undefined]

t.test('every call is counted, with its bytes, its failure by code, and its duration', async t => {
  const rows: Array<{
    name: string
    calls: Call[]
    want: { stats: number; reads: number; bytesRead: number; errors: Record<string, number> }
    observed: string[]
  }> = [
    { name: 'nothing', calls: [], want: { stats: 0, reads: 0, bytesRead: 0, errors: {} }, observed: [] },
    {
      name: 'a stat and two reads',
      calls: [['stat', 'k'], ['read', 0, 4], ['read', 4, 100]],
      want: { stats: 1, reads: 2, bytesRead: 10, errors: {} },
      observed: ['stat 0.025 ok', 'read 0.025 ok', 'read 0.025 ok'],
    },
    {
      name: 'a missing key and a failed stat',
      calls: [['stat', 'nope'], ['statFault', 'ERR_IO'], ['stat', 'k']],
      want: { stats: 2, reads: 0, bytesRead: 0, errors: { ERR_NOT_FOUND: 1, ERR_IO: 1 } },
      observed: ['stat 0.025 ERR_NOT_FOUND', 'stat 0.025 ERR_IO'],
    },
    {
      name: 'reads that fail count no bytes',
      calls: [['stat', 'k'], ['readFault', 'ERR_UPSTREAM'], ['read', 0, 4], ['read', 0, 4], ['readFault', undefined], ['read', 8, 4]],
      want: { stats: 1, reads: 3, bytesRead: 2, errors: { ERR_UPSTREAM: 2 } },
      observed: ['stat 0.025 ok', 'read 0.025 ERR_UPSTREAM', 'read 0.025 ERR_UPSTREAM', 'read 0.025 ok'],
    },
  ]
  for (const row of rows) {
    const clock = new ManualClock()
    const inner = new SlowStore(clock, 25, { k: '0123456789' })
    const observed: string[] = []
    const store = new InstrumentedStore(inner, {
      name: 'slow',
      clock,
      latency: { observe: (op: StoreOp, seconds: number, error?: string) => void observed.push(`${op} ${seconds} ${error ?? 'ok'}`) },
    })
    let info = await inner.stat('k')
    for (const call of row.calls) {
      if (call[0] === 'stat') info = await store.stat(call[1]).catch(() => info)
      else if (call[0] === 'read') await store.read(info, call[1], call[2]).catch((e: unknown) => codeOf(e))
      else if (call[0] === 'statFault') inner.statFault = call[1]
      else inner.readFault = call[1]
    }
    t.strictSame({ ...store.stats, errors: { ...store.stats.errors } }, row.want, `${row.name}: counters`)
    t.strictSame(observed, row.observed, `${row.name}: durations`)
  }
})

t.test('calls pass through unchanged, errors included; without a latency hook nothing is timed', async t => {
  const inner = new ScriptedStore('s', { k: 'bytes' })
  const store = new InstrumentedStore(inner, { name: 's' })
  const info = await store.stat('k')
  t.strictSame(info, await inner.stat('k'), 'the same info')
  t.equal(Buffer.from(await store.read(info, 1, 3)).toString(), 'yte', 'the same bytes')
  inner.put('k', 'other')
  await t.rejects(store.read(info, 0, 1), { code: 'ERR_BLOB_CHANGED' }, 'the same error')
  const thrown = new InstrumentedStore({ stat: () => Promise.reject(new Error('not ours')), read: () => Promise.reject(new Error('x')) }, { name: 'x' })
  await t.rejects(thrown.stat('k'), /not ours/, 'a foreign error passes through')
  t.strictSame({ ...thrown.stats.errors }, { other: 1 }, 'counted as other')
  t.throws(() => new InstrumentedStore(inner, { name: '' }), TypeError, 'a name is required')
})
