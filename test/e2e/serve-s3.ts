import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { get } from 'node:http'
import { run, sha256, withTimeout } from '../helpers/e2e.js'
import { seededBytes } from '../helpers/random.js'
import { bucketOf, envTarget, fetchBody, type Fetched, manifestFile, scrape, settled, sample, startS3rver, startS3Serve, type S3Target } from '../helpers/s3-serve.js'
import { CLI, requireTool } from '../helpers/serve.js'

const KIB = 1024
/** CHUNK is the --chunk-size of these tests: small, so that a 1 MiB blob spans many chunks. */
const CHUNK = 64 * KIB

/**
 * pausedDownload GETs `url` and stops reading at the first bytes (`started`) until `resume()`;
 * `done` is what came in all, a cut connection included.
 */
function pausedDownload(url: string): { started: Promise<void>; resume(): void; done: Promise<Fetched> } {
  let resume = (): void => undefined
  let onStart = (): void => undefined
  const started = new Promise<void>(r => (onStart = r))
  const done = new Promise<Fetched>((resolve, reject) => {
    const req = get(url, { agent: false }, res => {
      const chunks: Buffer[] = []
      resume = () => res.resume()
      res.on('data', (d: Buffer) => {
        if (chunks.length === 0) {
          res.pause()
          onStart()
        }
        chunks.push(d)
      })
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }))
    })
    req.on('error', reject)
  })
  return { started, resume: () => resume(), done }
}

/**
 * suite serves a manifest of blobs in `target` with `cutover serve --store s3://...` and downloads
 * them with curl, wget and aria2c, by ranges, with If-Range and HEAD; then replaces a blob.
 */
