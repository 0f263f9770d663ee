import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { sha256 } from '../helpers/e2e.js'
import { startFaultProxy, type FaultProxy, type ProxyFault } from '../helpers/fault-proxy.js'
import { gate } from '../helpers/gate.js'
import { freePort, startNginx } from '../helpers/nginx.js'
import { seededBytes } from '../helpers/random.js'
import { bucketOf, fetchBody, manifestFile, sample, settled, startS3rver, startServeArgs, type Fetched, type ServeProcess } from '../helpers/s3-serve.js'
import { requireTool } from '../helpers/serve.js'

const KIB = 1024
/** CHUNK is --chunk-size: small, so that a blob of a few hundred KiB spans five chunks. */
const CHUNK = 64 * KIB
/** SIZE is each row's blob: four whole chunks and a short fifth. */
const SIZE = 4 * CHUNK + 100
const CHUNKS = 5
/**
 * FLAGS of the serves under test: one retry (so "then success" and "past the retries" are each one
 * fault apart), a store timeout long enough never to be reached by a loaded machine, stats trusted for an hour (each row's blob is
 * stat once: its HEAD faults spoil that stat), --prefetch 0 (each chunk is read when the download
 * reaches it), pieces of one chunk (--piece-size: the header goes out once the first chunk is read),
 * nothing kept whole (--small-file-max 1). GET faults name their chunk's Range: chunks may be read
 * concurrently, so the order of their GETs is not the chunks' order.
 */
const FLAGS = ['--chunk-size', '64KiB', '--piece-size', '64KiB', '--prefetch', '0', '--store-retries', '1', '--store-timeout', '20s', '--stat-ttl', '60m', '--small-file-max', '1']

/** STALL_FLAGS are the flags of the serve of the stall rows: a 1 s store timeout, no retry (one stalled request is the whole wait). */
const STALL_FLAGS = [...FLAGS, '--store-timeout', '1s', '--store-retries', '0']

/** Backend is a store kind under test: how serve names it, how to write and replace its blobs, and serve's flags for an endpoint. */
interface Backend {
  /** The store's name in the metrics (its kind). */
  readonly name: 's3' | 'http'
  /** The real service (the proxy's target). */
  readonly endpoint: string
  put(key: string, body: Uint8Array): Promise<void>
  /** storeArgs are serve's flags for the store at `endpoint` (the proxy, or a port with nothing behind). */
  storeArgs(endpoint: string): string[]
  /** env are the assignments the serve process needs (the S3 keys). */
  readonly env: readonly string[]
}

/** Row is one fault at one moment: the faults spoiling the next HEADs and GETs of its blob, and what the client and the counters must see. */
interface Row {
  readonly name: string
  readonly head?: readonly ProxyFault[]
  /** GET faults of chunk `chunk`'s reads, in order. */
  readonly get?: { readonly chunk: number; readonly faults: readonly ProxyFault[] }
  /** The status the client gets. */
  readonly status: number
  /** whole: the blob, its sha256 right; cut: a prefix of it, short of Content-Length, the connection cut; error: an error page. */
  readonly body: 'whole' | 'cut' | 'error'
  readonly heads: number
  readonly gets: number
  /** Store errors counted, by code (cutover_store_errors_total deltas). */
  readonly errors: Readonly<Record<string, number>>
}

const RESET: ProxyFault = { resetAfter: 100 }
const SHORT: ProxyFault = { shortBy: 10 }
const E500: ProxyFault = { status: 500 }

/**
 * ROWS are the faults of one moment each: of the stat (HEAD), of the first chunk (before the
 * client's header: a retry, or a 502) and of the third (after it: a retry, or the connection cut).
 */
