// Real download clients (curl, wget, aria2c) against `cutover serve`: single ranges, resumes and
// segmented downloads must give the exact bytes.
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { exited, requireTool, startServe, startServeProcess } from '../helpers/serve.js'
import { prngBytes, readJsonl, run, sha256, sha256File, withTimeout, writeLargeFile } from '../helpers/e2e.js'

const SIZE = 3 * 1024 * 1024 + 12345 // several pieces, not a multiple of anything
const blob = prngBytes(SIZE, 42)

t.test('curl -r 100-199 gets exactly those bytes with 206', async t => {
  if (!requireTool(t, 'curl')) return
  const dir = t.testdir({ root: { 'blob.bin': blob }, out: {} })
  const { url } = await startServe(t, join(dir, 'root'))
  const out = join(dir, 'out', 'slice')
  const r = await run('curl', ['-sS', '-r', '100-199', '-o', out, '-w', '%{http_code} %{size_download}', `${url}/blob.bin`])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '206 100')
  t.same(readFileSync(out), blob.subarray(100, 200))
})

t.test('curl -C - resumes a partial file', async t => {
  if (!requireTool(t, 'curl')) return
  const base = t.testdir({ root: { 'blob.bin': blob }, out: {} })
  const { url } = await startServe(t, join(base, 'root'))
  const dir = join(base, 'out')
  const file = join(dir, 'blob.bin')
  const partial = 1_234_567
  writeFileSync(file, blob.subarray(0, partial))
  const r = await run('curl', ['-sS', '-C', '-', '-o', file, '-w', '%{http_code} %{size_download}', `${url}/blob.bin`])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, `206 ${SIZE - partial}`, 'only the missing tail was downloaded')
  t.equal(statSync(file).size, SIZE)
  t.equal(sha256File(file), sha256(blob))
})

t.test('wget -c resumes a partial file', async t => {
  if (!requireTool(t, 'wget')) return
  const base = t.testdir({ root: { 'blob.bin': blob }, out: {} })
  const { url } = await startServe(t, join(base, 'root'))
  const dir = join(base, 'out')
  const file = join(dir, 'blob.bin')
  const partial = 2_000_001
  writeFileSync(file, blob.subarray(0, partial))
  // -S prints the server's response headers on stderr: the resume must have been a 206.
  const r = await run('wget', ['-nv', '-S', '-c', '--no-config', '--tries=1', `${url}/blob.bin`], { cwd: dir })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /HTTP\/1\.1 206 Partial Content/)
  t.match(r.stderr, new RegExp(`Content-Range: bytes ${partial}-${SIZE - 1}/${SIZE}`))
  t.equal(statSync(file).size, SIZE)
  t.equal(sha256File(file), sha256(blob))
})

t.test('aria2c -x8 -s8 -k1M segmented download', async t => {
  if (!requireTool(t, 'aria2c')) return
  // One testdir per test (a second t.testdir() call would wipe the first).
  const base = t.testdir({ root: {}, out: {} })
  const root = join(base, 'root')
  const dir = join(base, 'out')
  const mib = 64
  const want = writeLargeFile(join(root, 'big.bin'), mib, 7)
  const log = join(base, 'access.jsonl')
  const { url, child } = await startServeProcess(t, root, ['--access-log', log, '--grace', '10s'])
  const r = await run(
    'aria2c',
    [
      '--no-conf',
      '-x8',
      '-s8',
      '-k1M',
      '--file-allocation=none',
      '--allow-overwrite=true',
      '--auto-file-renaming=false',
      '--summary-interval=0',
      '--console-log-level=warn',
      '--download-result=hide',
      '-d',
      dir,
      '-o',
      'big.bin',
      `${url}/big.bin`,
    ],
    { timeoutMs: 60_000 },
  )
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
  t.equal(statSync(join(dir, 'big.bin')).size, mib * 1024 * 1024)
  t.equal(sha256File(join(dir, 'big.bin')), want)

  // Stop the server so the access log is flushed, then check aria2c really split the download.
  child.kill('SIGTERM')
  t.equal(await withTimeout(exited(child), 15_000, 'cutover serve exit'), 0)
  const recs = readJsonl(log).filter(x => x.path === '/big.bin')
  const ranged = recs.filter(x => x.status === 206 && typeof (x.headers as Record<string, string>).range === 'string')
  t.comment(`aria2c: ${recs.length} requests, ${ranged.length} answered 206, ${recs.filter(x => x.aborted).length} aborted`)
  t.ok(ranged.length >= 2, `several 206 Range requests (got ${ranged.length} of ${recs.length})`)
  t.ok(
    new Set(ranged.map(x => (x.headers as Record<string, string>).range)).size === ranged.length,
    'each segment asked for a different range',
  )
})
