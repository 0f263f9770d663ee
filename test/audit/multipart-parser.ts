import t from 'tap'
import { boundaryOf, parseMultipart } from '../../src/audit/multipart-parser.js'
import { codeOf } from '../../src/core/errors.js'
import { chunked, multipart } from '../helpers/engine.js'

async function parts(body: string, boundary: string, seed: number): Promise<Array<{ headers: string; data: string }>> {
  const out: Array<{ headers: string; data: string }> = []
  for await (const p of parseMultipart(chunked(Buffer.from(body, 'latin1'), seed), boundary)) {
    const chunks: Buffer[] = []
    for await (const c of p.body) chunks.push(Buffer.from(c))
    out.push({ headers: p.headers.map(([k, v]) => `${k}=${v}`).join(';'), data: Buffer.concat(chunks).toString('latin1') })
  }
  return out
}

const P = [
  { range: 'bytes 0-1/11', type: 'text/plain', data: '01' },
  { range: 'bytes 5-8/11', type: 'text/plain', data: '5678' },
  { range: 'bytes 9-10/11', type: 'text/plain', data: '9\n' },
]

t.test('parseMultipart reads Go and nginx layouts alike, whatever the chunking', async t => {
  for (const style of ['go', 'nginx'] as const) {
    for (const seed of [1, 2, 3, 4]) {
      const got = await parts(multipart('B0undary', P, style), 'B0undary', seed)
      t.same(
        got.map(p => p.data),
        ['01', '5678', '9\n'],
        `${style} layout, chunking ${seed}: part bytes`,
      )
      t.match(got[1]!.headers, /content-range=bytes 5-8\/11/)
    }
  }
})

t.test('parseMultipart keeps CRLF and dashes inside part bytes', async t => {
  const tricky = [{ range: 'bytes 0-9/10', type: 'a/b', data: '\r\n--B\r\n-x' }]
  const got = await parts(multipart('BOUND', tricky, 'go'), 'BOUND', 7)
  t.equal(got[0]!.data, '\r\n--B\r\n-x')
})

t.test('parseMultipart skips a part the consumer leaves unread', async t => {
  const seen: string[] = []
  for await (const p of parseMultipart(chunked(Buffer.from(multipart('Q', P, 'go'), 'latin1'), 3), 'Q')) {
    seen.push(p.headers[0]![1])
  }
  t.same(seen, ['bytes 0-1/11', 'bytes 5-8/11', 'bytes 9-10/11'])
})

t.test('parseMultipart rejects malformed bodies with ERR_MULTIPART', async t => {
  const bad: Array<[string, string]> = [
    ['no boundary at all', 'hello world'],
    ['unterminated part', '--B\r\nContent-Range: x\r\n\r\nabc'],
    ['garbage after a boundary', '--B junk\r\n\r\nabc\r\n--B--'],
    ['header line without colon', '--B\r\nbroken\r\n\r\nabc\r\n--B--'],
  ]
  for (const [title, body] of bad) {
    let code: string | undefined
    try {
      await parts(body, 'B', 1)
    } catch (err) {
      code = codeOf(err)
    }
    t.equal(code, 'ERR_MULTIPART', title)
  }
})

t.test('boundaryOf extracts the boundary of multipart types only', async t => {
  const cases: Array<[string | undefined, string | undefined]> = [
    ['multipart/byteranges; boundary=abc', 'abc'],
    ['multipart/byteranges; boundary="a b"', 'a b'],
    ['Multipart/ByteRanges;boundary=00000000000000000001', '00000000000000000001'],
    ['text/plain; boundary=abc', undefined],
    ['multipart/byteranges', undefined],
    [undefined, undefined],
  ]
  for (const [ct, want] of cases) t.equal(boundaryOf(ct), want, String(ct))
})
