import t from 'tap'
import { contentRange, parseRange, sumRangesSize, trimOws, type RangeResult } from '../../src/http/range.js'
import { planResponse, type ResponsePlan } from '../../src/http/serve-content.js'

/** Shorthand for the expected outcomes: [start, length] pairs. */
const ranges = (...rs: Array<[number, number]>): RangeResult => ({
  kind: 'ranges',
  ranges: rs.map(([start, length]) => ({ start, length })),
})
const NONE: RangeResult = { kind: 'none' }
const INVALID: RangeResult = { kind: 'invalid' }
const NO_OVERLAP: RangeResult = { kind: 'no-overlap' }

// parseRange against Go 1.23's net/http parseRange (fs.go) and strconv.ParseInt(s, 10, 64).
const parseCases: Array<{ title: string; h: string | undefined; size: number; want: RangeResult }> = [
  { title: 'no header means no range', h: undefined, size: 11, want: NONE },
  { title: 'an empty header means no range', h: '', size: 11, want: NONE },
  { title: '"bytes=" alone has no element and means no range', h: 'bytes=', size: 11, want: NONE },
  { title: 'only commas and spaces mean no range', h: 'bytes= , ,,', size: 11, want: NONE },
  { title: 'a wrong unit is invalid', h: 'items=0-4', size: 11, want: INVALID },
  { title: 'the unit is case-sensitive', h: 'Bytes=0-4', size: 11, want: INVALID },
  { title: 'a space before "=" is invalid', h: 'bytes =0-4', size: 11, want: INVALID },
  { title: 'a closed range is inclusive', h: 'bytes=0-4', size: 11, want: ranges([0, 5]) },
  { title: 'a one-byte range is allowed', h: 'bytes=5-5', size: 11, want: ranges([5, 1]) },
  { title: 'a suffix asks for the last bytes', h: 'bytes=-5', size: 11, want: ranges([6, 5]) },
  { title: 'the suffix "-0" is an empty range at the end', h: 'bytes=-0', size: 11, want: ranges([11, 0]) },
  { title: 'a suffix equal to the size is the whole', h: 'bytes=-11', size: 11, want: ranges([0, 11]) },
  { title: 'a suffix larger than the size clamps to the whole', h: 'bytes=-100', size: 11, want: ranges([0, 11]) },
  { title: 'a suffix of int64 max clamps to the whole', h: 'bytes=-9223372036854775807', size: 11, want: ranges([0, 11]) },
  { title: 'a suffix beyond int64 is invalid', h: 'bytes=-9223372036854775808', size: 11, want: INVALID },
  { title: 'a double minus suffix is invalid', h: 'bytes=--6', size: 11, want: INVALID },
  { title: 'a double minus zero suffix is invalid', h: 'bytes=--0', size: 11, want: INVALID },
  { title: 'a suffix with a trailing dash is invalid', h: 'bytes=-6-', size: 11, want: INVALID },
  { title: 'a suffix with a plus sign is accepted', h: 'bytes=-+2', size: 11, want: ranges([9, 2]) },
  { title: 'a fractional suffix is invalid', h: 'bytes=-1.0', size: 11, want: INVALID },
  { title: 'an open range runs to the end', h: 'bytes=3-', size: 11, want: ranges([3, 8]) },
  { title: 'an open range from 0 is the whole', h: 'bytes=0-', size: 11, want: ranges([0, 11]) },
  { title: 'an open range from the last byte is one byte', h: 'bytes=10-', size: 11, want: ranges([10, 1]) },
  { title: 'a start equal to the size does not overlap', h: 'bytes=11-', size: 11, want: NO_OVERLAP },
  { title: 'a start past the size does not overlap', h: 'bytes=12-20', size: 11, want: NO_OVERLAP },
  { title: 'a start past the size is skipped even with a smaller end', h: 'bytes=20-5', size: 11, want: NO_OVERLAP },
  { title: 'a start past the size is skipped even with a bad end', h: 'bytes=20-x', size: 11, want: NO_OVERLAP },
  { title: 'a non-overlapping element is skipped beside a good one', h: 'bytes=20-30,0-1', size: 11, want: ranges([0, 2]) },
  { title: 'every element skipped means no overlap', h: 'bytes=11-,12-13,100-', size: 11, want: NO_OVERLAP },
  { title: 'an invalid element after a skipped one is invalid', h: 'bytes=11-,x', size: 11, want: INVALID },
  { title: 'an end at the size clamps to the last byte', h: 'bytes=0-11', size: 11, want: ranges([0, 11]) },
  { title: 'an end past the size clamps to the last byte', h: 'bytes=5-1000', size: 11, want: ranges([5, 6]) },
  { title: 'an end of int64 max clamps to the last byte', h: 'bytes=0-9223372036854775807', size: 11, want: ranges([0, 11]) },
  { title: 'an end beyond int64 is invalid', h: 'bytes=0-9223372036854775808', size: 11, want: INVALID },
  { title: 'an end of twenty nines is invalid', h: 'bytes=0-99999999999999999999', size: 11, want: INVALID },
  { title: 'a start above 2^53 but within int64 is past the end', h: 'bytes=9007199254740993-', size: 11, want: NO_OVERLAP },
  { title: 'a start of int64 max is past the end', h: 'bytes=9223372036854775807-', size: 11, want: NO_OVERLAP },
  { title: 'a start beyond int64 is invalid', h: 'bytes=9223372036854775808-', size: 11, want: INVALID },
  { title: 'a start beyond int64 is invalid even past the end', h: 'bytes=99999999999999999999-', size: 11, want: INVALID },
  { title: 'many leading zeros are still a small number', h: 'bytes=00000000000000000000000001-2', size: 11, want: ranges([1, 2]) },
  { title: 'many leading zeros in the end are still a small number', h: 'bytes=1-00000000000000000000000002', size: 11, want: ranges([1, 2]) },
  { title: 'a start after the end is invalid', h: 'bytes=5-4', size: 11, want: INVALID },
  { title: 'a missing dash is invalid', h: 'bytes=5', size: 11, want: INVALID },
  { title: 'a lone dash is invalid', h: 'bytes=-', size: 11, want: INVALID },
  { title: 'letters are invalid', h: 'bytes=a-b', size: 11, want: INVALID },
  { title: 'a letter end is invalid', h: 'bytes=1-b', size: 11, want: INVALID },
  { title: 'hex is invalid', h: 'bytes=0x1-2', size: 11, want: INVALID },
  { title: 'underscores are invalid', h: 'bytes=1_0-2', size: 11, want: INVALID },
  { title: 'a decimal point is invalid', h: 'bytes=1.0-2', size: 11, want: INVALID },
  { title: 'a leading plus sign on the start is accepted', h: 'bytes=+1-2', size: 11, want: ranges([1, 2]) },
  { title: 'a leading plus sign on the end is accepted', h: 'bytes=1-+2', size: 11, want: ranges([1, 2]) },
  { title: 'a lone plus sign is invalid', h: 'bytes=+-2', size: 11, want: INVALID },
  { title: 'a negative start is invalid', h: 'bytes=-1-2', size: 11, want: INVALID },
  { title: 'a negative end is invalid', h: 'bytes=1--2', size: 11, want: INVALID },
  { title: 'a negative zero end is zero', h: 'bytes=0--0', size: 11, want: ranges([0, 1]) },
  { title: 'spaces around elements and empty elements are ignored', h: 'bytes= 1-2 ,, 3-4', size: 11, want: ranges([1, 2], [3, 2]) },
  { title: 'spaces around the dash are ignored', h: 'bytes=1 - 2', size: 11, want: ranges([1, 2]) },
  { title: 'tabs are trimmed like spaces', h: 'bytes=\t1-2\t', size: 11, want: ranges([1, 2]) },
  { title: 'a leading comma is ignored', h: 'bytes=,0-1', size: 11, want: ranges([0, 2]) },
  { title: 'a trailing comma is ignored', h: 'bytes=0-1,', size: 11, want: ranges([0, 2]) },
  { title: 'a space inside a number is invalid', h: 'bytes=1 0-20', size: 11, want: INVALID },
  { title: 'multiple ranges keep the request order', h: 'bytes=3-4,1-2', size: 11, want: ranges([3, 2], [1, 2]) },
  { title: 'overlapping ranges are not merged', h: 'bytes=0-5,3-8', size: 11, want: ranges([0, 6], [3, 6]) },
  { title: 'repeated ranges are not merged', h: 'bytes=1-2,1-2,1-2', size: 11, want: ranges([1, 2], [1, 2], [1, 2]) },
  { title: 'adjacent ranges are not merged', h: 'bytes=0-4,5-10', size: 11, want: ranges([0, 5], [5, 6]) },
  { title: 'an empty suffix can sit beside other ranges', h: 'bytes=0-0,-0', size: 11, want: ranges([0, 1], [11, 0]) },
  { title: 'any range of empty content does not overlap', h: 'bytes=0-4', size: 0, want: NO_OVERLAP },
  { title: 'a suffix of empty content is an empty range', h: 'bytes=-5', size: 0, want: ranges([0, 0]) },
  { title: 'a malformed range of empty content is still invalid', h: 'bytes=x', size: 0, want: INVALID },
]

