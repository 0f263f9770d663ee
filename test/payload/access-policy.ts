import t from 'tap'
import type { IncomingHttpHeaders } from 'node:http'
import type { Reader, Response } from 'maxmind'
import { loadManifest } from '../../src/manifest/load-manifest.js'
import type { Manifest, Payload } from '../../src/manifest/manifest.js'
import { ManifestAccessPolicy, manifestPaths, type Decision, type ManifestAccessPolicyOptions } from '../../src/payload/access-policy.js'
import { GeoLookup } from '../../src/payload/geo-lookup.js'
import type { RequestFacts } from '../../src/payload/resolver.js'
import { signLink, SigningKeys } from '../../src/payload/signed-link.js'

/** The payloads under test, loaded by the real manifest loader so the policy sees real Acl values. */
const MANIFEST = `
version: 1
payloads:
  - name: open
    paths: [/open]
    content: { blob: open }
  - name: nets
    paths: [/nets]
    content: { blob: nets }
    acl: { networks: { allow: [10.0.0.0/8, "2001:db8::/32", "::ffff:198.51.100.0/120"], deny: [10.9.0.0/16] } }
  - name: countries
    paths: [/countries]
    content: { blob: countries }
    acl: { countries: { allow: [DE, FR, "--"], deny: [FR] } }
  - name: known-countries
    paths: [/known]
    content: { blob: known }
    acl: { countries: { allow: [DE] } }
  - name: signed
    paths: [/signed/**]
    content: { blob: "{path}" }
    acl: { signed: true }
  - name: users
    paths: [/users]
    content: { blob: users }
    acl: { users: { allow: [alice, bob], deny: [bob] } }
  - name: types
    paths: [/types]
    content: { blob: types }
    acl: { user_types: { allow: [employee], deny: [contractor] } }
  - name: user-deny-only
    paths: [/udeny]
    content: { blob: udeny }
    acl: { users: { deny: [mallory] } }
  - name: everything
    paths: [/all]
    content: { blob: all }
    acl:
      networks: { deny: [192.0.2.0/24] }
      countries: { deny: [KP] }
      signed: true
      users: { allow: [alice] }
      user_types: { allow: [employee] }
`

function load(): Manifest {
  const r = loadManifest(MANIFEST, 'policy-test.yaml')
  if (!r.ok) throw new Error(JSON.stringify(r.problems))
  return r.manifest
}
const manifest = load()
const payload = (name: string): Payload => manifest.payloads.find(p => p.name === name)!

/** A stand-in for the database (the real ones are tested in geo-lookup.ts): address -> record. */
const GEO_TABLE: Readonly<Record<string, Response>> = {
  '203.0.113.10': { country_code: 'DE' } as Response,
  '203.0.113.20': { country_code: 'FR' } as Response,
  '203.0.113.30': { country_code: 'US' } as Response,
  '203.0.113.40': { country_code: 'KP' } as Response,
}
const geo = new GeoLookup({ get: (ip: string) => GEO_TABLE[ip] ?? null } as unknown as Reader<Response>)

const keys = new SigningKeys({ k1: Buffer.alloc(32, 5).toString('base64') })
const T0 = Date.parse('2026-12-05T08:00:00Z')

const OPTIONS: ManifestAccessPolicyOptions = {
  trustedProxies: ['127.0.0.1', '10.255.0.0/16'],
  geo,
  countryHeader: 'CloudFront-Viewer-Country',
  identityHeader: 'X-Auth-User',
  userTypeHeader: 'X-Auth-User-Type',
  keys,
  manifestPath: manifestPaths(manifest),
}
const policy = new ManifestAccessPolicy(OPTIONS)

/** req builds RequestFacts for a target from a peer. */
function req(target: string, remote: string, headers: IncomingHttpHeaders = {}, method = 'GET'): RequestFacts {
  const q = target.indexOf('?')
  return { method, path: q < 0 ? target : target.slice(0, q), query: q < 0 ? '' : target.slice(q), headers, remote }
}

/** outcome summarises a decision as 'allow' or the rule that refused. */
const outcome = (d: Decision): string => (d.allow ? 'allow' : d.rule)

const PROXY = '10.255.0.1'