const ROWS: readonly Row[] = [
  { name: 'no fault', status: 200, body: 'whole', heads: 1, gets: CHUNKS, errors: {} },
  { name: 'stat 500 then success: retried', head: [E500], status: 200, body: 'whole', heads: 2, gets: CHUNKS, errors: {} },
  { name: 'stat 500 past the retries: 502', head: [E500, E500], status: 502, body: 'error', heads: 2, gets: 0, errors: { ERR_IO: 1 } },
  { name: 'first chunk 500 then success: retried', get: { chunk: 0, faults: [E500] }, status: 200, body: 'whole', heads: 1, gets: CHUNKS + 1, errors: {} },
  { name: 'first chunk 500 past the retries: 502 before the header', get: { chunk: 0, faults: [E500, E500] }, status: 502, body: 'error', heads: 1, gets: 2, errors: { ERR_IO: 1 } },
  { name: 'first chunk reset mid-body then success: retried', get: { chunk: 0, faults: [RESET] }, status: 200, body: 'whole', heads: 1, gets: CHUNKS + 1, errors: {} },
  { name: 'first chunk reset mid-body past the retries: 502 before the header', get: { chunk: 0, faults: [RESET, RESET] }, status: 502, body: 'error', heads: 1, gets: 2, errors: { ERR_IO: 1 } },
  { name: 'third chunk reset mid-body then success: retried, whole', get: { chunk: 2, faults: [RESET] }, status: 200, body: 'whole', heads: 1, gets: CHUNKS + 1, errors: {} },
  { name: 'third chunk reset past the retries: after the header, the client is cut', get: { chunk: 2, faults: [RESET, RESET] }, status: 200, body: 'cut', heads: 1, gets: 4, errors: { ERR_IO: 1 } },
  { name: 'third chunk 500 past the retries: the client is cut', get: { chunk: 2, faults: [E500, E500] }, status: 200, body: 'cut', heads: 1, gets: 4, errors: { ERR_IO: 1 } },
  { name: 'first chunk short body then success: retried', get: { chunk: 0, faults: [SHORT] }, status: 200, body: 'whole', heads: 1, gets: CHUNKS + 1, errors: {} },
  { name: 'first chunk short past the retries: 502 before the header', get: { chunk: 0, faults: [SHORT, SHORT] }, status: 502, body: 'error', heads: 1, gets: 2, errors: { ERR_SHORT_READ: 1 } },
  { name: 'third chunk short past the retries: the client is cut', get: { chunk: 2, faults: [SHORT, SHORT] }, status: 200, body: 'cut', heads: 1, gets: 4, errors: { ERR_SHORT_READ: 1 } },
]

/** errorsOf reads every cutover_store_errors_total sample of `store`, by code. */
function errorsOf(text: string, store: string): Record<string, number> {
  const out: Record<string, number> = {}
  const re = new RegExp(`^cutover_store_errors_total\\{store="${store}",code="([A-Z_]+)"\\} (\\d+)$`, 'gm')
  for (const m of text.matchAll(re)) out[m[1]!] = Number(m[2])
  return out
}

/** delta is what grew from `a` to `b` (zeros left out). */
function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) !== 0) out[k] = v - (a[k] ?? 0)
  return out
}

/** checkBody asserts what the client got: the whole blob, a cut prefix of it, or an error page. */
function checkBody(t: Test, what: string, r: Fetched, status: number, body: Row['body'], blob: Uint8Array): void {
  t.equal(r.status, status, `${what}: ${status}`)
  if (body === 'whole') {
    t.equal(r.headers['content-length'], String(blob.length), `${what}: Content-Length of the blob`)
    t.ok(r.complete, `${what}: complete`)
    t.equal(sha256(r.body), sha256(blob), `${what}: the blob's sha256`)
  } else if (body === 'cut') {
    t.equal(r.headers['content-length'], String(blob.length), `${what}: Content-Length of the blob`)
    t.notOk(r.complete, `${what}: the connection was cut`)
    t.ok(r.body.length < blob.length, `${what}: short of Content-Length (${r.body.length} of ${blob.length})`)
    t.equal(Buffer.compare(r.body, Buffer.from(blob.subarray(0, r.body.length))), 0, `${what}: what came is the blob's start, nothing else`)
  } else {
    t.ok(r.complete, `${what}: a complete error answer`)
    t.ok(r.body.length < 200, `${what}: a short error page, none of the blob`)
  }
}

/** rangeOf is the Range header of chunk `i`'s read in a blob of `size` bytes. */
function rangeOf(i: number, size: number): string {
  return `bytes=${i * CHUNK}-${Math.min(size, (i + 1) * CHUNK) - 1}`
}

