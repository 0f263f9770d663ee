import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signLink, SigningKeys, verifyLink, type SignedLinkFailure } from '../../src/payload/signed-link.js'
import { redactSignature, REDACTED } from '../../src/http/redact-signature.js'

const secret = (fill: number): string => Buffer.alloc(32, fill).toString('base64')
const keys = new SigningKeys({ '2026-11': secret(1), '2026-12': secret(2) })
/** T0 is the injected request time; links expire an hour after it. */
const T0 = Date.parse('2026-12-05T08:00:00Z')
const EXP = T0 + 3600_000

/** verify checks a signed URL (absolute or origin-form) the way the policy does. */
function verify(url: string, method = 'GET', at = T0, k = keys) {
  const u = new URL(url, 'http://h.test')
  // The path as received: still percent-encoded, as RequestFacts.path is.
  return verifyLink(method, u.pathname, u.search, at, k)
}

const failureOf = (url: string, method = 'GET', at = T0, k = keys): SignedLinkFailure | 'ok' => {
  const r = verify(url, method, at, k)
  return r.ok ? 'ok' : r.failure
}

/** setParam returns `url` with the raw value of query parameter `name` replaced (or added). */
function setParam(url: string, name: string, value: string): string {
  const u = new URL(url, 'http://h.test')
  const parts = u.search.slice(1).split('&').filter(p => !p.startsWith(`${name}=`))
  parts.push(`${name}=${value}`)
  return `${u.pathname}?${parts.join('&')}`
}

t.test('round trip: absolute and origin-form URLs, claims, covered parameters', async t => {
  const abs = signLink('https://dl.example/sdk/1.2/tools%20x.zip?v=2&lang=fr', { keyId: '2026-12', expiresAt: EXP, claims: { user: 'al=i,ce', tier: 'gold' } }, keys)
  t.match(abs, /^https:\/\/dl\.example\/sdk\/1\.2\/tools%20x\.zip\?v=2&lang=fr&sig-kid=2026-12&sig-exp=\d+&sig-m=GET&sig-c=[^&]+&sig-p=v%2Clang&sig=[A-Za-z0-9_-]{43}$/)
  const r = verify(abs)
  t.ok(r.ok, 'verifies')
  if (r.ok) {
    t.equal(r.keyId, '2026-12')
    t.equal(r.expiresAt, EXP)
    t.strictSame(r.claims, [['user', 'al=i,ce'], ['tier', 'gold']], 'claims with = and , survive')
    t.strictSame(r.methods, ['GET'])
  }
  const rel = signLink('/a/b.zip', { keyId: '2026-11', expiresAt: EXP }, keys)
  t.match(rel, /^\/a\/b\.zip\?sig-kid=2026-11&/, 'origin-form stays origin-form')
  t.equal(failureOf(rel), 'ok')
  t.equal(failureOf(rel.replace('/a/b.zip', '/a//./b.zip')), 'ok', 'the cleaned path is signed: merged slashes and dot segments are the same link')
  t.equal(failureOf(rel.replace('/a/b.zip', '/a/%62.zip')), 'ok', 'the percent-decoded path is signed')
})

t.test('expiry to the millisecond, with injected times', async t => {
  const url = signLink('/f', { keyId: '2026-12', expiresAt: EXP }, keys)
  t.equal(failureOf(url, 'GET', EXP - 1), 'ok', 'one millisecond before')
  t.equal(failureOf(url, 'GET', EXP), 'expired', 'at the expiry')
  t.equal(failureOf(url, 'GET', EXP + 1), 'expired', 'after it')
  const odd = signLink('/f', { keyId: '2026-12', expiresAt: EXP + 999 }, keys)
  t.equal(failureOf(odd, 'GET', EXP), 'expired', 'milliseconds are rounded down: a link never outlives what was asked')
})