async function suite(t: Test, target: S3Target): Promise<void> {
  const bucket = bucketOf(t, target)
  // Sizes not multiples of the chunk: the last chunk is short.
  const a = seededBytes(21, 16 * CHUNK + 1234)
  const v1 = seededBytes(22, 3 * CHUNK + 17)
  const v2 = seededBytes(23, 5 * CHUNK + 99)
  await bucket.put('a.bin', a)
  await bucket.put('dir/b.bin', v1)
  // Large enough (128 chunks) that a paused download has chunks still to read.
  const c1 = seededBytes(24, 128 * CHUNK + 5)
  const c2 = seededBytes(25, c1.length)
  await bucket.put('c.bin', c1)
  const dir = t.testdir({})
  const manifest = manifestFile(dir, ['a.bin', 'dir/b.bin', 'missing.bin', 'c.bin'])
  const serve = await startS3Serve(t, {
    manifest,
    target,
    prefix: bucket.prefix,
    // --stat-ttl 0: every request stats, so a replaced blob is the one served next. --small-file-max 1:
    // every blob goes through the chunk cache (the small-file cache has tests of its own).
    extra: ['--chunk-size', '64KiB', '--stat-ttl', '0', '--small-file-max', '1', '--store-timeout', '10s'],
  })
  t.match(serve.output(), /store s3:\/\/\S+, chunk cache \S+ in 64 ?KiB chunks/, 'the start line names the store and the chunk cache')
  const url = `${serve.url}/a.bin`

  t.test('curl, wget and aria2c -x4 download the whole blob', async t => {
    if (requireTool(t, 'curl')) {
      const out = join(dir, 'curl.bin')
      const r = await run('curl', ['-sS', '--fail', '--max-time', '20', '-o', out, url], { timeoutMs: 25_000 })
      t.equal(r.code, 0, `curl: ${r.stderr}`)
      t.equal(sha256(readFileSync(out)), sha256(a), 'curl: the sha256 of the blob')
    }
    if (requireTool(t, 'wget')) {
      const out = join(dir, 'wget.bin')
      const r = await run('wget', ['-q', '-T', '20', '-t', '1', '-O', out, url], { timeoutMs: 25_000 })
      t.equal(r.code, 0, `wget: ${r.stderr}`)
      t.equal(sha256(readFileSync(out)), sha256(a), 'wget: the sha256 of the blob')
    }
    if (requireTool(t, 'aria2c')) {
      // Four connections, each a Range request of its own part (aria2c's smallest split is 1 MiB:
      // the blob is a little over 1 MiB, so -k 1M gives two parts over the connections).
      const r = await run('aria2c', ['-q', '-x4', '-s4', '-k1M', '--min-split-size=1M', '--allow-overwrite=true', '--auto-file-renaming=false', '-d', dir, '-o', 'aria.bin', url], { timeoutMs: 25_000 })
      t.equal(r.code, 0, `aria2c: ${r.stderr}`)
      t.equal(sha256(readFileSync(join(dir, 'aria.bin'))), sha256(a), 'aria2c -x4: the sha256 of the blob')
    }
  })

  t.test('GET, HEAD, Range and If-Range', async t => {
    const full = await fetchBody(url)
    t.equal(full.status, 200)
    t.equal(full.headers['content-length'], String(a.length))
    t.equal(full.headers['accept-ranges'], 'bytes')
    t.equal(sha256(full.body), sha256(a), 'GET: the blob')
    const etag = full.headers.etag
    t.match(etag, /^"[^"]+"$/, 'a strong ETag (the S3 object\'s)')
    const head = await fetchBody(url, { method: 'HEAD' })
    t.equal(head.status, 200, 'HEAD: 200')
    t.equal(head.headers['content-length'], String(a.length), 'HEAD: the length of the blob')
    t.equal(head.headers.etag, etag, 'HEAD: the same ETag')
    t.equal(head.body.length, 0, 'HEAD: no body')

    const n = a.length
    const rows: Array<{ name: string; range: string; from: number; to: number }> = [
      { name: 'inside one chunk', range: 'bytes=100-199', from: 100, to: 199 },
      { name: 'across a chunk boundary', range: `bytes=${CHUNK - 10}-${CHUNK + 9}`, from: CHUNK - 10, to: CHUNK + 9 },
      { name: 'across several chunks', range: `bytes=${CHUNK + 5}-${4 * CHUNK + 6}`, from: CHUNK + 5, to: 4 * CHUNK + 6 },
      { name: 'a suffix (the short last chunk)', range: 'bytes=-500', from: n - 500, to: n - 1 },
      { name: 'open-ended', range: `bytes=${n - 3000}-`, from: n - 3000, to: n - 1 },
    ]
    for (const row of rows) {
      const r = await fetchBody(url, { headers: { range: row.range } })
      t.equal(r.status, 206, `${row.name}: 206`)
      t.equal(r.headers['content-range'], `bytes ${row.from}-${row.to}/${n}`, `${row.name}: Content-Range`)
      t.equal(Buffer.compare(r.body, Buffer.from(a.subarray(row.from, row.to + 1))), 0, `${row.name}: the bytes`)
    }
    const unsat = await fetchBody(url, { headers: { range: `bytes=${n}-` } })
    t.equal(unsat.status, 416, 'a range past the end: 416')
    t.equal(unsat.headers['content-range'], `bytes */${n}`)

    const same = await fetchBody(url, { headers: { range: 'bytes=10-19', 'if-range': etag! } })
    t.equal(same.status, 206, 'If-Range with the current ETag: the range')
    t.equal(Buffer.compare(same.body, Buffer.from(a.subarray(10, 20))), 0)
    const other = await fetchBody(url, { headers: { range: 'bytes=10-19', 'if-range': '"not-the-etag"' } })
    t.equal(other.status, 200, 'If-Range with another ETag: the whole blob')
    t.equal(sha256(other.body), sha256(a))
    t.equal((await fetchBody(`${serve.url}/missing.bin`)).status, 404, 'a blob the manifest names but S3 lacks: 404')
  })

  t.test('a blob replaced in S3 is served as the new version on the next request, never mixed', async t => {
    const b = `${serve.url}/dir/b.bin`
    const first = await fetchBody(b)
    t.equal(first.status, 200)
    t.equal(sha256(first.body), sha256(v1), 'the first version')
    await bucket.put('dir/b.bin', v2)
    const second = await fetchBody(b)
    t.equal(second.status, 200)
    t.equal(second.headers['content-length'], String(v2.length), 'the new length')
    t.equal(sha256(second.body), sha256(v2), 'the new version, whole: no chunk of the old one in it')
    t.not(second.headers.etag, first.headers.etag, 'a new ETag')
    // A resume of the old version (If-Range with its ETag) gets the new version whole, not a range of it.
    const resume = await fetchBody(b, { headers: { range: `bytes=${CHUNK}-`, 'if-range': first.headers.etag! } })
    t.equal(resume.status, 200, 'If-Range with the old ETag: 200')
    t.equal(sha256(resume.body), sha256(v2), 'the whole new version')
  })

  /** Whether the download during the replacement was cut (its chunk loads then failed, counted). */
  let cut = false
  t.test('a blob replaced in S3 during a download: the download is its first version or cut, never mixed', async t => {
    // The client reads the first bytes and stops reading; the blob is replaced (same size, other
    // bytes); then it reads on. What it has must be the first version's bytes only: whole, or cut
    // short of Content-Length when a chunk not yet read was asked of S3 after the replacement.
    const body = `${serve.url}/c.bin`
    const paused = pausedDownload(body)
    await withTimeout(paused.started, 15_000, 'the first bytes of c.bin')
    await bucket.put('c.bin', c2)
    paused.resume()
    const r = await withTimeout(paused.done, 30_000, 'the rest of c.bin')
    t.equal(r.status, 200)
    t.equal(r.headers['content-length'], String(c1.length))
    t.equal(Buffer.compare(r.body, Buffer.from(c1.subarray(0, r.body.length))), 0, `the ${r.body.length} bytes that came are the first version's`)
    t.ok(r.complete ? r.body.length === c1.length : r.body.length < c1.length, r.complete ? 'complete: the whole first version' : 'cut short of Content-Length')
    cut = !r.complete
    t.comment(`download during the replacement: ${r.complete ? 'complete (the first version whole)' : `cut after ${r.body.length} of ${c1.length} bytes`}`)
    const next = await fetchBody(body)
    t.equal(sha256(next.body), sha256(c2), 'the next download: the second version, whole')
  })

  t.test('the counters: each chunk read from S3 once, failed reads only of the blob replaced mid-download', async t => {
    const text = await settled(serve.metricsUrl)
    t.ok(sample(text, 'cutover_store_reads_total{store="s3"}') >= 1, 'reads counted at the S3 store')
    const changed = sample(text, 'cutover_store_errors_total{store="s3",code="ERR_BLOB_CHANGED"}')
    const failed = sample(text, 'cutover_serve_chunk_load_errors_total')
    if (cut) t.ok(changed >= 1 && failed >= 1, `the cut download: its reads of the replaced blob failed as changed (${changed} reads, ${failed} chunk loads)`)
    else t.strictSame([changed, failed], [0, 0], 'no read failed')
    t.equal(sample(text, 'cutover_store_errors_total{store="s3",code="ERR_NOT_FOUND"}'), 1, 'the missing blob: one ERR_NOT_FOUND')
    // 17 chunks of a.bin, 4 of the first b.bin and 6 of the second, each loaded once (cached after);
    // c.bin's second version whole (128 + 1), its first in part (at most all of it).
    const loads = sample(text, 'cutover_serve_chunk_loads_total') - (17 + 4 + 6 + 129)
    t.ok(loads >= 1 && loads <= 129, `each chunk loaded from S3 once (${loads} of c.bin's first version)`)
  })
}

