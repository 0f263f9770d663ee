import { parseIsoDate } from './iso-date.js'
import { bad, isObject, type LineResult, pickHeaders, printable, quoted, record } from './line-parser.js'
import { isMethod, requestTarget, utf8AsLatin1 } from './request-target.js'

/**
 * parseJsonl reads one line of cutover's own JSONL access log (an `AccessRecord` of
 * core/access-log.ts, written by `serve --access-log` and `mirror --capture`), decoded as UTF-8.
 *
 * Required: `method` (an HTTP token), `path` (a request target), `time` (ISO 8601 with a zone).
 * Checked when present: `headers` (an object of strings; only the replayed ones are kept, names
 * lower-cased; a value no request can carry makes the line bad), `status` (an integer 100-999, or 0,
 * which `serve` and `mirror` write for a request cancelled before any status, and which means none), `remote` (a string), `bytes` and `durationMs` (numbers),
 * `aborted` (a boolean), `payload` (a string: the manifest payload that answered, kept on the record;
 * an empty one counts as absent). Unknown fields are allowed, so newer writers stay readable.
 *
 * `path` is what Node.js gave as `req.url`. Node answers 400 to a raw non-ASCII byte in a target
 * (HPE_INVALID_URL), so a path cutover wrote is ASCII; a non-ASCII character comes from a log written
 * by hand or by another tool and is percent-encoded as UTF-8 by {@link requestTarget}.
 *
 * An asterisk-form (`OPTIONS *`) or CONNECT authority-form target is `skipped`: a line cutover
 * writes, but no path to replay. Pure; a line it cannot read is a `bad` result naming the field
 * (`method: expected a string`).
 */
export function parseJsonl(line: string): LineResult {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch (err) {
    return bad(`json: ${printable((err as Error).message, 120)}`)
  }
  if (!isObject(v)) return bad('line: expected a JSON object')

  if (v.time === undefined) return bad('time: missing')
  if (typeof v.time !== 'string') return bad('time: expected a string')
  const time = parseIsoDate(v.time)
  if (time === undefined) return bad(`time: not an ISO 8601 date (${quoted(v.time)})`)

  if (v.method === undefined) return bad('method: missing')
  if (typeof v.method !== 'string') return bad('method: expected a string')
  if (!isMethod(v.method)) return bad(`method: not an HTTP method (${quoted(v.method)})`)

  if (v.path === undefined) return bad('path: missing')
  if (typeof v.path !== 'string') return bad('path: expected a string')
  // `OPTIONS *` and CONNECT's authority-form are requests cutover logs like any other, but not
  // downloads a replay can send to a path: counted as skipped, not bad (the log is not corrupt).
  if (v.path === '*' || (v.method === 'CONNECT' && !v.path.startsWith('/'))) {
    return { kind: 'skipped', reason: `path: ${quoted(v.path)} is not a path a replay can send` }
  }
  const path = requestTarget(utf8AsLatin1(v.path))
  if (path === undefined) return bad(`path: not a request target (${quoted(v.path)})`)

  const fields: Array<[string, string]> = []
  if (v.headers !== undefined) {
    if (!isObject(v.headers)) return bad('headers: expected an object')
    for (const [name, value] of Object.entries(v.headers)) {
      if (typeof value !== 'string') return bad(`headers.${name}: expected a string`)
      fields.push([name, value])
    }
  }

  let status: number | undefined
  // 0 is what cutover writes when no status was sent (a request cancelled before its answer).
  if (v.status !== undefined && v.status !== 0) {
    if (typeof v.status !== 'number' || !Number.isInteger(v.status) || v.status < 100 || v.status > 999) {
      return bad(
        `status: expected an integer from 100 to 999, got ${printable(JSON.stringify(v.status), 60)}`,
      )
    }
    status = v.status
  }
  for (const [name, type] of OPTIONAL_FIELDS) {
    if (v[name] !== undefined && typeof v[name] !== type) return bad(`${name}: expected a ${type}`)
  }

  const headers = pickHeaders(fields)
  return record({
    time,
    method: v.method,
    path,
    headers,
    ...(status === undefined ? {} : { status }),
    ...(v.shadow === true ? { shadow: true } : {}),
    // Checked to be a string above; an empty name is no payload (no manifest payload has one).
    ...(typeof v.payload === 'string' && v.payload !== '' ? { payload: v.payload } : {}),
  })
}

/** OPTIONAL_FIELDS are the other AccessRecord fields: not replayed (`shadow` and `payload` are kept on the record), but a wrong type means a corrupt line. */
const OPTIONAL_FIELDS: ReadonlyArray<readonly [string, 'string' | 'number' | 'boolean']> = [
  ['remote', 'string'],
  ['bytes', 'number'],
  ['durationMs', 'number'],
  ['aborted', 'boolean'],
  ['shadow', 'boolean'],
  ['payload', 'string'],
]
