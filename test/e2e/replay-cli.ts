import { cpSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { Comparison } from '../../src/audit/divergence.js'
import { readJsonl, run } from '../helpers/e2e.js'
import { startFaulty } from '../helpers/faulty.js'
import { CLI, REPO, startServe } from '../helpers/serve.js'

const LOGS = join(REPO, 'fixtures/logs')
const logs = ['nginx-combined.txt', 'nginx-combined.txt.gz', 'apache-common.txt', 'cutover.jsonl', 'chrome.har', 'goreplay.gor'].map(f => join(LOGS, f))

t.test('cutover replay of every fixture log against two equal servers: no divergence, every bad line reported', async t => {
  const dir = t.testdir({})
  cpSync(join(REPO, 'fixtures/blobs'), join(dir, 'blobs'), { recursive: true, preserveTimestamps: true })
  const a = await startServe(t, join(dir, 'blobs'))
  const b = await startServe(t, join(dir, 'blobs'))
  const out = join(dir, 'out.jsonl')
  const r = await run(process.execPath, [CLI, 'replay', ...logs, '--old', a.url, '--new', b.url, '--range-probes', '9', '--out', out], { timeoutMs: 60_000 })
  t.equal(r.code, 0, `exit 0: ${r.stdout}${r.stderr}`)
  t.match(r.stdout, /records 66 {2}bad lines 29/, 'every record read and every bad line counted')
  t.match(r.stdout, /compared \d+ {2}divergent 0/)
  t.match(r.stdout, /probes \d+ \(verified [1-9]\d*/, 'probes ran and were verified against the full body')
  for (const [file, line] of [
    ['nginx-combined.txt', 14],
    ['apache-common.txt', 10],
    ['cutover.jsonl', 12],
    ['chrome.har', 8],
    ['goreplay.gor', 79],
  ] as const)
    t.match(r.stderr, new RegExp(`${file}:${line}: \\S+`), `${file}:${line} is reported with its reason`)
  t.same(readJsonl(out), [], 'nothing to write: no divergence, no rule, no noise')
})

t.test('cutover replay exits 1 and writes the divergence when new is wrong, 2 on bad input', async t => {
  const dir = t.testdir({})
  cpSync(join(REPO, 'fixtures/blobs'), join(dir, 'blobs'), { recursive: true, preserveTimestamps: true })
  const old = await startServe(t, join(dir, 'blobs'))
  const faulty = await startFaulty(t, old.url, { '/nums11.txt': { flipByte: 3 } })
  const out = join(dir, 'out.jsonl')
  const r = await run(process.execPath, [CLI, 'replay', join(LOGS, 'nginx-combined.txt'), '--old', old.url, '--new', faulty.url, '--out', out, '--filter', 'path=^/nums11', '--filter', 'method=GET'], {
    timeoutMs: 60_000,
  })
  t.equal(r.code, 1, `exit 1: ${r.stdout}${r.stderr}`)
  const records = readJsonl(out) as unknown as Comparison[]
  t.match(records[0], { request: { path: '/nums11.txt' }, divergences: [{ kind: 'body-bytes', offset: 3 }] })
  t.ok(records.every(c => c.request.path.startsWith('/nums11')), 'the filter kept only /nums11')

  const missing = await run(process.execPath, [CLI, 'replay', join(dir, 'nope.log'), '--old', old.url, '--new', old.url])
  t.equal(missing.code, 2, 'a missing log is a usage error')
  t.match(missing.stderr, /nope\.log/)
  const badFilter = await run(process.execPath, [CLI, 'replay', join(LOGS, 'cutover.jsonl'), '--old', old.url, '--new', old.url, '--filter', 'size=1'])
  t.equal(badFilter.code, 2)
  t.match(badFilter.stderr, /--filter size=1/)
})
