import t from 'tap'
import { parseCombined, parseTimeLocal, unescapeField } from '../../src/replay/parsers/combined.js'
import type { LineResult } from '../../src/replay/parsers/line-parser.js'

const TIME = '[10/Oct/2025:13:55:36 +0000]'
const AT = new Date('2025-10-10T13:55:36Z')
/** nginx builds a combined line with a trailing "$http_range" field. */
const nginx = (request: string, status = '200', range = '-', size = '11') =>
  `192.0.2.10 - - ${TIME} "${request}" ${status} ${size} "-" "curl/7.88.1" "${range}"`
const ok = (
  method: string,
  path: string,
  headers: Record<string, string> = {},
  status = 200,
): LineResult => ({
  kind: 'record',
  request: { time: AT, method, path, headers, status },
})
const bad = (reason: string): LineResult => ({ kind: 'bad', reason })
/** latin1 gives the line as the reader decodes it: one character per byte of the UTF-8 text. */
const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1')

const cases: Array<{ title: string; line: string; format?: 'combined' | 'common'; want: LineResult }> = [
  { title: 'a plain GET', line: nginx('GET /nums11.txt HTTP/1.1'), want: ok('GET', '/nums11.txt') },
  {
    title: 'the trailing range field restores the Range header',
    line: nginx('GET /nums11.txt HTTP/1.1', '206', 'bytes=0-4'),
    want: ok('GET', '/nums11.txt', { range: 'bytes=0-4' }, 206),
  },
  {
    title: 'a multi-range is kept as logged',
    line: nginx('GET /nums11.txt HTTP/1.1', '206', 'bytes=0-1,5-6'),
    want: ok('GET', '/nums11.txt', { range: 'bytes=0-1,5-6' }, 206),
  },
  {
    title: 'a suffix range is kept',
    line: nginx('GET /some%20thing.txt HTTP/1.1', '206', 'bytes=-3'),
    want: ok('GET', '/some%20thing.txt', { range: 'bytes=-3' }, 206),
  },
  {
    title: 'a range with another unit case is still a range (the servers must judge it)',
    line: nginx('GET /nums11.txt HTTP/1.1', '416', 'Bytes=0-1'),
    want: ok('GET', '/nums11.txt', { range: 'Bytes=0-1' }, 416),
  },
  { title: '"-" in the range field means no Range', line: nginx('GET /a HTTP/1.1'), want: ok('GET', '/a') },
  {
    title: 'a trailing field that is not a range is ignored',
    line: `192.0.2.10 - - ${TIME} "GET /a HTTP/1.1" 200 11 "-" "curl/7.88.1" "10.0.0.1"`,
    want: ok('GET', '/a'),
  },
  {
    title: 'unquoted trailing fields (e.g. $request_time) are ignored',
    line: `192.0.2.10 - - ${TIME} "GET /a HTTP/1.1" 200 11 "-" "curl/7.88.1" 0.003 -`,
    want: ok('GET', '/a'),
  },
  {
    title: 'a combined line without the range field',
    line: `192.0.2.10 - alice ${TIME} "GET /a HTTP/1.1" 200 11 "https://example.com/" "Mozilla/5.0 (X11)"`,
    want: ok('GET', '/a'),
  },
  { title: 'HEAD', line: nginx('HEAD /data.json HTTP/1.1', '200', '-', '0'), want: ok('HEAD', '/data.json') },
  { title: 'an HTTP/2 request line', line: nginx('GET /data.json HTTP/2.0'), want: ok('GET', '/data.json') },
  {
    title: 'an HTTP/0.9 request line has no protocol',
    line: nginx('GET /nums11.txt'),
    want: ok('GET', '/nums11.txt'),
  },
  {
    title: 'a 404',
    line: nginx('GET /missing.bin HTTP/1.1', '404', '-', '153'),
    want: ok('GET', '/missing.bin', {}, 404),
  },
  {
    title: 'percent-encoding in the target is kept as the client sent it',
    line: nginx('GET /snow%20%E2%98%83.txt?a=%2F HTTP/1.1'),
    want: ok('GET', '/snow%20%E2%98%83.txt?a=%2F'),
  },
  {
    title: 'nginx \\xXX escapes of raw bytes come back as bytes, then percent-encoded',
    line: nginx('GET /snow\\xE2\\x98\\x83.txt HTTP/1.1', '404'),
    want: ok('GET', '/snow%E2%98%83.txt', {}, 404),
  },
  {
    title: 'lower-case hex escapes (Apache) work too',
    line: nginx('GET /snow\\xe2\\x98\\x83.txt HTTP/1.1', '404'),
    want: ok('GET', '/snow%E2%98%83.txt', {}, 404),
  },
  {
    title: 'nginx escapes a quote as \\x22; the target gets the raw quote back',
    line: nginx('GET /say\\x22hi\\x22.txt HTTP/1.1', '404'),
    want: ok('GET', '/say"hi".txt', {}, 404),
  },
  {
    title: 'Apache escapes a quote as \\" and a backslash as \\\\',
    line: nginx('GET /say\\"hi\\".txt?p=a\\\\b HTTP/1.1', '404'),
    want: ok('GET', '/say"hi".txt?p=a\\b', {}, 404),
  },
  {
    title: 'escaped quotes in the user agent do not end the field',
    line: `192.0.2.10 - - ${TIME} "GET /a HTTP/1.1" 200 11 "-" "raw \\x22q\\x22 \\" \\\\" "bytes=1-2"`,
    want: ok('GET', '/a', { range: 'bytes=1-2' }),
  },
  {
    title: 'raw non-ASCII bytes (escape=none logs) are percent-encoded',
    line: latin1(nginx('GET /snow ☃.txt HTTP/1.1', '400')),
    want: ok('GET', '/snow%20%E2%98%83.txt', {}, 400),
  },
  {
    title: 'a raw space in the target (logged with a 400) is percent-encoded',
    line: nginx('GET /some thing.txt HTTP/1.1', '400'),
    want: ok('GET', '/some%20thing.txt', {}, 400),
  },
  {
    title: 'an absolute-form target is reduced to its path and query',
    line: nginx('GET http://downloads.example.com/nums11.txt?x=1 HTTP/1.1'),
    want: ok('GET', '/nums11.txt?x=1'),
  },
  {
    title: 'the time zone offset is applied',
    line: `192.0.2.10 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 11 "-" "-" "-"`,
    want: {
      kind: 'record',
      request: {
        time: new Date('2000-10-10T20:55:36Z'),
        method: 'GET',
        path: '/a',
        headers: {},
        status: 200,
      },
    },
  },
  {
    title: 'common: Apache %h %l %u %t "%r" %>s %b with "-" for no bytes',
    line: `192.0.2.22 - frank ${TIME} "HEAD /data.json HTTP/1.0" 200 -`,
    format: 'common',
    want: ok('HEAD', '/data.json'),
  },
  {
    title: 'common with a trailing range field',
    line: `192.0.2.22 - - ${TIME} "GET /nums11.txt HTTP/1.1" 206 5 "bytes=0-4"`,
    format: 'common',
    want: ok('GET', '/nums11.txt', { range: 'bytes=0-4' }, 206),
  },
  {
    title: 'common reads a combined line, ignoring referer and user agent',
    line: nginx('GET /nums11.txt HTTP/1.1', '206', 'bytes=0-4'),
    format: 'common',
    want: ok('GET', '/nums11.txt', {}, 206),
  },

  // Bad lines: each reason names the field.
  {
    title: 'a TLS handshake sent to the HTTP port',
    line: nginx('\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03', '400'),
    want: bad(
      'request: not "METHOD TARGET PROTOCOL" ("\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03")',
    ),
  },
  { title: 'a "-" request line', line: nginx('-', '400'), want: bad('request: missing ("-")') },
  { title: 'an empty request line', line: nginx('', '400'), want: bad('request: missing ("")') },
  {
    title: 'a request line of one word',
    line: nginx('GET', '400'),
    want: bad('request: not "METHOD TARGET PROTOCOL" ("GET")'),
  },
  {
    title: 'a request line with a bad protocol',
    line: nginx('GET /a b FTP/1.0', '400'),
    want: bad('request: not "METHOD TARGET PROTOCOL" ("GET /a b FTP/1.0")'),
  },
  {
    title: 'a request line with a double space',
    line: nginx('GET  /a HTTP/1.1', '400'),
    want: bad('request: not "METHOD TARGET PROTOCOL" ("GET  /a HTTP/1.1")'),
  },
  {
    title: 'an OPTIONS * target',
    line: nginx('OPTIONS * HTTP/1.1'),
    want: bad('request: target is not a path ("OPTIONS * HTTP/1.1")'),
  },
  {
    title: 'a line cut inside the request',
    line: `192.0.2.15 - - ${TIME} "GET /nums11.txt HTT`,
    want: bad('request: no closing quote ("GET /nums11.txt HTT")'),
  },
  { title: 'a line cut before the request', line: `192.0.2.15 - - ${TIME}`, want: bad('request: missing') },
  {
    title: 'a line cut before the status',
    line: `192.0.2.15 - - ${TIME} "GET /a HTTP/1.1"`,
    want: bad('status: missing'),
  },
  {
    title: 'a line cut before the size',
    line: `192.0.2.15 - - ${TIME} "GET /a HTTP/1.1" 200`,
    want: bad('body_bytes_sent: missing'),
  },
  {
    title: 'combined needs the referer',
    line: `192.0.2.15 - - ${TIME} "GET /a HTTP/1.1" 200 11`,
    want: bad('http_referer: missing'),
  },
  {
    title: 'a line cut inside the user agent',
    line: `192.0.2.15 - - ${TIME} "GET /a HTTP/1.1" 200 11 "-" "curl/7.`,
    want: bad('http_user_agent: no closing quote ("curl/7.")'),
  },
  {
    title: 'a status of letters',
    line: nginx('GET /a HTTP/1.1', '2OO'),
    want: bad('status: not a 3-digit code ("2OO")'),
  },
  {
    title: 'a 2-digit status',
    line: nginx('GET /a HTTP/1.1', '20'),
    want: bad('status: not a 3-digit code ("20")'),
  },
  {
    title: 'a 4-digit status',
    line: nginx('GET /a HTTP/1.1', '2000'),
    want: bad('status: not a 3-digit code ("2000")'),
  },
  {
    title: 'a size that is not a number',
    line: nginx('GET /a HTTP/1.1', '200', '-', '1k'),
    want: bad('body_bytes_sent: not a number ("1k")'),
  },
  {
    title: 'a day that does not exist',
    line: nginx('GET /a HTTP/1.1').replace(TIME, '[31/Feb/2025:13:55:36 +0000]'),
    want: bad('time_local: not a date ("31/Feb/2025:13:55:36 +0000")'),
  },
  {
    title: 'an unknown month',
    line: nginx('GET /a HTTP/1.1').replace(TIME, '[10/Foo/2025:13:55:36 +0000]'),
    want: bad('time_local: not a date ("10/Foo/2025:13:55:36 +0000")'),
  },
  {
    title: 'an ISO date where time_local belongs',
    line: nginx('GET /a HTTP/1.1').replace(TIME, '[2025-10-10T13:55:36Z]'),
    want: bad('time_local: not a date ("2025-10-10T13:55:36Z")'),
  },
  {
    title: 'a time without its closing bracket',
    line: '192.0.2.15 - - [10/Oct/2025:13:55:36 +0000 "GET /a HTTP/1.1"',
    want: bad('time_local: no closing "]" ("[10/Oct/2025:13:55:36 +0000 \\"GET /a HTTP/1.1\\"")'),
  },
  {
    title: 'binary junk',
    line: latin1('\u0000\u0001\u00ff junk'),
    want: bad('line: not "host ident user [time] ..." ("\\x00\\x01\\xC3\\xBF junk")'),
  },
  {
    title: 'another format (JSON)',
    line: '{"time":"x"}',
    want: bad('line: not "host ident user [time] ..." ("{\\"time\\":\\"x\\"}")'),
  },
  {
    title: 'text glued to a closing quote',
    line: `192.0.2.15 - - ${TIME} "GET /a HTTP/1.1"x 200 11 "-" "-"`,
    want: bad('request: text after the closing quote ("x 200 11 \\"-\\" \\"-\\"")'),
  },
]

