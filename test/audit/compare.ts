import t from 'tap'
import { compareExchange } from '../../src/audit/compare.js'
import type { Divergence } from '../../src/audit/divergence.js'
import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import { DEFAULT_RULES, EtagPairs, parseRules, type Rules } from '../../src/audit/rules.js'
import { multipart, response } from '../helpers/engine.js'

const req = (headers: Record<string, string> = {}, method = 'GET', path = '/f'): ExchangeRequest => ({
  id: 'x',
  method,
  path,
  headers,
})
const H = (ct = 'text/plain', extra: Array<[string, string]> = []): Array<[string, string]> => [
  ['content-type', ct],
  ['date', 'Mon, 02 Jan 2006 15:04:05 GMT'],
  ...extra,
]
const body = 'x'.repeat(10_000)

interface Case {
  title: string
  control: Observed
  candidate: Observed
  rules?: Rules
  request?: ExchangeRequest
  want: Array<Partial<Divergence> & { kind: Divergence['kind'] }>
  ignored?: number
}

const nginxRules = parseRules('ignoreHeaders: [server]\netag: consistent\ncontentTypeParams: ignore\nstatusOnly: [416]\n')
const changed = `${body.slice(0, 7777)}y${body.slice(7778)}`
const cases: Case[] = [
  { title: 'identical answers', control: response(200, H(), body, 1), candidate: response(200, H(), body, 2), want: [] },
  {
    title: 'Date, Connection, Keep-Alive and Transfer-Encoding are never compared',
    control: response(200, [...H(), ['connection', 'keep-alive'], ['keep-alive', 'timeout=5']], body),
    candidate: response(200, [['content-type', 'text/plain'], ['date', 'Tue, 03 Jan 2006 00:00:00 GMT'], ['transfer-encoding', 'chunked']], body),
    want: [],
  },
  {
    title: 'a status difference is reported alone',
    control: response(200, H(), body),
    candidate: response(404, H(), 'nope'),
    want: [{ kind: 'status', control: 200, candidate: 404 }],
  },
  {
    title: 'a missing header',
    control: response(200, H('text/plain', [['cache-control', 'max-age=60']]), body),
    candidate: response(200, H(), body),
    want: [{ kind: 'header', name: 'cache-control', control: 'max-age=60' }],
  },
  {
    title: 'one changed byte is found at its offset',
    control: response(200, H(), body, 3),
    candidate: response(200, H(), changed, 4),
    want: [{ kind: 'body-bytes', offset: 7777, controlLength: 10_000, candidateLength: 10_000 }],
  },
  {
    title: 'a body shorter than its Content-Length is a truncation',
    control: response(200, H('text/plain', [['content-length', '10000']]), body),
    candidate: response(200, H('text/plain', [['content-length', '10000']]), body.slice(0, 6000)),
    want: [{ kind: 'error', side: 'candidate', code: 'ERR_TRUNCATED' }],
  },
  {
    title: 'a body that breaks mid-stream is a truncation of that side',
    control: response(200, H(), body, 1, new Error('aborted')),
    candidate: response(200, H(), body),
    want: [{ kind: 'error', side: 'control', code: 'ERR_TRUNCATED' }],
  },
  {
    title: 'different lengths without Content-Length',
    control: response(200, H(), body),
    candidate: response(200, H(), `${body}extra`),
    want: [{ kind: 'body-length', control: 10_000, candidate: 10_005 }],
  },
  {
    title: 'chunked against Content-Length is not a divergence when the bytes agree',
    control: response(200, H('text/plain', [['content-length', '10000']]), body),
    candidate: response(200, H(), body),
    want: [],
  },
  {
    title: 'a wrong Content-Range is a header divergence',
    control: response(206, H('text/plain', [['content-range', 'bytes 0-9/100']]), '0123456789'),
    candidate: response(206, H('text/plain', [['content-range', 'bytes 0-9/101']]), '0123456789'),
    want: [{ kind: 'header', name: 'content-range', control: 'bytes 0-9/100', candidate: 'bytes 0-9/101' }],
  },
  {
    title: 'an error on one side',
    control: response(200, H(), body),
    candidate: { kind: 'error', code: 'ERR_UPSTREAM', message: 'connect ECONNREFUSED', durationMs: 1 },
    want: [{ kind: 'error', side: 'candidate', code: 'ERR_UPSTREAM' }],
  },
  {
    title: 'a timeout on one side',
    control: response(200, H(), body),
    candidate: { kind: 'error', code: 'ERR_TIMEOUT', message: 'no answer', durationMs: 30_000 },
    want: [{ kind: 'timeout', side: 'candidate', afterMs: 30_000 }],
  },
  {
    title: 'multipart bodies compare part by part whatever the boundary and layout',
    control: response(206, H('multipart/byteranges; boundary=00000000000000000001'), multipart('00000000000000000001', [
      { range: 'bytes 0-1/11', type: 'text/plain', data: '01' },
      { range: 'bytes 5-8/11', type: 'text/plain', data: '5678' },
    ], 'nginx')),
    candidate: response(206, H('multipart/byteranges; boundary=abcdef'), multipart('abcdef', [
      { range: 'bytes 0-1/11', type: 'text/plain', data: '01' },
      { range: 'bytes 5-8/11', type: 'text/plain', data: '5678' },
    ], 'go')),
    want: [],
  },
  {
    title: 'a multipart part with other bytes is found in its part',
    control: response(206, H('multipart/byteranges; boundary=B1'), multipart('B1', [
      { range: 'bytes 0-1/11', type: 'text/plain', data: '01' },
      { range: 'bytes 5-8/11', type: 'text/plain', data: '5678' },
    ], 'go')),
    candidate: response(206, H('multipart/byteranges; boundary=B2'), multipart('B2', [
      { range: 'bytes 0-1/11', type: 'text/plain', data: '01' },
      { range: 'bytes 5-8/11', type: 'text/plain', data: '56X8' },
    ], 'go')),
    want: [{ kind: 'body-bytes', part: 1, offset: 2 }],
  },
  {
    title: 'a multipart part with another Content-Range, and a missing part',
    control: response(206, H('multipart/byteranges; boundary=B1'), multipart('B1', [
      { range: 'bytes 0-1/11', type: 'text/plain', data: '01' },
      { range: 'bytes 5-8/11', type: 'text/plain', data: '5678' },
    ], 'go')),
    candidate: response(206, H('multipart/byteranges; boundary=B2'), multipart('B2', [
      { range: 'bytes 0-1/12', type: 'text/plain', data: '01' },
    ], 'go')),
    want: [
      { kind: 'range-part', part: 0, field: 'content-range' },
      { kind: 'range-part', part: 1, field: 'count' },
    ],
  },
  {
    title: 'nginx-vs-Go rules: Server, ETag format, charset and 416 pages are explained',
    rules: nginxRules,
    control: response(200, [['server', 'nginx/1.22.1'], ['etag', '"655b1e00-b"'], ['content-type', 'text/plain']], body),
    candidate: response(200, [['etag', '"60a24181e4000-b"'], ['content-type', 'text/plain; charset=utf-8']], body),
    want: [],
    ignored: 3,
  },
  {
    title: 'statusOnly statuses compare the status and Content-Range only',
    rules: nginxRules,
    control: response(416, H('text/html'), '<html>416</html>'),
    candidate: response(416, H('text/html'), 'invalid range\n'),
    want: [],
  },
  {
    title: 'dates within a tolerance are explained, beyond it they diverge',
    rules: parseRules('dateTolerance: { last-modified: 2, expires: 1 }'),
    control: response(200, H('text/plain', [['last-modified', 'Mon, 02 Jan 2006 15:04:05 GMT'], ['expires', 'Mon, 02 Jan 2006 15:04:05 GMT']]), body),
    candidate: response(200, H('text/plain', [['last-modified', 'Mon, 02 Jan 2006 15:04:06 GMT'], ['expires', 'Mon, 02 Jan 2006 15:04:15 GMT']]), body),
    want: [{ kind: 'header', name: 'expires' }],
    ignored: 1,
  },
  {
    title: 'HEAD compares headers only',
    request: req({}, 'HEAD'),
    control: response(200, H('text/plain', [['content-length', '10000']])),
    candidate: response(200, H('text/plain', [['content-length', '10000']])),
    want: [],
  },
]