t.test('parseRange follows Go parseRange', async t => {
  for (const c of parseCases) t.strictSame(parseRange(c.h, c.size), c.want, `${c.title} (${JSON.stringify(c.h)} of ${c.size})`)
})

t.test('trimOws trims what Go textproto.TrimString trims', async t => {
  const cases: Array<[string, string]> = [
    ['  a  ', 'a'],
    ['\t\r\na b\n', 'a b'],
    ['', ''],
    [' ', ''],
    ['\u00a0a', '\u00a0a'],
    ['\va\f', '\va\f'],
  ]
  for (const [s, want] of cases) t.equal(trimOws(s), want, `${JSON.stringify(s)} trims to ${JSON.stringify(want)}`)
})

t.test('sumRangesSize counts overlaps twice and contentRange formats inclusively', async t => {
  t.equal(sumRangesSize([{ start: 0, length: 5 }, { start: 3, length: 5 }]), 10, 'overlaps are counted twice')
  t.equal(sumRangesSize([]), 0, 'no ranges sum to 0')
  t.equal(contentRange({ start: 0, length: 5 }, 11), 'bytes 0-4/11', 'first and last byte are inclusive')
  t.equal(contentRange({ start: 11, length: 0 }, 11), 'bytes 11-10/11', 'an empty suffix formats as Go does')
})

