// `cutover serve` path safety, files on disk, the access log, graceful shutdown and the command line.
import { once } from 'node:events'
import { readFileSync, readdirSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { get as httpGet, type IncomingMessage } from 'node:http'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { CLI, REPO, exited, startServe, startServeProcess } from '../helpers/serve.js'
import {
  header,
  prngBytes,
  rawRequest,
  readJsonl,
  run,
  sha256,
  waitForOutput,
  withTimeout,
  writeLargeFile,
} from '../helpers/e2e.js'

const NOT_FOUND = '404 page not found\n'
const BAD_REQUEST = '400 Bad Request\n'

/** A root with every kind of entry the path tests need, plus a directory outside it. */
function layout(t: Test) {
  const base = t.testdir({
    root: {
      'a.txt': 'hello a\n',
      'x': 'x at the root\n',
      '.secret': 'dotfile\n',
      dir: { 'index.html': '<p>index</p>\n', '.git': { config: '[core]\n' }, 'sub.txt': 'sub\n' },
      empty: {},
      'data.json': '{"a":1}\n',
      'notes.txt': 'notes\n',
      'blob.zzqq': 'unknown\n',
      noext: 'no extension\n',
      'page.html': '<p>page</p>\n',
    },
    outside: { 'secret.txt': 'outside the root\n', sub: { 'inner.txt': 'inner\n' } },
  })
  const root = join(base, 'root')
  const outside = join(base, 'outside')
  symlinkSync(join(outside, 'secret.txt'), join(root, 'out-link.txt'))
  symlinkSync(join(outside, 'sub'), join(root, 'out-dir'))
  symlinkSync('../outside/secret.txt', join(root, 'rel-out-link.txt'))
  symlinkSync(join(root, 'a.txt'), join(root, 'in-link.txt'))
  symlinkSync('dir', join(root, 'in-dir'))
  return { base, root, outside }
}

t.test('path safety', async t => {
  const { root } = layout(t)
  const { url } = await startServe(t, root)
  const cases: [string, number, string?][] = [
    ['/../x', 400, BAD_REQUEST],
    ['/a/../x', 400, BAD_REQUEST],
    ['/..', 400, BAD_REQUEST],
    ['/%2e%2e/x', 400, BAD_REQUEST],
    ['/%2E%2E/x', 400, BAD_REQUEST],
    ['/a/%2E%2E/%2E%2E/etc/passwd', 400, BAD_REQUEST],
    ['/%2e%2e%2fx', 400, BAD_REQUEST],
    ['/dir/..%2f..%2fa.txt', 400, BAD_REQUEST],
    ['/%zz', 400, BAD_REQUEST],
    ['/%', 400, BAD_REQUEST],
    ['/a%2', 400, BAD_REQUEST],
    ['/%e2%98', 400, BAD_REQUEST], // truncated UTF-8
    ['/%00', 400, BAD_REQUEST],
    ['/a.txt%00.png', 400, BAD_REQUEST],
    ['/dir%5c..%5ca.txt', 400, BAD_REQUEST],
    ['/.secret', 404, NOT_FOUND],
    ['/%2esecret', 404, NOT_FOUND],
    ['/dir/.git/config', 404, NOT_FOUND],
    ['/dir/%2Egit/config', 404, NOT_FOUND],
    ['/missing', 404, NOT_FOUND],
    ['/a.txt/', 404, NOT_FOUND],
    ['/a.txt/more', 404, NOT_FOUND],
    ['/out-link.txt', 404, NOT_FOUND],
    ['/rel-out-link.txt', 404, NOT_FOUND],
    ['/out-dir/inner.txt', 404, NOT_FOUND],
    ['/a.txt', 200, 'hello a\n'],
    ['/./a.txt', 200, 'hello a\n'],
    ['//a.txt', 200, 'hello a\n'],
    ['/a.txt?x=../..', 200, 'hello a\n'],
    ['/%61.txt', 200, 'hello a\n'],
    ['/in-link.txt', 200, 'hello a\n'],
    ['/in-dir/sub.txt', 200, 'sub\n'],
    ['/dir/sub.txt', 200, 'sub\n'],
  ]
  for (const [target, status, body] of cases) {
    const r = await rawRequest(url, 'GET', target)
    t.equal(r.status, status, `${target} → ${status}`)
    if (body !== undefined) t.equal(r.body.toString('utf8'), body, `${target} body`)
    if (status >= 400) {
      t.equal(header(r, 'content-type'), 'text/plain; charset=utf-8', `${target} error Content-Type`)
      t.equal(header(r, 'x-content-type-options'), 'nosniff')
      t.equal(header(r, 'etag'), undefined, `${target} error has no ETag`)
    }
  }
})

t.test('directories, missing files, methods', async t => {
  const { root } = layout(t)
  const { url } = await startServe(t, root)

  let r = await rawRequest(url, 'GET', '/dir')
  t.equal(r.status, 301)
  t.equal(header(r, 'location'), '/dir/')
  t.match(header(r, 'location') ?? '', /\/$/)
  r = await rawRequest(url, 'GET', '/dir?x=1')
  t.equal(r.status, 301)
  t.equal(header(r, 'location'), '/dir/?x=1', 'the query is kept')
  r = await rawRequest(url, 'GET', '/empty')
  t.equal(r.status, 301)
  t.equal(header(r, 'location'), '/empty/')

  r = await rawRequest(url, 'GET', '/dir/')
  t.equal(r.status, 200)
  t.equal(r.body.toString(), '<p>index</p>\n', 'a directory serves its index.html')
  t.equal(header(r, 'content-type'), 'text/html; charset=utf-8')
  r = await rawRequest(url, 'GET', '/in-dir/')
  t.equal(r.status, 200, 'symlinked directory inside the root')
  t.equal(r.body.toString(), '<p>index</p>\n')

  r = await rawRequest(url, 'GET', '/empty/')
  t.equal(r.status, 403, 'a directory without index is forbidden')
  t.equal(r.body.toString(), '403 Forbidden\n')
  r = await rawRequest(url, 'GET', '/')
  t.equal(r.status, 403, 'the root has no index either: no listing')

  r = await rawRequest(url, 'GET', '/nope.txt')
  t.equal(r.status, 404)
  t.equal(r.body.toString(), NOT_FOUND)
  t.equal(header(r, 'content-length'), String(NOT_FOUND.length))

  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    r = await rawRequest(url, method, '/a.txt', { 'Content-Length': '0' })
    t.equal(r.status, 405, `${method} → 405`)
    t.equal(header(r, 'allow'), 'GET, HEAD')
    t.equal(r.body.toString(), '405 Method Not Allowed\n')
  }
})

