import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Agent, request } from 'undici'
import { bytes } from '../../src/content/bytes.js'
import type { Content } from '../../src/content/content.js'
import type { Entity } from '../../src/content/entity.js'
import { CutoverError } from '../../src/core/errors.js'
import { multipartLayout, randomBoundary } from '../../src/http/multipart.js'
import type { ConditionalHeaders } from '../../src/http/preconditions.js'
import { planResponse, serveContent, type EntityMeta, type ResponsePlan, type ServeContentOptions, type ServeResult } from '../../src/http/serve-content.js'
import { mulberry32, seededBytes } from '../helpers/random.js'

// ---------------------------------------------------------------------------------------------
// planResponse: pure tables.
// ---------------------------------------------------------------------------------------------

/** headerSet renders a plan's headers as sorted "name: value" lines, names lower-cased. */
function headerSet(p: ResponsePlan): string[] {
  const out: string[] = []
  for (let i = 0; i < p.headers.length; i += 2) out.push(`${p.headers[i]!.toLowerCase()}: ${p.headers[i + 1]}`)
  return out.sort()
}

function header(p: ResponsePlan, name: string): string | undefined {
  for (let i = 0; i < p.headers.length; i += 2) if (p.headers[i]!.toLowerCase() === name) return p.headers[i + 1]
  return undefined
}

/** bodyOf renders a planned body over `data`, as serveContent sends it. */
function bodyOf(p: ResponsePlan, data: Buffer): Buffer {
  const b = p.body
  switch (b.kind) {
    case 'none':
      return Buffer.alloc(0)
    case 'text':
      return Buffer.from(b.text)
    case 'range':
      return data.subarray(b.range.start, b.range.start + b.range.length)
    case 'multipart':
      return Buffer.concat([
        ...b.layout.parts.flatMap(part => [part.header, data.subarray(part.range.start, part.range.start + part.range.length)]),
        b.layout.trailer,
      ])
  }
}

const CSS = Buffer.from('body {}\n') // 8 bytes, like Go's testdata/style.css
const CSS_TYPE = 'text/css; charset=utf-8'
const INDEX = Buffer.from('index.html says hello\n')
const HTML_TYPE = 'text/html; charset=utf-8'
/** Stands in for Go's htmlModTime (the mtime of testdata/index.html): a whole second. */
const HTML_MOD = new Date(Date.UTC(2023, 0, 2, 3, 4, 5))
const HTML_MOD_HTTP = 'Mon, 02 Jan 2023 03:04:05 GMT'
const HTML_MOD_MINUS_2S = 'Mon, 02 Jan 2023 03:04:03 GMT'
const RANGE_MOD = new Date(Date.UTC(2014, 5, 25, 17, 12, 18))
const RANGE_MOD_HTTP = 'Wed, 25 Jun 2014 17:12:18 GMT'

interface GoCase {
  name: string
  data: Buffer
  meta: Omit<EntityMeta, 'size'>
  req: ConditionalHeaders
  status: number
  /** Expected headers of the GET response; HEAD gets the same but no Content-Length on a 412. */
  headers: string[]
}

