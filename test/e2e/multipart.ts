// multipart/byteranges responses of `cutover serve`, parsed by an independent MIME parser
// (python3's email package), not by our own code.
import t from 'tap'
import { requireTool, startServe } from '../helpers/serve.js'
import { header, prngBytes, rawRequest, run, sha256 } from '../helpers/e2e.js'

/** Parses stdin as the body of a message whose Content-Type is argv[1]; prints its parts as JSON. */
const PARSER = String.raw`
import sys, json, hashlib, email
raw = sys.stdin.buffer.read()
msg = email.message_from_bytes(b'Content-Type: ' + sys.argv[1].encode('latin-1') + b'\r\n\r\n' + raw)
out = {
  'multipart': msg.is_multipart(),
  'defects': [type(d).__name__ for d in msg.defects],
  'preamble': msg.preamble,
  'epilogue': msg.epilogue,
  'parts': [],
}
if msg.is_multipart():
  for p in msg.get_payload():
    data = p.get_payload(decode=True)
    assert isinstance(data, bytes)
    out['parts'].append({
      'headers': list(p.keys()),
      'content_range': p.get('Content-Range'),
      'content_type': p.get('Content-Type'),
      'length': len(data),
      'sha256': hashlib.sha256(data).hexdigest(),
      'defects': [type(d).__name__ for d in p.defects],
    })
print(json.dumps(out))
`

interface Parsed {
  multipart: boolean
  defects: string[]
  preamble: string | null
  epilogue: string | null
  parts: {
    headers: string[]
    content_range: string | null
    content_type: string | null
    length: number
    sha256: string
    defects: string[]
  }[]
}

const small = prngBytes(10_000, 3) // kept in memory by the server
const large = prngBytes(3 * 256 * 1024 + 4321, 5) // streamed from disk in pieces

interface Case {
  name: string
  file: string
  data: Buffer
  type: string
  range: string
  /** Expected parts as [first, last] byte offsets, in response order. */
  want: [number, number][]
}

const cases: Case[] = [
  {
    name: 'three ranges incl. a suffix',
    file: 'small.bin',
    data: small,
    type: 'application/octet-stream',
    range: 'bytes=0-9,100-199,-50',
    want: [[0, 9], [100, 199], [small.length - 50, small.length - 1]],
  },
  {
    name: 'unsorted and overlapping ranges are kept as asked',
    file: 'small.txt',
    data: small,
    type: 'text/plain; charset=utf-8',
    range: 'bytes=500-599, 0-0 ,550-649,9990-',
    want: [[500, 599], [0, 0], [550, 649], [9990, 9999]],
  },
  {
    name: 'large file, parts spanning several pieces',
    file: 'large.bin',
    data: large,
    type: 'application/octet-stream',
    range: `bytes=1-300000,262143-262144,-70000`,
    want: [[1, 300000], [262143, 262144], [large.length - 70000, large.length - 1]],
  },
  {
    name: 'end clamped to the size, skipped element',
    file: 'large.bin',
    data: large,
    type: 'application/octet-stream',
    range: `bytes=${large.length + 5}-,10-19,${large.length - 3}-${large.length + 100}`,
    want: [[10, 19], [large.length - 3, large.length - 1]],
  },
]

t.test('multipart/byteranges parsed by python3 email', async t => {
  if (!requireTool(t, 'python3')) return
  const root = t.testdir({ 'small.bin': small, 'small.txt': small, 'large.bin': large })
  const { url } = await startServe(t, root)
  for (const c of cases) {
    await t.test(c.name, async t => {
      const res = await rawRequest(url, 'GET', `/${c.file}`, { Range: c.range })
      t.equal(res.status, 206)
      const ctype = header(res, 'content-type') ?? ''
      t.match(ctype, /^multipart\/byteranges; boundary=[0-9a-f]{60}$/)
      t.equal(header(res, 'content-length'), String(res.body.length), 'Content-Length is the body length')
      t.equal(header(res, 'content-range'), undefined, 'no top-level Content-Range')
      t.equal(header(res, 'accept-ranges'), 'bytes')

      const py = await run('python3', ['-c', PARSER, ctype], { input: res.body, timeoutMs: 20_000 })
      t.equal(py.code, 0, py.stderr)
      const got = JSON.parse(py.stdout) as Parsed
      t.equal(got.multipart, true)
      t.same(got.defects, [], 'no MIME defects in the message')
      t.notOk(got.preamble, 'no preamble')
      t.notOk(got.epilogue, 'no epilogue')
      t.equal(got.parts.length, c.want.length, 'part count')
      for (const [i, [first, last]] of c.want.entries()) {
        const p = got.parts[i]
        if (!p) break
        t.same(p.headers, ['Content-Range', 'Content-Type'], `part ${i} headers`)
        t.equal(p.content_range, `bytes ${first}-${last}/${c.data.length}`, `part ${i} Content-Range`)
        t.equal(p.content_type, c.type, `part ${i} Content-Type`)
        t.equal(p.length, last - first + 1, `part ${i} length`)
        t.equal(p.sha256, sha256(c.data.subarray(first, last + 1)), `part ${i} bytes`)
        t.same(p.defects, [], `part ${i} has no defects`)
      }
    })
  }
})

t.test('HEAD of a multi-range request announces the same length, sends no body', async t => {
  const root = t.testdir({ 'large.bin': large })
  const { url } = await startServe(t, root)
  const range = 'bytes=0-9,100-199,-50'
  const get = await rawRequest(url, 'GET', '/large.bin', { Range: range })
  const head = await rawRequest(url, 'HEAD', '/large.bin', { Range: range })
  t.equal(head.status, 206)
  t.equal(head.body.length, 0)
  t.equal(header(head, 'content-length'), header(get, 'content-length'))
  t.equal(header(get, 'content-length'), String(get.body.length))
})
