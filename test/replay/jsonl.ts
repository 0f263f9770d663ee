import t from 'tap'
import type { AccessRecord } from '../../src/telemetry/access-log.js'
import { parseJsonl } from '../../src/replay/parsers/jsonl.js'
import type { LineResult } from '../../src/replay/parsers/line-parser.js'

const AT = '2025-10-10T13:56:01.007Z'
const base: AccessRecord = {
  time: AT,
  remote: '127.0.0.1',
  method: 'GET',
  path: '/nums11.txt',
  headers: {},
  status: 200,
  bytes: 11,
  durationMs: 0.512,
  aborted: false,
}
/** line writes an AccessRecord as `serve --access-log` does, with some fields replaced or removed. */
const line = (patch: Record<string, unknown> = {}, drop: string[] = []) => {
  const r: Record<string, unknown> = { ...base, ...patch }
  for (const k of drop) delete r[k]
  return JSON.stringify(r)
}
const ok = (
  path: string,
  headers: Record<string, string> = {},
  status: number | null = 200,
  method = 'GET',
): LineResult => ({
  kind: 'record',
  request: { time: new Date(AT), method, path, headers, ...(status === null ? {} : { status }) },
})
const bad = (reason: string): LineResult => ({ kind: 'bad', reason })

const cases: Array<{ title: string; line: string; want: LineResult }> = [
  { title: 'a full AccessRecord', line: line(), want: ok('/nums11.txt') },
  {
    title: 'the logged headers are kept',
    line: line({ status: 206, headers: { range: 'bytes=0-1,5-6', 'if-range': '"0b-1"' } }),
    want: ok('/nums11.txt', { range: 'bytes=0-1,5-6', 'if-range': '"0b-1"' }, 206),
  },
  {
    title: 'header names are lower-cased and headers that do not matter are dropped',
    line: line({ headers: { 'If-None-Match': '"x"', cookie: 'secret', 'Accept-Encoding': 'gzip' } }),
    want: ok('/nums11.txt', { 'if-none-match': '"x"', 'accept-encoding': 'gzip' }),
  },
  {
    title: 'HEAD',
    line: line({ method: 'HEAD', path: '/data.json' }),
    want: ok('/data.json', {}, 200, 'HEAD'),
  },
  {
    title: 'percent-encoding is kept',
    line: line({ path: '/snow%20%E2%98%83.txt' }),
    want: ok('/snow%20%E2%98%83.txt'),
  },
  {
    title: 'a non-ASCII path is percent-encoded as UTF-8',
    line: line({ path: '/snow ☃.txt' }),
    want: ok('/snow%20%E2%98%83.txt'),
  },
  {
    title: 'unknown fields are allowed',
    line: line({ upstream: 'old', extra: { a: 1 } }),
    want: ok('/nums11.txt'),
  },
  { title: 'headers may be absent', line: line({}, ['headers']), want: ok('/nums11.txt') },
  {
    title: "a mirror's shadow request, as serve logs it",
    line: line({ shadow: true }),
    want: { kind: 'record', request: { time: new Date(AT), method: 'GET', path: '/nums11.txt', headers: {}, status: 200, shadow: true } },
  },
  { title: 'shadow false is a client request', line: line({ shadow: false }), want: ok('/nums11.txt') },
  { title: 'a shadow flag that is not a boolean', line: line({ shadow: 'yes' }), want: bad('shadow: expected a boolean') },
  { title: 'status may be absent', line: line({}, ['status']), want: ok('/nums11.txt', {}, null) },
  {
    title: 'a time with an offset',
    line: line({ time: '2025-10-10T15:56:01.007+02:00' }),
    want: ok('/nums11.txt'),
  },

  {
    title: 'not JSON',
    line: '\u0000 junk',
    want: bad('json: Unexpected token \'\\x00\', "\\x00 junk" is not valid JSON'),
  },
  {
    title: 'a truncated line',
    line: line().slice(0, 40),
    want: bad('json: Unterminated string in JSON at position 40'),
  },
  { title: 'a JSON array', line: '[1,2]', want: bad('line: expected a JSON object') },
  { title: 'JSON null', line: 'null', want: bad('line: expected a JSON object') },
  { title: 'no method', line: line({}, ['method']), want: bad('method: missing') },
  { title: 'a numeric method', line: line({ method: 42 }), want: bad('method: expected a string') },
  {
    title: 'a method with a space',
    line: line({ method: 'G T' }),
    want: bad('method: not an HTTP method ("G T")'),
  },
  { title: 'no path', line: line({}, ['path']), want: bad('path: missing') },
  {
    title: 'a path that is not a string',
    line: line({ path: ['/a'] }),
    want: bad('path: expected a string'),
  },
  {
    title: 'a path that is not a target',
    line: line({ path: 'nums11.txt' }),
    want: bad('path: not a request target ("nums11.txt")'),
  },
  { title: 'no time', line: line({}, ['time']), want: bad('time: missing') },
  { title: 'a numeric time', line: line({ time: 1760104561007 }), want: bad('time: expected a string') },
  {
    title: 'an impossible date',
    line: line({ time: '2025-13-45T13:56:14.098Z' }),
    want: bad('time: not an ISO 8601 date ("2025-13-45T13:56:14.098Z")'),
  },
  {
    title: 'a date without a zone',
    line: line({ time: '2025-10-10T13:56:14' }),
    want: bad('time: not an ISO 8601 date ("2025-10-10T13:56:14")'),
  },
  { title: 'headers as an array', line: line({ headers: [] }), want: bad('headers: expected an object') },
  {
    title: 'a numeric header value',
    line: line({ headers: { range: 5 } }),
    want: bad('headers.range: expected a string'),
  },
  {
    title: 'a string status',
    line: line({ status: '200' }),
    want: bad('status: expected an integer from 100 to 999, got "200"'),
  },
  {
    title: 'a fractional status',
    line: line({ status: 200.5 }),
    want: bad('status: expected an integer from 100 to 999, got 200.5'),
  },
  {
    title: 'status 0 (mirror --capture and serve --access-log write it for a request cancelled before any status) means no status',
    line: line({ status: 0, bytes: 0, aborted: true }),
    want: ok('/nums11.txt', {}, null),
  },
  ...[
    ['a non-Latin-1 character', '"\u2603"', '"\\"\u2603\\""'],
    ['CR LF', 'a\r\nx-injected: 1', '"a\\x0D\\x0Ax-injected: 1"'],
    ['NUL', 'a\u0000b', '"a\\x00b"'],
  ].map(([what, value, shown]) => ({
    title: `a header value a request cannot carry (${what}) is a bad line, not a request`,
    line: line({ headers: { 'if-none-match': value } }),
    want: bad(`headers.if-none-match: not a value a request can carry (CR, LF, NUL or a character above U+00FF): ${shown}`),
  })),
  { title: 'a numeric remote', line: line({ remote: 1 }), want: bad('remote: expected a string') },
  { title: 'a string size', line: line({ bytes: '11' }), want: bad('bytes: expected a number') },
  { title: 'a string aborted', line: line({ aborted: 'no' }), want: bad('aborted: expected a boolean') },
  {
    title: 'the payload of a serve --manifest record is kept; decision, client and manifest are not replayed',
    line: line({ payload: 'sdk-tools', decision: 'served', client: '192.0.2.7', manifest: '0123456789ab' }),
    want: { kind: 'record', request: { time: new Date(AT), method: 'GET', path: '/nums11.txt', headers: {}, status: 200, payload: 'sdk-tools' } },
  },
  {
    title: 'a denied request names its payload too',
    line: line({ status: 403, payload: 'eu-only', decision: 'deny:geo' }),
    want: { kind: 'record', request: { time: new Date(AT), method: 'GET', path: '/nums11.txt', headers: {}, status: 403, payload: 'eu-only' } },
  },
  { title: 'a plain miss names no payload', line: line({ status: 404, decision: 'miss' }), want: ok('/nums11.txt', {}, 404) },
  { title: 'an empty payload is no payload', line: line({ payload: '' }), want: ok('/nums11.txt') },
  { title: 'a numeric payload', line: line({ payload: 7 }), want: bad('payload: expected a string') },
  { title: 'a null payload', line: line({ payload: null }), want: bad('payload: expected a string') },
  { title: 'a payload that is an object', line: line({ payload: { name: 'x' } }), want: bad('payload: expected a string') },
]

t.test('parseJsonl reads cutover access-log lines', async t => {
  for (const c of cases) t.strictSame(parseJsonl(c.line), c.want, c.title)
})
