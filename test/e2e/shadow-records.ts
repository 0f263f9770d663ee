import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { readJsonl, run } from '../helpers/e2e.js'
import { CLI, exited, startServeProcess } from '../helpers/serve.js'

// A mirror's shadow copies reach `serve` marked; serve logs them as shadows and replay skips them,
// so a replay of new's log does not count the mirrored traffic twice.
t.test('serve logs shadow requests as such, and replay skips them unless asked', async t => {
  const base = t.testdir({ root: { 'a.txt': 'hello\n' } })
  const log = join(base, 'access.jsonl')
  const { url, child, output } = await startServeProcess(t, join(base, 'root'), ['--access-log', log])
  for (const headers of [{}, { 'x-cutover-shadow': '1' }, {}]) {
    const r = await request(`${url}/a.txt`, { headers })
    t.equal(r.statusCode, 200)
    await r.body.arrayBuffer()
  }
  child.kill('SIGTERM')
  t.equal(await exited(child), 0, output())
  t.strictSame(
    readJsonl(log).map(r => r.shadow),
    [undefined, true, undefined],
    'only the marked request is logged as a shadow',
  )

  // Replay the log against a second serve of the same files, as old and new.
  const other = await startServeProcess(t, join(base, 'root'))
  const replay = (extra: string[]) => run(process.execPath, [CLI, 'replay', log, '--old', other.url, '--new', other.url, ...extra], { timeoutMs: 30_000 })
  const skipped = await replay([])
  t.equal(skipped.code, 0, skipped.stderr)
  t.match(skipped.stdout, /records 3 .* sent 2 /, 'two client requests sent')
  t.match(skipped.stdout, /shadow records skipped 1 /, 'the shadow one skipped, and said so')
  const all = await replay(['--include-shadows'])
  t.equal(all.code, 0, all.stderr)
  t.match(all.stdout, /records 3 .* sent 3 /, '--include-shadows sends it too')
  t.notMatch(all.stdout, /shadow records skipped/)
})
