import { createHash } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { parseJsonl } from '../../src/replay/parsers/jsonl.js'
import { detectFormat } from '../../src/replay/parsers/detect-format.js'
import { readJsonl, run, sha256, waitForOutput, withTimeout } from '../helpers/e2e.js'
import { CLI, exited, REPO, requireTool, spawnListening } from '../helpers/serve.js'

const FIXTURE = `${REPO}fixtures/manifests/serve.yaml`
const STORE = pathToFileURL(`${REPO}fixtures/store`).href
const TOOLS = readFileSync(`${REPO}fixtures/store/sdk/2.0/tools-linux.zip`)
/** DECLARED is the sha256 the fixture manifest declares for the tools blob. */
const DECLARED = /sha256: ([0-9a-f]{64})/.exec(readFileSync(FIXTURE, 'utf8'))![1]!

/** curl fetches a URL with curl (headers and body to files in `dir`); returns the status, the header block and the body. */
async function curl(url: string, dir: string): Promise<{ status: number; head: string; body: Buffer }> {
  const head = join(dir, 'head')
  const out = join(dir, 'out')
  const r = await run('curl', ['-sS', '--max-time', '10', '-D', head, '-o', out, url], { timeoutMs: 15_000 })
  if (r.code !== 0) throw new Error(`curl ${url}: ${r.code} ${r.stderr}`)
  const text = readFileSync(head, 'latin1')
  const m = /^HTTP\/1\.1 (\d{3})/m.exec(text)
  return { status: Number(m?.[1] ?? 0), head: text, body: readFileSync(out) }
}

/** curlBytes is the body of a URL exactly as bytes (stdout as a buffer, not text). */
async function curlBytes(url: string, out: string): Promise<Buffer> {
  const r = await run('curl', ['-sS', '--max-time', '10', '-o', out, url], { timeoutMs: 15_000 })
  if (r.code !== 0) throw new Error(`curl ${url}: ${r.code} ${r.stderr}`)
  return readFileSync(out)
}

