import { createHash } from 'node:crypto'
import { renameSync, unlinkSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { chunkAligned } from '../../src/content/chunk-aligned.js'
import { digestChecked } from '../../src/content/digest-checked.js'
import type { Content } from '../../src/content/content.js'
import { codeOf } from '../../src/core/errors.js'
import { blobChunks } from '../../src/storage/blob-store.js'
import { FallbackStore } from '../../src/storage/fallback-store.js'
import { FileStore } from '../../src/storage/file-store.js'
import { InstrumentedStore } from '../../src/storage/instrumented-store.js'
import { StatCache } from '../../src/storage/stat-cache.js'
import { clockWith, ManualClock } from '../helpers/manual-clock.js'
import { seededBytes } from '../helpers/random.js'

/** LATER is a clock ten seconds ahead: files written by the test have settled by then. */
const LATER = clockWith(() => Date.now() + 10_000)
const CHUNK = 16 * 1024
const BLOB = seededBytes(13, 4 * CHUNK + 100)
const SHA = createHash('sha256').update(BLOB).digest('hex')
/** OTHER is another version of the same size, which only the digest tells apart. */
const OTHER = Buffer.from(BLOB.map(b => b ^ 0xff))

/** download reads `c` in order, chunk by chunk, calling `between` after the first chunk: its bytes, or the code it failed with. */
async function download(c: Content, between: () => void): Promise<{ bytes: Buffer; failed: string | undefined }> {
  const parts: Buffer[] = []
  for (let off = 0, i = 0; off < c.size && i < 1000; off += CHUNK, i++) {
    const buf = Buffer.alloc(Math.min(CHUNK, c.size - off))
    try {
      await c.readAt(buf, off)
    } catch (err) {
      return { bytes: Buffer.concat(parts), failed: String(codeOf(err) ?? err) }
    }
    parts.push(buf)
    if (i === 0) between()
  }
  return { bytes: Buffer.concat(parts), failed: undefined }
}

/** replace puts `data` at `path` by rename, as a publisher does. */
function replace(path: string, data: Buffer): void {
  writeFileSync(`${path}.tmp`, data)
  renameSync(`${path}.tmp`, path)
}

t.test('two file stores: the primary loses or changes the blob mid-download', async t => {
  const rows: Array<{
    name: string
    declared: boolean
    /** FallbackStoreOptions.verifyReroutes; unset: the default. */
    verify?: false
    change: (primary: string, fallback: string) => void
    want: 'whole' | string
    reroutes: number
    /**
     * Whether the bytes handed over before a failure are the blob's. Not when the fallback lies about
     * its bytes: the digest only refuses the read that completes the body, so the client is cut short
     * of Content-Length and never takes the body as whole, but what it got before is wrong.
     */
    prefixRight?: false
  }> = [
    { name: 'nothing happens', declared: true, change: () => undefined, want: 'whole', reroutes: 0 },
    { name: 'the primary file is deleted, digest declared: the rest from the fallback', declared: true, change: p => unlinkSync(p), want: 'whole', reroutes: 1 },
    { name: 'the primary file is deleted, no digest: the download fails, never mixes', declared: false, change: p => unlinkSync(p), want: 'ERR_BLOB_CHANGED', reroutes: 0 },
    { name: 'the primary file is replaced by other bytes, digest declared: the rest from the fallback', declared: true, change: p => replace(p, OTHER), want: 'whole', reroutes: 1 },
    { name: 'the primary file is replaced by other bytes, no digest: fails', declared: false, change: p => replace(p, OTHER), want: 'ERR_BLOB_CHANGED', reroutes: 0 },
    {
      name: 'the primary is deleted and the fallback holds other bytes of the same size: the hash refuses them',
      declared: true,
      change: (p, f) => {
        unlinkSync(p)
        replace(f, OTHER)
      },
      want: 'ERR_BLOB_CHANGED',
      reroutes: 0,
    },
    {
      name: 'the same, not verifying: rerouted, and cut at the end by the digest',
      declared: true,
      verify: false,
      change: (p, f) => {
        unlinkSync(p)
        replace(f, OTHER)
      },
      want: 'ERR_BLOB_CHANGED',
      reroutes: 1,
      prefixRight: false,
    },
    {
      name: 'the primary is deleted and the fallback holds a longer blob: refused',
      declared: true,
      change: (p, f) => {
        unlinkSync(p)
        replace(f, Buffer.concat([BLOB, Buffer.from('!')]))
      },
      want: 'ERR_BLOB_CHANGED',
      reroutes: 0,
    },
  ]
  for (const row of rows) {
    const dir = t.testdir({ primary: { 'b.bin': BLOB }, fallback: { 'b.bin': BLOB } })
    const clock = new ManualClock()
    const primary = new InstrumentedStore(new FileStore({ root: `${dir}/primary`, clock: LATER }), { name: 'primary', clock })
    const fallback = new InstrumentedStore(new FileStore({ root: `${dir}/fallback`, clock: LATER }), { name: 'fallback', clock })
    const chain = new FallbackStore({
      stores: [
        { name: 'primary', store: primary },
        { name: 'fallback', store: fallback },
      ],
      ...(row.declared ? { declaredSha256: () => SHA } : {}),
      ...(row.verify === undefined ? {} : { verifyReroutes: row.verify }),
    })
    const store = new StatCache(chain, { clock })
    const info = await store.stat('b.bin')
    t.equal(info.store, 'primary', `${row.name}: found on the primary`)
    let content: Content = chunkAligned(blobChunks(store, info, CHUNK), info.size, CHUNK)
    if (info.sha256 !== undefined) content = digestChecked(content, info.sha256)
    const got = await download(content, () => row.change(`${dir}/primary/b.bin`, `${dir}/fallback/b.bin`))
    if (row.want === 'whole') {
      t.equal(got.failed, undefined, `${row.name}: no failure`)
      t.ok(got.bytes.equals(BLOB), `${row.name}: every byte right`)
    } else {
      t.equal(got.failed, row.want, `${row.name}: ${row.want}`)
      t.ok(got.bytes.length < BLOB.length, `${row.name}: cut short (${got.bytes.length} bytes)`)
      // Otherwise what was handed over before the failure is the declared blob's, never another version's.
      t.equal(got.bytes.equals(BLOB.subarray(0, got.bytes.length)), row.prefixRight ?? true, `${row.name}: the ${got.bytes.length} bytes handed over are ${row.prefixRight ?? true ? 'right' : 'not all right'}`)
    }
    t.equal(chain.stats.readReroutes, row.reroutes, `${row.name}: reroutes`)
    t.equal(primary.stats.bytesRead + fallback.stats.bytesRead >= got.bytes.length, true, `${row.name}: the bytes were counted at the stores`)
  }
})

t.test('a blob gone from the primary is found on the fallback once the stat expires', async t => {
  const dir = t.testdir({ primary: { 'b.bin': BLOB }, fallback: { 'b.bin': BLOB } })
  const clock = new ManualClock()
  const chain = new FallbackStore({
    stores: [
      { name: 'primary', store: new FileStore({ root: `${dir}/primary`, clock: LATER }) },
      { name: 'fallback', store: new FileStore({ root: `${dir}/fallback`, clock: LATER }) },
    ],
  })
  const store = new StatCache(chain, { ttlMs: 1000, clock })
  const before = await store.stat('b.bin')
  t.equal(before.store, 'primary', 'from the primary')
  unlinkSync(`${dir}/primary/b.bin`)
  t.equal((await store.stat('b.bin')).store, 'primary', 'within the ttl: the kept stat')
  await t.rejects(store.read(before, 0, 10), { code: 'ERR_BLOB_CHANGED' }, 'a read of it fails: no digest, no reroute')
  t.equal((await store.stat('b.bin')).store, 'fallback', 'that failure dropped the kept stat: the fallback at once')
  t.strictSame({ ...chain.stats.fallbacks.primary }, { ERR_NOT_FOUND: 1 }, 'one fallback, because the primary lacked it')
  unlinkSync(`${dir}/fallback/b.bin`)
  clock.advance(1000)
  await t.rejects(store.stat('b.bin'), { code: 'ERR_NOT_FOUND' }, 'gone from both: not found')
})
