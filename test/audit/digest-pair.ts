import t from 'tap'
import { patterned } from '../helpers/random.js'
import { BLOCK_BYTES, BlockDigester, diffDigests, digestOf, type BodyDigest } from '../../src/audit/body-digest.js'
import { TeeBudget } from '../../src/audit/body-tee.js'
import { DigestPair } from '../../src/audit/digest-pair.js'

const B = BLOCK_BYTES

const body = patterned

/** same tells whether two digests are equal in every field. */
const same = (a: BodyDigest, b: BodyDigest): boolean =>
  a.length === b.length && a.sha256 === b.sha256 && a.head.equals(b.head) && a.blocks.equals(b.blocks)

/**
 * agrees tells whether a pair's digests `da` and `db` of bodies `a` and `b` say what digests of each
 * body taken alone say: the same lengths and heads, the same first difference (whole, and as far as
 * a client that stopped at the shorter length or half of `a` got), and each side's SHA-256 when it
 * has one (bytes the sides agreed on while paired are compared, not hashed: then it has none).
 */
function agrees(da: BodyDigest, db: BodyDigest, a: Buffer, b: Buffer): boolean {
  const [ea, eb] = [digestOf(a), digestOf(b)]
  const sideOk = (d: BodyDigest, e: BodyDigest): boolean => d.length === e.length && d.head.equals(e.head) && (d.sha256 === undefined || d.sha256 === e.sha256)
  const limits = [undefined, Math.min(a.length, b.length), Math.floor(a.length / 2)]
  return sideOk(da, ea) && sideOk(db, eb) && limits.every(l => JSON.stringify(diffDigests(da, db, l)) === JSON.stringify(diffDigests(ea, eb, l)))
}

/** mulberry32: a seeded PRNG, so every interleaving below is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * feed hashes two bodies through a pair, interleaving their chunks as `order` says: a string of
 * 'a' and 'b', one step each, each step one chunk of that side (sizes from `sizes`) or its end, 'A' /
 * 'B' for all the rest of that side and its end; once the string is used up, the rest alternates. With
 * `empties`, every chunk comes after an empty one. Returns both digests.
 */
async function feed(
  pair: DigestPair,
  a: Buffer,
  b: Buffer,
  sizes: readonly [number, number],
  order = '',
  afterOrder?: () => void,
  empties = false,
): Promise<[BodyDigest, BodyDigest]> {
  const bodies = [a, b] as const
  const at = [0, 0]
  const done: [Promise<BodyDigest> | undefined, Promise<BodyDigest> | undefined] = [undefined, undefined]
  const step = (i: 0 | 1): void => {
    if (done[i]) return
    if (at[i]! >= bodies[i].length) {
      done[i] = Promise.resolve(pair.side(i).finish())
      return
    }
    const n = Math.min(sizes[i], bodies[i].length - at[i]!)
    // An HTTP client may hand over an empty chunk (undici's HTTP/1.1 parser does): it changes nothing.
    if (empties) pair.side(i).update(new Uint8Array(0))
    pair.side(i).update(bodies[i].subarray(at[i], at[i]! + n))
    at[i]! += n
  }
  for (const c of order) {
    if (c === 'a') step(0)
    else if (c === 'b') step(1)
    else {
      // The rest of that side, then its end.
      const i = c === 'A' ? 0 : 1
      for (let k = 0; k <= bodies[i].length && !done[i]; k++) step(i)
    }
  }
  afterOrder?.()
  // Bounded: each body takes at most length / size + 1 steps.
  const bound = a.length + b.length + 4
  for (let k = 0; k < bound && !(done[0] && done[1]); k++) step(k % 2 === 0 ? 0 : 1)
  return Promise.all([done[0]!, done[1]!])
}

