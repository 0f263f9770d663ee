import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { readJsonl, run, withTimeout } from '../helpers/e2e.js'
import { CLI, exited, REPO, requireTool, spawnListening } from '../helpers/serve.js'

const STORE = pathToFileURL(`${REPO}fixtures/store`).href

/** A payload only the client 127.0.0.2 may have: the mirror (127.0.0.1) itself may not. */
const MANIFEST = `version: 1
payloads:
  - name: office
    paths: [/office/notes.txt]
    content: { blob: notes.txt }
    acl: { networks: { allow: [127.0.0.2/32] } }
`

t.test('mirror in front of serve --manifest: both servers decide on the real client when the mirror is a trusted proxy', async t => {
  if (!requireTool(t, 'curl')) return
  const dir = t.testdir({ 'payloads.yaml': MANIFEST })
  const serve = async (name: string): Promise<{ url: string; log: string; child: import('node:child_process').ChildProcess }> => {
    const log = join(dir, `${name}.jsonl`)
    const s = await spawnListening(
      t,
      process.execPath,
      [CLI, 'serve', '--manifest', join(dir, 'payloads.yaml'), '--store', STORE, '--listen', '127.0.0.1:0', '--settle-time', '0', '--access-log', log, '--trusted-proxies', '127.0.0.1'],
      `cutover serve (${name})`,
    )
    return { url: s.url, log, child: s.child }
  }
  const old = await serve('old')
  const neu = await serve('new')
  const out = join(dir, 'divergences.jsonl')
  const m = await spawnListening(
    t,
    process.execPath,
    [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', old.url, '--new', neu.url, '--out', out, '--grace', '10s', '--shed-above', '1'],
    'cutover mirror',
  )
  const curl = async (from: string): Promise<string> => {
    const r = await run('curl', ['-sS', '--max-time', '10', '--interface', from, '-o', '/dev/null', '-w', '%{http_code}', `${m.url}/office/notes.txt`], { timeoutMs: 15_000 })
    if (r.code !== 0) throw new Error(`curl from ${from}: ${r.code} ${r.stderr}`)
    return r.stdout
  }
  t.equal(await curl('127.0.0.2'), '200', 'the client 127.0.0.2, through the mirror, is allowed')
  t.equal(await curl('127.0.0.1'), '403', 'the client 127.0.0.1 is not')

  m.child.kill('SIGTERM')
  t.equal(await withTimeout(exited(m.child), 15_000, 'mirror to stop'), 0)
  t.match(m.output(), /requests 2 +compared 2 +divergent 0/, 'both exchanges compared, no divergence')
  for (const s of [old, neu]) {
    s.child.kill('SIGTERM')
    t.equal(await withTimeout(exited(s.child), 10_000, 'serve to stop'), 0)
  }
  const seen = (log: string) => readJsonl(log).map(r => [r.status, r.decision, r.client, r.shadow === true])
  t.strictSame(seen(old.log), [[200, 'served', '127.0.0.2', false], [403, 'deny:payloads[name=office].acl.networks.allow', '127.0.0.1', false]], 'old answered the clients, deciding on their addresses')
  // Shadows run in the background: the second client's may reach new (and its log) before the first's.
  const byClient = (rows: ReturnType<typeof seen>) => [...rows].sort((x, y) => String(x[2]).localeCompare(String(y[2])))
  t.strictSame(
    byClient(seen(neu.log)),
    [[403, 'deny:payloads[name=office].acl.networks.allow', '127.0.0.1', true], [200, 'served', '127.0.0.2', true]],
    'new got the shadows, marked, and decided alike',
  )
})