t.test('Content-Type by extension (else sniffed, as Go does) and Last-Modified from the mtime', async t => {
  const { root } = layout(t)
  const mtime = new Date('2022-01-02T03:04:05.678Z')
  for (const f of ['data.json', 'notes.txt', 'blob.zzqq', 'noext', 'page.html']) utimesSync(join(root, f), mtime, mtime)
  const { url } = await startServe(t, root)
  const types: [string, string][] = [
    ['data.json', 'application/json'],
    ['notes.txt', 'text/plain; charset=utf-8'],
    ['page.html', 'text/html; charset=utf-8'],
    // No known extension: Go sniffs the content, and these hold text.
    ['blob.zzqq', 'text/plain; charset=utf-8'],
    ['noext', 'text/plain; charset=utf-8'],
  ]
  for (const [f, type] of types) {
    const r = await rawRequest(url, 'GET', `/${f}`)
    t.equal(r.status, 200)
    t.equal(header(r, 'content-type'), type, `${f} is ${type}`)
    t.equal(header(r, 'last-modified'), 'Sun, 02 Jan 2022 03:04:05 GMT', `${f} Last-Modified`)
    const st = statSync(join(root, f))
    t.equal(Date.parse(header(r, 'last-modified') ?? ''), Math.floor(st.mtimeMs / 1000) * 1000, 'equals the mtime to the second')
    t.same(r.body, readFileSync(join(root, f)))
  }
})

