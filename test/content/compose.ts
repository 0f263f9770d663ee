import t from 'tap'
import { bytes } from '../../src/content/bytes.js'
import { chunkAligned, contentChunks, type ChunkLoader } from '../../src/content/chunk-aligned.js'
import { concat } from '../../src/content/concat.js'
import type { Content } from '../../src/content/content.js'
import { section } from '../../src/content/section.js'
import { codeOf } from '../../src/core/errors.js'
import { mulberry32 } from '../helpers/random.js'

/** aligned is chunkAligned over the chunks of a Content (what a chunk cache over a blob looks like). */
const aligned = (c: Content, chunkSize: number): Content => chunkAligned(contentChunks(c, chunkSize), c.size, chunkSize)

type Rng = () => number
const int = (rnd: Rng, lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))

function randomBytes(rnd: Rng, n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256)
  return b
}

/** A composition and the bytes it must read as. */
interface Built {
  readonly content: Content
  readonly ref: Buffer
  readonly desc: string
}

/** A read that broke chunkAligned's promise to its inner content. */
interface Violation {
  readonly chunkSize: number
  readonly size: number
  readonly off: number
  readonly len: number
}

/**
 * recording wraps `inner` and records every read that is not a whole chunk at a chunk-aligned
 * offset (the last chunk may be shorter, but must then end exactly at the end).
 */
function recording(inner: Content, chunkSize: number, violations: Violation[]): Content {
  return {
    size: inner.size,
    readAt(buf, off, signal) {
      const aligned = off % chunkSize === 0
      const whole = buf.length === chunkSize || (buf.length < chunkSize && off + buf.length === inner.size)
      if (!aligned || !whole || buf.length === 0) {
        violations.push({ chunkSize, size: inner.size, off, len: buf.length })
      }
      return inner.readAt(buf, off, signal)
    },
  }
}

/** build makes a random composition of bytes, section, concat and chunkAligned, depth-bounded. */
function build(rnd: Rng, depth: number, violations: Violation[]): Built {
  const kind = depth <= 0 ? 0 : int(rnd, 0, 3)
  switch (kind) {
    case 0: {
      // Mostly small leaves, sometimes empty, sometimes a few KiB.
      const r = rnd()
      const n = r < 0.15 ? 0 : r < 0.85 ? int(rnd, 1, 300) : int(rnd, 300, 6000)
      const ref = randomBytes(rnd, n)
      return { content: bytes(ref), ref, desc: `bytes(${n})` }
    }
    case 1: {
      const inner = build(rnd, depth - 1, violations)
      const size = inner.ref.length
      // The base may lie past the end and the length may reach past it: both are cut.
      const base = int(rnd, 0, size + 4)
      const n = int(rnd, 0, size + 4)
      const from = Math.min(base, size)
      const to = Math.min(base + n, size)
      return {
        content: section(inner.content, base, n),
        ref: inner.ref.subarray(from, Math.max(from, to)),
        desc: `section(${inner.desc}, ${base}, ${n})`,
      }
    }
    case 2: {
      const count = int(rnd, 0, 4)
      const parts: Built[] = []
      for (let i = 0; i < count; i++) parts.push(build(rnd, depth - 1, violations))
      // Empty parts anywhere in the list, including first and last.
      if (rnd() < 0.5) parts.splice(int(rnd, 0, parts.length), 0, { content: bytes(''), ref: Buffer.alloc(0), desc: 'bytes(0)' })
      return {
        content: concat(parts.map(p => p.content)),
        ref: Buffer.concat(parts.map(p => p.ref)),
        desc: `concat(${parts.map(p => p.desc).join(', ')})`,
      }
    }
    default: {
      const inner = build(rnd, depth - 1, violations)
      const chunkSize = rnd() < 0.3 ? int(rnd, 1, 16) : int(rnd, 1, 4096)
      return {
        content: aligned(recording(inner.content, chunkSize, violations), chunkSize),
        ref: inner.ref,
        desc: `chunkAligned(${inner.desc}, ${chunkSize})`,
      }
    }
  }
}

/** expectedRead is what a read of `len` bytes at `off` must give: short only at the end. */
function expectedRead(ref: Buffer, off: number, len: number): { n: number; data: Buffer } {
  const n = Math.max(0, Math.min(len, ref.length - off))
  return { n, data: ref.subarray(off, off + n) }
}

