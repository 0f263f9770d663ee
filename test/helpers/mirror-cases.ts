// The cases of `cutover mirror`: the client path, the shadow path, the accounting, and the command
// line, against real servers on loopback, run with the comparisons on the client path's thread
// (test/e2e/mirror.ts) and in a thread of their own (test/e2e/mirror-thread.ts). No sleeps: slow
// servers wait on gates the tests open.
import { spawn } from 'node:child_process'
import { readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t, { type Test } from 'tap'
import { request } from 'undici'
import type { Comparison } from '../../src/audit/divergence.js'
import { HttpBackend } from '../../src/audit/http-backend.js'
import { MetricsServer } from '../../src/telemetry/metrics-server.js'
import { Mirror, type MirrorOptions, type MirrorStats } from '../../src/audit/mirror.js'
import { parseRules } from '../../src/audit/rules.js'
import { TaskQueue } from '../../src/audit/task-queue.js'
import { ZoomBudget } from '../../src/audit/zoom.js'
import { AccessLog } from '../../src/telemetry/access-log.js'
import { header, prngBytes, rawRequest, readJsonl, waitForOutput, withTimeout } from '../helpers/e2e.js'
import { gate, heldListen, listen } from '../helpers/gate.js'
import { deadPort } from '../helpers/nginx.js'
import { CLI, exited, requireTool, startServe } from '../helpers/serve.js'

const MTIME = new Date('2024-05-06T07:08:09Z')

/** startMirrorIn runs a Mirror on 127.0.0.1:0 in front of `old` and `new`, closed at teardown. */
async function startMirrorIn(
  thread: boolean,
  t: Test,
  urls: { old: string; new: string; baseline?: string },
  o: Partial<Omit<MirrorOptions, 'old' | 'new' | 'baseline'>> & { timeoutMs?: number } = {},
) {
  const backend = (name: string, base: string) =>
    new HttpBackend({ name, base, timeoutMs: o.timeoutMs ?? 10_000 })
  const old = backend('old', urls.old)
  const nw = backend('new', urls.new)
  const baseline = urls.baseline ? backend('baseline', urls.baseline) : undefined
  const comparisons: Comparison[] = []
  const mirror = new Mirror({
    old,
    new: nw,
    ...(baseline ? { baseline } : {}),
    onComparison: c => comparisons.push(c),
    // The tests count comparisons exactly: no shedding unless a test asks for it with its own load.
    shedAbove: 1,
    thread,
    ...o,
  })
  const addr = await mirror.listen(0, '127.0.0.1')
  t.teardown(async () => {
    await mirror.close(0)
    await Promise.all([old.close(), nw.close(), baseline?.close()])
  })
  /** settled waits (bounded) until every shadow offered so far is compared or abandoned. */
  const settled = () => withTimeout(mirror.queue.idle(), 10_000, 'the shadow queue to go idle')
  return { url: `http://127.0.0.1:${addr.port}`, mirror, comparisons, settled }
}

/** fetch sends one request and reads the whole answer. */
async function fetch(url: string, o: { method?: string; headers?: Record<string, string> } = {}) {
  const res = await request(url, { method: (o.method ?? 'GET') as 'GET', headers: o.headers ?? {} })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, headers: res.headers, body }
}

/** fixed answers every request with `body` and `headers` (HEAD: headers only). */
function fixed(body: string | Buffer, headers: Record<string, string> = {}) {
  return (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': Buffer.byteLength(body),
      ...headers,
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}

/**
 * watched makes a spawned child killed at teardown if it is still running, and gathers what it
 * writes (stdout and stderr together): the returned function reads it so far.
 */
function watched(t: Test, child: ReturnType<typeof spawn>): () => string {
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d))
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d))
  return () => output
}

/** The accounting identity every mirror keeps once nothing is pending. */
function addsUp(t: Test, s: MirrorStats): void {
  t.equal(s.pending, 0, 'nothing pending')
  t.equal(
    s.compared + s.abandoned + s.dropped + s.skipped,
    s.requests,
    'compared + abandoned + dropped + skipped = requests',
  )
}

/**
 * mirrorCases registers the cases, with the comparisons on the client path's thread or in a
 * thread of their own (MirrorOptions.thread).
 */
