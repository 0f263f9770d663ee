/**
 * Torn writes: files overwritten in place (same size; one pwrite per version, or several back to back) while
 * concurrent readers download them from a real `cutover serve` process. A reader that overlaps a
 * write can see the new identity (Linux sets mtime and ctime when a write starts, before its data
 * is copied) with old or mixed bytes; within one clock tick several writes even share an mtime.
 *
 * Invariants (bounded: a fixed number of writes, readers stop when the writer does):
 * - during the writes, a body that is not exactly one written version never comes with a strong
 *   ETag (it is "settling": weak ETag, never cached), and a 206 answered to If-Range never does;
 * - once the writes have ended, every response equals the bytes on disk: no stale bytes kept in
 *   the memory cache under the final identity, no mixed bytes, whether the request comes during
 *   the settle window (read from disk) or after it (cached).
 */
import t from 'tap'
import { open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { startServeProcess } from '../helpers/serve.js'

const MB = 1_000_000
/** FILES: one under the in-memory small-file limit (1 MiB), one streamed from disk. */
const FILES = [
  { name: 'small.bin', size: 1 * MB },
  { name: 'large.bin', size: 4 * MB },
] as const
/** WRITES per file: each a whole new version in one pwrite. */
const WRITES = 60
const READERS = 4
/** CHUNKS: the even versions are written in this many pwrites. */
const CHUNKS = 8
/** AFTER bounds the verification phase after the last write: requests and wall time. */
const AFTER = { maxRequests: 3_000, maxMs: 6_000, settleMs: 1_000 }

/** version is the content of write number `v`: every byte differs from the previous version's. */
const version = (size: number, v: number): Buffer => Buffer.alloc(size, v % 251)

interface Got {
  status: number
  etag: string | undefined
  body: Buffer
}

/** get fetches one response; a response the server cut mid-body (it saw the file change) is `cut`. */
async function get(dispatcher: Agent, url: string, headers: Record<string, string> = {}): Promise<Got | 'cut'> {
  const res = await request(url, { dispatcher, headers, headersTimeout: 20_000, bodyTimeout: 20_000 })
  const etag = res.headers.etag
  try {
    const body = Buffer.from(await res.body.arrayBuffer())
    return { status: res.statusCode, etag: typeof etag === 'string' ? etag : undefined, body }
  } catch {
    return 'cut'
  }
}

/** uniform tells which version a body is, or -1 when it mixes versions (or is short). */
function uniform(body: Buffer, size: number): number {
  if (body.length !== size || size === 0) return -1
  const first = body[0]!
  for (let i = 0; i < body.length; i++) if (body[i] !== first) return -1
  return first
}

const dir = t.testdir({})
for (const f of FILES) await writeFile(join(dir, f.name), version(f.size, 0))
// The default settle time (1 s) is the subject of this test.
const { url } = await startServeProcess(t, dir, ['--settle-time', '1s'])
const dispatcher = new Agent({ connections: READERS * 2, keepAliveTimeout: 5_000 })
t.teardown(() => dispatcher.destroy())

for (const f of FILES) {
  t.test(`${f.name} (${f.size} bytes) overwritten in place ${WRITES} times under ${READERS} readers`, async t => {
    const path = join(dir, f.name)
    const target = `${url}/${f.name}`
    let writing = true
    let mixedStrong = 0
    let mixed = 0
    let cut = 0
    let responses = 0
    let staleAfterWrite = 0
    const readers = Array.from({ length: READERS }, async (_, r) => {
      // Bounded by the writer: it stops after WRITES versions; the cap is a safety net.
      for (let i = 0; writing && i < 100_000; i++) {
        // Half the readers resume with If-Range on the tag they were given, as download managers do.
        const first = await get(dispatcher, target)
        responses++
        if (first === 'cut') {
          cut++
          continue
        }
        // A 500 (the file changed while a small file was read into memory) is honest; a 200 must
        // be one version, or say with a weak tag that it may not be.
        if (first.status === 200 && uniform(first.body, f.size) < 0) {
          mixed++
          if (first.etag !== undefined && !first.etag.startsWith('W/')) mixedStrong++
        }
        if (r % 2 === 1 && first.etag !== undefined) {
          const resumed = await get(dispatcher, target, { 'If-Range': first.etag, Range: `bytes=${f.size / 2}-` })
          responses++
          if (resumed !== 'cut' && resumed.status === 206 && first.etag.startsWith('W/')) mixedStrong++
        }
      }
    })
    const fh = await open(path, 'r+')
    let last = 0
    let torn = 0
    try {
      for (let v = 1; v <= WRITES; v++) {
        const data = version(f.size, v)
        // Odd versions go in one pwrite; even ones in CHUNKS pwrites back to back, as `dd
        // conv=notrunc` or `rsync --inplace` write: within one clock tick they share an mtime.
        const step = v % 2 === 1 ? f.size : f.size / CHUNKS
        for (let at = 0; at < f.size; at += step) {
          const { bytesWritten } = await fh.write(data, at, step, at)
          if (bytesWritten !== step) torn++
        }
        last = v
        // This write has ended and the next has not begun: a response that starts now must be this
        // version, whatever the readers racing the write left behind. It also paces the writer.
        const check = await get(dispatcher, target)
        if (check === 'cut' || check.status !== 200 || !check.body.equals(data)) staleAfterWrite++
      }
    } finally {
      await fh.close()
      writing = false
    }
    await Promise.all(readers)
    t.equal(torn, 0, `every pwrite of the ${WRITES} versions was whole`)
    t.equal(staleAfterWrite, 0, `a request after each write gets that write's bytes (${WRITES} checked)`)
    t.equal(
      mixedStrong,
      0,
      `no 200 mixing versions under a strong ETag, no If-Range honoured on a weak one (${responses} responses: ${mixed} mixed, ${cut} cut)`,
    )

    // The writes have ended: every response from now on equals the bytes on disk, first while the
    // file settles (read from disk), then once it is cached. Requests go on until the settle time
    // has clearly passed; bounded in count and time.
    const want = version(f.size, last)
    const ended = Date.now()
    let checked = 0
    let wrong = 0
    let sawStrong = false
    for (let i = 0; i < AFTER.maxRequests && Date.now() - ended < AFTER.maxMs; i++) {
      const got = await get(dispatcher, target)
      checked++
      if (got === 'cut' || got.status !== 200 || !got.body.equals(want)) wrong++
      else if (got.etag !== undefined && !got.etag.startsWith('W/')) sawStrong = true
      const half = await get(dispatcher, target, { Range: `bytes=${f.size / 2}-` })
      checked++
      if (half === 'cut' || half.status !== 206 || !half.body.equals(want.subarray(f.size / 2))) wrong++
      if (sawStrong && Date.now() - ended > AFTER.settleMs + 500) break
    }
    t.equal(wrong, 0, `every one of ${checked} responses after the writes equals the bytes on disk`)
    t.ok(sawStrong, 'the ETag is strong again once the file has settled')
  })
}
