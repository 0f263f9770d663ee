import { abortError } from '../core/errors.js'
import { checkOffset, type ResidentContent } from './content.js'

/**
 * bytes wraps an in-memory buffer as {@link Content} (resident: `view` returns slices of it without
 * copying). The buffer is not copied: the caller must not change it while the Content is in use.
 */
export function bytes(data: Uint8Array | string): ResidentContent {
  const b = typeof data === 'string' ? new TextEncoder().encode(data) : data
  return {
    size: b.length,
    readAt(buf, off, signal) {
      checkOffset(off)
      if (signal?.aborted) return Promise.reject(abortError(signal))
      if (off >= b.length) return Promise.resolve(0)
      const n = Math.min(buf.length, b.length - off)
      buf.set(b.subarray(off, off + n))
      return Promise.resolve(n)
    },
    view(off, len) {
      checkOffset(off)
      return b.subarray(off, Math.min(b.length, off + len))
    },
  }
}