t.test('a pair\'s digests locate the first difference as digests of each side alone would, however the two interleave', async t => {
  const n = 3 * B + 100
  const rows: ReadonlyArray<{ name: string; a: Buffer; b: Buffer; sizes: [number, number]; order?: string; paired: boolean; hashed?: number }> = [
    { name: 'equal bodies, same chunks, in step', a: body(n), b: body(n), sizes: [4096, 4096], paired: true, hashed: 0 },
    { name: 'equal bodies, different chunks', a: body(n), b: body(n), sizes: [1000, B + 7], paired: true, hashed: 0 },
    { name: 'equal bodies, a all first', a: body(n), b: body(n), sizes: [B, B], order: 'aaaaaA', paired: true },
    { name: 'equal bodies, b all first', a: body(n), b: body(n), sizes: [B, 333], order: 'bbbbbB', paired: true },
    { name: 'empty bodies', a: body(0), b: body(0), sizes: [1, 1], paired: true },
    { name: 'one empty body', a: body(0), b: body(n), sizes: [1, 4096], paired: true },
    { name: 'a differs in its first byte', a: body(n, 0), b: body(n), sizes: [4096, 4096], paired: false },
    // Compared up to the 4,096-byte piece the difference is in, then each side hashes the rest.
    { name: 'a differs in block 2', a: body(n, 2 * B + 5), b: body(n), sizes: [4096, 5000], paired: false, hashed: 2 * (n - 2 * B) },
    { name: 'a differs in its last byte, a ahead', a: body(n, n - 1), b: body(n), sizes: [B, B], order: 'aaaaA', paired: false },
    { name: 'b is a prefix of a, a ahead', a: body(n), b: body(2 * B), sizes: [B, B], order: 'aaaaA', paired: true },
    { name: 'b is a prefix of a, b ahead', a: body(n), b: body(2 * B + 3), sizes: [B, 100], order: 'bbbbbbbbbbbbbbbbbB', paired: true },
    { name: 'a is a prefix of b, ends mid-chunk of b', a: body(B + 10), b: body(n), sizes: [B, 3 * B], paired: true },
    { name: 'differ past the end of the shorter', a: body(B, B - 1), b: body(2 * B), sizes: [B, 2 * B], order: 'bB', paired: false },
  ]
  for (const r of rows) {
    const budget = new TeeBudget(64 * B)
    const pair = new DigestPair(undefined, budget)
    const [da, db] = await feed(pair, r.a, r.b, r.sizes, r.order)
    t.ok(agrees(da, db, r.a, r.b), `${r.name}: the digests agree with each side's alone`)
    if (r.hashed !== undefined) t.equal(pair.hashedBytes, r.hashed, `${r.name}: bytes hashed`)
    t.equal(budget.used, 0, `${r.name}: nothing left held`)
    t.equal(pair.held, 0, `${r.name}: the pair holds nothing`)
  }
})

t.test('a pair that hashes the bytes its sides agree on gives each side exactly its digest alone (a third body can be compared with it)', async t => {
  const n = 3 * B + 100
  const rows: ReadonlyArray<{ name: string; a: Buffer; b: Buffer; sizes: [number, number]; order?: string }> = [
    { name: 'equal bodies, same chunks, in step', a: body(n), b: body(n), sizes: [4096, 4096] },
    { name: 'equal bodies, a all first', a: body(n), b: body(n), sizes: [B, B], order: 'aaaaaA' },
    { name: 'a differs in block 2', a: body(n, 2 * B + 5), b: body(n), sizes: [4096, 5000] },
    { name: 'b is a prefix of a, b ahead', a: body(n), b: body(2 * B + 3), sizes: [B, 100], order: 'bbbbbbbbbbbbbbbbbB' },
  ]
  for (const r of rows) {
    const pair = new DigestPair(undefined, new TeeBudget(64 * B), [], true)
    const [da, db] = await feed(pair, r.a, r.b, r.sizes, r.order)
    t.ok(same(da, digestOf(r.a)) && same(db, digestOf(r.b)), `${r.name}: each digest as alone, SHA-256 included`)
    t.ok(pair.hashedBytes >= Math.max(r.a.length, r.b.length), `${r.name}: every byte hashed at least once`)
  }
})