/** randomRead picks an (off, len) that often crosses the end or starts past it. */
function randomRead(rnd: Rng, size: number): { off: number; len: number } {
  const r = rnd()
  if (r < 0.1) return { off: size + int(rnd, 0, 10), len: int(rnd, 0, 20) } // off >= size
  if (r < 0.3) {
    const off = Math.max(0, size - int(rnd, 0, 40))
    return { off, len: int(rnd, 1, 80) } // crosses the end
  }
  if (r < 0.35) return { off: int(rnd, 0, size), len: 0 }
  const off = int(rnd, 0, Math.max(0, size - 1))
  return { off, len: int(rnd, 1, Math.max(1, size - off)) }
}

const SENTINEL = 0xa5

/** doRead reads and reports the count, the bytes and whether anything past the count was touched. */
async function doRead(c: Content, off: number, len: number): Promise<{ n: number; data: Buffer; tail: boolean }> {
  const buf = Buffer.alloc(len, SENTINEL)
  const n = await c.readAt(buf, off)
  return { n, data: Buffer.from(buf.subarray(0, n)), tail: buf.subarray(n).every(b => b === SENTINEL) }
}

const SEEDS = [1, 2, 3, 42, 1234, 99991]
const PER_SEED = 50 // 300 compositions in all

t.test('random compositions read exactly like their reference buffer', async t => {
  for (const seed of SEEDS) {
    await t.test(`compositions from seed ${seed} match the reference`, async t => {
      const rnd = mulberry32(seed)
      for (let i = 0; i < PER_SEED; i++) {
        const violations: Violation[] = []
        const b = build(rnd, int(rnd, 1, 4), violations)
        const got: unknown[] = []
        const want: unknown[] = []
        t.equal(b.content.size, b.ref.length, `size of #${i} ${b.desc.slice(0, 120)}`)
        for (let k = 0; k < 12; k++) {
          const { off, len } = randomRead(rnd, b.ref.length)
          const r = await doRead(b.content, off, len)
          const e = expectedRead(b.ref, off, len)
          got.push({ off, len, n: r.n, data: r.data.toString('hex'), tail: r.tail })
          want.push({ off, len, n: e.n, data: e.data.toString('hex'), tail: true })
        }
        t.strictSame(got, want, `reads of #${i} ${b.desc.slice(0, 120)}`)
        t.strictSame(violations, [], `chunk reads of #${i} are whole and aligned`)
      }
    })
  }
})

t.test('a whole read of every composition returns every byte', async t => {
  const rnd = mulberry32(777)
  for (let i = 0; i < 40; i++) {
    const violations: Violation[] = []
    const b = build(rnd, 3, violations)
    const r = await doRead(b.content, 0, b.ref.length + 7)
    t.equal(r.n, b.ref.length, `count of #${i}`)
    t.ok(r.data.equals(b.ref), `bytes of #${i} ${b.desc.slice(0, 100)}`)
    t.strictSame(violations, [], `chunk reads of #${i} are whole and aligned`)
  }
})

t.test('chunkAligned hands its inner content whole aligned chunks', async t => {
  // Explicit cases on top of the random ones: [size, chunk size, read off, read len].
  const cases: Array<[number, number, number, number]> = [
    [10, 4, 0, 10],
    [10, 4, 3, 2],
    [10, 4, 3, 6],
    [10, 4, 9, 5],
    [12, 4, 11, 1],
    [12, 4, 0, 12],
    [1, 1, 0, 1],
    [4096, 4096, 4095, 1],
    [5000, 4096, 4000, 200],
    [7, 100, 2, 3],
  ]
  for (const [size, chunkSize, off, len] of cases) {
    const ref = randomBytes(mulberry32(size * 31 + chunkSize), size)
    const seen: Array<[number, number]> = []
    const inner: Content = {
      size,
      readAt(buf, o, signal) {
        seen.push([o, buf.length])
        return bytes(ref).readAt(buf, o, signal)
      },
    }
    const c = aligned(inner, chunkSize)
    const r = await doRead(c, off, len)
    const e = expectedRead(ref, off, len)
    t.equal(r.n, e.n, `a ${len}-byte read at ${off} of ${size} bytes in ${chunkSize}-byte chunks returns ${e.n}`)
    t.ok(r.data.equals(e.data), `a ${len}-byte read at ${off} of ${size} bytes in ${chunkSize}-byte chunks has the right bytes`)
    const first = Math.floor(off / chunkSize)
    const last = Math.floor((off + e.n - 1) / chunkSize)
    const expectSeen: Array<[number, number]> = []
    for (let i = first; i <= last; i++) expectSeen.push([i * chunkSize, Math.min(chunkSize, size - i * chunkSize)])
    t.strictSame(
      seen.slice().sort((a, b) => a[0] - b[0]),
      expectSeen,
      `a ${len}-byte read at ${off} of ${size} bytes in ${chunkSize}-byte chunks fetches exactly chunks ${first}..${last}`,
    )
  }
})

