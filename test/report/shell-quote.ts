import t from 'tap'
import { printable, shellQuote } from '../../src/report/shell-quote.js'

t.test('shellQuote quotes only what needs it', async t => {
  const cases: Array<[string, string]> = [
    ['/plain/path-1.0_x.zip', '/plain/path-1.0_x.zip'],
    ['http://old:8080/', 'http://old:8080/'],
    ['', "''"],
    ['a b', "'a b'"],
    [`it's`, `'it'\\''s'`],
    ['$(rm -rf ~)', "'$(rm -rf ~)'"],
    ['a\nb', "$'a\\x0ab'"],
    ["\u001b[1m'\\", "$'\\x1b[1m\\'\\\\'"],
    ['snow ☃', "'snow ☃'"],
  ]
  for (const [s, want] of cases) t.equal(shellQuote(s), want, JSON.stringify(s))
})

t.test('printable escapes control characters only', async t => {
  t.equal(printable('/a b/☃.txt'), '/a b/☃.txt')
  t.equal(printable('/x\u001b[2J\r\n\u009b'), '/x\\x1b[2J\\x0d\\x0a\\x9b')
})
