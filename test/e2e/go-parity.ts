/**
 * Differential parity test: every request of a systematic table is sent to cutover's server and to
 * a Go oracle (test/e2e/go-oracle: http.ServeContent on the same directory, with cutover's ETag),
 * and the answers must agree in status, Content-Range, Content-Length, Accept-Ranges, Content-Type,
 * validators and body; multipart bodies are compared part by part, only the boundary may differ.
 *
 * Accepted Go version differences (the machine may have Go 1.19, cutover follows Go 1.23):
 * - Go 1.23 drops Cache-Control, Content-Encoding, ETag and Last-Modified from error responses
 *   (416/500), 1.19 does not: validators are compared only on 200/206/304/412.
 * - Go 1.21+ answers 200 to a Range that fails to overlap an empty file; the oracle applies that
 *   rule itself when built with an older Go (see main.go).
 * Content sniffing (http.DetectContentType, used for names without a known extension) has the same
 * signature table and code in Go 1.19 and 1.23, so the extension-less fixtures need no exception.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { startGoOracle } from '../helpers/go-oracle.js'
import { startServe } from '../helpers/serve.js'


/** MTIME is every fixture's modification time: a whole second, so µs and ms agree everywhere. */
const MTIME = 1_700_000_000
const LAST_MODIFIED = new Date(MTIME * 1000).toUTCString()
const EARLIER = new Date((MTIME - 86_400) * 1000).toUTCString()
const LATER = new Date((MTIME + 86_400) * 1000).toUTCString()

const MiB = 1024 * 1024

/** bigBytes is 3 MiB of seeded pseudo-random bytes (xorshift32), the same on every run. */
function bigBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = 0x9e3779b9
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    b[i] = x & 0xff
  }
  return b
}

interface Fixture {
  readonly name: string
  readonly data: Buffer
  /** A single range and a multi-range that make sense for this file, for If-Range rows. */
  readonly single: string
  readonly multi: string
  /**
   * Which rows: every Range and conditional row, or (for the sniffed-type fixtures) the rows where
   * the Content-Type shows: whole, HEAD, single and multi-range (part headers carry the type).
   */
  readonly rows?: 'all' | 'content-type'
  /** The type Go must sniff for it (checked on Go's own 200, so a fixture cannot silently mean another type). */
  readonly sniffsAs?: string
}

/** sniffed builds an extension-less fixture whose Content-Type Go (and cutover) must sniff. */
const sniffed = (name: string, data: Buffer, sniffsAs: string): Fixture => ({
  name,
  data,
  sniffsAs,
  single: 'bytes=0-4',
  multi: 'bytes=0-1,5-8',
  rows: 'content-type',
})
const bin = (s: string): Buffer => Buffer.from(s, 'latin1')
const TEXT = 'text/plain; charset=utf-8'

const FIXTURES: Fixture[] = [
  { name: 'nums11.txt', data: Buffer.from('0123456789\n'), single: 'bytes=0-4', multi: 'bytes=0-1,3-4' },
  { name: 'empty.txt', data: Buffer.alloc(0), single: 'bytes=0-0', multi: 'bytes=-1,-0' },
  { name: 'one.bin', data: Buffer.from([0x7f]), single: 'bytes=0-0', multi: 'bytes=0-0,-1' },
  { name: 'big.bin', data: bigBytes(3 * MiB), single: 'bytes=2097151-2097152', multi: 'bytes=0-9,2097100-2097199' },
  // Names without an extension: Go sniffs the first 512 bytes (http.DetectContentType).
  sniffed('file', Buffer.from('0123456789\n'), TEXT), // the bytes of Go's net/http/testdata/file
  sniffed('page', Buffer.from('\n  <!DOCTYPE html>\n<html><body><p>hello</p></body></html>\n'), 'text/html; charset=utf-8'),
  sniffed('image-png', bin('\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00'), 'image/png'),
  sniffed('image-gif', bin('GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04'), 'image/gif'),
  sniffed('archive-gz', bin('\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00'), 'application/x-gzip'),
  sniffed('archive-zip', bin('PK\x03\x04\x14\x00\x00\x00\x08\x00hello.txt'), 'application/zip'),
  sniffed('binary', Buffer.from(Array.from({ length: 256 }, (_, i) => i)), 'application/octet-stream'),
  sniffed('utf16', Buffer.concat([bin('\xff\xfe'), Buffer.from('hello, world\n', 'utf16le')]), 'text/plain; charset=utf-16le'),
  { ...sniffed('empty', Buffer.alloc(0), TEXT), single: 'bytes=0-0', multi: 'bytes=-1,-0' },
  // Only the first 512 bytes count: text up to 512 then binary is text; binary at 511 is not.
  sniffed('text-then-binary', Buffer.concat([Buffer.alloc(512, 'a'), Buffer.from([0, 1, 2, 3]), Buffer.alloc(100, 'b')]), TEXT),
  sniffed('binary-at-511', Buffer.concat([Buffer.alloc(511, 'a'), Buffer.from([0]), Buffer.alloc(100, 'b')]), 'application/octet-stream'),
  // Larger than the small-file cache: sniffed from one read of the open file.
  sniffed('big-text-head', Buffer.concat([Buffer.alloc(600, 'x'), bigBytes(MiB + 4096)]), TEXT),
]

