import { utimesSync, writeFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Clock } from '../../src/core/clock.js'
import { codeOf } from '../../src/core/errors.js'
import { blobChunks } from '../../src/storage/blob-store.js'
import { HttpStore, type HttpStoreOptions } from '../../src/storage/http-store.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { listen } from '../helpers/gate.js'
import { freePort, startNginx } from '../helpers/nginx.js'
import { seededBytes } from '../helpers/random.js'
import { checkReadsIntoAllocated, recordAllocations } from '../helpers/allocations.js'
import { requireTool } from '../helpers/serve.js'
import { outcome, runFaultRows, runStallRows, TIMEOUT_MS, runStatStatusRows, type StatStatusRow } from '../helpers/store-faults.js'

/** storeFor makes a store on `origin`, closed at teardown. */
function storeFor(t: Test, origin: string, o: Partial<HttpStoreOptions> = {}): HttpStore {
  const store = new HttpStore({ origin, retryBaseMs: 0, ...o })
  t.teardown(() => store.close())
  return store
}

/** nginxRoot starts nginx on a fresh directory holding `files` under pub/, with fixed mtimes. */
async function nginxRoot(t: Test, files: Record<string, Uint8Array>): Promise<{ url: string; root: string }> {
  const top = t.testdir({ root: { pub: { dir: {} } }, nginx: {} })
  const root = join(top, 'root')
  for (const [name, data] of Object.entries(files)) {
    writeFileSync(join(root, 'pub', name), data)
    utimesSync(join(root, 'pub', name), 1700000000, 1700000000)
  }
  const nginx = await startNginx(t, root, join(top, 'nginx'))
  return { url: nginx.url, root }
}

const DATA = seededBytes(21, 1000)

t.test('HttpStore against real nginx', async t => {
  if (!requireTool(t, 'nginx')) return
  const { url, root } = await nginxRoot(t, { 'f.bin': DATA, empty: new Uint8Array(0), 'dir/with space+plus.bin': DATA.subarray(0, 7) })
  const store = storeFor(t, `${url}/pub`)

  t.test('stat: size, Last-Modified and the strong ETag as version; missing keys and keys outside the prefix ERR_NOT_FOUND', async t => {
    const rows: Array<{ key: string; want: string }> = [
      { key: 'f.bin', want: 'size 1000 mtime 1700000000000 strong' },
      { key: 'empty', want: 'size 0 mtime 1700000000000 strong' },
      { key: 'dir/with space+plus.bin', want: 'size 7 mtime 1700000000000 strong' },
      { key: 'missing.bin', want: 'ERR_NOT_FOUND' },
      { key: '../pub/f.bin', want: 'ERR_NOT_FOUND' },
      { key: 'dir//x', want: 'ERR_NOT_FOUND' },
      { key: 'a\0b', want: 'ERR_NOT_FOUND' },
    ]
    for (const row of rows) {
      const got = await store.stat(row.key).then(
        i => `size ${i.size} mtime ${i.mtimeMs} ${/^"[^"]*"$/.test(i.version ?? '') ? 'strong' : `version ${i.version}`}`,
        (e: unknown) => String(codeOf(e) ?? e),
      )
      t.equal(got, row.want, `${JSON.stringify(row.key)}: ${row.want}`)
    }
  })

  t.test('read gives exactly the bytes asked, fewer only where the blob ends', async t => {
    const info = await store.stat('f.bin')
    const rows: Array<[number, number]> = [
      [0, 1],
      [0, 10],
      [123, 456],
      [0, 1000],
      [999, 1],
      [995, 10],
      [0, 5000],
      [1000, 5],
      [1500, 5],
      [500, 0],
    ]
    for (const [off, len] of rows) {
      const want = DATA.subarray(Math.min(off, 1000), Math.min(off + len, 1000))
      t.equal(await outcome(store.read(info, off, len), want), 'bytes ok', `bytes ${off}+${len}: ${want.length} bytes`)
    }
    t.equal(await outcome(store.read(await store.stat('empty'), 0, 10), new Uint8Array(0)), 'bytes ok', 'an empty file reads as nothing')
    const odd = await store.stat('dir/with space+plus.bin')
    t.equal(await outcome(store.read(odd, 2, 3), DATA.subarray(2, 5)), 'bytes ok', 'a key with a space and a plus')
    t.equal(await outcome(blobChunks(store, info, 300)(3), DATA.subarray(900, 1000)), 'bytes ok', 'blobChunks reads the short last chunk')
    t.strictSame([store.stats.errors, store.stats.retries], [0, 0], 'no errors, no retries')
    t.ok(store.stats.reads >= 13 && store.stats.bytes > 2000, `reads and bytes counted (${store.stats.reads} reads, ${store.stats.bytes} bytes)`)
  })

  t.test('read puts the bytes in the buffer the allocate option gives', async t => {
    const a = recordAllocations()
    const own = storeFor(t, `${url}/pub`, { allocate: a.allocate })
    await checkReadsIntoAllocated(t, own, a, await own.stat('f.bin'), DATA)
  })

  t.test('a file replaced or deleted between stat and read: ERR_BLOB_CHANGED (nginx answers If-Match with 412)', async t => {
    const rows: Array<{ name: string; change: (path: string) => void }> = [
      { name: 'rewritten, same size, other mtime', change: p => (writeFileSync(p, seededBytes(99, 1000)), utimesSync(p, 1700000000, 1700000009)) },
      { name: 'rewritten shorter', change: p => writeFileSync(p, DATA.subarray(0, 600)) },
      { name: 'deleted', change: p => unlinkSync(p) },
    ]
    for (const [i, row] of rows.entries()) {
      const path = join(root, 'pub', `changing-${i}.bin`)
      writeFileSync(path, DATA)
      utimesSync(path, 1700000000, 1700000000)
      const info = await store.stat(`changing-${i}.bin`)
      t.equal(await outcome(store.read(info, 100, 100), DATA.subarray(100, 200)), 'bytes ok', `${row.name}: read before the change`)
      row.change(path)
      t.equal(await outcome(store.read(info, 100, 100)), 'ERR_BLOB_CHANGED', `${row.name}: ERR_BLOB_CHANGED`)
    }
  })

  t.test('an aborted signal rejects with ERR_ABORTED', async t => {
    const info = await store.stat('f.bin')
    t.equal(await outcome(store.read(info, 0, 10, AbortSignal.abort())), 'ERR_ABORTED', 'read')
    t.equal(await store.stat('f.bin', AbortSignal.abort()).then(() => 'resolved', (e: unknown) => codeOf(e)), 'ERR_ABORTED', 'stat')
  })
})

