import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import { renameSync, utimesSync, writeFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { pino } from 'pino'
import type { Payload } from '../../src/manifest/manifest.js'
import { contentDisposition } from '../../src/http/content-disposition.js'
import { ManifestResolver, payloadHeaders } from '../../src/payload/manifest-resolver.js'
import type { AccessPolicy } from '../../src/payload/access-policy.js'
import type { RequestFacts } from '../../src/payload/resolver.js'
import { DownloadServer } from '../../src/server/server.js'
import { FileStore } from '../../src/storage/file-store.js'
import { clockWith, ManualClock } from '../helpers/manual-clock.js'
import { exchange, requestBytes } from '../helpers/raw-http.js'
import { header, type RawResponse } from '../helpers/e2e.js'
import { compiled } from '../helpers/compiled-manifest.js'

/** T0 is the test's "now" when it starts: every time in the manifest is relative to it. */
const T0 = Date.parse('2026-12-10T09:00:00Z')
const iso = (ms: number): string => new Date(ms).toISOString()
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

const A = 'the zip bytes of version one\n'
const P1 = 'HEADER-'
const P2 = 'BODY-BYTES'

const MANIFEST = `version: 1
payloads:
  - name: latest
    paths: [/dl/latest.zip]
    content: { blob: a.bin, sha256: ${sha(A).toUpperCase()} }
    content_type: application/zip
    filename: "tools-é \\"x\\".zip"
    headers: { X-Release: "2026.12" }
    cache: { max_age: 1d }
    expires: ${iso(T0 + 3_600_000)}
  - name: versions
    paths: [/v/:version/tool-:os]
    content: { blob: "v/{version}/{os}" }
  - name: everything
    paths: [/g/**]
    content: { blob: "{path}" }
    cache: { no_store: true }
  - name: timed
    paths: [/timed.txt]
    content: { blob: t.txt }
    reveal: ${iso(T0 + 1000)}
    expires: ${iso(T0 + 5000)}
    expired_status: 410
    cache: { expires_in: 1h }
  - name: quiet
    paths: [/quiet.txt]
    content: { blob: t.txt }
    expires: ${iso(T0 + 5000)}
  - name: joined
    paths: [/joined.bin]
    content: { parts: [ { blob: p1.bin, sha256: ${sha(P1)} }, { blob: p2.bin } ] }
    content_type: application/octet-stream
  - name: members
    paths: [/members.bin]
    content: { blob: a.bin, sha256: ${sha(A)} }
    acl: { users: { allow: [alice] } }
    cache: { max_age: 60 }
  - name: liar
    paths: [/liar.bin]
    content: { blob: a.bin, sha256: ${sha('not the bytes of a.bin')} }
  - name: lost
    paths: [/lost.bin]
    content: { blob: nope.bin }
`


/** usersPolicy admits the identity header `x-user` values an acl's users list allows, and reads that header (Vary). */
const usersPolicy: AccessPolicy = {
  decide: (p: Payload, req: RequestFacts) => {
    const user = String(req.headers['x-user'] ?? '')
    return p.acl?.users?.allow?.includes(user) === true
      ? { allow: true, client: req.remote, vary: ['x-user'] }
      : { allow: false, client: req.remote, vary: ['x-user'], rule: 'users.allow', reason: `user ${user} not allowed` }
  },
}

/** blobs writes the test's store. */
function blobs(t: Test): string {
  const dir = t.testdir({ 'a.bin': A, 't.txt': 'timed text', 'p1.bin': P1, 'p2.bin': P2, v: { '2.0': { mac: 'mac tool' } }, g: { deep: { 'x.txt': 'deep x' } } })
  return dir
}

/** serveWith starts a DownloadServer over a ManifestResolver and closes it at teardown. */
async function serveWith(
  t: Test,
  o: { policy?: AccessPolicy; errors?: object[]; pieceSize?: number; smallFileMax?: number; settleMs?: number },
): Promise<{ url: string; clock: ManualClock; resolver: ManifestResolver }> {
  const clock = new ManualClock(T0)
  // The store's settle rule uses real file times: a clock ten seconds ahead trusts the fixture files.
  const store = new FileStore({ root: blobs(t), settleMs: o.settleMs ?? 0, clock: clockWith(() => Date.now() + 10_000) })
  const errors = o.errors
  const resolver = new ManifestResolver({
    manifest: compiled(MANIFEST),
    store,
    clock,
    policy: o.policy,
    logger: errors ? { error: obj => void errors.push(obj) } : undefined,
    smallFileMax: o.smallFileMax,
  })
  const server = new DownloadServer({ resolver, logger: pino({ level: 'silent' }), pieceSize: o.pieceSize })
  const addr = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close(0))
  return { url: `http://127.0.0.1:${addr.port}`, clock, resolver }
}