/** blobOf is row `i`'s blob. */
const blobOf = (i: number): Buffer => seededBytes(1000 + i, SIZE)

/**
 * faultTable runs every {@link ROWS} row, plus the stall and the replaced-blob rows, against
 * `backend` through a fault proxy, on one serve.
 */
async function faultTable(setup: Test, backend: Backend, dir: string): Promise<(t: Test) => Promise<void>> {
  const keys = [...ROWS.map((_, i) => `r${i}.bin`), 'stall-get.bin', 'stall-head.bin', 'replaced.bin', 'replaced-early.bin']
  for (const [i, key] of keys.entries()) await backend.put(key, blobOf(i))
  const proxy = await startFaultProxy(setup, backend.endpoint)
  const manifest = manifestFile(dir, keys)
  const [main, stalls] = await Promise.all([
    startServeArgs(setup, [...backend.storeArgs(proxy.url), '--manifest', manifest, ...FLAGS], backend.env),
    startServeArgs(setup, [...backend.storeArgs(proxy.url), '--manifest', manifest, ...STALL_FLAGS], backend.env),
  ])
  const store = backend.name
  return async t => {
    /** runRow sends the request of `key` with `faults` injected and checks the client, the proxy and the counters. */
    const runRow = async (
      row: Pick<Row, 'name' | 'status' | 'body' | 'heads' | 'gets' | 'errors'>,
      key: string,
      blob: Uint8Array,
      during?: (p: FaultProxy, before: { gets: number }) => Promise<void>,
      serve: ServeProcess = main,
    ): Promise<void> => {
      const before = await settled(serve.metricsUrl)
      const heads = proxy.count.HEAD ?? 0
      const gets = proxy.count.GET ?? 0
      const logFrom = proxy.log.length
      const pending = fetchBody(`${serve.url}/${key}`, { timeoutMs: 15_000 })
      if (during) await during(proxy, { gets })
      const r = await pending
      checkBody(t, row.name, r, row.status, row.body, blob)
      const after = await settled(serve.metricsUrl)
      t.equal((proxy.count.HEAD ?? 0) - heads, row.heads, `${row.name}: ${row.heads} HEADs at the store`)
      if (!t.equal((proxy.count.GET ?? 0) - gets, row.gets, `${row.name}: ${row.gets} GETs at the store`)) {
        t.comment(`requests at the store: ${proxy.log.slice(logFrom).map(r => `${r.method} ${r.range ?? ''}`).join(', ')}`)
        t.comment(serve.output().slice(-3000))
      }
      t.strictSame(delta(errorsOf(before, store), errorsOf(after, store)), row.errors, `${row.name}: store errors counted ${JSON.stringify(row.errors)}`)
      // A chunk load that failed is counted (never cached: the next read tries again); a failed stat loads nothing.
      const loadErrors = row.body === 'cut' || (row.status >= 500 && row.gets > 0) ? 1 : 0
      const le = 'cutover_serve_chunk_load_errors_total'
      t.equal(sample(after, le) - sample(before, le), loadErrors, `${row.name}: ${loadErrors} chunk load errors counted`)
      const code = `cutover_serve_requests_total{code="${row.status}"}`
      t.equal(sample(after, code) - sample(before, code), 1, `${row.name}: counted as a ${row.status}`)
    }

    for (const [i, row] of ROWS.entries()) {
      if (row.head) proxy.inject('HEAD', ...row.head)
      if (row.get) proxy.inject(`GET ${rangeOf(row.get.chunk, SIZE)}`, ...row.get.faults)
      await runRow(row, `r${i}.bin`, blobOf(i))
    }

    // A store that stalls past --store-timeout (1 s, no retry, on a serve of its own): 504 before the header. The proxy
    // holds the stalled request until the test has seen the 504, then lets it go (to a client gone).
    {
      const release = gate()
      proxy.inject(`GET ${rangeOf(0, SIZE)}`, { hold: release.promise })
      await runRow(
        { name: 'first chunk stalled past --store-timeout: 504', status: 504, body: 'error', heads: 1, gets: 1, errors: { ERR_TIMEOUT: 1 } },
        'stall-get.bin',
        blobOf(ROWS.length),
        undefined,
        stalls,
      )
      release.open()
    }
    {
      const release = gate()
      proxy.inject('HEAD', { hold: release.promise })
      await runRow(
        { name: 'stat stalled past --store-timeout: 504', status: 504, body: 'error', heads: 1, gets: 0, errors: { ERR_TIMEOUT: 1 } },
        'stall-head.bin',
        blobOf(ROWS.length + 1),
        undefined,
        stalls,
      )
      release.open()
    }

    // A blob replaced between its chunks: the first chunk is served, the second chunk's GET is held
    // while the blob is replaced, then goes to the store with the old version as its condition: the
    // download is cut, never continued with the new bytes. The next request is the new version, whole
    // (the failed read dropped the old stat, trusted for an hour otherwise).
    // Replaced before the first chunk is read (before the header): a 500, the next request the new version.
    for (const [name, key, chunk, status, body] of [
      ['blob replaced between chunks, after the header: the download is cut', 'replaced.bin', 1, 200, 'cut'],
      ['blob replaced before its first chunk is read: 500 before the header', 'replaced-early.bin', 0, 500, 'error'],
    ] as const) {
      const old = blobOf(keys.indexOf(key))
      const fresh = seededBytes(77 + chunk, SIZE + 1000)
      const release = gate()
      proxy.inject(`GET ${rangeOf(chunk, SIZE)}`, { hold: release.promise })
      await runRow({ name, status, body, heads: 1, gets: chunk + 1, errors: { ERR_BLOB_CHANGED: 1 } }, key, old, async (p, before) => {
        await p.arrived('GET', before.gets + chunk + 1)
        await backend.put(key, fresh)
        release.open()
      })
      await runRow({ name: `${name}; the next request: the new version, whole`, status: 200, body: 'whole', heads: 1, gets: CHUNKS, errors: {} }, key, fresh)
    }
  }
}