t.test('serve --manifest: payloads, an unrevealed one, SIGHUP reloads (valid and not), the access log', async t => {
  if (!requireTool(t, 'curl')) return
  const dir = t.testdir({})
  const manifest = join(dir, 'payloads.yaml')
  const accessLog = join(dir, 'access.jsonl')
  copyFileSync(FIXTURE, manifest)
  const { url, child, output } = await spawnListening(
    t,
    process.execPath,
    [CLI, 'serve', '--manifest', manifest, '--store', STORE, '--listen', '127.0.0.1:0', '--settle-time', '0', '--access-log', accessLog, '--metrics-listen', '127.0.0.1:0'],
    'cutover serve --manifest',
  )
  t.match(output(), /\(store \S+fixtures\/store, manifest \S+payloads\.yaml sha256 [0-9a-f]{64}[,)]/, 'the start line names the store and the manifest')

  const tools = await curl(`${url}/sdk/2.0/tools-linux.zip`, dir)
  t.equal(tools.status, 200)
  t.match(tools.head, /^content-type: application\/zip\r$/im)
  t.match(tools.head, /^content-disposition: attachment; filename="tools-_\.zip"; filename\*=UTF-8''tools-%C3%A9\.zip\r$/im)
  t.match(tools.head, new RegExp(`^repr-digest: sha-256=:${Buffer.from(DECLARED, 'hex').toString('base64').replace(/[+/]/g, '\\$&')}:\r$`, 'im'))
  t.match(tools.head, /^cache-control: max-age=3600\r$/im)
  t.match(tools.head, /^x-served-by: cutover\r$/im)
  const body = await curlBytes(`${url}/sdk/2.0/tools-linux.zip`, join(dir, 'body'))
  t.equal(sha256(body), DECLARED, 'the bytes downloaded have the declared sha256')
  t.equal(Buffer.compare(body, TOOLS), 0, 'and are the blob')

  const hidden = await curl(`${url}/notes.txt`, dir)
  t.equal(hidden.status, 404, 'a payload revealed in 2999 does not exist yet')
  t.equal(hidden.body.toString(), '404 page not found\n')
  t.equal((await curl(`${url}/new/tools.zip`, dir)).status, 404, 'a path the manifest does not have yet')

  // A changed manifest: the tools move to a new path, and SIGHUP makes it the one in use.
  writeFileSync(
    manifest,
    readFileSync(FIXTURE, 'utf8').replace('paths: [/sdk/:version/tools-:os.zip]', 'paths: [/new/tools.zip]').replace('blob: sdk/{version}/tools-{os}.zip', 'blob: sdk/2.0/tools-linux.zip'),
  )
  child.kill('SIGHUP')
  await waitForOutput(child, output, /"msg":"manifest reloaded"/)
  t.equal(sha256(await curlBytes(`${url}/new/tools.zip`, join(dir, 'body'))), DECLARED, 'after the reload the new path is served')
  t.equal((await curl(`${url}/sdk/2.0/tools-linux.zip`, dir)).status, 404, 'and the old one is gone')

  // An invalid manifest: logged with its problems, the previous one keeps serving.
  writeFileSync(manifest, 'version: 1\npayloads:\n  - name: broken\n    pathz: [/x]\n')
  child.kill('SIGHUP')
  await waitForOutput(child, output, /manifest reload failed/)
  t.match(output(), /payloads\.yaml:4:5: payloads\[0\]\.pathz: unknown field 'pathz'/, 'the problem with its file:line:column in the log')
  t.equal((await curl(`${url}/new/tools.zip`, dir)).status, 200, 'the last valid manifest keeps serving')

  const metricsUrl = /metrics (http:\/\/\S+\/metrics)\)/.exec(output())?.[1]
  if (metricsUrl === undefined) throw new Error(`no metrics address in: ${output()}`)
  const metrics = (await curl(metricsUrl, dir)).body.toString()
  const newHash = createHash('sha256').update(readFileSync(FIXTURE, 'utf8').replace('paths: [/sdk/:version/tools-:os.zip]', 'paths: [/new/tools.zip]').replace('blob: sdk/{version}/tools-{os}.zip', 'blob: sdk/2.0/tools-linux.zip')).digest('hex')
  t.match(metrics, /^cutover_serve_manifest_reloads_total 1$/m, 'one reload')
  t.match(metrics, /^cutover_serve_manifest_reload_failures_total 1$/m, 'one refused')
  t.match(metrics, /^cutover_serve_missing_blobs_total 0$/m)
  // One blob read from the store; every later answer of it from memory, across the reload (same blob, type and digest).
  t.match(metrics, /^cutover_serve_cache_misses_total 1$/m, 'the tools blob read once')
  t.match(metrics, /^cutover_serve_cache_hits_total 3$/m, 'and answered from memory three times')
  t.match(metrics, new RegExp(`^cutover_serve_manifest_info\\{file="[^"]+payloads\\.yaml",sha256="${newHash}"\\} 1$`, 'm'), 'the hash of the manifest in use')
  // Per payload: the tools answered 200 four times (before and after the reload: the name stays);
  // the unrevealed notes are counted under their name as the 404 the client got.
  t.match(metrics, /^cutover_serve_payload_requests_total\{payload="sdk-tools",code="200"\} 4$/m, 'requests by payload and status')
  t.match(metrics, /^cutover_serve_payload_requests_total\{payload="notes",code="404"\} 1$/m, 'an unrevealed payload under its name')
  t.match(metrics, new RegExp(`^cutover_serve_payload_body_bytes_total\\{payload="sdk-tools"\\} ${4 * TOOLS.length}$`, 'm'), 'bytes by payload')

  child.kill('SIGTERM')
  t.equal(await withTimeout(exited(child), 10_000, 'serve to stop'), 0)
  const records = readJsonl(accessLog)
  const tags = records.map(r => [r.path, r.status, r.payload, r.decision])
  t.strictSame(tags, [
    ['/sdk/2.0/tools-linux.zip', 200, 'sdk-tools', 'served'],
    ['/sdk/2.0/tools-linux.zip', 200, 'sdk-tools', 'served'],
    ['/notes.txt', 404, 'notes', 'miss'],
    ['/new/tools.zip', 404, undefined, 'miss'],
    ['/new/tools.zip', 200, 'sdk-tools', 'served'],
    ['/sdk/2.0/tools-linux.zip', 404, undefined, 'miss'],
    ['/new/tools.zip', 200, 'sdk-tools', 'served'],
  ])
  // Each record names the manifest that answered it: the first, until the reload, then the new one.
  const oldHash = createHash('sha256').update(readFileSync(FIXTURE, 'utf8')).digest('hex').slice(0, 12)
  t.strictSame(records.map(r => r.manifest), [oldHash, oldHash, oldHash, oldHash, newHash.slice(0, 12), newHash.slice(0, 12), newHash.slice(0, 12)], 'the manifest of each answer')
  // replay reads these records (it keeps payload, ignores the other new fields): none is a bad line.
  const lines = readFileSync(accessLog, 'utf8').split('\n').filter(l => l !== '')
  t.equal(detectFormat(lines.join('\n')), 'jsonl', 'replay detects the format')
  for (const line of lines) t.match(parseJsonl(line), { kind: 'record' }, `replay reads ${line.slice(0, 80)}...`)
})