/** get sends one request and returns its one response. */
async function get(url: string, method: string, path: string, headers: [string, string][] = []): Promise<RawResponse & { raw: Buffer }> {
  const x = await exchange(url, requestBytes(method, path, headers), 10_000, method === 'HEAD')
  const r = x.responses[0]
  if (!r || x.responses.length !== 1) throw new Error(`${method} ${path}: ${x.responses.length} responses`)
  return { ...r, raw: x.raw }
}

/** noDate is a raw response with its Date value blanked: the one field that depends on the wall clock. */
const noDate = (raw: Buffer): string => raw.toString('latin1').replace(/\r\nDate: [^\r]*/i, '\r\nDate: -')

t.test('routing: exact, named and glob paths, a miss, a bad path', async t => {
  const { url } = await serveWith(t, { policy: usersPolicy })
  const cases: Array<[path: string, status: number, body: string]> = [
    ['/dl/latest.zip', 200, A],
    ['/dl//./latest.zip', 200, A],
    ['/v/2.0/tool-mac', 200, 'mac tool'],
    ['/g/deep/x.txt', 200, 'deep x'],
    ['/g/deep/%78.txt', 200, 'deep x'],
    ['/nothing', 404, '404 page not found\n'],
    ['/v/2.0/tool-win', 404, '404 page not found\n'],
    ['/dl/../etc/passwd', 400, '400 Bad Request\n'],
    ['/dl/%zz', 400, '400 Bad Request\n'],
  ]
  for (const [path, status, body] of cases) {
    const r = await get(url, 'GET', path)
    t.equal(r.status, status, `${path}: status`)
    t.equal(r.body.toString(), body, `${path}: body`)
  }
})

t.test('an unrevealed payload is answered with the bytes of a miss, whatever the request', async t => {
  const { url, clock } = await serveWith(t, { policy: usersPolicy })
  const variants: Array<[method: string, headers: [string, string][]]> = [
    ['GET', []],
    ['HEAD', []],
    ['GET', [['If-None-Match', '"x"']]],
    ['GET', [['If-None-Match', '*']]],
    ['GET', [['Range', 'bytes=0-3']]],
    ['GET', [['If-Modified-Since', 'Thu, 01 Jan 1970 00:00:00 GMT']]],
  ]
  for (const [method, headers] of variants) {
    const what = `${method} ${JSON.stringify(headers)}`
    const hidden = await get(url, method, '/timed.txt', headers)
    const missing = await get(url, method, '/no-such-payload.txt', headers)
    t.equal(hidden.status, 404, `${what}: 404`)
    t.equal(noDate(hidden.raw), noDate(missing.raw), `${what}: the same bytes as a path no payload serves`)
  }
  clock.advance(999)
  t.equal((await get(url, 'GET', '/timed.txt')).status, 404, '1 ms before its reveal: still nothing')
  clock.advance(1)
  const live = await get(url, 'GET', '/timed.txt')
  t.equal(live.status, 200, 'at its reveal instant: served')
  t.equal(live.body.toString(), 'timed text')
  t.equal(header(live, 'expires'), new Date(T0 + 5000).toUTCString(), 'expires_in 1h is capped at the expiry')
  clock.advance(3999)
  t.equal((await get(url, 'GET', '/timed.txt')).status, 200, '1 ms before its expiry: served')
  clock.advance(1)
  const gone = await get(url, 'GET', '/timed.txt')
  t.equal(gone.status, 410, 'at its expiry instant: 410 Gone')
  t.equal(gone.body.toString(), '410 Gone\n')
  t.equal(header(gone, 'content-type'), 'text/plain; charset=utf-8')
  const quiet = await get(url, 'GET', '/quiet.txt')
  const missing = await get(url, 'GET', '/no-such-payload.txt')
  t.equal(noDate(quiet.raw), noDate(missing.raw), 'expired with the default status: the bytes of a miss')
})

