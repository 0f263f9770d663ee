import { createHash } from 'node:crypto'
import t from 'tap'
import { patterned } from '../helpers/random.js'
import { BLOCK_BYTES, BlockDigester, diffDigests, digestOf, DIGEST_BYTES, type DigestDiff } from '../../src/audit/body-digest.js'

const B = BLOCK_BYTES

const body = patterned

t.test('a digest is the body\'s sha256, one prefix digest per block, and the first block whole, however chunked', async t => {
  for (const n of [0, 1, 1000, B - 1, B, B + 1, 3 * B + 17]) {
    const bytes = body(n)
    const whole = digestOf(bytes)
    t.equal(whole.length, n, `${n}: length`)
    t.equal(whole.sha256, createHash('sha256').update(bytes).digest('hex'), `${n}: sha256`)
    t.equal(whole.blocks.length, Math.ceil(n / B) * DIGEST_BYTES, `${n}: one digest per block begun`)
    t.ok(whole.head.equals(bytes.subarray(0, Math.min(n, B))), `${n}: the head is the first block`)
    for (const size of [1, 7, 4096, B + 3]) {
      const d = new BlockDigester()
      for (let at = 0; at < n; at += size) d.update(bytes.subarray(at, at + size))
      const got = d.finish()
      t.ok(got.blocks.equals(whole.blocks) && got.sha256 === whole.sha256, `${n} in chunks of ${size}: the same digest`)
    }
  }
})

t.test('diffDigests locates the first difference from the digests and the heads', async t => {
  // [name, control, candidate, limit, head kept, expected]
  const table: Array<[string, Buffer, Buffer, number | undefined, number | undefined, DigestDiff]> = [
    ['equal small bodies', body(100), body(100), undefined, undefined, { kind: 'equal', compared: 100 }],
    ['equal large bodies', body(3 * B + 5), body(3 * B + 5), undefined, undefined, { kind: 'equal', compared: 3 * B + 5 }],
    ['empty and empty', body(0), body(0), undefined, undefined, { kind: 'equal', compared: 0 }],
    ['a difference in the first block is exact', body(5000), body(5000, 4321), undefined, undefined, { kind: 'bytes', offset: 4321 }],
    ['a difference at byte 0', body(5000, 0), body(5000), undefined, undefined, { kind: 'bytes', offset: 0 }],
    ['a difference beyond it is located to its block', body(3 * B), body(3 * B, B + 5), undefined, undefined, { kind: 'block', from: B, to: 2 * B }],
    ['in the last, partial block', body(3 * B + 9), body(3 * B + 9, 3 * B + 2), undefined, undefined, { kind: 'block', from: 3 * B, to: 3 * B + 9 }],
    ['two differences: the first one counts', body(4 * B), body(4 * B, 3 * B, B + 1), undefined, undefined, { kind: 'block', from: B, to: 2 * B }],
    ['a prefix within the first block', body(100), body(150), undefined, undefined, { kind: 'prefix' }],
    ['empty and not', body(0), body(10), undefined, undefined, { kind: 'prefix' }],
    ['a prefix ending on a block boundary', body(2 * B), body(2 * B + 5), undefined, undefined, { kind: 'prefix' }],
    ['a prefix ending mid-block: only its bytes can tell', body(2 * B + 10), body(3 * B), undefined, undefined, { kind: 'block', from: 2 * B, to: 3 * B }],
    ['lengths differ, and a byte before', body(2 * B + 10), body(3 * B, 7), undefined, undefined, { kind: 'bytes', offset: 7 }],
    ['no head kept: the first block too is located to the block', body(100), body(100, 5), undefined, 0, { kind: 'block', from: 0, to: 100 }],
    ['cut by its client within the first block', body(1000), body(5000), 1000, undefined, { kind: 'equal', compared: 1000 }],
    ['cut beyond it: whole blocks are compared', body(2 * B + 100), body(3 * B), 2 * B + 100, undefined, { kind: 'equal', compared: 2 * B }],
    ['cut on a block boundary', body(2 * B), body(3 * B), 2 * B, undefined, { kind: 'equal', compared: 2 * B }],
    ['cut, and a difference before the cut', body(2 * B + 100), body(3 * B, B + 5), 2 * B + 100, undefined, { kind: 'block', from: B, to: 2 * B }],
    ['cut, and a difference in the head', body(2 * B + 100), body(3 * B, 5), 2 * B + 100, undefined, { kind: 'bytes', offset: 5 }],
    ['cut, the other side shorter than the client got', body(1000), body(500), 1000, undefined, { kind: 'prefix' }],
    ['cut, the other side shorter, beyond the head', body(3 * B), body(2 * B), 3 * B, undefined, { kind: 'prefix' }],
  ]
  for (const [name, a, b, limit, head, want] of table) {
    t.strictSame(diffDigests(digestOf(a, head), digestOf(b, head), limit), want, name)
    if (limit === undefined) {
      // The same verdict whichever side is which (offsets are the same for both).
      t.strictSame(diffDigests(digestOf(b, head), digestOf(a, head)), want, `${name}, sides swapped`)
    }
  }
})

