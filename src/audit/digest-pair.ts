import { BlockDigester, type BodyDigest, type BodyDigester } from './body-digest.js'
import type { TeeBudget } from './body-tee.js'

/**
 * PAIR_HOLD_BYTES bounds the bytes one side of a {@link DigestPair} holds while it waits for the
 * other side to reach them, and how far a paced side may get ahead: 4 MiB. Past it the pair splits
 * and each side hashes on its own, or a paced side waits.
 */
export const PAIR_HOLD_BYTES = 4 * 1024 * 1024

/**
 * RESUME_STEP_BYTES is how much closer the other side must come before a paced side that waits
 * reads on: 64 KiB. A small step keeps the paced body read as its client reads, in small steps,
 * rather than in bursts with long silences between: a server that closes a connection left unread
 * for a while (nginx's send_timeout, serve's --idle-timeout) sees a reader as steady as the client.
 */
export const RESUME_STEP_BYTES = 64 * 1024

/**
 * DEFAULT_PAIR_BUDGET bounds the bytes all pairs of one mirror or replay hold together: 16 MiB
 * (and one chunk per paced side that waits). Past it a pair splits (its sides hash on their own, as
 * they would unpaired), or a paced side waits: memory stays bounded whatever the number of
 * comparisons in flight, at the price of hashing twice.
 */
export const DEFAULT_PAIR_BUDGET = 16 * 1024 * 1024

/** One side of a pair: the bytes it received that the other side has not reached yet. */
class Side {
  /** Bytes received past the agreed prefix, in order, not copied; `first` is the oldest still held. */
  pending: Uint8Array[] = []
  first = 0
  /** How much of pending[first] was already matched. */
  offset = 0
  bytes = 0
  ended = false
  /** This side's own digester once the pair no longer shares one. */
  own: BlockDigester | undefined
  result: Promise<BodyDigest> | undefined
  resolve: ((d: BodyDigest) => void) | undefined
  /** Every byte this side received (held, shared or its own). */
  total = 0
  /** This side's reader waits on {@link gate} rather than get far ahead of the other side. */
  paced = false
  /** Set while a paced side must not read on: resolved (and cleared) by {@link wake}. */
  gate: Promise<void> | undefined
  open: (() => void) | undefined
  /** A paused side reads on once it is no more than this many bytes ahead of the other side. */
  resumeLead = 0

  /**
   * pause makes the reader wait, `lead` bytes ahead, until the other side has come RESUME_STEP_BYTES
   * closer (half of the way, if that is less).
   */
  pause(lead: number): void {
    if (this.gate !== undefined) return
    this.resumeLead = lead - Math.min(Math.ceil(lead / 2), RESUME_STEP_BYTES)
    this.gate = new Promise(resolve => (this.open = resolve))
  }

  /** wake lets a paused reader read on. */
  wake(): void {
    const open = this.open
    this.gate = undefined
    this.open = undefined
    open?.()
  }

  hold(chunk: Uint8Array): void {
    this.pending.push(chunk)
    this.bytes += chunk.length
  }

  /** drop forgets the n oldest held bytes (matched by the other side). */
  drop(n: number): void {
    this.bytes -= n
    while (n > 0) {
      const head = this.pending[this.first]!
      const left = head.length - this.offset
      if (n < left) {
        this.offset += n
        return
      }
      n -= left
      this.pending[this.first++] = EMPTY
      this.offset = 0
    }
    if (this.first === this.pending.length) {
      this.pending = []
      this.first = 0
    }
  }

  /** flush hashes every held byte into this side's own digester and forgets them; returns how many. */
  flush(): number {
    const n = this.bytes
    for (let i = this.first; i < this.pending.length; i++) {
      const c = this.pending[i]!
      this.own!.update(i === this.first && this.offset > 0 ? c.subarray(this.offset) : c)
    }
    this.pending = []
    this.first = 0
    this.offset = 0
    this.bytes = 0
    return n
  }