// Go's TestServeContent (net/http/fs_test.go), with every response header spelled out. In Go the
// content type comes from the file name (style.css, index.html) or is sniffed ("<html>foo").
const goCases: GoCase[] = [
  {
    name: 'no_last_modified',
    data: CSS,
    meta: { contentType: CSS_TYPE },
    req: {},
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`],
  },
  {
    name: 'with_last_modified',
    data: INDEX,
    meta: { contentType: HTML_TYPE, lastModified: HTML_MOD },
    req: {},
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 22', `content-type: ${HTML_TYPE}`, `last-modified: ${HTML_MOD_HTTP}`],
  },
  {
    name: 'not_modified_modtime',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"foo"', lastModified: HTML_MOD },
    req: { ifModifiedSince: HTML_MOD_HTTP },
    status: 304,
    headers: ['etag: "foo"'], // Last-Modified sent only when no ETag
  },
  {
    name: 'not_modified_modtime_with_contenttype',
    data: CSS,
    meta: { contentType: 'text/css', etag: '"foo"', lastModified: HTML_MOD },
    req: { ifModifiedSince: HTML_MOD_HTTP },
    status: 304,
    headers: ['etag: "foo"'],
  },
  {
    name: 'not_modified_etag',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"foo"' },
    req: { ifNoneMatch: '"foo"' },
    status: 304,
    headers: ['etag: "foo"'],
  },
  {
    name: 'not_modified_etag_no_seek',
    data: Buffer.alloc(0),
    meta: { etag: 'W/"foo"' }, // If-None-Match uses weak ETag comparison
    req: { ifNoneMatch: '"baz", W/"foo"' },
    status: 304,
    headers: ['etag: W/"foo"'],
  },
  {
    name: 'if_none_match_mismatch',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"foo"' },
    req: { ifNoneMatch: '"Foo"' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`, 'etag: "foo"'],
  },
  {
    name: 'if_none_match_malformed',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"foo"' },
    req: { ifNoneMatch: ',' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`, 'etag: "foo"'],
  },
  {
    name: 'range_good',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"A"' },
    req: { range: 'bytes=0-4' },
    status: 206,
    headers: ['accept-ranges: bytes', 'content-length: 5', 'content-range: bytes 0-4/8', `content-type: ${CSS_TYPE}`, 'etag: "A"'],
  },
  {
    name: 'range_match',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"A"' },
    req: { range: 'bytes=0-4', ifRange: '"A"' },
    status: 206,
    headers: ['accept-ranges: bytes', 'content-length: 5', 'content-range: bytes 0-4/8', `content-type: ${CSS_TYPE}`, 'etag: "A"'],
  },
  {
    name: 'range_match_weak_etag',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: 'W/"A"' },
    req: { range: 'bytes=0-4', ifRange: 'W/"A"' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`, 'etag: W/"A"'],
  },
  {
    name: 'range_no_overlap',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"A"' },
    req: { range: 'bytes=10-20' },
    status: 416,
    headers: [
      'content-length: 33',
      'content-range: bytes */8',
      'content-type: text/plain; charset=utf-8',
      'x-content-type-options: nosniff',
    ],
  },
  {
    name: 'range_no_match',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"A"' },
    req: { range: 'bytes=0-4', ifRange: '"B"' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`, 'etag: "A"'],
  },
  {
    name: 'range_with_modtime',
    data: CSS,
    meta: { contentType: CSS_TYPE, lastModified: RANGE_MOD },
    req: { range: 'bytes=0-4', ifRange: RANGE_MOD_HTTP },
    status: 206,
    headers: [
      'accept-ranges: bytes',
      'content-length: 5',
      'content-range: bytes 0-4/8',
      `content-type: ${CSS_TYPE}`,
      `last-modified: ${RANGE_MOD_HTTP}`,
    ],
  },
  {
    name: 'range_with_modtime_mismatch',
    data: CSS,
    meta: { contentType: CSS_TYPE, lastModified: RANGE_MOD },
    req: { range: 'bytes=0-4', ifRange: 'Wed, 25 Jun 2014 17:12:19 GMT' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`, `last-modified: ${RANGE_MOD_HTTP}`],
  },
  {
    name: 'range_with_modtime_nanos',
    data: CSS,
    meta: { contentType: CSS_TYPE, lastModified: new Date(RANGE_MOD.getTime() + 123) },
    req: { range: 'bytes=0-4', ifRange: RANGE_MOD_HTTP },
    status: 206,
    headers: [
      'accept-ranges: bytes',
      'content-length: 5',
      'content-range: bytes 0-4/8',
      `content-type: ${CSS_TYPE}`,
      `last-modified: ${RANGE_MOD_HTTP}`,
    ],
  },
  {
    name: 'unix_zero_modtime',
    data: Buffer.from('<html>foo'),
    meta: { contentType: HTML_TYPE, lastModified: new Date(0) },
    req: {},
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 9', `content-type: ${HTML_TYPE}`],
  },
  {
    name: 'ifmatch_matches',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"A"' },
    req: { ifMatch: '"Z", "A"' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`, 'etag: "A"'],
  },
  {
    name: 'ifmatch_star',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"A"' },
    req: { ifMatch: '*' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`, 'etag: "A"'],
  },
  {
    name: 'ifmatch_failed',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: '"A"' },
    req: { ifMatch: '"B"' },
    status: 412,
    headers: ['content-length: 0', 'etag: "A"'],
  },
  {
    name: 'ifmatch_fails_on_weak_etag',
    data: CSS,
    meta: { contentType: CSS_TYPE, etag: 'W/"A"' },
    req: { ifMatch: 'W/"A"' },
    status: 412,
    headers: ['content-length: 0', 'etag: W/"A"'],
  },
  {
    name: 'if_unmodified_since_true',
    data: CSS,
    meta: { contentType: CSS_TYPE, lastModified: HTML_MOD },
    req: { ifUnmodifiedSince: HTML_MOD_HTTP },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 8', `content-type: ${CSS_TYPE}`, `last-modified: ${HTML_MOD_HTTP}`],
  },
  {
    name: 'if_unmodified_since_false',
    data: CSS,
    meta: { contentType: CSS_TYPE, lastModified: HTML_MOD },
    req: { ifUnmodifiedSince: HTML_MOD_MINUS_2S },
    status: 412,
    headers: ['content-length: 0', `last-modified: ${HTML_MOD_HTTP}`],
  },
]