t.test('a replaced file is served with its new bytes and a new ETag', async t => {
  const base = t.testdir({ root: {}, tmp: {} })
  const root = join(base, 'root')
  const small = join(root, 'small.txt')
  const large = join(root, 'large.bin')
  const t1 = new Date('2024-01-01T00:00:00Z')
  const t2 = new Date('2024-01-01T00:00:10Z')
  writeFileSync(small, 'version one\n')
  utimesSync(small, t1, t1)
  const big1 = prngBytes(300_000, 1)
  const big2 = prngBytes(300_000, 2)
  writeFileSync(large, big1)
  utimesSync(large, t1, t1)
  const { url } = await startServe(t, root)

  // Small file: rewritten in place, same size, only the mtime tells the versions apart.
  const a = await rawRequest(url, 'GET', '/small.txt')
  const a2 = await rawRequest(url, 'GET', '/small.txt') // now from the cache
  t.equal(a.body.toString(), 'version one\n')
  t.equal(header(a2, 'etag'), header(a, 'etag'))
  writeFileSync(small, 'version two\n')
  utimesSync(small, t2, t2)
  const b = await rawRequest(url, 'GET', '/small.txt')
  t.equal(b.body.toString(), 'version two\n', 'new bytes')
  t.not(header(b, 'etag'), header(a, 'etag'), 'new ETag')
  t.equal(header(b, 'last-modified'), 'Mon, 01 Jan 2024 00:00:10 GMT')
  const stale = await rawRequest(url, 'GET', '/small.txt', { 'If-Range': header(a, 'etag') ?? '', Range: 'bytes=0-3' })
  t.equal(stale.status, 200, 'If-Range with the old ETag gets the whole new file')
  t.equal(stale.body.toString(), 'version two\n')

  // Large file: replaced by rename (new inode), as a deploy would.
  const c = await rawRequest(url, 'GET', '/large.bin')
  t.equal(sha256(c.body), sha256(big1))
  const tmp = join(base, 'tmp', 'large.bin')
  writeFileSync(tmp, big2)
  utimesSync(tmp, t2, t2)
  renameSync(tmp, large)
  const d = await rawRequest(url, 'GET', '/large.bin')
  t.equal(sha256(d.body), sha256(big2), 'new bytes')
  t.not(header(d, 'etag'), header(c, 'etag'), 'new ETag')
})

t.test('fixtures/blobs by percent-encoded name', async t => {
  const dir = join(REPO, 'fixtures', 'blobs')
  const { url } = await startServe(t, dir)
  const enc = (rel: string): string => '/' + rel.split('/').map(encodeURIComponent).join('/')
  const names = [...readdirSync(dir, { recursive: true, encoding: 'utf8' })].filter(n => statSync(join(dir, n)).isFile()).sort()
  t.ok(names.includes('snow ☃.txt') && names.includes('do..ts.txt') && names.includes('.hidden'), 'fixture files present')
  for (const name of names) {
    const r = await rawRequest(url, 'GET', enc(name))
    if (name.split('/').some(s => s.startsWith('.'))) {
      t.equal(r.status, 404, `${name} (dotfile) → 404`)
      continue
    }
    t.equal(r.status, 200, `${enc(name)} → 200`)
    t.same(r.body, readFileSync(join(dir, name)), `${name} bytes`)
  }
  t.equal((await rawRequest(url, 'GET', '/snow%20%E2%98%83.txt')).body.toString(), 'snow ☃ man\n')
  t.equal((await rawRequest(url, 'GET', '/do..ts.txt')).status, 200, '".." inside a name is fine')
  t.equal((await rawRequest(url, 'GET', '/some%20thing.txt')).status, 200)
  t.equal((await rawRequest(url, 'GET', '/some+thing.txt')).status, 404, '"+" is not a space in a path')
  const nums = await rawRequest(url, 'GET', '/nums11.txt', { Range: 'bytes=3-5' })
  t.equal(nums.status, 206)
  t.equal(nums.body.toString(), '345')
  t.equal(header(nums, 'content-range'), 'bytes 3-5/11')
  const empty = await rawRequest(url, 'GET', '/empty.txt', { Range: 'bytes=0-' })
  t.equal(empty.status, 200, 'empty file with bytes=0- → 200')
  t.equal(empty.body.length, 0)
  t.equal(header(empty, 'content-length'), '0')
  t.equal(header(empty, 'content-range'), undefined)
  const idx = await rawRequest(url, 'GET', '/dir/')
  t.equal(idx.status, 200)
  t.same(idx.body, readFileSync(join(dir, 'dir', 'index.html')))
})

