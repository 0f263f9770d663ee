import type { Metrics } from '../telemetry/metrics.js'
import type { ManifestResolver } from '../payload/manifest-resolver.js'
import type { DownloadServer } from './server.js'
import type { ChunkCache } from '../cache/chunk-cache.js'
import type { ChunkMemory } from '../cache/chunk-memory.js'

/**
 * serveMetrics registers the Prometheus metrics of `cutover serve` (`cutover_serve_*`) on `m`'s
 * registry. Each reads the server's own counters when scraped (DownloadServer.stats, its
 * BufferBudget's stats, the resolver's cache counters when given, the manifest's reloads, hash and
 * missing blobs in manifest mode), so the metrics and the summary printed at shutdown are the same
 * numbers.
 */
export function serveMetrics(m: Metrics, server: DownloadServer, cache?: { readonly hits: number; readonly misses: number }, manifest?: ManifestResolver): void {
  const s = server.stats
  const b = server.budget
  m.labelledCounter('cutover_serve_requests_total', 'Closed responses, by status code (0: closed before an answer was chosen).', 'code', () => s.statuses)
  m.gauge('cutover_serve_active_requests', 'Requests whose response has not closed yet.', () => s.active)
  m.counter('cutover_serve_aborted_total', 'Responses cut before their end (client gone, or a read failed mid-body).', () => s.aborted)
  m.counter('cutover_serve_body_bytes_total', 'Body bytes handed to sockets.', () => s.bytes)
  m.counter('cutover_serve_errors_total', 'Failures of the server (5xx answers, reads failed while serving), each also logged.', () => s.errors)
  m.gauge('cutover_serve_buffer_limit_bytes', 'The read-buffer budget of all downloads (--max-buffer-memory).', () => b.bytes)
  m.gauge('cutover_serve_buffer_in_use_bytes', 'Read buffers leased to downloads now.', () => b.stats.inUse)
  m.gauge('cutover_serve_buffer_waiting', 'Downloads waiting for a read buffer now.', () => b.stats.waiting)
  m.counter('cutover_serve_buffer_waited_total', 'Read-buffer leases that had to wait for one to be free.', () => b.stats.waited)
  m.samplesCounter('cutover_serve_payload_requests_total', 'Closed responses by payload (manifest mode) and status code.', ['payload', 'code'], function* () {
    for (const [payload, p] of s.payloads) for (const [code, n] of Object.entries(p.statuses)) yield [{ payload, code }, n] as const
  })
  m.samplesCounter('cutover_serve_payload_body_bytes_total', 'Body bytes handed to sockets, by payload (manifest mode).', ['payload'], function* () {
    for (const [payload, p] of s.payloads) yield [{ payload }, p.bytes] as const
  })
  if (cache) {
    m.counter('cutover_serve_cache_hits_total', 'Requests answered from the cache (after a stat showed each file unchanged): small contents from memory, large ones by their cached validators.', () => cache.hits)
    m.counter('cutover_serve_cache_misses_total', 'Requests whose file or payload content was looked up afresh.', () => cache.misses)
  }
  if (manifest) {
    const st = manifest.stats
    m.counter('cutover_serve_manifest_reloads_total', 'Manifests that replaced the one in use (SIGHUP).', () => st.reloads)
    m.counter('cutover_serve_manifest_reload_failures_total', 'Reloads refused (invalid or unreadable manifest; the old one kept serving).', () => st.reloadFailures)
    m.counter('cutover_serve_missing_blobs_total', 'Requests for a live payload whose blob the store lacks (404, logged).', () => st.missingBlobs)
    m.info('cutover_serve_manifest_info', 'The manifest in use: its file and the sha256 of its text (value 1).', () => ({ file: manifest.manifest.file, sha256: manifest.manifest.hash }))
  }
}

/**
 * chunkCacheMetrics registers the metrics of the chunk cache of remote blobs
 * (`cutover_serve_chunk_cache_*`), read from the cache's live counters at each scrape: per cache
 * (`main`, and `hot` for chunks other peers own), hits, misses, evictions, bytes and chunks held;
 * loads from the store, loads joined by a concurrent miss of the same chunk (singleflight), load
 * failures, loads cancelled (every waiter left), reads of settling blobs that were never cached, and
 * prefetches started, used and wasted (evicted or cancelled before any read); with `memory`
 * (--cache-prealloc), the chunk buffers prepared at start-up, those left and the reads that got
 * fresh memory instead.
 */
export function chunkCacheMetrics(m: Metrics, cache: ChunkCache, memory?: ChunkMemory): void {
  const per = (pick: (t: ChunkCache['stats']['main']) => number) => (): Record<string, number> => ({
    main: pick(cache.stats.main),
    hot: pick(cache.stats.hot),
  })
  m.labelledCounter('cutover_serve_chunk_cache_hits_total', 'Chunk reads found in the cache, by cache (main, hot).', 'cache', per(t => t.hits))
  m.labelledCounter('cutover_serve_chunk_cache_misses_total', 'Chunk reads not in the cache, by cache.', 'cache', per(t => t.misses))
  m.labelledCounter('cutover_serve_chunk_cache_evictions_total', 'Chunks evicted to stay within --cache-size, by cache.', 'cache', per(t => t.evictions))
  m.gauge('cutover_serve_chunk_cache_limit_bytes', 'The byte budget of the chunk cache (main and hot together).', () => cache.maxBytes)
  m.labelledGauge('cutover_serve_chunk_cache_bytes', 'Bytes of chunks held now, by cache.', 'cache', per(t => t.bytes))
  m.labelledGauge('cutover_serve_chunk_cache_chunks', 'Chunks held now, by cache.', 'cache', per(t => t.items))
  const st = (): ChunkCache['stats'] => cache.stats
  m.counter('cutover_serve_chunk_loads_total', 'Chunks loaded from the store (each once however many downloads wanted it at once).', () => st().loads)
  m.counter('cutover_serve_chunk_loads_deduplicated_total', 'Chunk misses that joined a load of the same chunk already in flight (singleflight).', () => st().loadsDeduplicated)
  m.counter('cutover_serve_chunk_load_errors_total', 'Chunk loads that failed (never cached; the next read tries again).', () => st().loadErrors)
  m.counter('cutover_serve_chunk_loads_cancelled_total', 'Chunk loads cancelled because every download waiting for them left.', () => st().loadsCancelled)
  m.counter('cutover_serve_chunk_uncached_loads_total', 'Chunk reads of settling blobs (no version yet): read through, never cached.', () => st().uncachedLoads)
  m.counter('cutover_serve_prefetch_started_total', 'Chunk loads a sequential download started ahead of its reads.', () => st().prefetchStarted)
  m.counter('cutover_serve_prefetch_used_total', 'Prefetched chunks that a read then used.', () => st().prefetchUsed)
  m.counter('cutover_serve_prefetch_wasted_total', 'Prefetched chunks evicted or cancelled before any read used them.', () => st().prefetchWasted)
  if (memory) {
    m.gauge('cutover_serve_chunk_memory_prepared_chunks', 'Chunk buffers brought into memory at start-up (--cache-prealloc).', () => memory.prepared)
    m.gauge('cutover_serve_chunk_memory_left_chunks', 'Of those, the ones no store read has taken yet.', () => memory.left)
    m.counter('cutover_serve_chunk_memory_fresh_total', 'Store reads that got fresh memory instead (another length than a chunk, or none prepared left).', () => memory.fresh)
  }
}
