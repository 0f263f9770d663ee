import { readlinkSync, realpathSync, statSync, type BigIntStats, type Stats } from 'node:fs'
import { LRUCache } from 'lru-cache'
import { abortError, codeOf, CutoverError } from '../core/errors.js'
import { systemClock, type Clock } from '../core/clock.js'
import { newBytes, type Allocate, type BlobInfo, type BlobStore } from './blob-store.js'
import { bigIntIdentity, FileContent, sameVersion, type FileIdentity } from './file-content.js'

/**
 * DEFAULT_SETTLE_MS is how long after its last change a file is trusted: one second, as Apache
 * weakens its ETags for (and git's "racy" check reasons). Linux sets a file's mtime and ctime when a
 * write *starts*, before its data is copied, so a read overlapping the write sees the new identity
 * with old or mixed bytes, and a check after the read sees nothing change; within one clock tick,
 * several writes even share one mtime. Only time tells: a write that began a second before the
 * read has ended (assuming no single write lasts a second).
 */
export const DEFAULT_SETTLE_MS = 1000

/**
 * OPEN_FILE_TTL_MS bounds how long an idle shared file stays open: a file deleted or replaced on
 * disk keeps its space allocated while a descriptor holds it, so idle descriptors are let go.
 */
export const OPEN_FILE_TTL_MS = 30_000

/**
 * MAX_OPEN_FILES bounds the files kept open between requests. They are kept per file, not per key
 * or request path: `//a.bin` and `/%61.bin` name one file, and must not each pin a descriptor.
 */
export const MAX_OPEN_FILES = 256

/** FileStoreOptions configures a {@link FileStore}. */
export interface FileStoreOptions {
  /** The directory whose files are the blobs. It must exist; it is resolved to its real path once. */
  readonly root: string
  /**
   * Serve files and directories whose name starts with a dot. If unset, defaults to false: a key
   * with such a segment names nothing (ERR_NOT_FOUND, as a missing file).
   */
  readonly dotfiles?: boolean
  /**
   * A file whose ctime is less than this many milliseconds before it is looked at is settling: its
   * {@link BlobInfo.version} is undefined (see there), and its descriptor is never shared. If unset,
   * defaults to {@link DEFAULT_SETTLE_MS}. 0 trusts every file at once (only safe when files are
   * always published by rename).
   */
  readonly settleMs?: number
  /** Where "now" comes from for the settle rule. If unset, defaults to systemClock (core/clock.ts). */
  readonly clock?: Clock
  /** Where read() puts the bytes it resolves with. If unset, defaults to newBytes (blob-store.ts). */
  readonly allocate?: Allocate
}

/** FileBlobInfo is a {@link BlobInfo} of a file, with what the file store and its users need. */
export interface FileBlobInfo extends BlobInfo {
  /** The version as the kernel reports it (identity and ctime); `version` is derived from it. */
  readonly identity: FileIdentity
  /** The modification time in nanoseconds, exactly (ETags with microseconds are derived from it). */
  readonly mtimeNs: bigint
  /**
   * The clock reading, taken before the file was looked at, that the settle rule judged it by: a
   * user deriving other time-dependent facts (an ETag rule of its own) uses this same instant.
   */
  readonly seenAt: number
  /** The file's path (under the real root), for the store's own checks and for logs. */
  readonly path: string
}

/** FileEntry is what a path names, as {@link FileStore.peek} sees it (symlinks followed). */
export type FileEntry =
  | { readonly kind: 'file'; readonly identity: FileIdentity }
  | { readonly kind: 'directory' }
  /** A fifo, socket or device: never served. */
  | { readonly kind: 'other' }

/**
 * FileBlob is one pinned version of a file, as {@link FileStore.open} gives it: `content` holds one
 * reference to the open descriptor, which the caller gives back with `content.close()`.
 */
export interface FileBlob {
  readonly info: FileBlobInfo
  readonly content: FileContent
}

