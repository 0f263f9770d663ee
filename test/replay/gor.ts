import t from 'tap'
import {
  GOR_MAX_HEAD_LINES,
  GOR_SEPARATOR,
  type GorRecord,
  parseGorRecord,
  splitGorRecords,
} from '../../src/replay/parsers/gor.js'
import type { LineResult } from '../../src/replay/parsers/line-parser.js'

const NS = '1760104620001250000'
const AT = new Date('2025-10-10T13:57:00.001Z')
const META = `1 8f3a2b1c0d9e8f7a6b5c4d3e ${NS} 0`
const rec = (...head: string[]): GorRecord => ({ line: 1, head, truncated: false, cut: false })
const ok = (path: string, headers: Record<string, string> = {}, method = 'GET'): LineResult => ({
  kind: 'record',
  request: { time: AT, method, path, headers },
})
const bad = (reason: string): LineResult => ({ kind: 'bad', reason })
const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1')

const cases: Array<{ title: string; r: GorRecord; want: LineResult }> = [
  {
    title: 'a request record cut before the blank line that ends its headers is bad, not sent as if complete',
    r: { ...rec(META, 'GET /nums11.txt HTTP/1.1', 'Range: bytes=0-'), cut: true },
    want: bad('headers: cut before the blank line that ends them (a record written in part)'),
  },
  {
    title: 'a response record cut short is still skipped',
    r: { ...rec(`2 8f3a ${NS} 1`, 'HTTP/1.1 200 OK'), cut: true },
    want: { kind: 'skipped', reason: 'response record (type 2)' },
  },
  {
    title: 'a GET',
    r: rec(META, 'GET /nums11.txt HTTP/1.1', 'Host: d.example.com'),
    want: ok('/nums11.txt'),
  },
  {
    title: 'the headers that matter are kept, lower-cased',
    r: rec(
      META,
      'GET /nums11.txt HTTP/1.1',
      'Host: x',
      'Range: bytes=0-1,5-6',
      'IF-RANGE:"e"',
      'Accept-Encoding:  gzip ',
      'Cookie: a=b',
    ),
    want: ok('/nums11.txt', { range: 'bytes=0-1,5-6', 'if-range': '"e"', 'accept-encoding': 'gzip' }),
  },
  {
    title: 'a repeated header is joined with a comma',
    r: rec(META, 'GET /a HTTP/1.1', 'If-None-Match: "a"', 'If-None-Match: "b"'),
    want: ok('/a', { 'if-none-match': '"a", "b"' }),
  },
  {
    title: 'a folded header line continues the previous one',
    r: rec(META, 'GET /a HTTP/1.1', 'Range: bytes=0-1,', '  5-6'),
    want: ok('/a', { range: 'bytes=0-1, 5-6' }),
  },
  { title: 'an older meta line without latency', r: rec(`1 8f3a ${NS}`, 'GET /a HTTP/1.1'), want: ok('/a') },
  {
    title: 'a 40-digit id and a negative latency',
    r: rec(`1 ${'ab'.repeat(20)} ${NS} -1`, 'GET /a HTTP/1.1'),
    want: ok('/a'),
  },
  { title: 'HEAD', r: rec(META, 'HEAD /data.json HTTP/1.0'), want: ok('/data.json', {}, 'HEAD') },
  {
    title: 'raw non-ASCII bytes in the target are percent-encoded',
    r: rec(META, latin1('GET /snow ☃.txt HTTP/1.1').replace('snow ', 'snow')),
    want: ok('/snow%E2%98%83.txt'),
  },
  {
    title: 'percent-encoding is kept',
    r: rec(META, 'GET /some%20thing.txt HTTP/1.1'),
    want: ok('/some%20thing.txt'),
  },
  {
    title: 'a response record is skipped',
    r: rec(`2 8f3a ${NS} 350000`, 'HTTP/1.1 200 OK'),
    want: { kind: 'skipped', reason: 'response record (type 2)' },
  },
  {
    title: 'a replayed response is skipped',
    r: rec(`3 8f3a ${NS} 1`, 'HTTP/1.1 404 Not Found'),
    want: { kind: 'skipped', reason: 'response record (type 3)' },
  },

  {
    title: 'a bad meta line',
    r: rec('1 not-hex 1 0', 'GET / HTTP/1.1'),
    want: bad('meta: expected "<type> <id> <unix-ns> <latency>" ("1 not-hex 1 0")'),
  },
  {
    title: 'no meta line',
    r: rec('GET / HTTP/1.1'),
    want: bad('meta: expected "<type> <id> <unix-ns> <latency>" ("GET / HTTP/1.1")'),
  },
  {
    title: 'an unknown type',
    r: rec(`4 8f3a ${NS} 0`, 'GET / HTTP/1.1'),
    want: bad('meta: unknown record type ("4")'),
  },
  { title: 'no request line', r: rec(META), want: bad('request: missing') },
  {
    title: 'a timestamp past the end of time',
    r: rec(`1 8f3a ${'9'.repeat(30)} 0`, 'GET / HTTP/1.1'),
    want: bad(`meta: timestamp out of range ("${'9'.repeat(30)}")`),
  },
  {
    title: 'no protocol',
    r: rec(META, 'GET /nums11.txt'),
    want: bad('request: not "METHOD TARGET HTTP/x.y" ("GET /nums11.txt")'),
  },
  {
    title: 'binary junk',
    r: rec(META, latin1('\u0016\u0003\u0001\u0002\u0000')),
    want: bad('request: not "METHOD TARGET HTTP/x.y" ("\\x16\\x03\\x01\\x02\\x00")'),
  },
  {
    title: 'an OPTIONS * target',
    r: rec(META, 'OPTIONS * HTTP/1.1'),
    want: bad('request: target is not a path ("*")'),
  },
  {
    title: 'a header line without a colon',
    r: rec(META, 'GET / HTTP/1.1', 'Host: x', 'no colon here'),
    want: bad('headers: not "name: value" on record line 4 ("no colon here")'),
  },
  {
    title: 'a header with an empty name',
    r: rec(META, 'GET / HTTP/1.1', ': x'),
    want: bad('headers: not "name: value" on record line 3 (": x")'),
  },
  {
    title: 'a head over the line limit',
    r: { line: 1, head: [META, 'GET / HTTP/1.1'], truncated: true, cut: false },
    want: bad(`headers: more than ${GOR_MAX_HEAD_LINES} lines`),
  },
]

