// Both sides get the same request: the mirror's client path (http-proxy to the primary) and its
// shadow path (HttpBackend) must send the same request line and fields. Two raw TCP servers record
// the bytes each backend received; the client speaks raw HTTP too, so that targets no HTTP library
// sends (absolute-form, `*`, `//`) reach the mirror as written.
import { connect, type Socket } from 'node:net'
import t from 'tap'
import type { Comparison } from '../../src/audit/divergence.js'
import { HttpBackend, MARKER_HEADER } from '../../src/audit/http-backend.js'
import { Mirror } from '../../src/audit/mirror.js'
import { gate, type Gate } from '../helpers/gate.js'
import { rawServer, type Head } from '../helpers/raw-server.js'

/** rawRequest writes `head` to the mirror as is and resolves with the whole answer once it is closed. */
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(port, '127.0.0.1', () => s.write(head))
    let got = ''
    s.setEncoding('latin1')
    s.on('data', (d: string) => (got += d))
    s.on('end', () => resolve(got))
    s.on('error', reject)
  })
}

/**
 * comparable leaves out of a head what differs between the two sides by design: Host (each
 * backend's own host:port when rewritten), Connection (each hop's client writes its own, RFC 9110
 * §7.6.1) and the shadow marker (on shadow requests only). Field names are lower-cased: a field
 * name is case-insensitive (RFC 9110 §5.1) and each client library writes its own case.
 */
const comparable = (h: Head): Head => ({
  line: h.line,
  fields: h.fields
    .map(([k, v]): [string, string] => [k.toLowerCase(), v])
    .filter(([k]) => k !== 'host' && k !== 'connection' && k !== MARKER_HEADER),
})

const field = (h: Head, name: string): string[] =>
  h.fields.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v)

interface Row {
  name: string
  /** The request line's method and target as the client sends them. */
  method: string
  target: string
  /** Extra fields the client sends (after Host). */
  fields?: string[]
  /** The request line both backends must receive. */
  line: string
  /** Fields (lower-case, wire order) both backends must receive, before X-Forwarded-For. */
  want: Array<[string, string]>
  /** The request body the client sends (with its framing) and old must receive. If unset, none. */
  body?: { raw: string; want: string }
  /** Fields old must receive after X-Forwarded-For. If unset, none. */
  last?: Array<[string, string]>
  /** The request is shadowed. If unset, true. Unshadowed rows check old only. */
  shadowed?: boolean
}

const ROWS: Row[] = [
  {
    name: 'double slashes in the path and the query',
    method: 'GET',
    target: '/dl//file.bin?x=a//b',
    line: 'GET /dl//file.bin?x=a//b HTTP/1.1',
    want: [],
  },
  {
    name: 'absolute-form target',
    method: 'GET',
    target: 'http://downloads.example/dl/a%20b.txt?q=1',
    line: 'GET /dl/a%20b.txt?q=1 HTTP/1.1',
    want: [],
  },
  {
    name: 'absolute-form target without a path',
    method: 'GET',
    target: 'http://downloads.example',
    line: 'GET / HTTP/1.1',
    want: [],
  },
  {
    name: 'dot segments and encoded slashes are left alone',
    method: 'GET',
    target: '/a/./b/../%2F/c?%2F=/',
    line: 'GET /a/./b/../%2F/c?%2F=/ HTTP/1.1',
    want: [],
  },
  {
    name: 'a field named in Connection, and other hop-by-hop fields',
    method: 'GET',
    target: '/f',
    fields: ['Connection: keep-alive, X-Hop', 'X-Hop: must not go', 'Keep-Alive: timeout=5', 'TE: trailers', 'Proxy-Authorization: Basic eDp5', 'Range: bytes=0-1'],
    line: 'GET /f HTTP/1.1',
    want: [['range', 'bytes=0-1']],
  },
  {
    name: "a client's own shadow marker",
    method: 'GET',
    target: '/f',
    fields: [`${MARKER_HEADER}: 1`, 'If-None-Match: "x"'],
    line: 'GET /f HTTP/1.1',
    want: [['if-none-match', '"x"']],
  },
  {
    name: 'OPTIONS * keeps its asterisk-form (not shadowed: the shadow client cannot send it)',
    method: 'OPTIONS',
    target: '*',
    line: 'OPTIONS * HTTP/1.1',
    want: [],
    shadowed: false,
  },
  {
    name: 'OPTIONS on a path',
    method: 'OPTIONS',
    target: '/x//y',
    line: 'OPTIONS /x//y HTTP/1.1',
    want: [],
  },
  {
    name: 'a GET with a body is not shadowed; old gets the body',
    method: 'GET',
    target: '/dl//g',
    fields: ['Content-Length: 5'],
    body: { raw: 'hello', want: 'hello' },
    line: 'GET /dl//g HTTP/1.1',
    want: [['content-length', '5']],
    shadowed: false,
  },
  {
    name: 'a POST with Expect and a chunked body, not shadowed, reaches old as sent',
    method: 'POST',
    target: 'http://downloads.example/up//load?a=b//c',
    fields: ['Expect: 100-continue', 'Transfer-Encoding: chunked', 'X-Hop: no', 'Connection: X-Hop'],
    body: { raw: '3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n', want: 'abcde' },
    line: 'POST /up//load?a=b//c HTTP/1.1',
    want: [['expect', '100-continue']],
    // Transfer-Encoding is hop-by-hop: the body is re-framed for the next hop, which says so last.
    last: [['transfer-encoding', 'chunked']],
    shadowed: false,
  },
  {
    name: 'end-to-end fields go out in order with their values as sent',
    method: 'GET',
    target: '/f',
    fields: ['User-Agent: aria2/1.36.0', 'Accept-Encoding: gzip', 'If-Range: "abc"', 'Range: bytes=0-1,5-', 'Accept: */*'],
    line: 'GET /f HTTP/1.1',
    want: [
      ['user-agent', 'aria2/1.36.0'],
      ['accept-encoding', 'gzip'],
      ['if-range', '"abc"'],
      ['range', 'bytes=0-1,5-'],
      ['accept', '*/*'],
    ],
  },
]

