import t from 'tap'
import { Chalk } from 'chalk'
import { etagFormatOf, headerFix } from '../../src/report/header-fix.js'
import { fileEtag } from '../../src/payload/file-etag.js'
import { renderSummary, summarize } from '../../src/report/summary.js'
import type { Comparison } from '../../src/audit/divergence.js'
import { renderHtml } from '../../src/report/html-report.js'

t.test('etagFormatOf recognises the tags each --etag format writes', async t => {
  // A file of 1 MiB modified at 2026-12-05T01:02:03.456789Z, and one of 17 bytes in 1990.
  const stamps = [
    { size: 1024 * 1024, mtimeNs: 1_796_432_523_456_789_000n },
    { size: 17, mtimeNs: 631_152_000_000_000_000n },
  ]
  const NOW = 2_000_000_000_000 // long after both: no tag is weak for being recent
  for (const st of stamps) {
    for (const format of ['nginx', 'apache', 'cutover'] as const) {
      const { etag } = fileEtag(format, st, NOW, false)
      t.equal(etagFormatOf(etag!), format, `${format}: ${etag}`)
      t.equal(etagFormatOf(`W/${etag!}`), format, `${format}, weak: W/${etag}`)
    }
  }
  const others: string[] = ['"abc"', '"5f3e2d1c"', 'W/"1-2-3"', '"xyz-123"', '"12345678901234-12345678901234"', '*', '']
  for (const tag of others) t.equal(etagFormatOf(tag), undefined, `${JSON.stringify(tag)} is none of them`)
})

t.test('headerFix names the flag or rule that removes a header divergence', async t => {
  const nginxTag = fileEtag('nginx', { size: 1238, mtimeNs: 1_796_432_523_000_000_000n }, 2e12, false).etag!
  const apacheTag = fileEtag('apache', { size: 1238, mtimeNs: 1_796_432_523_000_000_000n }, 2e12, false).etag!
  const cutoverTag = fileEtag('cutover', { size: 1238, mtimeNs: 1_796_432_523_000_000_000n }, 2e12, false).etag!
  const cases: Array<[string, string, { control?: string; candidate?: string }, string | undefined]> = [
    ['old is nginx', 'etag', { control: nginxTag, candidate: cutoverTag }, "serve --etag nginx (old's tags are in nginx's format: clients' validators stay valid)"],
    ['old is Apache', 'etag', { control: apacheTag, candidate: cutoverTag }, "serve --etag apache (old's tags are in apache's format: clients' validators stay valid)"],
    ['old sends none', 'etag', { candidate: cutoverTag }, 'serve --etag none (old sends no ETag), or the rule `etag: ignore`'],
    ['an unknown format', 'etag', { control: '"v1"', candidate: cutoverTag }, 'the rule `etag: consistent` (one tag pair per path), or `etag: ignore`'],
    [
      'another type',
      'content-type',
      { control: 'application/octet-stream', candidate: 'application/x-iso9660-image' },
      "serve --mime-types <old's mime.types> --default-type <old's default> (type files as old does), or the rule `ignoreHeaders: [content-type]`",
    ],
    ['only the charset differs', 'content-type', { control: 'text/plain', candidate: 'Text/Plain; charset=utf-8' }, 'the rule `contentTypeParams: ignore` (only the parameters differ)'],
    [
      'dates 2.5 s apart',
      'last-modified',
      { control: 'Sat, 05 Dec 2026 01:02:03 GMT', candidate: 'Sat, 05 Dec 2026 01:02:05 GMT' },
      'the rule `dateTolerance: { last-modified: 2 }`, or the rule `ignoreHeaders: [last-modified]`',
    ],
    ['a date that does not parse', 'expires', { control: '0', candidate: 'Sat, 05 Dec 2026 01:02:05 GMT' }, 'the rule `ignoreHeaders: [expires]`'],
    ['a header only old sends', 'server', { control: 'nginx/1.22.1' }, 'the rule `ignoreHeaders: [server]`'],
    ['the body length', 'content-length', { control: '10', candidate: '11' }, undefined],
    ['a range', 'content-range', { control: 'bytes 0-1/10', candidate: 'bytes 0-1/11' }, undefined],
  ]
  for (const [name, header, values, want] of cases) t.equal(headerFix(header, values), want, name)
})

t.test('the summary and its rendering carry the fix', async t => {
  const c: Comparison = {
    time: '2026-12-05T01:02:03.000Z',
    request: { id: '1', method: 'GET', path: '/a.iso', headers: {} },
    status: { control: 200, candidate: 200 },
    durationsMs: {},
    divergences: [
      { kind: 'header', name: 'etag', control: '"5f3e2d1c-4d2"', candidate: '"66a2c3b4d5e6f-4d2"' },
      { kind: 'header', name: 'content-length', control: '1', candidate: '2' },
    ],
    ignored: [],
    noise: [],
    bytesCompared: 0,
  }
  const s = await summarize([c])
  t.strictSame(
    s.headers.map(h => [h.name, h.fix]).sort(),
    [
      ['content-length', undefined],
      ['etag', "serve --etag nginx (old's tags are in nginx's format: clients' validators stay valid)"],
    ],
  )
  const text = renderSummary(s, { chalk: new Chalk({ level: 0 }) })
  t.match(text, /etag .*\n\s+fix: serve --etag nginx/, 'the terminal summary says it under the header')
  t.equal(text.split('\n').filter(l => l.includes('fix:')).length, 1, 'and says nothing for content-length')
  const page = renderHtml(s, { files: ['d.jsonl'], generatedAt: '2026-12-05T00:00:00.000Z' })
  const cells = [...page.matchAll(/<td class="fix" data-testid="header-fix">([^<]*)<\/td>/g)].map(m => m[1]).sort()
  t.strictSame(cells, ['', "serve --etag nginx (old&#39;s tags are in nginx&#39;s format: clients&#39; validators stay valid)"], 'the HTML report has a fix column')
})
