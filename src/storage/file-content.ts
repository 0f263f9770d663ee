import { close, constants, fstatSync, open, read, type BigIntStats, type Stats } from 'node:fs'
import { abortError, CutoverError } from '../core/errors.js'

/**
 * FileIdentity is what tells two versions of a file apart without reading it: device, inode, size
 * and modification time. A write to the file changes mtime; a replacement (rename over it) changes
 * the inode. Through an open descriptor ctime is not compared ({@link sameIdentity}): it also changes
 * when the file merely loses a link, which is what happens to the old version when a new one is
 * renamed over it, and that old version is exactly what downloads in flight must go on serving.
 * Through a path it is ({@link sameVersion}), and it tells how recently the file changed.
 */
export interface FileIdentity {
  readonly dev: number
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
  readonly ctimeMs: number
}

/** fileIdentity extracts a {@link FileIdentity} from fs.Stats. */
export function fileIdentity(st: Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs }
}

/**
 * bigIntIdentity is {@link fileIdentity} of a bigint stat, with mtimeMs and ctimeMs computed exactly
 * as Node computes them for a plain stat (seconds * 1e3 + nanoseconds / 1e6), so the two compare.
 */
export function bigIntIdentity(st: BigIntStats): FileIdentity {
  const ms = (ns: bigint): number => Number(ns / 1_000_000_000n) * 1e3 + Number(ns % 1_000_000_000n) / 1e6
  return { dev: Number(st.dev), ino: Number(st.ino), size: Number(st.size), mtimeMs: ms(st.mtimeNs), ctimeMs: ms(st.ctimeNs) }
}

/**
 * sameIdentity tells whether two identities describe the same version of the same file, as seen
 * through an open descriptor: ctime is left out (see {@link FileIdentity}).
 */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs
}

/**
 * sameVersion is {@link sameIdentity} plus ctime: what a path must still show for something cached
 * from it to stay valid. A file rewritten in place and then given back its old mtime (`touch -d`)
 * keeps its identity but not its ctime, which the kernel always sets to the time of the change.
 */
export function sameVersion(a: FileIdentity, b: FileIdentity): boolean {
  return sameIdentity(a, b) && a.ctimeMs === b.ctimeMs
}

/**
 * FileContent is a Content (content/content.ts: `size` and `readAt`, structurally) over an open file descriptor, read with positional reads (pread);
 * the file is never held in memory. It pins the version it was opened on: after every read it
 * re-checks the descriptor's identity and rejects with ERR_BLOB_CHANGED if the file was written
 * meanwhile, so a download never mixes two versions (within the resolution of the filesystem's
 * timestamps). A file replaced by rename keeps serving the old version, which the open descriptor
 * still holds.
 *
 * It is reference-counted so that one descriptor can serve many downloads: open() returns one
 * reference, retain() adds one, close() drops one. The descriptor is closed when the last
 * reference is dropped and the last pending read has settled, so a pending read can never land on
 * a descriptor number the process has reused.
 */
export class FileContent {
  readonly size: number
  readonly identity: FileIdentity
  /**
   * The modification time in nanoseconds, exactly as the kernel keeps it: ETag formats that carry
   * microseconds (Apache's, cutover's) are derived from it, since mtimeMs (a double) loses them.
   */
  readonly mtimeNs: bigint
  /** False when the path named a directory, fifo, socket or device: such a content must not be served. */
  readonly regular: boolean
  readonly #fd: number
  #pending = 0
  #refs = 1
  #closing = false
  #closed = false

  private constructor(fd: number, st: BigIntStats) {
    this.#fd = fd
    this.identity = bigIntIdentity(st)
    this.mtimeNs = st.mtimeNs
    this.regular = st.isFile()
    this.size = this.identity.size
  }

  /**
   * open opens `path` read-only and pins its current version. Rejects with the fs error (ENOENT...).
   * The open does not block on a fifo (O_NONBLOCK, which changes nothing for a regular file): see
   * {@link regular}.
   */
  static open(path: string): Promise<FileContent> {
    return new Promise((resolve, reject) => {
      open(path, constants.O_RDONLY | constants.O_NONBLOCK, (err, fd) => {
        if (err) return reject(err)
        try {
          resolve(new FileContent(fd, fstatSync(fd, { bigint: true })))
        } catch (e) {
          close(fd, () => reject(e))
        }
      })
    })
  }

  /** fd is the descriptor, for checks such as where it really points (/proc/self/fd). */
  get fd(): number {
    return this.#fd
  }

  /**
   * readAt fills `buf` from `off` (short only at the end of the file), then checks that the file is
   * still the version this content pinned: ERR_BLOB_CHANGED otherwise, ERR_IO for a failed read,
   * ERR_ABORTED once `signal` aborts. RangeError for an offset that is not a non-negative integer.
   */
  readAt(buf: Uint8Array, off: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(off) || off < 0) throw new RangeError(`invalid offset ${off}`)
    if (this.#closing) return Promise.reject(new CutoverError('ERR_IO', 'read on a closed file'))
    if (signal?.aborted) return Promise.reject(abortError(signal))
    if (off >= this.size) return Promise.resolve(0)
    const want = Math.min(buf.length, this.size - off)
    if (want === 0) return Promise.resolve(0)
    this.#pending++
    return new Promise<number>((resolve, reject) => {
      let done = 0
      const step = (): void => {
        read(this.#fd, buf, done, want - done, off + done, (err, n) => {
          if (err) return finish(new CutoverError('ERR_IO', `read failed at offset ${off + done}`, { cause: err }))
          if (n === 0) return finish(new CutoverError('ERR_BLOB_CHANGED', `file shrank below ${off + done}`))
          done += n
          if (done < want) {
            if (signal?.aborted) return finish(abortError(signal))
            return step()
          }
          finish()
        })
      }
      const finish = (err?: unknown): void => {
        if (!err) err = this.#changed()
        this.#pending--
        if (this.#closing && this.#pending === 0) this.#doClose()
        if (err) reject(err)
        else resolve(want)
      }
      step()
    })
  }

  /** #changed returns an error if the file is no longer the version this content pinned. */
  #changed(): CutoverError | undefined {
    let st: Stats
    try {
      st = fstatSync(this.#fd)
    } catch (err) {
      return new CutoverError('ERR_IO', 'fstat failed', { cause: err })
    }
    if (sameIdentity(fileIdentity(st), this.identity)) return undefined
    return new CutoverError('ERR_BLOB_CHANGED', 'file changed while it was being read')
  }

  /** retain adds a reference; it returns false (and adds none) once the content is closing. */
  retain(): boolean {
    if (this.#closing) return false
    this.#refs++
    return true
  }

  /** close drops one reference; the last one closes the descriptor once no read is pending. */
  close(): void {
    if (this.#closing || --this.#refs > 0) return
    this.#closing = true
    if (this.#pending === 0) this.#doClose()
  }

  #doClose(): void {
    if (this.#closed) return
    this.#closed = true
    close(this.#fd, () => undefined)
  }
}
