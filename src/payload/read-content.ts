import { CutoverError } from '../core/errors.js'
import { SNIFF_LEN } from '../http/sniff.js'
import type { Content } from '../content/content.js'

/**
 * readHead reads the first bytes of a content that Content-Type sniffing looks at (at most
 * SNIFF_LEN, 512): one read. Give it the bytes themselves, not a digest-checked wrapper, whose
 * check this extra read would stop.
 */
export async function readHead(content: Content): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafe(Math.min(SNIFF_LEN, content.size))
  const got = buf.length === 0 ? 0 : await content.readAt(buf, 0)
  return buf.subarray(0, got)
}

/**
 * readAll reads a whole (small) content into one new buffer: one read. A content that ends before
 * its size (a file truncated since it was opened) rejects with ERR_BLOB_CHANGED.
 */
export async function readAll(content: Content): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(content.size)
  const got = content.size === 0 ? 0 : await content.readAt(buf, 0)
  if (got !== content.size) throw new CutoverError('ERR_BLOB_CHANGED', 'blob changed while it was read')
  return buf
}
