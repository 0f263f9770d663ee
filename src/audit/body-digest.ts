import { createHash, type Hash } from 'node:crypto'

/**
 * BLOCK_BYTES is the block size in which a body is hashed: 64 KiB. A difference is first located
 * to one block; its exact offset then comes from the first block kept whole ({@link BodyDigest.head})
 * or from a ranged re-request of that one block from both sides (see zoom.ts), so the block size is
 * also the most a re-request fetches from each side.
 */
export const BLOCK_BYTES = 64 * 1024

/** DIGEST_BYTES is how much of each block's digest is kept: 16 bytes (128 bits) of a SHA-256. */
export const DIGEST_BYTES = 16

/**
 * SKIPPED_BLOCK is the entry of a block whose bytes were compared, not hashed ({@link BlockDigester.skip}):
 * DIGEST_BYTES zero bytes.
 */
const SKIPPED_BLOCK = Buffer.alloc(DIGEST_BYTES)

/** The SHA-256 of no bytes: the state of a digester that has hashed nothing yet. */
const EMPTY_SHA256 = createHash('sha256').digest()

/**
 * BodyDigest is one side's body, reduced to what a comparison needs, in O(block) memory whatever
 * the body's size: its length, its SHA-256, the first block kept whole, and one digest per block.
 *
 * The block digests are *prefix* digests: entry k is the SHA-256 of the body's first
 * min((k+1)·BLOCK_BYTES, length) bytes (its first DIGEST_BYTES bytes), taken from the one running
 * hash of the body, so hashing in blocks costs one SHA-256 pass plus a state copy per block. Two
 * bodies agree up to the end of block k exactly when their entries k agree; the first entry that
 * differs locates the first differing block. They take DIGEST_BYTES per block (1/4096 of the body).
 * Bytes that were compared with the other body rather than hashed ({@link BlockDigester.skip}) are
 * left out of the running hash, and a block made only of them has a fixed entry: such a digest is
 * comparable only with the one that shares that history (the other side of its pair), and has no
 * SHA-256.
 */
export interface BodyDigest {
  /** Bytes received. */
  readonly length: number
  /**
   * SHA-256 of the bytes received, hex; undefined when some were compared with the other side's
   * rather than hashed ({@link BlockDigester.skip}).
   */
  readonly sha256: string | undefined
  /** The first min(length, BLOCK_BYTES) bytes (fewer when the caller's head budget ran out). */
  readonly head: Buffer
  /** Packed prefix digests, DIGEST_BYTES each, one per block begun (the last one may be partial). */
  readonly blocks: Buffer
}

/**
 * BodyDigester is what hashes one body as it arrives: a {@link BlockDigester}, or one side of a
 * {@link DigestPair} (digest-pair.ts), whose digest may have to wait for the other side's bytes.
 */
export interface BodyDigester {
  /** update hashes the next bytes of the body; synchronous, never blocks. */
  update(chunk: Uint8Array): void
  /** finish ends the body (what was received so far) and gives its digest. Called once. */
  finish(): BodyDigest | Promise<BodyDigest>
  /**
   * ready says whether the reader may read the next chunk now: undefined if so, else a promise
   * that resolves when it may (a paced side of a {@link DigestPair} that holds as much as it may
   * ahead of the other side). It never rejects. If absent, the reader never waits.
   */
  ready?(): Promise<void> | undefined
}

/**
 * BlockDigester hashes one body as it arrives, chunk by chunk, whatever the chunking, into a
 * {@link BodyDigest}. `update` is synchronous and never holds a chunk: only the head is copied.
 */
export class BlockDigester implements BodyDigester {
  /**
   * The running hash, made at the first byte hashed: a digester that only skips (a pair whose two
   * bodies agree throughout) never costs one.
   */
  #hash: Hash | undefined
  readonly #headMax: number
  #head: Buffer
  #headLength = 0
  #length = 0
  #blocks: Buffer = Buffer.allocUnsafe(DIGEST_BYTES * 4)
  #count = 0
  /** Bytes taken by {@link skip}, not hashed. */
  #skipped = 0

  /** @param headMax how many leading bytes to keep whole; if unset, BLOCK_BYTES (at most BLOCK_BYTES). */
  constructor(headMax: number = BLOCK_BYTES) {
    this.#headMax = Math.max(0, Math.min(headMax, BLOCK_BYTES))
    this.#head = Buffer.allocUnsafe(0)
  }