t.test("Go's TestServeContent cases plan the same status and headers", async t => {
  for (const c of goCases) {
    for (const method of ['GET', 'HEAD']) {
      const p = planResponse(method, c.req, { ...c.meta, size: c.data.length })
      const want = method === 'HEAD' && c.status === 412 ? c.headers.filter(h => !h.startsWith('content-length:')) : c.headers
      t.strictSame(
        { status: p.status, headers: headerSet(p) },
        { status: c.status, headers: want.slice().sort() },
        `${c.name} answers ${method} with ${c.status} and Go's headers`,
      )
      if (method === 'HEAD') t.equal(p.body.kind, 'none', `${c.name} sends no body to HEAD`)
    }
  }
})

t.test("Go's TestServeContent cases send the right body to GET", async t => {
  const bodies: Record<string, string> = {
    range_good: 'body ',
    range_match: 'body ',
    range_with_modtime: 'body ',
    range_with_modtime_nanos: 'body ',
    range_no_overlap: 'invalid range: failed to overlap\n',
  }
  for (const c of goCases) {
    const p = planResponse('GET', c.req, { ...c.meta, size: c.data.length })
    const want = c.status === 304 || c.status === 412 ? '' : (bodies[c.name] ?? c.data.toString())
    t.equal(bodyOf(p, c.data).toString(), want, `${c.name} sends ${JSON.stringify(want)}`)
  }
})

const EXTRA: Array<[string, string]> = [
  ['Cache-Control', 'max-age=60'],
  ['Content-Encoding', 'gzip'],
  ['X-Custom', 'kept'],
]

const FILE = Buffer.from('0123456789\n')

interface PlanCase {
  title: string
  method?: string
  req: ConditionalHeaders
  meta: Omit<EntityMeta, 'size'>
  data?: Buffer
  status: number
  headers: string[]
  body: string
}