  settle(d: BodyDigest): void {
    const resolve = this.resolve
    this.resolve = undefined
    resolve?.(d)
  }
}

const EMPTY = new Uint8Array(0)

/**
 * DigestPair digests two bodies that are expected to hold the same bytes (the two sides of one
 * comparison) at the cost of comparing them: the bytes both sides agree on are compared directly
 * (`Buffer.compare`, some 40 GB/s) and not hashed at all ({@link BlockDigester.skip} on the one
 * digester both share), where hashing costs a pass at about 1.7 GB/s per side; only what one side
 * receives while the sides are apart is hashed.
 *
 * The two digests locate the first difference exactly as digests of each side alone would
 * ({@link diffDigests}): where the sides agreed they hold the same entries, and past the point where
 * they parted each hashes its own bytes from the same state. A side's digest has no SHA-256 of its
 * body once some of its bytes were only compared ({@link BodyDigest.sha256}). The side that is ahead holds the
 * bytes the other has not reached yet, by reference and up to `holdBytes` (and within `budget`, a
 * bound shared with other pairs). The pair *splits* at the first byte on which the sides differ,
 * when the side ahead would hold more than that, or on {@link detach}: each side then continues
 * with its own copy of the shared hash state (a copy, not a pass over the bytes), and every byte
 * from there on is hashed twice, once per side.
 *
 * A pair split only because one side got too far ahead (a server that stalled, a shadow that started
 * late) *re-pairs* once the sides are close again (within half the hold bound, or the whole bound
 * when the side ahead is paced): the side ahead stops hashing and holds what it receives (within the
 * same bounds), and when the other side has hashed up to the same offset, the two hash states are
 * compared: equal states mean equal bytes so far, and the pair shares one hash again, the held
 * bytes compared as before (and hashed once for both only with `hashAgreed`). Unequal states mean
 * the bodies differ: the pair stays split for good, as after a difference or a detach. A re-pairing
 * that the side ahead cannot wait for (it would hold more than its bounds, or either side ends) is
 * given up, its held bytes hashed by that side alone, and may start again later.
 *
 * A side's `finish` resolves at once when that side is not ahead; a side that ended ahead resolves
 * when the other side has reached its end, differs, ends, or the pair is detached. Whoever creates
 * a pair must therefore end both sides, or call {@link detach} once one side will never be read
 * (its request failed, or was never sent). Not thread-safe; everything runs on the event loop.
 *
 * A *paced* side (one whose reader can wait: the mirror's shadow, read from the other server)
 * never gets more than `holdBytes` ahead of the other side, paired or split: past that (or, paired,
 * past the budget) it takes the chunk (held, if paired) and its digester's `ready` makes its reader
 * wait until the other side has come {@link RESUME_STEP_BYTES} closer (half of the way, if that is
 * less), ends, or the pair is detached. The shadow is
 * then read at the pace the client reads the primary's body, not at the other server's speed: its
 * work (and the other server's) is spread over the download instead of taking the thread from
 * clients in a burst, and paired, no byte they agree on is hashed. A paced side holds at
 * most the bound it crossed plus one chunk. The other side, which cannot wait (the client path),
 * splits the pair when it would hold more.
 */
export class DigestPair {
  readonly #sides: readonly [Side, Side] = [new Side(), new Side()]
  readonly #digesters: readonly [BodyDigester, BodyDigester]
  /** The digester of the agreed prefix while both sides share it; undefined once split. */
  #shared: BlockDigester | undefined = new BlockDigester()
  readonly #holdBytes: number
  readonly #budget: TeeBudget | undefined
  /** Detached: no side waits for the other any more. */
  #detached = false
  /**
   * Why the pair split, once it has: 'lead' (a side would have held too much) may re-pair;
   * 'differ' (the bytes differ) and 'detach' never do.
   */
  #splitBy: 'lead' | 'differ' | 'detach' | undefined
  /** A re-pairing under way: side `ahead` holds what comes past offset `at` until the other side reaches it. */
  #rejoin: { readonly ahead: 0 | 1; readonly at: number } | undefined
  /** Bytes hashed, by both sides at once or by one side alone (see {@link hashedBytes}). */
  #hashed = 0
  /** The bytes both sides agree on are hashed too, once for both (see the constructor). */
  readonly #hashAgreed: boolean

