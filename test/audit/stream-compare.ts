import { createHash } from 'node:crypto'
import t from 'tap'
import { compareStreams, CONTEXT_BYTES } from '../../src/audit/stream-compare.js'
import { chunked } from '../helpers/engine.js'
import { seededBytes } from '../helpers/random.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

t.test('compareStreams finds the first differing byte whatever the chunking', async t => {
  const base = seededBytes(7, 50_000)
  const cases: Array<{ title: string; control: Buffer; candidate: Buffer; offset?: number }> = [
    { title: 'equal bodies', control: base, candidate: Buffer.from(base) },
    { title: 'empty bodies', control: Buffer.alloc(0), candidate: Buffer.alloc(0) },
  ]
  for (const at of [0, 1, 31, 32, 33, 4999, 25_000, 49_999]) {
    const c = Buffer.from(base)
    c[at] = (c[at]! + 1) & 0xff
    cases.push({ title: `byte ${at} changed`, control: base, candidate: c, offset: at })
  }
  for (const c of cases) {
    for (const [sa, sb] of [
      [1, 2],
      [3, 3],
      [9, 4],
    ]) {
      const v = await compareStreams(chunked(c.control, sa!), chunked(c.candidate, sb!))
      t.equal(v.offset, c.offset, `${c.title} (chunkings ${sa}/${sb}): offset`)
      t.equal(v.controlLength, c.control.length)
      t.equal(v.candidateLength, c.candidate.length)
      t.equal(v.controlSha256, sha(c.control))
      t.equal(v.candidateSha256, sha(c.candidate))
    }
  }
})

t.test('compareStreams keeps 32 bytes of context on each side of the difference', async t => {
  const a = seededBytes(3, 10_000)
  const b = Buffer.from(a)
  b[5000] = b[5000]! ^ 0xff
  const v = await compareStreams(chunked(a, 5), chunked(b, 6))
  t.equal(v.offset, 5000)
  t.same(v.context, {
    from: 5000 - CONTEXT_BYTES,
    control: a.subarray(5000 - CONTEXT_BYTES, 5000 + CONTEXT_BYTES).toString('hex'),
    candidate: b.subarray(5000 - CONTEXT_BYTES, 5000 + CONTEXT_BYTES).toString('hex'),
  })
  const near = Buffer.from(a)
  near[3] = near[3]! ^ 1
  const w = await compareStreams(chunked(a, 1), chunked(near, 2))
  t.equal(w.context?.from, 0, 'context starts at 0 near the beginning')
  t.equal(w.context?.control, a.subarray(0, 3 + CONTEXT_BYTES).toString('hex'))
})

t.test('compareStreams reports lengths when one body is a prefix of the other', async t => {
  const a = seededBytes(4, 9000)
  const v = await compareStreams(chunked(a, 1), chunked(a.subarray(0, 8000), 2))
  t.equal(v.offset, undefined)
  t.equal(v.controlLength, 9000)
  t.equal(v.candidateLength, 8000)
})

t.test('compareStreams reports the side whose stream broke', async t => {
  const a = seededBytes(5, 9000)
  const v = await compareStreams(chunked(a, 1), chunked(a.subarray(0, 4000), 2, new Error('socket hang up')))
  t.equal(v.failed?.side, 'candidate')
  t.match(String(v.failed?.error), /socket hang up/)
  const w = await compareStreams(chunked(a, 1, new Error('reset')), chunked(a, 2))
  t.equal(w.failed?.side, 'control')
})

t.test('compareStreams compares 1 GiB in constant memory', async t => {
  const chunk = Buffer.alloc(1 << 20, 0x5a)
  const total = 1024
  async function* gen(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < total; i++) yield chunk
  }
  const before = process.memoryUsage().rss
  let peak = before
  async function* watched(): AsyncGenerator<Uint8Array> {
    for await (const c of gen()) {
      peak = Math.max(peak, process.memoryUsage().rss)
      yield c
    }
  }
  const v = await compareStreams(watched(), gen())
  t.equal(v.controlLength, total << 20)
  t.equal(v.offset, undefined)
  t.ok(peak - before < 16 * 1024 * 1024, `RSS grew by ${((peak - before) / 1048576).toFixed(1)} MiB (< 16 MiB)`)
})