// Go's ServeFileRangeTests (net/http/fs_test.go) on testdata/file, "0123456789\n" (11 bytes).
const FILE = '0123456789\n'
const SIZE = FILE.length
const serveFileRangeTests: Array<{ r: string; code: number; ranges?: Array<[number, number]> }> = [
  { r: '', code: 200 },
  { r: 'bytes=0-4', code: 206, ranges: [[0, 5]] },
  { r: 'bytes=2-', code: 206, ranges: [[2, SIZE]] },
  { r: 'bytes=-5', code: 206, ranges: [[SIZE - 5, SIZE]] },
  { r: 'bytes=3-7', code: 206, ranges: [[3, 8]] },
  { r: 'bytes=0-0,-2', code: 206, ranges: [[0, 1], [SIZE - 2, SIZE]] },
  { r: 'bytes=0-1,5-8', code: 206, ranges: [[0, 2], [5, 9]] },
  { r: 'bytes=0-1,5-', code: 206, ranges: [[0, 2], [5, SIZE]] },
  { r: 'bytes=5-1000', code: 206, ranges: [[5, SIZE]] },
  { r: 'bytes=0-,1-,2-,3-,4-', code: 200 }, // ignore wasteful range request
  { r: 'bytes=0-9', code: 206, ranges: [[0, SIZE - 1]] },
  { r: 'bytes=0-10', code: 206, ranges: [[0, SIZE]] },
  { r: 'bytes=0-11', code: 206, ranges: [[0, SIZE]] },
  { r: 'bytes=10-11', code: 206, ranges: [[SIZE - 1, SIZE]] },
  { r: 'bytes=10-', code: 206, ranges: [[SIZE - 1, SIZE]] },
  { r: 'bytes=11-', code: 416 },
  { r: 'bytes=11-12', code: 416 },
  { r: 'bytes=12-12', code: 416 },
  { r: 'bytes=11-100', code: 416 },
  { r: 'bytes=12-100', code: 416 },
  { r: 'bytes=100-', code: 416 },
  { r: 'bytes=100-1000', code: 416 },
]

const CTYPE = 'text/plain; charset=utf-8'
const BOUNDARY = 'BOUNDARY'

function header(p: ResponsePlan, name: string): string | undefined {
  for (let i = 0; i < p.headers.length; i += 2) if (p.headers[i]!.toLowerCase() === name) return p.headers[i + 1]
  return undefined
}

