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

t.test('compareStreams holds no chunk it has compared (constant memory)', async t => {
  // Fresh 64 KiB buffers, as a socket gives them: a chunk kept alive by mistake after it was
  // compared adds up (a test that yields one buffer again and again cannot see that).
  const size = 64 * 1024
  const total = 4096 // 256 MiB a side
  const before = process.memoryUsage()
  let peak = before
  async function* gen(watch: boolean): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < total; i++) {
      if (watch) {
        const m = process.memoryUsage()
        if (m.arrayBuffers > peak.arrayBuffers) peak = m
      }
      yield Buffer.alloc(size, i & 0xff)
    }
  }
  const v = await compareStreams(gen(true), gen(false), new AbortController().signal)
  t.equal(v.controlLength, total * size)
  t.equal(v.offset, undefined)
  // Garbage waits for the collector, so the bound is loose; kept chunks would reach 512 MiB.
  const grew = (peak.arrayBuffers - before.arrayBuffers) / 1048576
  t.ok(grew < 128, `buffers alive at the peak grew by ${grew.toFixed(1)} MiB (< 128 MiB of 512 MiB read)`)
})