t.test('parseCombined reads nginx and Apache lines', async t => {
  for (const c of cases)
    t.strictSame(parseCombined(c.line, { format: c.format ?? 'combined' }), c.want, c.title)
})

t.test('parseCombined defaults to the combined format', async t => {
  t.strictSame(parseCombined(`192.0.2.15 - - ${TIME} "GET /a HTTP/1.1" 200 11`), bad('http_referer: missing'))
})

t.test('unescapeField restores the bytes nginx and Apache escaped, as latin1', async t => {
  const cases: Array<[string, string, number[]]> = [
    ['plain text', 'GET /a', [...Buffer.from('GET /a')]],
    ['nginx hex escapes', '\\xE2\\x98\\x83', [0xe2, 0x98, 0x83]],
    ['Apache quote and backslash', '\\"\\\\', [0x22, 0x5c]],
    ['Apache control escapes', '\\n\\r\\t\\b\\f\\v', [10, 13, 9, 8, 12, 11]],
    ['a backslash before another letter is literal', '\\q', [0x5c, 0x71]],
    ['a short hex escape is literal', '\\x4', [0x5c, 0x78, 0x34]],
    ['a trailing backslash is literal', 'a\\', [0x61, 0x5c]],
    ['latin1 characters are bytes', '\u00e9', [0xe9]],
  ]
  for (const [title, s, want] of cases)
    t.strictSame([...Buffer.from(unescapeField(s), 'latin1')], want, title)
})

