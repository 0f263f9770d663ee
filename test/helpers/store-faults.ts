import type { Test } from 'tap'
import type { Clock, Timer } from '../../src/core/clock.js'
import { codeOf } from '../../src/core/errors.js'
import type { BlobInfo, BlobStore } from '../../src/storage/blob-store.js'
import type { RemoteStoreStats } from '../../src/storage/remote-store.js'
import type { FaultProxy, ProxyFault } from './fault-proxy.js'
import { ManualClock } from './manual-clock.js'

/** RemoteTestStore is what the fault tables need of a remote store. */
export interface RemoteTestStore<I extends BlobInfo = BlobInfo> extends BlobStore<I> {
  readonly stats: RemoteStoreStats
}

/** outcome is a read's result as text: `bytes ok` when it equals `want`, else what came or the code it was refused with. */
export function outcome(p: Promise<Uint8Array>, want?: Uint8Array): Promise<string> {
  return p.then(
    b => (want !== undefined && Buffer.compare(Buffer.from(b), Buffer.from(want)) === 0 ? 'bytes ok' : `bytes ${b.length} others`),
    (e: unknown) => String(codeOf(e) ?? e),
  )
}

/**
 * FaultRow is one fault-table row: the faults spoiling the next GETs, the retries the store may
 * make, what the read of bytes 100-599 must come to, and how many GETs it must have sent.
 */
export interface FaultRow {
  readonly name: string
  readonly faults: readonly ProxyFault[]
  readonly retries: number
  readonly want: string
  readonly attempts: number
}

/** FAULT_ROWS are the faults every remote store must survive or report, the same for each. */
export const FAULT_ROWS: readonly FaultRow[] = [
  { name: 'no fault', faults: [], retries: 2, want: 'bytes ok', attempts: 1 },
  { name: '500 then success: retried', faults: [{ status: 500 }], retries: 2, want: 'bytes ok', attempts: 2 },
  { name: '503 twice then success: retried twice', faults: [{ status: 503 }, { status: 503 }], retries: 2, want: 'bytes ok', attempts: 3 },
  { name: '500 past the retries: ERR_IO', faults: [{ status: 500 }, { status: 500 }, { status: 500 }], retries: 2, want: 'ERR_IO', attempts: 3 },
  { name: 'reset mid-body, no retries: rejected, never short', faults: [{ resetAfter: 100 }], retries: 0, want: 'ERR_IO', attempts: 1 },
  { name: 'reset mid-body then success: retried', faults: [{ resetAfter: 100 }], retries: 1, want: 'bytes ok', attempts: 2 },
  { name: 'short body with clean framing, no retries: rejected', faults: [{ shortBy: 10 }], retries: 0, want: 'ERR_SHORT_READ', attempts: 1 },
  { name: 'short body then success: retried', faults: [{ shortBy: 10 }], retries: 1, want: 'bytes ok', attempts: 2 },
  { name: 'another ETag on the ranged answer: changed, not retried', faults: [{ setHeader: ['etag', '"0123456789"'] }], retries: 2, want: 'ERR_BLOB_CHANGED', attempts: 1 },
  { name: 'another total size in Content-Range: changed', faults: [{ setHeader: ['content-range', 'bytes 100-599/5000'] }], retries: 2, want: 'ERR_BLOB_CHANGED', attempts: 1 },
  { name: '412: changed, not retried', faults: [{ status: 412 }], retries: 2, want: 'ERR_BLOB_CHANGED', attempts: 1 },
  { name: '404 on a read: changed, not retried', faults: [{ status: 404 }], retries: 2, want: 'ERR_BLOB_CHANGED', attempts: 1 },
  { name: '403: forbidden, not retried', faults: [{ status: 403 }], retries: 2, want: 'ERR_FORBIDDEN', attempts: 1 },
]

/**
 * runFaultRows reads bytes 100-599 of `data` (stored under `key`) through `proxy` once per
 * {@link FAULT_ROWS} row, with a fresh store from `make(retries)`, and checks the outcome, the GETs
 * the proxy saw and the store's counters.
 */
export async function runFaultRows<I extends BlobInfo>(
  t: Test,
  proxy: FaultProxy,
  make: (retries: number) => RemoteTestStore<I>,
  key: string,
  data: Uint8Array,
): Promise<void> {
  for (const row of FAULT_ROWS) {
    const store = make(row.retries)
    const info = await store.stat(key)
    proxy.inject('GET', ...row.faults)
    const before = proxy.count.GET ?? 0
    const got = await outcome(store.read(info, 100, 500), data.subarray(100, 600))
    t.equal(got, row.want, `${row.name}: ${row.want}`)
    t.equal((proxy.count.GET ?? 0) - before, row.attempts, `${row.name}: ${row.attempts} GETs`)
    t.equal(store.stats.retries, row.attempts - 1, `${row.name}: ${row.attempts - 1} retries counted`)
    t.equal(store.stats.attempts, row.attempts + 1, `${row.name}: the HEAD and ${row.attempts} GETs counted`)
    t.strictSame(
      [store.stats.reads, store.stats.bytes, store.stats.errors],
      row.want === 'bytes ok' ? [1, 500, 0] : [0, 0, 1],
      `${row.name}: reads, bytes and errors counted`,
    )
  }
}

