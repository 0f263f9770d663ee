import t from 'tap'
import { type HarItem, parseHar, parseHarEntry } from '../../src/replay/parsers/har.js'
import type { LineResult } from '../../src/replay/parsers/line-parser.js'

const AT = '2025-10-10T13:57:01.011Z'
/** entry builds a HAR 1.2 entry as browsers export it, with parts replaced. */
const entry = (
  o: { url?: unknown; method?: unknown; headers?: unknown; status?: unknown; started?: unknown } = {},
) => ({
  startedDateTime: 'started' in o ? o.started : AT,
  time: 12.5,
  request: {
    method: 'method' in o ? o.method : 'GET',
    url: 'url' in o ? o.url : 'https://downloads.example.com/nums11.txt',
    httpVersion: 'HTTP/1.1',
    headers: 'headers' in o ? o.headers : [{ name: 'User-Agent', value: 'Mozilla/5.0' }],
    queryString: [],
    cookies: [],
    headersSize: -1,
    bodySize: 0,
  },
  response: { status: 'status' in o ? o.status : 200, statusText: 'OK', headers: [], content: { size: 11 } },
})
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
const h = (...pairs: Array<[string, string]>) => pairs.map(([name, value]) => ({ name, value }))

const cases: Array<{ title: string; entry: unknown; want: LineResult }> = [
  { title: 'a GET', entry: entry(), want: ok('/nums11.txt') },
  {
    title: 'the headers that matter are kept, lower-cased; others are dropped',
    entry: entry({
      headers: h(
        ['Range', 'bytes=0-1,5-6'],
        ['If-Range', '"e"'],
        ['Cookie', 'secret'],
        ['Accept-Encoding', 'gzip'],
      ),
    }),
    want: ok('/nums11.txt', { range: 'bytes=0-1,5-6', 'if-range': '"e"', 'accept-encoding': 'gzip' }),
  },
  {
    title: 'HTTP/2 pseudo-headers are dropped',
    entry: entry({ headers: h([':method', 'GET'], [':path', '/x'], ['range', 'bytes=-3']) }),
    want: ok('/nums11.txt', { range: 'bytes=-3' }),
  },
  { title: 'no headers at all', entry: entry({ headers: undefined }), want: ok('/nums11.txt') },
  {
    title: 'the query is kept',
    entry: entry({ url: 'https://d.example.com/data.json?v=2&x=%2F' }),
    want: ok('/data.json?v=2&x=%2F'),
  },
  {
    title: 'the fragment is dropped',
    entry: entry({ url: 'https://d.example.com/a.txt#top' }),
    want: ok('/a.txt'),
  },
  {
    title: 'non-ASCII characters are percent-encoded as UTF-8, encoded ones kept',
    entry: entry({ url: 'https://d.example.com/snow ☃.txt?q=%E2%98%83' }),
    want: ok('/snow%20%E2%98%83.txt?q=%E2%98%83'),
  },
  {
    title: 'dot segments are not resolved',
    entry: entry({ url: 'http://d.example.com/a/../do..ts.txt' }),
    want: ok('/a/../do..ts.txt'),
  },
  { title: 'a URL without a path is /', entry: entry({ url: 'http://d.example.com' }), want: ok('/') },
  { title: 'a URL with only a query', entry: entry({ url: 'http://d.example.com?x=1' }), want: ok('/?x=1') },
  { title: 'HEAD', entry: entry({ method: 'HEAD' }), want: ok('/nums11.txt', {}, 200, 'HEAD') },
  {
    title: 'status 0 (no answer) means no status',
    entry: entry({ status: 0 }),
    want: ok('/nums11.txt', {}, null),
  },
  {
    title: 'no response means no status',
    entry: { startedDateTime: AT, request: { method: 'GET', url: 'http://x/a' } },
    want: ok('/a', {}, null),
  },

  { title: 'an entry that is a string', entry: 'x', want: bad('entry: expected an object') },
  {
    title: 'no startedDateTime',
    entry: entry({ started: undefined }),
    want: bad('startedDateTime: expected a string'),
  },
  {
    title: 'a bad startedDateTime',
    entry: entry({ started: 'yesterday' }),
    want: bad('startedDateTime: not an ISO 8601 date ("yesterday")'),
  },
  { title: 'no request', entry: { startedDateTime: AT }, want: bad('request: expected an object') },
  { title: 'a numeric method', entry: entry({ method: 7 }), want: bad('request.method: expected a string') },
  {
    title: 'a method with a space',
    entry: entry({ method: 'G T' }),
    want: bad('request.method: not an HTTP method ("G T")'),
  },
  { title: 'no url', entry: entry({ url: undefined }), want: bad('request.url: expected a string') },
  {
    title: 'a relative url',
    entry: entry({ url: '/nums11.txt' }),
    want: bad('request.url: not an absolute http(s) URL ("/nums11.txt")'),
  },
  {
    title: 'a data: url',
    entry: entry({ url: 'data:text/plain,hi' }),
    want: bad('request.url: not an absolute http(s) URL ("data:text/plain,hi")'),
  },
  {
    title: 'headers as an object',
    entry: entry({ headers: {} }),
    want: bad('request.headers: expected an array'),
  },
  {
    title: 'a header that is not an object',
    entry: entry({ headers: ['range'] }),
    want: bad('request.headers[0]: expected an object'),
  },
  {
    title: 'a header without a name',
    entry: entry({ headers: [{ value: 'x' }] }),
    want: bad('request.headers[0].name: expected a string'),
  },
  {
    title: 'a header with a numeric value',
    entry: entry({ headers: h(['a', 'b']).concat([{ name: 'range', value: 1 as unknown as string }]) }),
    want: bad('request.headers[1].value: expected a string'),
  },
  {
    title: 'a response that is not an object',
    entry: { ...entry(), response: 5 },
    want: bad('response: expected an object'),
  },
  {
    title: 'a response without a status',
    entry: { ...entry(), response: {} },
    want: bad('response.status: missing'),
  },
  {
    title: 'a string status',
    entry: entry({ status: '200' }),
    want: bad('response.status: expected an integer from 0 to 999, got "200"'),
  },
]