const planCases: PlanCase[] = [
  {
    title: 'a 304 keeps extra headers but Content-Encoding and drops Last-Modified beside an ETag',
    req: { ifNoneMatch: '"e"' },
    meta: { etag: '"e"', lastModified: HTML_MOD, contentType: 'text/plain', headers: EXTRA },
    status: 304,
    headers: ['cache-control: max-age=60', 'etag: "e"', 'x-custom: kept'],
    body: '',
  },
  {
    title: 'a 304 without an ETag keeps Last-Modified',
    req: { ifModifiedSince: HTML_MOD_HTTP },
    meta: { lastModified: HTML_MOD, contentType: 'text/plain', headers: [['Cache-Control', 'no-cache']] },
    status: 304,
    headers: ['cache-control: no-cache', `last-modified: ${HTML_MOD_HTTP}`],
    body: '',
  },
  {
    title: 'a 304 drops Content-Type and Content-Length given as extra headers',
    req: { ifNoneMatch: '*' },
    meta: { headers: [['content-type', 'x/y'], ['Content-Length', '5'], ['Vary', 'Accept']] },
    status: 304,
    headers: ['vary: Accept'],
    body: '',
  },
  {
    title: 'a 412 keeps ETag, Last-Modified and every extra header',
    req: { ifMatch: '"other"' },
    meta: { etag: '"e"', lastModified: HTML_MOD, contentType: 'text/plain', headers: EXTRA },
    status: 412,
    headers: ['cache-control: max-age=60', 'content-encoding: gzip', 'content-length: 0', 'etag: "e"', `last-modified: ${HTML_MOD_HTTP}`, 'x-custom: kept'],
    body: '',
  },
  {
    title: 'a 412 to HEAD has no Content-Length',
    method: 'HEAD',
    req: { ifMatch: '"other"' },
    meta: { etag: '"e"' },
    status: 412,
    headers: ['etag: "e"'],
    body: '',
  },
  {
    title: 'a 412 to POST from If-None-Match keeps the ETag',
    method: 'POST',
    req: { ifNoneMatch: '"e"' },
    meta: { etag: '"e"' },
    status: 412,
    headers: ['content-length: 0', 'etag: "e"'],
    body: '',
  },
  {
    title: 'a 416 without overlap drops Cache-Control, Content-Encoding, ETag and Last-Modified',
    req: { range: 'bytes=20-' },
    meta: { etag: '"e"', lastModified: HTML_MOD, contentType: 'text/plain', headers: EXTRA },
    status: 416,
    headers: ['content-length: 33', 'content-range: bytes */11', 'content-type: text/plain; charset=utf-8', 'x-content-type-options: nosniff', 'x-custom: kept'],
    body: 'invalid range: failed to overlap\n',
  },
  {
    title: 'a malformed range is a 416 without Content-Range',
    req: { range: 'bytes=5-1' },
    meta: { etag: '"e"', lastModified: HTML_MOD, contentType: 'text/plain', headers: EXTRA },
    status: 416,
    headers: ['content-length: 14', 'content-type: text/plain; charset=utf-8', 'x-content-type-options: nosniff', 'x-custom: kept'],
    body: 'invalid range\n',
  },
  {
    title: 'a 416 to HEAD has the same headers and no body',
    method: 'HEAD',
    req: { range: 'bytes=20-' },
    meta: { contentType: 'text/plain' },
    status: 416,
    headers: ['content-length: 33', 'content-range: bytes */11', 'content-type: text/plain; charset=utf-8', 'x-content-type-options: nosniff'],
    body: '',
  },
  {
    title: 'a wrong range unit is a 416',
    req: { range: 'lines=1-2' },
    meta: {},
    status: 416,
    headers: ['content-length: 14', 'content-type: text/plain; charset=utf-8', 'x-content-type-options: nosniff'],
    body: 'invalid range\n',
  },
  {
    title: '"bytes=" alone is a 200',
    req: { range: 'bytes=' },
    meta: { contentType: 'text/plain' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 11', 'content-type: text/plain'],
    body: '0123456789\n',
  },
  {
    title: 'ranges summing to more than the size are ignored',
    req: { range: 'bytes=0-5,0-5' },
    meta: { contentType: 'text/plain' },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 11', 'content-type: text/plain'],
    body: '0123456789\n',
  },
  {
    title: 'ranges summing to exactly the size are served as multipart',
    req: { range: 'bytes=0-4,5-' },
    meta: { contentType: 'text/plain' },
    status: 206,
    headers: ['accept-ranges: bytes', 'content-length: 147', 'content-type: multipart/byteranges; boundary=B'],
    body:
      '--B\r\nContent-Range: bytes 0-4/11\r\nContent-Type: text/plain\r\n\r\n01234' +
      '\r\n--B\r\nContent-Range: bytes 5-10/11\r\nContent-Type: text/plain\r\n\r\n56789\n' +
      '\r\n--B--\r\n',
  },
  {
    title: 'a range of empty content is a 200 (Go issue 54794)',
    req: { range: 'bytes=0-128' },
    meta: { contentType: 'text/plain' },
    data: Buffer.alloc(0),
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 0', 'content-type: text/plain'],
    body: '',
  },
  {
    title: 'an open range of empty content is a 200 (Go issue 54794)',
    req: { range: 'bytes=1-' },
    meta: {},
    data: Buffer.alloc(0),
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 0'],
    body: '',
  },
  {
    title: 'a suffix range of empty content is an empty 206, as Go answers it',
    req: { range: 'bytes=-5' },
    meta: {},
    data: Buffer.alloc(0),
    status: 206,
    headers: ['accept-ranges: bytes', 'content-length: 0', 'content-range: bytes 0--1/0'],
    body: '',
  },
  {
    title: 'a malformed range of empty content is still a 416',
    req: { range: 'bytes=x' },
    meta: {},
    data: Buffer.alloc(0),
    status: 416,
    headers: ['content-length: 14', 'content-type: text/plain; charset=utf-8', 'x-content-type-options: nosniff'],
    body: 'invalid range\n',
  },
  {
    title: 'the suffix "-0" is an empty 206',
    req: { range: 'bytes=-0' },
    meta: { contentType: 'text/plain' },
    status: 206,
    headers: ['accept-ranges: bytes', 'content-length: 0', 'content-range: bytes 11-10/11', 'content-type: text/plain'],
    body: '',
  },
  {
    title: 'a whole response with Content-Encoding has no Content-Length',
    req: {},
    meta: { contentType: 'text/plain', headers: [['Content-Encoding', 'gzip']] },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-encoding: gzip', 'content-type: text/plain'],
    body: '0123456789\n',
  },
  {
    title: 'a HEAD with Content-Encoding has no Content-Length either',
    method: 'HEAD',
    req: {},
    meta: { headers: [['content-encoding', 'br']] },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-encoding: br'],
    body: '',
  },
  {
    title: 'an ignored wasteful range with Content-Encoding has no Content-Length',
    req: { range: 'bytes=0-,1-,2-,3-,4-' },
    meta: { headers: [['Content-Encoding', 'gzip']] },
    status: 200,
    headers: ['accept-ranges: bytes', 'content-encoding: gzip'],
    body: '0123456789\n',
  },
  {
    title: 'a single range with Content-Encoding keeps its Content-Length',
    req: { range: 'bytes=2-4' },
    meta: { contentType: 'text/plain', headers: [['Content-Encoding', 'gzip']] },
    status: 206,
    headers: ['accept-ranges: bytes', 'content-encoding: gzip', 'content-length: 3', 'content-range: bytes 2-4/11', 'content-type: text/plain'],
    body: '234',
  },
  {
    title: 'multipart with Content-Encoding keeps its Content-Length',
    req: { range: 'bytes=0-0,2-2' },
    meta: { contentType: 'text/plain', headers: [['Content-Encoding', 'gzip']] },
    status: 206,
    headers: ['accept-ranges: bytes', 'content-encoding: gzip', 'content-length: 137', 'content-type: multipart/byteranges; boundary=B'],
    body:
      '--B\r\nContent-Range: bytes 0-0/11\r\nContent-Type: text/plain\r\n\r\n0' +
      '\r\n--B\r\nContent-Range: bytes 2-2/11\r\nContent-Type: text/plain\r\n\r\n2' +
      '\r\n--B--\r\n',
  },
  {
    title: 'no Content-Type is sent when the entity has none',
    req: {},
    meta: {},
    status: 200,
    headers: ['accept-ranges: bytes', 'content-length: 11'],
    body: '0123456789\n',
  },
  {
    title: 'POST gets the content like GET, as Go serves it',
    method: 'POST',
    req: { range: 'bytes=1-2' },
    meta: {},
    status: 206,
    headers: ['accept-ranges: bytes', 'content-length: 2', 'content-range: bytes 1-2/11'],
    body: '12',
  },
]

t.test('planResponse answers with exact status, headers and body', async t => {
  for (const c of planCases) {
    const data = c.data ?? FILE
    const p = planResponse(c.method ?? 'GET', c.req, { ...c.meta, size: data.length }, () => 'B')
    t.strictSame(
      { status: p.status, headers: headerSet(p), body: bodyOf(p, data).toString('latin1') },
      { status: c.status, headers: c.headers.slice().sort(), body: c.body },
      c.title,
    )
  }
})

t.test('a two-range multipart body is laid out byte for byte', async t => {
  const p = planResponse('GET', { range: 'bytes=0-1,5-8' }, { size: 11, contentType: 'text/plain; charset=utf-8' }, () => 'B')
  const want =
    '--B\r\nContent-Range: bytes 0-1/11\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n01\r\n' +
    '--B\r\nContent-Range: bytes 5-8/11\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n5678\r\n' +
    '--B--\r\n'
  const body = bodyOf(p, FILE).toString('latin1')
  t.equal(p.status, 206, 'status 206')
  t.equal(body, want, 'the body is exactly the expected bytes')
  t.equal(header(p, 'content-length'), String(want.length), 'Content-Length is the body length')
  t.equal(header(p, 'content-type'), 'multipart/byteranges; boundary=B', 'Content-Type names the boundary')
})

t.test('multipart Content-Length always equals the body length', async t => {
  const cases = ['bytes=0-0,-2', 'bytes=0-1,5-8', 'bytes=0-1,5-', 'bytes=-0,0-0', 'bytes=3-4,1-2', 'bytes=1-1,1-1,1-1', 'bytes=0-4,5-']
  for (const r of cases) {
    for (const b of ['B', randomBoundary()]) {
      const p = planResponse('GET', { range: r }, { size: 11, contentType: 'application/octet-stream' }, () => b)
      t.equal(header(p, 'content-length'), String(bodyOf(p, FILE).length), `${r} with a ${b.length}-character boundary`)
    }
  }
})

t.test('multipart layout matches Go for the same boundary length', async t => {
  // Go's body for "bytes=0-1,5-8" of "0123456789\n" with a 60-character boundary is 348 bytes.
  const p = planResponse('GET', { range: 'bytes=0-1,5-8' }, { size: 11, contentType: 'text/plain; charset=utf-8' })
  t.equal(header(p, 'content-length'), '348', 'Content-Length equals what Go sends')
  const l = multipartLayout([{ start: 0, length: 2 }], 'a/b', 11, 'x'.repeat(60))
  t.equal(l.length, l.parts[0]!.header.length + 2 + l.trailer.length, 'a layout length is headers plus ranges plus trailer')
})

t.test('the default boundary is 60 hex characters like Go', async t => {
  const seen = new Set<string>()
  for (let i = 0; i < 5; i++) {
    const p = planResponse('GET', { range: 'bytes=0-0,2-2' }, { size: 11 })
    const m = /^multipart\/byteranges; boundary=([0-9a-f]+)$/.exec(header(p, 'content-type') ?? '')
    t.equal(m?.[1]?.length, 60, `boundary ${i} has 60 hex characters`)
    if (m?.[1]) seen.add(m[1])
  }
  t.equal(seen.size, 5, 'each response gets its own boundary')
  t.match(randomBoundary(), /^[0-9a-f]{60}$/, 'randomBoundary itself is 60 hex characters')
})

t.test('the boundary function is called only for multipart responses', async t => {
  const cases: Array<[string | undefined, number]> = [
    [undefined, 0],
    ['bytes=0-1', 0],
    ['bytes=20-', 0],
    ['bytes=0-1,3-4', 1],
  ]
  for (const [r, calls] of cases) {
    let n = 0
    planResponse('GET', { range: r }, { size: 11 }, () => {
      n++
      return 'B'
    })
    t.equal(n, calls, `range ${JSON.stringify(r)} calls it ${calls} times`)
  }
})

// ---------------------------------------------------------------------------------------------
// serveContent over a real HTTP server.
// ---------------------------------------------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse) => void

interface Harness {
  url: string
  agent: Agent
  /** Sets what the next requests are answered with; the promises of serveContent land in `served`. */
  serve(entity: Entity, options?: ServeContentOptions): void
  served: Array<ServeResult | Promise<ServeResult>>
  /** Per response, whether serveContent answered it before returning (no `done` promise). */
  sync: boolean[]
}

/** The part of a tap Test the harness needs. */
interface Teardown {
  teardown(fn: () => unknown): void
}

async function harness(t: Teardown): Promise<Harness> {
  let handler: Handler = (_req, res) => res.end()
  const served: Array<ServeResult | Promise<ServeResult>> = []
  const sync: boolean[] = []
  const server = createServer((req, res) => handler(req, res))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const agent = new Agent()
  t.teardown(async () => {
    await agent.destroy()
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    agent,
    served,
    sync,
    serve(entity, options) {
      handler = (req, res) => {
        const s = serveContent(req, res, entity, options)
        served.push(s.done ?? s.result)
        sync.push(s.done === undefined)
      }
    },
  }
}

async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of body) chunks.push(c)
  return Buffer.concat(chunks)
}