t.test('serve --manifest refuses to start on an invalid manifest or a store it cannot use (exit 2)', async t => {
  const dir = t.testdir({ 'bad.yaml': 'version: 1\npayloads:\n  - name: a\n    paths: [/a/:x/:x]\n    content: { blob: a }\n    revael: 2026-01-01T00:00:00Z\n' })
  const bad = join(dir, 'bad.yaml')
  const cases: Array<[what: string, args: string[], stderr: RegExp]> = [
    ['an invalid manifest: the unknown field', ['--manifest', bad, '--store', STORE], /^\S+bad\.yaml:6:5: payloads\[0\]\.revael: unknown field 'revael'/m],
    ['an invalid manifest: the bad pattern', ['--manifest', bad, '--store', STORE], /^\S+bad\.yaml:4:\d+: payloads\[0\]\.paths\[0\]: .*duplicate name/m],
    ['an invalid manifest: the count', ['--manifest', bad, '--store', STORE], /^\S+bad\.yaml: 2 problems; the manifest was not loaded$/m],
    ['a missing manifest', ['--manifest', join(dir, 'nope.yaml'), '--store', STORE], /nope\.yaml: cannot read the manifest \(ENOENT\)/],
    ['an unknown kind of store', ['--manifest', FIXTURE, '--store', 'ftp://origin.example/x'], /--store ftp:\/\/origin\.example\/x: ftp stores do not exist/],
    ['an invalid bucket name', ['--manifest', FIXTURE, '--store', 's3://Bucket/prefix'], /--store s3:\/\/Bucket\/prefix: "bucket" is not a valid S3 bucket name|not a valid S3 bucket name/],
    ['credentials in a store URL', ['--manifest', FIXTURE, '--store', 'https://u:secret@origin.example/'], /--store https:\/\/u:\*\*\*@origin\.example\/: credentials do not belong in the URL/],
    ['a bad fallback store', ['--manifest', FIXTURE, '--store', STORE, '--fallback-store', 'gopher://x/'], /--fallback-store gopher:\/\/x\/: gopher stores do not exist/],
    ['a fallback store in directory mode', ['--root', dir, '--fallback-store', STORE], /--fallback-store is for --manifest/],
    ['no store', ['--manifest', FIXTURE], /--manifest needs --store/],
    ['a missing store directory', ['--manifest', FIXTURE, '--store', pathToFileURL(join(dir, 'none')).href], /--store file:\S+none: does not exist/],
    ['both modes', ['--manifest', FIXTURE, '--store', STORE, '--root', dir], /--root and --manifest exclude each other/],
    ['neither mode', [], /'--root <dir>' or '--manifest <file>'/],
  ]
  for (const [what, args, stderr] of cases) {
    const r = await run(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], { timeoutMs: 15_000 })
    t.equal(r.code, 2, `${what}: exit 2`)
    t.match(r.stderr, stderr, `${what}: says why`)
    t.notMatch(r.stdout, /listening/, `${what}: never listened`)
  }
})