/** FileOpenOptions tunes one {@link FileStore.open}. */
export interface FileOpenOptions {
  /**
   * What a stat of the path showed just before ({@link FileStore.peek}): a descriptor already open
   * on exactly that version is shared instead of opening the file again. If unset, a new descriptor
   * is opened.
   */
  readonly seen?: FileIdentity | undefined
  /**
   * Keep the descriptor open after the caller's release, for later opens of the same file, if the
   * file had settled and is the version `seen` showed (so a file read mid-change is never shared).
   * Worth it for files read in many pieces by many requests. If unset, defaults to false.
   */
  readonly share?: boolean | undefined
}

/** StoreStats are the counters of a {@link FileStore}, for metrics and tests. */
export interface FileStoreStats {
  /** Files opened (shared descriptors are not counted again). */
  opens: number
  /** Opens refused because the file lies outside the root (a symlink leading out). */
  escapes: number
}

const notFound = (why: string): CutoverError => new CutoverError('ERR_NOT_FOUND', why)

/**
 * FileStore is the {@link BlobStore} of one directory: a key is a relative path (`a/b.txt`, "" for
 * the root itself) and a blob is a regular file, read with positional reads through a descriptor
 * that pins its version ({@link FileContent}).
 *
 * It is the security boundary of the files: a key with an empty, `.` or `..` segment or a NUL names
 * nothing; a hidden name (a segment starting with a dot) names nothing unless `dotfiles`; a file
 * reached through a symlink that leads out of the root is refused, checked on the opened descriptor
 * itself (the kernel's record of what was opened), so a symlink swapped after the check cannot win a
 * race. All of these are ERR_NOT_FOUND, as a missing file, and the store never says which.
 *
 * Descriptors of settled files can be shared ({@link FileOpenOptions.share}) by every open of the
 * same file version while that version holds: a download manager fetching many ranges of one file
 * then costs no open, fstat and close per request.
 */