  /**
   * @param holdBytes the most bytes the side ahead holds; if unset, {@link PAIR_HOLD_BYTES}.
   * @param budget a byte budget shared with other pairs (and tees): a hold that would exceed it
   *   splits the pair (or, for a paced side, pauses its reader).
   * @param paced the sides whose readers wait on `ready` rather than split the pair; if unset, none.
   * @param hashAgreed hash the bytes both sides agree on too, once for both, so that each side's
   *   digest is exactly what a {@link BlockDigester} of that side alone would give: needed when a
   *   side's digest is also compared with a third body's (a baseline), whose digest shares no
   *   skipped history with it. If unset, they are only compared.
   */
  constructor(holdBytes: number = PAIR_HOLD_BYTES, budget?: TeeBudget, paced: readonly (0 | 1)[] = [], hashAgreed = false) {
    if (!Number.isSafeInteger(holdBytes) || holdBytes < 0) throw new TypeError('holdBytes must be a non-negative integer')
    this.#holdBytes = holdBytes
    this.#hashAgreed = hashAgreed
    this.#budget = budget
    for (const i of paced) this.#sides[i].paced = true
    this.#digesters = [this.#digester(0), this.#digester(1)]
  }

  /** paused is true while side i's reader is told to wait (its digester's `ready` is pending). */
  paused(i: 0 | 1): boolean {
    return this.#sides[i].gate !== undefined
  }

  /** side is the digester of side i (0 or 1), to hash that side's body. */
  side(i: 0 | 1): BodyDigester {
    return this.#digesters[i]
  }

  /** paired is true while both sides still share one hash state. */
  get paired(): boolean {
    return this.#shared !== undefined
  }

  /** held is how many bytes the pair holds right now. */
  get held(): number {
    return this.#sides[0].bytes + this.#sides[1].bytes
  }

  /**
   * hashedBytes is how many bytes the pair has hashed so far: a byte both sides agree on while
   * paired is compared, not hashed, and a byte hashed by one side alone counts once for that side.
   * Two equal bodies that stay paired: none; split from the start: twice their length.
   */
  get hashedBytes(): number {
    return this.#hashed
  }