/** bodyOf renders a planned body over FILE, as serveContent would send it. */
function bodyOf(p: ResponsePlan): string {
  const b = p.body
  switch (b.kind) {
    case 'none':
      return ''
    case 'text':
      return b.text
    case 'range':
      return FILE.slice(b.range.start, b.range.start + b.range.length)
    case 'multipart':
      return (
        b.layout.parts.map(part => part.header.toString('latin1') + FILE.slice(part.range.start, part.range.start + part.range.length)).join('') +
        b.layout.trailer.toString('latin1')
      )
  }
}

t.test("Go's ServeFileRangeTests give the same status, Content-Range, Content-Length and bytes", async t => {
  for (const rt of serveFileRangeTests) {
    await t.test(`range ${JSON.stringify(rt.r)} answers ${rt.code}`, async t => {
      const p = planResponse('GET', { range: rt.r || undefined }, { size: SIZE, contentType: CTYPE }, () => BOUNDARY)
      t.equal(p.status, rt.code, 'status')
      const body = bodyOf(p)
      if (rt.code === 416) {
        t.equal(header(p, 'content-range'), `bytes */${SIZE}`, 'Content-Range names the size')
        t.equal(body, 'invalid range: failed to overlap\n', 'the body is the Go error text')
        t.equal(header(p, 'content-length'), String(body.length), 'Content-Length is the error text length')
        return
      }
      t.equal(header(p, 'accept-ranges'), 'bytes', 'Accept-Ranges is bytes')
      t.equal(header(p, 'content-length'), String(Buffer.byteLength(body)), 'Content-Length is the body length')
      const rs = rt.ranges ?? []
      if (rs.length === 0) {
        t.equal(header(p, 'content-range'), undefined, 'no Content-Range on 200')
        t.equal(body, FILE, 'the whole file')
        t.equal(header(p, 'content-type'), CTYPE, 'the content type')
      } else if (rs.length === 1) {
        const [start, end] = rs[0]!
        t.equal(header(p, 'content-range'), `bytes ${start}-${end - 1}/${SIZE}`, 'Content-Range')
        t.equal(body, FILE.slice(start, end), 'the range bytes')
        t.equal(header(p, 'content-type'), CTYPE, 'a single range is never multipart')
      } else {
        t.equal(header(p, 'content-range'), undefined, 'no top-level Content-Range on multipart')
        t.equal(header(p, 'content-type'), `multipart/byteranges; boundary=${BOUNDARY}`, 'multipart content type')
        const want =
          rs
            .map(
              ([start, end], i) =>
                `${i === 0 ? '' : '\r\n'}--${BOUNDARY}\r\nContent-Range: bytes ${start}-${end - 1}/${SIZE}\r\n` +
                `Content-Type: ${CTYPE}\r\n\r\n${FILE.slice(start, end)}`,
            )
            .join('') + `\r\n--${BOUNDARY}--\r\n`
        t.equal(body, want, 'parts in request order with their Content-Range')
      }
    })
  }
})

// Go's TestServeFileRejectsInvalidSuffixLengths on testdata/index.html, "index.html says hello\n".
t.test("Go's invalid suffix length cases answer as Go does", async t => {
  const INDEX = 'index.html says hello\n'
  const cases: Array<[string, number, string]> = [
    ['bytes=--6', 416, 'invalid range\n'],
    ['bytes=--0', 416, 'invalid range\n'],
    ['bytes=---0', 416, 'invalid range\n'],
    ['bytes=-6', 206, 'hello\n'],
    ['bytes=6-', 206, 'html says hello\n'],
    ['bytes=-6-', 416, 'invalid range\n'],
    ['bytes=-0', 206, ''],
    ['bytes=', 200, INDEX],
  ]
  for (const [r, code, text] of cases) {
    const p = planResponse('GET', { range: r }, { size: INDEX.length, contentType: CTYPE })
    const b = p.body
    const body = b.kind === 'text' ? b.text : b.kind === 'range' ? INDEX.slice(b.range.start, b.range.start + b.range.length) : ''
    t.strictSame({ status: p.status, body }, { status: code, body: text }, `${r} answers ${code} with ${JSON.stringify(text)}`)
    if (code === 416) t.equal(header(p, 'content-range'), undefined, `${r} has no Content-Range`)
  }
})
