/**
 * Content is a fixed-size byte source with random access: the async form of Go's
 * `io.SizedReaderAt`.
 *
 * Contract:
 * - `readAt(buf, off)` fills `buf` with the bytes at `[off, off + buf.length)` and resolves with the
 *   number of bytes written. It resolves with fewer than `buf.length` only when the read crosses
 *   `size` (and with 0 when `off >= size`); any other shortfall rejects (ERR_SHORT_READ, ERR_IO, ...).
 * - Calls may run concurrently. An implementation must not retain `buf` after its promise settles.
 * - When `signal` aborts, the read rejects with ERR_ABORTED as soon as it can.
 */
export interface Content {
  readonly size: number
  readAt(buf: Uint8Array, off: number, signal?: AbortSignal): Promise<number>
}

/** checkReadArgs validates an offset the way every Content does: a non-negative safe integer. */
export function checkOffset(off: number): void {
  if (!Number.isSafeInteger(off) || off < 0) throw new RangeError(`invalid offset ${off}`)
}

/**
 * ResidentContent is Content whose bytes are already in memory. `view(off, len)` returns them
 * without copying; the caller must not modify the view and may hold it only while the Content is in
 * use. serveContent uses it to hand bytes straight to the socket.
 */
export interface ResidentContent extends Content {
  view(off: number, len: number): Uint8Array
}

/** isResident tells whether a Content offers zero-copy {@link ResidentContent.view}. */
export function isResident(c: Content): c is ResidentContent {
  return typeof (c as Partial<ResidentContent>).view === 'function'
}

/**
 * ViewedContent is Content that can hand out some of its bytes without copying them, once they are
 * loaded: `viewAt(off, len)` gives a promise of a view of exactly the bytes [off, off + len) when
 * they lie within one piece the content holds (a cached chunk), and undefined, at once, when they
 * do not (the caller then copies them with readAt). The view must not be modified and may be held
 * only while the Content is in use. The promise rejects as readAt would (ERR_SHORT_READ, ERR_ABORTED,
 * the store's errors).
 */
export interface ViewedContent extends Content {
  viewAt(off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> | undefined
}

/** isViewed tells whether a Content offers {@link ViewedContent.viewAt}. */
export function isViewed(c: Content): c is ViewedContent {
  return typeof (c as Partial<ViewedContent>).viewAt === 'function'
}
