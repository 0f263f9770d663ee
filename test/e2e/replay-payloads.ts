import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { readJsonl, run, withTimeout } from '../helpers/e2e.js'
import { CLI, exited, REPO, requireTool, spawnListening, type T } from '../helpers/serve.js'

const FIXTURE = `${REPO}fixtures/manifests/serve.yaml`
const STORE = pathToFileURL(`${REPO}fixtures/store`).href

/** serveManifest runs `cutover serve --manifest` on a free loopback port, with the extra flags given. */
const serveManifest = (t: T, manifest: string, extra: string[] = []) =>
  spawnListening(
    t,
    process.execPath,
    [CLI, 'serve', '--manifest', manifest, '--store', STORE, '--listen', '127.0.0.1:0', '--settle-time', '0', ...extra],
    'cutover serve --manifest',
  )

/** curl fetches a URL and returns its status (the body is thrown away). */
async function curl(url: string, args: string[] = []): Promise<number> {
  const r = await run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}', ...args, url], { timeoutMs: 15_000 })
  if (r.code !== 0) throw new Error(`curl ${url}: ${r.code} ${r.stderr}`)
  return Number(r.stdout)
}

/** rowsOf reads the per-payload rows of a summary as `name | compared | divergent[ | kinds]` (columns are 2+ spaces apart). */
const rowsOf = (text: string, from: string): string[] => {
  const lines = text.split('\n')
  const start = lines.findIndex(l => l.trim() === from)
  if (start < 0) return []
  const out: string[] = []
  for (const l of lines.slice(start + 2)) {
    if (l.trim() === '' || !l.startsWith('  ')) break
    out.push(l.trim().split(/ {2,}/).join(' | '))
  }
  return out
}

/** first3 keeps a row's payload, compared and divergent. */
const first3 = (row: string): string => row.split(' | ').slice(0, 3).join(' | ')