  /** length is the number of bytes hashed so far. */
  get length(): number {
    return this.#length
  }

  /** update hashes the next bytes of the body. */
  update(chunk: Uint8Array): void {
    this.#keepHead(chunk)
    let at = 0
    while (at < chunk.length) {
      const toBoundary = BLOCK_BYTES - (this.#length % BLOCK_BYTES)
      const n = Math.min(toBoundary, chunk.length - at)
      const hash = (this.#hash ??= createHash('sha256'))
      hash.update(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n))
      this.#length += n
      at += n
      // A block just completed: its prefix digest. The last, partial block's comes from finish().
      if (n === toBoundary) this.#push(hash.copy().digest())
    }
  }

  /**
   * skip takes the next bytes of the body without hashing them: the caller has compared them with
   * the same bytes of the body this one is compared with, at the same offset, and they were equal
   * (a {@link DigestPair} while its two sides agree). They count in the length and the head, and
   * every block they complete gets {@link SKIPPED_BLOCK} as its entry. The digest then no longer
   * gives the body's SHA-256 ({@link BodyDigest.sha256} is undefined), and its entries are only
   * comparable with those of the digester it shares this history with (its fork): both skipped the
   * same bytes, so their entries agree exactly where the bytes hashed after agree.
   */
  skip(chunk: Uint8Array): void {
    this.#keepHead(chunk)
    const before = this.#length
    this.#length += chunk.length
    this.#skipped += chunk.length
    for (let k = Math.floor(before / BLOCK_BYTES); k < Math.floor(this.#length / BLOCK_BYTES); k++) this.#push(SKIPPED_BLOCK)
  }

  /** #keepHead copies what of the chunk still belongs in the head. */
  #keepHead(chunk: Uint8Array): void {
    if (this.#headLength >= this.#headMax || chunk.length === 0) return
    if (this.#head.length === 0) this.#head = Buffer.allocUnsafe(this.#headMax)
    const n = Math.min(chunk.length, this.#headMax - this.#headLength)
    this.#head.set(chunk.subarray(0, n), this.#headLength)
    this.#headLength += n
  }

  #push(digest: Buffer): void {
    if ((this.#count + 1) * DIGEST_BYTES > this.#blocks.length) {
      const grown = Buffer.allocUnsafe(this.#blocks.length * 2)
      this.#blocks.copy(grown, 0, 0, this.#count * DIGEST_BYTES)
      this.#blocks = grown
    }
    digest.copy(this.#blocks, this.#count * DIGEST_BYTES, 0, DIGEST_BYTES)
    this.#count++
  }

  /**
   * state is the running hash's digest of the bytes hashed so far (32 bytes), the digester going on:
   * two digesters that hashed the same number of bytes have the same state exactly when those bytes
   * are the same (SHA-256 collisions aside), whatever their chunking. A hash-state copy, no pass.
   */
  state(): Buffer {
    return this.#hash ? this.#hash.copy().digest() : Buffer.from(EMPTY_SHA256)
  }

  /**
   * fork is an independent copy of this digester as it stands: the same bytes hashed so far, and
   * from now on each hashes what it is given. Costs a hash-state copy and copies of the head and
   * the block digests (one block plus 1/4096 of the body), not a pass over the bytes.
   */
  fork(): BlockDigester {
    const f = new BlockDigester(this.#headMax)
    f.#hash = this.#hash?.copy()
    f.#head = Buffer.from(this.#head)
    f.#headLength = this.#headLength
    f.#length = this.#length
    f.#blocks = Buffer.from(this.#blocks)
    f.#count = this.#count
    f.#skipped = this.#skipped
    return f
  }

  /**
   * snapshot is the digest of the bytes hashed so far, as {@link finish} would return it, while this
   * digester goes on: what a body that ended here is, when another body that began with the same
   * bytes continues.
   */
  snapshot(): BodyDigest {
    const full = this.#hash ? this.#hash.copy().digest() : EMPTY_SHA256
    const whole = this.#count * DIGEST_BYTES
    const partial = this.#length % BLOCK_BYTES !== 0
    const blocks = Buffer.allocUnsafe(whole + (partial ? DIGEST_BYTES : 0))
    this.#blocks.copy(blocks, 0, 0, whole)
    if (partial) full.copy(blocks, whole, 0, DIGEST_BYTES)
    return {
      length: this.#length,
      sha256: this.#skipped === 0 ? full.toString('hex') : undefined,
      // Later bytes of a body shorter than the head are written past this view, never into it.
      head: this.#head.subarray(0, this.#headLength),
      blocks,
    }
  }

  /** finish ends the body (what was received so far, for a body that broke) and returns its digest. */
  finish(): BodyDigest {
    const full = this.#hash ? this.#hash.digest() : EMPTY_SHA256
    if (this.#length % BLOCK_BYTES !== 0) this.#push(full)
    return {
      length: this.#length,
      sha256: this.#skipped === 0 ? full.toString('hex') : undefined,
      head: this.#head.subarray(0, this.#headLength),
      blocks: this.#blocks.subarray(0, this.#count * DIGEST_BYTES),
    }
  }
}

/** digestOf hashes a body given whole (tests, small bodies). */
export function digestOf(body: Uint8Array, headMax?: number): BodyDigest {
  const d = new BlockDigester(headMax)
  d.update(body)
  return d.finish()
}

/** blockCount is the number of blocks of a digest. */
const blockCount = (d: BodyDigest): number => d.blocks.length / DIGEST_BYTES

/** blockAt is entry k of a digest's prefix digests. */
const blockAt = (d: BodyDigest, k: number): Buffer => d.blocks.subarray(k * DIGEST_BYTES, (k + 1) * DIGEST_BYTES)

/** prefixEnd is the length of the prefix entry k of a digest covers. */
const prefixEnd = (d: BodyDigest, k: number): number => Math.min((k + 1) * BLOCK_BYTES, d.length)

/**
 * DigestDiff is where two bodies differ, as far as their digests tell:
 * - `equal`: the same bytes, `compared` of them (both lengths; or, with a limit, the bytes up to it
 *   that whole blocks or the heads could compare);
 * - `prefix`: the shorter body is a prefix of the longer (a length difference only);
 * - `bytes`: they differ at `offset` exactly (found in the heads);
 * - `block`: the first difference lies in [from, to): a byte difference, or the end of the shorter
 *   body if it is a prefix of the other; only the bytes of that block can tell which.
 */
export type DigestDiff =
  | { readonly kind: 'equal'; readonly compared: number }
  | { readonly kind: 'prefix' }
  | { readonly kind: 'bytes'; readonly offset: number }
  | { readonly kind: 'block'; readonly from: number; readonly to: number }

/**
 * diffDigests locates the first difference between two bodies from their digests. With `limit`,
 * only the first `limit` bytes are compared (a body its client cut short is compared as far as the
 * client got; the other side must then hold at least as many bytes, or that is a length difference).
 * Pure; O(blocks).
 */
export function diffDigests(a: BodyDigest, b: BodyDigest, limit?: number): DigestDiff {
  const upTo = limit ?? Math.max(a.length, b.length)
  const shortest = Math.min(a.length, b.length, upTo)
  if (limit === undefined && a.length === b.length && a.blocks.equals(b.blocks)) return { kind: 'equal', compared: a.length }
  // Entries are comparable where both cover the same prefix: whole blocks, and the last entries of
  // bodies of equal length. The first comparable entry that differs locates the first difference.
  const n = Math.min(blockCount(a), blockCount(b))
  let k = 0
  let differs = false
  for (; k < n; k++) {
    const end = prefixEnd(a, k)
    if (end !== prefixEnd(b, k) || end > upTo) break
    if (!blockAt(a, k).equals(blockAt(b, k))) {
      differs = true
      break
    }
  }
  // Equal up to `at`: what remains is a length difference, or nothing.
  const agreed = (at: number): DigestDiff =>
    at >= upTo || (limit !== undefined && shortest === upTo) ? { kind: 'equal', compared: Math.min(at, upTo) } : { kind: 'prefix' }
  const from = k * BLOCK_BYTES
  if (from >= shortest) return agreed(from)
  // Block k holds the first difference, or the shorter body's end: what the heads hold of it is
  // compared byte for byte.
  const to = Math.min((k + 1) * BLOCK_BYTES, upTo)
  const headEnd = Math.min(a.head.length, b.head.length, to, shortest)
  for (let i = from; i < headEnd; i++) if (a.head[i] !== b.head[i]) return { kind: 'bytes', offset: i }
  const known = Math.max(from, headEnd)
  if (known >= shortest) return agreed(shortest)
  // A cut body's last, partial block is not comparable: the bytes up to it were.
  if (!differs && limit !== undefined && shortest === upTo) return { kind: 'equal', compared: known }
  return { kind: 'block', from, to }
}
