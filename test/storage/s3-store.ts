import { randomBytes } from 'node:crypto'
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import S3rver from 's3rver'
import t, { type Test } from 'tap'
import type { Clock } from '../../src/core/clock.js'
import { codeOf } from '../../src/core/errors.js'
import { blobChunks } from '../../src/storage/blob-store.js'
import { S3Store, type S3Credentials, type S3StoreOptions } from '../../src/storage/s3-store.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { seededBytes } from '../helpers/random.js'
import { checkReadsIntoAllocated, recordAllocations } from '../helpers/allocations.js'
import { outcome, runFaultRows, runStallRows, TIMEOUT_MS, runStatStatusRows, type StatStatusRow } from '../helpers/store-faults.js'

/** Target is an S3-compatible service the suite runs against. */
interface Target {
  readonly name: string
  readonly endpoint: string
  readonly bucket: string
  readonly region: string
  /** undefined: the SDK's standard provider chain (the AWS_* environment). */
  readonly credentials: S3Credentials | undefined
  readonly forcePathStyle: boolean
}

/** S3RVER_KEYS is the key pair s3rver accepts. */
const S3RVER_KEYS: S3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

/** startS3rver runs a real s3rver on a free loopback port with bucket "b", closed at teardown. */
async function startS3rver(t: Test): Promise<Target> {
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: t.testdir({}), configureBuckets: [{ name: 'b' }] })
  const addr = await server.run()
  t.teardown(() => server.close())
  return { name: 's3rver', endpoint: `http://127.0.0.1:${addr.port}`, bucket: 'b', region: 'us-east-1', credentials: S3RVER_KEYS, forcePathStyle: true }
}

