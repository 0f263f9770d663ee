import { CutoverError } from '../core/errors.js'
import { checkOffset, type Content } from './content.js'

/**
 * concat joins contents end to end into one Content, like the talk's `MultiReaderAt`: a read at any
 * offset and length is split across the parts it covers (found by binary search over the part
 * offsets) and the parts are read concurrently. Empty parts are dropped. The parts must not change
 * size while the result is in use.
 */
export function concat(parts: readonly Content[]): Content {
  const list = parts.filter(p => p.size > 0)
  // starts[i] is the offset of list[i] in the whole; starts[list.length] is the total size.
  const starts = new Array<number>(list.length + 1)
  let total = 0
  for (let i = 0; i < list.length; i++) {
    starts[i] = total
    total += list[i]!.size
  }
  starts[list.length] = total
  if (!Number.isSafeInteger(total)) throw new RangeError('concat: total size is not a safe integer')

  /** partAt returns the index of the part that holds byte `off` (off < total). */
  const partAt = (off: number): number => {
    let lo = 0
    let hi = list.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (starts[mid]! <= off) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  return {
    size: total,
    async readAt(buf, off, signal) {
      checkOffset(off)
      if (off >= total) return 0
      const want = Math.min(buf.length, total - off)
      const reads: Promise<void>[] = []
      for (let i = partAt(off), done = 0; done < want; i++) {
        const part = list[i]!
        const partOff = off + done - starts[i]!
        const n = Math.min(part.size - partOff, want - done)
        const dst = buf.subarray(done, done + n)
        reads.push(
          part.readAt(dst, partOff, signal).then(got => {
            // A part is shorter than it said it was: the whole would have a hole, never fill it.
            if (got !== n) throw new CutoverError('ERR_SHORT_READ', `concat: part ${i} returned ${got} of ${n} bytes`)
          }),
        )
        done += n
      }
      await Promise.all(reads)
      return want
    },
  }
}
