import { createHash } from 'node:crypto'
import t from 'tap'
import { escapeHtml, markup, raw } from '../../src/report/markup.js'
import { renderHtml, type ReportMeta } from '../../src/report/html-report.js'
import { summarize } from '../../src/report/summary.js'
import { comparison, fixtureComparisons, XSS_HEADER } from '../helpers/comparisons.js'

const META: ReportMeta = { files: ['d.jsonl'], generatedAt: '2024-05-02T00:00:00.000Z' }

t.test('html escapes every interpolated value unless it is Html', async t => {
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  const evil = '<script>alert(1)</script>'
  t.equal(
    markup`<p title="${evil}">${evil}</p>`.value,
    `<p title="&lt;script&gt;alert(1)&lt;/script&gt;">&lt;script&gt;alert(1)&lt;/script&gt;</p>`,
  )
  t.equal(markup`<b>${raw('<i>ok</i>')}</b>`.value, '<b><i>ok</i></b>')
  t.equal(markup`${['<', markup`<br>`, 3, undefined, null, false]}`.value, '&lt;<br>3')
  t.equal(String(markup`x`), 'x')
})

t.test('renderHtml escapes paths, header values, rules and bad lines from the data', async t => {
  const evilPath = `/<script>alert(1)</script>"'.txt`
  const cs = [
    comparison({
      path: evilPath,
      divergences: [{ kind: 'header', name: 'etag', control: '"a"', candidate: XSS_HEADER }],
    }),
    comparison({
      ignored: [{ divergence: { kind: 'status', control: 1, candidate: 2 }, reason: '<b>rule</b>' }],
    }),
    comparison({
      divergences: [{ kind: 'error', side: 'candidate', code: 'E', message: '</pre><svg onload=alert(1)>' }],
    }),
  ]
  const page = renderHtml(await summarize(cs), {
    ...META,
    files: ['<i>f</i>.jsonl'],
    badLines: { count: 1, first: ['<i>f</i>.jsonl:3: not JSON (<img>)'] },
  })
  t.notMatch(page, /<script>alert/, 'no script element from the data')
  t.notMatch(page, /<img/, 'no img element from the data')
  t.notMatch(page, /<svg onload/)
  t.notMatch(page, /<b>rule|<i>f/)
  t.match(page, '/&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;.txt')
  t.match(page, '&lt;img src=x onerror=alert(1)&gt;')
  t.equal(page.match(/<script\b/g)?.length, 1, 'exactly one script element: the report’s own')
})

t.test('renderHtml loads nothing and allows only its own style and script', async t => {
  const page = renderHtml(await summarize(fixtureComparisons(50)), META)
  t.notMatch(
    page,
    /<[^>]*\s(src|href|srcset|action|poster|data|background)\s*=/i,
    'no attribute that fetches',
  )
  t.notMatch(page, /@import|url\(/, 'no CSS fetch')
  const csp = (/<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)?.[1] ?? '').replace(
    /&#39;/g,
    "'",
  )
  t.match(csp, "default-src 'none'")
  const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!
  const script = /<script>([\s\S]*?)<\/script>/.exec(page)![1]!
  const hash = (s: string): string => createHash('sha256').update(s).digest('base64')
  t.match(csp, `style-src 'sha256-${hash(style)}'`, 'the style block is allowed by its hash')
  t.match(csp, `script-src 'sha256-${hash(script)}'`, 'the script is allowed by its hash')
  t.notMatch(page, /\sstyle=/, 'no style attribute (the policy would block it)')
})

t.test('renderHtml shows the counts with test ids and draws the three charts', async t => {
  const page = renderHtml(await summarize(fixtureComparisons(50)), {
    ...META,
    badLines: { count: 2, first: ['a', 'b'] },
  })
  const byId = (id: string): string | undefined =>
    new RegExp(`data-testid="${id}"[^>]*>([^<]*)<`).exec(page)?.[1]
  const want: Array<[string, string]> = [
    ['total-comparisons', '50'],
    ['total-divergent', '40'],
    ['total-divergences', '45'],
    ['total-ignored', '5'],
    ['total-noise', '5'],
    ['total-bad-lines', '2'],
    ['kind-header-divergences', '15'],
    ['kind-header-requests', '10'],
    ['kind-status-divergences', '5'],
    ['kind-timeout-requests', '5'],
    ['ignored-count', '5'],
    ['noise-count', '5'],
  ]
  for (const [id, v] of want) t.equal(byId(id), v, id)
  for (const id of ['chart-timeline', 'chart-paths', 'chart-latency'])
    t.match(page, `<svg data-testid="${id}"`)
  t.equal(page.match(/data-testid="example"/g)?.length, 10, 'the 10 examples of the 7 kinds that differ from each other')
  t.equal(page.match(/data-testid="path-row"/g)?.length, 5)
  t.match(
    page,
    `cutover compare &#39;/sdk/v1.zip&#39; --old &quot;$OLD&quot; --new &quot;$NEW&quot; -H &#39;Range: bytes=0-99&#39;`,
  )
  t.match(page, '2024-05-01 10:00:00 UTC to 2024-05-01 10:09:48 UTC')
})