t.test('skipped bytes count in the length and the head, not in the hash; digests forked after them still locate a difference', async t => {
  // [name, bytes skipped, then bytes each fork hashes: the same, or with a byte flipped at an offset]
  const rows: ReadonlyArray<[string, number, number, number | undefined, DigestDiff]> = [
    ['nothing skipped, equal', 0, 3 * B, undefined, { kind: 'equal', compared: 3 * B }],
    ['two blocks skipped, equal after', 2 * B, B + 10, undefined, { kind: 'equal', compared: 3 * B + 10 }],
    ['half a block skipped, a difference after it in the head', B / 2, 2 * B, B / 2 + 7, { kind: 'bytes', offset: B / 2 + 7 }],
    ['two and a half blocks skipped, a difference after it', 2 * B + B / 2, 2 * B, 3 * B + 1, { kind: 'block', from: 3 * B, to: 4 * B }],
    ['a whole body skipped', 3 * B + 5, 0, undefined, { kind: 'equal', compared: 3 * B + 5 }],
  ]
  for (const [name, skipped, after, flip, want] of rows) {
    const bytes = body(skipped + after)
    const other = flip === undefined ? bytes : body(skipped + after, flip)
    const d = new BlockDigester()
    // Skipped in two pieces: a block boundary may fall in either.
    d.skip(bytes.subarray(0, Math.floor(skipped / 3)))
    d.skip(bytes.subarray(Math.floor(skipped / 3), skipped))
    const f = d.fork()
    d.update(bytes.subarray(skipped))
    f.update(other.subarray(skipped))
    const [a, b] = [d.finish(), f.finish()]
    t.equal(a.length, skipped + after, `${name}: length`)
    t.ok(a.head.equals(bytes.subarray(0, Math.min(B, bytes.length))), `${name}: the head holds skipped bytes too`)
    t.equal(a.blocks.length, Math.ceil((skipped + after) / B) * DIGEST_BYTES, `${name}: one entry per block begun`)
    t.equal(a.sha256 === undefined, skipped > 0, `${name}: no SHA-256 once a byte was skipped`)
    if (skipped === 0) t.equal(a.sha256, createHash('sha256').update(bytes).digest('hex'), `${name}: the SHA-256 otherwise`)
    t.strictSame(diffDigests(a, b), want, name)
  }
})

t.test('a digester that has hashed nothing stands for the SHA-256 of no bytes, whether it skipped or not', async t => {
  const empty = createHash('sha256').digest()
  const B = BLOCK_BYTES
  // [name, bytes skipped]: each block skipped whole has an empty entry, a partial one the SHA-256 of nothing.
  const rows: ReadonlyArray<[string, number]> = [
    ['nothing at all', 0],
    ['a partial block skipped', 10],
    ['whole blocks skipped', 2 * B],
    ['whole blocks and a partial one skipped', 2 * B + 5],
  ]
  for (const [name, skipped] of rows) {
    const d = new BlockDigester()
    if (skipped > 0) d.skip(patterned(skipped))
    t.ok(d.state().equals(empty), `${name}: its state`)
    const whole = Math.floor(skipped / B)
    const want = Buffer.concat([Buffer.alloc(whole * DIGEST_BYTES), skipped % B !== 0 ? empty.subarray(0, DIGEST_BYTES) : Buffer.alloc(0)])
    const snap = d.snapshot()
    const fork = d.fork()
    const done = d.finish()
    for (const [which, got] of [['snapshot', snap], ['finish', done], ['a fork finished', fork.finish()]] as const) {
      t.equal(got.length, skipped, `${name}: ${which}: its length`)
      t.ok(got.blocks.equals(want), `${name}: ${which}: its entries`)
      t.equal(got.sha256, skipped === 0 ? empty.toString('hex') : undefined, `${name}: ${which}: its sha256`)
    }
  }
  // A fork taken before the first byte hashed hashes on its own, as a fresh digester would.
  const d = new BlockDigester()
  const f = d.fork()
  f.update(Buffer.from('abc'))
  t.equal(f.finish().sha256, createHash('sha256').update('abc').digest('hex'), 'a fork of nothing hashes what it is given')
  t.ok(d.state().equals(empty), 'and its origin is left as it was')
})

t.test('the SHA-256 of no bytes is handed out as a copy: changing one state changes no other', async t => {
  new BlockDigester().state().fill(0xff)
  t.strictSame(new BlockDigester().state(), createHash('sha256').digest(), 'the next empty digester still reads the SHA-256 of no bytes')
  // snapshot() and finish() give it as hex, and their block entries are copied into their own buffer.
  t.equal(new BlockDigester().finish().sha256, createHash('sha256').digest('hex'))
})