t.test('networks: deny list, then allow list; the believed client address', async t => {
  const p = payload('nets')
  const cases: Array<[string, string, IncomingHttpHeaders, string, string]> = [
    ['an allowed address', '10.1.2.3', {}, 'allow', '10.1.2.3'],
    ['a denied address inside the allowed network', '10.9.1.1', {}, 'payloads[1].acl.networks.deny', '10.9.1.1'],
    ['outside every allowed network', '192.0.2.1', {}, 'payloads[1].acl.networks.allow', '192.0.2.1'],
    ['IPv6 allowed', '2001:db8::7', {}, 'allow', '2001:db8::7'],
    ['IPv4-mapped peer matched as IPv4', '::ffff:10.1.2.3', {}, 'allow', '10.1.2.3'],
    ['an IPv4-mapped network matches IPv4 clients', '198.51.100.9', {}, 'allow', '198.51.100.9'],
    ['XFF from a trusted proxy is believed', PROXY, { 'x-forwarded-for': '10.1.2.3' }, 'allow', '10.1.2.3'],
    ['XFF from a trusted proxy: a denied client', PROXY, { 'x-forwarded-for': '10.9.0.1' }, 'payloads[1].acl.networks.deny', '10.9.0.1'],
    ['XFF through two trusted proxies', PROXY, { 'x-forwarded-for': '192.0.2.1, 10.255.3.3' }, 'payloads[1].acl.networks.allow', '192.0.2.1'],
    ['spoofed XFF from an untrusted peer gains nothing', '192.0.2.1', { 'x-forwarded-for': '10.1.2.3' }, 'payloads[1].acl.networks.allow', '192.0.2.1'],
    ['spoofed XFF cannot escape a deny either', '10.9.1.1', { 'x-forwarded-for': '10.1.2.3' }, 'payloads[1].acl.networks.deny', '10.9.1.1'],
    ['a client-written XFF prefix behind our proxy', PROXY, { 'x-forwarded-for': '10.1.2.3, 192.0.2.1' }, 'payloads[1].acl.networks.allow', '192.0.2.1'],
    ['a socket already gone', '', {}, 'payloads[1].acl.networks.allow', ''],
  ]
  for (const [name, remote, headers, want, client] of cases) {
    const d = policy.decide(p, req('/nets', remote, headers), T0)
    t.equal(outcome(d), want, name)
    t.equal(d.client, client, `${name}: client`)
  }
})

t.test('countries: deny then allow; "--" only when listed; the edge header only from trusted peers', async t => {
  const cases: Array<[string, string, string, IncomingHttpHeaders, string]> = [
    ['from the database: allowed', 'countries', '203.0.113.10', {}, 'allow'],
    ['from the database: denied (deny before allow)', 'countries', '203.0.113.20', {}, 'payloads[2].acl.countries.deny'],
    ['from the database: not allowed', 'countries', '203.0.113.30', {}, 'payloads[2].acl.countries.allow'],
    ['unknown admitted where "--" is listed', 'countries', '192.0.2.1', {}, 'allow'],
    ['unknown refused where "--" is not listed', 'known-countries', '192.0.2.1', {}, 'payloads[3].acl.countries.allow'],
    ['loopback is unknown, not local', 'known-countries', '127.0.0.2', {}, 'payloads[3].acl.countries.allow'],
    ['edge header from a trusted proxy wins over the database', 'known-countries', PROXY, { 'cloudfront-viewer-country': 'DE', 'x-forwarded-for': '203.0.113.30' }, 'allow'],
    ['edge header from a trusted proxy can refuse', 'countries', PROXY, { 'cloudfront-viewer-country': 'FR', 'x-forwarded-for': '203.0.113.10' }, 'payloads[2].acl.countries.deny'],
    ['edge header from an untrusted peer is ignored', 'known-countries', '203.0.113.30', { 'cloudfront-viewer-country': 'DE' }, 'payloads[3].acl.countries.allow'],
    ['no edge header: the database on the believed client', 'known-countries', PROXY, { 'x-forwarded-for': '203.0.113.10' }, 'allow'],
    ['edge says unknown (XX)', 'known-countries', PROXY, { 'cloudfront-viewer-country': 'XX', 'x-forwarded-for': '203.0.113.10' }, 'payloads[3].acl.countries.allow'],
  ]
  for (const [name, p, remote, headers, want] of cases) t.equal(outcome(policy.decide(payload(p), req(`/${p}`, remote, headers), T0)), want, name)
  const noGeo = new ManifestAccessPolicy({ ...OPTIONS, geo: undefined })
  t.equal(outcome(noGeo.decide(payload('known-countries'), req('/known', '203.0.113.10'), T0)), 'payloads[3].acl.countries.allow', 'no database: every country unknown')
})

