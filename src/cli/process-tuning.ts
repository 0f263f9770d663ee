import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * gcHint returns V8's gc() without the process having been started with --expose-gc: the flag set
 * at run time applies to contexts created afterwards, such as this one. Undefined if V8 refuses.
 * serve's buffer budget calls it once it has dropped its buffers after being idle, because V8 does
 * not collect an idle process and the dropped memory would stay resident until the next traffic.
 */
export function gcHint(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc')
    const gc: unknown = runInNewContext('gc')
    return typeof gc === 'function' ? () => void gc() : undefined
  } catch {
    return undefined
  }
}

/**
 * RETAIN_BLOCK_BYTES is the size of the block keepFreedHeap allocates and frees: 16 MiB makes
 * glibc keep up to 32 MiB of freed heap (twice the block) instead of 128 KiB.
 */
export const RETAIN_BLOCK_BYTES = 16 * 1024 * 1024

/**
 * keepFreedHeap makes the C allocator keep freed memory for reuse instead of handing it back to the
 * kernel at every free, for a process that allocates and frees 64 KiB socket buffers at hundreds of
 * MB/s (every read of a socket, and every body chunk Node's HTTP client copies out of its parser,
 * is a fresh malloc'd buffer).
 *
 * With glibc's defaults the heap is trimmed whenever more than 128 KiB is free at its top, so the
 * buffers one collection frees are returned to the kernel and the next ones fault their pages in
 * again. Measured on the mirror proxying 1 MiB downloads under `wrk -c64` (nothing compared): 105k-
 * 211k minor page faults in 6 s and 140-450 req/s from run to run, against 15k-23k faults and
 * 900-945 req/s with the heap kept (same CPU use). glibc documents the remedy in mallopt(3): its
 * thresholds are dynamic, and freeing a block that was mmapped (over the current threshold, at most
 * 32 MiB) raises the mmap threshold to that block's size and the trim threshold to twice it. So
 * this allocates one such block and frees it at once, which is all a process can do without
 * setting MALLOC_TRIM_THRESHOLD_ in its environment before it starts. The cost is up to 32 MiB of
 * freed memory kept resident. With another allocator (musl) it is one allocation and nothing else.
 *
 * The block is freed by the collection `gc` runs; without `gc`, by a later one.
 */
export function keepFreedHeap(gc: (() => void) | undefined): void {
  // allocUnsafeSlow: one malloc of its own, not a slice of Node's shared pool.
  let block: Buffer | undefined = Buffer.allocUnsafeSlow(RETAIN_BLOCK_BYTES)
  block[0] = 0
  block = undefined
  gc?.()
}

/**
 * RECEIVER_V8_FLAGS tune V8's collector for a process whose heap is small (15 MB live) while it
 * receives hundreds of MB/s of bodies over HTTP in short-lived socket buffers: the mirror. With
 * V8's default growing factor for such a heap, once a first full collection has run, the next ones
 * come every 30-80 ms, on the background threads and in pauses.
 * Measured on a 256 MiB download through the mirror: 60-90 mark-compacts in 5 s and 0.4 of a core,
 * against 0-2 with the heap allowed to grow to four times its live size, and 585-615 MB/s against
 * 740-770 MB/s. The cost is an old generation up to that size (tens of MB).
 */
export const RECEIVER_V8_FLAGS = '--heap-growing-percent=300'

/**
 * tuneForReceiving sets {@link RECEIVER_V8_FLAGS} and keeps freed C heap ({@link keepFreedHeap}):
 * call it once at startup, before any traffic, in a process that receives bodies at high rates.
 * Not serve with a remote store, though it receives every byte it serves: there the flag cut a cold
 * 256 MiB S3 download from 2.7-3.1 s of CPU to 2.2-2.5 s, but took small-file GETs from 1.12-1.13x
 * Go to 0.90-1.00x in the same runs (the benchmark's notes).
 */
export function tuneForReceiving(): void {
  setFlagsFromString(RECEIVER_V8_FLAGS)
  keepFreedHeap(gcHint())
}