t.test('process: --dotfiles serves dotfiles', async t => {
  const { root } = layout(t)
  const { url } = await startServeProcess(t, root, ['--dotfiles'])
  let r = await rawRequest(url, 'GET', '/.secret')
  t.equal(r.status, 200)
  t.equal(r.body.toString(), 'dotfile\n')
  r = await rawRequest(url, 'GET', '/dir/.git/config')
  t.equal(r.status, 200)
  t.equal(r.body.toString(), '[core]\n')
  r = await rawRequest(url, 'GET', '/%2e%2e/x')
  t.equal(r.status, 400, '".." is still refused')
  r = await rawRequest(url, 'GET', '/out-link.txt')
  t.equal(r.status, 404, 'symlinks out of the root are still refused')
})

t.test('process: access log', async t => {
  const base = t.testdir({ root: { 'a.txt': 'hello access log\n' } })
  const root = join(base, 'root')
  const bigSize = 64 * 1024 * 1024
  writeLargeFile(join(root, 'big.bin'), bigSize / (1024 * 1024), 3)
  const log = join(base, 'logs', 'access.jsonl') // the directory is created
  const { url, child, output } = await startServeProcess(t, root, ['--access-log', log, '--grace', '10s'])

  const full = await rawRequest(url, 'GET', '/a.txt')
  const etag = header(full, 'etag') ?? ''
  const ranged = await rawRequest(url, 'GET', '/a.txt?v=1', { Range: 'bytes=0-4', 'If-Range': etag })
  t.equal(ranged.status, 206)
  const head = await rawRequest(url, 'HEAD', '/a.txt')
  t.equal(head.status, 200)
  const missing = await rawRequest(url, 'GET', '/missing')
  t.equal(missing.status, 404)

  // A client that goes away after the first chunk of a large download.
  const agent = new Agent({ connections: 1 })
  t.teardown(() => agent.destroy())
  const ac = new AbortController()
  const res = await request(`${url}/big.bin`, { dispatcher: agent, signal: ac.signal })
  t.equal(res.statusCode, 200)
  res.body.on('error', () => undefined)
  const first = await withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      res.body.once('data', resolve)
      res.body.once('error', reject)
    }),
    10_000,
    'first chunk of big.bin',
  )
  ac.abort()

  child.kill('SIGTERM')
  t.equal(await withTimeout(exited(child), 15_000, 'serve exit after SIGTERM'), 0, output())

  const recs = readJsonl(log)
  t.equal(recs.length, 5, 'one line per request')
  const keys = ['time', 'remote', 'method', 'path', 'headers', 'status', 'bytes', 'durationMs', 'aborted']
  for (const r of recs) {
    t.same(Object.keys(r), keys, 'fields in order')
    t.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    t.equal(r.remote, '127.0.0.1', `remote of ${r.method} ${r.path} (aborted: ${r.aborted})`)
    t.type(r.durationMs, 'number')
  }
  const find = (method: string, path: string) => recs.find(r => r.method === method && r.path === path)
  t.match(find('GET', '/a.txt'), { headers: {}, status: 200, bytes: 17, aborted: false })
  t.same(find('GET', '/a.txt')?.headers, {})
  t.same(find('GET', '/a.txt?v=1')?.headers, { range: 'bytes=0-4', 'if-range': etag }, 'Range and If-Range logged')
  t.match(find('GET', '/a.txt?v=1'), { status: 206, bytes: 5, aborted: false })
  t.match(find('HEAD', '/a.txt'), { status: 200, bytes: 0, aborted: false })
  t.match(find('GET', '/missing'), { status: 404, bytes: NOT_FOUND.length, aborted: false })
  const big = find('GET', '/big.bin')
  t.match(big, { status: 200, aborted: true })
  const bytes = big?.bytes as number
  t.ok(bytes > 0 && bytes < bigSize, `aborted download logged with part of the bytes (${bytes} < ${bigSize})`)
})