/** streamed hides a Content's resident view, so serveContent has to read it piece by piece. */
function streamed(c: Content): Content {
  return { size: c.size, readAt: (buf, off, signal) => c.readAt(buf, off, signal) }
}

t.test('serveContent answers without a promise exactly when nothing has to be read', async t => {
  const data = Buffer.from('0123456789abcdef')
  const rows: Array<{ title: string; content: Content; method?: string; headers?: Record<string, string>; status: number; sync: boolean }> = [
    { title: 'resident, whole', content: bytes(data), status: 200, sync: true },
    { title: 'resident, one range', content: bytes(data), headers: { range: 'bytes=2-5' }, status: 206, sync: true },
    { title: 'resident, two ranges', content: bytes(data), headers: { range: 'bytes=0-1,4-5' }, status: 206, sync: false },
    { title: 'streamed, whole', content: streamed(bytes(data)), status: 200, sync: false },
    { title: 'streamed, HEAD', content: streamed(bytes(data)), method: 'HEAD', status: 200, sync: true },
    { title: 'streamed, not modified', content: streamed(bytes(data)), headers: { 'if-none-match': '"t"' }, status: 304, sync: true },
    { title: 'streamed, precondition failed', content: streamed(bytes(data)), headers: { 'if-match': '"u"' }, status: 412, sync: true },
    { title: 'streamed, bad range', content: streamed(bytes(data)), headers: { range: 'bytes=99-' }, status: 416, sync: true },
  ]
  const h = await harness(t)
  for (const row of rows) {
    h.serve({ content: row.content, etag: '"t"' })
    const res = await request(h.url, { dispatcher: h.agent, method: row.method ?? 'GET', headers: row.headers ?? {} })
    await readAll(res.body)
    t.equal(res.statusCode, row.status, `${row.title}: ${row.status}`)
    t.equal(h.sync.at(-1), row.sync, `${row.title}: ${row.sync ? 'answered before serveContent returned' : 'a done promise'}`)
  }
  t.equal((await Promise.all(h.served)).filter(r => r.aborted).length, 0, 'none aborted')
})

