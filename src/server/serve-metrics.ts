import type { Metrics } from '../telemetry/metrics.js'
import type { ManifestResolver } from '../payload/manifest-resolver.js'
import type { DownloadServer } from './server.js'

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
