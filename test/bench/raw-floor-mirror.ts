import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { answersAndCompares, floorServer as server, settledCounts as settled } from '../helpers/floor.js'
import { exchange } from '../helpers/raw-http.js'
import { spawnListening } from '../helpers/serve.js'

/** bench/raw-floor-mirror.mjs, the 1m row's floor without node:http on its client path. */
const RAW_FLOOR = fileURLToPath(new URL('../../../bench/raw-floor-mirror.mjs', import.meta.url))

t.test('raw-floor-mirror answers from old, byte for byte, and compares exactly 1 in EVERY with new', async t => {
  await answersAndCompares(t, RAW_FLOOR, 'raw-floor-mirror')
})

t.test('raw-floor-mirror: pipelined requests answered in order on one connection; what it cannot forward is a 502', async t => {
  const old = await server(t, { '/a': 'first', '/b': 'second' })
  const nw = await server(t, { '/a': 'first', '/b': 'second' })
  const { url } = await spawnListening(t, process.execPath, [RAW_FLOOR, '0', String(old), String(nw), '2'], 'raw-floor-mirror')
  // exchange resolves once the server closes the connection: after the second answer, as asked.
  const two = await exchange(url, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.strictSame(two.responses.map(r => `${r.statusLine} ${r.body.toString('latin1')}`), ['HTTP/1.1 200 OK first', 'HTTP/1.1 200 OK second'], "both of old's answers, in order, status lines as old sent them")

  // The body and the request after it are not read: the connection closes after the 502.
  const post = await exchange(url, 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nxGET /a HTTP/1.1\r\nHost: x\r\n\r\n')
  t.strictSame(post.responses.map(r => r.status), [502], 'a request with a body: 502, then the connection closed')
  const c = await settled(url, 2, 1, 'raw-floor-mirror')
  t.equal(c.errors, 1, 'counted as an error')
  t.equal(c.requests, 2, 'not counted as a request forwarded')
})

t.test('raw-floor-mirror: an answer old frames otherwise than by Content-Length is cut and counted, never passed on as complete', async t => {
  const s = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('chunked') // no Content-Length: Node frames it with Transfer-Encoding: chunked
  })
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    s.closeAllConnections()
    return new Promise<void>(resolve => s.close(() => resolve()))
  })
  const old = (s.address() as AddressInfo).port
  const { url } = await spawnListening(t, process.execPath, [RAW_FLOOR, '0', String(old), String(old), '1000'], 'raw-floor-mirror')
  const got = await exchange(url, 'GET /x HTTP/1.1\r\nHost: x\r\n\r\n')
  t.equal(got.raw.length, 0, 'the client gets nothing and its connection is closed')
  const c = await settled(url, 1000, 1, 'raw-floor-mirror')
  t.equal(c.errors, 1, 'counted as an error')
})