t.test('planResponse sends the Last-Modified text an entity brings, else formats its date', async t => {
  const lastModified = new Date(Date.UTC(2024, 0, 2, 3, 4, 5))
  const rows: Array<[string, string | undefined, string]> = [
    ['no text: formatted', undefined, 'Tue, 02 Jan 2024 03:04:05 GMT'],
    ['the text brought, as is', 'TEXT', 'TEXT'],
  ]
  for (const [title, text, want] of rows) {
    const plan = planResponse('GET', {}, { size: 1, lastModified, lastModifiedText: text })
    const i = plan.headers.indexOf('Last-Modified')
    t.equal(plan.headers[i + 1], want, title)
  }
  const none = planResponse('GET', {}, { size: 1, lastModified: new Date(0), lastModifiedText: 'TEXT' })
  t.notOk(none.headers.includes('Last-Modified'), 'no header for the zero date, whatever the text')
})

t.test('large content arrives exact, read in small pieces or resident', async t => {
  const data = seededBytes(42, (1 << 20) + 123)
  const ranges = [
    { start: 0, length: 10000 },
    { start: 500000, length: 100001 },
    { start: data.length - 5000, length: 5000 },
    { start: 3, length: 1 },
  ]
  const l = multipartLayout(ranges, 'application/octet-stream', data.length, 'BOUNDARY')
  const multipart = Buffer.concat([...l.parts.flatMap(p => [p.header, data.subarray(p.range.start, p.range.start + p.range.length)]), l.trailer])
  const OCTET = 'application/octet-stream'
  const cases: Array<{ title: string; method?: 'GET' | 'HEAD'; range?: string; status: number; want: Buffer; ctype: string }> = [
    { title: 'the full body', status: 200, want: data, ctype: OCTET },
    { title: 'a single range', range: 'bytes=1000-500000', status: 206, want: data.subarray(1000, 500001), ctype: OCTET },
    { title: 'a range inside the first piece', range: 'bytes=10-20', status: 206, want: data.subarray(10, 21), ctype: OCTET },
    { title: 'a range of exactly one piece', range: 'bytes=4096-8191', status: 206, want: data.subarray(4096, 8192), ctype: OCTET },
    { title: 'a suffix range', range: 'bytes=-70000', status: 206, want: data.subarray(data.length - 70000), ctype: OCTET },
    {
      title: 'a multipart body',
      range: 'bytes=0-9999,500000-600000,-5000,3-3',
      status: 206,
      want: multipart,
      ctype: 'multipart/byteranges; boundary=BOUNDARY',
    },
    { title: 'a HEAD of the full body', method: 'HEAD', status: 200, want: Buffer.alloc(0), ctype: OCTET },
  ]
  const kinds: Array<[string, Content]> = [
    ['read in 4 KiB pieces', streamed(bytes(data))],
    ['resident in memory', bytes(data)],
  ]
  for (const [kind, content] of kinds) {
    await t.test(`content ${kind} arrives exact`, async t => {
      const h = await harness(t)
      h.serve({ content, etag: '"big"', contentType: OCTET }, { pieceSize: 4096, boundary: () => 'BOUNDARY' })
      for (const c of cases) {
        const res = await request(h.url, {
          dispatcher: h.agent,
          method: c.method ?? 'GET',
          headers: c.range ? { range: c.range } : {},
        })
        const body = await readAll(res.body)
        t.equal(res.statusCode, c.status, `${c.title}: status ${c.status}`)
        t.equal(res.headers['content-type'], c.ctype, `${c.title}: content type`)
        const length = c.method === 'HEAD' ? data.length : c.want.length
        t.equal(res.headers['content-length'], String(length), `${c.title}: Content-Length ${length}`)
        t.ok(body.equals(c.want), `${c.title}: ${c.want.length} exact bytes`)
      }
      const results = await Promise.all(h.served)
      t.strictSame(
        results.map(r => ({ aborted: r.aborted, error: r.error })),
        results.map(() => ({ aborted: false, error: undefined })),
        'every response completed without error',
      )
      t.strictSame(
        results.map(r => r.bytes),
        cases.map(c => c.want.length),
        'every result counts the body bytes sent',
      )
    })
  }
})

