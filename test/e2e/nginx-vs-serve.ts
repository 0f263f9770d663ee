import { readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { Comparison } from '../../src/audit/divergence.js'
import { HttpBackend } from '../../src/audit/http-backend.js'
import { EtagPairs } from '../../src/audit/etag-pairs.js'
import { runExperiment } from '../../src/audit/experiment.js'
import { parseRules } from '../../src/audit/rules.js'
import { prngBytes } from '../helpers/e2e.js'
import { startNginx } from '../helpers/nginx.js'
import { REPO, requireTool, startServe } from '../helpers/serve.js'

/** The battery: every kind of request a download client sends, in an order that lets ETags pair. */
function battery(etagOf: (path: string) => string | undefined): Array<{ path: string; method?: string; headers?: Record<string, string> }> {
  const out: Array<{ path: string; method?: string; headers?: Record<string, string> }> = []
  for (const path of ['/nums11.txt', '/big.bin', '/data.json']) {
    out.push({ path }, { path, method: 'HEAD' })
    for (const range of ['bytes=0-4', 'bytes=2-', 'bytes=-5', 'bytes=3-7', 'bytes=0-0,-2', 'bytes=0-1,5-8', 'bytes=0-1,5-', 'bytes=5-1000000000', 'bytes=0-9', 'bytes=10-', 'bytes=11-', 'bytes=100000000-'])
      out.push({ path, headers: { range } })
    out.push({ path, headers: { range: 'bytes=0-3', 'if-range': 'Mon, 02 Jan 2006 15:04:05 GMT' } })
    out.push({ path, headers: { 'if-modified-since': 'Mon, 02 Jan 2006 15:04:05 GMT' } })
    out.push({ path, headers: { 'if-modified-since': 'Fri, 01 Jan 2100 00:00:00 GMT' } })
    out.push({ path, headers: { 'if-unmodified-since': 'Mon, 02 Jan 2006 15:04:05 GMT' } })
    const tag = etagOf(path)
    if (tag) {
      out.push({ path, headers: { 'if-none-match': tag } })
      out.push({ path, headers: { range: 'bytes=0-3', 'if-range': tag } })
      out.push({ path, headers: { 'if-match': tag } })
    }
  }
  out.push({ path: '/missing.bin' }, { path: '/dir/' })
  return out
}

t.test('nginx and cutover serve agree on a battery of requests under the documented rules', async t => {
  if (!requireTool(t, 'nginx')) return
  const top = t.testdir({ root: { 'nums11.txt': '0123456789\n', 'data.json': '{"a":1}\n', dir: { 'index.html': '<p>hi</p>\n' } }, nginx: {} })
  const root = join(top, 'root')
  writeFileSync(join(root, 'big.bin'), prngBytes(3 * 1024 * 1024, 42))
  for (const f of ['nums11.txt', 'data.json', 'big.bin', 'dir/index.html']) utimesSync(join(root, f), 1700000000, 1700000000)
  const old = await startNginx(t, root, join(top, 'nginx'))
  const nw = await startServe(t, root)
  const rulesPath = join(REPO, 'fixtures/rules/nginx-vs-cutover.yaml')
  const rules = parseRules(readFileSync(rulesPath, 'utf8'), rulesPath)
  const a = new HttpBackend({ name: 'old', base: old.url })
  const b = new HttpBackend({ name: 'new', base: nw.url })
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  const etags = new EtagPairs()
  const seen = new Map<string, string>()
  const results: Comparison[] = []
  // Two passes: the first learns each side's ETags, the second sends validators (translated).
  for (const pass of [0, 1]) {
    for (const [i, r] of battery(p => (pass === 1 ? seen.get(p) : undefined)).entries()) {
      const req = { id: `${pass}-${i}`, method: r.method ?? 'GET', path: r.path, headers: r.headers ?? {} }
      // The experiment translates the validators to new's tags and learns the pairs, as the mirror does.
      const c = await runExperiment(req, { control: a, candidate: b }, {
        rules,
        etags,
        onAnswer: (side, co) => {
          if (side !== 'control' || co.kind !== 'response' || co.status !== 200) return
          const tag = co.headers.find(([k]) => k === 'etag')?.[1]
          if (tag) seen.set(r.path, tag)
        },
      })
      results.push(c)
    }
  }
  const divergent = results.filter(c => c.divergences.length > 0)
  t.ok(results.length > 80, `${results.length} exchanges compared`)
  // One line per divergence, so a failure reads like a report.
  const lines = divergent.flatMap(c =>
    c.divergences.map(d => `${c.request.method} ${c.request.path} ${JSON.stringify(c.request.headers)} → ${JSON.stringify(d)}`),
  )
  t.same(lines, [], 'no divergence')
  t.ok(results.some(c => c.ignored.length > 0), 'the rules did explain differences (they are recorded, not dropped)')
})
