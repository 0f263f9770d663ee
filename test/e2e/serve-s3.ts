import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { run, sha256 } from '../helpers/e2e.js'
import { seededBytes } from '../helpers/random.js'
import { bucketOf, envTarget, fetchBody, manifestFile, settled, sample, startS3rver, startS3Serve, type S3Target } from '../helpers/s3-serve.js'
import { requireTool } from '../helpers/serve.js'

const KIB = 1024
/** CHUNK is the --chunk-size of these tests: small, so that a 1 MiB blob spans many chunks. */
const CHUNK = 64 * KIB

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
  const dir = t.testdir({})
  const manifest = manifestFile(dir, ['a.bin', 'dir/b.bin', 'missing.bin'])
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

  t.test('the counters: every read from S3, none failed', async t => {
    const text = await settled(serve.metricsUrl)
    t.ok(sample(text, 'cutover_store_reads_total{store="s3"}') >= 1, 'reads counted at the S3 store')
    t.equal(sample(text, 'cutover_serve_chunk_load_errors_total'), 0, 'no chunk load failed')
    t.equal(sample(text, 'cutover_store_errors_total{store="s3",code="ERR_NOT_FOUND"}'), 1, 'the missing blob: one ERR_NOT_FOUND')
    // 17 chunks of a.bin, 4 of the first b.bin and 6 of the second, each loaded once (cached after).
    t.equal(sample(text, 'cutover_serve_chunk_loads_total'), 17 + 4 + 6, 'each chunk loaded from S3 once')
  })
}

t.test('serve --store s3:// against s3rver', async t => {
  await suite(t, await startS3rver(t))
})

const TARGET = envTarget()
t.test('serve --store s3:// against CUTOVER_TEST_S3_ENDPOINT', { skip: TARGET ? false : 'CUTOVER_TEST_S3_ENDPOINT and CUTOVER_TEST_S3_BUCKET are not set' }, async t => {
  await suite(t, TARGET!)
})
