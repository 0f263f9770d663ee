import { createHash } from 'node:crypto'
import { readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { get as httpGet, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect as connectTcp, createServer as createNetServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import type { Comparison } from '../../src/audit/divergence.js'
import { readJsonl, withTimeout, writeLargeFile } from '../helpers/e2e.js'
import { startFaulty } from '../helpers/faulty.js'
import { gate } from '../helpers/gate.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { deadPort, startNginx } from '../helpers/nginx.js'
import { seededBytes } from '../helpers/random.js'
import { rawServer } from '../helpers/raw-server.js'
import { MARKER_HEADER } from '../../src/audit/http-backend.js'
import { AccessLog, type AccessRecord } from '../../src/telemetry/access-log.js'
import { CLI, exited, REPO, requireTool, spawnListening, startServe, type T } from '../helpers/serve.js'

const RULES = join(REPO, 'fixtures/rules/nginx-vs-cutover.yaml')

/** startMirror runs `cutover mirror` as a process; stop() sends SIGTERM and returns its output. */
async function startMirror(t: T, old: string, nw: string, out: string, extra: string[] = []) {
  const m = await spawnListening(
    t,
    process.execPath,
    [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', old, '--new', nw, '--out', out, '--rules', RULES, '--grace', '20s', '--shed-above', '1', ...extra],
    'cutover mirror',
  )
  return {
    url: m.url,
    stop: async (): Promise<string> => {
      m.child.kill('SIGTERM')
      const code = await withTimeout(exited(m.child), 30_000, 'mirror to exit')
      if (code !== 0) throw new Error(`mirror exited ${code}: ${m.output()}`)
      return m.output()
    },
  }
}

async function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const r = await request(`${base}${path}`, { method: method as 'GET', headers })
  const body = Buffer.from(await r.body.arrayBuffer())
  return { status: r.statusCode, headers: r.headers, body }
}

const counts = (summary: string): Record<string, number> =>
  Object.fromEntries([...summary.matchAll(/(requests|compared|divergent|noise|dropped|abandoned|skipped) (\d+)/g)].map(m => [m[1]!, Number(m[2])]))

t.test('through cutover mirror, nginx (old) and cutover serve (new) agree on a battery of requests', async t => {
  if (!requireTool(t, 'nginx')) return
  const top = t.testdir({ root: { 'nums11.txt': '0123456789\n', 'data.json': '{"a":1}\n' }, nginx: {} })
  const root = join(top, 'root')
  writeFileSync(join(root, 'big.bin'), seededBytes(11, 3 * 1024 * 1024))
  for (const f of ['nums11.txt', 'data.json', 'big.bin']) utimesSync(join(root, f), 1700000000, 1700000000)
  const old = await startNginx(t, root, join(top, 'nginx'))
  const nw = await startServe(t, root)
  const out = join(top, 'out.jsonl')
  const mirror = await startMirror(t, old.url, nw.url, out)
  let sent = 0
  for (const path of ['/nums11.txt', '/big.bin', '/data.json']) {
    const first = await get(mirror.url, path)
    sent++
    t.equal(first.status, 200)
    const etag = String(first.headers.etag)
    const lm = String(first.headers['last-modified'])
    const battery: Array<Record<string, string>> = [
      { range: 'bytes=0-4' },
      { range: 'bytes=-5' },
      { range: 'bytes=2-' },
      { range: 'bytes=0-1,5-8' },
      { range: 'bytes=0-0,-2' },
      { range: 'bytes=5-1000000000' },
      { range: 'bytes=100000000-' },
      { range: 'bytes=0-3', 'if-range': etag },
      { range: 'bytes=0-3', 'if-range': lm },
      { range: 'bytes=0-3', 'if-range': 'Mon, 02 Jan 2006 15:04:05 GMT' },
      { 'if-none-match': etag },
      { 'if-none-match': '"nope"' },
      { 'if-match': etag },
      { 'if-modified-since': lm },
      { 'if-unmodified-since': 'Mon, 02 Jan 2006 15:04:05 GMT' },
    ]
    for (const headers of battery) {
      const r = await get(mirror.url, path, headers)
      sent++
      // The client gets what old itself answers (multipart boundaries are nginx's own per response).
      const direct = await get(old.url, path, headers)
      const what = `${path} ${JSON.stringify(headers)}`
      t.equal(r.status, direct.status, `${what}: the status old gives`)
      if (!String(direct.headers['content-type']).startsWith('multipart/'))
        t.ok(r.body.equals(direct.body), `${what}: the body old gives`)
    }
    await get(mirror.url, path, {}, 'HEAD')
    sent++
  }
  await get(mirror.url, '/missing.bin')
  sent++
  const c = counts(await mirror.stop())
  t.equal(c.requests, sent, 'every request reached the mirror')
  t.equal(c.compared, sent, 'and every one was compared')
  t.equal(c.divergent, 0, 'with no divergence')
  const records = readJsonl(out) as unknown as Comparison[]
  t.same(records.filter(r => r.divergences.length > 0), [], 'no divergence record')
  t.ok(records.some(r => r.ignored.length > 0), 'differences the rules explain are recorded as ignored')
})

t.test('through cutover mirror, each fault of the new server is caught and described exactly', async t => {
  const dir = t.testdir({})
  writeLargeFile(join(dir, 'big.bin'), 100)
  writeFileSync(join(dir, 'a.bin'), seededBytes(1, 256 * 1024))
  for (const f of ['b.bin', 'c.bin', 'd.bin', 'e.bin', 'slow.bin']) writeFileSync(join(dir, f), seededBytes(2, 256 * 1024))
  const old = await startServe(t, dir)
  const slow = gate()
  const faulty = await startFaulty(t, old.url, {
    '/big.bin': { flipByte: 73_400_321 },
    '/a.bin': { dropHeader: 'last-modified' },
    '/b.bin': { setHeader: ['content-range', 'bytes 0-99/262145'] },
    '/c.bin': { truncateAt: 5000 },
    '/d.bin': { status: 500 },
    '/slow.bin': { gate: slow.promise },
  })
  const out = join(dir, 'out.jsonl')
  // Default flags: the client reads 100 MiB faster than new (behind a JS proxy) answers, and each
  // body is hashed on its own, so nothing has to wait for the slower one.
  const mirror = await startMirror(t, old.url, faulty.url, out)
  const big = await get(mirror.url, '/big.bin')
  t.equal(createHash('sha256').update(big.body).digest('hex'), createHash('sha256').update(readFileSync(join(dir, 'big.bin'))).digest('hex'), 'the client gets old bytes')
  await get(mirror.url, '/a.bin')
  await get(mirror.url, '/b.bin', { range: 'bytes=0-99' })
  await get(mirror.url, '/c.bin')
  await get(mirror.url, '/d.bin')
  await get(mirror.url, '/e.bin')
  // The new server holds /slow.bin until released: the client is answered all the same.
  const s = await get(mirror.url, '/slow.bin')
  t.equal(s.body.length, 256 * 1024, 'a client is answered in full while new has not answered yet')
  slow.open()
  const c = counts(await mirror.stop())
  t.equal(c.requests, 7)
  t.equal(c.compared, 7)
  const by = new Map((readJsonl(out) as unknown as Comparison[]).map(r => [r.request.path, r.divergences]))
  t.match(by.get('/big.bin'), [{ kind: 'body-bytes', offset: 73_400_321, controlLength: 100 * 1024 * 1024 }], 'one byte of 100 MiB: exact offset')
  t.match(by.get('/a.bin'), [{ kind: 'header', name: 'last-modified', candidate: undefined }], 'a missing header')
  t.match(by.get('/b.bin'), [{ kind: 'header', name: 'content-range', control: 'bytes 0-99/262144', candidate: 'bytes 0-99/262145' }], 'a wrong Content-Range')
  t.match(by.get('/c.bin'), [{ kind: 'error', side: 'candidate', code: 'ERR_TRUNCATED' }], 'a truncated body')
  t.same(by.get('/d.bin'), [{ kind: 'status', control: 200, candidate: 500 }], 'a 500 from new')
  t.equal(by.get('/e.bin'), undefined, 'no record for a clean exchange')
  t.equal(by.get('/slow.bin'), undefined, 'a slow but correct answer is no divergence')
})

t.test('through cutover mirror, new being down is a divergence and clients do not notice', async t => {
  const dir = t.testdir({ 'f.txt': 'hello\n' })
  const old = await startServe(t, dir)
  const out = join(dir, 'out.jsonl')
  const mirror = await startMirror(t, old.url, `http://127.0.0.1:${await deadPort()}`, out)
  const r = await get(mirror.url, '/f.txt')
  t.equal(r.body.toString(), 'hello\n')
  const c = counts(await mirror.stop())
  t.equal(c.divergent, 1)
  t.match(readJsonl(out), [{ divergences: [{ kind: 'error', side: 'candidate', code: /ERR_(CONNECT|UPSTREAM)/ }] }])
})

t.test('a primary that resets a connection before answering a GET is asked again, once', async t => {
  // The first request is reset without an answer (what a server closing a kept-alive connection
  // looks like to the proxy); later ones are answered.
  let resets = 0
  const raw = createNetServer(sock => {
    sock.once('data', () => {
      if (resets < 1) {
        resets++
        sock.destroy()
        return
      }
      sock.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n')
    })
  })
  await new Promise<void>(resolve => raw.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => raw.close(() => resolve())))
  const primary = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
  const dir = t.testdir({})
  const mirror = await startMirror(t, primary, primary, join(dir, 'out.jsonl'), ['--sample', '0'])
  const r = await get(mirror.url, '/x')
  t.equal(r.status, 200, 'the client gets the answer of the second attempt')
  t.equal(r.body.toString(), 'ok\n')
  t.equal(resets, 1)
  const out = await mirror.stop()
  t.match(out, /proxy errors 0/, 'a retried reset is not a proxy error')
})

t.test('through cutover mirror, what nginx (old) logs it received is what new received', async t => {
  if (!requireTool(t, 'nginx')) return
  const top = t.testdir({ root: { dl: { 'file.bin': 'file\n' } }, nginx: {} })
  const log = join(top, 'nginx', 'requests.log')
  // One tab-separated line per request: the request line as received and the fields the mirror
  // must pass on ("-" when absent), or not.
  const old = await startNginx(t, join(top, 'root'), join(top, 'nginx'), {
    http: "log_format fields '$request\\t$http_x_forwarded_for\\t$http_range\\t$http_x_hop\\t$http_keep_alive\\t$http_x_cutover_shadow';",
    server: `access_log ${log} fields;`,
  })
  const nw = await rawServer(t)
  const mirror = await startMirror(t, old.url, nw.url, join(top, 'out.jsonl'), ['--shadow-methods', 'GET,HEAD,OPTIONS'])
  const port = Number(new URL(mirror.url).port)
  // [request line as the client sends it, the one both servers must get, extra fields]
  const rows: Array<[string, string, string[]]> = [
    ['GET /dl//file.bin?x=a//b HTTP/1.1', 'GET /dl//file.bin?x=a//b HTTP/1.1', ['Range: bytes=0-1']],
    ['GET http://downloads.example/dl/file.bin?q=1 HTTP/1.1', 'GET /dl/file.bin?q=1 HTTP/1.1', []],
    ['HEAD /dl/file.bin HTTP/1.1', 'HEAD /dl/file.bin HTTP/1.1', ['Connection: X-Hop, close', 'X-Hop: 1', 'Keep-Alive: timeout=5', 'x-cutover-shadow: 1']],
    ['OPTIONS /dl/ HTTP/1.1', 'OPTIONS /dl/ HTTP/1.1', ['X-Forwarded-For: 203.0.113.7']],
  ]
  for (const [line, , fields] of rows) {
    const head = [line, 'Host: downloads.example', ...fields, 'Connection: close', '', ''].join('\r\n')
    const answer = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const s = connectTcp(port, '127.0.0.1', () => s.write(head))
        let got = ''
        s.setEncoding('latin1').on('data', (d: string) => (got += d))
        s.on('end', () => resolve(got))
        s.on('error', reject)
      }),
      10_000,
      `the answer to ${line}`,
    )
    t.match(answer, /^HTTP\/1\.1 \d{3} /, `${line}: answered`)
  }
  await mirror.stop() // waits for the shadows
  await old.stop() // nginx writes every log line before it exits
  const logged = readFileSync(log, 'latin1').trimEnd().split('\n')
  t.equal(logged.length, rows.length, 'nginx logged every request')
  t.equal(nw.heads.length, rows.length, 'new got every request')
  for (const [i, [line, want]] of rows.entries()) {
    const [request, xff, range, hop, keepAlive, marker] = logged[i]!.split('\t')
    const n = nw.heads[i]!
    const field = (name: string): string => n.fields.find(([k]) => k.toLowerCase() === name)?.[1] ?? '-'
    t.comment(`${line}\n  nginx: ${JSON.stringify(logged[i])}\n  new:   ${JSON.stringify(n)}`)
    t.equal(request, want, `${line}: nginx got the canonical request line`)
    t.equal(n.line, request, `${line}: new got the request line nginx logged`)
    t.strictSame(
      { xff: field('x-forwarded-for'), range: field('range'), hop: field('x-hop'), keepAlive: field('keep-alive') },
      { xff, range, hop, keepAlive },
      `${line}: new got the fields nginx logged`,
    )
    t.equal(hop, '-', `${line}: no field named in Connection reached nginx`)
    t.equal(marker, '-', `${line}: no shadow marker reached nginx`)
    t.equal(field(MARKER_HEADER), '1', `${line}: new's request is marked as a shadow`)
  }
})

