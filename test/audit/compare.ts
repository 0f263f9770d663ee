import t from 'tap'
import { ManualClock } from '../helpers/manual-clock.js'
import { compareExchange, judgedEtags } from '../../src/audit/compare.js'
import type { Divergence } from '../../src/audit/divergence.js'
import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import { DEFAULT_RULES, parseRules, type Rules } from '../../src/audit/rules.js'
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
    })
    t.match(got.divergences, c.want, `${c.title}: divergences`)
    t.equal(got.divergences.length, c.want.length, `${c.title}: count`)
    t.equal(got.ignored.length, c.ignored ?? 0, `${c.title}: ignored by rules`)
  }
})

t.test('etag: consistent judges the verdict it is given, and nothing else: the comparison is pure', async t => {
  const rules = parseRules('etag: consistent')
  const run = (ce: string, ne: string, etagsConsistent?: boolean): Promise<readonly Divergence[]> =>
    compareExchange(req(), response(200, [['etag', ce]], 'a'), response(200, [['etag', ne]], 'a'), {
      rules,
      ...(etagsConsistent !== undefined ? { etagsConsistent } : {}),
    }).then(c => c.divergences)
  const table: Array<[string, string, string, boolean | undefined, number]> = [
    ['other formats, consistent with earlier pairs', '"old1"', '"new1"', true, 0],
    ['other formats, no earlier pairs asked', '"old1"', '"new1"', undefined, 0],
    ['inconsistent with earlier pairs', '"old3"', '"new1"', false, 1],
    ['the same tag, consistent', '"x"', '"x"', true, 0],
  ]
  for (const [name, ce, ne, consistent, want] of table) {
    const got = await run(ce, ne, consistent)
    t.equal(got.length, want, name)
    if (want > 0) t.match(got, [{ kind: 'header', name: 'etag', control: ce, candidate: ne }], `${name}: an etag divergence`)
  }
  // The same inputs, in any order, give the same verdict: nothing is learnt between calls.
  const again = await Promise.all([run('"o"', '"n1"', true), run('"o"', '"n2"', true), run('"o"', '"n1"', true)])
  t.strictSame(again, [[], [], []], 'no verdict depends on an earlier comparison')
})

t.test('judgedEtags names the pair compareExchange judges for consistency, and only that', async t => {
  const consistent = parseRules('etag: consistent')
  const tagged = (status: number, tag: string, extra: Array<[string, string]> = []) => response(status, [['etag', tag], ...extra], '')
  const table: Array<[string, Rules, Observed, Observed, readonly [string, string] | undefined]> = [
    ['both tagged, same status', consistent, tagged(200, '"a"'), tagged(200, '"b"'), ['"a"', '"b"']],
    ['etag: exact judges no pair', DEFAULT_RULES, tagged(200, '"a"'), tagged(200, '"b"'), undefined],
    ['statuses differ', consistent, tagged(200, '"a"'), tagged(206, '"b"'), undefined],
    ['one side untagged', consistent, tagged(200, '"a"'), response(200, [], ''), undefined],
    ['a statusOnly status', parseRules('etag: consistent\nstatusOnly: [404]'), tagged(404, '"a"'), tagged(404, '"b"'), undefined],
    ['ignored by ignoreHeaders', parseRules('etag: consistent\nignoreHeaders: [etag]'), tagged(200, '"a"'), tagged(200, '"b"'), undefined],
    ['ignored on this status', parseRules('etag: consistent\nignoreHeadersByStatus: { 304: [etag] }'), tagged(304, '"a"'), tagged(304, '"b"'), undefined],
    ['named by Connection', consistent, tagged(200, '"a"', [['connection', 'ETag']]), tagged(200, '"b"'), undefined],
    ['an error on one side', consistent, tagged(200, '"a"'), { kind: 'error', code: 'ERR_CONNECT', message: 'x', durationMs: 1 }, undefined],
  ]
  for (const [name, rules, c, n, want] of table) t.strictSame(judgedEtags(c, n, rules), want, name)
})

t.test('the comparison time comes from the clock it is given', async t => {
  const clock = new ManualClock(Date.UTC(2030, 0, 2, 3, 4, 5, 678))
  const got = await compareExchange(req(), response(200, [], 'a'), response(200, [], 'a'), { rules: DEFAULT_RULES, clock })
  t.equal(got.time, '2030-01-02T03:04:05.678Z')
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
