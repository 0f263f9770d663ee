/**
 * Hostile and edge-case HTTP/1.1 request lines and headers, sent as raw bytes to a real
 * `cutover serve` and, where the behaviour is protocol level, to Go's net/http server (the oracle in
 * test/e2e/go-oracle): request-target forms (RFC 9112 §3.2), Host (RFC 9112 §3.2, RFC 9110 §7.2),
 * the version (RFC 9112 §2.3, RFC 9110 §15.6.6), header size limits (RFC 6585 §5), and redirects that
 * must never leave the site.
 *
 * Where Node's HTTP parser refuses a request before cutover sees it, cutover cannot answer as Go
 * does; those rows say so and pin both answers (`go` differs from `want`).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { header, type RawResponse } from '../helpers/e2e.js'
import { startGoOracle } from '../helpers/go-oracle.js'
import { exchange, requestBytes } from '../helpers/raw-http.js'
import { seededBytes } from '../helpers/random.js'
import { startServeProcess } from '../helpers/serve.js'

const SMALL = 'small file\n'
const H = 'Host: x\r\nConnection: close\r\n\r\n'

interface Row {
  readonly name: string
  /** The request bytes, latin1. */
  readonly bytes: string
  /** cutover's status. */
  readonly want: number
  /**
   * Go's status: if unset, the same as `want`; null: not compared (cutover follows its own rule,
   * e.g. redirects, which the oracle has no notion of: it serves files only).
   */
  readonly go?: number | null
  /** Further checks on cutover's response. */
  readonly check?: (r: RawResponse, t: Test) => void
}

const body = (want: string) => (r: RawResponse, tt: Test) => tt.equal(r.body.toString('latin1'), want, 'body')
const location = (want: string) => (r: RawResponse, tt: Test) => tt.equal(header(r, 'location'), want, 'Location')