t.test('a payload of parts is their concatenation, ranges across the boundary included', async t => {
  const { url } = await serveWith(t, { policy: usersPolicy })
  const whole = await get(url, 'GET', '/joined.bin')
  t.equal(whole.status, 200)
  t.equal(whole.body.toString(), P1 + P2)
  t.equal(header(whole, 'content-length'), String(P1.length + P2.length))
  t.equal(header(whole, 'repr-digest'), undefined, 'no Repr-Digest: a concatenation has no declared digest')
  t.match(header(whole, 'etag'), /^"[A-Za-z0-9_-]{27}"$/, 'a strong ETag')
  const cases: Array<[range: string, body: string, contentRange: string]> = [
    ['bytes=5-9', (P1 + P2).slice(5, 10), `bytes 5-9/${P1.length + P2.length}`],
    ['bytes=6-7', (P1 + P2).slice(6, 8), `bytes 6-7/${P1.length + P2.length}`],
    ['bytes=-3', P2.slice(-3), `bytes ${P1.length + P2.length - 3}-${P1.length + P2.length - 1}/${P1.length + P2.length}`],
  ]
  for (const [range, body, contentRange] of cases) {
    const r = await get(url, 'GET', '/joined.bin', [['Range', range]])
    t.equal(r.status, 206, range)
    t.equal(r.body.toString(), body, `${range}: bytes`)
    t.equal(header(r, 'content-range'), contentRange, `${range}: Content-Range`)
  }
  const again = await get(url, 'GET', '/joined.bin', [['If-None-Match', header(whole, 'etag')!]])
  t.equal(again.status, 304, 'its ETag validates')
})

t.test('the fields of a payload: type, disposition, digest, custom headers, capped max-age', async t => {
  const { url, clock } = await serveWith(t, { policy: usersPolicy })
  const r = await get(url, 'GET', '/dl/latest.zip')
  t.equal(r.status, 200)
  t.equal(header(r, 'content-type'), 'application/zip')
  t.equal(header(r, 'content-disposition'), `attachment; filename="tools-_ _x_.zip"; filename*=UTF-8''tools-%C3%A9%20%22x%22.zip`)
  t.equal(header(r, 'repr-digest'), `sha-256=:${createHash('sha256').update(A).digest('base64')}:`)
  t.equal(header(r, 'x-release'), '2026.12')
  t.equal(header(r, 'cache-control'), 'max-age=3600', 'max_age 1d capped at the hour left before the expiry')
  t.ok(header(r, 'last-modified'), 'Last-Modified')
  clock.advance(3_600_000 - 1500)
  t.equal(header(await get(url, 'GET', '/dl/latest.zip'), 'cache-control'), 'max-age=1', '1.5 s left: 1 s (floored)')
  clock.advance(1000)
  t.equal(header(await get(url, 'GET', '/dl/latest.zip'), 'cache-control'), 'max-age=0', '0.5 s left: 0')
  const g = await get(url, 'GET', '/g/deep/x.txt')
  t.equal(header(g, 'cache-control'), 'no-store')
  t.equal(header(g, 'content-type'), 'text/plain; charset=utf-8', 'no content_type: by the blob key extension')
  t.equal(header(await get(url, 'GET', '/v/2.0/tool-mac'), 'content-type'), 'text/plain; charset=utf-8', 'unknown extension: sniffed')
})

