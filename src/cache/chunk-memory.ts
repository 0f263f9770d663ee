/** PAGE_STRIDE is how far apart the writes that bring memory into use are: pages are 4 KiB or a multiple of it, so one write per 4 KiB touches every page. */
const PAGE_STRIDE = 4096

/** BATCH is how many buffers are touched between two turns of the event loop while pre-touching. */
const BATCH = 32

/** ChunkMemoryOptions size a {@link ChunkMemory}. */
export interface ChunkMemoryOptions {
  /** The size of each buffer, the chunk cache's chunk size: a positive integer. */
  readonly chunkSize: number
  /** How many buffers to prepare: the chunks the cache's budget holds (a nonnegative integer). */
  readonly chunks: number
}

/**
 * ChunkMemory is the chunk cache's memory brought into use before the first request
 * (`serve --cache-prealloc`): `chunks` buffers of `chunkSize` bytes, each page written once, handed
 * out by {@link ChunkMemory.allocate} to the stores that fill the cache's chunks.
 *
 * Why: a cache that keeps what it reads needs memory the process has not used before, and the first
 * write to each page of it costs a page fault (on the benchmark's VM, 0.75-1.1 s of CPU per 256 MiB,
 * against 3 ms to rewrite memory already in use). Paid during a cold download, it halves the
 * download's speed; paid here, at start-up, a cold download runs as it does on a server that has
 * been up for a while, whose evicted chunks' memory the allocator reuses.
 *
 * Each prepared buffer is handed out once and never taken back: a chunk evicted from the cache may
 * still be in a socket's write queue, so its memory is left to the garbage collector and the
 * allocator rather than reused here. Once all are handed out, allocate() gives fresh memory.
 */
export class ChunkMemory {
  readonly chunkSize: number
  /** How many buffers were prepared. */
  readonly prepared: number
  /**
   * Buffers allocated on the spot: a length other than the chunk size, or none prepared left. Only
   * grows. (Those taken from the prepared ones are `prepared - left`.)
   */
  fresh = 0
  readonly #free: Uint8Array[]

  private constructor(chunkSize: number, free: Uint8Array[]) {
    this.chunkSize = chunkSize
    this.prepared = free.length
    this.#free = free
  }

  /**
   * prepare allocates and touches the buffers, yielding to the event loop every few so that signals
   * are still handled during a long start-up. Throws TypeError for a size or count that is not an
   * integer in range; a RangeError from the engine when the memory cannot be had.
   */
  static async prepare(o: ChunkMemoryOptions): Promise<ChunkMemory> {
    if (!Number.isSafeInteger(o.chunkSize) || o.chunkSize <= 0) throw new TypeError('chunkSize must be a positive integer')
    if (!Number.isSafeInteger(o.chunks) || o.chunks < 0) throw new TypeError('chunks must be a nonnegative integer')
    const free: Uint8Array[] = []
    for (let i = 0; i < o.chunks; i++) {
      const b = new Uint8Array(o.chunkSize)
      // A write faults the page in; zero keeps the buffer as new Uint8Array left it.
      for (let p = 0; p < b.length; p += PAGE_STRIDE) b[p] = 0
      free.push(b)
      if ((i + 1) % BATCH === 0) await new Promise(resolve => setImmediate(resolve))
    }
    return new ChunkMemory(o.chunkSize, free)
  }

  /** left is how many prepared buffers have not been handed out. */
  get left(): number {
    return this.#free.length
  }

  /**
   * allocate is what to give the stores as their `allocate` option (storage/blob-store.ts): a
   * prepared buffer for a read of exactly the chunk size while any is left, otherwise a fresh one.
   * Every buffer it returns is zeroed and handed out once.
   */
  readonly allocate = (length: number): Uint8Array => {
    const b = length === this.chunkSize ? this.#free.pop() : undefined
    if (b !== undefined) return b
    this.fresh++
    return new Uint8Array(length)
  }
}
