import type { IncomingMessage } from 'node:http'
import t from 'tap'
import { systemClock } from '../../src/core/clock.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { HttpBackend, MARKER_HEADER } from '../../src/audit/http-backend.js'
import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import { gate, listen } from '../helpers/gate.js'
import type { T } from '../helpers/serve.js'
import { deadPort } from '../helpers/nginx.js'

const req = (headers: Record<string, string> = {}, method = 'GET', path = '/f?x=1'): ExchangeRequest => ({
  id: 'r1',
  method,
  path,
  headers,
})

/** An origin that records each request's raw header list and answers a fixed response. */
async function recorder(t: T) {
  const seen: Array<{ method: string; url: string; raw: string[] }> = []
  const { url } = await listen(t, (rq: IncomingMessage, res) => {
    seen.push({ method: rq.method ?? '', url: rq.url ?? '', raw: rq.rawHeaders })
    // Not compressed, whatever it says: the backend must hand over the bytes as they came.
    res.setHeader('Content-Encoding', 'gzip')
    res.setHeader('Set-Cookie', ['a=1', 'b=2'])
    res.setHeader('X-Order', 'last')
    res.end(rq.method === 'HEAD' ? undefined : Buffer.from([0x1f, 0x8b, 0, 1, 2, 3]))
  })
  return { url, seen }
}

/** pairsOf lists the fields a request arrived with, minus the Connection field undici adds for itself. */
const pairsOf = (raw: string[]): Array<[string, string]> => {
  const out: Array<[string, string]> = []
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!])
  return out.filter(([k, v]) => !(k === 'connection' && v === 'keep-alive'))
}

async function body(o: Observed): Promise<Buffer> {
  if (o.kind !== 'response') throw new Error(`expected a response, got ${o.code} ${o.message}`)
  const chunks: Uint8Array[] = []
  for await (const c of o.body) chunks.push(c)
  return Buffer.concat(chunks)
}

t.test(
  'forwards the request headers exactly, minus hop-by-hop ones, with XFF appended and the marker',
  async t => {
    const origin = await recorder(t)
    const b = new HttpBackend({ name: 'new', base: origin.url })
    t.teardown(() => b.close())
    const headers = {
      host: 'downloads.example',
      'user-agent': 'aria2/1.36.0',
      range: 'bytes=0-1,5-',
      'if-range': '"abc"',
      'if-none-match': 'W/"x", "y"',
      'accept-encoding': 'gzip',
      connection: 'keep-alive, x-hop',
      'x-hop': 'must go',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      'proxy-authorization': 'Basic eDp5',
      'x-forwarded-for': '203.0.113.7',
      [MARKER_HEADER]: 'spoofed',
    }
    const o = await b.send(req(headers), { marker: true, forwardedFor: '10.0.0.9' })
    t.strictSame([...(await body(o))], [0x1f, 0x8b, 0, 1, 2, 3], 'the body is not decompressed')
    const got = pairsOf(origin.seen[0]!.raw)
    t.strictSame(
      got.filter(([k]) => k !== 'host'),
      [
        ['user-agent', 'aria2/1.36.0'],
        ['range', 'bytes=0-1,5-'],
        ['if-range', '"abc"'],
        ['if-none-match', 'W/"x", "y"'],
        ['accept-encoding', 'gzip'],
        ['x-forwarded-for', '203.0.113.7, 10.0.0.9'],
        [MARKER_HEADER, '1'],
      ],
    )
    t.strictSame(
      got.find(([k]) => k === 'host'),
      ['host', new URL(origin.url).host],
      'Host is rewritten by default',
    )
    t.equal(origin.seen[0]!.url, '/f?x=1', 'the target goes out as is')
  },
)

t.test('keeps the client Host when asked, sets XFF when absent, no marker unless asked', async t => {
  const origin = await recorder(t)
  const b = new HttpBackend({ name: 'new', base: origin.url, hostHeader: 'keep' })
  t.teardown(() => b.close())
  await body(await b.send(req({ host: 'downloads.example', accept: '*/*' }), { forwardedFor: '10.0.0.9' }))
  await body(await b.send(req({ accept: '*/*' })))
  t.strictSame(pairsOf(origin.seen[0]!.raw), [
    ['host', 'downloads.example'],
    ['accept', '*/*'],
    ['x-forwarded-for', '10.0.0.9'],
  ])
  t.strictSame(
    pairsOf(origin.seen[1]!.raw),
    [
      ['host', new URL(origin.url).host],
      ['accept', '*/*'],
    ],
    'without a client Host, the backend host is sent (undici writes Host first)',
  )
})

t.test('puts a path prefix of the base before the target', async t => {
  const origin = await recorder(t)
  const b = new HttpBackend({ name: 'new', base: `${origin.url}/mirror/` })
  t.teardown(() => b.close())
  await body(await b.send(req({}, 'HEAD', '/a%20b.txt')))
  t.match(origin.seen[0], { method: 'HEAD', url: '/mirror/a%20b.txt' })
})