t.test('parseGorRecord reads GoReplay records', async t => {
  for (const c of cases) t.strictSame(parseGorRecord(c.r), c.want, c.title)
})

async function* from(lines: string[]) {
  yield* lines
}

t.test('splitGorRecords keeps each record head and its first line number', async t => {
  const lines = [
    '', // a blank line before the first record
    META,
    'GET /a HTTP/1.1',
    'Host: x',
    '',
    '',
    GOR_SEPARATOR,
    `2 8f3a ${NS} 1`,
    'HTTP/1.1 200 OK',
    '',
    'body line',
    '',
    'more body',
    GOR_SEPARATOR,
    META,
    'POST /b HTTP/1.1',
    'Content-Length: 3',
    '',
    'abc',
    GOR_SEPARATOR,
    GOR_SEPARATOR, // an empty record is not a record
    META,
    'GET /c HTTP/1.1', // the last record has no separator, and the file ends mid-header
  ]
  const got = []
  for await (const r of splitGorRecords(from(lines))) got.push(r)
  t.strictSame(got, [
    { line: 2, head: [META, 'GET /a HTTP/1.1', 'Host: x'], truncated: false, cut: false },
    { line: 8, head: [`2 8f3a ${NS} 1`, 'HTTP/1.1 200 OK'], truncated: false, cut: false },
    { line: 15, head: [META, 'POST /b HTTP/1.1', 'Content-Length: 3'], truncated: false, cut: false },
    { line: 22, head: [META, 'GET /c HTTP/1.1'], truncated: false, cut: true },
  ])
})

t.test('splitGorRecords bounds the head of a record whose headers never end', async t => {
  const lines = [
    META,
    'GET / HTTP/1.1',
    ...Array.from({ length: 5000 }, (_, i) => `X-${i}: y`),
    GOR_SEPARATOR,
  ]
  const got = []
  for await (const r of splitGorRecords(from(lines))) got.push(r)
  t.equal(got.length, 1)
  t.equal(got[0]!.head.length, GOR_MAX_HEAD_LINES)
  t.equal(got[0]!.truncated, true)
})

t.test('splitGorRecords marks a record whose separator comes before the end of its headers as cut', async t => {
  const got = []
  for await (const r of splitGorRecords(from([META, 'GET /a HTTP/1.1', 'Host: x', GOR_SEPARATOR, META, 'GET /b HTTP/1.1', '', GOR_SEPARATOR]))) got.push(r)
  t.strictSame(got.map(r => r.cut), [true, false])
})

t.test('GOR_SEPARATOR is the latin1 form of the monkeys', async t => {
  t.equal(Buffer.from(GOR_SEPARATOR, 'latin1').toString('utf8'), '🐵🙈🙉')
})
