import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseExpires, signUrl } from '../../src/cli/sign.js'
import { loadManifest } from '../../src/manifest/load-manifest.js'
import { ManifestAccessPolicy } from '../../src/payload/access-policy.js'
import { SigningKeys, verifyLink } from '../../src/payload/signed-link.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { CLI } from '../helpers/serve.js'

const dir = mkdtempSync(join(tmpdir(), 'cutover-sign-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const KEYS = join(dir, 'keys.json')
writeFileSync(KEYS, JSON.stringify({ keys: { '2026-12': Buffer.alloc(32, 3).toString('base64'), '2027-01': Buffer.alloc(40, 4).toString('base64') } }))

/** sign runs the built `cutover sign` (bounded: 30 s). */
const sign = (...args: string[]) => spawnSync(process.execPath, [CLI, 'sign', ...args], { encoding: 'utf8', timeout: 30_000 })

t.test('cutover sign prints a link the access policy accepts', async t => {
  const manifest = loadManifest(
    'version: 1\npayloads:\n  - name: s\n    paths: [/dl/**]\n    content: { blob: "{path}" }\n    acl: { signed: true }\n',
    'sign-test.yaml',
  )
  if (!manifest.ok) throw new Error(JSON.stringify(manifest.problems))
  const payload = manifest.manifest.payloads[0]!
  const keys = await SigningKeys.load(KEYS)
  const policy = new ManifestAccessPolicy({ keys })

  const r = sign('https://dl.example/dl/tools.zip?os=linux', '--key-id', '2027-01', '--expires', '1h', '--signing-keys', KEYS, '--claim', 'user=alice', '--claim', 'ticket=a=b', '--method', 'GET')
  t.equal(r.status, 0, `exit 0: ${r.stderr}`)
  const line = r.stdout.trim()
  t.match(line, /^https:\/\/dl\.example\/dl\/tools\.zip\?os=linux&sig-kid=2027-01&sig-exp=\d+&sig-m=GET&sig-c=[^&]+&sig-p=os&sig=[A-Za-z0-9_-]{43}$/)
  const u = new URL(line)
  const exp = Number(u.searchParams.get('sig-exp')) * 1000
  // The expiry comes from the child's clock; the checks below use times derived from it, not now.
  const facts = { method: 'GET', path: u.pathname, query: u.search, headers: {}, remote: '192.0.2.1' }
  t.equal(policy.decide(payload, facts, exp - 1).allow, true, 'valid just before its expiry')
  t.equal(policy.decide(payload, { ...facts, method: 'HEAD' }, exp - 1).allow, true, 'HEAD too')
  t.equal(policy.decide(payload, facts, exp).allow, false, 'expired at sig-exp')
  const v = verifyLink('GET', u.pathname, u.search, exp - 1, keys)
  t.strictSame(v.ok ? v.claims : v, [['user', 'alice'], ['ticket', 'a=b']], 'claims as given')
})

t.test('cutover sign: an absolute --expires, --cover, origin-form', async t => {
  const r = sign('/dl/a.zip?b=2&c=3', '--key-id', '2026-12', '--expires', '2030-01-01T00:00:00Z', '--signing-keys', KEYS, '--cover', 'c', '--cover', 'b')
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /^\/dl\/a\.zip\?b=2&c=3&sig-kid=2026-12&sig-exp=1893456000&sig-m=GET&sig-p=c%2Cb&sig=/)
  const u = new URL(r.stdout.trim(), 'http://h')
  t.ok(verifyLink('GET', u.pathname, u.search, Date.parse('2029-12-31T23:59:59.999Z'), await SigningKeys.load(KEYS)).ok)
})

t.test('cutover sign refuses bad input with exit 2', async t => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown key id', ['/x', '--key-id', 'nope', '--expires', '1h', '--signing-keys', KEYS], /no signing key "nope"/],
    ['a bad duration', ['/x', '--key-id', '2026-12', '--expires', 'soon', '--signing-keys', KEYS], /expected a duration/],
    ['a missing keys file', ['/x', '--key-id', '2026-12', '--expires', '1h', '--signing-keys', join(dir, 'missing.json')], /ENOENT/],
    ['no --expires', ['/x', '--key-id', '2026-12', '--signing-keys', KEYS], /--expires/],
    ['a bad claim', ['/x', '--key-id', '2026-12', '--expires', '1h', '--signing-keys', KEYS, '--claim', 'novalue'], /expected k=v/],
    ['an uncovered parameter', ['/x?a=1&b=2', '--key-id', '2026-12', '--expires', '1h', '--signing-keys', KEYS, '--cover', 'a'], /"b" is not covered/],
  ]
  for (const [name, args, want] of cases) {
    const r = sign(...args)
    t.equal(r.status, 2, `${name}: exit 2`)
    t.match(r.stderr, want, `${name}: says why`)
    t.equal(r.stdout, '', `${name}: prints no link`)
  }
})

t.test('signUrl and parseExpires with an injected clock', async t => {
  const clock = new ManualClock(Date.parse('2026-12-05T08:00:00Z'))
  const link = await signUrl('/x', { keyId: '2026-12', expires: parseExpires('90s'), signingKeys: KEYS, claim: [], method: [] }, clock)
  t.match(link, `sig-exp=${Date.parse('2026-12-05T08:01:30Z') / 1000}&sig-m=GET&`)
  const cases: Array<[string, unknown]> = [
    ['3600', { inSeconds: 3600 }],
    ['15m', { inSeconds: 900 }],
    ['7d', { inSeconds: 604800 }],
    ['2026-12-31T00:00:00+01:00', { at: Date.parse('2026-12-30T23:00:00Z') }],
  ]
  for (const [s, want] of cases) t.strictSame(parseExpires(s), want, s)
  for (const bad of ['0', '0s', '-1h', '1w', '', '2026-12-31']) t.throws(() => parseExpires(bad), /expected a duration/, JSON.stringify(bad))
})
