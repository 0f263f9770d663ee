import t from 'tap'
import { ChunkCache } from '../../src/cache/chunk-cache.js'
import { isResident, type ResidentContent } from '../../src/content/content.js'
import { codeOf } from '../../src/core/errors.js'
import { remoteBlobSource } from '../../src/payload/remote-blob-source.js'
import { FallbackStore, type FallbackBlobInfo } from '../../src/storage/fallback-store.js'
import { StatCache } from '../../src/storage/stat-cache.js'
import type { BlobInfo } from '../../src/storage/blob-store.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { ScriptedStore } from '../helpers/scripted-store.js'

const CHUNK = 16

/** setup is a source over one scripted store, a stat cache of `ttl` ms on a manual clock, and a chunk cache of 16-byte chunks. */
function setup(ttl = 1000, blobs: Record<string, string> = { a: 'abcdefghijklmnopqrstuvwxyz0123456789' }) {
  const store = new ScriptedStore('s3', blobs)
  const clock = new ManualClock()
  const stats = new StatCache(store, { ttlMs: ttl, clock })
  const cache = new ChunkCache({ maxBytes: 1024, chunkSize: CHUNK })
  return { store, clock, stats, cache, source: remoteBlobSource({ stats, cache, prefetch: 0 }) }
}

async function readAll(c: { size: number; readAt(b: Uint8Array, off: number): Promise<number> }): Promise<string> {
  const buf = new Uint8Array(c.size)
  await c.readAt(buf, 0)
  return Buffer.from(buf).toString()
}

t.test('a remote blob: read in chunks through the cache, once per chunk however many downloads', async t => {
  const { store, source, cache } = setup()
  for (let round = 0; round < 3; round++) {
    const o = await source.open('a')
    t.ok(o?.cacheable, `round ${round}: a settled version is cacheable`)
    t.equal(await readAll(o!.blob.content), 'abcdefghijklmnopqrstuvwxyz0123456789', `round ${round}: the bytes`)
    o!.blob.close()
  }
  t.equal(store.calls.reads, 3, 'three chunks read from the store, once each')
  t.equal(store.calls.stats, 1, 'one stat while it is trusted')
  t.equal(cache.stats.loads, 3, 'three chunk loads')
})

t.test('unchanged: true only while the stat is trusted and shows the same version', async t => {
  const rows: Array<[what: string, act: (s: ReturnType<typeof setup>) => Promise<void> | void, unchanged: boolean]> = [
    ['just opened', () => undefined, true],
    ['the TTL passed', s => s.clock.advance(1000), false],
    ['replaced, stat not yet expired', s => s.store.put('a', 'new bytes'), true],
    ['replaced, and the stat expired and asked again', async s => {
      s.store.put('a', 'new bytes')
      s.clock.advance(1000)
      await s.stats.stat('a')
    }, false],
  ]
  for (const [what, act, want] of rows) {
    const s = setup()
    const o = await s.source.open('a')
    await act(s)
    t.equal(s.source.unchanged(o!.blob.info), want, what)
  }
})

t.test('open: a missing blob is undefined; a store failure is ERR_UPSTREAM (502), a timeout stays ERR_TIMEOUT (504)', async t => {
  const rows: Array<[fault: 'ERR_NOT_FOUND' | 'ERR_IO' | 'ERR_TIMEOUT' | 'ERR_FORBIDDEN', result: string]> = [
    ['ERR_NOT_FOUND', 'undefined'],
    ['ERR_IO', 'ERR_UPSTREAM'],
    ['ERR_TIMEOUT', 'ERR_TIMEOUT'],
    ['ERR_FORBIDDEN', 'ERR_FORBIDDEN'],
  ]
  for (const [fault, result] of rows) {
    const s = setup()
    s.store.statFault = fault
    const got = await s.source.open('a').then(o => (o === undefined ? 'undefined' : 'opened'), (err: unknown) => codeOf(err) ?? String(err))
    t.equal(got, result, `stat ${fault}`)
  }
  for (const [fault, result] of [['ERR_IO', 'ERR_UPSTREAM'], ['ERR_TIMEOUT', 'ERR_TIMEOUT'], ['ERR_BLOB_CHANGED', 'ERR_BLOB_CHANGED']] as const) {
    const s = setup()
    const o = await s.source.open('a')
    s.store.readFault = fault
    const got = await readAll(o!.blob.content).then(() => 'read', (err: unknown) => codeOf(err) ?? String(err))
    t.equal(got, result, `read ${fault}`)
  }
})

