// DownloadServer against a fake in-memory Resolver: how each resolution is answered on the wire.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { clockWith } from '../helpers/manual-clock.js'
import { pino } from 'pino'
import { bytes } from '../../src/content/bytes.js'
import type { Content } from '../../src/content/content.js'
import { CutoverError } from '../../src/core/errors.js'
import { pending, MISS, type Pending, type RequestFacts, type Resolution, type Resolver } from '../../src/payload/resolver.js'
import { DownloadServer } from '../../src/server/server.js'
import { within } from '../../src/core/within.js'
import { systemClock } from '../../src/core/clock.js'
import { AccessLog, type AccessRecord } from '../../src/telemetry/access-log.js'
import { header } from '../helpers/e2e.js'
import { exchange, requestBytes } from '../helpers/raw-http.js'

/** streamed is content without a resident view: serveContent reads it piece by piece. */
const streamed = (c: Content): Content => ({ size: c.size, readAt: (buf, off, signal) => c.readAt(buf, off, signal) })

/** SECRET must never reach a client: it is in every error a resolver fails with below. */
const SECRET = '/srv/secret/path'

interface Row {
  readonly name: string
  /** What the resolver answers; `release` counts the releases of an entity (every 200 below is one). */
  readonly answer: (release: () => void) => Resolution | Pending
  readonly method?: string
  readonly status: number
  /** The exact body, when there is one to check. */
  readonly body?: string
  readonly headers?: Record<string, string>
  /** Counted as a server error (logged). */
  readonly error?: boolean
}

const entity = (content: Content, release: () => void): Resolution => ({
  kind: 'entity',
  entity: { content, etag: '"e"', contentType: 'text/plain' },
  release,
})

const rows: Row[] = [
  { name: 'an entity, direct', answer: r => entity(bytes('hello'), r), status: 200, body: 'hello', headers: { etag: '"e"' } },
  { name: 'an entity, pending', answer: r => pending(Promise.resolve(entity(bytes('hello'), r))), status: 200, body: 'hello' },
  { name: 'an entity, streamed', answer: r => entity(streamed(bytes('streamed body')), r), status: 200, body: 'streamed body' },
  { name: 'an entity, HEAD', method: 'HEAD', answer: r => entity(streamed(bytes('hello')), r), status: 200, headers: { 'content-length': '5' } },
  { name: 'a miss, direct', answer: () => MISS, status: 404, body: '404 page not found\n' },
  { name: 'a miss, pending', answer: () => pending(Promise.resolve(MISS)), status: 404, body: '404 page not found\n' },
  { name: 'a miss, HEAD', method: 'HEAD', answer: () => MISS, status: 404, headers: { 'content-length': '19' } },
  { name: 'a deny', answer: () => ({ kind: 'deny', reason: `hidden ${SECRET}` }), status: 404, body: '404 page not found\n' },
  { name: 'a visible deny', answer: () => ({ kind: 'deny', reason: SECRET, visible: true }), status: 403, body: '403 Forbidden\n' },
  { name: 'a redirect', answer: () => ({ kind: 'redirect', location: '/dir/?q' }), status: 301, body: '301 Moved Permanently\n', headers: { location: '/dir/?q' } },
  {
    name: 'a pending redirect',
    answer: () => pending(Promise.resolve({ kind: 'redirect', location: '/d/' })),
    status: 301,
    headers: { location: '/d/' },
  },
  {
    name: 'a throw',
    answer: () => {
      throw new Error(`cannot read ${SECRET}`)
    },
    status: 500,
    body: '500 Internal Server Error\n',
    error: true,
  },
  { name: 'a rejection', answer: () => pending(Promise.reject(new Error(SECRET))), status: 500, body: '500 Internal Server Error\n', error: true },
  {
    name: 'a rejection with ERR_IO',
    answer: () => pending(Promise.reject(new CutoverError('ERR_IO', SECRET))),
    status: 500,
    body: '500 Internal Server Error\n',
    error: true,
  },
  {
    name: 'a throw of ERR_BAD_REQUEST',
    answer: () => {
      throw new CutoverError('ERR_BAD_REQUEST', SECRET)
    },
    status: 400,
    body: '400 Bad Request\n',
  },
  {
    name: 'a rejection with ERR_FORBIDDEN',
    answer: () => pending(Promise.reject(new CutoverError('ERR_FORBIDDEN', SECRET))),
    status: 403,
    body: '403 Forbidden\n',
  },
  {
    name: 'a rejection with ERR_BLOB_CHANGED',
    answer: () => pending(Promise.reject(new CutoverError('ERR_BLOB_CHANGED', SECRET))),
    status: 500,
    body: '500 Internal Server Error\n',
    error: true,
  },
]