/** Rows for the sniffed fixtures: the Content-Type of the whole, of one range, of every part. */
const CONTENT_TYPE_ROWS: Headers[] = [
  {},
  { Range: 'bytes=0-4' },
  { Range: 'bytes=0-0,-2' },
  { Range: 'bytes=0-1,5-8' },
  { Range: 'bytes=0-1,5-' },
  { Range: 'bytes=1-2,4-6,9-' },
  { Range: 'bytes=-1,-0' },
  { Range: 'bytes=100-' },
]

const etagOf = (f: Fixture): string => `"${(MTIME * 1_000_000).toString(16)}-${f.data.length.toString(16)}"`

/** Range values from Go's ServeFileRangeTests (net/http/fs_test.go). */
const GO_RANGES = [
  'bytes=0-4',
  'bytes=2-',
  'bytes=-5',
  'bytes=3-7',
  'bytes=0-0,-2',
  'bytes=0-1,5-8',
  'bytes=0-1,5-',
  'bytes=5-1000',
  'bytes=0-,1-,2-,3-,4-',
  'bytes=0-9',
  'bytes=0-10',
  'bytes=0-11',
  'bytes=10-11',
  'bytes=10-',
  'bytes=11-',
  'bytes=11-12',
  'bytes=12-12',
  'bytes=11-100',
  'bytes=12-100',
  'bytes=100-',
  'bytes=100-1000',
]

/** More Range values: edge cases of the grammar and of Go's leniencies. */
const MORE_RANGES = [
  'bytes=',
  'bytes= ',
  'bytes=0-0',
  'bytes=-0',
  'bytes=-1',
  'bytes=-100',
  'bytes=5-5',
  'bytes=0-',
  'bytes=0-4,-2',
  'bytes=1-2,1-2',
  'bytes=3-1',
  'bytes=a-b',
  'bytes=1',
  'bytes=--1',
  'bytes=+1-2',
  'bytes=-+1',
  'bytes=1-+2',
  'bytes=0-1, 3-4 ,,',
  'bytes=,',
  'bytes=-0,-0',
  'bytes=0-0,-0',
  'bytes=100-,0-0',
  'bytes=0-0,100-',
  'bytes=100-,200-',
  'bytes=0-0,a',
  'bytes=99999999999999999999-',
  'bytes=0-99999999999999999999',
  'bytes=-99999999999999999999',
  'bytes=9223372036854775807-',
  'bytes=-9223372036854775807',
  'items=0-1',
  'Bytes=0-1',
  'bytes =0-1',
  'bytes=0 - 1',
  'bytes=\t0-1',
]