t.test('a pair splits when the side ahead would hold more than its bound or its budget, and stays right', async t => {
  const n = 8 * B
  const rows: ReadonlyArray<{ name: string; hold: number; budget: number; sizes: [number, number]; order: string; split: boolean }> = [
    { name: 'within both bounds', hold: n, budget: n, sizes: [B, B], order: 'aaaaaaaa', split: false },
    { name: 'past the hold bound', hold: 2 * B, budget: n, sizes: [B, B], order: 'aaa', split: true },
    { name: 'past the shared budget', hold: n, budget: 3 * B - 1, sizes: [B, B], order: 'aaa', split: true },
    { name: 'a hold bound of 0 never holds', hold: 0, budget: n, sizes: [B, B], order: 'a', split: true },
  ]
  for (const r of rows) {
    const budget = new TeeBudget(r.budget)
    const pair = new DigestPair(r.hold, budget)
    const a = body(n)
    // Only side a steps through `order`: afterwards, is the pair still shared?
    for (let i = 0; i < r.order.length; i++) pair.side(0).update(a.subarray(i * r.sizes[0], (i + 1) * r.sizes[0]))
    t.equal(pair.paired, !r.split, `${r.name}: ${r.split ? 'split' : 'still paired'}`)
    t.ok(budget.used <= r.budget, `${r.name}: the budget is never exceeded`)
    const ra = pair.side(0)
    for (let at = r.order.length * r.sizes[0]; at < n; at += B) ra.update(a.subarray(at, at + B))
    const fa = ra.finish()
    const rb = pair.side(1)
    for (let at = 0; at < n; at += B) rb.update(a.subarray(at, at + B))
    const [da, db] = await Promise.all([fa, rb.finish()])
    t.ok(agrees(da, db, a, a), `${r.name}: both digests right`)
    t.equal(budget.used, 0, `${r.name}: the budget is given back`)
  }
})

t.test('a side that ended ahead waits for the other side, and no longer once the pair is detached', async t => {
  const a = body(2 * B)
  const rows: ReadonlyArray<{ name: string; b: Buffer; detach?: true }> = [
    { name: 'the other reaches its end', b: a },
    { name: 'the other differs', b: body(2 * B, 7) },
    { name: 'the other ends short', b: a.subarray(0, 10) },
    { name: 'the pair is detached', b: Buffer.alloc(0), detach: true },
  ]
  for (const r of rows) {
    const pair = new DigestPair()
    pair.side(0).update(a)
    let settled = false
    const fa = Promise.resolve(pair.side(0).finish()).then(d => {
      settled = true
      return d
    })
    await Promise.resolve()
    t.notOk(settled, `${r.name}: not before`)
    if (r.detach) pair.detach()
    else pair.side(1).update(r.b)
    const fb = Promise.resolve(pair.side(1).finish())
    const [da, db] = await Promise.all([fa, fb])
    t.ok(agrees(da, db, a, r.b), `${r.name}: both digests right`)
  }
})

t.test('seeded random interleavings of equal and differing bodies, paced or not, with empty chunks or not: every digest as alone, nothing held', async t => {
  const runs = [
    [20261205, [], 6 * B, false],
    [20261206, [1], 6 * B, false],
    [20261207, [], 2 * B, false],
    [20261208, [1], 2 * B, false],
    [20261209, [], 2 * B, true],
    [20261210, [1], 2 * B, true],
  ] as const
  for (const [seed, paced, holdMax, empties] of runs) {
    const rand = prng(seed)
    for (let round = 0; round < 60; round++) {
      const n = Math.floor(rand() * 5 * B)
      const a = body(n)
      const m = rand() < 0.3 ? Math.floor(rand() * 5 * B) : n
      const flips = rand() < 0.3 && m > 0 ? [Math.floor(rand() * m)] : []
      const b = body(m, ...flips)
      const sizes: [number, number] = [1 + Math.floor(rand() * 2 * B), 1 + Math.floor(rand() * 2 * B)]
      let order = ''
      for (let k = 0; k < 40; k++) order += rand() < 0.5 ? 'a' : 'b'
      const budget = new TeeBudget(1 + Math.floor(rand() * 8 * B))
      const pair = new DigestPair(Math.floor(rand() * holdMax), budget, paced)
      const [da, db] = await feed(pair, a, b, sizes, order, undefined, empties)
      const ok = agrees(da, db, a, b) && budget.used === 0 && !pair.paused(1) && pair.hashedBytes <= n + m
      if (!ok) t.fail(`paced [${paced.join()}], hold < ${holdMax}, empties ${empties}, round ${round}: n=${n} m=${m} flips=${flips.join()} sizes=${sizes.join()} order=${order}`)
    }
    t.pass(`paced [${paced.join()}], hold < ${holdMax}, empties ${empties}: 60 rounds`)
  }
})