t.test('payloadHeaders and contentDisposition, table-driven', async t => {
  const base: Payload = { name: 'p', paths: ['/p'], content: { kind: 'blob', blob: 'p' }, expiredStatus: 404, headers: [] }
  const cases: Array<[what: string, p: Payload, at: number, vary: string[], want: Array<[string, string]>]> = [
    ['nothing', base, T0, [], []],
    ['max-age without expiry', { ...base, cache: { kind: 'max-age', seconds: 86400 } }, T0, [], [['Cache-Control', 'max-age=86400']]],
    ['max-age below the time left', { ...base, cache: { kind: 'max-age', seconds: 10 }, expires: T0 + 60_000 }, T0, [], [['Cache-Control', 'max-age=10']]],
    ['expires-in capped', { ...base, cache: { kind: 'expires-in', seconds: 3600 }, expires: T0 + 1500 }, T0, [], [['Expires', new Date(T0 + 1500).toUTCString()]]],
    ['expires-in', { ...base, cache: { kind: 'expires-in', seconds: 60 } }, T0, [], [['Expires', new Date(T0 + 60_000).toUTCString()]]],
    ['acl without cache policy', { ...base, acl: { signed: false } }, T0, ['x-user'], [['Cache-Control', 'private'], ['Vary', 'x-user']]],
    ['acl with max-age, no vary', { ...base, acl: { signed: false }, cache: { kind: 'max-age', seconds: 5 } }, T0, [], [['Cache-Control', 'private, max-age=5']]],
    ['acl with no-store', { ...base, acl: { signed: false }, cache: { kind: 'no-store' } }, T0, ['a', 'b'], [['Cache-Control', 'private, no-store'], ['Vary', 'a, b']]],
    ['a digest of parts is never sent', { ...base, content: { kind: 'parts', parts: [{ blob: 'x', sha256: sha('x') }] } }, T0, [], []],
    ['custom headers first', { ...base, headers: [{ name: 'X-A', key: 'x-a', value: '1' }], filename: 'a.zip' }, T0, [], [['X-A', '1'], ['Content-Disposition', 'attachment; filename="a.zip"']]],
  ]
  for (const [what, p, at, vary, want] of cases) t.strictSame(payloadHeaders(p, at, vary), want, what)
  const names: Array<[string, string]> = [
    ['plain.zip', 'attachment; filename="plain.zip"'],
    ['a b.zip', 'attachment; filename="a b.zip"'],
    ['naïve.zip', `attachment; filename="na_ve.zip"; filename*=UTF-8''na%C3%AFve.zip`],
    ['100%.zip', `attachment; filename="100_.zip"; filename*=UTF-8''100%25.zip`],
    ['back\\slash', `attachment; filename="back_slash"; filename*=UTF-8''back%5Cslash`],
    ['日本.txt', `attachment; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`],
    ['😀', `attachment; filename="_"; filename*=UTF-8''%F0%9F%98%80`],
  ]
  for (const [name, want] of names) t.equal(contentDisposition(name), want, name)
})

t.test('an acl: the policy decides; deny 403, allow private with Vary; no policy fails closed', async t => {
  const { url } = await serveWith(t, { policy: usersPolicy })
  const denied = await get(url, 'GET', '/members.bin', [['X-User', 'mallory']])
  t.equal(denied.status, 403)
  t.equal(denied.body.toString(), '403 Forbidden\n', 'no detail for the client')
  const allowed = await get(url, 'GET', '/members.bin', [['X-User', 'alice']])
  t.equal(allowed.status, 200)
  t.equal(allowed.body.toString(), A)
  t.equal(header(allowed, 'cache-control'), 'private, max-age=60')
  t.equal(header(allowed, 'vary'), 'x-user')
  t.equal(header(allowed, 'repr-digest'), `sha-256=:${createHash('sha256').update(A).digest('base64')}:`)

  const open = await serveWith(t, {})
  const r = open.resolver.resolve({ method: 'GET', path: '/members.bin', query: '', headers: { 'x-user': 'alice' }, remote: '127.0.0.1' })
  t.match(r, { kind: 'deny', visible: true, reason: 'no access policy configured', log: { payload: 'members', decision: 'deny:no-policy' } })
  t.equal((await get(open.url, 'GET', '/members.bin', [['X-User', 'alice']])).status, 403, 'without a policy, an acl denies everyone')
  t.equal((await get(open.url, 'GET', '/dl/latest.zip')).status, 200, 'payloads without an acl need no policy')
})

