import { abortError } from '../core/errors.js'
import { systemClock, type Clock, type Timer } from '../core/clock.js'

/**
 * DEFAULT_MAX_BUFFER_MEMORY is the default budget of read buffers in flight: 64 MiB, 128 pieces of
 * the default 512 KiB. That is two pieces (a write and a read-ahead) for 64 downloads at once, the
 * concurrency at which `cutover serve` reached nginx's throughput before there was a budget, so
 * up to 64 concurrent large downloads run exactly as before; beyond that downloads share the
 * budget (one piece each while it is spent) instead of adding 1 MiB of RSS each. 64 MiB is also
 * what a 10 Gbit/s link carries in about 50 ms: more buffered bytes would not make a download
 * faster, only the server bigger.
 */
export const DEFAULT_MAX_BUFFER_MEMORY = 64 * 1024 * 1024

/**
 * DEFAULT_IDLE_DROP_MS is how long the budget's memory stays allocated once no buffer is in use:
 * 3 s, long enough that back-to-back downloads reuse it, short enough that a server that has
 * gone quiet gives the memory back within seconds.
 */
export const DEFAULT_IDLE_DROP_MS = 3000

/**
 * MMAP_ALWAYS_BYTES is the size from which glibc's malloc always uses mmap (its dynamic mmap
 * threshold never rises above 32 MiB on 64-bit): such a block is unmapped, and its pages returned
 * to the system, the moment it is freed. Smaller blocks may land in the malloc heap, where freed
 * memory mostly stays resident.
 */
const MMAP_ALWAYS_BYTES = 32 * 1024 * 1024

/** Lease is one piece-size buffer taken from a {@link BufferBudget}. */
export interface Lease {
  /** The buffer: exactly `pieceSize` bytes, valid until release(). */
  readonly buf: Buffer
  /** Gives the buffer back. Idempotent: only the first call counts. */
  release(): void
}

/**
 * Reclaimer is a download's offer to give back a buffer it can do without (a read-ahead piece
 * loaded but not yet written, while its socket is blocked): it releases that lease and returns
 * true, or returns false if it no longer can.
 */
export type Reclaimer = () => boolean

/** BufferBudgetOptions configures {@link BufferBudget}. */
export interface BufferBudgetOptions {
  /** Total bytes of buffers in flight; must hold at least one piece. */
  readonly bytes: number
  /** Size of each buffer handed out (the read and write unit of a streamed body). */
  readonly pieceSize: number
  /**
   * The memory is freed after this long with no buffer in use (0: as soon as the last one comes
   * back). If unset, defaults to {@link DEFAULT_IDLE_DROP_MS}.
   */
  readonly idleDropMs?: number
  /** Where the idle-drop timer comes from (it never keeps the process alive). If unset, the system clock. */
  readonly clock?: Clock
  /**
   * Called after the memory has been dropped, to ask for a garbage collection: V8 does not collect
   * on its own while the process is idle, and until it does the dropped memory stays resident.
   * If unset, nothing is called and the memory goes whenever V8 next collects.
   */
  readonly gc?: () => void
}

/** BufferBudgetStats are the budget's counters (bytes are multiples of the piece size). */
export interface BufferBudgetStats {
  /** Bytes of buffers leased now. */
  inUse: number
  /** Most bytes ever leased at once; never above the budget. */
  peakInUse: number
  /** Acquirers waiting now. */
  waiting: number
  /** Most acquirers ever waiting at once. */
  peakWaiting: number
  /** Leases granted. */
  granted: number
  /** Leases granted after a wait (the budget was spent when they were asked for). */
  waited: number
  /** tryAcquire calls that got nothing (a read-ahead given up). */
  refused: number
  /** Waits given up because their AbortSignal fired. */
  aborted: number
  /** Read-ahead buffers given back by blocked downloads to someone waiting. */
  reclaimed: number
  /** Times the memory was allocated, and dropped after being idle. */
  allocations: number
  drops: number
}

interface Waiter {
  readonly resolve: (l: Lease) => void
  readonly reject: (err: unknown) => void
  readonly signal: AbortSignal | undefined
  readonly onAbort: () => void
}

