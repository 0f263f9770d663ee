import { connect } from 'node:net'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { run } from '../helpers/e2e.js'

// The README's first command (`npm run demo`, and `npm run demo -- --s3`): it must run to its report
// on embedded defaults and leave nothing running. The build is the suite's own (dist/ is current).

const repo = fileURLToPath(new URL('../../..', import.meta.url))
const DEMO = `${repo}/scripts/demo.mjs`

/** refused resolves true when nothing accepts a connection on `url`'s port any more. */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise(resolve => {
    const s = connect(Number(port), hostname)
    s.once('connect', () => {
      s.destroy()
      resolve(false)
    })
    s.once('error', () => resolve(true))
  })
}

const variants: Array<[name: string, args: string[], newServer: RegExp]> = [
  ['the demo', [], /new = cutover serve \(/],
  ['the demo from S3 (--s3)', ['--s3'], /new = cutover serve --manifest from S3 \(/],
]

for (const [name, args, newServer] of variants) {
  t.test(`${name}: old, new and mirror on the fixtures, a replay, a report, nothing left running`, async t => {
    t.ok(existsSync(DEMO), 'scripts/demo.mjs is there')
    // A bound, not a timing assertion: alone it takes about 4 s.
    const r = await run(process.execPath, [DEMO, ...args], { cwd: repo, timeoutMs: 120_000 })
    t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(-2000)})`)
    const out = r.stdout
    t.match(out, newServer, 'the new server is the one named')
    for (const section of ['== cutover replay ', '== the same log through cutover mirror', '== cutover report of the replay', '== replay exit status 1: divergences found']) {
      t.ok(out.includes(section), `section: ${section}`)
    }
    // The mirror compared what it proxied, and the report has its tables.
    const mirror = /requests (\d+) {2}compared (\d+) {2}divergent (\d+)/.exec(out)
    t.ok(mirror !== null && Number(mirror[1]) > 0 && mirror[1] === mirror[2], `the mirror compared every request (${mirror?.[0] ?? 'no summary'})`)
    t.match(out, /\d+ comparisons, \d+ divergent/, 'the report counts the comparisons')
    t.match(out, /divergences by kind/, 'and groups them by kind')
    // Every server the demo started is gone.
    // (Only the lines that name what it started: the hints at the end name example ports.)
    const started = out.split('\n').filter(l => l.startsWith('== old = ') || l.startsWith('== s3rver on '))
    const urls = started.flatMap(l => [...l.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map(m => m[0]))
    t.ok(urls.length >= 4, `the demo named its servers (${urls.join(', ')})`)
    for (const url of new Set(urls)) t.ok(await refused(url), `${url}: nothing listens any more`)
  })
}
