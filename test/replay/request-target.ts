import t from 'tap'
import { parseCombined } from '../../src/replay/parsers/combined.js'
import {
  pickHeaders,
  printable,
  printableBytes,
  quoted,
  quotedBytes,
} from '../../src/replay/parsers/line-parser.js'
import { isMethod, requestTarget } from '../../src/replay/parsers/request-target.js'

t.test('requestTarget keeps percent-encoding and encodes raw bytes', async t => {
  const cases: Array<[string, Buffer, string | undefined]> = [
    ['a plain path', Buffer.from('/nums11.txt'), '/nums11.txt'],
    ['percent-encoding is kept, not decoded', Buffer.from('/snow%20%E2%98%83.txt'), '/snow%20%E2%98%83.txt'],
    ['lower-case percent-encoding is kept', Buffer.from('/a%2fb'), '/a%2fb'],
    ['a stray percent sign is kept', Buffer.from('/100%'), '/100%'],
    ['UTF-8 bytes are percent-encoded', Buffer.from('/snow☃.txt'), '/snow%E2%98%83.txt'],
    ['a latin1 byte is percent-encoded', Buffer.from([0x2f, 0xe9]), '/%E9'],
    ['a space is percent-encoded', Buffer.from('/some thing.txt'), '/some%20thing.txt'],
    ['control bytes and DEL are percent-encoded', Buffer.from([0x2f, 0x00, 0x09, 0x7f]), '/%00%09%7F'],
    ['printable ASCII is kept, quotes and braces too', Buffer.from('/a"{|}\\^`'), '/a"{|}\\^`'],
    ['dot segments are kept', Buffer.from('/a/../b/./c'), '/a/../b/./c'],
    ['absolute-form keeps path and query', Buffer.from('http://example.com:8080/a?b=1'), '/a?b=1'],
    ['absolute-form without a path', Buffer.from('HTTPS://example.com'), '/'],
    ['absolute-form with a query only', Buffer.from('http://example.com?x'), '/?x'],
    ['asterisk-form is not a path', Buffer.from('*'), undefined],
    ['authority-form is not a path', Buffer.from('example.com:443'), undefined],
    ['an empty target', Buffer.from(''), undefined],
  ]
  for (const [title, bytes, want] of cases) t.equal(requestTarget(bytes.toString('latin1')), want, title)
})

t.test('nginx \\x unescaping restores a non-ASCII path as the HTTP client sends it', async t => {
  const line = (request: string) =>
    `192.0.2.10 - - [10/Oct/2025:13:55:36 +0000] "${request}" 404 153 "-" "curl/7.88.1" "-"`
  const cases: Array<[string, string, string]> = [
    // A client sent the raw UTF-8 bytes of ☃; nginx logged them escaped.
    ['escaped raw bytes', line('GET /snow\\xE2\\x98\\x83.txt HTTP/1.1'), '/snow%E2%98%83.txt'],
    // The same bytes written raw in the log (escape=none): decoded as latin1 by the reader.
    [
      'raw bytes in the log',
      Buffer.from(line('GET /snow☃.txt HTTP/1.1'), 'utf8').toString('latin1'),
      '/snow%E2%98%83.txt',
    ],
    // A well-behaved client percent-encoded them: nothing to undo.
    ['percent-encoded by the client', line('GET /snow%20%E2%98%83.txt HTTP/1.1'), '/snow%20%E2%98%83.txt'],
    ['an escaped space and quote', line('GET /say\\x20\\x22hi\\x22.txt HTTP/1.1'), '/say%20"hi".txt'],
  ]
  for (const [title, l, want] of cases) {
    const r = parseCombined(l)
    t.equal(r.kind === 'record' ? r.request.path : r.reason, want, title)
    // The target is what an HTTP client can send: every byte printable ASCII.
    if (r.kind === 'record') t.match(r.request.path, /^[\x21-\x7e]+$/, `${title}: the target is sendable`)
  }
  // Percent-decoding the target gives back the exact bytes of the file name on disk.
  const r = parseCombined(line('GET /snow\\x20\\xE2\\x98\\x83.txt HTTP/1.1'))
  t.equal(
    r.kind === 'record' && decodeURIComponent(r.request.path),
    '/snow ☃.txt',
    'decodes to the fixture blob name',
  )
})

t.test('isMethod accepts tokens only', async t => {
  for (const m of ['GET', 'HEAD', 'PROPFIND', 'M-SEARCH', 'get']) t.ok(isMethod(m), m)
  for (const m of ['', 'G T', 'GET\u0000', '\u0016\u0003', 'GE"T']) t.notOk(isMethod(m), JSON.stringify(m))
})

t.test('pickHeaders keeps the replayed headers, lower-cased, joining repeats', async t => {
  t.strictSame(
    pickHeaders([
      ['Range', 'bytes=0-1'],
      ['If-None-Match', '"a"'],
      ['if-none-match', '"b"'],
      ['Authorization', 'secret'],
      ['Accept-Encoding', 'gzip'],
      ['If-Modified-Since', 'x'],
      ['If-Unmodified-Since', 'y'],
      ['If-Match', '"c"'],
      ['If-Range', '"d"'],
    ]),
    {
      range: 'bytes=0-1',
      'if-none-match': '"a", "b"',
      'accept-encoding': 'gzip',
      'if-modified-since': 'x',
      'if-unmodified-since': 'y',
      'if-match': '"c"',
      'if-range': '"d"',
    },
  )
})

t.test('printable and quoted make text safe to show', async t => {
  t.equal(printable('a\u0000b\u001bc\u007f\u0085 ☃ "q"'), 'a\\x00b\\x1Bc\\x7F\\x85 ☃ "q"')
  t.equal(printableBytes('a\u0000 \u00e2\u0098\u0083 "q"'), 'a\\x00 \\xE2\\x98\\x83 "q"')
  t.equal(quoted('a "b" \\ ☃'), '"a \\"b\\" \\\\ ☃"')
  t.equal(quotedBytes('a "b" \\ \u00ff'), '"a \\"b\\" \\\\ \\xFF"')
  t.equal(printable('x'.repeat(300)).length, 200, 'long text is cut to 200 characters')
  t.equal(printable('x'.repeat(300)).slice(-1), '…', 'and marked')
  t.equal(printable('x'.repeat(200)), 'x'.repeat(200), 'text of exactly the limit is kept')
  t.equal(quoted('x'.repeat(100)).length, 62, 'a quoted value is at most 60 characters')
})
