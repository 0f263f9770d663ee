import { createHash } from 'node:crypto'
import t from 'tap'
import { prngBytes, withTimeout } from '../helpers/e2e.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { bucketOf, hashBody, manifestFile, peakRssBytes, sample, settled, startS3rver, startS3Serve } from '../helpers/s3-serve.js'

const MIB = 1024 * 1024
/** BLOB_MIB is the size of the hot blob: 32 chunks of the default 2 MiB. */
const BLOB_MIB = 64
const CHUNK = 2 * MIB
/** CLIENTS download the blob at once, before any of it is cached. */
const CLIENTS = 50
/** CACHE_SIZE is --cache-size: with a remote store the chunk cache gets all of it but 1/64 (252 MiB), so the blob fits. */
const CACHE_SIZE = 256 * MIB
/** RSS_SLACK is what the serve process may hold beyond its cache budget (Node itself, sockets, buffers). */
const RSS_SLACK = 100 * MIB

/** hotBlob is 64 MiB of pseudo-random 1 MiB blocks, each stamped with its index (no two blocks equal). */
function hotBlob(): Buffer {
  const block = prngBytes(MIB, 7)
  const out = Buffer.allocUnsafe(BLOB_MIB * MIB)
  for (let i = 0; i < BLOB_MIB; i++) {
    block.writeBigUInt64BE(BigInt(i), 0)
    block.copy(out, i * MIB)
  }
  return out
}

t.test('a hot spike: 50 clients at once on one uncached 64 MiB S3 blob read each chunk from S3 exactly once', async t => {
  const target = await startS3rver(t)
  const bucket = bucketOf(t, target)
  const blob = hotBlob()
  const want = createHash('sha256').update(blob).digest('hex')
  await bucket.put('hot.bin', blob)
  // Counted at the store: every request serve sends to S3 passes this proxy (no faults injected).
  const proxy = await startFaultProxy(t, target.endpoint)
  const manifest = manifestFile(t.testdir({}), ['hot.bin'])
  const serve = await startS3Serve(t, {
    manifest,
    target,
    prefix: bucket.prefix,
    endpoint: proxy.url,
    extra: ['--cache-size', `${CACHE_SIZE / MIB}MiB`],
  })
  t.match(serve.output(), /chunk cache 252 ?MiB in 2 ?MiB chunks/, 'the chunk cache is --cache-size less 1/64 (validators), in 2 MiB chunks')

  const started = Date.now()
  const results = await withTimeout(
    Promise.all(Array.from({ length: CLIENTS }, () => hashBody(`${serve.url}/hot.bin`, 120_000))),
    // A bound, not a timing assertion: alone it takes about 10 s, with the suite's other files on the same 2 cores several times that.
    120_000,
    `${CLIENTS} downloads of the hot blob`,
  )
  const seconds = (Date.now() - started) / 1000
  t.strictSame(
    results.map(r => `${r.status} ${r.bytes} ${r.complete} ${r.sha256}`),
    Array.from({ length: CLIENTS }, () => `200 ${blob.length} true ${want}`),
    `every one of the ${CLIENTS} clients got the whole blob, its sha256 right`,
  )

  const chunks = Math.ceil(blob.length / CHUNK)
  const gets = proxy.log.filter(r => r.method === 'GET')
  const ranges = gets.map(r => r.range ?? 'none')
  const distinct = new Set(ranges)
  t.comment(`store reads (ranged GETs at S3): ${gets.length} for ${chunks} chunks (${distinct.size} distinct ranges); stats (HEADs): ${proxy.count.HEAD ?? 0}`)
  t.equal(gets.length, chunks, `S3 got ${chunks} GETs: one per chunk`)
  t.equal(distinct.size, chunks, 'each for a chunk of its own: no chunk read twice')
  t.strictSame(
    [...distinct].map(r => /^bytes=(\d+)-(\d+)$/.exec(r)?.slice(1).map(Number) ?? r).sort((x, y) => (x as number[])[0]! - (y as number[])[0]!),
    Array.from({ length: chunks }, (_, i) => [i * CHUNK, Math.min(blob.length, (i + 1) * CHUNK) - 1]),
    'the ranges are exactly the chunks of the blob',
  )

  const text = await settled(serve.metricsUrl)
  t.equal(sample(text, 'cutover_serve_chunk_loads_total'), chunks, 'the chunk cache counts one load per chunk')
  t.equal(sample(text, 'cutover_store_reads_total{store="s3"}'), chunks, 'and the store one read per chunk')
  t.equal(sample(text, 'cutover_store_read_bytes_total{store="s3"}'), blob.length, 'of the blob\'s bytes once')
  t.equal(sample(text, 'cutover_serve_chunk_load_errors_total'), 0, 'no load failed')
  t.equal(sample(text, 'cutover_serve_chunk_cache_evictions_total{cache="main"}'), 0, 'nothing evicted: the blob fits')
  t.comment(`chunk loads deduplicated (a miss joining a load in flight): ${sample(text, 'cutover_serve_chunk_loads_deduplicated_total')}; ` + `chunk cache hits ${sample(text, 'cutover_serve_chunk_cache_hits_total{cache="main"}')}`)

  const peak = peakRssBytes(serve.child.pid!)
  t.comment(`serve peak RSS (VmHWM): ${(peak / MIB).toFixed(1)} MiB; budget ${CACHE_SIZE / MIB} MiB + ${RSS_SLACK / MIB} MiB; ${CLIENTS} x ${BLOB_MIB} MiB in ${seconds.toFixed(1)} s`)
  t.ok(peak <= CACHE_SIZE + RSS_SLACK, `peak RSS ${(peak / MIB).toFixed(1)} MiB within --cache-size + 100 MiB`)
})