t.test('a pair split by a lead pairs again once the sides are close, and the bytes they agree on past that are compared, not hashed', async t => {
  const n = 12 * B
  // Hold bound 2 blocks, one block per step. 'bbb' splits the pair (b would hold 3 blocks); 'aa'
  // brings a within one block (half the bound) of b, and b stops hashing where it is (3 blocks).
  const rows: ReadonlyArray<{ name: string; a: Buffer; b: Buffer; order: string; pairedAfter: boolean; hashed: number; sizes?: [number, number]; paced?: [1] }> = [
    { name: 'a catches up: paired again at 3 blocks', a: body(n), b: body(n), order: 'bbbaaa', pairedAfter: true, hashed: 6 * B },
    { name: 'a catches up in one step from level', a: body(n), b: body(n), order: 'bbbaaab', pairedAfter: true, hashed: 6 * B },
    { name: 'the bodies differ before the meeting point: split for good', a: body(n, B + 5), b: body(n), order: 'bbbaaa', pairedAfter: false, hashed: 2 * n },
    // Each side hashes its first 3 blocks, then blocks 3-8 are compared; split again at the
    // differing chunk (block 9), which both sides then hash, with the 2 after it.
    { name: 'the bodies differ after it: paired, then split at the difference', a: body(n, 9 * B + 1), b: body(n), order: 'bbbaaa', pairedAfter: true, hashed: 12 * B },
    {
      name: 'b, ahead, would hold too much while a catches up: given up, then paired again at 6 blocks',
      a: body(n),
      b: body(n),
      order: 'bbbaabbbaaaa',
      pairedAfter: true,
      hashed: 12 * B,
    },
    { name: 'b, ahead, ends while a catches up: no re-pairing, each side alone', a: body(4 * B), b: body(4 * B), order: 'bbbaaB', pairedAfter: false, hashed: 8 * B },
    // a (2-block chunks) splits the pair at 4 blocks; paced b jumps to 5.5, 1.5 blocks ahead: within
    // the bound, so a paced side ahead stops hashing there (half the bound is for a side that cannot
    // wait). a reaches 5.5 in its next chunk: paired; b's next chunk is compared with what a holds.
    {
      name: 'the paced side gets ahead after a split: paired again where it stopped, within the bound',
      a: body(n),
      b: body(n),
      order: 'aabab',
      pairedAfter: true,
      hashed: 11 * B,
      sizes: [2 * B, 5.5 * B],
      paced: [1],
    },
  ]
  for (const r of rows) {
    const budget = new TeeBudget(64 * B)
    const pair = new DigestPair(2 * B, budget, r.paced)
    const [da, db] = await feed(pair, r.a, r.b, r.sizes ?? [B, B], r.order, () => t.equal(pair.paired, r.pairedAfter, `${r.name}: ${r.pairedAfter ? 'paired again' : 'still split'} after ${r.order}`))
    t.ok(agrees(da, db, r.a, r.b), `${r.name}: the digests agree with each side's alone`)
    t.equal(pair.hashedBytes, r.hashed, `${r.name}: bytes hashed`)
    t.equal(budget.used, 0, `${r.name}: the budget is given back`)
  }
})