t.test('HttpStore faults through a fault-injecting proxy in front of nginx', async t => {
  if (!requireTool(t, 'nginx')) return
  const { url, root } = await nginxRoot(t, { 'f.bin': DATA })
  const proxy = await startFaultProxy(t, url)
  const make = (retries: number, clock?: Clock): HttpStore =>
    storeFor(t, `${proxy.url}/pub/`, { retries, random: () => 0.5, timeoutMs: TIMEOUT_MS, ...(clock ? { clock } : {}) })

  t.test('each fault: its outcome and the attempts it cost', async t => {
    await runFaultRows(t, proxy, r => make(r), 'f.bin', DATA)
  })

  t.test('stat: a 500 is retried, 403 and 404 are answered at once', async t => {
    const rows: StatStatusRow[] = [
      { name: '500 then success', status: 500, retries: 1, want: 'size 1000', attempts: 2 },
      { name: '502, no retries', status: 502, retries: 0, want: 'ERR_IO', attempts: 1 },
      { name: '403', status: 403, retries: 2, want: 'ERR_FORBIDDEN', attempts: 1 },
      { name: '410', status: 410, retries: 2, want: 'ERR_NOT_FOUND', attempts: 1 },
      { name: '301 (not followed)', status: 301, retries: 2, want: 'ERR_IO', attempts: 1 },
    ]
    await runStatStatusRows(t, proxy, r => make(r), 'f.bin', rows)
  })

  t.test('a stalled read times out (and is retried); an abort ends it', async t => {
    await runStallRows(t, proxy, (r, clock) => make(r, clock), 'f.bin')
  })

  t.test('reads carry a precondition (If-Match): a change is caught even when the answer shows the old ETag', async t => {
    const path = join(root, 'pub', 'forged.bin')
    writeFileSync(path, DATA)
    utimesSync(path, 1700000000, 1700000000)
    const store = make(2)
    const info = await store.stat('forged.bin')
    writeFileSync(path, seededBytes(6, 1000))
    utimesSync(path, 1700000000, 1700000100)
    proxy.inject('GET', { setHeader: ['etag', info.etag!] })
    const before = proxy.count.GET ?? 0
    t.equal(await outcome(store.read(info, 10, 20)), 'ERR_BLOB_CHANGED', 'nginx answers the precondition with 412')
    t.equal((proxy.count.GET ?? 0) - before, 1, 'one GET')
  })

  t.test('without a strong ETag the version is undefined and reads still catch a change (If-Unmodified-Since, Last-Modified)', async t => {
    const path = join(root, 'pub', 'weak.bin')
    writeFileSync(path, DATA)
    utimesSync(path, 1700000000, 1700000000)
    const store = make(0)
    const weak = ['etag', 'W/"weak"'] as const
    proxy.inject('HEAD', { setHeader: weak })
    const info = await store.stat('weak.bin')
    t.equal(info.version, undefined, 'a weak ETag is no version')
    t.equal(info.etag, 'W/"weak"', 'the weak ETag is kept to compare answers with')
    proxy.inject('GET', { setHeader: weak })
    t.equal(await outcome(store.read(info, 10, 20), DATA.subarray(10, 30)), 'bytes ok', 'the unchanged file reads')
    proxy.inject('GET', { setHeader: ['etag', 'W/"other"'] })
    t.equal(await outcome(store.read(info, 10, 20)), 'ERR_BLOB_CHANGED', 'another weak ETag: changed')
    proxy.inject('GET', { setHeaders: { etag: 'W/"weak"', 'last-modified': 'Tue, 14 Nov 2023 22:15:00 GMT' } })
    t.equal(await outcome(store.read(info, 10, 20)), 'ERR_BLOB_CHANGED', 'same weak ETag, another Last-Modified: changed')
    writeFileSync(path, seededBytes(5, 1000))
    utimesSync(path, 1700000000, 1700000100)
    proxy.inject('GET', { setHeaders: { etag: 'W/"weak"', 'last-modified': 'Tue, 14 Nov 2023 22:13:20 GMT' } })
    const before = proxy.count.GET ?? 0
    t.equal(await outcome(store.read(info, 10, 20)), 'ERR_BLOB_CHANGED', 'a later mtime, answer headers as before: nginx answers If-Unmodified-Since with 412')
    t.equal((proxy.count.GET ?? 0) - before, 1, 'one GET')
  })
})