t.test('compareExchange reports exactly the divergences of each case', async t => {
  for (const c of cases) {
    const got = await compareExchange(c.request ?? req(), c.control, c.candidate, {
      rules: c.rules ?? DEFAULT_RULES,
      etags: new EtagPairs(),
    })
    t.match(got.divergences, c.want, `${c.title}: divergences`)
    t.equal(got.divergences.length, c.want.length, `${c.title}: count`)
    t.equal(got.ignored.length, c.ignored ?? 0, `${c.title}: ignored by rules`)
  }
})

t.test('etag: consistent accepts other formats but not one tag for two representations', async t => {
  const etags = new EtagPairs()
  const rules = parseRules('etag: consistent')
  const run = (ce: string, ne: string, path = '/f'): Promise<readonly Divergence[]> =>
    compareExchange(req({}, 'GET', path), response(200, [['etag', ce]], 'a'), response(200, [['etag', ne]], 'a'), { rules, etags }).then(
      c => c.divergences,
    )
  t.same(await run('"old1"', '"new1"'), [], 'first pairing')
  t.same(await run('"old1"', '"new1"'), [], 'same pairing again')
  t.same(await run('"old2"', '"new2"'), [], 'a new version on both sides')
  t.match(await run('"old3"', '"new1"'), [{ kind: 'header', name: 'etag' }], 'new reuses a tag for another representation')
  t.same(await run('"old1"', '"new9"', '/other'), [], 'pairs are per path')
  t.equal(etags.translate('/f', '"old2"'), '"new2"', 'validators translate')
})

t.test('compareExchange gives up on a body that never ends, as a timeout', async t => {
  const stuck: Observed = {
    kind: 'response',
    status: 200,
    headers: [],
    durationMs: 1,
    body: (async function* () {
      yield Buffer.from('a')
      await new Promise(() => undefined)
    })(),
  }
  const got = await compareExchange(req(), response(200, [], 'ab'), stuck, { rules: DEFAULT_RULES, bodyTimeoutMs: 50 })
  t.match(got.divergences, [{ kind: 'timeout' }])
})