/**
 * downAtStart starts serve on a store endpoint where nothing listens yet: serve starts, a request
 * gets 502; once a forwarder to the real store listens there, 200 with the blob.
 */
async function downAtStart(setup: Test, backend: Backend, dir: string): Promise<(t: Test) => Promise<void>> {
  const blob = seededBytes(5, SIZE)
  await backend.put('down.bin', blob)
  const port = await freePort()
  const serve = await startServeArgs(setup, [...backend.storeArgs(`http://127.0.0.1:${port}`), '--manifest', manifestFile(dir, ['down.bin']), ...FLAGS], backend.env)
  return async t => {
  const before = await settled(serve.metricsUrl)
  checkBody(t, 'store down', await fetchBody(`${serve.url}/down.bin`), 502, 'error', blob)
  checkBody(t, 'store still down', await fetchBody(`${serve.url}/down.bin`), 502, 'error', blob)
  const mid = await settled(serve.metricsUrl)
  t.strictSame(delta(errorsOf(before, backend.name), errorsOf(mid, backend.name)), { ERR_IO: 2 }, 'store down: each failed stat counted ERR_IO')
  await forward(t, port, backend.endpoint)
  checkBody(t, 'store up', await fetchBody(`${serve.url}/down.bin`), 200, 'whole', blob)
  const after = await settled(serve.metricsUrl)
  t.strictSame(delta(errorsOf(mid, backend.name), errorsOf(after, backend.name)), {}, 'store up: no error')
  t.equal(sample(after, `cutover_store_reads_total{store="${backend.name}"}`) - sample(mid, `cutover_store_reads_total{store="${backend.name}"}`), CHUNKS, 'store up: the chunks read')
  }
}

/** forward listens on 127.0.0.1:port and pipes every connection to `target` (a store coming up), closed at teardown. */
async function forward(t: Test, port: number, target: string): Promise<void> {
  const u = new URL(target)
  const sockets = new Set<Socket>()
  const server = createServer(c => {
    const up = connect(Number(u.port), u.hostname)
    for (const s of [c, up]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => undefined)
    }
    c.pipe(up).pipe(c)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>(resolve => server.close(() => resolve()))
  })
}

