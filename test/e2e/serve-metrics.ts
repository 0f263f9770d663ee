import { once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { waitForOutput, writeLargeFile } from '../helpers/e2e.js'
import { exited, startServeProcess } from '../helpers/serve.js'

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

t.test('serve --metrics-listen: /healthz, and /readyz turns 503 as soon as a drain starts, while a download is still in flight', async t => {
  const base = t.testdir({ root: {} })
  // Big enough that a client that does not read holds the response in flight (socket buffers full).
  writeLargeFile(join(base, 'root', 'big.bin'), 32, 3)
  const { url, child, output } = await startServeProcess(t, join(base, 'root'), ['--metrics-listen', '127.0.0.1:0', '--grace', '60s'])
  const m = /metrics (http:\/\/\S+)\/metrics\)/.exec(output())
  if (!m) throw new Error(`no metrics address in: ${output()}`)
  const health = m[1]!
  const probe = async (path: string, method = 'GET'): Promise<[number, string]> => {
    const r = await request(`${health}${path}`, { method })
    return [r.statusCode, await r.body.text()]
  }
  const before: Array<[path: string, method: string, status: number, body: string]> = [
    ['/healthz', 'GET', 200, 'ok\n'],
    ['/readyz', 'GET', 200, 'ready\n'],
    ['/readyz', 'HEAD', 200, ''],
    ['/healthz/x', 'GET', 404, '404 page not found\n'],
    ['/readyz', 'POST', 404, '404 page not found\n'],
  ]
  for (const [path, method, status, body] of before) t.same(await probe(path, method), [status, body], `before: ${method} ${path}`)
  const pub = await request(`${url}/readyz`)
  await pub.body.dump()
  t.equal(pub.statusCode, 404, 'never on the public listener')

  // A download held in flight: its client reads nothing after the status line.
  const { port } = new URL(url)
  const sock = connect(Number(port), '127.0.0.1')
  t.teardown(() => sock.destroy())
  sock.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n')
  await once(sock, 'data')
  sock.pause()

  child.kill('SIGTERM')
  await waitForOutput(child, output, /draining 1 response/)
  t.same(await probe('/readyz'), [503, 'draining\n'], 'draining: not ready')
  t.same(await probe('/healthz'), [200, 'ok\n'], 'draining: still alive')
  sock.destroy()
  t.equal(await exited(child), 0, 'exits 0 once the download is gone')
})