t.test('parseTimeLocal reads $time_local and rejects impossible times', async t => {
  const cases: Array<[string, Date | undefined]> = [
    ['10/Oct/2000:13:55:36 -0700', new Date('2000-10-10T20:55:36Z')],
    ['01/Jan/2024:00:00:00 +0530', new Date('2023-12-31T18:30:00Z')],
    ['29/Feb/2024:12:00:00 +0000', new Date('2024-02-29T12:00:00Z')],
    ['29/Feb/2023:12:00:00 +0000', undefined],
    ['10/oct/2000:13:55:36 -0700', undefined],
    ['10/Oct/2000:24:00:00 -0700', undefined],
    ['10/Oct/2000:13:60:00 -0700', undefined],
    ['10/Oct/2000:13:55:36 -2400', undefined],
    ['10/Oct/2000:13:55:36', undefined],
    ['1/Oct/2000:13:55:36 -0700', undefined],
  ]
  for (const [s, want] of cases) t.strictSame(parseTimeLocal(s), want, s)
})

/** The log formats the README gives to paste (the `cutover replay` section), exactly. */
const README_NGINX = `log_format cutover '$remote_addr - $remote_user [$time_local] "$request" '
                   '$status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_range"';`
const README_APACHE = 'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\" \\"%{Range}i\\"" cutover'

