import { createHash } from 'node:crypto'
import t from 'tap'
import { chunkAligned } from '../../src/content/chunk-aligned.js'
import { digestChecked } from '../../src/content/digest-checked.js'
import { codeOf, type ErrorCode } from '../../src/core/errors.js'
import { blobChunks } from '../../src/storage/blob-store.js'
import { FallbackStore, type FallbackBlobInfo } from '../../src/storage/fallback-store.js'
import { ScriptedStore } from '../helpers/scripted-store.js'

const BLOB = 'the bytes of blob k, 32 of them!'
const SHA = createHash('sha256').update(BLOB).digest('hex')
/** SAME_SIZE is other bytes of the same size: another version that only the digest tells apart. */
const SAME_SIZE = BLOB.toUpperCase()

/** outcome is what a promise gave: its value (mapped) or the code it was refused with. */
const outcome = <V>(p: Promise<V>, f: (v: V) => string): Promise<string> =>
  p.then(f, (e: unknown) => String(codeOf(e) ?? e))

/** chain builds stores `a` and `b` and a FallbackStore over them, declaring SHA for `k` when `declared`. */
function chain(o: { a?: Record<string, string>; b?: Record<string, string>; declared?: boolean; verify?: boolean }) {
  const a = new ScriptedStore('a', o.a ?? {})
  const b = new ScriptedStore('b', o.b ?? {})
  const store = new FallbackStore({
    stores: [
      { name: 'a', store: a },
      { name: 'b', store: b },
    ],
    ...(o.verify === undefined ? {} : { verifyReroutes: o.verify }),
    ...(o.declared ? { declaredSha256: (key: string) => (key === 'k' ? SHA.toUpperCase() : undefined) } : {}),
  })
  return { a, b, store }
}

t.test('stat asks the stores in order and falls back on any error, answering NOT_FOUND only when every store says so', async t => {
  const rows: Array<{
    name: string
    a?: Record<string, string>
    b?: Record<string, string>
    aFault?: ErrorCode
    bFault?: ErrorCode
    want: string
    fallbacks: Record<string, Record<string, number>>
    errors: Record<string, number>
  }> = [
    { name: 'the first store has it', a: { k: BLOB }, b: { k: SAME_SIZE }, want: 'a a:v1 32', fallbacks: {}, errors: { a: 0, b: 0 } },
    { name: 'the first store fails: the second answers', a: { k: BLOB }, b: { k: BLOB }, aFault: 'ERR_IO', want: 'b b:v1 32', fallbacks: { a: { ERR_IO: 1 } }, errors: { a: 1, b: 0 } },
    { name: 'the first store refuses: the second answers', a: { k: BLOB }, b: { k: BLOB }, aFault: 'ERR_FORBIDDEN', want: 'b b:v1 32', fallbacks: { a: { ERR_FORBIDDEN: 1 } }, errors: { a: 1, b: 0 } },
    { name: 'not yet uploaded: NOT_FOUND, then found on the second', b: { k: BLOB }, want: 'b b:v1 32', fallbacks: { a: { ERR_NOT_FOUND: 1 } }, errors: { a: 0, b: 0 } },
    { name: 'every store says NOT_FOUND', want: 'ERR_NOT_FOUND', fallbacks: { a: { ERR_NOT_FOUND: 1 } }, errors: { a: 0, b: 0 } },
    { name: 'the first fails, the second lacks it: the failure, not a 404', aFault: 'ERR_IO', want: 'ERR_IO', fallbacks: { a: { ERR_IO: 1 } }, errors: { a: 1, b: 0 } },
    { name: 'the first lacks it, the second fails: the failure', bFault: 'ERR_UPSTREAM', want: 'ERR_UPSTREAM', fallbacks: { a: { ERR_NOT_FOUND: 1 } }, errors: { a: 0, b: 1 } },
    { name: 'the first store says ERR_ABORTED: never fallen back on', a: { k: BLOB }, b: { k: BLOB }, aFault: 'ERR_ABORTED', want: 'ERR_ABORTED', fallbacks: {}, errors: { a: 0, b: 0 } },
    { name: 'both fail: the first failure', a: { k: BLOB }, aFault: 'ERR_TIMEOUT', bFault: 'ERR_CONNECT', want: 'ERR_TIMEOUT', fallbacks: { a: { ERR_TIMEOUT: 1 } }, errors: { a: 1, b: 1 } },
  ]
  for (const row of rows) {
    const { a, b, store } = chain(row)
    a.statFault = row.aFault
    b.statFault = row.bFault
    t.equal(await outcome(store.stat('k'), i => `${i.store} ${i.version} ${i.size}`), row.want, `${row.name}: ${row.want}`)
    t.strictSame({ ...store.stats.errors }, row.errors, `${row.name}: errors per store`)
    const fallbacks = Object.fromEntries(Object.entries(store.stats.fallbacks).filter(([, by]) => Object.keys(by).length > 0).map(([k, by]) => [k, { ...by }]))
    t.strictSame(fallbacks, row.fallbacks, `${row.name}: fallbacks per store and reason`)
  }
})