/** adminClient is the client the test uploads with (plain PUTs: s3rver knows no aws-chunked bodies). */
function adminClient(t: Test, target: Target): S3Client {
  const c = new S3Client({
    region: target.region,
    endpoint: target.endpoint,
    forcePathStyle: target.forcePathStyle,
    ...(target.credentials ? { credentials: target.credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  t.teardown(() => c.destroy())
  return c
}

/** storeFor makes a store on `target` (or on `endpoint` in front of it), closed at teardown. */
function storeFor(t: Test, target: Target, prefix: string, o: Partial<S3StoreOptions> = {}): S3Store {
  const store = new S3Store({
    bucket: target.bucket,
    prefix,
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: target.forcePathStyle,
    ...(target.credentials ? { credentials: target.credentials } : {}),
    retryBaseMs: 0,
    ...o,
  })
  t.teardown(() => store.close())
  return store
}

/**
 * suite is the contract of an S3Store against one real service: stat of present and missing keys,
 * reads at various offsets and lengths, a blob replaced or deleted between stat and read.
 */
async function suite(t: Test, target: Target): Promise<void> {
  const admin = adminClient(t, target)
  // A prefix of its own: on a shared bucket, runs do not meet, and the test deletes what it wrote.
  const prefix = `cutover-test-${randomBytes(6).toString('hex')}/`
  const written = new Set<string>()
  const put = async (key: string, body: Uint8Array): Promise<string | undefined> => {
    written.add(key)
    const r = await admin.send(new PutObjectCommand({ Bucket: target.bucket, Key: prefix + key, Body: body }))
    return r.ETag
  }
  t.teardown(async () => {
    for (const key of written) await admin.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: prefix + key })).catch(() => undefined)
  })
  const data = seededBytes(13, 1000)
  const etag = await put('f.bin', data)
  await put('empty', new Uint8Array(0))
  await put('dir/with space+plus.bin', data.subarray(0, 7))
  const store = storeFor(t, target, prefix)

  t.test('stat: present keys give size, mtime and the ETag as version; missing keys ERR_NOT_FOUND', async t => {
    const rows: Array<{ key: string; want: string }> = [
      { key: 'f.bin', want: `size 1000 version ${etag}` },
      { key: 'empty', want: 'size 0 version strong' },
      { key: 'dir/with space+plus.bin', want: 'size 7 version strong' },
      { key: 'missing.bin', want: 'ERR_NOT_FOUND' },
      { key: 'dir', want: 'ERR_NOT_FOUND' },
    ]
    for (const row of rows) {
      const got = await store.stat(row.key).then(
        i => `size ${i.size} version ${row.want.endsWith('strong') ? (/^"[^"]*"$/.test(i.version ?? '') ? 'strong' : i.version) : i.version}`,
        (e: unknown) => String(codeOf(e) ?? e),
      )
      t.equal(got, row.want, `${row.key}: ${row.want}`)
    }
    const info = await store.stat('f.bin')
    t.ok(Math.abs(info.mtimeMs - Date.now()) < 24 * 3600_000, 'mtime is the LastModified of the upload (within a day: clocks of services differ)')
  })

  t.test('read gives exactly the bytes asked, fewer only where the blob ends', async t => {
    const info = await store.stat('f.bin')
    const rows: Array<[number, number]> = [
      [0, 1],
      [0, 10],
      [123, 456],
      [0, 1000],
      [999, 1],
      [990, 10],
      [995, 10], // past the end: the 5 that exist
      [0, 5000],
      [1000, 5], // at the end: none
      [1500, 5],
      [500, 0],
    ]
    for (const [off, len] of rows) {
      const want = data.subarray(Math.min(off, 1000), Math.min(off + len, 1000))
      t.equal(await outcome(store.read(info, off, len), want), 'bytes ok', `bytes ${off}+${len}: ${want.length} bytes`)
    }
    const empty = await store.stat('empty')
    t.equal(await outcome(store.read(empty, 0, 10), new Uint8Array(0)), 'bytes ok', 'an empty object reads as nothing')
    const odd = await store.stat('dir/with space+plus.bin')
    t.equal(await outcome(store.read(odd, 2, 3), data.subarray(2, 5)), 'bytes ok', 'a key with a space and a plus')
    const chunks = blobChunks(store, info, 300)
    t.equal(await outcome(chunks(3), data.subarray(900, 1000)), 'bytes ok', 'blobChunks reads the short last chunk')
    await t.rejects(store.read(info, -1, 1), RangeError, 'a negative offset is a programming error')
    t.equal(store.stats.errors, 0, 'no errors counted')
  })

  t.test('read puts the bytes in the buffer the allocate option gives', async t => {
    const a = recordAllocations()
    const own = storeFor(t, target, prefix, { allocate: a.allocate })
    await checkReadsIntoAllocated(t, own, a, await own.stat('f.bin'), data)
  })

  t.test('a blob replaced or deleted between stat and read: ERR_BLOB_CHANGED, never other bytes', async t => {
    const rows: Array<{ name: string; change: (key: string) => Promise<unknown> }> = [
      { name: 'replaced, same size', change: key => put(key, seededBytes(99, 1000)) },
      { name: 'replaced, shorter', change: key => put(key, data.subarray(0, 600)) },
      { name: 'replaced, longer', change: key => put(key, seededBytes(98, 2000)) },
      { name: 'deleted', change: key => admin.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: prefix + key })) },
    ]
    for (const [i, row] of rows.entries()) {
      const key = `changing-${i}.bin`
      await put(key, data)
      const info = await store.stat(key)
      t.equal(await outcome(store.read(info, 100, 100), data.subarray(100, 200)), 'bytes ok', `${row.name}: read before the change`)
      await row.change(key)
      t.equal(await outcome(store.read(info, 100, 100)), 'ERR_BLOB_CHANGED', `${row.name}: ERR_BLOB_CHANGED`)
      t.equal(await outcome(store.read(info, 700, 100)), 'ERR_BLOB_CHANGED', `${row.name}: ERR_BLOB_CHANGED near the end`)
    }
  })

  t.test('an aborted signal rejects with ERR_ABORTED', async t => {
    const info = await store.stat('f.bin')
    t.equal(await outcome(store.read(info, 0, 10, AbortSignal.abort())), 'ERR_ABORTED', 'read')
    t.equal(await store.stat('f.bin', AbortSignal.abort()).then(() => 'resolved', (e: unknown) => codeOf(e)), 'ERR_ABORTED', 'stat')
  })
}