t.test('the nginx log_format and Apache LogFormat of the README parse, Range included', async t => {
  const { readFileSync } = await import('node:fs')
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('### `cutover replay`'), readme.indexOf('### `cutover report`'))
  t.ok(section.includes(README_NGINX), 'the README gives this nginx format')
  t.ok(section.includes(README_APACHE), 'the README gives this Apache format')
  // The values a server puts in each variable for a ranged download by curl.
  const nginxVars: Record<string, string> = {
    remote_addr: '192.0.2.10', remote_user: '-', time_local: '10/Oct/2025:13:55:36 +0000',
    request: 'GET /nums11.txt?a=b HTTP/1.1', status: '206', body_bytes_sent: '5',
    http_referer: '-', http_user_agent: 'curl/8.5.0', http_range: 'bytes=0-4',
  }
  const apacheVars: Record<string, string> = {
    '%h': '192.0.2.10', '%l': '-', '%u': '-', '%t': '[10/Oct/2025:13:55:36 +0000]', '%r': 'GET /nums11.txt?a=b HTTP/1.1',
    '%>s': '206', '%b': '5', '%{Referer}i': '-', '%{User-Agent}i': 'curl/8.5.0', '%{Range}i': 'bytes=0-4',
  }
  // nginx joins the quoted pieces of log_format; Apache's format is one quoted string with \" inside.
  const nginxFormat = [...README_NGINX.matchAll(/'([^']*)'/g)].map(m => m[1]).join('')
  const apacheFormat = /^LogFormat "(.*)" cutover$/.exec(README_APACHE)![1]!.replace(/\\"/g, '"')
  const nginxLine = nginxFormat.replace(/\$([a-z_]+)/g, (_, v: string) => nginxVars[v] ?? `MISSING(${v})`)
  const apacheLine = apacheFormat.replace(/%(\{[^}]+\}i|>s|[a-z])/g, m => apacheVars[m] ?? `MISSING(${m})`)
  const want = { kind: 'record', request: { time: AT, method: 'GET', path: '/nums11.txt?a=b', headers: { range: 'bytes=0-4' }, status: 206 } }
  for (const [name, line] of [['nginx', nginxLine], ['Apache', apacheLine]] as const) {
    t.notMatch(line, /MISSING/, `${name}: every variable has a value`)
    t.strictSame(parseCombined(line), want, `${name}: ${line}`)
    t.strictSame(parseCombined(line.replace('"bytes=0-4"', '"-"').replace(' 206 ', ' 200 ')).kind, 'record', `${name}: without a Range`)
  }
})
