import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { startServeProcess } from '../helpers/serve.js'

/** sample reads one sample of a Prometheus text exposition (undefined when absent). */
function sample(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    if (line.slice(0, space) === name) return Number(line.slice(space + 1))
  }
  return undefined
}

t.test('serve --metrics-listen: the counters of what was served, on a listener of its own', async t => {
  const base = t.testdir({ root: { 'a.txt': 'hello, metrics!!\n' } })
  const { url, output } = await startServeProcess(t, join(base, 'root'), ['--metrics-listen', '127.0.0.1:0'])
  const m = /metrics (http:\/\/\S+\/metrics)\)/.exec(output())
  if (!m) throw new Error(`no metrics address in: ${output()}`)
  const metricsUrl = m[1]!

  const sent: Array<[method: string, path: string, headers: Record<string, string>, status: number]> = [
    ['GET', '/a.txt', {}, 200],
    ['GET', '/missing', {}, 404],
    ['GET', '/a.txt', { range: 'bytes=0-4' }, 206],
    ['HEAD', '/a.txt', {}, 200],
    ['GET', '/metrics', {}, 404],
  ]
  let bodyBytes = 0
  for (const [method, path, headers, status] of sent) {
    const r = await request(`${url}${path}`, { method, headers })
    const body = Buffer.from(await r.body.arrayBuffer())
    t.equal(r.statusCode, status, `${method} ${path}`)
    bodyBytes += body.length
  }

  // A response is counted when it closes on the server, which may come just after the client has
  // its last byte: scrape until every request is counted (bounded).
  let text = ''
  for (let i = 0; i < 100; i++) {
    const r = await request(metricsUrl)
    if (r.statusCode !== 200) throw new Error(`scrape: ${r.statusCode}`)
    text = await r.body.text()
    if (sample(text, 'cutover_serve_active_requests') === 0) break
  }
  const want: Record<string, number> = {
    'cutover_serve_requests_total{code="200"}': 2,
    'cutover_serve_requests_total{code="206"}': 1,
    'cutover_serve_requests_total{code="404"}': 2,
    cutover_serve_active_requests: 0,
    cutover_serve_aborted_total: 0,
    cutover_serve_errors_total: 0,
    cutover_serve_body_bytes_total: bodyBytes,
    cutover_serve_buffer_limit_bytes: 64 * 1024 * 1024,
    cutover_serve_buffer_in_use_bytes: 0,
  }
  for (const [name, value] of Object.entries(want)) t.equal(sample(text, name), value, name)
  t.equal(
    (sample(text, 'cutover_serve_cache_hits_total') ?? 0) + (sample(text, 'cutover_serve_cache_misses_total') ?? 0),
    5,
    'every request the resolver saw is a cache hit or a miss',
  )
  t.match(text, /^process_resident_memory_bytes \d+/m, 'and the process metrics')
})
