import t from 'tap'
import { ManualClock } from '../helpers/manual-clock.js'
import { codeOf } from '../../src/core/errors.js'
import { BufferBudget, type BufferBudgetOptions, type Lease } from '../../src/http/buffer-budget.js'

const PIECE = 4096

function budget(slots: number, more: Partial<BufferBudgetOptions> = {}): BufferBudget {
  return new BufferBudget({ bytes: slots * PIECE, pieceSize: PIECE, clock: new ManualClock(), ...more })
}

/** settled lets every queued promise callback run (resolution order is what is tested, not time). */
const settled = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

t.test('bad options throw TypeError at construction', async t => {
  const cases: Array<[string, BufferBudgetOptions]> = [
    ['a piece size of 0', { bytes: 1024, pieceSize: 0 }],
    ['a fractional piece size', { bytes: 1024, pieceSize: 1.5 }],
    ['a budget smaller than one piece', { bytes: 1023, pieceSize: 1024 }],
    ['a budget that is not a number', { bytes: Number.NaN, pieceSize: 1024 }],
    ['a negative idle delay', { bytes: 1024, pieceSize: 1024, idleDropMs: -1 }],
  ]
  for (const [name, o] of cases) t.throws(() => new BufferBudget(o), TypeError, name)
})

t.test('the budget is a whole number of pieces', async t => {
  const cases: Array<[number, number, number]> = [
    // bytes, piece, slots
    [PIECE, PIECE, 1],
    [10 * PIECE + 1, PIECE, 10],
    [64 * 1024 * 1024, 512 * 1024, 128],
  ]
  for (const [bytes, pieceSize, slots] of cases) {
    const b = new BufferBudget({ bytes, pieceSize })
    t.equal(b.slots, slots, `${bytes} bytes of ${pieceSize}: ${slots} slots`)
    t.equal(b.bytes, slots * pieceSize, 'bytes rounded down to whole pieces')
  }
})

t.test('leases are piece-size, disjoint, and counted until released (once)', async t => {
  const b = budget(3)
  const leases = [b.tryAcquire()!, b.tryAcquire()!, b.tryAcquire()!]
  leases.forEach((l, i) => l.buf.fill(i + 1))
  leases.forEach((l, i) => {
    t.equal(l.buf.length, PIECE, `lease ${i} is one piece`)
    t.ok(l.buf.every(x => x === i + 1), `lease ${i} was not overwritten by another`)
  })
  t.equal(b.stats.inUse, 3 * PIECE)
  t.equal(b.tryAcquire(), undefined, 'a fourth piece is not free')
  leases[0]!.release()
  leases[0]!.release()
  t.equal(b.stats.inUse, 2 * PIECE, 'a second release of the same lease counts nothing')
  t.equal(b.stats.peakInUse, 3 * PIECE)
  const again = b.tryAcquire()!
  t.equal(again.buf.byteOffset, leases[0]!.buf.byteOffset, 'the most recently freed buffer is reused first')
})

t.test('acquire waits when the budget is spent and serves waiters in arrival order', async t => {
  const b = budget(2)
  const held = [(await b.acquire())!, (await b.acquire())!]
  const order: string[] = []
  const got = new Map<string, Lease>()
  const names = ['a', 'b', 'c', 'd', 'e']
  for (const n of names) {
    void b.acquire().then(l => {
      order.push(n)
      got.set(n, l)
    })
  }
  await settled()
  t.same(order, [], 'nobody is served while the budget is spent')
  t.equal(b.stats.waiting, 5)
  held[1]!.release()
  await settled()
  t.same(order, ['a'], 'one release serves the first waiter')
  held[0]!.release()
  got.get('a')!.release()
  await settled()
  t.same(order, ['a', 'b', 'c'], 'then the next ones, in order')
  for (const n of ['b', 'c']) got.get(n)!.release()
  await settled()
  t.same(order, names, 'every waiter is served in arrival order, none refused')
  for (const n of ['d', 'e']) got.get(n)!.release()
  t.equal(b.stats.inUse, 0)
  t.equal(b.stats.waiting, 0)
  t.equal(b.stats.waited, 5, 'five leases came after a wait')
  t.equal(b.stats.peakWaiting, 5)
  t.equal(b.stats.peakInUse, 2 * PIECE, 'never more than the budget in use')
})

t.test('many acquirers on one piece all get it in turn', async t => {
  const b = budget(1)
  const n = 200
  const order: number[] = []
  const all = Array.from({ length: n }, (_, i) =>
    b.acquire().then(l => {
      order.push(i)
      t.equal(b.stats.inUse, PIECE, 'one piece at a time')
      // Give it back on a later turn, as a socket write callback would.
      setImmediate(() => l.release())
    }),
  )
  await Promise.all(all)
  t.same(order, Array.from({ length: n }, (_, i) => i), 'served first come, first served')
  t.equal(b.stats.granted, n)
})

