import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { answersAndCompares, bigBodyAndLeaver, floorServer as server, settledCounts as settled } from '../helpers/floor.js'
import { fetchBody } from '../helpers/s3-serve.js'
import { spawnListening } from '../helpers/serve.js'

/** bench/reader-floor-mirror.mjs, the 1m row's ceiling for a mirror built on node:http and undici. */
const READER_FLOOR = fileURLToPath(new URL('../../../bench/reader-floor-mirror.mjs', import.meta.url))

/** countingServer is a floorServer that also counts the requests it got per path. */
async function countingServer(t: Parameters<typeof server>[0], bodies: Record<string, string>): Promise<{ port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>()
  const s = http.createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1)
    const known = bodies[req.url ?? '']
    const body = known ?? 'missing'
    res.writeHead(known === undefined ? 404 : 200, { 'content-length': Buffer.byteLength(body) }).end(body)
  })
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    s.closeAllConnections()
    return new Promise<void>(resolve => s.close(() => resolve()))
  })
  return { port: (s.address() as AddressInfo).port, hits }
}

t.test("reader-floor-mirror answers from old and reads exactly 1 in EVERY of new's answers, comparing nothing", async t => {
  const old = await server(t, { '/same': 'abc', '/diff': 'abc' })
  const nw = await countingServer(t, { '/same': 'abc', '/diff': 'abd' })
  const { url } = await spawnListening(t, process.execPath, [READER_FLOOR, '0', String(old), String(nw.port), '1'], 'reader-floor-mirror')
  const got = []
  for (const p of ['/same', '/diff', '/missing', '/same']) {
    const r = await fetchBody(`${url}${p}`)
    got.push(`${r.status} ${r.body.toString('utf8')}`)
  }
  t.strictSame(got, ['200 abc', '200 abc', '404 missing', '200 abc'], "every client gets old's answer")
  // Every answer of new read to its end; /diff differs but nothing is compared.
  t.strictSame(await settled(url, 1, 4, 'reader-floor-mirror'), { every: 1, requests: 4, compared: 4, differing: 0, errors: 0 }, 'one in one read, none compared')
  t.strictSame(Object.fromEntries(nw.hits), { '/same': 2, '/diff': 1, '/missing': 1 }, 'new got each request once')
  // One in three from now on: requests 5 to 10, of which 6 and 9 are sent to new.
  await settled(url, 3, 4, 'reader-floor-mirror')
  for (let i = 0; i < 6; i++) await fetchBody(`${url}/diff`)
  t.strictSame(await settled(url, 3, 6, 'reader-floor-mirror'), { every: 3, requests: 10, compared: 6, differing: 0, errors: 0 }, 'one in three read')
  t.equal(nw.hits.get('/diff'), 3, 'new got /diff twice more, not six times')
})

t.test('reader-floor-mirror compare: old answers every client, 1 in EVERY compared', async t => {
  await answersAndCompares(t, READER_FLOOR, 'reader-floor-mirror (compare)', ['compare'])
})

t.test('reader-floor-mirror compare: a pair differs by status or bytes, wherever they part', async t => {
  // Each row: a path, what old and new answer it with (undefined: 404 "missing"), and whether the pair differs.
  const rows: { path: string; old?: string; new?: string; differs: boolean; why: string }[] = [
    { path: '/same', old: 'abc', new: 'abc', differs: false, why: 'the same bytes' },
    { path: '/byte', old: 'abc', new: 'abd', differs: true, why: 'the last byte differs' },
    { path: '/short', old: 'abc', new: 'ab', differs: true, why: 'new ends early' },
    { path: '/long', old: 'ab', new: 'abc', differs: true, why: 'new goes on' },
    { path: '/status', old: 'missing', differs: true, why: '200 against 404, the same bytes' },
    { path: '/none', differs: false, why: 'both 404 with the same body' },
  ]
  const pick = (side: 'old' | 'new') => Object.fromEntries(rows.flatMap(r => (r[side] === undefined ? [] : [[r.path, r[side]]])))
  const old = await server(t, pick('old'))
  const nw = await countingServer(t, pick('new'))
  const { url } = await spawnListening(t, process.execPath, [READER_FLOOR, '0', String(old), String(nw.port), '1', 'compare'], 'reader-floor-mirror')
  let due = 0
  for (const r of rows) {
    const before = await settled(url, 1, due, 'reader-floor-mirror')
    const got = await fetchBody(`${url}${r.path}`)
    t.equal(`${got.status} ${got.body.toString('utf8')}`, `${r.old === undefined ? 404 : 200} ${r.old ?? 'missing'}`, `${r.path}: old's answer`)
    const after = await settled(url, 1, ++due, 'reader-floor-mirror')
    t.equal(after.compared - before.compared, 1, `${r.path}: compared`)
    t.equal(after.differing - before.differing, r.differs ? 1 : 0, `${r.path}: ${r.why}`)
  }
  t.strictSame(await settled(url, 1, due, 'reader-floor-mirror'), { every: 1, requests: rows.length, compared: rows.length, differing: 4, errors: 0 }, 'every pair counted once')
})

t.test('reader-floor-mirror: a large body passes whole to a slow client, and a client that leaves is no error', async t => {
  const url = await bigBodyAndLeaver(t, port => [READER_FLOOR, '0', String(port), String(port), '1000'], 'reader-floor-mirror')
  const c = await settled(url, 1000, 0, 'reader-floor-mirror')
  t.equal(c.errors, 0, 'the client leaving is not counted as an error')
  t.equal(c.requests, 2, 'both requests counted')
})
