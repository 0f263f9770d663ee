import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { readJsonl, run, sha256, withTimeout } from '../helpers/e2e.js'
import { CLI, exited, REPO, requireTool, spawnListening } from '../helpers/serve.js'

const STORE = pathToFileURL(`${REPO}fixtures/store`).href
const TOOLS = readFileSync(`${REPO}fixtures/store/sdk/2.0/tools-linux.zip`)

const MANIFEST = `version: 1
payloads:
  - name: office
    paths: [/office/notes.txt]
    content: { blob: notes.txt }
    acl: { networks: { allow: [10.1.0.0/16] } }
  - name: signed-tools
    paths: [/signed/tools.zip]
    content: { blob: sdk/2.0/tools-linux.zip }
    acl: { signed: true }
`
const KEYS = JSON.stringify({ keys: { k1: Buffer.alloc(32, 7).toString('base64') } })

/** curl fetches a URL (extra headers allowed) and returns the status, the header block and the body. */
async function curl(url: string, dir: string, headers: string[] = []): Promise<{ status: number; head: string; body: Buffer }> {
  const head = join(dir, 'head')
  const out = join(dir, 'out')
  const r = await run('curl', ['-sS', '--max-time', '10', '-D', head, '-o', out, ...headers.flatMap(h => ['-H', h]), url], { timeoutMs: 15_000 })
  if (r.code !== 0) throw new Error(`curl ${url}: ${r.code} ${r.stderr}`)
  const text = readFileSync(head, 'latin1')
  return { status: Number(/^HTTP\/1\.1 (\d{3})/m.exec(text)?.[1] ?? 0), head: text, body: readFileSync(out) }
}

t.test('serve --manifest decides access rules: networks through a trusted proxy, signed links from cutover sign, the log', async t => {
  if (!requireTool(t, 'curl')) return
  const dir = t.testdir({ 'payloads.yaml': MANIFEST, 'keys.json': KEYS })
  const accessLog = join(dir, 'access.jsonl')
  const args = ['serve', '--manifest', join(dir, 'payloads.yaml'), '--store', STORE, '--listen', '127.0.0.1:0', '--settle-time', '0']
  const { url, child } = await spawnListening(
    t,
    process.execPath,
    [CLI, ...args, '--access-log', accessLog, '--trusted-proxies', '127.0.0.1,::1', '--signing-keys', join(dir, 'keys.json')],
    'cutover serve --manifest (policy)',
  )

  // The socket's peer is 127.0.0.1, a trusted proxy: its X-Forwarded-For is believed, right to left.
  const direct = await curl(`${url}/office/notes.txt`, dir)
  t.equal(direct.status, 403, 'the proxy itself is not in 10.1.0.0/16')
  t.equal(direct.body.toString(), '403 Forbidden\n', 'no detail in the answer')
  const viaProxy = await curl(`${url}/office/notes.txt`, dir, ['X-Forwarded-For: 10.1.2.3'])
  t.equal(viaProxy.status, 200, 'a client in 10.1.0.0/16 behind the trusted proxy')
  t.match(viaProxy.head, /^cache-control: private\r$/im, 'never public for shared caches')
  t.match(viaProxy.head, /^vary: x-forwarded-for\r$/im, 'and varies on what the decision read')
  const spoofed = await curl(`${url}/office/notes.txt`, dir, ['X-Forwarded-For: 10.1.2.3, 192.0.2.9'])
  t.equal(spoofed.status, 403, 'the rightmost untrusted address is the client, whatever it claims further left')

  // A link signed by `cutover sign` with the same keys file.
  const signed = await run(process.execPath, [CLI, 'sign', `${url}/signed/tools.zip`, '--key-id', 'k1', '--expires', '1h', '--signing-keys', join(dir, 'keys.json')], { timeoutMs: 15_000 })
  t.equal(signed.code, 0, signed.stderr)
  const link = signed.stdout.trim()
  t.match(link, /\/signed\/tools\.zip\?.*sig=[A-Za-z0-9_-]{43}$/)
  const good = await curl(link, dir)
  t.equal(good.status, 200, 'the signed link downloads')
  t.equal(sha256(good.body), sha256(TOOLS), 'the right bytes')
  const sig = /sig=([A-Za-z0-9_-]+)$/.exec(link)![1]!
  const flipped = link.replace(`sig=${sig}`, `sig=${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`)
  t.equal((await curl(flipped, dir)).status, 403, 'a tampered signature is refused')
  t.equal((await curl(`${url}/signed/tools.zip`, dir)).status, 403, 'no signature, no download')
  t.equal((await curl(`${link}&extra=1`, dir)).status, 403, 'a parameter the signature does not cover is refused')

  child.kill('SIGTERM')
  t.equal(await withTimeout(exited(child), 10_000, 'serve to stop'), 0)
  const records = readJsonl(accessLog)
  t.strictSame(
    records.map(r => [r.status, r.payload, r.decision, r.client]),
    [
      [403, 'office', 'deny:payloads[name=office].acl.networks.allow', '127.0.0.1'],
      [200, 'office', 'served', '10.1.2.3'],
      [403, 'office', 'deny:payloads[name=office].acl.networks.allow', '192.0.2.9'],
      [200, 'signed-tools', 'served', '127.0.0.1'],
      [403, 'signed-tools', 'deny:payloads[name=signed-tools].acl.signed', '127.0.0.1'],
      [403, 'signed-tools', 'deny:payloads[name=signed-tools].acl.signed', '127.0.0.1'],
      [403, 'signed-tools', 'deny:payloads[name=signed-tools].acl.signed', '127.0.0.1'],
    ],
    'each decision with its rule and the client as believed',
  )
  for (const r of records.filter(r => String(r.path).includes('sig='))) {
    t.match(String(r.path), /sig=REDACTED(&|$)/, `no working signature in the log: ${String(r.path).slice(0, 60)}...`)
    t.notMatch(String(r.path), new RegExp(sig), 'the signature itself is not there')
  }

  // Without --trusted-proxies nobody's X-Forwarded-For is believed: the same claim gains nothing.
  const plain = await spawnListening(t, process.execPath, [CLI, ...args], 'cutover serve --manifest (no trusted proxy)')
  t.equal((await curl(`${plain.url}/office/notes.txt`, dir, ['X-Forwarded-For: 10.1.2.3'])).status, 403, 'a spoofed X-Forwarded-For from an untrusted peer')
  t.equal((await curl(`${plain.url}/signed/tools.zip`, dir)).status, 403, 'signed: true without --signing-keys refuses everyone')
  plain.child.kill('SIGTERM')
  t.equal(await withTimeout(exited(plain.child), 10_000, 'serve to stop'), 0)
})