t.test('aria2c -x4 through cutover mirror, default flags: every segment is compared, and a bad byte is found exactly', async t => {
  if (!requireTool(t, 'nginx') || !requireTool(t, 'aria2c')) return
  const top = t.testdir({ root: {}, nginx: {}, dl: {} })
  const root = join(top, 'root')
  writeLargeFile(join(root, 'big.bin'), 50) // 50 MiB
  const old = await startNginx(t, root, join(top, 'nginx'))
  const nw = await startServe(t, root)
  const bad = 30 * 1024 * 1024 + 12_345
  const faulty = await startFaulty(t, nw.url, { '/big.bin': { flipByte: bad } })
  const out = join(top, 'out.jsonl')
  const mirror = await startMirror(t, old.url, faulty.url, out)
  const { spawn } = await import('node:child_process')
  const aria = spawn('aria2c', ['-q', '-x4', '-s4', '-k1M', '--file-allocation=none', '--allow-overwrite=true', '-d', join(top, 'dl'), '-o', 'big.bin', `${mirror.url}/big.bin`], { stdio: 'ignore' })
  t.equal(await withTimeout(exited(aria), 60_000, 'aria2c to finish'), 0, 'aria2c succeeds')
  const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex')
  t.equal(sha(join(top, 'dl', 'big.bin')), sha(join(root, 'big.bin')), 'aria2c got old bytes')
  const full = await get(mirror.url, '/big.bin')
  t.equal(full.body.length, 50 * 1024 * 1024, 'a full download through the mirror')
  const c = counts(await mirror.stop())
  t.ok(c.requests! >= 3, `aria2c split the download (${c.requests! - 1} requests)`)
  // Every exchange is compared, the segments aria2c closed early included (as far as each got),
  // except one whose client left before the mirror had a byte of its answer: there is nothing to
  // compare then. In one full test run 3 of 9 were not compared; their reason was not kept, and
  // this test alone did not fail again in 15 runs, 11 of them next to busy loops.
  const all = readJsonl(out) as unknown as Comparison[]
  const gone = all.filter(r => r.divergences.some(d => d.kind === 'not-compared'))
  t.strictSame(
    gone.flatMap(r => r.divergences.filter(d => d.kind === 'not-compared').map(d => d.reason)),
    gone.map(() => 'client-gone'),
    'nothing given up but exchanges whose client left before a byte of the body',
  )
  t.equal(c.compared! + gone.length, c.requests, 'every other exchange compared')
  t.equal(c.abandoned, gone.length)
  const records = all.filter(r => r.divergences.some(d => d.kind === 'body-bytes'))
  t.ok(records.length >= 2, 'the full download and the segment holding the bad byte')
  for (const r of records) {
    const start = Number(/^bytes=(\d+)-/.exec(r.request.headers.range ?? 'bytes=0-')![1])
    t.match(r.divergences, [{ kind: 'body-bytes', offset: bad - start }], `${r.request.headers.range ?? 'full'}: the exact offset (re-requested)`)
    t.notOk(r.divergences.some(d => d.kind === 'body-bytes' && d.block), 'located exactly, not to a block')
  }
})