t.test('a missing blob is a 404 for the client, an error for the operator', async t => {
  const errors: object[] = []
  const { url, resolver } = await serveWith(t, { policy: usersPolicy, errors })
  const r = await get(url, 'GET', '/lost.bin')
  const miss = await get(url, 'GET', '/no-such-payload.txt')
  t.equal(r.status, 404)
  t.equal(noDate(r.raw), noDate(miss.raw), 'the bytes of a miss')
  t.equal(resolver.stats.missingBlobs, 1, 'counted')
  t.match(errors, [{ payload: 'lost', key: 'nope.bin' }], 'logged with the payload and the key')
  for (const path of ['/g/deep/none.txt', '/v/9.9/tool-mac', '/g/.hidden']) {
    const made = await get(url, 'GET', path)
    t.equal(noDate(made.raw), noDate(miss.raw), `${path}: a key built from the request that names nothing is a miss`)
  }
  t.equal(resolver.stats.missingBlobs, 1, 'neither counted')
  t.equal(errors.length, 1, 'nor logged: a client cannot fill the error log')
})

t.test('the resolution log names the payload and the decision', async t => {
  const { resolver, clock } = await serveWith(t, { policy: usersPolicy })
  const ask = async (path: string, headers: Record<string, string> = {}): Promise<unknown> => {
    const r = resolver.resolve({ method: 'GET', path, query: '', headers, remote: '127.0.0.1' })
    const got = r.kind === 'pending' ? await r.pending : r
    if (got.kind === 'entity') got.release()
    return got.log
  }
  // Every record names the manifest in use by the first 12 hex digits of its SHA-256.
  const m = resolver.manifest.hash.slice(0, 12)
  t.match(m, /^[0-9a-f]{12}$/)
  const cases: Array<[path: string, headers: Record<string, string>, log: object]> = [
    ['/dl/latest.zip', {}, { manifest: m, payload: 'latest', decision: 'served' }],
    ['/nothing', {}, { manifest: m, decision: 'miss' }],
    ['/timed.txt', {}, { manifest: m, payload: 'timed', decision: 'miss' }],
    ['/members.bin', { 'x-user': 'bob' }, { manifest: m, payload: 'members', decision: 'deny:users.allow', client: '127.0.0.1' }],
    ['/lost.bin', {}, { manifest: m, payload: 'lost', decision: 'missing-blob' }],
    ['/g/made/up.txt', {}, { manifest: m, payload: 'everything', decision: 'miss' }],
  ]
  for (const [path, headers, log] of cases) t.strictSame(await ask(path, headers), log, path)
  clock.advance(5000)
  t.strictSame(await ask('/timed.txt'), { manifest: m, payload: 'timed', decision: 'expired' }, 'expired')
})

t.test('replace: new requests get the new manifest, a download in flight keeps its entity', async t => {
  const { resolver } = await serveWith(t, { policy: usersPolicy })
  const first = resolver.resolve({ method: 'GET', path: '/dl/latest.zip', query: '', headers: {}, remote: '' })
  const inFlight = first.kind === 'pending' ? await first.pending : first
  if (inFlight.kind !== 'entity') throw new Error(`expected an entity, got ${inFlight.kind}`)
  const next = compiled(`version: 1\npayloads:\n  - name: moved\n    paths: [/moved.zip]\n    content: { blob: a.bin }\n`)
  resolver.replace(next)
  t.equal(resolver.stats.reloads, 1)
  t.equal(resolver.manifest.hash, next.hash)
  t.match(resolver.resolve({ method: 'GET', path: '/dl/latest.zip', query: '', headers: {}, remote: '' }), { kind: 'miss' }, 'the old path is gone')
  const moved = resolver.resolve({ method: 'GET', path: '/moved.zip', query: '', headers: {}, remote: '' })
  t.equal(moved.kind, 'pending', 'the new path is served')
  const buf = Buffer.alloc(inFlight.entity.content.size)
  await inFlight.entity.content.readAt(buf, 0)
  t.equal(buf.toString(), A, 'the entity resolved before the reload still reads')
  inFlight.release()
  if (moved.kind === 'pending') {
    const m = await moved.pending
    if (m.kind === 'entity') m.release()
  }
})

