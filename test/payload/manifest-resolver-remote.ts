import { createHash } from 'node:crypto'
import t from 'tap'
import { ChunkCache } from '../../src/cache/chunk-cache.js'
import { isResident, type Content } from '../../src/content/content.js'
import { ManifestResolver } from '../../src/payload/manifest-resolver.js'
import { remoteBlobSource } from '../../src/payload/remote-blob-source.js'
import type { Resolution, RequestFacts } from '../../src/payload/resolver.js'
import { StatCache } from '../../src/storage/stat-cache.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { ScriptedStore } from '../helpers/scripted-store.js'
import { compiled } from '../helpers/compiled-manifest.js'

// The manifest resolver over a remote store: small contents' bytes live in the chunk cache only
// (one LRU, one copy, one budget); the resolver keeps their validators and types.

const CHUNK = 64
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
const SMALL = 'a small payload, one chunk'
const MULTI = 'x'.repeat(CHUNK) + 'y'.repeat(CHUNK) + 'tail'
const P1 = 'part one|'
const P2 = 'part two'

const MANIFEST = `version: 1
payloads:
  - name: small
    paths: [/small.txt]
    content: { blob: small.txt, sha256: ${sha(SMALL)} }
  - name: multi
    paths: [/multi.bin]
    content: { blob: multi.bin }
  - name: joined
    paths: [/joined.bin]
    content: { parts: [ { blob: p1.bin }, { blob: p2.bin } ] }
  - name: liar
    paths: [/liar.txt]
    content: { blob: small.txt, sha256: ${sha('not these bytes')} }
  - name: big
    paths: [/big.bin]
    content: { blob: multi.bin }
`


/** setup is a resolver over a scripted store through a stat cache and a chunk cache of `maxBytes`. */
function setup(o: { maxBytes?: number; smallFileMax?: number } = {}) {
  const store = new ScriptedStore('s3', { 'small.txt': SMALL, 'multi.bin': MULTI, 'p1.bin': P1, 'p2.bin': P2 })
  const clock = new ManualClock(Date.parse('2026-12-10T09:00:00Z'))
  const stats = new StatCache(store, { ttlMs: 60_000, clock })
  const cache = new ChunkCache({ maxBytes: o.maxBytes ?? 4096, chunkSize: CHUNK })
  const resolver = new ManifestResolver({
    manifest: compiled(MANIFEST),
    store: remoteBlobSource({ stats, cache, prefetch: 0 }),
    clock,
    smallFileMax: o.smallFileMax ?? 1024,
    cacheBytes: 4096,
  })
  return { store, cache, resolver }
}

const req = (path: string): RequestFacts => ({ method: 'GET', path, query: '', headers: {}, remote: '127.0.0.1' })

/** settle resolves a resolution, pending or not, and says which it was. */
async function settle(r: ReturnType<ManifestResolver['resolve']>): Promise<{ sync: boolean; res: Resolution }> {
  if (r.kind === 'pending') return { sync: false, res: await r.pending }
  return { sync: true, res: r }
}

async function text(c: Content): Promise<string> {
  const buf = new Uint8Array(c.size)
  let off = 0
  while (off < c.size) {
    const n = await c.readAt(buf.subarray(off), off)
    if (n === 0) break
    off += n
  }
  return Buffer.from(buf.subarray(0, off)).toString()
}

t.test('small contents are served from the chunk cache: at once after the first, with no copy of their own', async t => {
  const rows: Array<[path: string, want: string, chunks: number]> = [
    ['/small.txt', SMALL, 1],
    ['/multi.bin', MULTI, 3],
    ['/joined.bin', P1 + P2, 2],
  ]
  for (const [path, want, chunks] of rows) {
    const s = setup()
    const first = await settle(s.resolver.resolve(req(path)))
    t.equal(first.sync, false, `${path}: the first request reads the store`)
    t.equal(first.res.kind === 'entity' && (await text(first.res.entity.content)), want, `${path}: the bytes`)
    const reads = s.store.calls.reads
    t.equal(reads, chunks, `${path}: ${chunks} chunk reads`)
    t.equal(s.cache.stats.main.items, chunks, `${path}: its chunks are cached`)
    for (let i = 0; i < 3; i++) {
      const again = await settle(s.resolver.resolve(req(path)))
      t.equal(again.sync, true, `${path} #${i}: answered at once, from memory`)
      t.equal(again.res.kind === 'entity' && (await text(again.res.entity.content)), want, `${path} #${i}: the bytes`)
    }
    t.equal(s.store.calls.reads, reads, `${path}: nothing read again`)
    t.equal(s.resolver.stats.hits, 3, `${path}: three hits`)
  }
})

