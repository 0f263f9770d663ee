/** mulberry32 is a tiny deterministic PRNG: the same seed always gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** seededBytes returns `n` pseudo-random bytes from `seed` (reproducible test data). */
export function seededBytes(seed: number, n: number): Buffer {
  const rnd = mulberry32(seed)
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256)
  return b
}

/**
 * patterned is `n` deterministic bytes that differ from block to block (so no two blocks of a body
 * hash alike); `flips` are offsets whose byte is inverted.
 */
export function patterned(n: number, ...flips: number[]): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff
  for (const f of flips) b[f] = b[f]! ^ 0xff
  return b
}