/** download starts a GET with node:http and resolves with the response once its first chunk came. */
function startDownload(url: string): Promise<{ res: IncomingMessage; chunks: Buffer[] }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = httpGet(url, { agent: false }, res => {
        const chunks: Buffer[] = []
        res.once('data', (d: Buffer) => {
          res.pause()
          chunks.push(d)
          resolve({ res, chunks })
        })
        res.once('error', reject)
      })
      req.once('error', reject)
    }),
    10_000,
    `first chunk of ${url}`,
  )
}

/** finish reads the rest of a paused response; resolves with all its bytes and whether it was complete. */
function finish(res: IncomingMessage, chunks: Buffer[], ms: number): Promise<{ body: Buffer; complete: boolean }> {
  return withTimeout(
    new Promise(resolve => {
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('error', () => undefined)
      res.once('close', () => resolve({ body: Buffer.concat(chunks), complete: res.complete }))
      res.resume()
    }),
    ms,
    'rest of the download',
  )
}

/** connectOutcome resolves with the error code of a new TCP connection that fails, or 'connected'. */
function connectOutcome(url: string): Promise<string> {
  const u = new URL(url)
  return withTimeout(
    new Promise(resolve => {
      const s = connect(Number(u.port), u.hostname)
      s.once('connect', () => {
        s.destroy()
        resolve('connected')
      })
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    }),
    10_000,
    'connect outcome',
  )
}

t.test('process: graceful shutdown lets a download in flight finish', async t => {
  const base = t.testdir({ root: {} })
  const root = join(base, 'root')
  const want = writeLargeFile(join(root, 'big.bin'), 48, 9)
  const { url, child, output } = await startServeProcess(t, root, ['--grace', '30s'])

  const { res, chunks } = await startDownload(`${url}/big.bin`)
  t.equal(res.statusCode, 200)
  child.kill('SIGTERM')
  await waitForOutput(child, output, /SIGTERM: draining 1 response/)
  // serve closes its listener before it prints the draining line: the first connect after it is refused.
  t.equal(await connectOutcome(url), 'ECONNREFUSED', 'no new connections once draining')

  const { body, complete } = await finish(res, chunks, 30_000)
  t.ok(complete, 'the download completed')
  t.equal(body.length, 48 * 1024 * 1024)
  t.equal(sha256(body), want, 'with the right bytes')
  t.equal(await withTimeout(exited(child), 10_000, 'serve exit'), 0, output())
  t.match(output(), /stopped; 1 request, \d+ body bytes, 0 aborted\n/, 'one request: the noun in the singular')
  t.notMatch(output(), /grace period over/)
})