/**
 * quickClock is `manual` except that 0 ms timers (the backoff of a 0 ms retry base) run on the
 * next microtask: a test then moves time only for the timeouts it is testing.
 */
export function quickClock(manual: ManualClock): Clock {
  const none: Timer = { clear: () => undefined, unref: () => none }
  return {
    now: () => manual.now(),
    monotonic: () => manual.monotonic(),
    setInterval: (fn, ms) => manual.setInterval(fn, ms),
    setTimeout: (fn, ms) => {
      if (ms > 0) return manual.setTimeout(fn, ms)
      queueMicrotask(fn)
      return none
    },
  }
}

/** TIMEOUT_MS is the per-request timeout of the stall rows (on a ManualClock: no real time passes). */
export const TIMEOUT_MS = 5000

/**
 * runStallRows checks, with the GETs stalled by `proxy`, that a read times out (ERR_TIMEOUT) after
 * `retries + 1` attempts when time passes, and that an abort ends a stalled read with ERR_ABORTED
 * and no retry. `make(retries, clock)` makes a store with a 0 ms retry base and {@link TIMEOUT_MS}.
 */
export async function runStallRows<I extends BlobInfo>(
  t: Test,
  proxy: FaultProxy,
  make: (retries: number, clock: Clock) => RemoteTestStore<I>,
  key: string,
): Promise<void> {
  for (const retries of [0, 1]) {
    const manual = new ManualClock()
    const store = make(retries, quickClock(manual))
    const info = await store.stat(key)
    proxy.inject('GET', ...Array.from({ length: retries + 1 }, () => ({ stall: true })))
    const before = proxy.count.GET ?? 0
    const p = outcome(store.read(info, 0, 10))
    for (let i = 1; i <= retries + 1; i++) {
      await proxy.arrived('GET', before + i)
      manual.advance(TIMEOUT_MS)
    }
    t.equal(await p, 'ERR_TIMEOUT', `stalled ${retries + 1} times, ${retries} retries: ERR_TIMEOUT`)
    t.equal((proxy.count.GET ?? 0) - before, retries + 1, `stalled with ${retries} retries: ${retries + 1} GETs`)
    t.equal(store.stats.retries, retries, `stalled with ${retries} retries: retries counted`)
    t.equal(manual.pending, 0, 'no timer left behind')
  }
  {
    const manual = new ManualClock()
    const store = make(0, quickClock(manual))
    const info = await store.stat(key)
    proxy.inject('GET', { stallAfter: 100 })
    const before = proxy.count.GET ?? 0
    const p = outcome(store.read(info, 0, 500))
    await proxy.arrived('GET', before + 1)
    manual.advance(TIMEOUT_MS)
    t.equal(await p, 'ERR_TIMEOUT', 'a stall mid-body times out too')
    t.equal(manual.pending, 0, 'no timer left behind')
  }
  {
    const manual = new ManualClock()
    const store = make(2, quickClock(manual))
    const info = await store.stat(key)
    proxy.inject('GET', { stall: true })
    const before = proxy.count.GET ?? 0
    const ac = new AbortController()
    const p = outcome(store.read(info, 0, 10, ac.signal))
    await proxy.arrived('GET', before + 1)
    ac.abort()
    t.equal(await p, 'ERR_ABORTED', 'an abort ends a stalled read')
    t.equal((proxy.count.GET ?? 0) - before, 1, 'an aborted read is not retried')
    t.equal(store.stats.errors, 0, 'an abort is not counted as an error')
    t.equal(manual.pending, 0, 'the timeout is cleared')
    t.equal(await outcome(store.read(info, 0, 10, AbortSignal.abort())), 'ERR_ABORTED', 'an aborted signal sends nothing')
    t.equal((proxy.count.GET ?? 0) - before, 1, 'no GET for an already aborted signal')
  }
}

/** StatStatusRow is one row of {@link runStatStatusRows}: the status every HEAD is answered with once, and what the stat gives. */
export interface StatStatusRow {
  readonly name: string
  readonly status: number
  readonly retries: number
  /** `size N` for a stat that resolved, else the code it rejected with. */
  readonly want: string
  /** HEADs the proxy saw for this stat. */
  readonly attempts: number
}

/**
 * runStatStatusRows checks, row by row, a stat whose first HEAD `proxy` answers with the row's status
 * (the next ones pass through): its result and the HEADs it cost. `make(retries)` makes the store.
 */
export async function runStatStatusRows<I extends BlobInfo>(
  t: Test,
  proxy: FaultProxy,
  make: (retries: number) => RemoteTestStore<I>,
  key: string,
  rows: readonly StatStatusRow[],
): Promise<void> {
  for (const row of rows) {
    const store = make(row.retries)
    proxy.inject('HEAD', { status: row.status })
    const before = proxy.count.HEAD ?? 0
    const got = await store.stat(key).then(
      i => `size ${i.size}`,
      (e: unknown) => String(codeOf(e)),
    )
    t.equal(got, row.want, `${row.name}: ${row.want}`)
    t.equal((proxy.count.HEAD ?? 0) - before, row.attempts, `${row.name}: ${row.attempts} HEADs`)
  }
}