/**
 * BufferBudget is the one limit on the read buffers of all downloads in flight of a server. A
 * download takes a piece-size buffer before reading a piece and gives it back once the socket
 * write that carried the piece has completed.
 *
 * - {@link acquire} waits when the budget is spent; waiters are served strictly in arrival order
 *   (first come, first served), so none starves and none is refused. An AbortSignal removes a
 *   waiter from the queue.
 * - {@link tryAcquire} (read-ahead) takes a buffer only if one is free now and nobody is waiting:
 *   it never jumps the queue and never waits.
 * - A download blocked on its socket may offer its read-ahead buffer back ({@link addReclaimer}):
 *   when someone has to wait, the oldest offer is taken and the buffer goes to the first waiter.
 *   So once the budget is spent, a client that stops reading holds one buffer (the piece in its
 *   socket) until the server's idle timeout closes its connection.
 *
 * Memory: the buffers are slots of one block allocated on first use, at least
 * {@link MMAP_ALWAYS_BYTES} so that glibc maps it with mmap and unmaps it when freed; only the
 * slots ever used are touched, so RSS grows with the slots used at once, not with the budget.
 * Freed slots are reused most recently freed first, which keeps the touched set small. After
 * `idleDropMs` with every slot free, the block is dropped and `gc` is called, so that an idle
 * server gives the memory back.
 */
export class BufferBudget {
  readonly bytes: number
  readonly pieceSize: number
  readonly slots: number
  readonly stats: BufferBudgetStats = {
    inUse: 0,
    peakInUse: 0,
    waiting: 0,
    peakWaiting: 0,
    granted: 0,
    waited: 0,
    refused: 0,
    aborted: 0,
    reclaimed: 0,
    allocations: 0,
    drops: 0,
  }
  readonly #idleDropMs: number
  readonly #clock: Clock
  readonly #gc: (() => void) | undefined
  /** Free slot indexes; the last is handed out next. */
  #free: number[] = []
  #slab: Buffer | undefined
  readonly #queue: Waiter[] = []
  /** Index of the first waiter still in #queue (a head index keeps shift() off the hot path). */
  #head = 0
  #timer: Timer | undefined
  /** Offers of blocked downloads, oldest first. */
  readonly #reclaimers = new Set<Reclaimer>()

  constructor(o: BufferBudgetOptions) {
    if (!Number.isSafeInteger(o.pieceSize) || o.pieceSize <= 0) throw new TypeError('pieceSize must be a positive integer')
    if (!Number.isSafeInteger(o.bytes) || o.bytes < o.pieceSize) {
      throw new TypeError(`bytes must be an integer of at least one piece (${o.pieceSize})`)
    }
    const idle = o.idleDropMs ?? DEFAULT_IDLE_DROP_MS
    if (!Number.isFinite(idle) || idle < 0) throw new TypeError('idleDropMs must be a non-negative number')
    this.pieceSize = o.pieceSize
    this.slots = Math.floor(o.bytes / o.pieceSize)
    this.bytes = this.slots * o.pieceSize
    this.#idleDropMs = idle
    this.#clock = o.clock ?? systemClock
    this.#gc = o.gc
  }

  /** allocated tells whether the budget's memory block exists now. */
  get allocated(): boolean {
    return this.#slab !== undefined
  }