export class FileStore implements BlobStore<FileBlobInfo> {
  /** The real path of the root directory. */
  readonly root: string
  /** Whether hidden names are served (see {@link FileStoreOptions.dotfiles}). */
  readonly dotfiles: boolean
  readonly #settleMs: number
  readonly #clock: Clock
  readonly #allocate: Allocate
  /** Shared descriptors by file path; the cache holds one reference of each. */
  readonly #files = new LRUCache<string, FileContent>({
    max: MAX_OPEN_FILES,
    ttl: OPEN_FILE_TTL_MS,
    ttlAutopurge: true,
    // An evicted, replaced or expired file gives back its descriptor.
    dispose: f => f.close(),
  })
  readonly stats: FileStoreStats = { opens: 0, escapes: 0 }

  /**
   * sharedFiles is how many files the store keeps open for sharing now (at most MAX_OPEN_FILES,
   * each closed after OPEN_FILE_TTL_MS idle); downloads in flight may hold others.
   */
  get sharedFiles(): number {
    return this.#files.size
  }

  /** Throws TypeError for a root that is not a directory or a negative settleMs; the fs error for a missing root. */
  constructor(o: FileStoreOptions) {
    this.root = realpathSync(o.root)
    if (!statSync(this.root).isDirectory()) throw new TypeError(`root ${o.root} is not a directory`)
    this.dotfiles = o.dotfiles ?? false
    this.#settleMs = o.settleMs ?? DEFAULT_SETTLE_MS
    if (!Number.isFinite(this.#settleMs) || this.#settleMs < 0) throw new TypeError('settleMs must be a nonnegative number')
    this.#clock = o.clock ?? systemClock
    this.#allocate = o.allocate ?? newBytes
  }

  /**
   * peek tells what `key` names, with one stat(2) of its path on the event loop (cheap for a local
   * filesystem: no thread hop), symlinks followed: undefined for nothing (missing, or a key the
   * store does not serve). Throws ERR_FORBIDDEN when permission is denied, ERR_IO otherwise. It says
   * nothing about where a symlink leads: only {@link open} (and {@link stat}) check that.
   */
  peek(key: string): FileEntry | undefined {
    const path = this.#pathOf(key)
    if (path === undefined) return undefined
    const st = statPath(path)
    if (st === undefined) return undefined
    if (st.isDirectory()) return { kind: 'directory' }
    if (!st.isFile()) return { kind: 'other' }
    return { kind: 'file', identity: { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs } }
  }

  /**
   * unchanged tells, with one stat(2) of its path, whether the path still shows exactly the version
   * `info` describes, ctime included (so a version that had settled still has). It is how what was
   * derived from a version (its bytes in memory, its validators) is revalidated per request. Throws
   * as {@link peek}.
   */
  unchanged(info: FileBlobInfo): boolean {
    const st = statPath(info.path)
    if (st === undefined || !st.isFile()) return false
    const id = info.identity
    return st.ino === id.ino && st.dev === id.dev && st.size === id.size && st.mtimeMs === id.mtimeMs && st.ctimeMs === id.ctimeMs
  }

  /** stat is {@link BlobStore.stat}: the current version of the file `key` names, checked to lie under the root. */
  async stat(key: string, signal?: AbortSignal): Promise<FileBlobInfo> {
    if (signal?.aborted) throw abortError(signal)
    const path = this.#pathOf(key)
    if (path === undefined) throw notFound('not a key of this store')
    // "Now" is taken before the file is looked at: a later time would make it look settled sooner.
    const now = this.#clock.now()
    let st: BigIntStats | undefined
    try {
      st = statSync(path, { bigint: true, throwIfNoEntry: false })
    } catch (err) {
      throw fsError(err, 'stat')
    }
    if (!st?.isFile()) throw notFound('no such file')
    let real: string
    try {
      real = realpathSync(path)
    } catch {
      throw notFound('no such file')
    }
    if (!this.#under(real)) {
      this.stats.escapes++
      throw notFound('outside the root')
    }
    return this.#info(key, path, bigIntIdentity(st), st.mtimeNs, now)
  }

  /**
   * open pins the current version of the file `key` names and resolves with it (see
   * {@link FileBlob}; the caller must close its content). The version is whatever the descriptor
   * holds, which may differ from what an earlier {@link peek} showed if the file changed in
   * between: compare `content.identity` with it. Rejects with ERR_NOT_FOUND (missing, not a key of
   * this store, outside the root), ERR_FORBIDDEN or ERR_IO.
   */
  async open(key: string, o: FileOpenOptions = {}): Promise<FileBlob> {
    const path = this.#pathOf(key)
    if (path === undefined) throw notFound('not a key of this store')
    // "Now" is taken before the descriptor is looked at: a later time would make it look settled sooner.
    const now = this.#clock.now()
    const seen = o.seen
    if (seen !== undefined) {
      const shared = this.#files.get(path)
      if (shared && sameVersion(shared.identity, seen) && shared.retain()) {
        return { info: this.#info(key, path, shared.identity, shared.mtimeNs, now), content: shared }
      }
    }
    let fc: FileContent
    try {
      fc = await FileContent.open(path)
    } catch (err) {
      throw fsError(err, 'open')
    }
    this.stats.opens++
    try {
      if (!fc.regular) throw notFound('not a regular file')
      if (!this.#inside(fc.fd, path)) {
        this.stats.escapes++
        throw notFound('outside the root')
      }
      const info = this.#info(key, path, fc.identity, fc.mtimeNs, now)
      if (o.share && info.version !== undefined && seen !== undefined && sameVersion(fc.identity, seen) && fc.retain()) {
        this.#files.set(path, fc)
      }
      return { info, content: fc }
    } catch (err) {
      fc.close()
      throw err
    }
  }

  /**
   * read is {@link BlobStore.read}: the bytes of exactly the version `info` describes, through a
   * shared descriptor of that version if one is open (so a version replaced by rename since is
   * still read while one is), else through a fresh one, which must show that version: a file
   * replaced, rewritten, or deleted since `info` was taken rejects with ERR_BLOB_CHANGED, as does a
   * change during the read (see {@link FileContent.readAt}).
   */
  async read(info: FileBlobInfo, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!Number.isSafeInteger(off) || off < 0) throw new RangeError(`invalid offset ${off}`)
    if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`invalid length ${len}`)
    if (signal?.aborted) throw abortError(signal)
    let blob: FileBlob
    try {
      blob = await this.open(info.key, { seen: info.identity })
    } catch (err) {
      if (codeOf(err) === 'ERR_NOT_FOUND') throw new CutoverError('ERR_BLOB_CHANGED', 'file gone since it was looked at', { cause: err })
      throw err
    }
    const fc = blob.content
    try {
      if (!sameVersion(fc.identity, info.identity)) throw new CutoverError('ERR_BLOB_CHANGED', 'file changed since it was looked at')
      const n = Math.max(0, Math.min(len, info.size - off))
      const buf = n === 0 ? new Uint8Array(0) : this.#allocate(n)
      const got = n === 0 ? 0 : await fc.readAt(buf, off, signal)
      if (got !== n) throw new CutoverError('ERR_SHORT_READ', `got ${got} of ${n} bytes at ${off}`)
      return buf
    } finally {
      fc.close()
    }
  }

  /** #pathOf is the file path of a key, or undefined for a key this store does not serve. */
  #pathOf(key: string): string | undefined {
    if (key === '') return this.root
    if (key.includes('\0')) return undefined
    for (const seg of key.split('/')) {
      if (seg === '' || seg === '.' || seg === '..') return undefined
      if (!this.dotfiles && seg[0] === '.') return undefined
    }
    return `${this.root}/${key}`
  }

  /** #info builds a file's BlobInfo; `version` only once the file has settled at `now`. */
  #info(key: string, path: string, identity: FileIdentity, mtimeNs: bigint, now: number): FileBlobInfo {
    const settled = now - identity.ctimeMs >= this.#settleMs
    return {
      key,
      size: identity.size,
      mtimeMs: identity.mtimeMs,
      version: settled ? `${identity.dev}:${identity.ino}:${identity.size}:${mtimeNs}:${identity.ctimeMs}` : undefined,
      identity,
      mtimeNs,
      seenAt: now,
      path,
    }
  }

  /**
   * #inside tells whether an open descriptor's file lies under the root. On Linux the kernel's own
   * record of what was opened (/proc/self/fd) is read, so no symlink swap between check and open
   * can fool it; elsewhere the path's realpath is checked.
   */
  #inside(fd: number, path: string): boolean {
    let real: string
    try {
      real = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      try {
        real = realpathSync(path)
      } catch {
        return false
      }
    }
    return this.#under(real)
  }

  /** #under tells whether a real path is the root or lies below it. */
  #under(real: string): boolean {
    return real === this.root || real.startsWith(this.root === '/' ? '/' : `${this.root}/`)
  }
}

/** statPath follows symlinks; missing or unreachable paths give undefined, permission errors ERR_FORBIDDEN. */
function statPath(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP') return undefined
    throw fsError(err, 'stat')
  }
}

/** fsError maps an fs error to a CutoverError: ERR_NOT_FOUND, ERR_FORBIDDEN or ERR_IO. */
function fsError(err: unknown, op: string): CutoverError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG') {
    return new CutoverError('ERR_NOT_FOUND', `${op}: no such file`, { cause: err })
  }
  if (code === 'EACCES' || code === 'EPERM') return new CutoverError('ERR_FORBIDDEN', 'permission denied', { cause: err })
  return new CutoverError('ERR_IO', `${op} failed`, { cause: err })
}
