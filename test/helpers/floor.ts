import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
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
