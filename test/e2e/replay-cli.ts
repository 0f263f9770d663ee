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

t.test('cutover replay never passes a gate on nothing: exit 3 when fewer than --min-compared (default 1) were compared', async t => {
  const line = (path: string, headers: Record<string, string> = {}) =>
    JSON.stringify({ time: '2025-10-10T13:56:01.007Z', remote: '127.0.0.1', method: 'GET', path, headers, status: 200, bytes: 11, durationMs: 1, aborted: false })
  const dir = t.testdir({
    'empty.jsonl': '',
    'all-bad.jsonl': 'not json\n{"also": "bad"}\n',
    'good.jsonl': `${line('/nums11.txt')}\n${line('/data.json')}\n`,
    'long.jsonl': `${line(`/${'a'.repeat(4096)}`)}\n${line('/nums11.txt')}\n`,
    'snowman.jsonl': `${line('/nums11.txt')}\n${line('/nums11.txt', { 'if-none-match': '"☃"' })}\n${line('/nums11.txt', { range: 'bytes=0-1\r\nx: y' })}\n`,
  })
  cpSync(join(REPO, 'fixtures/blobs'), join(dir, 'blobs'), { recursive: true, preserveTimestamps: true })
  const a = await startServe(t, join(dir, 'blobs'))
  const b = await startServe(t, join(dir, 'blobs'))
  const cases: Array<{ title: string; args: string[]; code: number; stdout?: RegExp; stderr?: RegExp }> = [
    { title: 'an empty log', args: ['empty.jsonl'], code: 3, stderr: /nothing was compared/ },
    { title: 'every line bad', args: ['all-bad.jsonl', '--format', 'jsonl'], code: 3, stdout: /bad lines 2/, stderr: /nothing was compared/ },
    { title: 'a filter that kept nothing', args: ['good.jsonl', '--filter', 'path=^/nowhere'], code: 3, stdout: /filtered 2/, stderr: /nothing was compared/ },
    { title: 'fewer than --min-compared', args: ['good.jsonl', '--min-compared', '3'], code: 3, stdout: /compared 2 /, stderr: /2 compared, fewer than --min-compared 3/ },
    { title: 'exactly --min-compared', args: ['good.jsonl', '--min-compared', '2'], code: 0, stdout: /compared 2 {2}divergent 0/ },
    { title: 'a clean replay', args: ['good.jsonl'], code: 0, stdout: /compared 2 {2}divergent 0/ },
    { title: 'a line over --max-line-bytes', args: ['long.jsonl', '--max-line-bytes', '1k'], code: 0, stdout: /records 1 {2}bad lines 1 /, stderr: /long\.jsonl:1: line: longer than 1024 bytes \(4\d{3} bytes\)/ },
    {
      title: 'header values a request cannot carry are bad lines with file:line, not divergences',
      args: ['snowman.jsonl'],
      code: 0,
      stdout: /records 1 {2}bad lines 2 .*\n.*compared 1 {2}divergent 0/,
      stderr: /snowman\.jsonl:2: headers\.if-none-match: not a value a request can carry[^\n]*\n[^\n]*snowman\.jsonl:3: headers\.range: /,
    },
  ]
  for (const c of cases) {
    const args = [CLI, 'replay', ...c.args.map(x => (x.endsWith('.jsonl') ? join(dir, x) : x)), '--old', a.url, '--new', b.url]
    const r = await run(process.execPath, args, { timeoutMs: 60_000 })
    t.equal(r.code, c.code, `${c.title}: exit ${c.code}: ${r.stdout}${r.stderr}`)
    if (c.stdout) t.match(r.stdout, c.stdout, `${c.title}: summary`)
    if (c.stderr) t.match(r.stderr, c.stderr, `${c.title}: message`)
  }
  const zero = await run(process.execPath, [CLI, 'replay', join(dir, 'good.jsonl'), '--old', a.url, '--new', b.url, '--min-compared', 'x'])
  t.equal(zero.code, 2, '--min-compared takes a count')
})

t.test('cutover replay warns, per file, when a log without a Range field has 206 lines (replayed as full GETs)', async t => {
  const line = (status: number, range = '') => `192.0.2.1 - - [10/Oct/2025:13:55:01 +0000] "GET /nums11.txt HTTP/1.1" ${status} 11 "-" "curl"${range}\n`
  const dir = t.testdir({
    'default.log': line(206).repeat(3) + line(200),
    'kept.log': line(206, ' "bytes=0-1"') + line(200, ' "-"'),
  })
  cpSync(join(REPO, 'fixtures/blobs'), join(dir, 'blobs'), { recursive: true, preserveTimestamps: true })
  const a = await startServe(t, join(dir, 'blobs'))
  const r = await run(process.execPath, [CLI, 'replay', join(dir, 'default.log'), join(dir, 'kept.log'), '--old', a.url, '--new', a.url], { timeoutMs: 60_000 })
  t.equal(r.code, 0, `exit 0: ${r.stdout}${r.stderr}`)
  t.match(r.stderr, /default\.log: 3 lines answered 206 but the log has no Range field/, 'the count, per file')
  t.notMatch(r.stderr, /kept\.log: \d+ lines answered 206/, 'no warning for a log that keeps the Range')
})