t.test('chunkAligned refuses a chunk size that is not a positive integer, and a bad size', async t => {
  const load: ChunkLoader = async () => new Uint8Array(0)
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
    t.throws(() => chunkAligned(load, 3, bad), TypeError, `chunk size ${bad} is refused`)
    t.throws(() => contentChunks(bytes('abc'), bad), TypeError, `chunk size ${bad} is refused by contentChunks`)
  }
  for (const bad of [-1, 1.5, Number.NaN, Infinity]) t.throws(() => chunkAligned(load, bad, 4), TypeError, `size ${bad} is refused`)
})

t.test('chunkAligned refuses a chunk of the wrong length from its loader', async t => {
  const rows: Array<[string, number, number]> = [
    ['a short chunk', 4, 3],
    ['a long chunk', 4, 5],
    ['a short last chunk', 2, 1],
    ['a long last chunk', 2, 4],
  ]
  for (const [name, index, len] of rows) {
    // 10 bytes in chunks of 4: chunks 0 and 1 have 4 bytes, chunk 2 has 2; chunk `index` has `len`.
    const load: ChunkLoader = async i => new Uint8Array(i === Math.min(index, 2) ? len : Math.min(4, 10 - i * 4))
    const c = chunkAligned(load, 10, 4)
    const err = await c.readAt(new Uint8Array(10), 0).then(
      () => undefined,
      (e: unknown) => codeOf(e),
    )
    t.equal(err, 'ERR_SHORT_READ', `${name} is refused`)
  }
  const exact: ChunkLoader = async i => new Uint8Array(Math.min(4, 10 - i * 4)).fill(i + 1)
  const buf = new Uint8Array(10)
  t.equal(await chunkAligned(exact, 10, 4).readAt(buf, 0), 10, 'chunks of the right length are read')
  t.strictSame([...buf], [1, 1, 1, 1, 2, 2, 2, 2, 3, 3], 'in their places')
})

/**
 * shuffled wraps a Content so that its reads complete in a pseudo-random order: each resolves after
 * a random number (0..5) of setImmediate turns. No timers, so the test stays deterministic in what
 * it checks while still overlapping reads.
 */
function shuffled(inner: Content, rnd: Rng, stats: { pending: number; maxPending: number }): Content {
  return {
    size: inner.size,
    async readAt(buf, off, signal) {
      stats.pending++
      stats.maxPending = Math.max(stats.maxPending, stats.pending)
      try {
        const hops = int(rnd, 0, 5)
        for (let i = 0; i < hops; i++) await new Promise<void>(resolve => setImmediate(resolve))
        return await inner.readAt(buf, off, signal)
      } finally {
        stats.pending--
      }
    },
  }
}

t.test('many reads in flight at once all get their own correct bytes', async t => {
  const rnd = mulberry32(2024)
  const stats = { pending: 0, maxPending: 0 }
  const leaves: Buffer[] = []
  for (let i = 0; i < 8; i++) leaves.push(randomBytes(rnd, int(rnd, 0, 3000)))
  const ref = Buffer.concat(leaves)
  // concat over slow leaves, cut by a section and chunked: every layer is concurrent.
  const joined = concat(leaves.map(l => shuffled(bytes(l), rnd, stats)))
  const c = aligned(section(joined, 0, joined.size), 512)
  const reads: Array<{ off: number; len: number }> = []
  for (let i = 0; i < 200; i++) reads.push(randomRead(rnd, ref.length))
  const results = await Promise.all(reads.map(r => doRead(c, r.off, r.len)))
  const got = results.map((r, i) => ({ ...reads[i], n: r.n, data: r.data.toString('hex') }))
  const want = reads.map(r => {
    const e = expectedRead(ref, r.off, r.len)
    return { ...r, n: e.n, data: e.data.toString('hex') }
  })
  t.strictSame(got, want, 'all 200 concurrent reads return the reference bytes')
  t.ok(stats.maxPending > 1, `reads really overlapped (max ${stats.maxPending} pending at once)`)
  t.equal(stats.pending, 0, 'no read is left pending')
})

