/**
 * Request smuggling attempts against a real `cutover serve`, as raw bytes: conflicting framing
 * (Content-Length with Transfer-Encoding, two Content-Lengths), bad chunk sizes, unknown codings,
 * obs-fold, bare LF and CR, headers without colon, NUL and other bad bytes in names and values.
 * Each attempt hides a second request (for /smuggled.txt) where one reading of the framing would
 * find it. Invariants: the hidden request is never answered, cutover answers with a 4xx or closes
 * the connection (the only 200 allowed is the answer to the first request when its head is sound and
 * only its body is broken), and a fresh connection is then answered correctly. The same bytes go to
 * Go's server; where the two differ, the row says why both are allowed by RFC 9112.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startGoOracle } from '../helpers/go-oracle.js'
import { exchange, requestBytes } from '../helpers/raw-http.js'
import { startServeProcess } from '../helpers/serve.js'

const SMALL = 'small file\n'
const MARKER = 'SMUGGLED-9d2e'
const HIDDEN = 'GET /smuggled.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
const G = 'GET /small.txt HTTP/1.1\r\nHost: x\r\n'
/** CLOSED: the connection was closed without any response. */
const CLOSED = 0

interface Row {
  readonly name: string
  readonly bytes: string
  /** Statuses cutover may answer (CLOSED: none, a clean close). */
  readonly cut: readonly number[]
  /** Go's status, when it answers differently from `cut[0]`; the comment says why both are allowed. */
  readonly go?: number
}

const ROWS: Row[] = [
  // RFC 9112 §6.3: with both, a server MAY reject or use Transfer-Encoding, and MUST close after.
  // Node rejects; Go 1.19 uses the chunked body.
  { name: 'Content-Length then Transfer-Encoding', bytes: `${G}Content-Length: ${5 + HIDDEN.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${HIDDEN}`, cut: [400], go: 200 },
  { name: 'Transfer-Encoding then Content-Length', bytes: `${G}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${HIDDEN}`, cut: [400], go: 200 },
  { name: 'two different Content-Lengths', bytes: `${G}Content-Length: 0\r\nContent-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'Content-Length list', bytes: `${G}Content-Length: ${HIDDEN.length}, ${HIDDEN.length}\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'negative Content-Length', bytes: `${G}Content-Length: -1\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'Content-Length with a plus', bytes: `${G}Content-Length: +${HIDDEN.length}\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'hex Content-Length', bytes: `${G}Content-Length: 0x10\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'huge Content-Length', bytes: `${G}Content-Length: 99999999999999999999999\r\n\r\n${HIDDEN}`, cut: [400] },
  // RFC 9112 §6.3: a final coding other than chunked MUST get 400 and a close; Go answers 501
  // (a coding it does not implement, RFC 9112 §6.1). The parser may cut the connection before the
  // 400 is read.
  { name: 'Transfer-Encoding: chunked, identity', bytes: `${G}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${HIDDEN}`, cut: [400, CLOSED], go: 501 },
  { name: 'Transfer-Encoding: identity', bytes: `${G}Transfer-Encoding: identity\r\n\r\n${HIDDEN}`, cut: [400, CLOSED], go: 501 },
  { name: 'Transfer-Encoding: xchunked', bytes: `${G}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${HIDDEN}`, cut: [400, CLOSED], go: 501 },
  { name: 'two Transfer-Encoding: chunked', bytes: `${G}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${HIDDEN}`, cut: [400, CLOSED], go: 501 },
  // obs-fold: RFC 9112 §5.2 lets a server reject it (400, Node) or replace it by SP (Go).
  { name: 'Transfer-Encoding folded', bytes: `${G}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${HIDDEN}`, cut: [400], go: 200 },
  { name: 'obs-fold in a header', bytes: `${G}X-Fold: a\r\n b\r\n\r\n${HIDDEN}`, cut: [400], go: 200 },
  // Bad chunk sizes: the head is sound and the GET answered; the broken body then ends the
  // connection, so the hidden request is never read.
  { name: 'chunk size not hex', bytes: `${G}Transfer-Encoding: chunked\r\n\r\nzz\r\n${HIDDEN}`, cut: [200, 400, CLOSED], go: 200 },
  { name: 'negative chunk size', bytes: `${G}Transfer-Encoding: chunked\r\n\r\n-1\r\n${HIDDEN}`, cut: [200, 400, CLOSED], go: 200 },
  { name: 'chunk size overflow', bytes: `${G}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n${HIDDEN}`, cut: [200, 400, CLOSED], go: 200 },
  { name: 'chunk size with bare LF', bytes: `${G}Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n${HIDDEN}`, cut: [200, 400, CLOSED], go: 200 },
  // Bare LF: RFC 9112 §2.2 lets a recipient accept it (Go) or not (Node). Bare CR: never.
  { name: 'bare LF line ends', bytes: `GET /small.txt HTTP/1.1\nHost: x\n\n${HIDDEN}`, cut: [400], go: 200 },
  { name: 'bare LF inside the head', bytes: `${G}X-A: b\nX-C: d\r\n\r\n${HIDDEN}`, cut: [400], go: 200 },
  { name: 'bare CR inside the head', bytes: `${G}X-A: b\rX-C: d\r\n\r\n${HIDDEN}`, cut: [400] },
  // Bad header lines.
  { name: 'header without colon', bytes: `${G}NoColon\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'NUL in a header value', bytes: `${G}X-A: a\0b\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'NUL in a header name', bytes: `${G}X\0A: b\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'DEL in a header value', bytes: `${G}X-A: a\x7fb\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'space before the colon', bytes: `${G}X-A : b\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'space before the colon of Content-Length', bytes: `${G}Content-Length : ${HIDDEN.length}\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'separator in a header name', bytes: `${G}X(A): b\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'header line starting with a space', bytes: `${G} X-A: b\r\n\r\n${HIDDEN}`, cut: [400] },
  // Request-line oddities.
  { name: 'tab between method and target', bytes: `GET\t/small.txt HTTP/1.1\r\nHost: x\r\n\r\n${HIDDEN}`, cut: [400] },
  { name: 'space after the version', bytes: `GET /small.txt HTTP/1.1 \r\nHost: x\r\n\r\n${HIDDEN}`, cut: [400] },
]