t.test('S3Store against a real s3rver', async t => {
  await suite(t, await startS3rver(t))
})

const ENDPOINT = process.env.CUTOVER_TEST_S3_ENDPOINT
t.test('S3Store against CUTOVER_TEST_S3_ENDPOINT', { skip: ENDPOINT ? false : 'CUTOVER_TEST_S3_ENDPOINT is not set' }, async t => {
  const bucket = process.env.CUTOVER_TEST_S3_BUCKET
  if (!bucket) {
    t.fail('CUTOVER_TEST_S3_BUCKET must be set with CUTOVER_TEST_S3_ENDPOINT')
    return
  }
  await suite(t, {
    name: 'env',
    endpoint: ENDPOINT!,
    bucket,
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    credentials: undefined,
    forcePathStyle: process.env.CUTOVER_TEST_S3_PATH_STYLE !== '0',
  })
})

t.test('S3Store faults through a fault-injecting proxy in front of s3rver', async t => {
  const target = await startS3rver(t)
  const admin = adminClient(t, target)
  const data = seededBytes(17, 1000)
  await admin.send(new PutObjectCommand({ Bucket: target.bucket, Key: 'p/f.bin', Body: data }))
  const proxy = await startFaultProxy(t, target.endpoint)
  const behind = { ...target, endpoint: proxy.url }
  const make = (retries: number, clock?: Clock): S3Store =>
    storeFor(t, behind, 'p/', { retries, random: () => 0.5, timeoutMs: TIMEOUT_MS, ...(clock ? { clock } : {}) })

  t.test('each fault: its outcome and the attempts it cost', async t => {
    await runFaultRows(t, proxy, r => make(r), 'f.bin', data)
  })

  t.test('stat: a 500 is retried, a 403 is ERR_FORBIDDEN at once', async t => {
    const rows: StatStatusRow[] = [
      { name: '500 then success', status: 500, retries: 1, want: 'size 1000', attempts: 2 },
      { name: '500, no retries', status: 500, retries: 0, want: 'ERR_IO', attempts: 1 },
      { name: '403', status: 403, retries: 2, want: 'ERR_FORBIDDEN', attempts: 1 },
      { name: '404', status: 404, retries: 2, want: 'ERR_NOT_FOUND', attempts: 1 },
    ]
    await runStatStatusRows(t, proxy, r => make(r), 'f.bin', rows)
  })

  t.test('a stalled read times out (and is retried); an abort ends it', async t => {
    await runStallRows(t, proxy, (r, clock) => make(r, clock), 'f.bin')
  })

  t.test('an ERR_IO message names bucket and key, never the secret key', async t => {
    const store = storeFor(t, behind, 'p/', { retries: 0, credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'NOBODY-SECRET-xyz' } })
    const err = await store.stat('f.bin').then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    t.equal(codeOf(err), 'ERR_FORBIDDEN', 'an unknown access key is refused as forbidden')
    proxy.inject('HEAD', { status: 500 })
    const err2 = await make(0).stat('f.bin').then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    t.equal(codeOf(err2), 'ERR_IO')
    t.match(err2?.message ?? '', /b\/p\/f\.bin/, 'the message names bucket and object key')
    t.notMatch(`${err?.message} ${err2?.message}`, /SECRET|S3RVER/, 'no secret key in messages')
  })
})

t.test('S3Store refuses bad options with TypeError', async t => {
  const rows: Array<[string, Partial<S3StoreOptions>]> = [
    ['no bucket', { bucket: '' }],
    ['an endpoint that is no URL', { endpoint: 'not a url' }],
    ['an ftp endpoint', { endpoint: 'ftp://x/' }],
    ['a zero timeout', { timeoutMs: 0 }],
    ['negative retries', { retries: -1 }],
  ]
  for (const [name, o] of rows) t.throws(() => new S3Store({ bucket: 'b', ...o }), TypeError, name)
})