/** rawGet sends one GET and returns every byte the server sent until it closed (no parsing: the body may be cut). */
function rawGet(url: string, path: string): Promise<string> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error('no close within 10 s'))
    }, 10_000)
    sock.on('data', (d: Buffer) => chunks.push(d))
    sock.on('error', () => undefined)
    sock.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('latin1'))
    })
    sock.write(requestBytes('GET', path))
  })
}

t.test('a declared sha256 the bytes contradict: a full read never completes, ranges are served', async t => {
  const one = await serveWith(t, { policy: usersPolicy })
  const whole = await get(one.url, 'GET', '/liar.bin')
  t.equal(whole.status, 500, 'one piece: the mismatch is known before the header, a clean 500')
  const range = await get(one.url, 'GET', '/liar.bin', [['Range', 'bytes=0-3']])
  t.equal(range.status, 206, 'a range cannot be checked against the whole: served')
  t.equal(range.body.toString(), A.slice(0, 4))
  const good = await get(one.url, 'GET', '/dl/latest.zip')
  t.equal(good.body.toString(), A, 'a blob that matches its digest is served whole')

  // Read from the store in pieces (not kept in memory): the header goes out before the last piece is checked.
  const pieces = await serveWith(t, { policy: usersPolicy, pieceSize: 8, smallFileMax: 0 })
  // Twice: a content whose digest failed is never trusted, so the second full read is checked and cut too.
  for (const round of [1, 2]) {
    const raw = await rawGet(pieces.url, '/liar.bin')
    t.match(raw, /^HTTP\/1\.1 200 OK\r\n/, `several pieces, request ${round}: the header went out`)
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
    t.ok(body.length < A.length, `the body is cut short of its Content-Length (${body.length} of ${A.length} bytes)`)
    t.equal(body, A.slice(0, body.length), 'with only bytes of the blob')
  }
  t.equal(pieces.resolver.stats.verified, 0, 'nothing verified')
  const fine = await rawGet(pieces.url, '/dl/latest.zip')
  t.ok(fine.endsWith(A), 'the matching blob arrives whole in pieces')

  // Kept in memory and sent in pieces: the bytes were checked when read, and they are never cached.
  const memory = await serveWith(t, { policy: usersPolicy, pieceSize: 8 })
  for (const round of [1, 2]) {
    const again = await rawGet(memory.url, '/liar.bin')
    const head = again.indexOf('\r\n\r\n')
    t.ok(head < 0 || again.length - head - 4 < A.length, `in memory, request ${round}: no complete body (${again.length} bytes received)`)
  }
  t.equal(memory.resolver.stats.hits, 0, 'a content that contradicts its digest is never answered from the cache')
})