t.test('serve --store s3:// against s3rver', async t => {
  await suite(t, await startS3rver(t))
})

const TARGET = envTarget()
t.test('serve --store s3:// against CUTOVER_TEST_S3_ENDPOINT', { skip: TARGET ? false : 'CUTOVER_TEST_S3_ENDPOINT and CUTOVER_TEST_S3_BUCKET are not set' }, async t => {
  await suite(t, TARGET!)
})

t.test('--cache-size is one pool: small S3 files are kept in the chunk cache only, within the budget', async t => {
  const target = await startS3rver(t)
  const bucket = bucketOf(t, target)
  // 40 files of 40 KiB, one 64 KiB chunk each: 1.6 MB of small files against a 1 MiB budget.
  const FILES = 40
  const files = Array.from({ length: FILES }, (_, i) => seededBytes(100 + i, 40 * KIB))
  for (const [i, f] of files.entries()) await bucket.put(`s/${i}.bin`, f)
  const manifest = manifestFile(t.testdir({}), files.map((_, i) => `s/${i}.bin`))
  const serve = await startS3Serve(t, { manifest, target, prefix: bucket.prefix, extra: ['--chunk-size', '64KiB', '--cache-size', '1MiB', '--stat-ttl', '60s'] })
  const limit = 1024 * KIB - 16 * KIB
  t.match(serve.output(), /chunk cache 1008 ?KiB in 64 ?KiB chunks/, 'the chunk cache is the whole budget but 1/64 (validators and types)')
  // The SDK's notice about its future Node floor is for maintainers (README, Development), not printed at each start.
  t.notMatch(serve.output(), /NodeVersionSupportWarning/, 'no AWS SDK Node-version notice at start')
  const fetchAll = async (ids: readonly number[]): Promise<void> => {
    for (const i of ids) {
      const r = await fetchBody(`${serve.url}/s/${i}.bin`)
      t.equal(`${r.status} ${sha256(r.body)}`, `200 ${sha256(files[i]!)}`, `/s/${i}.bin: the bytes`)
    }
  }
  const ids = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k)
  await fetchAll(ids(0, FILES))
  let text = await settled(serve.metricsUrl)
  t.equal(sample(text, 'cutover_store_reads_total{store="s3"}'), FILES, 'each file read from S3 once')
  t.equal(sample(text, 'cutover_serve_chunk_cache_limit_bytes'), limit, 'the limit')
  const held = sample(text, 'cutover_serve_chunk_cache_bytes{cache="main"}')
  t.ok(held > 0 && held <= limit, `the small files' bytes are in the chunk cache, within its limit (${held} bytes)`)
  t.ok(sample(text, 'cutover_serve_chunk_cache_evictions_total{cache="main"}') >= FILES - Math.floor(limit / (40 * KIB)), 'the oldest were evicted to stay within it')

  // The last 10 (400 KiB) are still cached: answered from memory, nothing read from S3.
  await fetchAll(ids(FILES - 10, FILES))
  text = await settled(serve.metricsUrl)
  t.equal(sample(text, 'cutover_store_reads_total{store="s3"}'), FILES, 'the cached ones: no S3 read')
  t.equal(sample(text, 'cutover_serve_cache_hits_total'), 10, 'ten hits of the content cache')
  // The first ones were evicted: read from S3 again, the right bytes.
  await fetchAll(ids(0, 3))
  text = await settled(serve.metricsUrl)
  t.equal(sample(text, 'cutover_store_reads_total{store="s3"}'), FILES + 3, 'the evicted ones: read again, once each')
  t.ok(sample(text, 'cutover_serve_chunk_cache_bytes{cache="main"}') <= limit, 'still within the limit')
})