t.test('reports status, headers in wire order (repeated fields kept apart) and the duration', async t => {
  const origin = await recorder(t)
  // The duration is the difference of two readings of the clock's monotonic time.
  const readings = [1000, 1042.5]
  const clock = { ...systemClock, monotonic: () => readings.shift() ?? Number.NaN }
  const b = new HttpBackend({ name: 'old', base: origin.url, clock })
  t.teardown(() => b.close())
  const o = await b.send(req())
  if (o.kind !== 'response') throw new Error('expected a response')
  t.equal(o.status, 200)
  t.strictSame(
    o.headers.filter(([k]) => k !== 'date' && k !== 'connection' && k !== 'keep-alive'),
    [
      ['content-encoding', 'gzip'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['x-order', 'last'],
      ['content-length', '6'],
    ],
  )
  t.equal(o.durationMs, 42.5, 'the time to the status, from the clock')
  await body(o)
})

t.test('no status within timeoutMs is ERR_TIMEOUT', async t => {
  const arrived = gate()
  const { url } = await listen(t, () => arrived.open()) // never answers; closed at teardown
  const clock = new ManualClock()
  const b = new HttpBackend({ name: 'new', base: url, timeoutMs: 200, clock })
  t.teardown(() => b.close())
  const sent = b.send(req())
  await arrived.promise
  clock.advance(199)
  t.equal(clock.pending, 1, 'the timeout is still pending 1 ms before it')
  clock.advance(1)
  const o = await sent
  t.match(o, { kind: 'error', code: 'ERR_TIMEOUT', message: /new: no status in 200 ms/, durationMs: 200 })
})

t.test('waiting for a free connection: the timeout and the abort answer at once, and the request is never sent', async t => {
  const first = gate()
  const urls: string[] = []
  const { url } = await listen(t, rq => {
    urls.push(rq.url ?? '')
    first.open()
  }) // never answers; closed at teardown
  const clock = new ManualClock()
  // One connection, held by the first request: the others wait in the pool's queue.
  const b = new HttpBackend({ name: 'new', base: url, timeoutMs: 200, clock, connections: 1 })
  t.teardown(() => b.close())
  // Never answered: it ends with the timeout below (send never rejects).
  void b.send(req({}, 'GET', '/held'))
  await first.promise
  const ac = new AbortController()
  const timed = b.send(req({}, 'GET', '/timed'))
  const aborted = b.send(req({}, 'GET', '/aborted'), { signal: ac.signal })
  ac.abort()
  t.match(await aborted, { kind: 'error', code: 'ERR_ABORTED' }, 'the abort, while queued')
  clock.advance(200)
  // Both timers (the held request's and the queued one's) fire; the queued one answers without its connection.
  t.match(await timed, { kind: 'error', code: 'ERR_TIMEOUT', durationMs: 200 }, 'the timeout, while queued')
  t.strictSame(urls, ['/held'], 'neither queued request reached the server')
})

t.test("the caller's abort after the status rejects the body with the signal's reason", async t => {
  const { url } = await listen(t, (_rq, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('partial')
  })
  const b = new HttpBackend({ name: 'new', base: url })
  t.teardown(() => b.close())
  const ac = new AbortController()
  const o = await b.send(req(), { signal: ac.signal })
  if (o.kind !== 'response') throw new Error(`expected a response, got ${o.code}`)
  const it = o.body[Symbol.asyncIterator]()
  t.equal(Buffer.from((await it.next()).value as Uint8Array).toString(), 'partial', 'the bytes before the abort')
  const why = new Error('the mirror stopped')
  ac.abort(why)
  await t.rejects(it.next(), why, 'the reason, as given')
})

t.test('a refused connection is ERR_CONNECT', async t => {
  const b = new HttpBackend({ name: 'new', base: `http://127.0.0.1:${await deadPort()}` })
  t.teardown(() => b.close())
  t.match(await b.send(req()), { kind: 'error', code: 'ERR_CONNECT', message: /^new: .*ECONNREFUSED/ })
})

t.test('a connection reset before the status is ERR_UPSTREAM', async t => {
  const { url } = await listen(t, rq => rq.socket.destroy())
  const b = new HttpBackend({ name: 'new', base: url })
  t.teardown(() => b.close())
  t.match(await b.send(req()), { kind: 'error', code: 'ERR_UPSTREAM' })
})

t.test("the caller's abort before the status is ERR_ABORTED", async t => {
  const arrived = gate()
  const { url } = await listen(t, () => arrived.open())
  const b = new HttpBackend({ name: 'new', base: url })
  t.teardown(() => b.close())
  const ac = new AbortController()
  const p = b.send(req(), { signal: ac.signal })
  await arrived.promise
  ac.abort()
  t.match(await p, { kind: 'error', code: 'ERR_ABORTED' })
})

t.test('a body cut after the status rejects the body iterator', async t => {
  const { url } = await listen(t, (_rq, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('partial', () => res.destroy())
  })
  const b = new HttpBackend({ name: 'new', base: url })
  t.teardown(() => b.close())
  const o = await b.send(req())
  t.equal(o.kind, 'response')
  await t.rejects(body(o))
})

t.test('bad options are refused at construction', async t => {
  t.throws(() => new HttpBackend({ name: 'x', base: 'not a url' }), TypeError)
  t.throws(() => new HttpBackend({ name: 'x', base: 'ftp://h/' }), TypeError)
  t.throws(() => new HttpBackend({ name: 'x', base: 'http://h/?q=1' }), TypeError)
  t.throws(() => new HttpBackend({ name: 'x', base: 'http://h/', timeoutMs: 0 }), TypeError)
  t.throws(() => new HttpBackend({ name: 'x', base: 'http://h/', connections: 0 }), TypeError)
})
