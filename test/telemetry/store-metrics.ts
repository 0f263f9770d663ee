import { createHash } from 'node:crypto'
import { Registry } from 'prom-client'
import t from 'tap'
import { FallbackStore } from '../../src/storage/fallback-store.js'
import { InstrumentedStore } from '../../src/storage/instrumented-store.js'
import { Metrics } from '../../src/telemetry/metrics.js'
import { storeCounters, storeLatency } from '../../src/telemetry/store-metrics.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { ScriptedStore } from '../helpers/scripted-store.js'

t.test('store metrics read the stores\' and the chain\'s counters at scrape time', async t => {
  const clock = new ManualClock()
  const s3 = new ScriptedStore('s3', { k: 'blob bytes' })
  const disk = new ScriptedStore('disk', { k: 'blob bytes', only: 'on disk' })
  const registry = new Registry()
  const metrics = new Metrics(registry)
  // The order cli/ follows: the histogram, the stores with their hooks, the chain, the counters.
  const latency = storeLatency(metrics)
  const wrapped = [
    new InstrumentedStore(s3, { name: 's3', clock, latency: latency.forStore('s3') }),
    new InstrumentedStore(disk, { name: 'disk', clock, latency: latency.forStore('disk') }),
  ]
  const chain = new FallbackStore({
    stores: wrapped.map(store => ({ name: store.name, store })),
    declaredSha256: () => createHash('sha256').update('blob bytes').digest('hex'),
  })
  storeCounters(metrics, { stores: wrapped, fallback: chain.stats })
  const lines = async (): Promise<string[]> => (await registry.metrics()).split('\n').filter(l => l !== '' && !l.startsWith('#'))
  const before = await lines()
  t.ok(before.includes('cutover_store_read_reroutes_total 0'), 'zero before anything')
  t.notOk(before.some(l => l.startsWith('cutover_store_fallbacks_total{')), 'no fallback sample yet')

  await chain.stat('only') // s3: NOT_FOUND, then disk
  const info = await chain.stat('k')
  s3.readFault = 'ERR_IO'
  await chain.read(info, 0, 100) // s3 fails; disk is hashed, then read
  const got = await lines()
  for (const want of [
    'cutover_store_stats_total{store="s3"} 2',
    'cutover_store_stats_total{store="disk"} 2',
    'cutover_store_reads_total{store="s3"} 1',
    'cutover_store_reads_total{store="disk"} 2',
    'cutover_store_read_bytes_total{store="disk"} 20',
    'cutover_store_errors_total{store="s3",code="ERR_NOT_FOUND"} 1',
    'cutover_store_errors_total{store="s3",code="ERR_IO"} 1',
    'cutover_store_fallbacks_total{store="s3",reason="ERR_NOT_FOUND"} 1',
    'cutover_store_fallbacks_total{store="s3",reason="ERR_IO"} 1',
    'cutover_store_read_reroutes_total 1',
    'cutover_store_verifications_total 1',
    'cutover_store_reroutes_refused_total{reason="digest"} 0',
    'cutover_store_duration_seconds_count{store="s3",op="read",outcome="ERR_IO"} 1',
    'cutover_store_duration_seconds_count{store="disk",op="read",outcome="ok"} 2',
    'cutover_store_duration_seconds_count{store="s3",op="stat",outcome="ok"} 1',
  ]) {
    t.ok(got.includes(want), want)
  }
  t.strictSame(await lines(), got, 'a second scrape shows the same numbers')
})

t.test('without a chain, only the per-store counters are registered', async t => {
  const registry = new Registry()
  storeCounters(new Metrics(registry), { stores: [new InstrumentedStore(new ScriptedStore('s'), { name: 'disk' })] })
  const text = await registry.metrics()
  t.match(text, /cutover_store_stats_total\{store="disk"\} 0/, 'the store is there')
  t.notMatch(text, /cutover_store_(fallbacks|read_reroutes|reroutes_refused|verifications)_total/, 'no chain metric')
})
