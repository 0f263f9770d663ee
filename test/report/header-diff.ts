import { Chalk } from 'chalk'
import t from 'tap'
import { parseRules } from '../../src/audit/rules.js'
import { headerDiff, type HeaderList } from '../../src/report/header-diff.js'

const plain = new Chalk({ level: 0 })

interface Row {
  name: string
  control: HeaderList
  candidate: HeaderList
  rules?: string
  want: string
}

const table: Row[] = [
  {
    name: 'equal blocks give an empty string',
    control: [['Content-Length', '5'], ['ETag', '"x"']],
    candidate: [['etag', '"x"'], ['content-length', '5']],
    want: '',
  },
  {
    name: 'Date and hop-by-hop headers are left out',
    control: [['Date', 'Mon, 01 Jan 2024 00:00:00 GMT'], ['Connection', 'keep-alive'], ['Keep-Alive', 'timeout=5']],
    candidate: [['date', 'Tue, 02 Jan 2024 00:00:00 GMT'], ['transfer-encoding', 'chunked']],
    want: '',
  },
  {
    name: 'headers named by either side\'s Connection header are left out',
    control: [['Connection', 'X-Trace, close'], ['x-trace', 'a'], ['x-b', '1']],
    candidate: [['x-trace', 'b'], ['x-b', '1']],
    want: '',
  },
  {
    name: 'a changed value is a - line and a + line, the rest is context, names sorted',
    control: [['Server', 'nginx'], ['Accept-Ranges', 'bytes'], ['Content-Length', '100']],
    candidate: [['content-length', '100'], ['server', 'cutover'], ['accept-ranges', 'bytes']],
    want: [
      '--- old',
      '+++ new',
      '@@ -1,3 +1,3 @@',
      ' accept-ranges: bytes',
      ' content-length: 100',
      '-server: nginx',
      '+server: cutover',
      '',
    ].join('\n'),
  },
  {
    name: 'a header on one side only',
    control: [['content-type', 'text/plain']],
    candidate: [['content-type', 'text/plain'], ['x-extra', '1']],
    want: ['--- old', '+++ new', '@@ -1,1 +1,2 @@', ' content-type: text/plain', '+x-extra: 1', ''].join('\n'),
  },
  {
    name: 'repeated headers keep their order',
    control: [['set-cookie', 'b=2'], ['set-cookie', 'a=1']],
    candidate: [['set-cookie', 'b=2']],
    want: ['--- old', '+++ new', '@@ -1,2 +1,1 @@', ' set-cookie: b=2', '-set-cookie: a=1', ''].join('\n'),
  },
  {
    name: 'headers relaxed by rules are kept and marked with the rule',
    control: [['server', 'nginx'], ['etag', '"a"'], ['last-modified', 'x'], ['content-type', 'text/plain']],
    candidate: [['server', 'cutover'], ['etag', '"b"'], ['last-modified', 'y'], ['content-type', 'text/plain; charset=utf-8']],
    rules: 'ignoreHeaders: [Server]\netag: consistent\ndateTolerance: { last-modified: 2 }\ncontentTypeParams: ignore',
    want: [
      '--- old',
      '+++ new',
      '@@ -1,4 +1,4 @@',
      '-content-type: text/plain  [media type only]',
      '-etag: "a"  [etag: consistent]',
      '-last-modified: x  [within 2s]',
      '-server: nginx  [ignored by rule]',
      '+content-type: text/plain; charset=utf-8  [media type only]',
      '+etag: "b"  [etag: consistent]',
      '+last-modified: y  [within 2s]',
      '+server: cutover  [ignored by rule]',
      '',
    ].join('\n'),
  },
  {
    name: 'an ETag ignored by rule is marked',
    control: [['etag', '"a"']],
    candidate: [['etag', '"b"']],
    rules: 'etag: ignore',
    want: ['--- old', '+++ new', '@@ -1,1 +1,1 @@', '-etag: "a"  [etag: ignore]', '+etag: "b"  [etag: ignore]', ''].join('\n'),
  },
  {
    name: 'one empty side',
    control: [],
    candidate: [['x-a', '1']],
    want: ['--- old', '+++ new', '@@ -0,0 +1,1 @@', '+x-a: 1', ''].join('\n'),
  },
]

t.test('headerDiff renders a unified diff of two header blocks', async t => {
  for (const row of table) {
    const rules = row.rules === undefined ? undefined : parseRules(row.rules, 'test')
    t.equal(headerDiff(row.control, row.candidate, { chalk: plain, rules }), row.want, row.name)
  }
})

t.test('headerDiff colours old-only lines red and new-only lines green when asked', async t => {
  const chalk = new Chalk({ level: 1 })
  const out = headerDiff([['server', 'nginx']], [['server', 'cutover']], { chalk })
  t.ok(out.includes(chalk.red('-server: nginx')), 'the old line is red')
  t.ok(out.includes(chalk.green('+server: cutover')), 'the new line is green')
  t.not(out, headerDiff([['server', 'nginx']], [['server', 'cutover']], { chalk: plain }), 'differs from plain')
})