t.test('an aborted signal makes reads reject with ERR_ABORTED', async t => {
  const ac = new AbortController()
  ac.abort(new Error('client went away'))
  const data = Buffer.from('0123456789abcdef')
  const cases: Array<[string, Content]> = [
    ['bytes', bytes(data)],
    ['a section of bytes', section(bytes(data), 2, 10)],
    ['a concat of bytes', concat([bytes(data.subarray(0, 5)), bytes(data.subarray(5))])],
    ['a chunk-aligned bytes', aligned(bytes(data), 4)],
  ]
  for (const [name, c] of cases) {
    await t.rejects(c.readAt(Buffer.alloc(4), 1, ac.signal), { code: 'ERR_ABORTED' }, `${name} rejects with ERR_ABORTED`)
  }
  const err = await bytes(data)
    .readAt(Buffer.alloc(1), 0, ac.signal)
    .catch((e: unknown) => e)
  t.equal((err as Error).cause instanceof Error && ((err as Error).cause as Error).message, 'client went away', 'the abort reason is kept as the cause')
})

/** liar claims `claimed` bytes but only ever returns `actual` of them. */
function liar(claimed: number, actual: number): Content {
  return {
    size: claimed,
    readAt(buf, off) {
      const n = Math.max(0, Math.min(buf.length, actual - off))
      buf.fill(0x41, 0, n)
      return Promise.resolve(n)
    },
  }
}

t.test('a part that returns short makes the whole reject with ERR_SHORT_READ', async t => {
  const cases: Array<[string, Content, number, number]> = [
    ['concat with a short middle part', concat([bytes('abc'), liar(10, 5), bytes('xyz')]), 0, 16],
    ['concat with a short last part read at its end', concat([bytes('abc'), liar(10, 5)]), 9, 4],
    ['concat with a part that returns nothing', concat([liar(4, 0)]), 0, 4],
    ['chunkAligned over a short content', aligned(liar(10, 7), 4), 0, 10],
    ['chunkAligned over a short last chunk', aligned(liar(10, 9), 4), 8, 2],
  ]
  for (const [name, c, off, len] of cases) {
    await t.rejects(c.readAt(Buffer.alloc(len), off), { code: 'ERR_SHORT_READ' }, `${name} rejects with ERR_SHORT_READ`)
  }
})

t.test('a part that rejects makes the whole reject with that error', async t => {
  const failing: Content = {
    size: 5,
    readAt: () => Promise.reject(Object.assign(new Error('disk on fire'), { code: 'EIO' })),
  }
  const cases: Array<[string, Content]> = [
    ['concat', concat([bytes('abc'), failing])],
    ['section', section(failing, 1, 3)],
    ['chunkAligned', aligned(failing, 2)],
  ]
  for (const [name, c] of cases) {
    await t.rejects(c.readAt(Buffer.alloc(8), 0), { message: 'disk on fire' }, `${name} passes the part's error on`)
  }
})

t.test('reads that touch only some parts leave the other parts alone', async t => {
  const touched: number[] = []
  const part = (i: number, s: string): Content => ({
    size: s.length,
    readAt(buf, off, signal) {
      touched.push(i)
      return bytes(s).readAt(buf, off, signal)
    },
  })
  const c = concat([part(0, 'aaaa'), part(1, 'bbbb'), part(2, 'cccc'), part(3, 'dddd')])
  const cases: Array<[number, number, number[], string]> = [
    [0, 4, [0], 'aaaa'],
    [4, 4, [1], 'bbbb'],
    [3, 2, [0, 1], 'ab'],
    [6, 8, [1, 2, 3], 'bbccccdd'],
    [15, 10, [3], 'd'],
    [16, 10, [], ''],
  ]
  for (const [off, len, parts, text] of cases) {
    touched.length = 0
    const r = await doRead(c, off, len)
    t.strictSame({ parts: touched.slice().sort(), text: r.data.toString() }, { parts, text }, `a ${len}-byte read at ${off} reads parts [${parts}] and gives "${text}"`)
  }
})