export function mirrorCases(thread: boolean): void {
  const startMirror = (...a: Parameters<typeof startMirrorIn> extends [boolean, ...infer R] ? R : never) => startMirrorIn(thread, ...a)

  t.test('clients get the primary answer untouched, and equal servers compare clean', async t => {
    const big = prngBytes(3 * 1024 * 1024 + 17, 7)
    const base = t.testdir({
      old: { 'a.txt': 'hello a\n', 'big.bin': big, 'empty.txt': '' },
      new: { 'a.txt': 'hello a\n', 'big.bin': big, 'empty.txt': '' },
    })
    for (const side of ['old', 'new'])
      for (const f of ['a.txt', 'big.bin', 'empty.txt']) utimesSync(join(base, side, f), MTIME, MTIME)
    const old = await startServe(t, join(base, 'old'))
    const nw = await startServe(t, join(base, 'new'))
    const m = await startMirror(t, { old: old.url, new: nw.url })
    const etag = header(await rawRequest(old.url, 'HEAD', '/a.txt'), 'etag')!

    const cases: Array<[string, string, Record<string, string>]> = [
      ['GET', '/a.txt', {}],
      ['GET', '/big.bin', {}],
      ['HEAD', '/big.bin', {}],
      ['GET', '/empty.txt', {}],
      ['GET', '/big.bin', { Range: 'bytes=1000000-1000099' }],
      ['GET', '/big.bin', { Range: 'bytes=-5' }],
      ['GET', '/a.txt', { 'If-None-Match': etag }],
      ['GET', '/a.txt', { Range: 'bytes=0-1', 'If-Range': etag }],
      ['GET', '/missing', {}],
      ['GET', '/big.bin', { Range: 'bytes=0-0,5-9' }],
    ]
    for (const [method, path, headers] of cases) {
      const direct = await rawRequest(old.url, method, path, headers)
      const via = await rawRequest(m.url, method, path, headers)
      const what = `${method} ${path} ${JSON.stringify(headers)}`
      t.equal(via.statusLine, direct.statusLine, `${what}: same status line`)
      const names = (r: typeof via) => r.headers.filter(([k]) => k.toLowerCase() !== 'date')
      if (header(direct, 'content-type')?.startsWith('multipart/')) {
        // Each answer has its own random boundary: the layout is what must be the same.
        t.equal(via.body.length, direct.body.length, `${what}: same multipart length`)
        t.equal(header(via, 'content-length'), header(direct, 'content-length'))
      } else {
        t.strictSame(names(via), names(direct), `${what}: same headers, same order, same case`)
        t.ok(via.body.equals(direct.body), `${what}: same body bytes`)
      }
    }
    await m.settled()
    t.equal(m.comparisons.length, cases.length, 'every request was compared')
    for (const c of m.comparisons) {
      t.strictSame(
        c.divergences,
        [],
        `${c.request.method} ${c.request.path} ${c.request.headers.range ?? ''}: no divergence`,
      )
    }
    t.match(m.mirror.stats, {
      requests: cases.length,
      compared: cases.length,
      divergent: 0,
      dropped: 0,
      abandoned: 0,
    })
    addsUp(t, m.mirror.stats)
    const withTag = m.comparisons.find(c => c.request.headers['if-none-match'] === etag)
    t.match(
      withTag,
      { status: { control: 304, candidate: 304 } },
      'the revalidation was shadowed as the client sent it',
    )
  })

  t.test('a difference past the first block is located exactly by a re-request, counted in the metrics', async t => {
    const body = prngBytes(256 * 1024, 5)
    const other = Buffer.from(body)
    const at = 3 * 64 * 1024 + 5
    other[at] = other[at]! ^ 0xff
    const base = t.testdir({ old: { 'f.bin': body }, new: { 'f.bin': other } })
    for (const side of ['old', 'new']) utimesSync(join(base, side, 'f.bin'), MTIME, MTIME)
    const old = await startServe(t, join(base, 'old'))
    const nw = await startServe(t, join(base, 'new'))
    const m = await startMirror(t, { old: old.url, new: nw.url }, { zoom: new ZoomBudget(60) })
    t.ok((await fetch(`${m.url}/f.bin`)).body.equals(body), 'the client got old')
    await m.settled()
    t.match(m.comparisons, [{ divergences: [{ kind: 'body-bytes', offset: at }] }], 'located to the byte')
    const metrics = await m.mirror.registry.metrics()
    t.match(metrics, /^cutover_mirror_zooms_total 1$/m, 'one re-request, counted')
    t.match(metrics, /^cutover_mirror_zooms_refused_total 0$/m)
  })

  t.test('with --primary new, clients get new; old is still the control of every record', async t => {
    const old = await listen(t, fixed('old bytes\n'))
    const nw = await listen(t, fixed('new bytes\n'))
    const m = await startMirror(t, { old: old.url, new: nw.url }, { primary: 'new' })
    const res = await fetch(`${m.url}/f`)
    t.equal(res.body.toString(), 'new bytes\n')
    await m.settled()
    t.match(m.comparisons, [{ divergences: [{ kind: 'body-bytes', offset: 0 }] }])
    const d = m.comparisons[0]!.divergences[0]!
    if (d.kind !== 'body-bytes') throw new Error('expected body-bytes')
    t.equal(Buffer.from(d.context!.control, 'hex').toString(), 'old bytes\n', 'control is old')
    t.equal(Buffer.from(d.context!.candidate, 'hex').toString(), 'new bytes\n', 'candidate is new')
    addsUp(t, m.mirror.stats)
  })

  t.test('a candidate that is down is an error divergence; the client still gets its answer', async t => {
    const old = await listen(t, fixed('payload\n'))
    const m = await startMirror(t, { old: old.url, new: `http://127.0.0.1:${await deadPort()}` })
    const res = await fetch(`${m.url}/f`)
    t.equal(res.status, 200)
    t.equal(res.body.toString(), 'payload\n')
    await m.settled()
    t.match(m.comparisons, [{ divergences: [{ kind: 'error', side: 'candidate', code: 'ERR_CONNECT' }] }])
    t.match(m.mirror.stats, { compared: 1, divergent: 1, shadowErrors: 1, divergentByKind: { error: 1 } })
    addsUp(t, m.mirror.stats)
  })

  t.test('a primary that is down gives the client a clean 502, and the record says so', async t => {
    const nw = await listen(t, fixed('payload\n'))
    const m = await startMirror(t, { old: `http://127.0.0.1:${await deadPort()}`, new: nw.url })
    const res = await fetch(`${m.url}/f`)
    t.equal(res.status, 502)
    t.equal(res.body.toString(), '502 Bad Gateway\n', 'no internals in the body')
    t.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
    await m.settled()
    t.match(m.comparisons, [{ divergences: [{ kind: 'error', side: 'control', code: 'ERR_CONNECT' }] }])
    t.match(m.mirror.stats, { proxyErrors: 1, compared: 1 })
    addsUp(t, m.mirror.stats)
  })

  t.test('a slow candidate does not delay the client', async t => {
    const old = await listen(t, fixed('payload\n'))
    const nw = await heldListen(t, fixed('payload\n'))
    const { arrived, release } = nw
    const m = await startMirror(t, { old: old.url, new: nw.url })
    // Bounded: a mirror that waited for new would hold the client until release is opened below.
    const res = await withTimeout(fetch(`${m.url}/f`), 10_000, "the client's answer while new is blocked")
    t.equal(res.body.toString(), 'payload\n', 'the client has the whole answer')
    await withTimeout(arrived.promise, 10_000, 'the shadow to reach new')
    t.equal(m.mirror.stats.pending, 1, 'the comparison is still pending')
    release.open()
    await m.settled()
    t.match(m.comparisons, [{ divergences: [] }])
    addsUp(t, m.mirror.stats)
  })

  t.test('shadow queue overflow is dropped and counted, and the stats add up', async t => {
    const old = await listen(t, fixed('payload\n'))
    const nw = await heldListen(t, fixed('payload\n'))
    const { arrived, release } = nw
    const m = await startMirror(
      t,
      { old: old.url, new: nw.url },
      { queue: new TaskQueue({ concurrency: 1, maxQueued: 1 }) },
    )
    // 1 takes the only slot (and blocks in new), 2 waits in the queue, 3 and 4 find it full.
    for (let i = 1; i <= 4; i++) {
      const res = await fetch(`${m.url}/f${i}`)
      t.equal(res.body.toString(), 'payload\n', `client ${i} is answered`)
      if (i === 1) await withTimeout(arrived.promise, 10_000, 'the first shadow to reach new')
    }
    t.match(m.mirror.stats, { requests: 4, dropped: 2, pending: 2 })
    t.equal(m.mirror.queue.stats.dropped, 2)
    release.open()
    await m.settled()
    t.match(m.mirror.stats, { requests: 4, compared: 2, dropped: 2, abandoned: 0, notCompared: 2 })
    t.strictSame(m.comparisons.map(c => c.request.path).sort(), ['/f1', '/f2', '/f3', '/f4'], 'every request has its record')
    t.strictSame(
      m.comparisons.filter(c => c.divergences.length > 0).map(c => [c.request.path, c.divergences]).sort(),
      [
        ['/f3', [{ kind: 'not-compared', reason: 'queue-full', message: 'the shadow queue was full when the request came' }]],
        ['/f4', [{ kind: 'not-compared', reason: 'queue-full', message: 'the shadow queue was full when the request came' }]],
      ],
      'the dropped ones say why',
    )
    addsUp(t, m.mirror.stats)
    const metrics = await m.mirror.registry.metrics()
    t.match(metrics, /^cutover_mirror_dropped_total 2$/m)
    t.match(metrics, /^cutover_mirror_requests_total 4$/m)
  })

  t.test('the primary body is hashed as it streams: a shadow answering late is still compared in full', async t => {
    const body = prngBytes(256 * 1024, 3)
    const old = await listen(t, fixed(body))
    const release = gate()
    const nw = await listen(t, (req, res) => void release.promise.then(() => fixed(body)(req, res)))
    // new gives no status until old's 256 KiB have all gone to the client: with bodies compared in
    // lockstep the primary's would have waited in the tee (past its 64 KiB bound); hashed on its own, it does not wait.
    const m = await startMirror(t, { old: old.url, new: nw.url }, { teeBytes: 64 * 1024 })
    const res = await fetch(`${m.url}/big`)
    t.ok(res.body.equals(body), 'the client got every byte')
    release.open()
    await m.settled()
    t.match(m.comparisons, [{ divergences: [], bytesCompared: body.length }], 'compared in full')
    t.match(m.mirror.stats, { requests: 1, compared: 1, abandoned: 0 })
    addsUp(t, m.mirror.stats)
  })

  t.test('a large body reaches a fast and a slow client whole and in order, and is compared in full', async t => {
    // The mirror takes in at most 256 KiB of a body per turn of its loop (boundReadTurns), pausing
    // the primary's socket; a slow client pauses it too (backpressure). Whichever holds it, every
    // byte must arrive once and in order, and the comparison must see them all.
    const body = prngBytes(16 * 1024 * 1024, 11)
    const old = await listen(t, fixed(body))
    const nw = await listen(t, fixed(body))
    const m = await startMirror(t, { old: old.url, new: nw.url })
    const readers: Array<[string, number]> = [
      ['at full speed', 0],
      ['slowly: each chunk taken 8 turns of the loop after the one before', 8],
    ]
    for (const [name, turns] of readers) {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        httpRequest(`${m.url}/big`, resolve).on('error', reject).end()
      })
      const chunks: Buffer[] = []
      const later = (n: number, cb: () => void): void => {
        if (n <= 0) return cb()
        setImmediate(() => later(n - 1, cb))
      }
      await pipeline(
        res,
        new Writable({
          highWaterMark: 1,
          write(chunk: Buffer, _enc, cb) {
            chunks.push(chunk)
            later(turns, cb)
          },
        }),
      )
      t.ok(Buffer.concat(chunks).equals(body), `${name}: every byte, in order`)
    }
    await m.settled()
    t.match(m.comparisons, [
      { divergences: [], bytesCompared: body.length },
      { divergences: [], bytesCompared: body.length },
    ])
    t.match(m.mirror.stats, { requests: 2, compared: 2, abandoned: 0 })
    t.equal(m.mirror.heldBytes, 0, 'no byte of either body is held once both are compared')
    addsUp(t, m.mirror.stats)
  })

  t.test('a body over the byte budget is not compared, and says so; its status and headers still are', async t => {
    const body = prngBytes(256 * 1024, 3)
    const old = await listen(t, fixed(body))
    const nw = await listen(t, fixed(body, { 'x-only-new': '1' }))
    // A 16-byte bound: the primary's first chunk is over it.
    const m = await startMirror(t, { old: old.url, new: nw.url }, { teeBytes: 16 })
    const res = await fetch(`${m.url}/big`)
    t.ok(res.body.equals(body), 'the client got every byte')
    await m.settled()
    t.match(m.comparisons, [
      {
        bytesCompared: 0,
        divergences: [
          { kind: 'header', name: 'x-only-new', candidate: '1' },
          { kind: 'not-compared', reason: 'budget' },
        ],
      },
    ])
    t.equal(m.comparisons[0]!.divergences.length, 2)
    t.match(m.mirror.stats, { requests: 1, compared: 0, abandoned: 1, notComparedByReason: { budget: 1 }, divergent: 1 })
    addsUp(t, m.mirror.stats)
  })

  t.test('divergences that old-vs-baseline also shows are noise', async t => {
    const old = await listen(t, fixed('same\n', { 'x-served-by': 'old-1' }))
    const baseline = await listen(t, fixed('same\n', { 'x-served-by': 'old-2' }))
    const nw = await listen(t, fixed('diff\n', { 'x-served-by': 'new-1' }))
    for (const primary of ['old', 'new'] as const) {
      const m = await startMirror(t, { old: old.url, new: nw.url, baseline: baseline.url }, { primary })
      await fetch(`${m.url}/f`)
      await fetch(`${m.url}/f`, { method: 'HEAD' })
      await m.settled()
      t.equal(m.comparisons.length, 2)
      const [get, head] = m.comparisons
      t.match(
        get,
        { divergences: [{ kind: 'body-bytes' }], noise: [{ kind: 'header', name: 'x-served-by' }] },
        `${primary} primary: GET`,
      )
      t.equal(get!.divergences.length, 1)
      t.match(
        head,
        { divergences: [], noise: [{ kind: 'header', name: 'x-served-by' }] },
        `${primary} primary: HEAD`,
      )
      t.match(m.mirror.stats, { compared: 2, divergent: 1, noise: 2 })
      addsUp(t, m.mirror.stats)
    }
  })

  t.test('with a baseline, a 2 MiB body differing past its first block: a divergence when only new differs, noise when the baseline differs alike', async t => {
    const size = 2 * 1024 * 1024
    const at = 1_500_000
    const same = prngBytes(size, 11)
    const differs = Buffer.from(same)
    differs[at] = differs[at]! ^ 0xff
    const old = await listen(t, fixed(same))
    const nw = await listen(t, fixed(differs))
    // [baseline's body, divergences, noise]
    const rows: Array<[string, Buffer, object[], object[]]> = [
      ['the baseline as old', same, [{ kind: 'body-bytes' }], []],
      ['the baseline as new', differs, [], [{ kind: 'body-bytes' }]],
    ]
    for (const [name, baseBody, divergences, noise] of rows) {
      const baseline = await listen(t, fixed(baseBody))
      for (const primary of ['old', 'new'] as const) {
        const m = await startMirror(t, { old: old.url, new: nw.url, baseline: baseline.url }, { primary })
        t.equal((await fetch(`${m.url}/big`)).body.length, size, `${name}, ${primary} primary: the client gets the whole body`)
        await m.settled()
        t.match(m.comparisons, [{ divergences, noise }], `${name}, ${primary} primary`)
        t.equal(m.comparisons[0]!.divergences.length + m.comparisons[0]!.noise.length, divergences.length + noise.length, `${name}, ${primary} primary: nothing else`)
      }
    }
  })

  t.test('with a baseline, an ETag of new that breaks consistency is a divergence, not noise', async t => {
    const rules = parseRules('etag: consistent\n')
    const old = await listen(t, fixed('same\n', { etag: '"o"' }))
    const baseline = await listen(t, fixed('same\n', { etag: '"o"' }))
    for (const primary of ['old', 'new'] as const) {
      let tag = 0
      const nw = await listen(t, (req, res) => fixed('same\n', { etag: `"n${++tag}"` })(req, res))
      const m = await startMirror(t, { old: old.url, new: nw.url, baseline: baseline.url }, { primary, rules })
      await fetch(`${m.url}/f`) // learns "o" <-> "n1"
      await m.settled()
      await fetch(`${m.url}/f`) // new now tags the same bytes "n2"
      await m.settled()
      const [first, second] = m.comparisons
      t.match(first, { divergences: [], noise: [] }, `${primary} primary: the first pair is learnt`)
      t.match(
        second,
        { divergences: [{ kind: 'header', name: 'etag', control: '"o"', candidate: '"n2"' }], noise: [] },
        `${primary} primary: the second tag is inconsistent, and old-vs-baseline does not explain it`,
      )
    }
  })

  t.test('only sampled requests of the shadowed methods are shadowed', async t => {
    const old = await listen(t, fixed('payload\n'))
    const seen: string[] = []
    const nw = await listen(t, (req, res) => {
      seen.push(`${req.method} ${req.url}`)
      fixed('payload\n')(req, res)
    })
    const draws = [0.2, 0.7, 0.1]
    const m = await startMirror(
      t,
      { old: old.url, new: nw.url },
      { sample: 0.5, random: () => draws.shift() ?? 1 },
    )
    await fetch(`${m.url}/one`) // 0.2 < 0.5: shadowed
    await fetch(`${m.url}/two`) // 0.7: not sampled
    await fetch(`${m.url}/post`, { method: 'POST' }) // not a shadowed method (no draw taken)
    await fetch(`${m.url}/three`, { method: 'HEAD' }) // 0.1: shadowed
    await m.settled()
    t.strictSame(seen, ['GET /one', 'HEAD /three'])
    t.match(m.mirror.stats, { requests: 4, compared: 2, skipped: 2 })
    addsUp(t, m.mirror.stats)
  })

  t.test("validators carry each server's own ETag, so a revalidation matches on both", async t => {
    const tagged = (tag: string) => (req: IncomingMessage, res: ServerResponse) => {
      if (req.headers['if-none-match'] === tag) {
        res.writeHead(304, { etag: tag }).end()
        return
      }
      fixed('payload\n', { etag: tag })(req, res)
    }
    const old = await listen(t, tagged('"old-1"'))
    const nw = await listen(t, tagged('"new-1"'))
    const rules = parseRules('etag: consistent\n')
    const m = await startMirror(t, { old: old.url, new: nw.url }, { rules })
    await fetch(`${m.url}/f`) // learns "old-1" ↔ "new-1"
    await m.settled()
    const res = await fetch(`${m.url}/f`, { headers: { 'if-none-match': '"old-1"' } })
    t.equal(res.status, 304)
    await m.settled()
    t.match(m.comparisons, [{ divergences: [] }, { status: { control: 304, candidate: 304 }, divergences: [] }])

    const back = await startMirror(t, { old: old.url, new: nw.url }, { rules, primary: 'new' })
    await fetch(`${back.url}/f`)
    await back.settled()
    const res2 = await fetch(`${back.url}/f`, { headers: { 'if-none-match': '"new-1"' } })
    t.equal(res2.status, 304, 'new primary answers its own tag')
    await back.settled()
    t.match(
      back.comparisons[1],
      { status: { control: 304, candidate: 304 }, divergences: [] },
      'old got its own tag',
    )
  })

  t.test('--capture writes one access record per request, as serve --access-log does', async t => {
    const dir = t.testdir({})
    const old = await listen(t, fixed('payload\n'))
    const capture = new AccessLog(join(dir, 'capture.jsonl'))
    const m = await startMirror(t, { old: old.url, new: old.url }, { capture })
    await fetch(`${m.url}/a?x=1`, { headers: { range: 'bytes=0-1', 'user-agent': 'test' } })
    await fetch(`${m.url}/b`, { method: 'POST' })
    await m.mirror.close(1000)
    await capture.close()
    const records = readJsonl(join(dir, 'capture.jsonl'))
    t.match(records, [
      {
        remote: '127.0.0.1',
        method: 'GET',
        path: '/a?x=1',
        headers: { range: 'bytes=0-1' },
        status: 200,
        bytes: 8,
        aborted: false,
      },
      { method: 'POST', path: '/b', headers: {}, status: 200, bytes: 8, aborted: false },
    ])
    t.strictSame(Object.keys(records[0]!), [
      'time',
      'remote',
      'method',
      'path',
      'headers',
      'status',
      'bytes',
      'durationMs',
      'aborted',
    ])
  })

  t.test('trailers of the primary reach the client', async t => {
    const old = await listen(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' })
      res.write('part one\n')
      res.addTrailers({ 'x-checksum': 'abc123' })
      res.end('part two\n')
    })
    const m = await startMirror(t, { old: old.url, new: old.url })
    const via = await rawRequest(m.url, 'GET', '/t')
    t.equal(header(via, 'transfer-encoding'), 'chunked')
    t.match(
      via.body.toString('latin1'),
      /0\r\nx-checksum: abc123\r\n\r\n$/i,
      'the trailer is after the last chunk',
    )
    t.match(via.body.toString('latin1'), /part one\n/)
    await m.settled()
    t.match(m.comparisons, [{ divergences: [] }])
  })

  t.test('a client that goes away mid-body: the bytes it got are compared, and the upstream download is cut', async t => {
    const upstreamClosed = gate()
    const never = gate()
    const old = await listen(t, (_req, res) => {
      res.once('close', () => upstreamClosed.open())
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '2000000' })
      res.write(Buffer.alloc(1000, 1))
      void never.promise // the rest never comes: only the client can end this exchange
    })
    const nw = await listen(t, fixed(Buffer.alloc(2_000_000, 1)))
    const m = await startMirror(t, { old: old.url, new: nw.url })
    const sock = connect(Number(new URL(m.url).port), '127.0.0.1')
    t.teardown(() => sock.destroy())
    let got = ''
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        sock.on('error', reject)
        sock.setEncoding('latin1').on('data', (d: string) => {
          got += d
          if (got.includes('\r\n\r\n') && got.length > got.indexOf('\r\n\r\n') + 4) resolve()
        })
        sock.write('GET /f HTTP/1.1\r\nHost: x\r\n\r\n')
      }),
      10_000,
      'the first body bytes to reach the client',
    )
    sock.destroy()
    await withTimeout(upstreamClosed.promise, 10_000, 'the upstream response to be cut')
    await m.settled()
    // The body was cut by the client, not the server: no length difference; the 1000 bytes old sent are compared.
    t.match(m.comparisons, [{ divergences: [], bytesCompared: 1000 }])
    t.equal(m.comparisons.length, 1)
    t.match(m.mirror.stats, { requests: 1, compared: 1, abandoned: 0, proxyErrors: 0 })
    addsUp(t, m.mirror.stats)
  })

  t.test('a saturated mirror sheds new shadows but runs one at a time, and counts them', async t => {
    const old = await listen(t, fixed('payload\n'))
    const nw = await heldListen(t, fixed('payload\n'))
    const { arrived, release } = nw
    const load = { utilization: 1 }
    const m = await startMirror(t, { old: old.url, new: nw.url }, { shedAbove: 0.9, shedKeep: 0, load })
    const first = await fetch(`${m.url}/f1`)
    t.equal(first.body.toString(), 'payload\n')
    await withTimeout(arrived.promise, 10_000, 'the first shadow to reach new')
    for (const path of ['/f2', '/f3']) {
      const res = await fetch(`${m.url}${path}`)
      t.equal(res.body.toString(), 'payload\n', `${path}: the client is answered`)
    }
    t.match(m.mirror.stats, { requests: 3, pending: 1, dropped: 2, shed: 2 }, 'one runs, the others are shed')
    release.open()
    await m.settled()
    load.utilization = 0.5
    await fetch(`${m.url}/f4`)
    await fetch(`${m.url}/f5`)
    await m.settled()
    t.match(m.mirror.stats, { requests: 5, compared: 3, dropped: 2, shed: 2, abandoned: 0 })
    t.strictSame(
      m.comparisons.map(c => [c.request.path, c.divergences.map(d => (d.kind === 'not-compared' ? d.reason : d.kind))]).sort(),
      [['/f1', []], ['/f2', ['shed']], ['/f3', ['shed']], ['/f4', []], ['/f5', []]],
    )
    addsUp(t, m.mirror.stats)
    const metrics = await m.mirror.registry.metrics()
    t.match(metrics, /^cutover_mirror_shed_total 2$/m)
    t.match(metrics, /^cutover_mirror_dropped_total 2$/m)
    t.match(metrics, /^cutover_mirror_event_loop_utilization 0.5$/m)
  })

  t.test('the metrics server serves the registry in the Prometheus text format', async t => {
    const old = await listen(t, fixed('payload\n'))
    const m = await startMirror(t, { old: old.url, new: old.url })
    await fetch(`${m.url}/f`)
    await m.settled()
    const ms = new MetricsServer(m.mirror.registry)
    const addr = await ms.listen(0, '127.0.0.1')
    t.teardown(() => ms.close())
    const res = await fetch(`http://127.0.0.1:${addr.port}/metrics`)
    t.equal(res.status, 200)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
    const text = res.body.toString()
    for (const line of [
      'cutover_mirror_requests_total 1',
      'cutover_mirror_compared_total 1',
      'cutover_mirror_dropped_total 0',
      'cutover_mirror_abandoned_total 0',
      'cutover_mirror_shadow_seconds_count 1',
      'cutover_mirror_client_seconds_count 1',
    ]) {
      t.ok(text.split('\n').includes(line), line)
    }
    t.equal((await fetch(`http://127.0.0.1:${addr.port}/other`)).status, 404)
  })

  t.test('cutover mirror runs from the command line, writes divergences, and sums up on SIGTERM', async t => {
    const dir = t.testdir({ 'bad-rules.yaml': 'etag: sometimes\n' })
    const old = await listen(t, fixed('old\n'))
    const nw = await listen(t, fixed('new\n'))
    const same = await listen(t, fixed('old\n'))
    const out = join(dir, 'out.jsonl')
    const child = spawn(
      process.execPath,
      [
        CLI,
        'mirror',
        '--listen',
        '127.0.0.1:0',
        '--old',
        old.url,
        '--new',
        nw.url,
        '--out',
        out,
        '--metrics-listen',
        '127.0.0.1:0',
        // Counts are asserted exactly: a busy CI machine must not make the mirror shed.
        '--shed-above',
        '1',
        ...(thread ? ['--thread'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const output = watched(t, child)
    await waitForOutput(child, output, /listening on http:\/\/\S+ \(.*metrics http:\/\/\S+\/metrics\)/)
    t.match(output(), `(primary old ${old.url}, shadow new ${nw.url}, metrics http://127.0.0.1:`)
    const url = /listening on (http:\/\/\S+)/.exec(output())![1]!
    const metricsUrl = /metrics (http:\/\/\S+\/metrics)/.exec(output())![1]!
    t.equal((await fetch(`${url}/f`)).body.toString(), 'old\n')
    t.equal((await fetch(`${url}/g`, { method: 'POST' })).body.toString(), 'old\n')
    t.match(
      (await fetch(metricsUrl)).body.toString(),
      /^cutover_mirror_requests_total 2$/m,
      'metrics are served',
    )
    // The comparison may still be running: shutdown lets it finish (within --grace) before the summary.
    child.kill('SIGTERM')
    t.equal(await withTimeout(exited(child), 10_000, 'mirror to exit'), 0)
    t.match(
      output(),
      /stopped\n {2}requests 2 {2}compared 1 {2}divergent 1 {2}noise 0 {2}dropped 0 {2}abandoned 0 {2}skipped 1\n/,
    )
    t.match(output(), /divergent comparisons by kind: body-bytes 1/)
    t.match(readJsonl(out), [
      { request: { method: 'GET', path: '/f' }, divergences: [{ kind: 'body-bytes', offset: 0 }] },
    ])

    // Clean comparisons are counted, not written.
    const out2 = join(dir, 'out2.jsonl')
    writeFileSync(out2, '')
    const child2 = spawn(
      process.execPath,
      [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', old.url, '--new', same.url, '--out', out2],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const output2 = watched(t, child2)
    await waitForOutput(child2, output2, /listening on http:\/\/\S+/)
    await fetch(`${/listening on (http:\/\/\S+)/.exec(output2())![1]!}/f`)
    child2.kill('SIGINT')
    t.equal(await withTimeout(exited(child2), 10_000, 'mirror to exit'), 0)
    t.match(output2(), /requests 1 {2}compared 1 {2}divergent 0/)
    t.equal(readFileSync(out2, 'utf8'), '', 'nothing written for a clean comparison')

    // Bad rules: exit 2, naming the file and the field.
    const bad = join(dir, 'bad-rules.yaml')
    const child3 = spawn(
      process.execPath,
      [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', old.url, '--new', nw.url, '--rules', bad],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let err3 = ''
    child3.stderr.setEncoding('utf8').on('data', (d: string) => (err3 += d))
    t.equal(await withTimeout(exited(child3), 10_000, 'mirror to exit'), 2)
    t.match(err3, `${bad}: etag:`)

    // A method with a body cannot be shadowed (the shadow would go without it): exit 2, saying why.
    const child4 = spawn(
      process.execPath,
      [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', old.url, '--new', nw.url, '--shadow-methods', 'GET,post'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let err4 = ''
    child4.stderr.setEncoding('utf8').on('data', (d: string) => (err4 += d))
    t.equal(await withTimeout(exited(child4), 10_000, 'mirror to exit'), 2)
    t.match(err4, "cannot shadow POST: shadow requests are sent without the client's body")
  })

  // The status line does not depend on where comparisons run: its case runs once.
  if (!thread) t.test('the status line: redrawn in place on a terminal, plain periodic lines otherwise', async t => {
    const old = await listen(t, fixed('old\n'))
    const nw = await listen(t, fixed('new\n'))
    const args = [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', old.url, '--new', nw.url, '--shed-above', '1']

    // Not a terminal: one plain line per interval on stderr.
    const plain = spawn(process.execPath, [...args, '--status-interval', '50ms'], { stdio: ['ignore', 'pipe', 'pipe'] })
    t.teardown(() => {
      if (plain.exitCode === null && plain.signalCode === null) plain.kill('SIGKILL')
    })
    let out = ''
    let err = ''
    plain.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    plain.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    await waitForOutput(plain, () => out, /listening on http:\/\/\S+/)
    await fetch(`${/listening on (http:\/\/\S+)/.exec(out)![1]!}/f`)
    await waitForOutput(plain, () => err, /^cutover mirror: requests 1 {2}compared 1 {2}divergent 1 \(body-bytes 1\)/m)
    t.notMatch(err, /\r|\x1b\[/, 'no cursor control when stderr is not a terminal')
    plain.kill('SIGTERM')
    t.equal(await withTimeout(exited(plain), 10_000, 'mirror to exit'), 0)

    // A terminal (a pseudo-terminal from python3's pty): the line is redrawn with \r and erase-to-end.
    if (!requireTool(t, 'python3')) return
    const pty = spawn(
      'python3',
      ['-c', 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)', process.execPath, ...args],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    )
    const screen = watched(t, pty)
    await waitForOutput(pty, screen, /listening on http:\/\/\S+/)
    await fetch(`${/listening on (http:\/\/[^\s)]+)/.exec(screen())![1]!}/f`)
    await waitForOutput(pty, screen, /\rrequests 1 {2}compared 1 {2}divergent 1 \(body-bytes 1\)[^\r\n]*\x1b\[K/)
    t.notMatch(screen(), /cutover mirror: requests/, 'no plain status lines on a terminal')
    // Ctrl-C typed at the terminal: the line is cleared, the summary printed, exit 0.
    pty.stdin.write('\x03')
    t.equal(await withTimeout(exited(pty), 10_000, 'mirror under a pty to exit'), 0)
    t.match(screen(), /SIGINT: draining/)
    t.match(screen(), /stopped\r?\n {2}requests 1 {2}compared 1 {2}divergent 1/)
  })
}