  /**
   * acquire resolves with a lease, at once if a buffer is free and nobody is waiting, otherwise
   * once every earlier waiter has been served and a buffer has come back. It rejects with
   * ERR_ABORTED (and leaves the queue) if `signal` fires first; it never rejects otherwise.
   */
  acquire(signal?: AbortSignal): Promise<Lease> {
    if (signal?.aborted) return Promise.reject(abortError(signal))
    if (this.#canGrant()) return Promise.resolve(this.#grant())
    return new Promise<Lease>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.#queue.indexOf(w, this.#head)
          if (i < 0) return
          this.#queue.splice(i, 1)
          this.stats.waiting--
          this.stats.aborted++
          reject(abortError(signal))
        },
      }
      this.#queue.push(w)
      this.stats.waiting++
      if (this.stats.waiting > this.stats.peakWaiting) this.stats.peakWaiting = this.stats.waiting
      signal?.addEventListener('abort', w.onAbort, { once: true })
      // A blocked download's read-ahead is worth less than a waiting download's first piece.
      this.#reclaimOne()
    })
  }

  /**
   * addReclaimer registers a blocked download's offer to give back its read-ahead buffer. It is
   * called (once, then forgotten) when someone has to wait, at once if someone already does;
   * offers are taken oldest first. removeReclaimer withdraws an offer not taken.
   */
  addReclaimer(r: Reclaimer): void {
    this.#reclaimers.add(r)
    if (this.#head < this.#queue.length) this.#reclaimOne()
  }

  /** removeReclaimer withdraws an offer made with {@link addReclaimer}. */
  removeReclaimer(r: Reclaimer): void {
    this.#reclaimers.delete(r)
  }

  /** #reclaimOne takes the oldest offer that can still give a buffer back (to the first waiter). */
  #reclaimOne(): void {
    for (const r of this.#reclaimers) {
      this.#reclaimers.delete(r)
      if (r()) {
        this.stats.reclaimed++
        return
      }
    }
  }

  /**
   * tryAcquire returns a lease if a buffer is free now and nobody is waiting for one, else
   * undefined (counted in stats.refused). For read-ahead: it never waits and never overtakes a
   * waiter.
   */
  tryAcquire(): Lease | undefined {
    if (this.#canGrant()) return this.#grant()
    this.stats.refused++
    return undefined
  }

  /**
   * #canGrant tells whether a buffer is free (or none allocated yet) and nobody waits. A returned
   * buffer goes straight to the first waiter (#release), so a free buffer with waiters does not
   * last beyond that call; the queue check keeps the rule explicit.
   */
  #canGrant(): boolean {
    return (this.#slab === undefined || this.#free.length > 0) && this.#head === this.#queue.length
  }

  /** #grant hands out the next free slot; the caller has checked that one is free (or no block). */
  #grant(): Lease {
    if (this.#timer !== undefined) {
      this.#timer.clear()
      this.#timer = undefined
    }
    if (this.#slab === undefined) {
      // allocUnsafeSlow: one block of its own (not from Node's shared pool), not zero-filled, so
      // pages are touched only when a slot is first read into.
      this.#slab = Buffer.allocUnsafeSlow(Math.max(this.bytes, MMAP_ALWAYS_BYTES))
      this.#free = []
      for (let i = this.slots - 1; i >= 0; i--) this.#free.push(i)
      this.stats.allocations++
    }
    const slot = this.#free.pop()!
    const slab = this.#slab
    this.stats.inUse += this.pieceSize
    if (this.stats.inUse > this.stats.peakInUse) this.stats.peakInUse = this.stats.inUse
    this.stats.granted++
    let released = false
    return {
      buf: slab.subarray(slot * this.pieceSize, (slot + 1) * this.pieceSize),
      release: () => {
        if (released) return
        released = true
        this.#release(slab, slot)
      },
    }
  }

  #release(slab: Buffer, slot: number): void {
    this.stats.inUse -= this.pieceSize
    // A block is only dropped when every slot is free, so a lease always belongs to the current one.
    if (slab === this.#slab) this.#free.push(slot)
    while (this.#head < this.#queue.length && this.#free.length > 0) {
      const w = this.#queue[this.#head]!
      this.#queue[this.#head++] = undefined as unknown as Waiter
      this.stats.waiting--
      w.signal?.removeEventListener('abort', w.onAbort)
      this.stats.waited++
      w.resolve(this.#grant())
    }
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head)
      this.#head = 0
    }
    if (this.stats.inUse === 0) this.#armDrop()
  }

  /** #armDrop schedules dropping the block once it has been unused for idleDropMs. */
  #armDrop(): void {
    if (this.#slab === undefined || this.#timer !== undefined) return
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      if (this.stats.inUse !== 0 || this.#slab === undefined) return
      this.#slab = undefined
      this.#free = []
      this.stats.drops++
      this.#gc?.()
    }, this.#idleDropMs).unref()
  }
}
