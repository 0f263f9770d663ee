// The mirror's client path for GET and HEAD without a body: the primary's answer is read with undici
// and written to the client by the mirror itself. What the client gets, byte for byte, for answers
// framed every way RFC 9112 §6.3 allows, from a scripted primary on a raw socket; and what the
// primary sees when the client goes away or the answer breaks.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { HttpBackend } from '../../src/audit/http-backend.js'
import { Mirror } from '../../src/audit/mirror.js'
import { header, withTimeout } from '../helpers/e2e.js'
import { exchange, requestBytes } from '../helpers/raw-http.js'
import { CLI, exited, requireTool, spawnListening } from '../helpers/serve.js'

/** A scripted answer: the bytes to send, then whether to close the connection. */
interface Script {
  readonly bytes: string
  readonly close?: boolean
  /** Send nothing: the request hangs until the client goes away. */
  readonly hang?: boolean
}

/**
 * scripted starts a primary on a raw socket that answers each request (read up to its blank line)
 * with the script for its path. `seen(event)` resolves (bounded in time) once `hang <path>` (a
 * request that hangs arrived) or `closed <path>` (its connection closed unanswered) has happened.
 */
async function scripted(t: Test, scripts: Readonly<Record<string, Script>>) {
  const events: string[] = []
  let onEvent: (() => void) | undefined
  const note = (e: string): void => {
    events.push(e)
    onEvent?.()
  }
  const sockets = new Set<Socket>()
  const server = createServer(sock => {
    sockets.add(sock)
    let buf = ''
    let waiting: string | undefined
    sock.setEncoding('latin1')
    sock.on('data', (d: string) => {
      buf += d
      for (let guard = 0; guard < 100; guard++) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const line = buf.slice(0, buf.indexOf('\r\n'))
        buf = buf.slice(end + 4)
        const path = line.split(' ')[1] ?? ''
        const s = scripts[path] ?? { bytes: 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n' }
        if (s.hang) {
          waiting = path
          note(`hang ${path}`)
          return
        }
        sock.write(s.bytes, 'latin1')
        if (s.close) {
          sock.end()
          return
        }
      }
    })
    sock.on('close', () => {
      sockets.delete(sock)
      if (waiting !== undefined) note(`closed ${waiting}`)
    })
    sock.on('error', () => undefined)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const port = (server.address() as { port: number }).port
  const seen = (event: string): Promise<void> =>
    withTimeout(
      new Promise<void>(resolve => {
        const check = (): void => {
          if (events.includes(event)) resolve()
        }
        onEvent = check
        check()
      }),
      10_000,
      `the primary to see: ${event}`,
    )
  return { url: `http://127.0.0.1:${port}`, seen }
}

async function startMirror(t: Test, primary: string) {
  const old = new HttpBackend({ name: 'old', base: primary, timeoutMs: 10_000 })
  const nw = new HttpBackend({ name: 'new', base: primary, timeoutMs: 10_000 })
  // Nothing is shadowed: only the client path is under test.
  const mirror = new Mirror({ old, new: nw, sample: 0, shedAbove: 1 })
  const addr = await mirror.listen(0, '127.0.0.1')
  t.teardown(async () => {
    await mirror.close(0)
    await Promise.all([old.close(), nw.close()])
  })
  return { url: `http://127.0.0.1:${addr.port}`, mirror }
}

const head = (status: string, fields: string[]): string => `HTTP/1.1 ${status}\r\n${fields.map(f => `${f}\r\n`).join('')}\r\n`
const chunked = (...parts: string[]): string => parts.map(p => `${p.length.toString(16)}\r\n${p}\r\n`).join('')

const SCRIPTS: Record<string, Script> = {
  '/dup': { bytes: head('200 OK', ['Content-Type: text/plain', 'X-Dup: a', 'x-dup: b', 'Content-Length: 5']) + 'hello' },
  '/chunked': {
    bytes: head('200 OK', ['Content-Type: text/plain', 'Transfer-Encoding: chunked', 'Trailer: X-Sum']) + chunked('hel', 'lo') + '0\r\nX-Sum: 42\r\n\r\n',
  },
  '/until-close': { bytes: head('200 OK', ['Content-Type: text/plain', 'Connection: close']) + 'all of it', close: true },
  '/no-content': { bytes: head('204 No Content', ['X-Why: none']) },
  '/not-modified': { bytes: head('304 Not Modified', ['ETag: "v1"']) },
  '/head': { bytes: head('200 OK', ['Content-Length: 1000', 'ETag: "h"']) },
  '/hints': { bytes: head('103 Early Hints', ['Link: </s.css>; rel=preload']) + head('200 OK', ['Content-Length: 2']) + 'ok' },
  '/keep-alive': { bytes: head('200 OK', ['Connection: keep-alive', 'Keep-Alive: timeout=5', 'Content-Length: 2']) + 'ok' },
  '/cut': { bytes: head('200 OK', ['Content-Length: 1000']) + 'x'.repeat(10), close: true },
  '/hang': { bytes: '', hang: true },
  '/length-trailer': { bytes: head('200 OK', ['Content-Length: 5', 'Trailer: X-Sum']) + 'hello' },
  '/head-trailer': { bytes: head('200 OK', ['Transfer-Encoding: chunked', 'Trailer: X-Sum']) },
  '/garbage': { bytes: 'NOT HTTP AT ALL\r\n\r\n', close: true },
  '/two-lengths': { bytes: head('200 OK', ['Content-Length: 2', 'Content-Length: 3']) + 'abc', close: true },
  '/bad-field': { bytes: head('200 OK', ['Content-Length: 2', 'X-Bad: a\x00b']) + 'ok', close: true },
}

t.test("the client gets the primary's answer as sent, framed for its own connection", async t => {
  const primary = await scripted(t, SCRIPTS)
  const m = await startMirror(t, primary.url)
  // Each row: the request's bytes; the status, the fields the client must get (name as sent) and
  // must not get (any case), the body, and text the bytes on the wire must hold.
  const rows: Array<{
    name: string
    request: string
    status: number
    has: Array<[string, string]>
    hasNot: string[]
    body: string
    raw?: string
  }> = [
    {
      name: 'repeated fields keep their case, order and repeats; a kept-alive client is told keep-alive',
      request: 'GET /dup HTTP/1.1\r\nHost: x\r\n\r\nGET /no-content HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      status: 200,
      has: [['Content-Type', 'text/plain'], ['X-Dup', 'a'], ['x-dup', 'b'], ['Content-Length', '5'], ['connection', 'keep-alive']],
      hasNot: [],
      body: 'hello',
      raw: 'X-Dup: a\r\nx-dup: b\r\n',
    },
    {
      name: 'a chunked body and its trailers, to an HTTP/1.1 client',
      request: requestBytes('GET', '/chunked'),
      status: 200,
      has: [['Transfer-Encoding', 'chunked'], ['Trailer', 'X-Sum'], ['connection', 'close']],
      hasNot: ['content-length'],
      body: 'hello',
      raw: '0\r\nX-Sum: 42\r\n\r\n',
    },
    {
      name: 'the same to an HTTP/1.0 client: no Transfer-Encoding, the body ends with the connection',
      request: 'GET /chunked HTTP/1.0\r\nHost: x\r\n\r\n',
      status: 200,
      has: [['connection', 'close']],
      hasNot: ['transfer-encoding', 'trailer', 'content-length'],
      body: 'hello',
    },
    {
      name: 'a Trailer field on an answer framed by its length: dropped (no trailers without chunks)',
      request: requestBytes('GET', '/length-trailer'),
      status: 200,
      has: [['Content-Length', '5']],
      hasNot: ['trailer', 'transfer-encoding'],
      body: 'hello',
    },
    {
      name: 'a Trailer field on the answer to a HEAD: dropped',
      request: requestBytes('HEAD', '/head-trailer'),
      status: 200,
      has: [['Transfer-Encoding', 'chunked']],
      hasNot: ['trailer'],
      body: '',
    },
    {
      name: 'a body the primary ends by closing: whole, and the client is told its connection closes',
      request: 'GET /until-close HTTP/1.1\r\nHost: x\r\n\r\n',
      status: 200,
      has: [['Connection', 'close']],
      hasNot: ['content-length'],
      body: 'all of it',
    },
    {
      name: '204: no body',
      request: requestBytes('GET', '/no-content'),
      status: 204,
      has: [['X-Why', 'none']],
      hasNot: ['content-length', 'transfer-encoding'],
      body: '',
    },
    {
      name: '304: no body, the validator passed on',
      request: requestBytes('GET', '/not-modified'),
      status: 304,
      has: [['ETag', '"v1"']],
      hasNot: ['transfer-encoding'],
      body: '',
    },
    {
      name: "HEAD: the GET's Content-Length, no body",
      request: requestBytes('HEAD', '/head'),
      status: 200,
      has: [['Content-Length', '1000'], ['ETag', '"h"']],
      hasNot: [],
      body: '',
    },
    {
      name: 'a 103 before the answer: the client gets the answer',
      request: requestBytes('GET', '/hints'),
      status: 200,
      has: [['Content-Length', '2']],
      hasNot: ['link'],
      body: 'ok',
    },
    {
      name: "a client that asked to close is told so, without the primary's Keep-Alive",
      request: requestBytes('GET', '/keep-alive'),
      status: 200,
      has: [['Connection', 'close']],
      hasNot: ['keep-alive'],
      body: 'ok',
    },
  ]
  for (const r of rows) {
    const got = await exchange(m.url, r.request, 10_000, r.request.startsWith('HEAD'))
    const res = got.responses[0]
    if (!res) {
      t.fail(`${r.name}: no answer`)
      continue
    }
    t.equal(res.status, r.status, `${r.name}: status`)
    for (const [name, value] of r.has) t.ok(res.headers.some(([k, v]) => k === name && v === value), `${r.name}: ${name}: ${value}`)
    for (const name of r.hasNot) t.equal(header(res, name), undefined, `${r.name}: no ${name}`)
    t.equal(res.body.toString('latin1'), r.body, `${r.name}: body`)
    if (r.raw) t.ok(got.raw.toString('latin1').includes(r.raw), `${r.name}: ${JSON.stringify(r.raw)} on the wire`)
  }
  t.equal(m.mirror.stats.proxyErrors, 0, 'no proxy errors')
})

t.test('through http-proxy too: a Trailer field the client cannot get (HTTP/1.0, or an answer framed by its length) crashed the mirror; now dropped', async t => {
  const primary = await scripted(t, SCRIPTS)
  const m = await startMirror(t, primary.url)
  // A request with a body goes through http-proxy; Node refuses to write a Trailer field on a
  // response it cannot chunk, and threw from inside http-proxy's pipe.
  const got = await exchange(m.url, 'POST /chunked HTTP/1.0\r\nHost: x\r\nContent-Length: 1\r\n\r\nx')
  const res = got.responses[0]
  t.equal(res?.status, 200, 'answered')
  t.equal(res?.body.toString(), 'hello', 'the body, ending with the connection')
  t.equal(res && header(res, 'trailer'), undefined, 'no Trailer field')
  t.equal(res && header(res, 'transfer-encoding'), undefined, 'no Transfer-Encoding')
  const framed = await exchange(m.url, 'POST /length-trailer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx')
  t.equal(framed.responses[0]?.body.toString(), 'hello', 'a Trailer field on an answer framed by its length: the body')
  t.equal(framed.responses[0] && header(framed.responses[0], 'trailer'), undefined, 'without the field')
  const again = await exchange(m.url, requestBytes('GET', '/dup'))
  t.equal(again.responses[0]?.status, 200, 'and the mirror is still there')
})

t.test("a body the primary cuts short cuts the client's connection: never a complete answer with missing bytes", async t => {
  const primary = await scripted(t, SCRIPTS)
  const m = await startMirror(t, primary.url)
  const got = await exchange(m.url, 'GET /cut HTTP/1.1\r\nHost: x\r\n\r\n')
  const text = got.raw.toString('latin1')
  t.match(text, /^HTTP\/1\.1 200 /, 'the status went out')
  t.match(text, /content-length: 1000/i, 'with the length the primary announced')
  const body = text.slice(text.indexOf('\r\n\r\n') + 4)
  t.equal(body, 'x'.repeat(10), 'then the 10 bytes it sent, and the connection ends')
})

t.test('an answer that is not HTTP, or that HTTP forbids: a clean 502, counted, nothing of it passed on', async t => {
  const primary = await scripted(t, SCRIPTS)
  const m = await startMirror(t, primary.url)
  for (const path of ['/garbage', '/two-lengths', '/bad-field']) {
    const got = await exchange(m.url, requestBytes('GET', path))
    const res = got.responses[0]
    t.equal(res?.status, 502, `${path}: 502`)
    t.equal(res?.body.toString(), '502 Bad Gateway\n', `${path}: the mirror's own body, no internals`)
  }
  t.equal(m.mirror.stats.proxyErrors, 3, 'each one counted as a proxy error')
})

t.test('a client that goes away before the answer: the exchange with the primary is cut, and no proxy error counted', async t => {
  const primary = await scripted(t, SCRIPTS)
  const m = await startMirror(t, primary.url)
  const { connect } = await import('node:net')
  const u = new URL(m.url)
  const sock = connect(Number(u.port), u.hostname, () => sock.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n'))
  sock.on('error', () => undefined)
  // Gone as soon as the request has reached the primary.
  await primary.seen('hang /hang')
  sock.destroy()
  await primary.seen('closed /hang')
  t.pass("the primary's connection closed")
  // Closed, the mirror has heard the end of every exchange with the primary.
  await m.mirror.close(1000)
  t.equal(m.mirror.stats.proxyErrors, 0, 'a client gone is no failure of the primary')
})

t.test('an https primary: both client paths (undici for GET, http-proxy for POST) speak TLS to it and verify its certificate', async t => {
  if (!requireTool(t, 'openssl')) return
  const dir = t.testdir({})
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')]
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: 'ignore', timeout: 30_000 },
  )
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    let body = ''
    req.setEncoding('latin1').on('data', (d: string) => (body += d))
    req.on('end', () => {
      const text = `${req.method} ${body}`
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const primary = `https://127.0.0.1:${(server.address() as { port: number }).port}`
  /** mirror runs `cutover mirror` in front of the https server, trusting `ca` if given. */
  const mirror = async (ca?: string) => {
    const env = { ...process.env }
    delete env.NODE_EXTRA_CA_CERTS
    if (ca) env.NODE_EXTRA_CA_CERTS = ca
    const { url, child } = await spawnListening(
      t,
      process.execPath,
      [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', primary, '--new', primary, '--shed-above', '1', '--grace', '5s'],
      'cutover mirror',
      10_000,
      env,
    )
    const ask = async (method: 'GET' | 'POST') => {
      const res = await request(`${url}/f`, { method, ...(method === 'POST' ? { body: 'x' } : {}) })
      return `${res.statusCode} ${await res.body.text()}`
    }
    const got = { get: await ask('GET'), post: await ask('POST') }
    child.kill('SIGTERM')
    t.equal(await exited(child), 0, `${ca ? 'trusting' : 'not trusting'} the certificate: the mirror exits 0`)
    return got
  }
  t.strictSame(await mirror(cert), { get: '200 GET ', post: '200 POST x' }, 'trusted: both paths answered by the primary')
  t.strictSame(await mirror(), { get: '502 502 Bad Gateway\n', post: '502 502 Bad Gateway\n' }, 'not trusted: both paths refuse it (502)')
})
