import t from 'tap'
import type { Comparison, Divergence } from '../../src/audit/divergence.js'
import type { ExchangeRequest } from '../../src/audit/exchange.js'
import { withNoise } from '../../src/audit/divergence.js'
import { translateValidators } from '../../src/audit/rules.js'

const req = (headers: Record<string, string>): ExchangeRequest => ({
  id: 'x',
  method: 'GET',
  path: '/f',
  headers,
})
const map: Record<string, string> = { '"a"': '"A"', 'W/"w"': 'W/"W"', '"x,y"': '"XY"' }
const lookup = (tag: string) => map[tag]

t.test('translateValidators rewrites known tags of If-None-Match, If-Match and If-Range', async t => {
  const cases: Array<[string, Record<string, string>, Record<string, string>]> = [
    ['one tag', { 'if-none-match': '"a"' }, { 'if-none-match': '"A"' }],
    [
      'a list, unknown tags kept',
      { 'if-none-match': '"a", "b",W/"w"' },
      { 'if-none-match': '"A", "b", W/"W"' },
    ],
    ['a comma inside a tag', { 'if-match': '"x,y"' }, { 'if-match': '"XY"' }],
    ['empty list elements', { 'if-none-match': '"a", , "b",' }, { 'if-none-match': '"A", "b"' }],
    [
      'If-Range with a tag',
      { 'if-range': '"a"', range: 'bytes=0-1' },
      { 'if-range': '"A"', range: 'bytes=0-1' },
    ],
    [
      'If-Range with a date is left alone',
      { 'if-range': 'Mon, 02 Jan 2006 15:04:05 GMT' },
      { 'if-range': 'Mon, 02 Jan 2006 15:04:05 GMT' },
    ],
    ['* is left alone', { 'if-none-match': '*' }, { 'if-none-match': '*' }],
    ['malformed lists are left alone', { 'if-none-match': '"a" junk' }, { 'if-none-match': '"a" junk' }],
    [
      'nothing known: the value keeps its spacing',
      { 'if-none-match': '"b" ,  "c"' },
      { 'if-none-match': '"b" ,  "c"' },
    ],
    [
      'other headers are untouched',
      { etag: '"a"', 'user-agent': 'curl' },
      { etag: '"a"', 'user-agent': 'curl' },
    ],
  ]
  for (const [name, h, want] of cases) t.strictSame(translateValidators(req(h), lookup).headers, want, name)
  const r = req({ 'if-none-match': '"b"' })
  t.equal(translateValidators(r, lookup), r, 'the same request object when nothing changes')
})

const comparison = (divergences: Divergence[], noise: Divergence[] = []): Comparison => ({
  request: req({}),
  time: '2024-01-01T00:00:00.000Z',
  status: { control: 200, candidate: 200 },
  durationsMs: { control: 1, candidate: 1 },
  bytesCompared: 0,
  divergences,
  ignored: [],
  noise,
})

t.test('withNoise moves what the baseline also shows into noise, by divergence key', async t => {
  const server: Divergence = { kind: 'header', name: 'server', control: 'a', candidate: 'b' }
  const etag: Divergence = { kind: 'header', name: 'etag', control: '"1"', candidate: '"2"' }
  const bytes: Divergence = {
    kind: 'body-bytes',
    offset: 3,
    controlLength: 9,
    candidateLength: 9,
    controlSha256: 'c',
    candidateSha256: 'n',
  }
  const main = comparison([server, etag, bytes])
  const base = comparison([{ kind: 'header', name: 'server', control: 'a', candidate: 'c' }])
  const got = withNoise(main, base)
  t.strictSame(got.divergences, [etag, bytes])
  t.strictSame(got.noise, [server])
  t.strictSame(main.divergences, [server, etag, bytes], 'the input is not changed')

  const baseBytes = comparison([{ ...bytes, offset: 100 }])
  t.strictSame(withNoise(main, baseBytes).noise, [bytes], 'body differences are one key, wherever the offset')
})

t.test('withNoise does not take failures of the baseline as noise', async t => {
  const down: Divergence = { kind: 'error', side: 'candidate', code: 'ERR_CONNECT', message: 'new: refused' }
  const timeout: Divergence = { kind: 'timeout', side: 'candidate', afterMs: 10 }
  const main = comparison([down, timeout])
  const base = comparison([{ ...down, message: 'baseline: refused' }, timeout])
  t.equal(withNoise(main, base), main)
})
