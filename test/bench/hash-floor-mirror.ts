import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { floorServer as server, settledCounts as settled } from '../helpers/floor.js'
import { fetchBody } from '../helpers/s3-serve.js'
import { spawnListening } from '../helpers/serve.js'

/** bench/hash-floor-mirror.mjs, mirror-mixed's floor of a comparing mirror built as cutover's. */
const HASH_FLOOR = fileURLToPath(new URL('../../../bench/hash-floor-mirror.mjs', import.meta.url))

t.test("hash-floor-mirror answers every client from old and hashes exactly 1 in EVERY of old's answers", async t => {
  const old = await server(t, { '/a': 'abc', '/b': 'hello' })
  const { url } = await spawnListening(t, process.execPath, [HASH_FLOOR, '0', String(old), '1'], 'hash-floor-mirror')
  const got = []
  for (const p of ['/a', '/b', '/missing', '/a']) {
    const r = await fetchBody(`${url}${p}`)
    got.push(`${r.status} ${r.headers['content-type']} ${r.body.toString('utf8')}`)
  }
  t.strictSame(got, ['200 text/plain abc', '200 text/plain hello', '404 text/plain missing', '200 text/plain abc'], "every client gets old's answer, with its fields")
  t.strictSame(await settled(url, 1, 4, 'hash-floor-mirror'), { every: 1, requests: 4, compared: 4, differing: 0, errors: 0 }, 'one in one hashed')
  // One in three from now on: requests 5 to 10, of which 6 and 9 are hashed.
  await settled(url, 3, 4, 'hash-floor-mirror')
  for (let i = 0; i < 6; i++) await fetchBody(`${url}/b`)
  t.strictSame(await settled(url, 3, 6, 'hash-floor-mirror'), { every: 3, requests: 10, compared: 6, differing: 0, errors: 0 }, 'one in three hashed')
})

t.test('hash-floor-mirror: a large body passes whole to a slow client, hashed, and a client that leaves is no error', async t => {
  const big = Buffer.alloc(8 * 1024 * 1024)
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i)
  let stallClosed: Promise<void> | undefined
  let stall: http.ServerResponse | undefined
  const s = http.createServer((req, res) => {
    if (req.url === '/stall') {
      // Headers and a first byte, then nothing: the client leaves mid-answer.
      res.writeHead(200, { 'content-length': 10 })
      res.write('x')
      stall = res
      stallClosed = new Promise(resolve => res.once('close', () => resolve()))
      return
    }
    res.writeHead(200, { 'content-length': big.length }).end(big)
  })
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    stall?.destroy()
    s.closeAllConnections()
    return new Promise<void>(resolve => s.close(() => resolve()))
  })
  const port = (s.address() as AddressInfo).port
  const { url } = await spawnListening(t, process.execPath, [HASH_FLOOR, '0', String(port), '1'], 'hash-floor-mirror')

  // Read in small steps with pauses between them: the floor holds old's answer while the client's socket is full.
  const res = await request(`${url}/big`, { highWaterMark: 16 * 1024 })
  const hash = createHash('sha256')
  let n = 0
  for await (const chunk of res.body) {
    hash.update(chunk as Buffer)
    n += (chunk as Buffer).length
    if (n % (1024 * 1024) < 65536) await new Promise(resolve => setImmediate(resolve))
  }
  t.equal(n, big.length, 'every byte')
  t.equal(hash.digest('hex'), createHash('sha256').update(big).digest('hex'), 'the bytes old sent')
  t.strictSame(await settled(url, 1, 1, 'hash-floor-mirror'), { every: 1, requests: 1, compared: 1, differing: 0, errors: 0 }, 'the body hashed to its end')

  const ac = new AbortController()
  const cut = await request(`${url}/stall`, { signal: ac.signal })
  t.equal(cut.statusCode, 200, "old's status came through")
  ac.abort()
  await cut.body.resume().once('error', () => {})
  // The floor cut its exchange with old once the client left: old's side of it closed.
  await stallClosed
  const c = await settled(url, 1, 1, 'hash-floor-mirror')
  t.equal(c.errors, 0, 'the client leaving is not counted as an error')
  t.equal(c.requests, 2, 'both requests counted')
  t.equal(c.compared, 1, 'the cut body is not counted as hashed')
})