t.test('a settling blob keeps no version through the chain; versions are named by their store', async t => {
  const { a, store } = chain({})
  a.put('k', BLOB, true)
  const info = await store.stat('k')
  t.equal(info.version, undefined, 'settling: no version')
  a.put('k', BLOB)
  t.equal((await store.stat('k')).version, 'a:v2', 'settled: the store name before its version')
})

t.test('an abort is never fallen back on', async t => {
  const { a, b, store } = chain({ a: { k: BLOB }, b: { k: BLOB } })
  a.holdStats()
  const ac = new AbortController()
  const p = outcome(store.stat('k', ac.signal), i => i.store)
  ac.abort()
  t.equal(await p, 'ERR_ABORTED', 'the stat is aborted')
  t.equal(b.calls.stats, 0, 'the second store was not asked')
  t.strictSame({ ...store.stats.fallbacks.a }, {}, 'no fallback counted')
  t.equal(store.stats.errors.a, 0, 'an abort is not a fault of the store')
  t.equal(await outcome(store.stat('k', AbortSignal.abort()), i => i.store), 'ERR_ABORTED', 'an aborted signal: no store asked at all')
})

t.test('a failed read continues from another store only with a declared sha256 and an equal size', async t => {
  const rows: Array<{
    name: string
    b: Record<string, string>
    declared: boolean
    verify?: boolean
    settling?: boolean
    fault: ErrorCode
    want: string
    reroutes: number
    refused: Record<string, number>
    bReads: number
  }> = [
    { name: 'declared, same bytes: verified, then read from the second', b: { k: BLOB }, declared: true, fault: 'ERR_IO', want: BLOB, reroutes: 1, refused: {}, bReads: 2 },
    { name: 'declared, blob replaced on the first: read from the second', b: { k: BLOB }, declared: true, fault: 'ERR_BLOB_CHANGED', want: BLOB, reroutes: 1, refused: {}, bReads: 2 },
    { name: 'declared, same size, other bytes: the hash refuses them', b: { k: SAME_SIZE }, declared: true, fault: 'ERR_IO', want: 'ERR_IO', reroutes: 0, refused: { digest: 1 }, bReads: 1 },
    { name: 'declared, the second settling: it cannot be proven', b: { k: BLOB }, settling: true, declared: true, fault: 'ERR_IO', want: 'ERR_IO', reroutes: 0, refused: { unavailable: 1 }, bReads: 0 },
    { name: 'declared, not verifying: same size suffices, unread', b: { k: SAME_SIZE }, declared: true, verify: false, fault: 'ERR_IO', want: SAME_SIZE, reroutes: 1, refused: {}, bReads: 1 },
    { name: 'declared, not verifying, the second settling: read', b: { k: BLOB }, settling: true, declared: true, verify: false, fault: 'ERR_IO', want: BLOB, reroutes: 1, refused: {}, bReads: 1 },
    { name: 'not declared: the error propagates', b: { k: BLOB }, declared: false, fault: 'ERR_IO', want: 'ERR_IO', reroutes: 0, refused: { undeclared: 1 }, bReads: 0 },
    { name: 'declared, but the second has another size: the error propagates', b: { k: `${BLOB}+` }, declared: true, fault: 'ERR_UPSTREAM', want: 'ERR_UPSTREAM', reroutes: 0, refused: { size: 1 }, bReads: 0 },
    { name: 'declared, but the second lacks it: the error propagates', b: {}, declared: true, fault: 'ERR_IO', want: 'ERR_IO', reroutes: 0, refused: { unavailable: 1 }, bReads: 0 },
  ]
  for (const row of rows) {
    const { a, b, store } = chain({ a: { k: BLOB }, b: row.b, declared: row.declared, ...(row.verify === undefined ? {} : { verify: row.verify }) })
    if (row.settling) b.put('k', row.b.k!, true)
    const info = await store.stat('k')
    t.equal(info.sha256, row.declared ? SHA : undefined, `${row.name}: the declared digest, lower-cased, is in the info`)
    a.readFault = row.fault
    t.equal(await outcome(store.read(info, 0, 100), v => Buffer.from(v).toString()), row.want, `${row.name}: ${row.want}`)
    t.equal(store.stats.readReroutes, row.reroutes, `${row.name}: reroutes`)
    t.strictSame(Object.fromEntries(Object.entries(store.stats.refused).filter(([, n]) => n > 0)), row.refused, `${row.name}: refusals`)
    t.equal(b.calls.reads, row.bReads, `${row.name}: reads of the second store`)
    t.equal(store.stats.fallbacks.a?.[row.fault] ?? 0, row.reroutes, `${row.name}: fallbacks counted by reason`)
    t.equal(store.stats.errors.a, 1, `${row.name}: the first store's failure counted`)
  }
})

