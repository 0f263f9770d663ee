import { CutoverError } from '../core/errors.js'
import { checkOffset, type Content } from './content.js'

/**
 * chunkAligned wraps `c` so that `c` only ever sees reads of exactly `chunkSize` bytes at offsets
 * that are multiples of `chunkSize` (the last chunk is shorter when the size is not a multiple). This
 * is what a chunk cache needs (the talk's 2 MiB chunks keyed `<blob>-<chunk offset>`): any read on
 * the result is served from whole chunks. Chunks that one read covers are fetched concurrently;
 * nothing is cached here.
 */
export function chunkAligned(c: Content, chunkSize: number): Content {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new TypeError('chunkSize must be a positive integer')
  const size = c.size
  const readChunk = async (index: number, signal?: AbortSignal): Promise<Uint8Array> => {
    const start = index * chunkSize
    const len = Math.min(chunkSize, size - start)
    const chunk = new Uint8Array(len)
    const got = await c.readAt(chunk, start, signal)
    if (got !== len) throw new CutoverError('ERR_SHORT_READ', `chunk ${index}: got ${got} of ${len} bytes`)
    return chunk
  }
  return {
    size,
    async readAt(buf, off, signal) {
      checkOffset(off)
      if (off >= size) return 0
      const want = Math.min(buf.length, size - off)
      const first = Math.floor(off / chunkSize)
      const last = Math.floor((off + want - 1) / chunkSize)
      const copies: Promise<void>[] = []
      for (let i = first; i <= last; i++) {
        copies.push(
          readChunk(i, signal).then(chunk => {
            const chunkStart = i * chunkSize
            const from = Math.max(off, chunkStart)
            const to = Math.min(off + want, chunkStart + chunk.length)
            buf.set(chunk.subarray(from - chunkStart, to - chunkStart), from - off)
          }),
        )
      }
      await Promise.all(copies)
      return want
    },
  }
}