t.test('signed: a valid link is required; failures name the reason', async t => {
  const p = payload('signed')
  const url = signLink('/signed/a.zip?v=1', { keyId: 'k1', expiresAt: T0 + 60_000 }, keys)
  const cases: Array<[string, string, string, number, string | RegExp]> = [
    ['valid', url, 'GET', T0, 'allow'],
    ['valid for HEAD', url, 'HEAD', T0, 'allow'],
    ['expired', url, 'GET', T0 + 60_000, /\(expired\)/],
    ['tampered path', url.replace('/a.zip', '/b.zip'), 'GET', T0, /\(bad-signature\)/],
    ['uncovered parameter', `${url}&x=1`, 'GET', T0, /\(uncovered-parameter\)/],
    ['not signed', '/signed/a.zip', 'GET', T0, /\(unsigned\)/],
  ]
  for (const [name, target, method, at, want] of cases) {
    const d = policy.decide(p, req(target, '192.0.2.1', {}, method), at)
    if (want === 'allow') t.equal(outcome(d), 'allow', name)
    else {
      t.equal(outcome(d), 'payloads[4].acl.signed', `${name}: rule`)
      t.match(d.allow ? '' : d.reason, want, `${name}: reason`)
    }
  }
  const noKeys = new ManifestAccessPolicy({ ...OPTIONS, keys: undefined })
  t.equal(outcome(noKeys.decide(p, req(url, '192.0.2.1'), T0)), 'payloads[4].acl.signed', 'no keys configured: refused')
})

t.test('users and user types: identity headers only from trusted proxies', async t => {
  const cases: Array<[string, string, string, IncomingHttpHeaders, string]> = [
    ['an allowed user', 'users', PROXY, { 'x-auth-user': 'alice' }, 'allow'],
    ['deny before allow', 'users', PROXY, { 'x-auth-user': 'bob' }, 'payloads[5].acl.users.deny'],
    ['not in the allow list', 'users', PROXY, { 'x-auth-user': 'carol' }, 'payloads[5].acl.users.allow'],
    ['no identity: refused by an allow list', 'users', PROXY, {}, 'payloads[5].acl.users.allow'],
    ['an empty identity is none', 'users', PROXY, { 'x-auth-user': ' ' }, 'payloads[5].acl.users.allow'],
    ['identity from an untrusted peer is ignored', 'users', '192.0.2.1', { 'x-auth-user': 'alice' }, 'payloads[5].acl.users.allow'],
    ['no identity passes a deny-only list', 'user-deny-only', PROXY, {}, 'allow'],
    ['a denied user on a deny-only list', 'user-deny-only', PROXY, { 'x-auth-user': 'mallory' }, 'payloads[7].acl.users.deny'],
    ['spoofed denied identity from an untrusted peer is not read either', 'user-deny-only', '192.0.2.1', { 'x-auth-user': 'mallory' }, 'allow'],
    ['an allowed type', 'types', PROXY, { 'x-auth-user-type': 'employee' }, 'allow'],
    ['a denied type', 'types', PROXY, { 'x-auth-user-type': 'contractor' }, 'payloads[6].acl.user_types.deny'],
    ['no type', 'types', PROXY, {}, 'payloads[6].acl.user_types.allow'],
    ['type from an untrusted peer', 'types', '192.0.2.1', { 'x-auth-user-type': 'employee' }, 'payloads[6].acl.user_types.allow'],
  ]
  for (const [name, p, remote, headers, want] of cases) t.equal(outcome(policy.decide(payload(p), req('/x', remote, headers), T0)), want, name)
  const noHeader = new ManifestAccessPolicy({ ...OPTIONS, identityHeader: undefined })
  t.equal(outcome(noHeader.decide(payload('users'), req('/users', PROXY, { 'x-auth-user': 'alice' }), T0)), 'payloads[5].acl.users.allow', 'no identity header configured: nobody has a user')
})

