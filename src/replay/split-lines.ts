/**
 * DEFAULT_MAX_LINE_BYTES is the longest log line `cutover replay` and `cutover report` read: 1 MiB.
 * A request line with its logged headers is a few KiB at most; a longer line is a corrupt file or a
 * body, and holding it whole (a 600 MiB line once stopped a replay) would cost memory, not records.
 */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024

/** SplitLine is one line of a byte stream, without its line end, or the sign of a line over the cap. */
export type SplitLine =
  | { readonly kind: 'line'; readonly bytes: Buffer }
  /** A line longer than the cap: its length in bytes, and its first bytes (at most 200) for a report. */
  | { readonly kind: 'long'; readonly length: number; readonly head: Buffer }

/** SplitStats is filled in by {@link splitLines} as it goes: the most bytes it held at once. */
export interface SplitStats {
  maxHeld: number
}

const HEAD_BYTES = 200

/**
 * splitLines cuts a byte stream into lines at LF, dropping a CR before it (CRLF files), and yields
 * the last line even without a line end. A line longer than `maxLineBytes` (the line end not
 * counted) is yielded as `long` and its bytes are dropped as they come: it never holds more than
 * `maxLineBytes` plus one chunk, whatever the line's length (see `stats.maxHeld`). If unset,
 * `maxLineBytes` defaults to DEFAULT_MAX_LINE_BYTES. The iteration rejects with TypeError on a bad `maxLineBytes`.
 */
export async function* splitLines(
  chunks: AsyncIterable<Buffer>,
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
  stats?: SplitStats,
): AsyncGenerator<SplitLine> {
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) throw new TypeError('maxLineBytes must be a positive integer')
  let parts: Buffer[] = [] // the current line so far, while it is within the cap
  let held = 0
  let long: { length: number; head: Buffer } | undefined // the current line, once over the cap
  /** end yields a line within the cap, without the CR of a CRLF, or a `long` one. */
  const end = (b: Buffer): SplitLine => {
    const bytes = b.length > 0 && b[b.length - 1] === 0x0d ? b.subarray(0, -1) : b
    if (bytes.length > maxLineBytes) return { kind: 'long', length: bytes.length, head: Buffer.from(bytes.subarray(0, HEAD_BYTES)) }
    return { kind: 'line', bytes }
  }
  for await (const chunk of chunks) {
    let from = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, from)
      const piece = chunk.subarray(from, nl === -1 ? chunk.length : nl)
      if (long) {
        long.length += piece.length
        if (long.head.length < HEAD_BYTES) long.head = Buffer.concat([long.head, piece.subarray(0, HEAD_BYTES - long.head.length)])
      }      else if (held + piece.length > maxLineBytes + 1) {
        // Over the cap even if it ends in CRLF: keep its first bytes for the report, drop the rest
        // as it comes.
        const head = Buffer.concat([...parts, piece.subarray(0, HEAD_BYTES)]).subarray(0, HEAD_BYTES)
        long = { length: held + piece.length, head: Buffer.from(head) }
        parts = []
        held = 0
      } else if (piece.length > 0) {
        parts.push(piece)
        held += piece.length
        if (stats && held + chunk.length > stats.maxHeld) stats.maxHeld = held + chunk.length
      }
      if (nl === -1) break
      if (long) {
        yield { kind: 'long', length: long.length, head: long.head }
        long = undefined
      } else {
        yield end(parts.length === 1 ? parts[0]! : Buffer.concat(parts))
        parts = []
        held = 0
      }
      from = nl + 1
    }
  }
  if (long) yield { kind: 'long', length: long.length, head: long.head }
  else if (held > 0) yield end(Buffer.concat(parts))
}