t.test('old and new receive the same request line and fields', async t => {
  const old = await rawServer(t)
  const neu = await rawServer(t)
  const comparisons: Comparison[] = []
  const compared: Gate[] = ROWS.map(() => gate())
  let shadows = 0
  const oldB = new HttpBackend({ name: 'old', base: old.url })
  const newB = new HttpBackend({ name: 'new', base: neu.url })
  const mirror = new Mirror({
    old: oldB,
    new: newB,
    shadowMethods: ['GET', 'HEAD', 'OPTIONS'],
    shedAbove: 1,
    onComparison: c => {
      compared[comparisons.length]?.open()
      comparisons.push(c)
    },
  })
  const { port } = await mirror.listen(0, '127.0.0.1')
  t.teardown(async () => {
    await mirror.close(5000)
    await oldB.close()
    await newB.close()
  })
  for (const [i, row] of ROWS.entries()) {
    const head = [`${row.method} ${row.target} HTTP/1.1`, 'Host: downloads.example', ...(row.fields ?? []), 'X-Forwarded-For: 203.0.113.7', 'Connection: close', '', ''].join('\r\n')
    const answer = await rawRequest(port, head + (row.body?.raw ?? ''))
    t.match(answer, /^HTTP\/1\.1 (100 Continue\r\n\r\nHTTP\/1\.1 )?200 OK\r\n[^]*\r\n\r\nok$/, `${row.name}: the client got the primary's answer`)
    await old.arrived(i).promise
    const o = old.heads[i]!
    if (row.shadowed === false) {
      t.comment(`${row.name}\n  client: ${JSON.stringify(head)}\n  old:    ${JSON.stringify(o)}`)
      t.strictSame(
        { ...comparable(o), body: o.body },
        {
          line: row.line,
          fields: [...row.want, ['x-forwarded-for', '203.0.113.7, 127.0.0.1'], ...(row.last ?? [])],
          body: row.body?.want ?? '',
        },
        `${row.name}: old got the canonical head and the body`,
      )
      t.strictSame(field(o, MARKER_HEADER), [], `${row.name}: no marker reaches the primary`)
      continue
    }
    const k = shadows++
    await compared[k]!.promise
    await neu.arrived(k).promise
    const n = neu.heads[k]!
    t.comment(`${row.name}\n  client: ${JSON.stringify(head)}\n  old:    ${JSON.stringify(o)}\n  new:    ${JSON.stringify(n)}`)
    t.strictSame(comparable(o), comparable(n), `${row.name}: old and new got the same head`)
    t.strictSame(
      comparable(o),
      { line: row.line, fields: [...row.want, ['x-forwarded-for', '203.0.113.7, 127.0.0.1']] },
      `${row.name}: the head is the canonical one`,
    )
    t.strictSame(field(o, 'host'), [old.host], `${row.name}: old's Host is its own`)
    t.strictSame(field(n, 'host'), [neu.host], `${row.name}: new's Host is its own`)
    t.strictSame(field(o, MARKER_HEADER), [], `${row.name}: no marker reaches the primary`)
    t.strictSame(field(n, MARKER_HEADER), ['1'], `${row.name}: the shadow is marked once`)
    t.equal(comparisons[k]!.divergences.length, 0, `${row.name}: no divergence`)
  }
  t.equal(neu.heads.length, shadows, 'new got the shadowed requests only')
  t.equal(mirror.stats.skipped, ROWS.length - shadows, 'the others count as skipped')
})