t.test('validators: the ETag holds while the blobs do and changes with them; Last-Modified is the newest part', async t => {
  const { url, resolver } = await serveWith(t, { policy: usersPolicy })
  const root = (resolver.store as FileStore).root
  utimesSync(`${root}/p1.bin`, new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'))
  utimesSync(`${root}/p2.bin`, new Date('2026-03-01T12:00:00Z'), new Date('2026-03-01T12:00:00Z'))
  const first = await get(url, 'GET', '/joined.bin')
  const second = await get(url, 'GET', '/joined.bin')
  t.equal(header(first, 'last-modified'), 'Sun, 01 Mar 2026 12:00:00 GMT', 'the newer part')
  t.equal(header(second, 'etag'), header(first, 'etag'), 'the same blobs: the same tag')
  writeFileSync(`${root}/p2.bin`, 'NEW-BYTES!')
  utimesSync(`${root}/p2.bin`, new Date('2026-03-01T12:00:00Z'), new Date('2026-03-01T12:00:00Z'))
  const changed = await get(url, 'GET', '/joined.bin', [['If-None-Match', header(first, 'etag')!]])
  t.equal(changed.status, 200, 'a part rewritten (same size, same mtime): the old tag no longer validates')
  t.equal(changed.body.toString(), `${P1}NEW-BYTES!`)
  t.not(header(changed, 'etag'), header(first, 'etag'))
})

t.test('the content cache: hits while every blob holds, rebuilt when one changes, never for bytes that may be mid-write', async t => {
  interface Row {
    readonly name: string
    readonly opts: { smallFileMax?: number; settleMs?: number }
    /** Requests in order, with the body and the running hit count expected after each. */
    readonly steps: ReadonlyArray<{ path: string; body: string; hits: number; verified?: number; before?: (root: string, r: ManifestResolver) => void }>
  }
  const rows: Row[] = [
    {
      name: 'a small blob: the second request is a hit',
      opts: {},
      steps: [
        { path: '/dl/latest.zip', body: A, hits: 0 },
        { path: '/dl/latest.zip', body: A, hits: 1 },
      ],
    },
    {
      name: 'parts: one rewritten in place (same size and mtime) is seen by its ctime',
      opts: {},
      steps: [
        { path: '/joined.bin', body: P1 + P2, hits: 0 },
        { path: '/joined.bin', body: P1 + P2, hits: 1 },
        {
          path: '/joined.bin',
          body: `${P1}body-bytes`,
          hits: 1,
          before: root => {
            const st = new Date('2026-03-01T12:00:00Z')
            utimesSync(`${root}/p2.bin`, st, st)
            writeFileSync(`${root}/p2.bin`, 'body-bytes')
            utimesSync(`${root}/p2.bin`, st, st)
          },
        },
        { path: '/joined.bin', body: `${P1}body-bytes`, hits: 2 },
      ],
    },
    {
      name: 'a large blob: its validators are cached, its bytes read per request, a replaced file seen',
      opts: { smallFileMax: 4 },
      steps: [
        { path: '/dl/latest.zip', body: A, hits: 0 },
        { path: '/dl/latest.zip', body: A, hits: 1 },
        {
          path: '/quiet.txt',
          body: 'other text',
          hits: 1,
          before: root => {
            writeFileSync(`${root}/t.new`, 'other text')
            renameSync(`${root}/t.new`, `${root}/t.txt`)
          },
        },
      ],
    },
    {
      name: 'a large blob with a declared digest: hashed until one full read matched, then trusted for that version',
      opts: { smallFileMax: 4 },
      steps: [
        { path: '/dl/latest.zip', body: A, hits: 0, verified: 1 },
        { path: '/dl/latest.zip', body: A, hits: 1, verified: 1 },
        {
          path: '/dl/latest.zip',
          body: A,
          hits: 1,
          verified: 2,
          before: root => {
            writeFileSync(`${root}/a.new`, A)
            renameSync(`${root}/a.new`, `${root}/a.bin`)
          },
        },
      ],
    },
    {
      name: 'one blob under two payloads with other declared types: two entries',
      opts: {},
      steps: [
        { path: '/dl/latest.zip', body: A, hits: 0 },
        { path: '/liar.bin', body: '', hits: 0 },
        { path: '/dl/latest.zip', body: A, hits: 1 },
      ],
    },
    {
      name: 'a reload that keeps a content keeps its entry',
      opts: {},
      steps: [
        { path: '/dl/latest.zip', body: A, hits: 0 },
        { path: '/dl/latest.zip', body: A, hits: 1, before: (_root, r) => r.replace(compiled(MANIFEST.replace('X-Release: "2026.12"', 'X-Release: "2027.01"'))) },
      ],
    },
    {
      name: 'a settling blob (changed within the settle time) is never cached',
      opts: { settleMs: 3_600_000 },
      steps: [
        { path: '/dl/latest.zip', body: A, hits: 0 },
        { path: '/dl/latest.zip', body: A, hits: 0 },
      ],
    },
  ]
  for (const row of rows) {
    const { url, resolver } = await serveWith(t, { policy: usersPolicy, ...row.opts })
    for (const [i, step] of row.steps.entries()) {
      step.before?.((resolver.store as FileStore).root, resolver)
      const res = await get(url, 'GET', step.path)
      if (step.body !== '') t.equal(res.body.toString(), step.body, `${row.name}: request ${i + 1} gets the current bytes`)
      else t.equal(res.status, 500, `${row.name}: request ${i + 1} is the other payload's (its digest check fails)`)
      t.equal(resolver.stats.hits, step.hits, `${row.name}: ${step.hits} hits after request ${i + 1}`)
      if (step.verified !== undefined) t.equal(resolver.stats.verified, step.verified, `${row.name}: ${step.verified} verified after request ${i + 1}`)
    }
  }
})
