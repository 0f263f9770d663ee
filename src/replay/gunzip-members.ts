import { createInflateRaw } from 'node:zlib'

/**
 * GunzipEnd is how {@link gunzipMembers} ended: filled in when its iteration ends. `junk` is set when
 * bytes that are not a gzip member follow the last member: where they start (a byte offset of the
 * compressed file) and how many there are.
 */
export interface GunzipEnd {
  junk?: { readonly offset: number; readonly bytes: number }
}

/** GzipError is a broken gzip stream; `code` is a zlib code (`Z_DATA_ERROR`, `Z_BUF_ERROR`) as Node's. */
class GzipError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

const MAX_HEADER_BYTES = 64 * 1024

/**
 * gunzipMembers decompresses a gzip file (RFC 1952) member after member, as `cat a.gz b.gz` makes,
 * in bounded memory (one input chunk and zlib's window). Unlike node:zlib's Gunzip, which fails on
 * bytes after the last member and loses the output of the chunk that held them, it yields every
 * byte of every complete member, then stops and records the trailing bytes in `end.junk` (zero
 * padding is skipped, as gzip does). A member cut short or corrupt rejects the iteration with an
 * error whose `code` starts with `Z_`, after yielding what was decompressed before it. The CRC and
 * size trailer is skipped, not checked.
 */
export async function* gunzipMembers(chunks: AsyncIterable<Buffer>, end: GunzipEnd = {}): AsyncGenerator<Buffer> {
  const it = chunks[Symbol.asyncIterator]()
  let buf: Buffer = Buffer.alloc(0)
  let offset = 0 // the file offset of buf[0]
  let eof = false
  /** more reads one more chunk into buf; false at the end of the input. */
  const more = async (): Promise<boolean> => {
    if (eof) return false
    const r = await it.next()
    if (r.done === true) {
      eof = true
      return false
    }
    buf = buf.length === 0 ? r.value : Buffer.concat([buf, r.value])
    return true
  }
  const drop = (n: number) => {
    buf = buf.subarray(n)
    offset += n
  }
  const need = async (n: number): Promise<boolean> => {
    while (buf.length < n) if (!(await more())) return false
    return true
  }
  for (let member = 0; ; member++) {
    if (member > 0) {
      // Zero bytes after a member are padding (tape blocks), not a member: gzip skips them too.
      for (;;) {
        const nz = buf.findIndex(b => b !== 0)
        if (nz >= 0) {
          drop(nz)
          break
        }
        drop(buf.length)
        if (!(await more())) return
      }
    }
    if (!(await need(2)) || buf[0] !== 0x1f || buf[1] !== 0x8b) {
      if (member === 0) throw new GzipError('incorrect header check', 'Z_DATA_ERROR')
      const at = offset
      let bytes = buf.length
      // Count the junk without holding it.
      for (let r = await it.next(); r.done !== true; r = await it.next()) bytes += r.value.length
      end.junk = { offset: at, bytes }
      return
    }
    const headerLength = await readHeader()
    drop(headerLength)
    yield* inflateMember()
    if (!(await need(8))) throw new GzipError('unexpected end of file', 'Z_BUF_ERROR')
    drop(8) // CRC-32 and ISIZE
  }

  /** readHeader returns the length of the member header at buf[0] (RFC 1952 §2.3.1). */
  async function readHeader(): Promise<number> {
    const cut = () => new GzipError('unexpected end of file', 'Z_BUF_ERROR')
    if (!(await need(10))) throw cut()
    if (buf[2] !== 8) throw new GzipError('unknown compression method', 'Z_DATA_ERROR')
    const flags = buf[3]!
    let n = 10
    if (flags & 4) {
      if (!(await need(n + 2))) throw cut()
      n += 2 + buf.readUInt16LE(n)
    }
    for (const bit of [8, 16]) {
      if (!(flags & bit)) continue
      // A zero-terminated name or comment.
      for (;;) {
        const z = buf.indexOf(0, n)
        if (z >= 0) {
          n = z + 1
          break
        }
        if (buf.length > MAX_HEADER_BYTES) throw new GzipError('invalid header', 'Z_DATA_ERROR')
        if (!(await more())) throw cut()
      }
    }
    if (flags & 2) n += 2
    if (n > MAX_HEADER_BYTES) throw new GzipError('invalid header', 'Z_DATA_ERROR')
    if (!(await need(n))) throw cut()
    return n
  }

  /**
   * inflateMember inflates the deflate stream at buf[0] and yields its output; on return, buf starts
   * at the first byte after it. node:zlib's raw inflate ends at the stream's end and counts the input
   * it used (bytesWritten), which is what finds the member's end inside a chunk.
   */
  async function* inflateMember(): AsyncGenerator<Buffer> {
    const inflate = createInflateRaw()
    const out: Buffer[] = []
    let ended = false
    let error: Error | undefined
    let wake: (() => void) | undefined
    inflate.on('data', (b: Buffer) => out.push(b))
    inflate.on('end', () => {
      ended = true
      wake?.()
    })
    inflate.on('error', (e: Error) => {
      error = e
      wake?.()
    })
    /** settle waits for the end or an error of the inflate stream. */
    const settle = () =>
      new Promise<void>(resolve => {
        wake = resolve
        if (ended || error !== undefined) resolve()
      })
    try {
      for (;;) {
        if (buf.length === 0 && !(await more())) {
          // The input ends inside this member: a complete stream ends now, a cut one errs.
          inflate.end()
          await settle()
        } else {
          const before = inflate.bytesWritten
          const chunk = buf
          await new Promise<void>(resolve => {
            wake = resolve
            inflate.write(chunk, () => resolve())
          })
          const used = inflate.bytesWritten - before
          drop(used)
          // The deflate stream ended inside this chunk (or before it): what is left is not its.
          if (error === undefined && used < chunk.length) await settle()
        }
        while (out.length > 0) yield out.shift()!
        if (error !== undefined) {
          const e = error as Error & { code?: string }
          throw new GzipError(e.message, e.code ?? 'Z_DATA_ERROR')
        }
        if (ended) return
        if (eof && buf.length === 0) throw new GzipError('unexpected end of file', 'Z_BUF_ERROR')
      }
    } finally {
      inflate.destroy()
    }
  }
}