t.test('order: networks, countries, signed, users, user types; the first refusal decides', async t => {
  const p = payload('everything')
  const good = signLink('/all', { keyId: 'k1', expiresAt: T0 + 60_000 }, keys)
  const who = { 'x-auth-user': 'alice', 'x-auth-user-type': 'employee' }
  const cases: Array<[string, string, IncomingHttpHeaders, string]> = [
    ['all pass', good, { 'x-forwarded-for': '203.0.113.10', ...who }, 'allow'],
    ['every rule fails: networks first', '/all', { 'x-forwarded-for': '192.0.2.1', 'cloudfront-viewer-country': 'KP' }, 'payloads[8].acl.networks.deny'],
    ['then countries', '/all', { 'x-forwarded-for': '203.0.113.40' }, 'payloads[8].acl.countries.deny'],
    ['then signed', '/all', { 'x-forwarded-for': '203.0.113.10' }, 'payloads[8].acl.signed'],
    ['then users', good, { 'x-forwarded-for': '203.0.113.10', 'x-auth-user-type': 'employee' }, 'payloads[8].acl.users.allow'],
    ['then user types', good, { 'x-forwarded-for': '203.0.113.10', 'x-auth-user': 'alice' }, 'payloads[8].acl.user_types.allow'],
  ]
  for (const [name, target, headers, want] of cases) t.equal(outcome(policy.decide(p, req(target, PROXY, headers), T0)), want, name)
})

t.test('vary: the headers the rules consult, only from trusted peers', async t => {
  const cases: Array<[string, string, string[]]> = [
    ['nets', PROXY, ['x-forwarded-for']],
    ['nets', '192.0.2.1', []],
    ['countries', PROXY, ['x-forwarded-for', 'cloudfront-viewer-country']],
    ['countries', '192.0.2.1', []],
    ['signed', PROXY, []],
    ['users', PROXY, ['x-auth-user']],
    ['users', '192.0.2.1', []],
    ['types', PROXY, ['x-auth-user-type']],
    ['everything', PROXY, ['x-forwarded-for', 'cloudfront-viewer-country', 'x-auth-user', 'x-auth-user-type']],
  ]
  for (const [p, remote, want] of cases) t.strictSame(policy.decide(payload(p), req('/x', remote), T0).vary, want, `${p} from ${remote}`)
  const d = policy.decide(payload('everything'), req('/all', PROXY, { 'x-forwarded-for': '192.0.2.1' }), T0)
  t.equal(outcome(d), 'payloads[8].acl.networks.deny')
  t.strictSame(d.vary, ['x-forwarded-for', 'cloudfront-viewer-country', 'x-auth-user', 'x-auth-user-type'], 'a refusal by the first rule varies the same')
})

t.test('no acl: allowed, client as believed, no vary; default rule names; bad options', async t => {
  const d = policy.decide(payload('open'), req('/open', PROXY, { 'x-forwarded-for': '203.0.113.10' }), T0)
  t.strictSame(d, { allow: true, client: '203.0.113.10', vary: [] })
  const unnamed = new ManifestAccessPolicy({ trustedProxies: [] })
  t.equal(outcome(unnamed.decide(payload('nets'), req('/nets', '192.0.2.1'), T0)), 'payloads[name=nets].acl.networks.allow')
  const d2 = unnamed.decide(payload('nets'), req('/nets', '192.0.2.1'), T0)
  t.match(d2.allow ? '' : d2.reason, /192\.0\.2\.1 is in no allowed network/, 'the reason names the client')
  t.throws(() => new ManifestAccessPolicy({ trustedProxies: ['10.0.0.1/8'] }), TypeError)
  t.throws(() => new ManifestAccessPolicy({ countryHeader: 'Bad Header' }), TypeError)
  t.throws(() => new ManifestAccessPolicy({ identityHeader: 'x:y' }), TypeError)
})
