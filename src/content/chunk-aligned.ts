import { CutoverError } from '../core/errors.js'
import { checkOffset, type Content, type ViewedContent } from './content.js'

/**
 * ChunkLoader gives chunk `index` of a blob cut into fixed-size chunks: exactly the chunk's bytes
 * (`chunkSize`, the last chunk shorter when the size is not a multiple), or a rejection. A chunk
 * cache is a ChunkLoader over another one; the returned bytes must not be changed by anyone while
 * a reader may still hold them.
 */
export type ChunkLoader = (index: number, signal?: AbortSignal) => Promise<Uint8Array>

/**
 * chunkAligned is the Content of `size` bytes whose chunks of `chunkSize` bytes `load` gives: any
 * read on it is served from whole chunks, so `load` only ever sees whole aligned chunks (the talk's
 * 2 MiB chunks keyed `<blob>-<chunk offset>`). Chunks that one read covers are loaded concurrently;
 * nothing is cached here (that is the loader's business). A chunk of the wrong length rejects the
 * read with ERR_SHORT_READ. Bytes that lie within one chunk can also be had as a view of the chunk
 * ({@link ViewedContent.viewAt}), with no copy. Throws TypeError for a size that is not a
 * non-negative integer or a chunk size that is not a positive integer.
 */
export function chunkAligned(load: ChunkLoader, size: number, chunkSize: number): ViewedContent {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new TypeError('chunkSize must be a positive integer')
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError('size must be a non-negative integer')
  const readChunk = async (index: number, signal?: AbortSignal): Promise<Uint8Array> => {
    const len = Math.min(chunkSize, size - index * chunkSize)
    const chunk = await load(index, signal)
    if (chunk.length !== len) throw new CutoverError('ERR_SHORT_READ', `chunk ${index}: got ${chunk.length} of ${len} bytes`)
    return chunk
  }
  return {
    size,
    // Bytes within one chunk are handed out as a view of the chunk itself: a cached chunk then goes
    // to the socket without being copied into a read buffer.
    viewAt(off, len, signal) {
      checkOffset(off)
      if (len <= 0 || off + len > size) return undefined
      const index = Math.floor(off / chunkSize)
      if (Math.floor((off + len - 1) / chunkSize) !== index) return undefined
      const from = off - index * chunkSize
      return readChunk(index, signal).then(chunk => chunk.subarray(from, from + len))
    },
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

/**
 * contentChunks is the {@link ChunkLoader} of a Content: chunk `index` is read from `c` into a
 * fresh buffer, with one readAt of exactly the chunk (a short read gives a short chunk, which
 * {@link chunkAligned} refuses). Throws TypeError for a chunk size that is not a positive integer.
 */
export function contentChunks(c: Content, chunkSize: number): ChunkLoader {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new TypeError('chunkSize must be a positive integer')
  return async (index, signal) => {
    const start = index * chunkSize
    const chunk = new Uint8Array(Math.max(0, Math.min(chunkSize, c.size - start)))
    const got = await c.readAt(chunk, start, signal)
    return got === chunk.length ? chunk : chunk.subarray(0, got)
  }
}