t.test('a one-chunk content is the cached chunk itself, and the same entity while it is cached', async t => {
  const s = setup()
  await settle(s.resolver.resolve(req('/small.txt')))
  const a = await settle(s.resolver.resolve(req('/small.txt')))
  const b = await settle(s.resolver.resolve(req('/small.txt')))
  if (a.res.kind !== 'entity' || b.res.kind !== 'entity') throw new Error('not entities')
  t.equal(a.res.entity, b.res.entity, 'the entity is made once')
  const content = a.res.entity.content
  t.ok(isResident(content), 'resident: written to the socket as it is')
  const [key] = [...keysOf(s.cache)]
  const chunk = s.cache.get(key!)!
  // The premise: the cached chunk owns its memory, so sharing its ArrayBuffer means sharing its bytes.
  t.equal(chunk.buffer.byteLength, chunk.byteLength, 'the cached chunk owns its memory')
  const view = isResident(content) ? content.view(0, 4) : undefined
  t.ok(view !== undefined && view.buffer === chunk.buffer && view.byteOffset === chunk.byteOffset, 'its bytes are the chunk cache\'s, not a copy')
})

t.test('evicted chunks are read again (and cached again); the bytes stay right', async t => {
  const s = setup({ maxBytes: 140 })
  await settle(s.resolver.resolve(req('/small.txt')))
  t.equal(s.store.calls.reads, 1, 'one read')
  // /multi.bin's three chunks (132 bytes) and the small one's (26) do not fit in 140: the small one goes.
  await settle(s.resolver.resolve(req('/multi.bin')))
  t.equal(s.cache.stats.main.evictions, 1, 'the small chunk was evicted')
  const again = await settle(s.resolver.resolve(req('/small.txt')))
  t.equal(again.sync, false, 'no longer in memory: opened')
  t.equal(again.res.kind === 'entity' && (await text(again.res.entity.content)), SMALL, 'the right bytes')
  t.equal(s.store.calls.reads, 5, 'its chunk was read again (1 + 3 + 1)')
  const third = await settle(s.resolver.resolve(req('/small.txt')))
  t.equal(third.sync, true, 'and is in memory again')
  t.ok(s.cache.stats.main.bytes <= 140, 'the cache never held more than its budget')
})

t.test('bytes that contradict a declared digest are never kept: every full read fails', async t => {
  const s = setup()
  for (let i = 0; i < 2; i++) {
    const r = await settle(s.resolver.resolve(req('/liar.txt')))
    t.equal(r.sync, false, `#${i}: never answered from memory`)
    const got = r.res.kind === 'entity' ? await text(r.res.entity.content).then(() => 'read', (e: Error & { code?: string }) => e.code) : r.res.kind
    t.equal(got, 'ERR_BLOB_CHANGED', `#${i}: the full read fails (the bytes are not the declared ones)`)
  }
})

t.test('a content over --small-file-max is never answered from memory, even with its chunks cached', async t => {
  const s = setup({ smallFileMax: CHUNK })
  for (let i = 0; i < 3; i++) {
    const r = await settle(s.resolver.resolve(req('/big.bin')))
    t.equal(r.sync, false, `#${i}: opened per request`)
    t.equal(r.res.kind === 'entity' && (await text(r.res.entity.content)), MULTI, `#${i}: the bytes`)
    if (r.res.kind === 'entity') r.res.release()
  }
  t.equal(s.store.calls.reads, 3, 'each chunk read once, then from the cache')
})

function keysOf(cache: ChunkCache): string[] {
  // The cache has no listing; the test's one blob has one chunk, whose key is found by version.
  for (let v = 1; v < 10; v++) if (cache.has(`small.txt@v${v}/0`)) return [`small.txt@v${v}/0`]
  return []
}