t.test('empty compositions have size 0 and read 0', async t => {
  const cases: Array<[string, Content]> = [
    ['concat of nothing', concat([])],
    ['concat of empty parts', concat([bytes(''), bytes(new Uint8Array(0))])],
    ['section past the end', section(bytes('abc'), 10, 5)],
    ['section of length 0', section(bytes('abc'), 1, 0)],
    ['chunkAligned of empty', aligned(bytes(''), 8)],
  ]
  for (const [name, c] of cases) {
    t.equal(c.size, 0, `${name} has size 0`)
    t.equal(await c.readAt(Buffer.alloc(4), 0), 0, `${name} reads 0 bytes`)
  }
})

t.test('a bad offset is refused', async t => {
  const cases: Array<[string, Content]> = [
    ['bytes', bytes('abc')],
    ['section', section(bytes('abc'), 0, 3)],
    ['concat', concat([bytes('abc')])],
    ['chunkAligned', aligned(bytes('abc'), 2)],
  ]
  for (const [name, c] of cases) {
    for (const off of [-1, 1.5, Number.NaN]) {
      await t.rejects(async () => c.readAt(Buffer.alloc(1), off), RangeError, `${name} refuses offset ${off}`)
    }
  }
})

t.test('bytes offers a resident view of the same memory', async t => {
  const data = Buffer.from('0123456789')
  const c = bytes(data)
  const cases: Array<[number, number, string]> = [
    [0, 10, '0123456789'],
    [2, 3, '234'],
    [8, 10, '89'],
    [10, 5, ''],
    [20, 5, ''],
  ]
  for (const [off, len, text] of cases) {
    t.equal(Buffer.from(c.view(off, len)).toString(), text, `view(${off}, ${len}) is "${text}"`)
  }
  t.equal(c.view(2, 3).buffer, data.buffer, 'the view shares the memory of the buffer')
  t.equal(bytes('héllo').size, 6, 'a string is encoded as UTF-8')
})

t.test('codeOf reads the code of errors the compositions throw', async t => {
  const err = await concat([liar(3, 1)])
    .readAt(Buffer.alloc(3), 0)
    .catch((e: unknown) => e)
  t.equal(codeOf(err), 'ERR_SHORT_READ', 'the short read carries ERR_SHORT_READ')
})

t.test('chunkAligned.viewAt: a view of the chunk itself for bytes within one chunk, undefined otherwise', async t => {
  const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz') // 36 bytes, chunks of 10
  const handed: Uint8Array[] = []
  const load: ChunkLoader = async i => {
    const chunk = data.subarray(i * 10, i * 10 + 10)
    handed.push(chunk)
    return chunk
  }
  const c = chunkAligned(load, data.length, 10)
  const rows: Array<[off: number, len: number, want: string | undefined]> = [
    [0, 10, '0123456789'],
    [3, 4, '3456'],
    [10, 10, 'abcdefghij'],
    [30, 6, 'uvwxyz'],
    [35, 1, 'z'],
    [9, 2, undefined], // crosses a chunk boundary
    [0, 11, undefined],
    [30, 7, undefined], // past the end
    [36, 1, undefined],
    [5, 0, undefined],
  ]
  for (const [off, len, want] of rows) {
    const v = c.viewAt(off, len)
    if (want === undefined) {
      t.equal(v, undefined, `${off}+${len}: no view`)
      continue
    }
    const got = await v!
    t.equal(Buffer.from(got).toString(), want, `${off}+${len}: the bytes`)
    t.equal(got.buffer, handed.at(-1)!.buffer, `${off}+${len}: a view of the chunk, not a copy`)
  }
  const short = chunkAligned(async () => data.subarray(0, 5), 10, 10)
  t.equal(codeOf(await short.viewAt(0, 4)!.catch((e: unknown) => e)), 'ERR_SHORT_READ', 'a short chunk rejects as readAt does')
})
