import { parseIsoDate } from './iso-date.js'
import { bad, isObject, type LineResult, pickHeaders, printable, quoted, record } from './line-parser.js'
import { isMethod, requestTarget, utf8AsLatin1 } from './request-target.js'

/**
 * HAR_MAX_BYTES is the largest HAR file `cutover replay` reads: 256 MiB. A HAR file is one JSON
 * document, so it is parsed whole, in memory (several times its size as JS objects); streaming JSON
 * is out of scope. Bigger captures belong in JSONL or .gor, which are read line by line.
 */
export const HAR_MAX_BYTES = 256 * 1024 * 1024

/**
 * HarItem is one entry of a HAR document: its "line" (entry index + 1), its text for a report, its result.
 */
export interface HarItem {
  readonly line: number
  /** The entry as JSON, for a bad entry (what a report shows); empty for a good one. */
  readonly text: string
  readonly result: LineResult
}

/**
 * parseHar reads a HAR 1.2 document (`log.entries[]`) and yields one item per entry, in order, with
 * line = entry index + 1. A document that is not JSON, or has no `log.entries` array, yields a single
 * bad item at line 1 (there are no entries to number). Pure; the caller enforces {@link HAR_MAX_BYTES}.
 */
export function* parseHar(text: string): Generator<HarItem> {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    yield { line: 1, text: printable(text), result: bad(`json: ${printable((err as Error).message, 120)}`) }
    return
  }
  const log = isObject(doc) ? doc.log : undefined
  if (!isObject(log)) {
    yield { line: 1, text: printable(text), result: bad('log: expected an object') }
    return
  }
  if (!Array.isArray(log.entries)) {
    yield { line: 1, text: printable(text), result: bad('log.entries: expected an array') }
    return
  }
  for (const [i, entry] of log.entries.entries()) {
    const result = parseHarEntry(entry)
    // Re-serialising every entry doubled the parse; only a bad one is ever shown.
    const text = result.kind === 'bad' ? showEntry(entry) : ''
    yield { line: i + 1, text, result }
  }
}

/**
 * parseHarEntry reads one `log.entries[]` item: `startedDateTime`, `request.method`, `request.url`
 * (absolute; the target is its path and query, fragment dropped, percent-encoding kept, other
 * non-ASCII characters percent-encoded as UTF-8), `request.headers[{name, value}]` (only the replayed
 * ones are kept, lower-cased; HTTP/2 pseudo-headers are dropped with the rest) and `response.status`
 * (0, which browsers write for a request that got no answer, means no status).
 */
export function parseHarEntry(entry: unknown): LineResult {
  if (!isObject(entry)) return bad('entry: expected an object')
  if (typeof entry.startedDateTime !== 'string') return bad('startedDateTime: expected a string')
  const time = parseIsoDate(entry.startedDateTime)
  if (time === undefined) {
    return bad(`startedDateTime: not an ISO 8601 date (${quoted(entry.startedDateTime)})`)
  }
  const req = entry.request
  if (!isObject(req)) return bad('request: expected an object')
  if (typeof req.method !== 'string') return bad('request.method: expected a string')
  if (!isMethod(req.method)) return bad(`request.method: not an HTTP method (${quoted(req.method)})`)
  if (typeof req.url !== 'string') return bad('request.url: expected a string')
  // The path is taken from the URL text rather than through `new URL()`, which would resolve `..`
  // segments and re-encode characters: the replay must send what the browser sent.
  const url = req.url.replace(/#.*$/s, '')
  const path = /^https?:\/\//i.test(url) ? requestTarget(utf8AsLatin1(url)) : undefined
  if (path === undefined) return bad(`request.url: not an absolute http(s) URL (${quoted(req.url)})`)
  const fields: Array<[string, string]> = []
  if (req.headers !== undefined) {
    if (!Array.isArray(req.headers)) return bad('request.headers: expected an array')
    for (const [i, h] of req.headers.entries()) {
      if (!isObject(h)) return bad(`request.headers[${i}]: expected an object`)
      if (typeof h.name !== 'string') return bad(`request.headers[${i}].name: expected a string`)
      if (typeof h.value !== 'string') return bad(`request.headers[${i}].value: expected a string`)
      fields.push([h.name, h.value])
    }
  }
  const headers = pickHeaders(fields)
  const res = entry.response
  if (res === undefined) return record({ time, method: req.method, path, headers })
  if (!isObject(res)) return bad('response: expected an object')
  const status = res.status
  if (status === undefined) return bad('response.status: missing')
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 999) {
    return bad(
      `response.status: expected an integer from 0 to 999, got ${printable(JSON.stringify(status), 60)}`,
    )
  }
  return record(
    status === 0
      ? { time, method: req.method, path, headers }
      : { time, method: req.method, path, headers, status },
  )
}

/**
 * showEntry is a bad entry's text for a report. JSON.stringify recurses: an entry nested deeper than
 * the stack (20,000 arrays) throws RangeError, which must cost that entry its text, not the replay.
 */
function showEntry(entry: unknown): string {
  try {
    return printable(JSON.stringify(entry) ?? String(entry))
  } catch (err) {
    if (err instanceof RangeError) return '(an entry nested too deeply to show)'
    throw err
  }
}
