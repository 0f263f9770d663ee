/**
 * Slowloris: connections that send their request head a byte at a time, never finishing it, must
 * be closed by the server's headers timeout (here 300 ms, set through DownloadServerOptions), with
 * a 408, while other clients are still served. No sleeps: each client trickles bytes on a timer,
 * bounded in count, and the test awaits the server's close with a bounded timeout.
 */
import { connect } from 'node:net'
import t from 'tap'
import { pino } from 'pino'
import { withTimeout } from '../helpers/e2e.js'
import { directoryResolver, startServeProcess } from '../helpers/serve.js'
import { exchange, parseResponses, requestBytes } from '../helpers/raw-http.js'
import { DownloadServer } from '../../src/server/server.js'

const HEADERS_TIMEOUT_MS = 300
/** A trickling client gives up (and the test fails) after this many bytes: 400 × 25 ms = 10 s. */
const MAX_BYTES = 400
const TICK_MS = 25

const dir = t.testdir({ 'small.txt': 'small file\n' })
const server = new DownloadServer({
  resolver: directoryResolver(dir),
  logger: pino({ level: 'silent' }),
  headersTimeoutMs: HEADERS_TIMEOUT_MS,
})
const { port } = await server.listen(0, '127.0.0.1')
t.teardown(() => server.close(0))
const url = `http://127.0.0.1:${port}`

/**
 * trickle sends `head` one byte per tick, then `a` after `a` (a header value, or the target when
 * the head stops inside the request line), up to MAX_BYTES; resolves on the close.
 */
function trickle(head: string, to = port): Promise<{ sent: number; response: Buffer; closedByServer: boolean }> {
  return new Promise(resolve => {
    const sock = connect(to, '127.0.0.1')
    const bytes = Buffer.from(`${head}${'a'.repeat(MAX_BYTES)}`, 'latin1')
    const chunks: Buffer[] = []
    let sent = 0
    let closedByServer = false
    const timer = setInterval(() => {
      if (sent >= MAX_BYTES || sock.destroyed) {
        clearInterval(timer)
        sock.destroy()
        return
      }
      sock.write(bytes.subarray(sent, sent + 1))
      sent++
    }, TICK_MS)
    sock.on('data', (d: Buffer) => chunks.push(d))
    sock.on('end', () => (closedByServer = true))
    sock.on('error', () => (closedByServer = true))
    sock.on('close', () => {
      clearInterval(timer)
      resolve({ sent, response: Buffer.concat(chunks), closedByServer })
    })
  })
}

t.test('a head sent a byte at a time is cut by the headers timeout with a 408', async t => {
  const clients = await withTimeout(
    Promise.all([trickle('GET /small.txt HTTP/1.1\r\nX-Pad: '), trickle('GET /'), trickle('GET /small.txt HTTP/1.1\r\nHost: x\r\nX-Pad: ')]),
    (MAX_BYTES + 40) * TICK_MS,
    'the slow clients are closed',
  )
  for (const [i, c] of clients.entries()) {
    t.ok(c.closedByServer, `client ${i}: closed by the server`)
    t.ok(c.sent < MAX_BYTES, `client ${i}: before it had sent its ${MAX_BYTES} bytes (${c.sent})`)
    const responses = c.response.length > 0 ? parseResponses(c.response) : []
    t.equal(responses[0]?.status, 408, `client ${i}: 408 Request Timeout`)
  }
  t.equal(server.stats.active, 0, 'no request was ever dispatched')
})

t.test('a client that keeps a connection busy does not stop others', async t => {
  const slow = trickle('GET /small.txt HTTP/1.1\r\nX-Pad: ')
  const r = await exchange(url, requestBytes('GET', '/small.txt'))
  t.equal(r.responses[0]?.status, 200, 'another client is served meanwhile')
  t.equal(r.responses[0]?.body.toString(), 'small file\n')
  const c = await withTimeout(slow, (MAX_BYTES + 40) * TICK_MS, 'the slow client is closed')
  t.ok(c.closedByServer && c.sent < MAX_BYTES, 'and the slow one is cut')
})

t.test('bad options are refused at construction', async t => {
  const resolver = directoryResolver(dir)
  const logger = pino({ level: 'silent' })
  for (const headersTimeoutMs of [-1, 1.5, Number.NaN]) {
    t.throws(() => new DownloadServer({ resolver, logger, headersTimeoutMs }), TypeError, `headersTimeoutMs ${headersTimeoutMs}`)
  }
  for (const maxHeaderBytes of [0, -1, 1.5, Number.POSITIVE_INFINITY]) {
    t.throws(() => new DownloadServer({ resolver, logger, maxHeaderBytes }), TypeError, `maxHeaderBytes ${maxHeaderBytes}`)
  }
})

t.test('cutover serve --headers-timeout sets the limit', async t => {
  const { url: cli } = await startServeProcess(t, dir, ['--headers-timeout', `${HEADERS_TIMEOUT_MS}ms`])
  const c = await withTimeout(trickle('GET /small.txt HTTP/1.1\r\nX-Pad: ', Number(new URL(cli).port)), (MAX_BYTES + 40) * TICK_MS, 'the slow client is closed')
  t.ok(c.sent < MAX_BYTES, `closed before it had sent its ${MAX_BYTES} bytes (${c.sent})`)
  t.equal(c.response.length > 0 ? parseResponses(c.response)[0]?.status : undefined, 408, '408 Request Timeout')
})