t.test('a download that fails mid-way continues from the second store and stays there', async t => {
  const { a, b, store } = chain({ a: { k: BLOB }, b: { k: BLOB }, declared: true })
  const info = await store.stat('k')
  a.readFault = 'ERR_IO'
  a.readFaultAfter = 1
  const load = blobChunks(store, info, 10)
  const chunks: string[] = []
  for (let i = 0; i < 4; i++) chunks.push(Buffer.from(await load(i)).toString())
  t.equal(chunks.join(''), BLOB, 'every byte, the first chunk from a and the rest from b')
  t.equal(a.calls.reads, 2, 'a read twice: one chunk, then the failure')
  t.equal(b.calls.reads, 4, 'b read once to verify, then the other three: once moved, reads stay on b')
  t.equal(store.stats.readReroutes, 1, 'one reroute')
  t.equal(store.stats.verifications, 1, 'one verification')
})

t.test('a failure of the store a download moved to ends the download', async t => {
  const { a, b, store } = chain({ a: { k: BLOB }, b: { k: BLOB }, declared: true })
  const info = await store.stat('k')
  a.readFault = 'ERR_IO'
  t.equal(await outcome(store.read(info, 0, 8), v => Buffer.from(v).toString()), BLOB.slice(0, 8), 'moved to b')
  b.readFault = 'ERR_UPSTREAM'
  a.readFault = undefined
  t.equal(await outcome(store.read(info, 8, 8), () => 'bytes'), 'ERR_UPSTREAM', "b's failure, not a's bytes: a download goes back to no store it left")
  t.equal(a.calls.reads, 1, 'a was not read again')
  t.strictSame({ ...store.stats.errors }, { a: 1, b: 1 }, 'each failure counted at its store')
})

t.test('reads of one info that fail together share one search for a store', async t => {
  const { a, b, store } = chain({ a: { k: BLOB }, b: { k: BLOB }, declared: true })
  const info = await store.stat('k')
  a.readFault = 'ERR_IO'
  const hold = b.holdStats()
  const reads = [0, 8, 16, 24].map(off => outcome(store.read(info, off, 8), v => Buffer.from(v).toString()))
  // Let every read fail on a and reach the search while b's stat is held (bounded turns, no sleep).
  for (let i = 0; i < 100; i++) await Promise.resolve()
  t.equal(b.calls.stats, 1, 'while the search is pending, one stat of b')
  hold.open()
  t.strictSame(await Promise.all(reads), [BLOB.slice(0, 8), BLOB.slice(8, 16), BLOB.slice(16, 24), BLOB.slice(24)], 'every read from b')
  t.equal(b.calls.stats, 1, 'one stat of b for all four')
})

t.test('a search that found no safe store is not remembered: a later read tries the first store again', async t => {
  const { a, b, store } = chain({ a: { k: BLOB }, b: { k: `${BLOB}+` }, declared: true })
  const info = await store.stat('k')
  a.readFault = 'ERR_IO'
  t.equal(await outcome(store.read(info, 0, 8), v => Buffer.from(v).toString()), 'ERR_IO', 'the first failure')
  a.readFault = undefined
  t.equal(await outcome(store.read(info, 8, 8), v => Buffer.from(v).toString()), BLOB.slice(8, 16), 'the first store is back: a later read of the same info succeeds')
  t.equal(b.calls.stats, 1, 'b was asked once')
  t.equal(a.calls.reads, 2, 'from a')
  b.put('k', BLOB)
  a.readFault = 'ERR_IO'
  t.equal(await outcome(store.read(info, 16, 8), v => Buffer.from(v).toString()), BLOB.slice(16, 24), 'a fails again, b now holds the blob: found by a new search')
  t.equal(b.calls.stats, 2, 'b was asked again')
})