t.test('cacheable: not for a settling blob, nor for another version than expected', async t => {
  const s = setup()
  s.store.put('b', 'settling bytes', true)
  const settling = await s.source.open('b')
  t.equal(settling?.cacheable, false, 'settling: never cached')
  t.match(settling?.blob.tag, /^settling:/, 'settling: a tag of what was seen')
  t.equal(await readAll(settling!.blob.content), 'settling bytes', 'settling: still served')
  t.equal(s.cache.stats.main.items, 0, 'settling: no chunk kept')
  const first = await s.source.open('a')
  s.store.put('a', 'another version')
  s.clock.advance(1000)
  const again = await s.source.open('a', first!.blob.info)
  t.equal(again?.cacheable, false, 'another version than expected')
  t.not(again!.blob.tag, first!.blob.tag, 'and another tag')
})

t.test('a declared sha256 rides on a fallback chain\'s info, so a failed read may move to a proven copy', async t => {
  const a = new ScriptedStore('s3', { k: 'same bytes here' })
  const b = new ScriptedStore('disk', { k: 'same bytes here' })
  const chain = new FallbackStore({ stores: [{ name: 's3', store: a }, { name: 'disk', store: b }] })
  const clock = new ManualClock()
  const source = remoteBlobSource({ stats: new StatCache<BlobInfo>(chain, { clock }), cache: new ChunkCache({ maxBytes: 1024, chunkSize: CHUNK }), prefetch: 0 })
  const sha = (await import('node:crypto')).createHash('sha256').update('same bytes here').digest('hex')
  const o = await source.open('k', undefined, sha.toUpperCase())
  t.equal((o!.blob.info as FallbackBlobInfo).sha256, sha, 'the declared digest, lower-cased, on the info')
  a.readFault = 'ERR_IO'
  t.equal(await readAll(o!.blob.content), 'same bytes here', 'the read moved to the proven copy')
  t.equal(chain.stats.readReroutes, 1, 'counted')
  const plain = await source.open('k')
  t.equal((plain!.blob.info as FallbackBlobInfo).sha256, undefined, 'no declaration: none on the info')
})

t.test('inMemory: the cached chunks themselves, only when every chunk of the version is cached', async t => {
  const blobs = { one: 'sixteen bytes!!!', three: 'abcdefghijklmnopqrstuvwxyz0123456789', empty: '' }
  const rows: Array<[what: string, key: keyof typeof blobs, prepare: (s: ReturnType<typeof setup>, info: BlobInfo) => Promise<void> | void, want: string | undefined]> = [
    ['one chunk, read', 'one', () => undefined, 'sixteen bytes!!!'],
    ['three chunks, read', 'three', () => undefined, 'abcdefghijklmnopqrstuvwxyz0123456789'],
    ['an empty blob has no chunk to miss', 'empty', () => undefined, ''],
    ['a chunk evicted', 'three', s => {
      // Fill the 1 KiB cache with other chunks until chunk 1 of the blob is gone.
      for (let i = 0; i < 64; i++) s.cache.add(`filler/${i}`, new Uint8Array(CHUNK))
    }, undefined],
    ['another version than the one cached', 'one', (_s, info) => void ((info as { version?: string }).version = 'other'), undefined],
    ['a settling blob (no version) is never in memory', 'one', (_s, info) => void ((info as { version?: string }).version = undefined), undefined],
  ]
  for (const [what, key, prepare, want] of rows) {
    const s = setup(1000, blobs)
    const o = await s.source.open(key)
    await readAll(o!.blob.content)
    o!.blob.close()
    const info = { ...o!.blob.info }
    await prepare(s, info)
    const reads = s.store.calls.reads
    const c = s.source.inMemory!(info)
    t.equal(c === undefined ? undefined : await readAll(c), want, what)
    t.equal(s.store.calls.reads, reads, `${what}: nothing read from the store`)
  }
})

t.test('inMemory: one copy (the cached chunk) and one Content per chunk; a miss counts once', async t => {
  const s = setup(1000, { one: 'sixteen bytes!!!' })
  const o = await s.source.open('one')
  await readAll(o!.blob.content)
  const a = s.source.inMemory!(o!.blob.info)
  const b = s.source.inMemory!(o!.blob.info)
  t.equal(a, b, 'the same Content while the chunk is cached')
  const chunk = s.cache.get(`one@${o!.blob.info.version!}/0`)
  t.ok(isResident(a!), "resident")
  t.equal(chunk!.buffer.byteLength, chunk!.byteLength, 'the cached chunk owns its memory')
  t.equal((a as ResidentContent).view(0, 16).buffer, chunk!.buffer, 'its bytes are the cached chunk, not a copy')
  const misses = s.cache.stats.main.misses
  s.cache.add('filler', new Uint8Array(1024))
  t.equal(s.source.inMemory!(o!.blob.info), undefined, 'evicted: not in memory')
  t.equal(s.cache.stats.main.misses, misses, 'and that lookup counted no miss (the read that follows does)')
})