t.test('a paced side waits rather than split, and reads on once the other side has come one step closer', async t => {
  const n = 8 * B
  // Each step: a side (0 the client path, 1 the paced shadow) takes one block, or an action; then
  // whether side 1 is told to wait, and whether the pair still shares one hash state.
  type Step = 0 | 1 | 'end0' | 'detach' | 'differ0'
  const rows: ReadonlyArray<{ name: string; hold: number; budget: number; steps: ReadonlyArray<[Step, boolean, boolean]> }> = [
    {
      name: 'within the hold bound: never waits',
      hold: 4 * B,
      budget: n,
      steps: [[1, false, true], [1, false, true], [1, false, true], [1, false, true]],
    },
    {
      name: 'past the hold bound: waits, paired, until the other side comes one step (64 KiB) closer',
      hold: 2 * B,
      budget: n,
      steps: [[1, false, true], [1, false, true], [1, true, true], [0, false, true], [1, true, true], [0, false, true], [0, false, true], [1, false, true]],
    },
    {
      name: 'a hold bound under one step: waits after one chunk, reads on once the other side catches up',
      hold: B / 2,
      budget: n,
      steps: [[1, true, true], [0, false, true]],
    },
    {
      name: 'past the shared budget: waits, still paired',
      hold: n,
      budget: 2 * B - 1,
      steps: [[1, false, true], [1, true, true], [0, false, true]],
    },
    {
      name: 'the other side ends: no more waiting',
      hold: B,
      budget: n,
      steps: [[1, false, true], [1, true, true], ['end0', false, false], [1, false, false], [1, false, false]],
    },
    {
      name: 'detached: no more waiting',
      hold: B,
      budget: n,
      steps: [[1, false, true], [1, true, true], ['detach', false, false], [1, false, false], [1, false, false]],
    },
    {
      name: 'split by a difference: still paced, by the bytes each side received',
      hold: 2 * B,
      budget: n,
      steps: [[1, false, true], ['differ0', false, false], [1, false, false], [1, false, false], [1, true, false], [0, false, false], [1, true, false], [0, false, false]],
    },
    {
      name: 'the client path ahead past its bound splits the pair; the shadow is not held back, and they pair again once level',
      hold: B,
      budget: n,
      steps: [[0, false, true], [0, false, false], [0, false, false], [1, false, false], [1, false, false], [1, false, true], [0, false, true], [1, false, true]],
    },
  ]
  for (const r of rows) {
    const budget = new TeeBudget(r.budget)
    const pair = new DigestPair(r.hold, budget, [1])
    const a = body(n)
    const at = [0, 0]
    let ended = false
    for (const [k, [step, waits, paired]] of r.steps.entries()) {
      if (step === 0 || step === 1 || step === 'differ0') {
        const i = step === 'differ0' ? 0 : step
        const chunk = step === 'differ0' ? body(n, at[0]!).subarray(at[0]!, at[0]! + B) : a.subarray(at[i]!, at[i]! + B)
        pair.side(i).update(chunk)
        at[i]! += B
      } else if (step === 'end0') {
        ended = true
        void pair.side(0).finish()
      } else pair.detach()
      t.equal(pair.paused(1), waits, `${r.name}, step ${k}: side 1 ${waits ? 'waits' : 'reads on'}`)
      t.equal(pair.side(1).ready?.() !== undefined, waits, `${r.name}, step ${k}: ready() agrees`)
      t.equal(pair.paired, paired, `${r.name}, step ${k}: ${paired ? 'paired' : 'split'}`)
      t.notOk(pair.paused(0), `${r.name}, step ${k}: the client path never waits`)
    }
    t.ok(budget.used <= r.budget + B, `${r.name}: at most one chunk past the budget`)
    if (!ended) void pair.side(0).finish()
    void pair.side(1).finish()
    pair.detach()
    t.equal(budget.used, 0, `${r.name}: the budget is given back`)
  }
})

t.test('a waiting side\'s ready() resolves once the other side has come one step closer, or half of the way if less', async t => {
  // [name, hold bound, bytes side 1 is given, then the other side's steps and whether side 1 may then read on]
  const rows: ReadonlyArray<[string, number, number, ReadonlyArray<[number, boolean]>]> = [
    ['4 MiB ahead: one step of 64 KiB', 4 * 1024 * 1024, 4 * 1024 * 1024 + B, [[B - 1, false], [1, true]]],
    ['1,500 bytes ahead: half of the way', 1000, 1500, [[700, false], [50, true]]],
  ]
  for (const [name, hold, ahead, steps] of rows) {
    const pair = new DigestPair(hold, undefined, [1])
    const a = body(ahead)
    pair.side(1).update(a)
    const ready = pair.side(1).ready?.()
    t.ok(ready, `${name}: told to wait`)
    let open = false
    void ready!.then(() => (open = true))
    let at = 0
    for (const [n, then] of steps) {
      pair.side(0).update(a.subarray(at, at + n))
      at += n
      await Promise.resolve()
      t.equal(open, then, `${name}: after ${at} bytes of the other side, ${then ? 'reads on' : 'still waits'}`)
    }
    t.equal(pair.side(1).ready?.(), undefined, `${name}: and reading on is allowed`)
  }
})

t.test('fork and snapshot give what finish would, and leave the digester going', async t => {
  for (const n of [0, 10, B, B + 1, 3 * B + 5]) {
    const bytes = body(n + 100)
    const d = new BlockDigester()
    d.update(bytes.subarray(0, n))
    const snap = d.snapshot()
    const f = d.fork()
    d.update(bytes.subarray(n))
    t.ok(same(snap, digestOf(bytes.subarray(0, n))), `${n}: the snapshot is the prefix's digest`)
    t.ok(same(d.finish(), digestOf(bytes)), `${n}: the digester went on`)
    t.ok(same(snap, digestOf(bytes.subarray(0, n))), `${n}: the snapshot did not change with it`)
    t.ok(same(f.finish(), digestOf(bytes.subarray(0, n))), `${n}: the fork stayed where it was`)
  }
})