t.test('HEAD and 304 never read the content', async t => {
  const h = await harness(t)
  let reads = 0
  const content: Content = {
    size: 100_000,
    readAt() {
      reads++
      return Promise.reject(new Error('must not be read'))
    },
  }
  h.serve({ content, etag: 'W/"foo"' }, { pieceSize: 4096 })
  const cases: Array<[string, 'GET' | 'HEAD', Record<string, string>, number]> = [
    ['a HEAD', 'HEAD', {}, 200],
    ['a HEAD with a range', 'HEAD', { range: 'bytes=0-10' }, 206],
    ['an If-None-Match GET (not_modified_etag_no_seek)', 'GET', { 'if-none-match': '"baz", W/"foo"' }, 304],
  ]
  for (const [title, method, headers, status] of cases) {
    const res = await request(h.url, { dispatcher: h.agent, method, headers })
    await res.body.dump()
    t.equal(res.statusCode, status, `${title} answers ${status}`)
  }
  t.equal(reads, 0, 'the content was never read')
})

t.test('a content that fails at the first read gives a clean 500', async t => {
  for (const size of [100, 100_000]) {
    await t.test(`a ${size}-byte content failing at once answers 500`, async t => {
      const h = await harness(t)
      const content: Content = {
        size,
        readAt: () => Promise.reject(new CutoverError('ERR_IO', 'secret path /var/blobs/x')),
      }
      h.serve(
        {
          content,
          etag: '"e"',
          lastModified: HTML_MOD,
          contentType: 'application/zip',
          headers: [['Cache-Control', 'max-age=3600'], ['X-Custom', 'kept']],
        },
        { pieceSize: 4096 },
      )
      const res = await request(h.url, { dispatcher: h.agent })
      const body = (await readAll(res.body)).toString()
      t.equal(res.statusCode, 500, 'status 500')
      t.equal(res.headers['content-type'], 'text/plain; charset=utf-8', 'plain text')
      t.equal(res.headers['x-content-type-options'], 'nosniff', 'nosniff')
      t.equal(res.headers['content-length'], String(Buffer.byteLength(body)), 'an exact Content-Length')
      t.match(body, /^(500 )?Internal Server Error\n$/, 'a fixed message')
      t.notMatch(body, /secret/, 'the error message does not leak')
      for (const name of ['etag', 'last-modified', 'cache-control', 'accept-ranges', 'content-range']) {
        t.equal(res.headers[name], undefined, `no ${name}`)
      }
      t.equal(res.headers['x-custom'], 'kept', 'other extra headers are kept')
      const [r] = await Promise.all(h.served)
      t.equal(r?.status, 500, 'the result says 500')
      t.equal((r?.error as CutoverError | undefined)?.code, 'ERR_IO', 'the result keeps the error for the log')
    })
  }
})

