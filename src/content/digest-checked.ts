import { createHash, type Hash } from 'node:crypto'
import { CutoverError } from '../core/errors.js'
import type { Content } from './content.js'

/**
 * digestChecked wraps a content whose SHA-256 is declared (`sha256`, hex) so that a full read of it
 * is checked: while reads come in order from offset 0 (as a whole-body response reads them) their
 * bytes are hashed, and the read that reaches the end rejects with ERR_BLOB_CHANGED when the digest
 * differs, before it hands over its bytes. A response whose last bytes never arrive is cut short
 * of its Content-Length, so no client takes a body that contradicts the declared digest (or its
 * Repr-Digest, RFC 9530) as complete. Any other read pattern (ranges, a read out of order, two at
 * once) stops the check for this wrapper and is passed through unchecked: a partial read cannot be
 * checked against a digest of the whole.
 *
 * One wrapper serves one response: its state is the progress of that response's reads. `onMatch`,
 * when given, is called once the full read has matched the digest (so a caller can trust that
 * version of the bytes from then on and stop checking it).
 */
export function digestChecked(content: Content, sha256: string, onMatch?: () => void): Content {
  const want = sha256.toLowerCase()
  let hash: Hash | undefined = createHash('sha256')
  /** next is the offset the next in-order read must start at; -1 once the check is given up. */
  let next = 0
  let busy = false
  return {
    size: content.size,
    async readAt(buf, off, signal) {
      const tracked = hash !== undefined && off === next && !busy
      if (!tracked) {
        // Out of order or concurrent: this response is not a plain full read.
        hash = undefined
        next = -1
        return content.readAt(buf, off, signal)
      }
      busy = true
      let got: number
      try {
        got = await content.readAt(buf, off, signal)
      } catch (err) {
        hash = undefined
        throw err
      } finally {
        busy = false
      }
      if (hash === undefined) return got
      hash.update(buf.subarray(0, got))
      next = off + got
      if (next >= content.size) {
        const digest = hash.digest('hex')
        hash = undefined
        if (digest !== want) throw new CutoverError('ERR_BLOB_CHANGED', `sha256 mismatch: the bytes are ${digest}, the manifest declares ${want}`)
        onMatch?.()
      }
      return got
    },
  }
}
