import { fileURLToPath } from 'node:url'
import t from 'tap'
import { bigBodyAndLeaver, floorServer as server, settledCounts as settled } from '../helpers/floor.js'
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
  const url = await bigBodyAndLeaver(t, port => [HASH_FLOOR, '0', String(port), '1'], 'hash-floor-mirror')
  const c = await settled(url, 1, 1, 'hash-floor-mirror')
  t.equal(c.errors, 0, 'the client leaving is not counted as an error')
  t.equal(c.requests, 2, 'both requests counted')
  t.equal(c.compared, 1, 'the whole body hashed, the cut one not counted')
})