t.test('a read aborted by its caller is never continued elsewhere', async t => {
  const { a, b, store } = chain({ a: { k: BLOB }, b: { k: BLOB }, declared: true })
  const info = await store.stat('k')
  a.readFault = 'ERR_ABORTED'
  t.equal(await outcome(store.read(info, 0, 8), () => 'bytes'), 'ERR_ABORTED', 'aborted')
  t.equal(await outcome(store.read(info, 0, 8, AbortSignal.abort()), () => 'bytes'), 'ERR_ABORTED', 'an aborted signal')
  t.equal(b.calls.stats + b.calls.reads, 0, 'b was never asked')
  t.equal(store.stats.errors.a, 0, 'not a fault of a')
})

t.test('not verifying, a rerouted download whose bytes contradict the declared digest is cut at its end', async t => {
  // b holds other bytes of the same size: only the digest tells. The caller's full-read check
  // (digestChecked over the chain's chunks) rejects the read that reaches the end.
  const { a, store } = chain({ a: { k: BLOB }, b: { k: SAME_SIZE }, declared: true, verify: false })
  const info: FallbackBlobInfo = await store.stat('k')
  a.readFault = 'ERR_IO'
  a.readFaultAfter = 1
  const content = digestChecked(chunkAligned(blobChunks(store, info, 16), info.size, 16), info.sha256!)
  const first = Buffer.alloc(16)
  t.equal(await content.readAt(first, 0), 16, 'the first half, from a')
  t.equal(await outcome(content.readAt(Buffer.alloc(16), 16), n => `${n} bytes`), 'ERR_BLOB_CHANGED', 'the second half, from b, contradicts the digest: refused')
})

t.test('bad chains are refused at construction, and infos of another chain at read', async t => {
  const s = new ScriptedStore('s')
  t.throws(() => new FallbackStore({ stores: [] }), TypeError, 'no store')
  t.throws(() => new FallbackStore({ stores: [{ name: '', store: s }] }), TypeError, 'an empty name')
  t.throws(() => new FallbackStore({ stores: [{ name: 'x', store: s }, { name: 'x', store: s }] }), TypeError, 'a repeated name')
  const store = new FallbackStore({ stores: [{ name: 'x', store: s }] })
  const alien: FallbackBlobInfo = { key: 'k', size: 1, mtimeMs: 0, version: 'y:1', store: 'y', inner: { key: 'k', size: 1, mtimeMs: 0, version: '1' }, sha256: undefined }
  await t.rejects(store.read(alien, 0, 1), TypeError, 'an info of a store not in the chain')
})

t.test('a version of a later store is hashed once, however many downloads move to it; a failed hash is not remembered', async t => {
  const { a, b, store } = chain({ a: { k: BLOB }, b: { k: BLOB }, declared: true })
  a.readFault = 'ERR_IO'
  const downloads = await Promise.all([store.stat('k'), store.stat('k'), store.stat('k')])
  const got = await Promise.all(downloads.map(info => outcome(store.read(info, 0, 100), v => Buffer.from(v).toString())))
  t.strictSame(got, [BLOB, BLOB, BLOB], 'three downloads, each from b')
  t.equal(store.stats.verifications, 1, 'b\'s version hashed once')
  b.put('k', BLOB)
  t.equal(await outcome(store.read(await store.stat('k'), 0, 100), v => Buffer.from(v).toString()), BLOB, 'a new version of b')
  t.equal(store.stats.verifications, 2, 'is hashed again')
  b.put('k', BLOB)
  b.readFault = 'ERR_IO'
  const info = await store.stat('k')
  t.equal(await outcome(store.read(info, 0, 100), () => 'bytes'), 'ERR_IO', 'the hash read fails: refused')
  t.equal(store.stats.refused.unavailable, 1, 'counted as unavailable')
  b.readFault = undefined
  t.equal(await outcome(store.read(await store.stat('k'), 0, 100), v => Buffer.from(v).toString()), BLOB, 'another download of the same version')
  t.equal(store.stats.verifications, 4, 'hashes it again: the failure was not remembered')
})