/** FakeResolver answers request `/row/<i>` with row i and records the facts it was given. */
class FakeResolver implements Resolver {
  readonly facts: RequestFacts[] = []
  readonly releases = new Map<number, number>()
  readonly #onRelease = new Map<number, () => void>()
  resolve(f: RequestFacts): Resolution | Pending {
    this.facts.push(f)
    const i = Number(/^\/row\/(\d+)$/.exec(f.path)?.[1] ?? -1)
    const row = rows[i]
    if (!row) return MISS
    return row.answer(() => {
      this.releases.set(i, (this.releases.get(i) ?? 0) + 1)
      this.#onRelease.get(i)?.()
    })
  }
  /** released resolves once row i's entity has been released (a streamed one is released after its response ends). */
  released(i: number): Promise<void> {
    if (this.releases.has(i)) return Promise.resolve()
    return new Promise(resolve => this.#onRelease.set(i, resolve))
  }
}

/** withoutDate drops the Date header, the one thing that differs between two identical answers. */
const withoutDate = (raw: Buffer): string => raw.toString('latin1').replace(/^Date: .*\r\n/mu, '')

/** FIXED is the time of the injected clock. */
const FIXED = Date.UTC(2030, 0, 2, 3, 4, 5, 678)

t.test('each resolution is answered as Resolver documents, and internals never leak', async t => {
  const dir = t.testdir({})
  const accessLog = new AccessLog(`${dir}/access.jsonl`)
  const resolver = new FakeResolver()
  const server = new DownloadServer({ resolver, logger: pino({ level: 'silent' }), accessLog, clock: clockWith(() => FIXED) })
  const { port } = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close(0))
  const url = `http://127.0.0.1:${port}`
  let errors = 0
  for (const [i, row] of rows.entries()) {
    const method = row.method ?? 'GET'
    const r = await exchange(url, requestBytes(method, `/row/${i}`), 10_000, method === 'HEAD')
    const res = r.responses[0]
    t.equal(res?.status, row.status, `${row.name}: ${row.status}`)
    if (row.body !== undefined) t.equal(res?.body.toString('latin1'), row.body, `${row.name}: body`)
    if (method === 'HEAD') t.equal(res?.body.length, 0, `${row.name}: no body to a HEAD`)
    for (const [k, v] of Object.entries(row.headers ?? {})) t.equal(res && header(res, k), v, `${row.name}: ${k}`)
    t.notOk(r.raw.toString('latin1').includes(SECRET), `${row.name}: nothing of the failure or reason is sent`)
    if (row.error) errors++
    t.equal(server.stats.errors, errors, `${row.name}: ${row.error ? 'counted' : 'not counted'} as an error`)
    const released = row.status === 200 ? 1 : 0
    if (released) await within(resolver.released(i), 5_000, systemClock)
    t.equal(resolver.releases.get(i) ?? 0, released, `${row.name}: ${released ? 'released once' : 'nothing to release'}`)
  }
  t.equal(server.stats.active, 0, 'nothing left active')
  await accessLog.close()
  const records = readFileSync(`${dir}/access.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as AccessRecord)
  t.equal(records.length, rows.length, 'one access record per request')
  t.strictSame([...new Set(records.map(r => r.time))], [new Date(FIXED).toISOString()], 'request times come from the injected clock')
  t.strictSame(
    records.map(r => r.status),
    rows.map(r => r.status),
    'the access log has each status',
  )
})

t.test('a deny is answered with exactly the bytes of a miss', async t => {
  const answers: Record<string, Resolution> = {
    '/missing': MISS,
    '/hidden': { kind: 'deny', reason: 'hidden name' },
    '/visible': { kind: 'deny', reason: 'directory without index', visible: true },
  }
  const server = new DownloadServer({ resolver: { resolve: f => answers[f.path] ?? MISS }, logger: pino({ level: 'silent' }), clock: clockWith(() => FIXED) })
  const { port } = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close(0))
  const url = `http://127.0.0.1:${port}`
  for (const method of ['GET', 'HEAD']) {
    const get = async (path: string): Promise<string> => withoutDate((await exchange(url, requestBytes(method, path), 10_000, method === 'HEAD')).raw)
    const miss = await get('/missing')
    t.match(miss, /^HTTP\/1\.1 404 /u, `${method}: a miss is a 404`)
    t.equal(await get('/hidden'), miss, `${method}: a deny, byte for byte`)
    t.not(await get('/visible'), miss, `${method}: a visible deny is not`)
  }
})

t.test('the resolver is given the request facts', async t => {
  const resolver = new FakeResolver()
  const server = new DownloadServer({ resolver, logger: pino({ level: 'silent' }) })
  const { port } = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close(0))
  const url = `http://127.0.0.1:${port}`
  const rows: Array<[method: string, target: string, path: string, query: string]> = [
    ['GET', '/a%20b?x=1&y', '/a%20b', '?x=1&y'],
    ['HEAD', '//x/./y/', '//x/./y/', ''],
    ['GET', 'http://example.com/abs?q', '/abs', '?q'],
    ['GET', '/?', '/', '?'],
  ]
  for (const [method, target, path, query] of rows) {
    resolver.facts.length = 0
    await exchange(url, requestBytes(method, target, [['X-Probe', 'p']]), 10_000, method === 'HEAD')
    const f = resolver.facts[0]
    t.strictSame(
      f && { method: f.method, path: f.path, query: f.query, probe: f.headers['x-probe'], remote: f.remote },
      { method, path, query, probe: 'p', remote: '127.0.0.1' },
      `${method} ${target}`,
    )
  }
  resolver.facts.length = 0
  for (const [method, target] of [['POST', '/row/0'], ['OPTIONS', '*'], ['GET', '*']] as const) {
    await exchange(url, requestBytes(method, target), 10_000)
  }
  t.equal(resolver.facts.length, 0, 'requests the server answers itself never reach the resolver')
})

t.test('an access record times the request with the clock', async t => {
  const dir = t.testdir({})
  const accessLog = new AccessLog(`${dir}/access.jsonl`)
  // Read once when the request arrives and once when its response closes.
  const readings = [1000, 1012.5]
  const clock = { ...clockWith(() => FIXED), monotonic: () => readings.shift() ?? Number.NaN }
  const server = new DownloadServer({ resolver: { resolve: () => MISS }, logger: pino({ level: 'silent' }), accessLog, clock })
  const { port } = await server.listen(0, '127.0.0.1')
  await exchange(`http://127.0.0.1:${port}`, requestBytes('GET', '/x'), 10_000)
  await server.close(0)
  await accessLog.close()
  const records = readFileSync(`${dir}/access.jsonl`, 'utf8').trim().split('\n').map(l => JSON.parse(l) as AccessRecord)
  t.strictSame(
    records.map(r => ({ time: r.time, durationMs: r.durationMs, status: r.status })),
    [{ time: new Date(FIXED).toISOString(), durationMs: 12.5, status: 404 }],
  )
})