  /**
   * detach ends the sharing: each side hashes its held bytes and everything after on its own, and a
   * side that ended ahead resolves now. Idempotent.
   */
  detach(): void {
    this.#detached = true
    this.#abandonRejoin()
    // Never re-paired after this: #startRejoin checks #detached.
    this.#split('detach')
    for (const s of this.#sides) s.wake()
  }

  #digester(i: 0 | 1): BodyDigester {
    const me = this.#sides[i]
    return { update: chunk => this.#update(i, chunk), finish: () => this.#finish(i), ready: () => me.gate }
  }

  #update(i: 0 | 1, chunk: Uint8Array): void {
    const me = this.#sides[i]
    if (me.ended) throw new Error('DigestPair: update after finish')
    // An empty chunk (undici's HTTP/1.1 parser hands some over to a dispatch handler) changes
    // nothing; held, it would sit at the head of a side's pending chunks, and the comparison loop
    // of #hashPaired, which advances by the held chunk's length, would never end.
    if (chunk.length === 0) return
    me.total += chunk.length
    const other = this.#sides[i === 0 ? 1 : 0]
    const over = this.#hash(i, me, other, chunk)
    if (other.gate !== undefined && other.total - me.total <= other.resumeLead) other.wake()
    if (!me.paced || this.#detached || other.ended) return
    const lead = me.total - other.total
    if (over || lead > this.#holdBytes) me.pause(lead)
  }

  /**
   * #hash takes side i's next chunk: compared with what the other side holds, not hashed where
   * they agree, held where this side is ahead. Returns true when a paced side held past its bounds.
   */
  #hash(i: 0 | 1, me: Side, other: Side, chunk: Uint8Array): boolean {
    if (this.#shared === undefined) {
      const rejoin = this.#rejoin
      if (rejoin === undefined) {
        this.#own(me, chunk)
        this.#startRejoin()
        return false
      }
      if (rejoin.ahead === i) return this.#holdAhead(me, chunk)
      // The side behind hashes on its own up to the offset the side ahead stopped at, then the two
      // states are compared; past that offset, paired again, its bytes go the paired way.
      const before = rejoin.at - (me.total - chunk.length)
      if (before > chunk.length) {
        this.#own(me, chunk)
        return false
      }
      this.#own(me, chunk.subarray(0, before))
      if (!this.#tryRejoin()) {
        this.#own(me, chunk.subarray(before))
        return false
      }
      chunk = chunk.subarray(before)
    }
    return this.#hashPaired(i, me, other, chunk, this.#shared!)
  }

  /** #hashPaired is {@link #hash} while both sides share `shared`. */
  #hashPaired(i: 0 | 1, me: Side, other: Side, chunk: Uint8Array, shared: BlockDigester): boolean {
    let at = 0
    // The other side is ahead: what it holds is compared with this chunk; what agrees is not hashed.
    while (other.bytes > 0 && at < chunk.length) {
      const held = other.pending[other.first]!
      const n = Math.min(held.length - other.offset, chunk.length - at)
      const mine = chunk.subarray(at, at + n)
      if (Buffer.compare(mine, held.subarray(other.offset, other.offset + n)) !== 0) {
        this.#split('differ', i, chunk.subarray(at))
        return false
      }
      if (this.#hashAgreed) {
        shared.update(mine)
        this.#hashed += n
      } else shared.skip(mine)
      at += n
      other.drop(n)
      this.#release(n)
    }
    if (other.ended && other.bytes === 0) {
      // The other body ended exactly where the agreed prefix now ends: its digest is the shared one.
      other.settle(shared.snapshot())
      this.#giveShared(i)
      if (at < chunk.length) {
        shared.update(chunk.subarray(at))
        this.#hashed += chunk.length - at
      }
      return false
    }
    if (at === chunk.length) return false
    const rest = chunk.subarray(at)
    const over = this.#over(me, rest)
    if (over && !me.paced) {
      this.#split('lead', i, rest)
      return false
    }
    // A paced side holds one chunk past its bounds at most: its reader then waits.
    me.hold(rest)
    if (this.#budget) this.#budget.used += rest.length
    return over
  }

  /** #over tells whether side `me` holding `rest` too would pass the hold bound or the budget. */
  #over(me: Side, rest: Uint8Array): boolean {
    const budget = this.#budget
    return me.bytes + rest.length > this.#holdBytes || (budget !== undefined && budget.used + rest.length > budget.max)
  }

