import { checkOffset, type Content } from './content.js'

/**
 * section returns the `n` bytes of `c` starting at `base` as a Content of their own, like Go's
 * `io.NewSectionReader`. A section that reaches past the end of `c` is cut at the end; reads are
 * clipped to the section so the parent never sees an offset outside it.
 */
export function section(c: Content, base: number, n: number): Content {
  checkOffset(base)
  checkOffset(n)
  const size = Math.max(0, Math.min(n, c.size - base))
  return {
    size,
    readAt(buf, off, signal) {
      checkOffset(off)
      if (off >= size) return Promise.resolve(0)
      const len = Math.min(buf.length, size - off)
      return c.readAt(len === buf.length ? buf : buf.subarray(0, len), base + off, signal)
    },
  }
}