t.test('a content that fails after the first piece never looks complete', async t => {
  const cases: Array<{ title: string; range?: string }> = [
    { title: 'a full body' },
    { title: 'a single range', range: 'bytes=100-900000' },
    { title: 'a multipart body', range: 'bytes=0-10,100-900000' },
  ]
  for (const c of cases) {
    await t.test(`${c.title} is cut short`, async t => {
      const h = await harness(t)
      const size = 1 << 20
      const content: Content = {
        size,
        readAt(buf, off) {
          if (off >= 16384) return Promise.reject(new CutoverError('ERR_IO', 'store went away'))
          buf.fill(0x61)
          return Promise.resolve(buf.length)
        },
      }
      h.serve({ content }, { pieceSize: 4096 })
      const res = await request(h.url, { dispatcher: h.agent, headers: c.range ? { range: c.range } : {} })
      const promised = Number(res.headers['content-length'])
      let received = 0
      let failed = false
      try {
        for await (const chunk of res.body) received += (chunk as Buffer).length
      } catch {
        failed = true
      }
      t.ok(res.statusCode === 200 || res.statusCode === 206, `the header was already sent (${res.statusCode})`)
      t.ok(received < promised, 'fewer bytes than promised arrived')
      const [r] = await Promise.all(h.served)
      t.equal(r?.aborted, true, 'the result says aborted')
      t.equal((r?.error as CutoverError | undefined)?.code, 'ERR_IO', 'the result keeps the read error')
    })
  }
})

t.test('a client that aborts mid-download stops the reads', async t => {
  const h = await harness(t)
  const size = 64 << 20
  const pieceSize = 4096
  const signals = new Set<AbortSignal | undefined>()
  let reads = 0
  let readsAfterAbort = 0
  const content: Content = {
    size,
    readAt(buf, _off, signal) {
      reads++
      signals.add(signal)
      if (signal?.aborted) readsAfterAbort++
      buf.fill(0)
      return Promise.resolve(buf.length)
    },
  }
  h.serve({ content }, { pieceSize })
  const ac = new AbortController()
  const res = await request(h.url, { dispatcher: h.agent, signal: ac.signal })
  let got = 0
  let aborted = false
  try {
    for await (const chunk of res.body) {
      got += (chunk as Buffer).length
      ac.abort()
    }
  } catch {
    aborted = true
  }
  t.ok(aborted, 'the client download was aborted')
  t.ok(got > 0 && got < size, `the client got part of the body (${got} bytes)`)
  const [r] = await Promise.all(h.served)
  t.equal(r?.aborted, true, 'the server result says aborted')
  t.equal(r?.error, undefined, 'a client abort is not a read error')
  const total = size / pieceSize
  t.ok(reads < total / 4, `far fewer reads than pieces (${reads} of ${total})`)
  t.equal(signals.size, 1, 'every read got the same signal')
  const [signal] = [...signals]
  t.ok(signal?.aborted, 'that signal is aborted once the client left')
  t.ok(readsAfterAbort <= 1, `at most one read started after the abort (${readsAfterAbort})`)
})

t.test('a 1 GiB download never has more than two reads pending', async t => {
  const h = await harness(t)
  const size = 2 ** 30
  let pending = 0
  let maxPending = 0
  let reads = 0
  const content: Content = {
    size,
    async readAt(buf, off) {
      reads++
      pending++
      maxPending = Math.max(maxPending, pending)
      try {
        await new Promise<void>(resolve => setImmediate(resolve))
        const n = Math.min(buf.length, size - off)
        buf.fill(0, 0, n)
        return n
      } finally {
        pending--
      }
    },
  }
  h.serve({ content })
  const res = await request(h.url, { dispatcher: h.agent })
  let got = 0
  for await (const chunk of res.body) got += (chunk as Buffer).length
  t.equal(res.statusCode, 200, 'status 200')
  t.equal(got, size, 'all 1 GiB arrived')
  t.ok(maxPending <= 2, `at most two reads were pending at once (max ${maxPending})`)
  t.ok(reads >= size / (1 << 20), `the body was read in bounded pieces (${reads} reads)`)
  const [r] = await Promise.all(h.served)
  t.equal(r?.bytes, size, 'the result counts every byte')
})
