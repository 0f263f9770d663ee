import t from 'tap'
import { EtagPairs, translateValidators, validatorsFor } from '../../src/audit/etag-pairs.js'
import type { ExchangeRequest } from '../../src/audit/exchange.js'

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

t.test('EtagPairs learns one-to-one pairs per path, and says when a pair breaks them', async t => {
  const etags = new EtagPairs()
  const table: Array<[string, string, string, string, boolean]> = [
    ['first pairing', '/f', '"old1"', '"new1"', true],
    ['same pairing again', '/f', '"old1"', '"new1"', true],
    ['a new version on both sides', '/f', '"old2"', '"new2"', true],
    ['new reuses a tag for another representation', '/f', '"old3"', '"new1"', false],
    ['new gives a second tag to one representation', '/f', '"old1"', '"new7"', false],
    ['pairs are per path', '/other', '"old1"', '"new9"', true],
    // A server tags a file it has just written weakly while it settles, then strongly (Apache's
    // rule, serve's): one representation, the same opaque tag (RFC 9110 §8.8.3.2).
    ['new weak while the file settles', '/s', '"o1"', 'W/"n1"', true],
    ['new strong once it has settled', '/s', '"o1"', '"n1"', true],
    ['new weak again (touched, same stamp)', '/s', '"o1"', 'W/"n1"', true],
    ['old weak, new strong', '/s', 'W/"o1"', '"n1"', true],
    ['weak or not, another tag for the same representation', '/s', '"o1"', 'W/"n2"', false],
    ['weak or not, one tag for two representations', '/s', 'W/"o2"', '"n1"', false],
  ]
  for (const [name, path, c, n, want] of table) t.equal(etags.observe(path, c, n), want, name)
  const translations: Array<[string, 'translate' | 'untranslate', string, string, string | undefined]> = [
    ['a control tag', 'translate', '/f', '"old2"', '"new2"'],
    ['a candidate tag', 'untranslate', '/f', '"new2"', '"old2"'],
    ['an inconsistent pair is not learnt', 'translate', '/f', '"old3"', undefined],
    ['learnt weak first, a strong tag translates strong', 'translate', '/s', '"o1"', '"n1"'],
    ['a weak tag translates weak', 'translate', '/s', 'W/"o1"', 'W/"n1"'],
    ['a weak tag back', 'untranslate', '/s', 'W/"n1"', 'W/"o1"'],
    ['a strong tag back', 'untranslate', '/s', '"n1"', '"o1"'],
  ]
  for (const [name, way, path, tag, want] of translations) t.equal(etags[way](path, tag), want, name)
})

t.test('validatorsFor translates toward the side a request is sent to', async t => {
  const etags = new EtagPairs()
  etags.observe('/f', '"a"', '"A"')
  const r = req({ 'if-none-match': '"a"', 'if-match': '"A"' })
  const table: Array<[string, EtagPairs | undefined, 'control' | 'candidate', 'control' | 'candidate', Record<string, string>]> = [
    ['control tags to the candidate', etags, 'control', 'candidate', { 'if-none-match': '"A"', 'if-match': '"A"' }],
    ['candidate tags back to the control', etags, 'candidate', 'control', { 'if-none-match': '"a"', 'if-match': '"a"' }],
    ['the same side: untouched', etags, 'control', 'control', r.headers],
    ['no pairs: untouched', undefined, 'control', 'candidate', r.headers],
  ]
  for (const [name, e, from, to, want] of table) t.strictSame(validatorsFor(r, e, from, to).headers, want, name)
  t.equal(validatorsFor(r, etags, 'candidate', 'candidate'), r, 'the request itself when nothing changes')
})