  /** #own hashes a chunk of side `me` into its own digester (the pair is split). */
  #own(me: Side, chunk: Uint8Array): void {
    me.own!.update(chunk)
    this.#hashed += chunk.length
  }

  /**
   * #startRejoin begins a re-pairing when the pair split only over a lead, nothing has ended, and
   * the sides are close: the side ahead stops hashing where it is. Close is within half the hold
   * bound when the side ahead cannot wait (it needs room to hold while the other catches up), and
   * within the bound when it is paced (it holds and waits there anyway: a paced shadow that got
   * ahead after a split stays about one bound ahead). Sides at the same offset are compared at once.
   */
  #startRejoin(): void {
    const [a, b] = this.#sides
    if (this.#splitBy !== 'lead' || this.#detached || a.ended || b.ended) return
    const ahead: 0 | 1 = a.total >= b.total ? 0 : 1
    const at = this.#sides[ahead].total
    const close = this.#sides[ahead].paced ? this.#holdBytes : this.#holdBytes / 2
    if (at - this.#sides[ahead === 0 ? 1 : 0].total > close) return
    this.#rejoin = { ahead, at }
    if (a.total === b.total) this.#tryRejoin()
  }

  /**
   * #holdAhead takes a chunk of the side ahead during a re-pairing: held, within the bounds; past
   * them a paced side holds it and waits (returns true), any other gives the re-pairing up.
   */
  #holdAhead(me: Side, chunk: Uint8Array): boolean {
    const over = this.#over(me, chunk)
    if (over && !me.paced) {
      this.#abandonRejoin()
      this.#own(me, chunk)
      return false
    }
    me.hold(chunk)
    if (this.#budget) this.#budget.used += chunk.length
    return over
  }

  /**
   * #tryRejoin ends a re-pairing, both sides having hashed up to its offset: equal hash states share
   * one digester again (true); unequal ones mean the bodies differ, and the pair stays split for
   * good, the side ahead hashing what it held.
   */
  #tryRejoin(): boolean {
    const rejoin = this.#rejoin!
    this.#rejoin = undefined
    const ahead = this.#sides[rejoin.ahead]
    const behind = this.#sides[rejoin.ahead === 0 ? 1 : 0]
    if (ahead.own!.state().equals(behind.own!.state())) {
      this.#shared = ahead.own
      ahead.own = undefined
      behind.own = undefined
      this.#splitBy = undefined
      return true
    }
    this.#splitBy = 'differ'
    this.#flush(ahead)
    return false
  }

  /** #abandonRejoin gives a re-pairing under way up: the side ahead hashes what it held. */
  #abandonRejoin(): void {
    const rejoin = this.#rejoin
    if (rejoin === undefined) return
    this.#rejoin = undefined
    this.#flush(this.#sides[rejoin.ahead])
  }

  /** #flush hashes what side `s` holds into its own digester and gives the bytes back to the budget. */
  #flush(s: Side): void {
    const n = s.flush()
    this.#hashed += n
    this.#release(n)
  }

  #finish(i: 0 | 1): Promise<BodyDigest> {
    const me = this.#sides[i]
    if (me.ended) throw new Error('DigestPair: finish called twice')
    me.ended = true
    // A paced other side no longer waits for this one: it has ended.
    this.#sides[i === 0 ? 1 : 0].wake()
    me.result = new Promise<BodyDigest>(resolve => (me.resolve = resolve))
    // A side that ends gives a re-pairing up: the other will never wait for it again.
    this.#abandonRejoin()
    const shared = this.#shared
    if (shared === undefined) {
      me.settle(me.own!.finish())
    } else if (me.bytes === 0) {
      // Every byte of this side is in the agreed prefix.
      me.settle(shared.snapshot())
      this.#giveShared(i === 0 ? 1 : 0)
    }
    // Otherwise this side is ahead: it waits for the other to reach, contradict or end its bytes.
    return me.result
  }

  /** #giveShared makes the shared digester side i's own (the other side is done), with what it holds. */
  #giveShared(i: 0 | 1): void {
    const me = this.#sides[i]
    me.own = this.#shared
    this.#shared = undefined
    this.#flush(me)
    if (me.ended) me.settle(me.own!.finish())
  }

  /**
   * #split gives each side its own digester, `by` saying why; side `i` then hashes `rest` too.
   */
  #split(by: 'lead' | 'differ' | 'detach', i?: 0 | 1, rest?: Uint8Array): void {
    const shared = this.#shared
    if (shared === undefined) return
    this.#shared = undefined
    this.#splitBy = by
    const [a, b] = this.#sides
    a.own = shared
    b.own = shared.fork()
    this.#flush(a)
    this.#flush(b)
    if (i !== undefined && rest !== undefined && rest.length > 0) this.#own(this.#sides[i], rest)
    for (const s of this.#sides) if (s.ended && s.resolve) s.settle(s.own!.finish())
  }

  #release(n: number): void {
    if (this.#budget && n > 0) this.#budget.used -= n
  }
}
