import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkManifest, parseAt, resolveRequest, type Out } from '../../src/cli/manifest.js'
import { ManifestLoader } from '../../src/manifest/load-manifest.js'
import { ManifestAccessPolicy } from '../../src/payload/access-policy.js'
import { CLI, REPO } from '../helpers/serve.js'

const EXAMPLE = `${REPO}fixtures/manifests/example.yaml`
const loader = new ManifestLoader()

/** capture runs a manifest command with its output kept. */
async function capture(run: (o: Out) => Promise<number>): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const code = await run({ out: l => out.push(l), err: l => err.push(l) })
  return { code, out, err }
}

const dir = mkdtempSync(join(tmpdir(), 'cutover-manifest-cli-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string): string => {
  const f = join(dir, name)
  writeFileSync(f, text)
  return f
}

t.test('manifest check: a valid manifest gets a one-line summary and its overlaps, exit 0', async t => {
  const f = file(
    'overlaps.yaml',
    `version: 1
payloads:
  - name: latest
    paths: [/dl/latest.zip]
    content: { blob: latest.zip }
  - name: versions
    paths: [/dl/:version.zip]
    content: { blob: "v/{version}.zip" }
  - name: everything
    paths: [/dl/**]
    content: { blob: "{path}" }
`,
  )
  const r = await capture(o => checkManifest(f, 50, o, loader))
  t.equal(r.code, 0)
  t.same(r.err, [])
  t.match(r.out[0], new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ok: 3 payloads, 3 paths \\(1 exact, 1 named, 1 glob\\), 3 overlaps, sha256 [0-9a-f]{64}$`))
  const overlaps = r.out.slice(1).sort()
  t.equal(overlaps.length, 3)
  t.match(overlaps.join('\n'), /payloads\[0\]\.paths\[0\] \/dl\/latest\.zip \('latest'\) and payloads\[1\]\.paths\[0\] \/dl\/:version\.zip \('versions'\) both match \/dl\/latest\.zip: the first wins \(an exact path before named segments\)/)
  t.match(overlaps.join('\n'), /payloads\[1\]\.paths\[0\] \/dl\/:version\.zip \('versions'\) and payloads\[2\]\.paths\[0\] \/dl\/\*\* \('everything'\) both match \/dl\/[^ ]+\.zip: the first wins \(named segments before a glob\)/)
  const few = await capture(o => checkManifest(f, 1, o, loader))
  t.equal(few.out.length, 3, 'summary, one overlap, and the count of the others')
  t.equal(few.out[2], '  ... and 2 more (--max-overlaps N lists more)')
})

t.test('manifest check: every problem with its location, exit 2', async t => {
  const f = file(
    'bad.yaml',
    `version: 1
payloads:
  - name: a
    paths: [/a/:x/:x]
    content: { blob: a }
    revael: 2026-01-01T00:00:00Z
  - name: a
    paths: [/b]
    content: { blob: "{nope}" }
`,
  )
  const r = await capture(o => checkManifest(f, 50, o, loader))
  t.equal(r.code, 2)
  t.same(r.out, [])
  const last = r.err.at(-1)
  t.match(last, /: \d+ problems; the manifest was not loaded$/)
  const lines = r.err.slice(0, -1)
  t.ok(lines.length >= 3, 'the pattern, the unknown field and the duplicate name at least')
  for (const l of lines) t.match(l, new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `), `located: ${l}`)
  t.match(lines.join('\n'), /:4:\d+: payloads\[0\]\.paths\[0\]: .*duplicate name/)
  t.match(lines.join('\n'), /:6:5: payloads\[0\]\.revael: unknown field 'revael'/)
  t.match(lines.join('\n'), /:7:\d+: payloads\[1\]\.name: duplicate payload name 'a'/)
  const missing = await capture(o => checkManifest(join(dir, 'absent.yaml'), 50, o, loader))
  t.equal(missing.code, 2)
  t.match(missing.err[0], /absent\.yaml: cannot read the manifest \(ENOENT\)/)
})

t.test('manifest resolve: payload, pattern, segments, blob keys and the reveal window', async t => {
  const at = (s: string): number => Date.parse(s)
  const cases: Array<[string, string, number, RegExp[]]> = [
    ['/sdk/1.2/tools-linux.x64.zip', '2026-12-11T00:00:00Z', 1, [
      /^\/sdk\/1\.2\/tools-linux\.x64\.zip: payload 'sdk-tools' \(payloads\[0\]\), by payloads\[0\]\.paths\[0\] \/sdk\/:version\/tools-:os\.zip \(named\)$/,
      /^  segments: version=1\.2 os=linux\.x64$/,
      /^  content: blob sdk\/1\.2\/tools-linux\.x64\.zip$/,
      /^  access rules: networks allow \[10\.0\.0\.0\/8, 2001:db8::\/32, 198\.51\.100\.7\]; networks deny \[10\.9\.0\.0\/16\]; countries allow \[US, CA, --\]; countries deny \[KP\]; users allow \[alice, bob\]; user types allow \[employee\]; user types deny \[contractor\]; a signed link$/,
      /^  from 127\.0\.0\.1 \(client 127\.0\.0\.1\): denied by payloads\[name=sdk-tools\]\.acl\.networks\.allow: .*: 403$/,
    ]],
    ['/sdk/1.2/tools-linux.zip', '2026-12-10T08:59:59Z', 1, [/^  at 2026-12-10T08:59:59Z: not revealed until 2026-12-10T09:00:00Z: 404, the same answer as a path no payload serves$/]],
    ['/sdk/1.2/tools-linux.zip', '2027-06-29T22:00:00Z', 1, [/^  at 2027-06-29T22:00:00Z: expired at 2027-06-29T22:00:00Z: 410$/]],
    ['/installer//./latest.bin?x=1', '2026-12-11T00:00:00Z', 0, [/^\/installer\/latest\.bin: payload 'installer'/, /^  content: 2 parts installer\/header\.bin \+ installer\/body\.bin$/]],
    ['/nightly/build%2042.tar', '2026-12-11T00:00:00Z', 0, [/^  content: blob nightly\/build 42\.tar$/]],
    ['/nowhere', '2026-12-11T00:00:00Z', 1, [/^\/nowhere: no payload: 404$/]],
  ]
  for (const [path, when, code, want] of cases) {
    const r = await capture(o => resolveRequest(EXAMPLE, path, at(when), o, loader, { policy: new ManifestAccessPolicy() }))
    t.equal(r.code, code, `${path} at ${when}: exit ${code}`)
    for (const re of want) t.ok(r.out.some(l => re.test(l)), `${path}: ${re}\n${r.out.join('\n')}`)
  }
  const bad = await capture(o => resolveRequest(EXAMPLE, '/a/../b', 0, o, loader))
  t.equal(bad.code, 2)
  t.match(bad.err[0], /a bad request path .*: the server answers 400/)
})