t.test('tampering with each field gives the right reason', async t => {
  const url = signLink('/d/file.zip?v=1', { keyId: '2026-12', expiresAt: EXP, claims: { user: 'alice' }, methods: ['GET'] }, keys)
  t.equal(failureOf(url), 'ok')
  const sig = new URL(url, 'http://h.test').searchParams.get('sig')!
  const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)
  // The last character's lowest bit is padding: flipping it spells the same 32 bytes differently.
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const respelled = sig.slice(0, 42) + B64URL[B64URL.indexOf(sig[42]!) ^ 1]!
  t.strictSame(Buffer.from(respelled, 'base64url'), Buffer.from(sig, 'base64url'), 'the respelling decodes to the same MAC')
  const cases: Array<[string, string, SignedLinkFailure]> = [
    ['path', url.replace('/d/file.zip', '/d/other.zip'), 'bad-signature'],
    ['expiry later', setParam(url, 'sig-exp', String(EXP / 1000 + 3600)), 'bad-signature'],
    ['expiry earlier but still valid', setParam(url, 'sig-exp', String(EXP / 1000 - 60)), 'bad-signature'],
    ['methods', setParam(url, 'sig-m', 'GET,POST'), 'bad-signature'],
    ['claims', setParam(url, 'sig-c', 'user%3Dmallory'), 'bad-signature'],
    ['a claim dropped', url.replace(/&sig-c=[^&]*/, ''), 'bad-signature'],
    ['covered value', url.replace('v=1', 'v=2'), 'bad-signature'],
    ['covered list shrunk', url.replace(/&sig-p=[^&]*/, '').replace('v=1&', ''), 'bad-signature'],
    ['key id of another valid key', setParam(url, 'sig-kid', '2026-11'), 'bad-signature'],
    ['signature', setParam(url, 'sig', flipped), 'bad-signature'],
    ['signature truncated', setParam(url, 'sig', sig.slice(0, 42)), 'malformed'],
    ['signature missing', url.replace(/&sig=[^&]*/, ''), 'unsigned'],
    ['expiry missing', url.replace(/&sig-exp=[^&]*/, ''), 'malformed'],
    ['expiry not a number', setParam(url, 'sig-exp', '1e12'), 'malformed'],
    ['methods missing', url.replace(/&sig-m=[^&]*/, ''), 'malformed'],
    ['methods lower case', setParam(url, 'sig-m', 'get'), 'malformed'],
    ['key id missing', url.replace(/sig-kid=[^&]*&/, ''), 'malformed'],
    ['claims not k=v', setParam(url, 'sig-c', 'alice'), 'malformed'],
    ['a sig-* parameter twice', `${url}&sig-exp=1`, 'malformed'],
    ['sig-c twice', `${url}&sig-c=user%3Dalice`, 'malformed'],
    ['sig-p twice', `${url}&sig-p=v`, 'malformed'],
    ['sig twice', `${url}&sig=${sig}`, 'malformed'],
    ['a non-canonical spelling of the same signature', setParam(url, 'sig', respelled), 'malformed'],
    ['a covered parameter twice', `${url}&v=1`, 'malformed'],
    ['a covered parameter absent', url.replace('v=1&', ''), 'malformed'],
    ['an uncovered parameter added', `${url}&debug=1`, 'uncovered-parameter'],
    ['unknown key id', setParam(url, 'sig-kid', '2025-01'), 'unknown-key'],
    ['not signed at all', '/d/file.zip', 'unsigned'],
  ]
  for (const [name, tampered, want] of cases) t.equal(failureOf(tampered), want, `${name}: ${want}`)
})

t.test('methods: GET allows HEAD; a HEAD-only link does not allow GET', async t => {
  const get = signLink('/f', { keyId: '2026-12', expiresAt: EXP }, keys)
  t.equal(failureOf(get, 'GET'), 'ok')
  t.equal(failureOf(get, 'HEAD'), 'ok', 'HEAD is GET without content (RFC 9110 9.3.2)')
  t.equal(failureOf(get, 'POST'), 'method')
  const head = signLink('/f', { keyId: '2026-12', expiresAt: EXP, methods: ['head'] }, keys)
  t.equal(failureOf(head, 'HEAD'), 'ok')
  t.equal(failureOf(head, 'GET'), 'method')
  const r = verify(get, 'GET', EXP)
  t.equal(r.ok ? 'ok' : r.failure, 'expired', 'an authentic expired link says expired before anything about the method')
})

t.test('rotation: links of both keys verify; dropping the old key makes its links unknown-key', async t => {
  const old = signLink('/f', { keyId: '2026-11', expiresAt: EXP }, keys)
  const cur = signLink('/f', { keyId: '2026-12', expiresAt: EXP }, keys)
  t.not(new URL(old, 'http://h').searchParams.get('sig'), new URL(cur, 'http://h').searchParams.get('sig'), 'different keys sign differently')
  t.equal(failureOf(old), 'ok')
  t.equal(failureOf(cur), 'ok')
  const rotated = new SigningKeys({ '2026-12': secret(2), '2027-01': secret(3) })
  t.equal(failureOf(old, 'GET', T0, rotated), 'unknown-key')
  t.equal(failureOf(cur, 'GET', T0, rotated), 'ok')
  const sameIdOtherSecret = new SigningKeys({ '2026-12': secret(9) })
  t.equal(failureOf(cur, 'GET', T0, sameIdOtherSecret), 'bad-signature', 'a key id reused with a new secret')
})