t.test('replay of a serve --manifest access log: comparisons name their payload, the summary and report group by it, --payload filters', async t => {
  if (!requireTool(t, 'curl')) return
  const dir = t.testdir({})
  const accessLog = join(dir, 'access.jsonl')
  // new differs from old: another X-Served-By on every payload's answer, and the notes revealed.
  const changed = join(dir, 'changed.yaml')
  const fixture = readFileSync(FIXTURE, 'utf8')
  const text = fixture.replace('X-Served-By: cutover }', 'X-Served-By: cutover-new }').replace('reveal: 2999-01-01T00:00:00Z', 'reveal: 2000-01-01T00:00:00Z')
  t.not(text, fixture, 'the changed manifest differs')
  writeFileSync(changed, text)

  // The capture: real requests to a real serve --manifest, logged as it logs them.
  const capture = await serveManifest(t, FIXTURE, ['--access-log', accessLog])
  const statuses = [
    await curl(`${capture.url}/sdk/2.0/tools-linux.zip`),
    await curl(`${capture.url}/sdk/2.0/tools-linux.zip`, ['-r', '0-9']),
    await curl(`${capture.url}/sdk/2.0/tools-linux.zip`, ['-I']),
    await curl(`${capture.url}/notes.txt`),
    await curl(`${capture.url}/nowhere.txt`),
  ]
  t.strictSame(statuses, [200, 206, 200, 404, 404], 'what the clients got')
  capture.child.kill('SIGTERM')
  t.equal(await withTimeout(exited(capture.child), 10_000, 'serve to stop'), 0)
  t.strictSame(
    readJsonl(accessLog).map(r => [r.path, r.payload, r.decision]),
    [
      ['/sdk/2.0/tools-linux.zip', 'sdk-tools', 'served'],
      ['/sdk/2.0/tools-linux.zip', 'sdk-tools', 'served'],
      ['/sdk/2.0/tools-linux.zip', 'sdk-tools', 'served'],
      ['/notes.txt', 'notes', 'miss'],
      ['/nowhere.txt', undefined, 'miss'],
    ],
    'the access log names the payloads',
  )

  const old = await serveManifest(t, FIXTURE)
  const nw = await serveManifest(t, changed)
  const replay = (args: string[]) => run(process.execPath, [CLI, 'replay', accessLog, '--old', old.url, '--new', nw.url, ...args], { timeoutMs: 60_000 })

  // Old against itself: every payload compared, none divergent.
  const same = await run(process.execPath, [CLI, 'replay', accessLog, '--old', old.url, '--new', old.url], { timeoutMs: 60_000 })
  t.equal(same.code, 0, `old vs old: exit 0: ${same.stdout}${same.stderr}`)
  t.strictSame(rowsOf(same.stdout, 'by payload:'), ['sdk-tools | 3 | 0', 'notes | 1 | 0', '(no payload) | 1 | 0'], 'old vs old: per payload, compared and divergent')

  const out = join(dir, 'out.jsonl')
  const r = await replay(['--out', out])
  t.equal(r.code, 1, `old vs new: exit 1: ${r.stdout}${r.stderr}`)
  t.match(r.stdout, /records 5 {2}bad lines 0 {2}filtered 0 {2}sent 5/)
  const rows = rowsOf(r.stdout, 'by payload:')
  t.strictSame(
    rows.map(first3),
    ['sdk-tools | 3 | 3', 'notes | 1 | 1', '(no payload) | 1 | 0'],
    'old vs new: per payload, compared and divergent',
  )
  t.match(rows[0], /^sdk-tools \| 3 \| 3 \| header 3$/, 'the tools differ by a header only')
  t.match(rows[1], /^notes \| 1 \| 1 \| status 1\b/, 'the notes by their status first')
  const records = readJsonl(out)
  t.strictSame(
    records.map(c => [(c.request as { path: string }).path, c.payload]).sort(),
    [['/notes.txt', 'notes'], ['/sdk/2.0/tools-linux.zip', 'sdk-tools'], ['/sdk/2.0/tools-linux.zip', 'sdk-tools'], ['/sdk/2.0/tools-linux.zip', 'sdk-tools']],
    '--out: each divergent comparison names its payload',
  )

  // --payload keeps the records of the payloads named; one that keeps nothing is exit 3.
  const cases: Array<{ title: string; args: string[]; code: number; stdout?: RegExp; rows?: string[]; stderr?: RegExp }> = [
    { title: 'one payload', args: ['--payload', 'notes'], code: 1, stdout: /filtered 4 {2}sent 1/, rows: ['notes | 1 | 1'] },
    { title: 'a comma list', args: ['--payload', 'notes,sdk-tools'], code: 1, stdout: /filtered 1 {2}sent 4/, rows: ['sdk-tools | 3 | 3', 'notes | 1 | 1'] },
    { title: 'repeated', args: ['--payload', 'sdk-tools', '--payload', 'notes'], code: 1, stdout: /filtered 1 {2}sent 4/, rows: ['sdk-tools | 3 | 3', 'notes | 1 | 1'] },
    { title: 'a payload no record names', args: ['--payload', 'docs'], code: 3, stdout: /filtered 5 {2}sent 0/, stderr: /nothing was compared \(5 records, 0 bad lines, 5 filtered/ },
    { title: 'a name no payload can have', args: ['--payload', 'a b'], code: 2, stderr: /--payload.*"a b" is not a payload name/ },
  ]
  for (const c of cases) {
    const x = await replay(c.args)
    t.equal(x.code, c.code, `${c.title}: exit ${c.code}: ${x.stdout}${x.stderr}`)
    if (c.stdout) t.match(x.stdout, c.stdout, `${c.title}: summary`)
    if (c.rows) t.strictSame(rowsOf(x.stdout, 'by payload:').map(first3), c.rows, `${c.title}: per payload`)
    if (c.stderr) t.match(x.stderr, c.stderr, `${c.title}: message`)
  }

  const help = await run(process.execPath, [CLI, 'replay', '--help'], { timeoutMs: 15_000 })
  t.match(help.stdout, /--payload <names> +keep records answered by these manifest payloads/, 'replay --help documents --payload')
  t.match(help.stdout, /the summary groups the comparisons by payload/, 'and the grouping')

  // report of what replay wrote: the same per-payload counts, in the text and in the HTML.
  const html = join(dir, 'report.html')
  const rep = await run(process.execPath, [CLI, 'report', out, '--html', html, '--color', 'never'], { timeoutMs: 60_000 })
  t.equal(rep.code, 0, `report: exit 0: ${rep.stderr}`)
  const reportRows = rowsOf(rep.stdout, 'by payload')
  t.strictSame(reportRows.map(first3), ['sdk-tools | 3 | 3', 'notes | 1 | 1'], 'report: per payload (--out holds the divergent ones only)')
  t.match(reportRows[0], /^sdk-tools \| 3 \| 3 \| header 3$/)
  const page = readFileSync(html, 'utf8')
  const cells = [...page.matchAll(/<tr data-testid="payload-row" data-payload="([^"]*)">.*?data-testid="payload-compared">([^<]*)<.*?data-testid="payload-divergent">([^<]*)</g)].map(m => m.slice(1))
  t.strictSame(cells, [['sdk-tools', '3', '3'], ['notes', '1', '1']], 'report --html: per payload')
  const reportHelp = await run(process.execPath, [CLI, 'report', '--help'], { timeoutMs: 15_000 })
  t.match(reportHelp.stdout, /also group them by\s+payload/, 'report --help documents the grouping')
})