t.test('parseAt reads RFC 3339 times with an offset and refuses the rest', async t => {
  t.equal(parseAt('2026-12-10T09:00:00Z'), Date.UTC(2026, 11, 10, 9))
  t.equal(parseAt('2026-12-10T10:00:00+01:00'), Date.UTC(2026, 11, 10, 9))
  for (const bad of ['2026-12-10', 'tomorrow', '2026-12-10T09:00:00', '2026-02-30T00:00:00Z', '']) t.throws(() => parseAt(bad), bad)
})

t.test('the CLI: exit codes of manifest check and resolve', async t => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'manifest', ...args], { encoding: 'utf8', timeout: 30_000 })
  const ok = run('check', EXAMPLE)
  t.equal(ok.status, 0, ok.stderr)
  t.match(ok.stdout, /example\.yaml: ok: 3 payloads, 4 paths/)
  const bad = run('check', file('syntax.yaml', 'version: 1\npayloads: [\n'))
  t.equal(bad.status, 2)
  t.match(bad.stderr, /syntax\.yaml:\d+:\d+: /)
  const served = run('resolve', EXAMPLE, '/installer/latest.bin', '--at', '2026-12-11T00:00:00Z')
  t.equal(served.status, 0, served.stderr)
  const hidden = run('resolve', EXAMPLE, '/sdk/1/tools-a.zip', '--at', '2026-01-01T00:00:00Z')
  t.equal(hidden.status, 1)
  const usage = run('resolve', EXAMPLE, '/x', '--at', 'yesterday')
  t.equal(usage.status, 2)
  t.match(usage.stderr, /RFC 3339/)
})

t.test('manifest resolve decides access rules as serve does: peer, X-Forwarded-For through trusted proxies, no policy', async t => {
  const f = file(
    'office.yaml',
    `version: 1
payloads:
  - name: office
    paths: [/office/notes.txt]
    content: { blob: notes.txt }
    acl: { networks: { allow: [10.1.0.0/16] } }
`,
  )
  const trusting = new ManifestAccessPolicy({ trustedProxies: ['127.0.0.1'] })
  const cases: Array<[what: string, who: Parameters<typeof resolveRequest>[5], code: number, line: RegExp]> = [
    ['a client in the network', { ip: '10.1.2.3', policy: trusting }, 0, /^  from 10\.1\.2\.3 \(client 10\.1\.2\.3\): allowed$/],
    ['the proxy itself', { ip: '127.0.0.1', policy: trusting }, 1, /^  from 127\.0\.0\.1 \(client 127\.0\.0\.1\): denied by payloads\[name=office\]\.acl\.networks\.allow: .+: 403; varies on x-forwarded-for$/],
    ['a client behind the trusted proxy', { ip: '127.0.0.1', headers: { 'x-forwarded-for': '10.1.9.9' }, policy: trusting }, 0, /^  from 127\.0\.0\.1 \(client 10\.1\.9\.9\): allowed; varies on x-forwarded-for$/],
    ['a spoofed X-Forwarded-For from an untrusted peer', { ip: '192.0.2.1', headers: { 'x-forwarded-for': '10.1.9.9' }, policy: trusting }, 1, /\(client 192\.0\.2\.1\): denied/],
    ['no policy at all', { ip: '10.1.2.3' }, 1, /^  no access policy given: a server without one refuses everyone \(403\)$/],
  ]
  for (const [what, who, code, line] of cases) {
    const r = await capture(o => resolveRequest(f, '/office/notes.txt', 0, o, loader, who))
    t.equal(r.code, code, `${what}: exit ${code}`)
    t.ok(r.out.some(l => line.test(l)), `${what}: ${line}\n${r.out.join('\n')}`)
    t.ok(r.out.includes('  access rules: networks allow [10.1.0.0/16]'), `${what}: the rules are listed`)
  }
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'manifest', 'resolve', f, '/office/notes.txt', ...args], { encoding: 'utf8', timeout: 30_000 })
  t.equal(cli('--ip', '10.1.2.3').status, 0, 'the CLI: --ip')
  const viaProxy = cli('--trusted-proxies', '127.0.0.1', '-H', 'X-Forwarded-For: 10.1.9.9')
  t.equal(viaProxy.status, 0, viaProxy.stdout + viaProxy.stderr)
  t.equal(cli('-H', 'X-Forwarded-For: 10.1.9.9').status, 1, 'the CLI: no trusted proxy, the header gains nothing')
})