t.test('--shadow-rate: a large download is compared in full at any rate, a slow one outlasts a short grace, and a rate that is none is refused', async t => {
  if (!requireTool(t, 'nginx')) return
  const top = t.testdir({ root: {}, nginx: {} })
  const root = join(top, 'root')
  writeLargeFile(join(root, 'big.bin'), 12) // 12 MiB: 8 MiB past the first 4
  const old = await startNginx(t, root, join(top, 'nginx'))
  const nw = await startServe(t, root)
  const want = createHash('sha256').update(readFileSync(join(root, 'big.bin'))).digest('hex')
  for (const flags of [['--shadow-rate', '4MiB'], ['--no-shadow-rate']]) {
    const out = join(top, `out-${flags.length}.jsonl`)
    const mirror = await startMirror(t, old.url, nw.url, out, flags)
    const got = await get(mirror.url, '/big.bin')
    t.equal(createHash('sha256').update(got.body).digest('hex'), want, `${flags.join(' ')}: the client got old's bytes`)
    const c = counts(await mirror.stop())
    t.match(c, { requests: 1, compared: 1, divergent: 0, abandoned: 0 }, `${flags.join(' ')}: compared in full before the mirror stopped`)
  }
  // The flag reaches the comparison: at 1 MiB a second the 8 MiB past the first 4 take at least 8 s,
  // longer than a 1 s grace, so the stop gives the comparison up; at the default rate (0.5 s for
  // them) it would end within the grace and this would fail.
  const slow = await startMirror(t, old.url, nw.url, join(top, 'out-slow.jsonl'), ['--shadow-rate', '1MiB', '--grace', '1s'])
  t.equal((await get(slow.url, '/big.bin')).body.length, 12 * 1024 * 1024, '--shadow-rate 1MiB: the client is not slowed')
  t.match(counts(await slow.stop()), { requests: 1, compared: 0, divergent: 0, abandoned: 1 }, '--shadow-rate 1MiB: still reading at the stop, given up after the grace, not recorded as an error of the other server')
  const { spawnSync } = await import('node:child_process')
  for (const rate of ['0', 'fast', '-1MiB']) {
    const r = spawnSync(process.execPath, [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', old.url, '--new', nw.url, '--shadow-rate', rate], { encoding: 'utf8', timeout: 30_000 })
    t.equal(r.status, 2, `--shadow-rate ${rate}: exit 2`)
    t.match(r.stderr, /--shadow-rate/, `--shadow-rate ${rate}: the error names the flag`)
  }
})

t.test('the summary lists the paths never compared, and --out has a line for every one', async t => {
  if (!requireTool(t, 'nginx')) return
  const top = t.testdir({ root: {}, nginx: {} })
  const root = join(top, 'root')
  writeFileSync(join(root, 'a.bin'), seededBytes(3, 256 * 1024))
  writeFileSync(join(root, 'b.bin'), seededBytes(4, 256 * 1024))
  const old = await startNginx(t, root, join(top, 'nginx'))
  const nw = await startServe(t, root)
  const out = join(top, 'out.jsonl')
  // A 16-byte lag bound: every body is over it from its first chunk, so none is compared.
  const mirror = await startMirror(t, old.url, nw.url, out, ['--max-lag', '16'])
  for (const p of ['/a.bin', '/a.bin', '/b.bin']) t.equal((await get(mirror.url, p)).body.length, 256 * 1024, `${p}: the client is answered`)
  const summary = await mirror.stop()
  t.match(counts(summary), { requests: 3, compared: 0, abandoned: 3 })
  t.match(summary, /not compared: 3 requests \(budget 3\); most often:\n\s+2 {2}\/a\.bin {2}budget\n\s+1 {2}\/b\.bin {2}budget\n/)
  const records = readJsonl(out) as unknown as Comparison[]
  t.strictSame(records.map(r => r.request.path).sort(), ['/a.bin', '/a.bin', '/b.bin'])
  for (const r of records) t.match(r.divergences, [{ kind: 'not-compared', reason: 'budget' }], 'each record says why')
})

t.test('a client that leaves a large download early: compared as far as it got, and new is read no further', async t => {
  if (!requireTool(t, 'nginx')) return
  const top = t.testdir({ root: {}, nginx: {} })
  const root = join(top, 'root')
  const MiB = 1024 * 1024
  writeLargeFile(join(root, 'big.bin'), 64)
  const old = await startNginx(t, root, join(top, 'nginx'))
  const accessPath = join(top, 'access.jsonl')
  const accessLog = new AccessLog(accessPath)
  const nw = await startServe(t, root, { accessLog })
  const out = join(top, 'out.jsonl')
  const mirror = await startMirror(t, old.url, nw.url, out)
  // Read 1 MiB of the 64, then leave.
  const got = await withTimeout(
    new Promise<number>((resolve, reject) => {
      const req = httpGet(`${mirror.url}/big.bin`, res => {
        let n = 0
        res.on('data', (c: Buffer) => {
          n += c.length
          if (n >= MiB) {
            res.destroy()
            resolve(n)
          }
        })
        res.on('error', () => {})
      })
      req.on('error', reject)
    }),
    30_000,
    'the client to read 1 MiB',
  )
  t.ok(got >= MiB, 'the client read its MiB')
  const summary = await mirror.stop()
  t.match(counts(summary), { requests: 1, compared: 1, divergent: 0 }, summary)
  const [record] = readJsonl(out) as unknown as Comparison[]
  t.same(record?.divergences, [], 'no divergence: the client cut it short, not a server')
  t.ok((record?.bytesCompared ?? 0) >= MiB && (record?.bytesCompared ?? 0) < 64 * MiB, `compared as far as the client got (${record?.bytesCompared} bytes)`)
  await accessLog.flush()
  const shadow = (readJsonl(accessPath) as unknown as AccessRecord[]).find(r => r.shadow === true)
  t.ok(shadow, 'new logged the shadow request')
  // What the client got on its way, the pair's hold, and the sockets' buffers: far below the 64 MiB a
  // shadow read to its end would have sent.
  t.ok(shadow!.bytes < 32 * MiB, `new sent ${shadow!.bytes} bytes of 64 MiB to the shadow`)
})

t.test('a file new tags weakly while it settles and strongly after: one representation, no ETag divergence', async t => {
  // Seen in the benchmark with its data just written: every comparison after the first second
  // reported an ETag divergence, the pair learnt from new's weak tag held against its strong one.
  if (!requireTool(t, 'nginx')) return
  const top = t.testdir({ root: {}, nginx: {} })
  const root = join(top, 'root')
  writeFileSync(join(root, 'fresh.bin'), seededBytes(12, 64 * 1024))
  // new's settle rule reads this clock: the file is settling until the test moves it on.
  const clock = new ManualClock(Date.now())
  const old = await startNginx(t, root, join(top, 'nginx'))
  const nw = await startServe(t, root, { settleMs: 1000, clock })
  const out = join(top, 'out.jsonl')
  const mirror = await startMirror(t, old.url, nw.url, out)
  const newTag = async (): Promise<string> => String((await get(nw.url, '/fresh.bin', {}, 'HEAD')).headers.etag)
  // The shadow goes out once old has answered the client: the clock moves on only once new has
  // answered the shadow.
  const shadowAnswered = new Promise<void>(resolve =>
    nw.server.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.headers[MARKER_HEADER] !== undefined) res.once('finish', () => resolve())
    }),
  )
  const settling = await newTag()
  t.match(settling, /^W\/"/, 'new tags the file weakly while it settles')
  t.equal((await get(mirror.url, '/fresh.bin')).status, 200)
  await withTimeout(shadowAnswered, 30_000, 'new to answer the shadow')
  clock.advance(2000)
  t.equal(await newTag(), settling.slice(2), 'and with the same tag, strong, once it has settled')
  const full = await get(mirror.url, '/fresh.bin')
  t.equal(full.status, 200)
  // A client resuming with the tag it was given (old's): If-Range matches on both sides.
  const resumed = await get(mirror.url, '/fresh.bin', { range: 'bytes=100-', 'if-range': String(full.headers.etag) })
  t.equal(resumed.status, 206)
  const summary = await mirror.stop()
  const records = readJsonl(out) as unknown as Comparison[]
  t.equal(records.length, 3, 'three comparisons')
  t.strictSame(records.flatMap(r => r.divergences), [], 'no divergence')
  for (const r of records) {
    t.ok(r.ignored.some(i => i.divergence.kind === 'header' && i.divergence.name === 'etag' && i.reason === 'etag: consistent'), 'the tags differ in format, explained by the rule')
  }
  t.equal(counts(summary).divergent, 0)
})
