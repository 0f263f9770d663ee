import { bad, type LineResult, pickHeaders, quotedBytes, record } from './line-parser.js'
import { isMethod, isToken, requestTarget } from './request-target.js'

/**
 * GOR_SEPARATOR is the line GoReplay writes between records (its payload separator is
 * `"\n🐵🙈🙉\n"`), as the latin1 string of its UTF-8 bytes: .gor files are read as latin1 so that the
 * raw bytes of request lines survive.
 */
export const GOR_SEPARATOR = Buffer.from('🐵🙈🙉', 'utf8').toString('latin1')

/**
 * GOR_MAX_HEAD_LINES bounds the lines kept of one record's head (meta line, request line, headers):
 * a record whose blank line never comes (a corrupt file) must not make the reader buffer it all.
 */
export const GOR_MAX_HEAD_LINES = 1000

/**
 * GOR_LONG_LINE stands for a line over the reader's length cap: a character no latin1-decoded line
 * holds. In a record's head it makes the record bad; in a body it is dropped with the body.
 */
export const GOR_LONG_LINE = '\u0100'

/** GorRecord is the head of one GoReplay record: its lines up to the blank line that ends the headers. */
export interface GorRecord {
  /** The 1-based line number of the record's meta line in the file. */
  readonly line: number
  /** Meta line, request line, header lines (latin1, without line endings). The body is not kept. */
  readonly head: readonly string[]
  /** True when the head had more than {@link GOR_MAX_HEAD_LINES} lines and was cut. */
  readonly truncated: boolean
  /**
   * True when the record ended (a separator, or the end of the file) before the blank line that ends
   * its headers: a record written in part, whose missing headers could change the answer.
   */
  readonly cut: boolean
}

/**
 * splitGorRecords groups the lines of a .gor file (numbered from 1, latin1, as node:readline gives
 * them) into records, keeping only each record's head so that memory stays bounded whatever the
 * bodies. Blank lines before a meta line and empty records (a separator at the end of the file) are
 * not records. It holds one record head at a time.
 */
export async function* splitGorRecords(lines: AsyncIterable<string>): AsyncGenerator<GorRecord> {
  let head: string[] = []
  let start = 0
  let inBody = false
  let truncated = false
  let n = 0
  for await (const l of lines) {
    n++
    if (l === GOR_SEPARATOR) {
      if (head.length > 0) yield { line: start, head, truncated, cut: !inBody }
      head = []
      inBody = false
      truncated = false
    } else if (head.length === 0) {
      if (l.trim() === '') continue
      head.push(l)
      start = n
    } else if (!inBody) {
      // The blank line ends the headers (RFC 9112 §2.1); what follows is the body, not kept.
      if (l === '') inBody = true
      else if (head.length < GOR_MAX_HEAD_LINES) head.push(l)
      else truncated = true
    }
  }
  if (head.length > 0) yield { line: start, head, truncated, cut: !inBody }
}

/**
 * parseGorRecord reads the head of one GoReplay record: a meta line `<type> <id> <unix-ns> <latency>`
 * (older GoReplay versions write no latency), then for type 1 a raw HTTP/1.x request line and header
 * lines, then the blank line that ends them (a record {@link GorRecord.cut} before it is bad). Types 2 and 3 (the original and the replayed response) are `skipped`, not bad: a capture
 * made with `--output-file-append` and response tracking holds them by design.
 *
 * The request target is rebuilt from the raw bytes by {@link requestTarget}; header values are kept
 * as latin1 strings (their bytes), which is how Node.js sends them again.
 */
export function parseGorRecord(r: GorRecord): LineResult {
  const [meta, requestLine, ...headerLines] = r.head
  const m = /^(\d) ([0-9A-Fa-f]+) (\d+)(?: -?\d+)?(?: .*)?$/.exec(meta ?? '')
  if (m === null) return bad(`meta: expected "<type> <id> <unix-ns> <latency>" (${q(meta ?? '')})`)
  const type = m[1]
  if (type === '2' || type === '3') return { kind: 'skipped', reason: `response record (type ${type})` }
  if (type !== '1') return bad(`meta: unknown record type (${q(type ?? '')})`)
  if (r.truncated) return bad(`headers: more than ${GOR_MAX_HEAD_LINES} lines`)
  // GoReplay writes the whole head, a blank line, the body, then the separator: a head without its
  // blank line was cut (a full disk, a killed writer), and sending it would drop its last headers.
  if (r.head.includes(GOR_LONG_LINE)) return bad('headers: a line longer than the line length cap')
  if (r.cut) return bad('headers: cut before the blank line that ends them (a record written in part)')
  // Nanoseconds since the epoch overflow a double's exact range: divide as a bigint.
  const time = new Date(Number(BigInt(m[3]!) / 1_000_000n))
  if (Number.isNaN(time.getTime())) return bad(`meta: timestamp out of range (${q(m[3]!)})`)
  if (requestLine === undefined) return bad('request: missing')
  const parts = requestLine.split(' ')
  if (parts.length !== 3 || !isMethod(parts[0]!) || !/^HTTP\/\d\.\d$/.test(parts[2]!)) {
    return bad(`request: not "METHOD TARGET HTTP/x.y" (${q(requestLine)})`)
  }
  const path = requestTarget(parts[1]!)
  if (path === undefined) return bad(`request: target is not a path (${q(parts[1]!)})`)
  const fields: Array<[string, string]> = []
  for (const [i, l] of headerLines.entries()) {
    const last = fields[fields.length - 1]
    // Obsolete line folding (RFC 9112 §5.2): a line starting with whitespace continues the previous field.
    if ((l.startsWith(' ') || l.startsWith('\t')) && last !== undefined) {
      last[1] = `${last[1]} ${l.trim()}`
      continue
    }
    const colon = l.indexOf(':')
    const name = colon > 0 ? l.slice(0, colon) : ''
    if (!isToken(name)) return bad(`headers: not "name: value" on record line ${i + 3} (${q(l)})`)
    fields.push([name, l.slice(colon + 1).trim()])
  }
  return record({ time, method: parts[0]!, path, headers: pickHeaders(fields) })
}

/** q quotes a piece of a latin1-decoded line for a reason, with nginx's escapes. */
const q = quotedBytes