/**
 * fallback runs `--store <backend> --fallback-store file:///DIR`: with the backend's stat failing
 * past its retries, the stat falls back to the file store: 200 with the right bytes, counted.
 */
async function fallback(setup: Test, backend: Backend, base: string): Promise<(t: Test) => Promise<void>> {
  const blob = seededBytes(6, SIZE)
  await backend.put('fb.bin', blob)
  const dir = join(base, 'blobs')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'fb.bin'), blob)
  const proxy = await startFaultProxy(setup, backend.endpoint)
  const serve = await startServeArgs(
    setup,
    [...backend.storeArgs(proxy.url), '--fallback-store', pathToFileURL(dir).href, '--manifest', manifestFile(base, ['fb.bin']), ...FLAGS],
    backend.env,
  )
  return async t => {
  t.match(serve.output(), /, then file:\/\//, 'the start line names the chain')
  const before = await settled(serve.metricsUrl)
  proxy.inject('HEAD', E500, E500)
  checkBody(t, `${backend.name} stat fails: fallen back to the file store`, await fetchBody(`${serve.url}/fb.bin`), 200, 'whole', blob)
  const after = await settled(serve.metricsUrl)
  t.equal(proxy.count.HEAD ?? 0, 2, 'the failing store was asked (and retried)')
  t.equal(proxy.count.GET ?? 0, 0, 'and not read: the bytes came from the file store')
  const fb = `cutover_store_fallbacks_total{store="${backend.name}",reason="ERR_IO"}`
  t.equal(sample(after, fb) - sample(before, fb), 1, `counted in ${fb}`)
  t.equal(sample(after, 'cutover_store_reads_total{store="file"}') - sample(before, 'cutover_store_reads_total{store="file"}'), CHUNKS, 'the chunks read from the file store')
  }
}

/** s3Backend is s3rver under a prefix of its own. */
async function s3Backend(t: Test, _base: string): Promise<Backend> {
  const target = await startS3rver(t)
  const bucket = bucketOf(t, target)
  return {
    name: 's3',
    endpoint: target.endpoint,
    put: (key, body) => bucket.put(key, body),
    storeArgs: endpoint => ['--store', `s3://${target.bucket}/${bucket.prefix}`, '--s3-endpoint', endpoint, '--s3-path-style', '--s3-region', target.region],
    env: [`AWS_ACCESS_KEY_ID=${target.keys!.accessKeyId}`, `AWS_SECRET_ACCESS_KEY=${target.keys!.secretAccessKey}`],
  }
}

/** nginxBackend is nginx serving a directory as an HTTP origin (blobs replaced by rename, as a publisher would). */
async function nginxBackend(t: Test, base: string): Promise<Backend> {
  const root = join(base, 'root')
  mkdirSync(root)
  mkdirSync(join(base, 'work'))
  const { url } = await startNginx(t, root, join(base, 'work'))
  return {
    name: 'http',
    endpoint: url,
    put: async (key, body) => {
      writeFileSync(join(root, `${key}.tmp`), body)
      renameSync(join(root, `${key}.tmp`), join(root, key))
    },
    storeArgs: endpoint => ['--store', `${endpoint}/`],
    env: [],
  }
}

for (const [kind, make, tool] of [
  ['S3 (s3rver)', s3Backend, undefined],
  ['an HTTP origin (nginx)', nginxBackend, 'nginx'],
] as const) {
  t.test(`store faults through a fault proxy in front of ${kind}`, async t => {
    if (tool !== undefined && !requireTool(t, tool)) return
    // One directory for every part (t.testdir() empties its directory at each call).
    const base = t.testdir({ backend: {}, table: {}, down: {}, fallback: {} })
    const backend = await make(t, join(base, 'backend'))
    // The three serves start at once: a start is seconds of the test's time, the rows much less.
    const [table, down, fb] = await Promise.all([
      faultTable(t, backend, join(base, 'table')),
      downAtStart(t, backend, join(base, 'down')),
      fallback(t, backend, join(base, 'fallback')),
    ])
    await t.test('the fault table', table)
    await t.test('a store down at start', down)
    await t.test('a fallback chain: the store fails, the file store answers', fb)
  })
}