t.test('tryAcquire (read-ahead) takes only what is free now and never overtakes a waiter', async t => {
  const b = budget(2)
  const first = b.tryAcquire()
  t.ok(first, 'free: granted')
  const second = b.tryAcquire()!
  t.equal(b.tryAcquire(), undefined, 'spent: refused, not queued')
  t.equal(b.stats.waiting, 0, 'a refused read-ahead does not wait')
  const waiter = b.acquire()
  second.release()
  t.equal(b.tryAcquire(), undefined, 'the freed piece went to the waiter, not to the read-ahead')
  const l = await waiter
  t.equal(b.stats.refused, 2)
  l.release()
  first!.release()
  t.ok(b.tryAcquire(), 'free again: granted')
})

t.test('an aborted wait leaves the queue and the next waiter is served', async t => {
  const b = budget(1)
  const held = (await b.acquire())!
  const ac = new AbortController()
  const gone = b.acquire(ac.signal)
  const next = b.acquire()
  t.equal(b.stats.waiting, 2)
  ac.abort()
  const err = await gone.then(
    () => undefined,
    (e: unknown) => e,
  )
  t.equal(codeOf(err), 'ERR_ABORTED', 'the aborted wait rejects with ERR_ABORTED')
  t.equal(b.stats.waiting, 1, 'and is out of the queue')
  t.equal(b.stats.aborted, 1)
  held.release()
  const l = await next
  t.equal(b.stats.inUse, PIECE, 'the piece went to the waiter behind it')
  l.release()
  t.equal(b.stats.inUse, 0, 'nothing is left held by the aborted one')

  const pre = new AbortController()
  pre.abort()
  t.equal(codeOf(await b.acquire(pre.signal).catch((e: unknown) => e)), 'ERR_ABORTED', 'an already aborted signal is refused at once')
  t.equal(b.stats.inUse, 0)
})

t.test('the memory is dropped after being idle, and a GC is asked for', async t => {
  const clock = new ManualClock()
  let gcs = 0
  const b = budget(4, { clock, idleDropMs: 3000, gc: () => gcs++ })
  t.notOk(b.allocated, 'nothing is allocated before the first lease')
  const a = b.tryAcquire()!
  const c = b.tryAcquire()!
  t.ok(b.allocated, 'allocated on first use')
  a.release()
  t.equal(clock.pending, 0, 'no drop while a piece is in use')
  c.release()
  t.equal(clock.pending, 1, 'the drop is scheduled once everything is back')

  // Used again before the delay: the drop is cancelled.
  clock.advance(2999)
  const d = b.tryAcquire()!
  t.equal(clock.pending, 0, 'a new lease cancels the drop')
  clock.advance(3000)
  t.ok(b.allocated, 'still allocated: the drop was cancelled')
  d.release()
  clock.advance(2999)
  t.ok(b.allocated, 'kept 1 ms before the delay')
  clock.advance(1)
  t.notOk(b.allocated, 'dropped once idle for the delay')
  t.equal(gcs, 1, 'and a GC was asked for')
  t.equal(b.stats.drops, 1)

  const e = b.tryAcquire()!
  t.ok(b.allocated, 'allocated again on the next use')
  t.equal(b.stats.allocations, 2)
  e.buf.fill(7)
  e.release()
  clock.advance(3000)
  t.equal(gcs, 2)
  t.equal(clock.pending, 0, 'nothing left scheduled')
})

t.test('a waiter takes back the read-ahead a blocked download offered, oldest offer first', async t => {
  const b = budget(2)
  const x = b.tryAcquire()!
  const y = b.tryAcquire()!
  const calls: string[] = []
  const offer = (name: string, lease: Lease | undefined) => (): boolean => {
    calls.push(name)
    if (!lease) return false
    lease.release()
    return true
  }
  const gone = offer('withdrawn', x)
  b.addReclaimer(gone)
  b.removeReclaimer(gone)
  b.addReclaimer(offer('cannot', undefined))
  b.addReclaimer(offer('y', y))
  b.addReclaimer(offer('x', x))
  t.same(calls, [], 'nothing is taken while nobody waits')
  const l = await b.acquire()
  t.same(calls, ['cannot', 'y'], 'the oldest offer that can give a buffer back is taken, one per waiter')
  t.equal(b.stats.reclaimed, 1)
  t.equal(b.stats.inUse, 2 * PIECE, 'the buffer went to the waiter')
  const waiting = b.acquire()
  t.same(calls, ['cannot', 'y', 'x'], 'the next waiter takes the next offer')
  await waiting
  t.equal(b.stats.reclaimed, 2)
  t.equal(b.stats.waited, 2)
  l.release()
})

t.test('an offer made while someone waits is taken at once', async t => {
  const b = budget(1)
  const held = b.tryAcquire()!
  const waiter = b.acquire()
  let taken = 0
  b.addReclaimer(() => {
    taken++
    held.release()
    return true
  })
  t.equal(taken, 1, 'taken on the spot')
  const l = await waiter
  t.equal(b.stats.reclaimed, 1)
  l.release()
})