t.test('process: --grace 200ms closes a download that does not move', async t => {
  const base = t.testdir({ root: {} })
  const root = join(base, 'root')
  const size = 64 * 1024 * 1024
  writeLargeFile(join(root, 'big.bin'), size / (1024 * 1024), 10)
  const { url, child, output } = await startServeProcess(t, root, ['--grace', '200ms'])

  const { res, chunks } = await startDownload(`${url}/big.bin`) // and never read further
  child.kill('SIGTERM')
  t.equal(await withTimeout(exited(child), 10_000, 'serve exit after the grace period'), 0, output())
  t.match(output(), /grace period over, connections closed/)
  const { body, complete } = await finish(res, chunks, 20_000)
  t.notOk(complete, 'the client sees the download cut short')
  t.ok(body.length < size, `got ${body.length} of ${size} bytes`)
})

t.test('process: a second signal exits at once, with 130, while a download is held', async t => {
  const base = t.testdir({ root: {} })
  const root = join(base, 'root')
  writeLargeFile(join(root, 'big.bin'), 64, 11)
  const { url, child, output } = await startServeProcess(t, root, ['--grace', '60s'])

  const { res, chunks } = await startDownload(`${url}/big.bin`) // and never read further
  child.kill('SIGTERM')
  await waitForOutput(child, output, /SIGTERM: draining 1 response/)
  child.kill('SIGINT')
  t.equal(await withTimeout(exited(child), 10_000, 'serve exit on the second signal'), 130, output())
  t.match(output(), /cutover serve: SIGINT again, exiting now/)
  t.notMatch(output(), /stopped;/, 'no drain summary: it did not wait for the grace period')
  const { complete } = await finish(res, chunks, 20_000)
  t.notOk(complete, 'the held download was cut')
})

t.test('process: --help', async t => {
  const top = await run(process.execPath, [CLI, '--help'], { timeoutMs: 10_000 })
  t.equal(top.code, 0, top.stderr)
  t.match(top.stdout, /serve/)
  const serve = await run(process.execPath, [CLI, 'serve', '--help'], { timeoutMs: 10_000 })
  t.equal(serve.code, 0, serve.stderr)
  for (const flag of ['--root', '--listen', '--access-log', '--dotfiles', '--grace']) {
    t.match(serve.stdout, flag, `serve --help mentions ${flag}`)
  }
})

t.test('process: bad flags', async t => {
  const base = t.testdir({ root: { 'f.txt': 'f\n' } })
  const root = join(base, 'root')
  const cli = (...args: string[]) => run(process.execPath, [CLI, 'serve', ...args], { timeoutMs: 10_000 })

  let r = await cli('--listen', '127.0.0.1:0')
  t.not(r.code, 0, 'no --root → non-zero exit')
  t.match(r.stderr, /--root/)

  const gone = join(base, 'no-such-dir')
  r = await cli('--root', gone, '--listen', '127.0.0.1:0')
  t.not(r.code, 0, 'missing root → non-zero exit')
  t.match(r.stderr, gone)

  r = await cli('--root', join(root, 'f.txt'), '--listen', '127.0.0.1:0')
  t.not(r.code, 0, 'root is a file → non-zero exit')
  t.match(r.stderr, /not a directory/)

  for (const bad of ['nope', '127.0.0.1', '127.0.0.1:99999', '127.0.0.1:-1']) {
    r = await cli('--root', root, '--listen', bad)
    t.not(r.code, 0, `--listen ${bad} → non-zero exit`)
    t.match(r.stderr, /--listen/)
    t.match(r.stderr, /HOST:PORT/)
  }

  r = await cli('--root', root, '--listen', '127.0.0.1:0', '--grace', 'soon')
  t.not(r.code, 0, 'bad --grace → non-zero exit')
  t.match(r.stderr, /--grace/)

  // A port already in use.
  const blocker = createServer()
  blocker.listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => blocker.close())
  const port = (blocker.address() as { port: number }).port
  r = await cli('--root', root, '--listen', `127.0.0.1:${port}`)
  t.not(r.code, 0, 'port in use → non-zero exit')
  t.match(r.stderr, `cannot listen on 127.0.0.1:${port}`)
})
