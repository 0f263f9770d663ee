import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { request } from 'undici'
import { fetchBody } from './s3-serve.js'
import { spawnListening } from './serve.js'

/**
 * floorServer answers each path of `bodies` with 200 and its body (404 `missing` otherwise), framed
 * by Content-Length, on a free loopback port: old or new for the bench's floor mirrors.
 */
export async function floorServer(t: Test, bodies: Record<string, string>): Promise<number> {
  const s = http.createServer((req, res) => {
    const known = bodies[req.url ?? '']
    const body = known ?? 'missing'
    res.writeHead(known === undefined ? 404 : 200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    s.closeAllConnections()
    return new Promise<void>(resolve => s.close(() => resolve()))
  })
  return (s.address() as AddressInfo).port
}

/** FloorCounts are a floor mirror's counters, as `GET /__floor` answers them. */
export interface FloorCounts {
  every: number
  requests: number
  compared: number
  differing: number
  errors: number
}

/**
 * settledCounts reads a floor mirror's `/__floor?every=` (setting `every`) until `due` comparisons
 * have ended (compared or failed); at most 200 reads, then it throws naming `what`.
 */
export async function settledCounts(url: string, every: number, due: number, what: string): Promise<FloorCounts> {
  let c: FloorCounts | undefined
  for (let i = 0; i < 200; i++) {
    c = JSON.parse((await fetchBody(`${url}/__floor?every=${every}`)).body.toString('utf8')) as FloorCounts
    if (c.compared + c.errors >= due) return c
  }
  throw new Error(`${what}: comparisons still due after 200 reads: ${JSON.stringify(c)}`)
}

/**
 * answersAndCompares starts the floor mirror `script` in front of two floorServers that differ on
 * `/diff` and checks what every floor must do: each client gets old's answer, every request is
 * compared with EVERY 1 (one differing, the two 404s alike), and exactly one in three once EVERY
 * is set to 3 through `/__floor`. `args` follow the script's four (a mode). Resolves with the
 * mirror's URL (its count is then at 10 requests).
 */
export async function answersAndCompares(t: Test, script: string, what: string, args: readonly string[] = []): Promise<string> {
  const old = await floorServer(t, { '/same': 'abc', '/diff': 'abc' })
  const nw = await floorServer(t, { '/same': 'abc', '/diff': 'abd' })
  const { url } = await spawnListening(t, process.execPath, [script, '0', String(old), String(nw), '1', ...args], what)
  const got = []
  for (const p of ['/same', '/diff', '/missing', '/same']) {
    const r = await fetchBody(`${url}${p}`)
    got.push(`${r.status} ${r.body.toString('utf8')}`)
  }
  t.strictSame(got, ['200 abc', '200 abc', '404 missing', '200 abc'], "every client gets old's answer")
  // Every request compared: /diff's bodies differ; /missing's two 404 answers are the same.
  t.strictSame(await settledCounts(url, 1, 4, what), { every: 1, requests: 4, compared: 4, differing: 1, errors: 0 }, 'one in one compared, one differing')
  // One in three from now on (set by this read): requests 5 to 10 (the count goes on), of which 6 and 9 are compared.
  await settledCounts(url, 3, 4, what)
  for (let i = 0; i < 6; i++) await fetchBody(`${url}/diff`)
  t.strictSame(await settledCounts(url, 3, 6, what), { every: 3, requests: 10, compared: 6, differing: 3, errors: 0 }, 'one in three compared')
  return url
}

/**
 * bigBodyAndLeaver starts a floor mirror (`args(port)`: its command line, given old's port) in front
 * of a server that answers `/big` with 8 MiB and `/stall` with a status and one byte of ten, and
 * checks what every floor must do with them: `/big` reaches a client that reads in small steps with
 * pauses whole and as old sent it (the floor holds old's answer while the client's socket is full),
 * and a client that leaves `/stall` mid-answer makes the floor cut its exchange with old (old's side
 * closes). Resolves with the mirror's URL once old's side of `/stall` has closed.
 */
export async function bigBodyAndLeaver(t: Test, args: (oldPort: number) => string[], what: string): Promise<string> {
  const big = Buffer.alloc(8 * 1024 * 1024)
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i)
  let stall: http.ServerResponse | undefined
  let stallClosed: Promise<void> | undefined
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
  const { url } = await spawnListening(t, process.execPath, args((s.address() as AddressInfo).port), what)

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

  const ac = new AbortController()
  const cut = await request(`${url}/stall`, { signal: ac.signal })
  t.equal(cut.statusCode, 200, "old's status came through")
  ac.abort()
  await cut.body.resume().once('error', () => {})
  // The floor cut its exchange with old once the client left: old's side of it closed.
  await stallClosed
  return url
}
