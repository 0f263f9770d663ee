// `cutover report` end to end: a JSONL log of 50 comparisons of every kind (and bad lines) through
// the built CLI, then its HTML report opened in headless Chromium: the counts shown, the charts
// drawn, no request made, nothing from the data executed, and a screenshot kept in .tap/.
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { chromium, type Browser } from 'playwright-core'
import { CLI, REPO, requireTool } from '../helpers/serve.js'
import { run, type RunResult } from '../helpers/e2e.js'
import { expectedKinds, fixtureComparisons, FIXTURE_PATHS, XSS_HEADER } from '../helpers/comparisons.js'

/** SCREENSHOT is the artifact this test keeps: the rendered report, whole page. */
const SCREENSHOT = join(REPO, '.tap', 'report-screenshot.png')

const cs = fixtureComparisons(50)
const kinds = expectedKinds(cs)
const BAD = [
  'not json',
  '{"request":{"method":"GET"}}',
  JSON.stringify({ ...cs[0], divergences: [{ kind: 'weird' }] }),
]
const dir = t.testdir({
  // Bad lines at 11, 32 and 53: between comparisons and at the end.
  'divergences.jsonl': [
    ...cs.slice(0, 10).map(c => JSON.stringify(c)),
    BAD[0],
    ...cs.slice(10, 30).map(c => JSON.stringify(c)),
    BAD[1],
    ...cs.slice(30).map(c => JSON.stringify(c)),
    BAD[2],
    '',
  ].join('\n'),
})
const LOG = join(dir, 'divergences.jsonl')
const OUT = join(dir, 'report.html')

function report(...args: string[]): Promise<RunResult> {
  const env = { ...process.env }
  delete env.NO_COLOR
  delete env.FORCE_COLOR
  return run(process.execPath, [CLI, 'report', ...args], { timeoutMs: 30_000, env })
}

const printed = await report(
  LOG,
  '--html',
  OUT,
  '--old',
  'http://old.internal',
  '--new',
  'http://new.internal:8080',
)

t.test('report prints the summary and writes the HTML file', async t => {
  const r = printed
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, '50 comparisons, 40 divergent (80.0%), 45 divergences; 5 ignored by rules, 5 noise\n')
  t.match(r.stdout, /\n {2}header {16}15 {8}10\n/)
  t.match(r.stdout, `\n  15  /pkgs/index.json?v=2 `)
  t.match(
    r.stdout,
    `$ cutover compare '/a b'\\''$(x).txt' --old http://old.internal --new http://new.internal:8080 -H 'Range: bytes=3-102'\n`,
  )
  t.match(r.stdout, `input lines that are not comparisons (3)\n  ${LOG}:11: not JSON`)
  t.match(r.stdout, `${LOG}:32: request.method or request.path is missing`)
  t.match(r.stdout, `${LOG}:53: divergences[0].kind "weird" is not a divergence kind`)
  t.match(r.stdout, `HTML report: ${OUT}\n`)
  t.notMatch(r.stdout, /\u001b\[/, 'no colour when stdout is not a terminal')
  t.match(readFileSync(OUT, 'utf8'), /^<!doctype html>/)
})

t.test('report exits 2 naming a missing file, and on a bad flag', async t => {
  const missing = await report(LOG, join(dir, 'nope.jsonl'))
  t.equal(missing.code, 2)
  t.match(missing.stderr, `${join(dir, 'nope.jsonl')}: does not exist`)
  t.equal(missing.stdout, '', 'nothing printed before the error')
  const top = await report(LOG, '--top', '0')
  t.equal(top.code, 2)
  t.match(top.stderr, 'expected an integer >= 1')
  const none = await report()
  t.equal(none.code, 2)
})

t.test('the HTML report renders in headless Chromium with the right counts and no request', async t => {
  if (!requireTool(t, 'chromium')) return
  let browser: Browser | undefined
  t.teardown(() => browser?.close())
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  const url = pathToFileURL(OUT).href
  const requests: string[] = []
  const problems: string[] = []
  page.on('request', r => requests.push(r.url()))
  page.on('dialog', d => {
    problems.push(`dialog: ${d.message()}`)
    void d.dismiss()
  })
  page.on('pageerror', e => problems.push(`page error: ${e.message}`))
  page.on('console', m => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  await page.goto(url, { waitUntil: 'load' })

  const text = async (id: string): Promise<string> => (await page.getByTestId(id).textContent())?.trim() ?? ''
  t.equal(await text('total-comparisons'), '50')
  t.equal(await text('total-divergent'), '40')
  t.equal(await text('total-divergences'), '45')
  t.equal(await text('total-ignored'), '5')
  t.equal(await text('total-noise'), '5')
  t.equal(await text('total-bad-lines'), '3')
  for (const [k, v] of Object.entries(kinds)) {
    t.equal(await text(`kind-${k}-divergences`), String(v.divergences), `${k} divergences`)
    t.equal(await text(`kind-${k}-requests`), String(v.comparisons), `${k} requests`)
  }

  for (const id of ['chart-timeline', 'chart-paths', 'chart-latency']) {
    const chart = page.getByTestId(id)
    const box = await chart.boundingBox()
    t.ok(box && box.width > 500 && box.height > 100, `${id} is drawn (${box?.width}×${box?.height})`)
    t.ok((await chart.locator('rect').count()) > 0, `${id} has bars`)
  }
  t.equal(await page.locator('[data-testid="chart-timeline"] g.bar').count(), 10, 'one bar per minute')
  t.equal(await page.getByTestId('path-row').count(), FIXTURE_PATHS.length)
  t.equal(await page.getByTestId('example').count(), 10, 'the examples that differ from each other')

  // The data shows as text; none of it became markup or ran.
  t.equal(await page.locator('script').count(), 1, 'only the report’s own script')
  t.ok(
    (await page.getByText('/<script>alert(1)</script>.txt').count()) > 0,
    'the <script> path is shown as text',
  )
  t.ok(
    (await page.getByText(XSS_HEADER, { exact: false }).count()) > 0,
    'the <img> header value is shown as text',
  )
  t.equal(await page.locator('main img').count(), 0)

  // The Content-Security-Policy lets the report's own style and script run (by hash).
  t.equal(await page.locator('button.copy').count(), 10, 'the script added a copy button to each command')
  t.equal(
    await page
      .locator('.card')
      .first()
      // Runs in the page (no DOM types here): getComputedStyle is the window's.
      .evaluate(e => (globalThis as any).getComputedStyle(e).borderTopLeftRadius),
    '8px',
    'the style applies',
  )

  t.strictSame(requests, [url], 'the only request is the page itself')
  t.strictSame(problems, [], 'no dialog, page error or console error')

  mkdirSync(join(REPO, '.tap'), { recursive: true })
  await page.screenshot({ path: SCREENSHOT, fullPage: true })
  t.comment(`screenshot: ${SCREENSHOT}`)
  t.ok(readFileSync(SCREENSHOT).subarray(1, 4).toString() === 'PNG', 'the screenshot is kept')
})