/** Range values for the 3 MiB file: 2 MiB and 256 KiB boundary straddles, many parts. */
const BIG_RANGES = [
  'bytes=2097151-2097152',
  'bytes=2097100-2097200',
  'bytes=2097152-',
  'bytes=-2097153',
  'bytes=0-2097152',
  'bytes=1048576-3145727',
  'bytes=262143-262144',
  'bytes=0-262144,524288-786432',
  'bytes=3145727-',
  'bytes=3145727-3145727',
  'bytes=3145728-',
  'bytes=-3145728',
  'bytes=-3145729',
  'bytes=0-99,2097100-2097199,1000-1999,-500,3000000-3000099',
  'bytes=0-1048575,1048576-2097151,2097152-3145727',
  'bytes=0-1048575,1048576-2097151,2097152-3145728,0-0',
  'bytes=2097151-2097152,0-0,3145727-',
]

type Headers = Record<string, string>

/** conditionalRows are header sets built from the file's validators. */
function conditionalRows(f: Fixture): Headers[] {
  const etag = etagOf(f)
  const weak = `W/${etag}`
  const wrong = '"nope-1"'
  const rows: Headers[] = [
    {},
    { 'If-None-Match': etag },
    { 'If-None-Match': wrong },
    { 'If-None-Match': '*' },
    { 'If-None-Match': weak },
    { 'If-None-Match': `${wrong}, ${etag}` },
    { 'If-None-Match': `${wrong}, ${weak}` },
    { 'If-Match': etag },
    { 'If-Match': wrong },
    { 'If-Match': '*' },
    { 'If-Match': weak },
    { 'If-Match': `${wrong}, ${etag}` },
    { 'If-Modified-Since': LAST_MODIFIED },
    { 'If-Modified-Since': EARLIER },
    { 'If-Modified-Since': LATER },
    { 'If-Modified-Since': 'garbage' },
    { 'If-Unmodified-Since': LAST_MODIFIED },
    { 'If-Unmodified-Since': EARLIER },
    { 'If-Unmodified-Since': LATER },
    { 'If-Unmodified-Since': 'garbage' },
    // Precedence: If-Match over If-Unmodified-Since, If-None-Match over If-Modified-Since.
    { 'If-Match': etag, 'If-Unmodified-Since': EARLIER },
    { 'If-Match': wrong, 'If-Unmodified-Since': LATER },
    { 'If-None-Match': wrong, 'If-Modified-Since': LAST_MODIFIED },
    { 'If-None-Match': etag, 'If-Modified-Since': EARLIER },
    { 'If-Match': wrong, 'If-None-Match': etag },
    // Preconditions before ranges.
    { 'If-None-Match': etag, Range: f.single },
    { 'If-Modified-Since': LAST_MODIFIED, Range: f.multi },
    { 'If-Match': wrong, Range: f.single },
    { 'If-Unmodified-Since': EARLIER, Range: f.multi },
    { 'If-Match': etag, Range: f.multi },
    // If-Range alone has no effect.
    { 'If-Range': etag },
    { 'If-Range': 'garbage' },
  ]
  const ifRanges = [etag, weak, wrong, LAST_MODIFIED, EARLIER, LATER, 'garbage']
  for (const ir of ifRanges) {
    rows.push({ 'If-Range': ir, Range: f.single })
    rows.push({ 'If-Range': ir, Range: f.multi })
  }
  return rows
}

interface Row {
  readonly method: 'GET' | 'HEAD'
  readonly file: Fixture
  readonly headers: Headers
}

function buildRows(): Row[] {
  const rows: Row[] = []
  for (const method of ['GET', 'HEAD'] as const) {
    for (const file of FIXTURES) {
      const sets: Headers[] =
        file.rows === 'content-type'
          ? [...CONTENT_TYPE_ROWS, { 'If-Range': etagOf(file), Range: file.multi }, { 'If-None-Match': etagOf(file) }]
          : [
              ...[...GO_RANGES, ...MORE_RANGES].map(r => ({ Range: r })),
              ...(file.name === 'big.bin' ? BIG_RANGES.map(r => ({ Range: r })) : []),
              ...conditionalRows(file),
            ]
      for (const headers of sets) rows.push({ method, file, headers })
    }
  }
  return rows
}