t.test('an origin that ignores Range: a 200 is accepted only for the whole blob', async t => {
  const body = Buffer.from(DATA)
  const origin = await listen(t, (req, res) => {
    res.writeHead(200, { 'content-length': String(body.length), etag: '"v1"', 'last-modified': 'Tue, 14 Nov 2023 22:13:20 GMT' })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  const store = storeFor(t, origin.url, { retries: 2 })
  const info = await store.stat('any.bin')
  t.equal(info.version, '"v1"')
  const rows: Array<{ off: number; len: number; want: string }> = [
    { off: 0, len: 1000, want: 'bytes ok' },
    { off: 0, len: 5000, want: 'bytes ok' },
    { off: 0, len: 999, want: 'ERR_IO' },
    { off: 10, len: 20, want: 'ERR_IO' },
  ]
  for (const row of rows) {
    const before = store.stats.attempts
    t.equal(await outcome(store.read(info, row.off, row.len), DATA), row.want, `bytes ${row.off}+${row.len}: ${row.want}`)
    t.equal(store.stats.attempts - before, 1, `bytes ${row.off}+${row.len}: not retried`)
  }
  const err = await store.read(info, 10, 20).then(
    () => undefined,
    (e: unknown) => e as Error,
  )
  t.match(err?.message ?? '', /ignored the Range header/, 'the message names the reason')
})

t.test('a refused connection is retried, then ERR_IO naming the origin', async t => {
  const port = await freePort()
  const rows: Array<{ retries: number; attempts: number }> = [
    { retries: 0, attempts: 1 },
    { retries: 2, attempts: 3 },
  ]
  for (const row of rows) {
    const store = storeFor(t, `http://127.0.0.1:${port}/pub`, { retries: row.retries })
    const err = await store.stat('f.bin').then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    t.equal(codeOf(err), 'ERR_IO', `${row.retries} retries: ERR_IO`)
    t.match(err?.message ?? '', `127.0.0.1:${port}/pub/f.bin`, 'the message names origin and key')
    t.strictSame([store.stats.attempts, store.stats.retries, store.stats.errors], [row.attempts, row.retries, 1], `${row.retries} retries: ${row.attempts} attempts counted`)
  }
})

t.test('HttpStore refuses bad options with TypeError', async t => {
  const rows: Array<[string, Partial<HttpStoreOptions>]> = [
    ['no URL', { origin: 'nope' }],
    ['ftp', { origin: 'ftp://x/' }],
    ['credentials in the URL', { origin: 'http://user:pw@x/' }],
    ['a query', { origin: 'http://x/?a=1' }],
    ['zero connections', { connections: 0 }],
    ['a negative timeout', { timeoutMs: -1 }],
    ['too many retries', { retries: 11 }],
  ]
  for (const [name, o] of rows) t.throws(() => new HttpStore({ origin: 'http://127.0.0.1:1/', ...o }), TypeError, name)
  const s = new HttpStore({ origin: 'http://127.0.0.1:1/a/b' })
  t.strictSame([s.origin, s.prefix], ['http://127.0.0.1:1', '/a/b/'], 'origin and prefix')
  await s.close()
})