t.test('renderHtml of an empty log says there is nothing to chart', async t => {
  const page = renderHtml(await summarize([]), { ...META, title: 'empty <log>', oldUrl: 'http://old' })
  t.match(page, '<title>empty &lt;log&gt;</title>')
  t.match(page, 'No divergences to chart.')
  t.match(page, 'No divergent paths.')
  t.match(page, 'No durations recorded.')
  t.match(page, 'old <code>http://old</code> · new <code>$NEW</code>')
  t.notMatch(page, /id="bad-lines"/)
})

t.test('renderHtml widens the timeline to at most 120 bars over long spans', async t => {
  const cs = Array.from({ length: 600 }, (_, i) =>
    comparison({
      time: new Date(Date.parse('2024-05-01T00:00:00Z') + i * 5 * 60_000).toISOString(),
      divergences: [{ kind: 'status', control: 200, candidate: 500 }],
    }),
  )
  const page = renderHtml(await summarize(cs), META)
  const bars = page.match(/<g class="bar"/g)?.length ?? 0
  t.ok(bars > 0 && bars <= 120, `${bars} bars`)
  t.match(page, /Divergences per \d+ min/)
  t.match(page, '>05-01 00:00<', 'labels carry the date over a span of days')
})

t.test('renderHtml shows the comparisons per payload only when a record names one', async t => {
  const status = { kind: 'status', control: 200, candidate: 404 } as const
  const header = { kind: 'header', name: 'etag', control: '"a"', candidate: '"b"' } as const
  const cases: Array<{ title: string; input: ReturnType<typeof comparison>[]; rows: Array<[payload: string, compared: string, divergent: string, kinds: string]> }> = [
    { title: 'no payload anywhere: no section', input: [comparison({ divergences: [status] })], rows: [] },
    {
      title: 'payloads, most divergent first, and the records of none last',
      input: [
        comparison({ payload: 'docs', divergences: [header] }),
        comparison({ payload: 'sdk-tools', divergences: [status, header] }),
        comparison({ payload: 'sdk-tools', divergences: [status] }),
        comparison({ divergences: [header] }),
      ],
      rows: [
        ['sdk-tools', '2', '2', 'status 2 header 1'],
        ['docs', '1', '1', 'header 1'],
        ['', '1', '1', 'header 1'],
      ],
    },
    {
      title: 'a payload name is text',
      input: [comparison({ payload: '<script>x</script>', divergences: [status] })],
      rows: [['&lt;script&gt;x&lt;/script&gt;', '1', '1', 'status 1']],
    },
  ]
  for (const c of cases) {
    const page = renderHtml(await summarize(c.input), META)
    const rows = [...page.matchAll(/<tr data-testid="payload-row" data-payload="([^"]*)">(.*?)<\/tr>/g)].map(([, payload, cells]) => {
      const cell = (id: string): string => new RegExp(`data-testid="${id}">(.*?)</td>`).exec(cells!)?.[1] ?? ''
      const text = (html: string): string => html.replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim()
      return [payload!, text(cell('payload-compared')), text(cell('payload-divergent')), text(cell('payload-kinds'))] as [string, string, string, string]
    })
    t.strictSame(rows, c.rows, `${c.title}: rows`)
    t.equal(page.includes('data-testid="payloads-table"'), c.rows.length > 0, `${c.title}: the section`)
    t.notMatch(page, /<script>x/, `${c.title}: nothing from the data is markup`)
  }
  const page = renderHtml(await summarize(cases[1]!.input), META)
  t.match(page, /<em>\(no payload\)<\/em>/, 'the records of none are named so')
})