const titleOf = (r: Row): string => {
  const hs = Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`)
  return `${r.method} ${r.file.name} ${hs.length ? hs.join(' + ') : '(no headers)'} matches Go`
}

/** Rec is the normalized view of a response that must be identical between Go and cutover. */
interface Rec {
  status: number
  contentRange: string | undefined
  contentLength: string | undefined
  acceptRanges: string | undefined
  contentType: string | undefined
  etag?: string | undefined
  lastModified?: string | undefined
  bodyLength: number
  body: { sha256: string } | { text: string } | { preamble: string; parts: Part[]; epilogue: string }
}

interface Part {
  headers: string
  length: number
  sha256: string
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** splitMultipart cuts a multipart body on its own boundary; the boundary itself becomes `<B>`. */
function splitMultipart(body: Buffer, boundary: string): { preamble: string; parts: Part[]; epilogue: string } {
  const delim = Buffer.from(`--${boundary}`, 'latin1')
  const parts: Part[] = []
  let pos = body.indexOf(delim)
  if (pos < 0) return { preamble: body.toString('latin1'), parts, epilogue: '' }
  const preamble = body.subarray(0, pos).toString('latin1')
  let epilogue = ''
  for (let guard = 0; pos >= 0 && guard < 1000; guard++) {
    const start = pos + delim.length
    const next = body.indexOf(delim, start)
    const seg = body.subarray(start, next < 0 ? body.length : next)
    if (seg.subarray(0, 2).toString('latin1') === '--') {
      epilogue = seg.toString('latin1')
      if (next >= 0) epilogue += '<data after the closing delimiter>'
      break
    }
    const sep = seg.indexOf('\r\n\r\n')
    const head = sep < 0 ? seg : seg.subarray(0, sep)
    const data = sep < 0 ? Buffer.alloc(0) : seg.subarray(sep + 4)
    parts.push({ headers: head.toString('latin1'), length: data.length, sha256: sha256(data) })
    pos = next
  }
  return { preamble, parts, epilogue }
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join('\n') : v)

const MULTIPART = 'multipart/byteranges; boundary='

async function fetchRec(dispatcher: Agent, base: string, row: Row): Promise<Rec> {
  const res = await request(`${base}/${row.file.name}`, {
    method: row.method,
    headers: row.headers,
    dispatcher,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  })
  const body = Buffer.from(await res.body.arrayBuffer())
  const h = res.headers
  const status = res.statusCode
  let contentType = one(h['content-type'])
  let boundary: string | undefined
  if (contentType?.startsWith(MULTIPART)) {
    boundary = contentType.slice(MULTIPART.length)
    contentType = `${MULTIPART}<${boundary.length} chars>`
  }
  const rec: Rec = {
    status,
    contentRange: one(h['content-range']),
    contentLength: one(h['content-length']),
    acceptRanges: one(h['accept-ranges']),
    contentType,
    bodyLength: body.length,
    body:
      boundary !== undefined
        ? splitMultipart(body, boundary)
        : status >= 400
          ? { text: body.toString('latin1') }
          : { sha256: sha256(body) },
  }
  if ([200, 206, 304, 412].includes(status)) {
    rec.etag = one(h.etag)
    rec.lastModified = one(h['last-modified'])
  }
  return rec
}

// --- setup -------------------------------------------------------------------------------------

const dir = t.testdir({})
const root = join(dir, 'root')
mkdirSync(root)
for (const f of FIXTURES) {
  const p = join(root, f.name)
  writeFileSync(p, f.data)
  utimesSync(p, MTIME, MTIME)
}
// Without Go the test is skipped with the apt-get line (failed under CUTOVER_REQUIRE_TOOLS=1).
const goUrl = await startGoOracle(t, root)
if (goUrl !== undefined) {
  const { url: cutUrl } = await startServe(t, root)
  const dispatcher = new Agent({ connections: 4, keepAliveTimeout: 5_000 })
  t.teardown(() => dispatcher.destroy())

  const rows = buildRows()
  t.ok(rows.length >= 80, `${rows.length} rows`)
  for (const row of rows) {
    t.test(titleOf(row), async tt => {
      const [go, cut] = await Promise.all([fetchRec(dispatcher, goUrl, row), fetchRec(dispatcher, cutUrl, row)])
      if (row.file.sniffsAs !== undefined && go.status === 200) tt.equal(go.contentType, row.file.sniffsAs, 'Go sniffs the type the fixture is for')
      tt.same(cut, go, 'cutover answers as Go does')
    })
  }
}