t.test('parseHarEntry reads HAR 1.2 entries', async t => {
  for (const c of cases) t.strictSame(parseHarEntry(c.entry), c.want, c.title)
})

t.test('parseHar numbers entries from 1 and keeps bad ones in place', async t => {
  const doc = JSON.stringify({
    log: { version: '1.2', entries: [entry(), 'junk', entry({ method: 'HEAD' })] },
  })
  const items = [...parseHar(doc)]
  t.strictSame(
    items.map(i => [i.line, i.result.kind]),
    [
      [1, 'record'],
      [2, 'bad'],
      [3, 'record'],
    ],
  )
  t.equal(items[1]!.text, '"junk"', 'a bad entry is shown as its JSON')
})

t.test('parseHar reports a broken document as one bad line 1', async t => {
  const cases: Array<[string, string, string]> = [
    ['not JSON', '{"log": {"entries": [', 'json: '],
    ['no log', '{"entries": []}', 'log: expected an object'],
    ['no entries', '{"log": {"version": "1.2"}}', 'log.entries: expected an array'],
    ['entries as an object', '{"log": {"entries": {}}}', 'log.entries: expected an array'],
  ]
  for (const [title, text, reason] of cases) {
    const items: HarItem[] = [...parseHar(text)]
    t.equal(items.length, 1, `${title}: one item`)
    t.equal(items[0]!.line, 1, `${title}: at line 1`)
    t.match(
      items[0]!.result,
      { kind: 'bad', reason: new RegExp(`^${reason.replace(/[.[\]]/g, '\\$&')}`) },
      `${title}: ${reason}`,
    )
  }
})

t.test('parseHar reads an empty capture as nothing', async t => {
  t.strictSame([...parseHar('{"log":{"entries":[]}}')], [])
})

t.test('parseHar reads an entry nested 20,000 deep as one bad entry, and the entries around it', async t => {
  const entry = (path: string) => ({ startedDateTime: '2025-10-10T13:56:01.007Z', request: { method: 'GET', url: `http://h${path}`, headers: [] }, response: { status: 200 } })
  const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
  const text = `{"log":{"entries":[${JSON.stringify(entry('/a'))},${deep},{"request":${deep}},${JSON.stringify(entry('/b'))}]}}`
  const items = [...parseHar(text)]
  t.strictSame(items.map(i => [i.line, i.result.kind]), [[1, 'record'], [2, 'bad'], [3, 'bad'], [4, 'record']])
  for (const i of items.filter(i => i.result.kind === 'bad')) t.ok(i.text.length > 0 && i.text.length <= 200, `entry ${i.line}: a bounded text to show`)
})