const dir = t.testdir({ 'small.txt': SMALL, 'smuggled.txt': `${MARKER}\n` })
const { url, child } = await startServeProcess(t, dir)
const goUrl = await startGoOracle(t, dir)

t.test('smuggling attempts: 4xx or a clean close, the hidden request never answered', async t => {
  for (const row of ROWS) {
    const [cut, go] = await Promise.all([exchange(url, row.bytes), goUrl ? exchange(goUrl, row.bytes, 10_000).catch(() => undefined) : undefined])
    const first = cut.responses[0]
    t.notOk(cut.raw.includes(MARKER), `${row.name}: the hidden request is not answered`)
    t.ok(cut.responses.length <= 1, `${row.name}: at most one response (${cut.responses.length})`)
    const status = first?.status ?? CLOSED
    t.ok(row.cut.includes(status), `${row.name}: cutover ${status === CLOSED ? 'closed' : status}, allowed ${row.cut.join('/')}`)
    if (status === 200) t.equal(first?.body.toString(), SMALL, `${row.name}: the 200 is the first request's`)
    // The connection was closed by the server: exchange resolves only on close.
    const fresh = await exchange(url, requestBytes('GET', '/small.txt'))
    t.equal(fresh.responses[0]?.body.toString(), SMALL, `${row.name}: a fresh connection is answered`)
    if (goUrl) t.equal(go?.responses[0]?.status, row.go ?? row.cut[0], `${row.name}: Go ${row.go ?? row.cut[0]}`)
  }
})

t.test('the server is still up', async t => {
  t.equal(child.exitCode, null, 'cutover serve is still running')
})