const ROWS: Row[] = [
  // 1. Request-target forms (RFC 9112 §3.2). A server MUST accept absolute-form (§3.2.2); the Host
  // header is then ignored (§3.2.2 and Go), the scheme is not checked (Go).
  { name: 'absolute-form', bytes: `GET http://host/small.txt HTTP/1.1\r\n${H}`, want: 200, check: body(SMALL) },
  { name: 'absolute-form with a query', bytes: `GET http://host/small.txt?a=b HTTP/1.1\r\n${H}`, want: 200, check: body(SMALL) },
  { name: 'absolute-form, Host header names another host', bytes: `GET http://a.example/small.txt HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n`, want: 200 },
  { name: 'absolute-form, upper-case scheme', bytes: `GET HTTP://host/small.txt HTTP/1.1\r\n${H}`, want: 200 },
  { name: 'absolute-form, another scheme', bytes: `GET ftp://host/small.txt HTTP/1.1\r\n${H}`, want: 200 },
  { name: 'absolute-form, IPv6 literal and port', bytes: `GET http://[::1]:80/small.txt HTTP/1.1\r\n${H}`, want: 200 },
  { name: 'absolute-form, userinfo', bytes: `GET http://user@host/small.txt HTTP/1.1\r\n${H}`, want: 200 },
  { name: 'absolute-form, encoded path', bytes: `GET http://host/%73mall.txt HTTP/1.1\r\n${H}`, want: 200, check: body(SMALL) },
  { name: 'absolute-form, bad host', bytes: `GET http://ho%20st/small.txt HTTP/1.1\r\n${H}`, want: 400 },
  { name: 'absolute-form, bad port', bytes: `GET http://host:8x/small.txt HTTP/1.1\r\n${H}`, want: 400 },
  { name: 'absolute-form, missing file', bytes: `GET http://host/nope.txt HTTP/1.1\r\n${H}`, want: 404 },
  { name: 'absolute-form, HEAD', bytes: `HEAD http://host/small.txt HTTP/1.1\r\n${H}`, want: 200 },
  // An empty path is "/" (RFC 9110 §4.2.3): the root, which has no index here (403). The oracle
  // answers 404 to every directory.
  { name: 'absolute-form, empty path', bytes: `GET http://host HTTP/1.1\r\n${H}`, want: 403, go: 404 },
  { name: 'absolute-form, directory', bytes: `GET http://host/evil.example HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/evil.example/') },
  { name: 'absolute-form, traversal', bytes: `GET http://host/a/../../x HTTP/1.1\r\n${H}`, want: 400, go: null },
  // Asterisk-form (RFC 9112 §3.2.4) is for OPTIONS; Go answers it with 200 and no body, and treats
  // `GET *` as the path "*" (404).
  { name: 'asterisk-form, OPTIONS', bytes: `OPTIONS * HTTP/1.1\r\n${H}`, want: 200, check: (r, tt) => tt.equal(header(r, 'content-length'), '0') },
  { name: 'asterisk-form, GET', bytes: `GET * HTTP/1.1\r\n${H}`, want: 404 },
  { name: 'asterisk-form, HEAD', bytes: `HEAD * HTTP/1.1\r\n${H}`, want: 404 },
  // Authority-form (RFC 9112 §3.2.3) is for CONNECT only; Node's parser refuses it for GET (400).
  // Go reads `name:port` as a URI of scheme `name` and answers 404; it refuses the others.
  { name: 'authority-form name:port', bytes: `GET example.com:443 HTTP/1.1\r\n${H}`, want: 400, go: 404 },
  { name: 'authority-form ip:port', bytes: `GET 127.0.0.1:80 HTTP/1.1\r\n${H}`, want: 400 },
  { name: 'authority-form without port', bytes: `GET example.com HTTP/1.1\r\n${H}`, want: 400 },
  // Node's parser wants `scheme://`; Go accepts `http:/path`.
  { name: 'scheme without authority', bytes: `GET http:/small.txt HTTP/1.1\r\n${H}`, want: 400, go: 200 },

  // 2. Redirects stay on the site: path-only, never `//` or `/\` at the start (a browser reads
  // `//host/` as another host).
  { name: 'double slash directory', bytes: `GET //evil.example HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/evil.example/') },
  { name: 'double slash directory, query kept', bytes: `GET //evil.example?q=1 HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/evil.example/?q=1') },
  { name: 'triple slash directory', bytes: `GET ///evil.example HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/evil.example/') },
  { name: 'encoded slash directory', bytes: `GET /%2fevil.example HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/evil.example/') },
  { name: 'dot then slash', bytes: `GET /.//evil.example HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/evil.example/') },
  { name: 'root through a dot', bytes: `GET //. HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/') },
  { name: 'backslash', bytes: `GET /\\evil.example HTTP/1.1\r\n${H}`, want: 400, go: null },
  { name: 'CR LF in a directory name', bytes: `GET /a%0d%0ab HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/a%0D%0Ab/') },
  { name: 'question mark in a directory name', bytes: `GET /x%3fy HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/x%3Fy/') },
  { name: 'hash in a directory name', bytes: `GET /%23frag HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/%23frag/') },
  { name: 'space in a directory name', bytes: `GET /sp%20ace HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/sp%20ace/') },
  { name: 'non-ASCII directory name', bytes: `GET /%C3%A9 HTTP/1.1\r\n${H}`, want: 301, go: null, check: location('/%C3%A9/') },

  // 3. Host (RFC 9112 §3.2): exactly one in HTTP/1.1, and a valid one.
  { name: 'two Host headers', bytes: `GET /small.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n`, want: 400 },
  { name: 'two Host headers, same value', bytes: `GET /small.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\nConnection: close\r\n\r\n`, want: 400 },
  { name: 'two Host headers, absolute-form', bytes: `GET http://h/small.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n`, want: 400 },
  { name: 'no Host in HTTP/1.1', bytes: `GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n`, want: 400 },
  { name: 'no Host in HTTP/1.1, absolute-form', bytes: `GET http://h/small.txt HTTP/1.1\r\nConnection: close\r\n\r\n`, want: 400 },
  { name: 'no Host in HTTP/1.0', bytes: `GET /small.txt HTTP/1.0\r\n\r\n`, want: 200, check: body(SMALL) },
  { name: 'empty Host', bytes: `GET /small.txt HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n`, want: 200 },
  { name: 'Host with a space', bytes: `GET /small.txt HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n`, want: 400 },
  { name: 'Host with a slash', bytes: `GET /small.txt HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n`, want: 400 },
  { name: 'Host with a port', bytes: `GET /small.txt HTTP/1.1\r\nHost: a.example:8080\r\nConnection: close\r\n\r\n`, want: 200 },
  { name: 'Host IPv6', bytes: `GET /small.txt HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n`, want: 200 },

  // 4. Version (RFC 9112 §2.3): any HTTP/1.x is served as 1.1; other majors get 505.
  { name: 'HTTP/1.0', bytes: `GET /small.txt HTTP/1.0\r\nHost: x\r\n\r\n`, want: 200, check: body(SMALL) },
  { name: 'HTTP/2.0', bytes: `GET /small.txt HTTP/2.0\r\n${H}`, want: 505 },
  { name: 'HTTP/3.0', bytes: `GET /small.txt HTTP/3.0\r\n${H}`, want: 505 },
  { name: 'HTTP/0.9', bytes: `GET /small.txt HTTP/0.9\r\n${H}`, want: 505 },
  { name: 'HTTP/2.0 HEAD', bytes: `HEAD /small.txt HTTP/2.0\r\n${H}`, want: 505 },
  { name: 'HTTP/10.0', bytes: `GET /small.txt HTTP/10.0\r\n${H}`, want: 400 },
  { name: 'HTTP/1.10', bytes: `GET /small.txt HTTP/1.10\r\n${H}`, want: 400 },
  { name: 'lower-case version', bytes: `GET /small.txt http/1.1\r\n${H}`, want: 400 },
  // Node's parser knows only 0.9, 1.0, 1.1, 2.0 and 3.0 (strict mode); Go serves any 1.x.
  { name: 'HTTP/1.2', bytes: `GET /small.txt HTTP/1.2\r\n${H}`, want: 400, go: 200 },
  // A request line without a version: Node parses it as HTTP/0.9 (505), Go as malformed (400).
  { name: 'no version', bytes: `GET /small.txt\r\n\r\n`, want: 505, go: 400 },
]

const dir = t.testdir({})
const root = join(dir, 'root')
mkdirSync(root)
writeFileSync(join(root, 'small.txt'), SMALL)
for (const d of ['evil.example', 'a\r\nb', 'x?y', '#frag', 'sp ace', 'é']) mkdirSync(join(root, d))
/** RANGES_FILE: 100 000 bytes, enough for 10 000 one-byte ranges to add up to less than the file. */
const RANGES_DATA = seededBytes(7, 100_000)
writeFileSync(join(root, 'ranges.bin'), RANGES_DATA)

const { url, child } = await startServeProcess(t, root)
const goUrl = await startGoOracle(t, root)

t.test('request lines and headers: cutover as the table says, and as Go', async t => {
  // Each row on its own connections, all at once; checked in table order.
  const answers = await Promise.all(
    ROWS.map(row => Promise.all([exchange(url, row.bytes), goUrl && row.go !== null ? exchange(goUrl, row.bytes) : undefined])),
  )
  for (const [i, row] of ROWS.entries()) {
    const [cut, go] = answers[i]!
    const r = cut.responses[0]
    t.ok(r, `${row.name}: cutover answered`)
    if (!r) continue
    t.equal(r.status, row.want, `${row.name}: cutover ${row.want}`)
    t.ok(cut.responses.length === 1, `${row.name}: one response`)
    if (r.status !== 200) t.equal(header(r, 'etag'), undefined, `${row.name}: no ETag on ${r.status}`)
    row.check?.(r, t)
    if (go) t.equal(go.responses[0]?.status, row.go ?? row.want, `${row.name}: Go ${row.go ?? row.want}`)
  }
})

t.test('10 000 ranges in one header: 206 multipart, exact length, every part right', async t => {
  const specs: [number, number][] = []
  for (let i = 0; i < 10_000; i++) specs.push([i * 10, i * 10 + (i % 3 === 0 ? 1 : 0)])
  const range = `bytes=${specs.map(([a, b]) => `${a}-${b}`).join(',')}`
  t.ok(range.length > 64 * 1024, `the Range header is ${range.length} bytes, beyond Node's default 16 KiB`)
  const bytes = requestBytes('GET', '/ranges.bin', [['Range', range]])
  const [cut, go] = await Promise.all([exchange(url, bytes, 20_000), goUrl ? exchange(goUrl, bytes, 20_000) : undefined])
  const r = cut.responses[0]
  t.equal(r?.status, 206, 'cutover: 206')
  if (!r || r.status !== 206) return
  t.equal(header(r, 'content-length'), String(r.body.length), 'Content-Length is the body length')
  const ct = header(r, 'content-type') ?? ''
  const m = /^multipart\/byteranges; boundary=(.+)$/.exec(ct)
  t.ok(m, 'multipart/byteranges')
  const boundary = m?.[1] ?? ''
  const text = r.body.toString('latin1')
  const parts = text.split(`--${boundary}`)
  t.equal(parts.length, specs.length + 2, 'one part per range, a preamble and the closing delimiter')
  let bad = 0
  for (let i = 0; i < specs.length; i++) {
    const [a, b] = specs[i]!
    const part = parts[i + 1] ?? ''
    const sep = part.indexOf('\r\n\r\n')
    const head = part.slice(0, sep)
    const data = Buffer.from(part.slice(sep + 4, part.length - 2), 'latin1')
    if (!head.includes(`Content-Range: bytes ${a}-${b}/${RANGES_DATA.length}`) || !data.equals(RANGES_DATA.subarray(a, b + 1))) bad++
  }
  t.equal(bad, 0, 'every part names its range and carries exactly those bytes')
  t.equal(parts[specs.length + 1], '--\r\n', 'closing delimiter')
  if (go) {
    t.equal(go.responses[0]?.status, 206, 'Go: 206')
    t.equal(go.responses[0]?.body.length, r.body.length, 'Go sends as many bytes')
  }
})

t.test('a header block over the limit: 431, as Go', async t => {
  const big = 'a'.repeat(2 * 1024 * 1024)
  const bytes = requestBytes('GET', '/small.txt', [['X-Big', big]])
  const [cut, go] = await Promise.all([exchange(url, bytes, 20_000), goUrl ? exchange(goUrl, bytes, 20_000) : undefined])
  t.equal(cut.responses[0]?.status, 431, 'cutover: 431')
  if (go) t.equal(go.responses[0]?.status, 431, 'Go: 431')
})

t.test('--max-header-bytes sets the limit', async t => {
  const { url: small } = await startServeProcess(t, root, ['--max-header-bytes', '32k'])
  const under = await exchange(small, requestBytes('GET', '/small.txt', [['X-Pad', 'a'.repeat(20_000)]]))
  t.equal(under.responses[0]?.status, 200, '20 000 bytes of header under a 32 KiB limit: 200')
  const over = await exchange(small, requestBytes('GET', '/small.txt', [['X-Pad', 'a'.repeat(40_000)]]))
  t.equal(over.responses[0]?.status, 431, '40 000 bytes of header over a 32 KiB limit: 431')
})

t.test('the server is still up and answers correctly', async t => {
  t.equal(child.exitCode, null, 'cutover serve is still running')
  const r = await exchange(url, requestBytes('GET', '/small.txt'))
  t.equal(r.responses[0]?.status, 200)
  t.equal(r.responses[0]?.body.toString(), SMALL)
})