t.test('--cache-prealloc: the chunk cache is brought into memory at start, and a cold download is read into it', async t => {
  const target = await startS3rver(t)
  const bucket = bucketOf(t, target)
  // 21 chunks, the last one short: more than the 15 the budget holds.
  const blob = seededBytes(200, 20 * CHUNK + 1234)
  await bucket.put('big.bin', blob)
  const manifest = manifestFile(t.testdir({}), ['big.bin'])
  const serve = await startS3Serve(t, {
    manifest,
    target,
    prefix: bucket.prefix,
    extra: ['--chunk-size', '64KiB', '--cache-size', '1MiB', '--small-file-max', '1', '--cache-prealloc'],
  })
  // The chunk cache: 1 MiB less 1/64, 1008 KiB, which holds 15 whole chunks of 64 KiB.
  t.match(serve.output(), /chunk cache 1008 ?KiB in 64 ?KiB chunks, 960 ?KiB of them brought into memory at start in \d+ ms/, 'the start line says how much was brought into memory')
  const memory = (text: string): number[] =>
    ['cutover_serve_chunk_memory_prepared_chunks', 'cutover_serve_chunk_memory_left_chunks', 'cutover_serve_chunk_memory_fresh_total'].map(n => sample(text, n))
  t.strictSame(memory(await scrape(serve.metricsUrl)), [15, 15, 0], 'before any download: 15 chunks prepared, none taken')
  if (requireTool(t, 'curl')) {
    const out = join(t.testdir({}), 'big.bin')
    const r = await run('curl', ['-sS', '--fail', '--max-time', '20', '-o', out, `${serve.url}/big.bin`], { timeoutMs: 25_000 })
    t.equal(r.code, 0, `curl: ${r.stderr}`)
    t.equal(sha256(readFileSync(out)), sha256(blob), 'curl: the sha256 of the blob')
  } else {
    const r = await fetchBody(`${serve.url}/big.bin`)
    t.equal(sha256(r.body), sha256(blob), 'the sha256 of the blob')
  }
  const text = await settled(serve.metricsUrl)
  const reads = sample(text, 'cutover_store_reads_total{store="s3"}')
  t.ok(reads >= 21, `every chunk read from S3 (${reads} reads)`)
  t.strictSame(memory(text), [15, 0, reads - 15], 'the first 15 reads filled the prepared memory; the rest got fresh memory')
})

t.test('--cache-prealloc is refused with a directory, and for more than the machine has', async t => {
  const dir = t.testdir({})
  // The store is never asked: the flag is checked before any store is made.
  const rows: Array<[string, string[], RegExp]> = [
    ['a directory has no chunk cache', ['--root', dir], /--cache-prealloc is for a remote store/],
    ['more than the machine has', ['--manifest', manifestFile(dir, ['a.bin']), '--store', 's3://bucket/', '--cache-size', '100000GiB'], /--cache-prealloc: the chunk cache \(\S+ of --cache-size\) is more than this machine's memory/],
  ]
  for (const [what, args, message] of rows) {
    const r = await run(process.execPath, [CLI, 'serve', ...args, '--listen', '127.0.0.1:0', '--cache-prealloc'], { timeoutMs: 20_000 })
    t.equal(r.code, 2, `${what}: exit 2`)
    t.match(r.stderr, message, `${what}: the flag named, and why`)
  }
})