t.test('signLink refuses links that could not verify', async t => {
  const o = { keyId: '2026-12', expiresAt: EXP }
  t.throws(() => signLink('/f', { ...o, keyId: 'nope' }, keys), TypeError, 'unknown key id')
  t.throws(() => signLink('/f?a=1&b=2', { ...o, cover: ['a'] }, keys), TypeError, 'an uncovered parameter')
  t.throws(() => signLink('/f?a=1', { ...o, cover: ['a', 'b'] }, keys), TypeError, 'a covered parameter that is absent')
  t.throws(() => signLink('/f?a=1&a=2', o, keys), TypeError, 'a covered parameter twice')
  t.throws(() => signLink('/f?sig=x', o, keys), TypeError, 'already signed')
  t.throws(() => signLink('/f', { ...o, methods: [] }, keys), TypeError, 'no methods')
  t.throws(() => signLink('/f', { ...o, methods: ['G ET'] }, keys), TypeError, 'a bad method')
  t.throws(() => signLink('/f', { ...o, claims: [['', 'x']] }, keys), TypeError, 'an empty claim name')
  t.throws(() => signLink('/f', { ...o, expiresAt: Number.NaN }, keys), TypeError, 'no expiry')
  t.throws(() => signLink('/%zz', o, keys), TypeError, 'a path the server refuses')
  t.equal(failureOf(signLink('/f?b=2&a=1', { ...o, cover: ['a', 'b'] }, keys)), 'ok', 'cover order is free')
})

t.test('SigningKeys: the keys file format', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const good = join(dir, 'keys.json')
  writeFileSync(good, JSON.stringify({ keys: { a: secret(1), 'b.2_x-y': Buffer.alloc(48, 7).toString('base64url') } }))
  const k = await SigningKeys.load(good)
  t.strictSame(k.ids, ['a', 'b.2_x-y'])
  t.equal(k.secret('a')?.length, 32)
  t.equal(k.secret('b.2_x-y')?.length, 48, 'base64url accepted')
  t.equal(k.secret('c'), undefined)
  const bad: Array<[string, string]> = [
    ['not JSON', '{'],
    ['no keys', '{}'],
    ['empty keys', '{"keys":{}}'],
    ['keys an array', '{"keys":["x"]}'],
    ['a short secret', JSON.stringify({ keys: { a: Buffer.alloc(31).toString('base64') } })],
    ['a secret not base64', JSON.stringify({ keys: { a: `${secret(1)}!` } })],
    ['a secret not a string', JSON.stringify({ keys: { a: 42 } })],
    ['a bad key id', JSON.stringify({ keys: { 'a b': secret(1) } })],
  ]
  for (const [name, text] of bad) t.throws(() => SigningKeys.parse(text), TypeError, name)
  await t.rejects(SigningKeys.load(join(dir, 'missing.json')))
})

t.test('redactSignature: the sig value only, everything else byte for byte', async t => {
  const cases: Array<[string, string]> = [
    ['/f?sig-kid=a&sig-exp=1&sig=abc_-DEF', `/f?sig-kid=a&sig-exp=1&sig=${REDACTED}`],
    ['/f?sig=abc&v=%20x+y', `/f?sig=${REDACTED}&v=%20x+y`],
    ['/f?%73ig=abc', `/f?%73ig=${REDACTED}`],
    ['/f?sig=a&sig=b', `/f?sig=${REDACTED}&sig=${REDACTED}`],
    ['https://h.test/f?sig=abc#frag', `https://h.test/f?sig=${REDACTED}#frag`],
    ['/f?sigx=abc&xsig=1', '/f?sigx=abc&xsig=1'],
    ['/sig=abc', '/sig=abc'],
    ['/f', '/f'],
    ['/f?%zz=1&sig=x', `/f?%zz=1&sig=${REDACTED}`],
  ]
  for (const [target, want] of cases) t.equal(redactSignature(target), want, target)
  const url = signLink('/f?v=1', { keyId: '2026-12', expiresAt: EXP }, keys)
  t.equal(failureOf(redactSignature(url)), 'malformed', 'a redacted link no longer works')
})
