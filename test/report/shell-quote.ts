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
    // A right-to-left override would show "/invoice_exe.txt" for the path below; bash's $'\u202e' gives it back.
    ['/invoice_\u202etxt.exe', "$'/invoice_\\u202etxt.exe'"],
    ['\u2066a\u2069 \u200f\u061c', "$'\\u2066a\\u2069 \\u200f\\u061c'"],
  ]
  for (const [s, want] of cases) t.equal(shellQuote(s), want, JSON.stringify(s))
})

t.test('printable escapes control characters only', async t => {
  const cases: Array<[string, string]> = [
    ['/a b/☃.txt', '/a b/☃.txt'],
    ['/x\u001b[2J\r\n\u009b', '/x\\x1b[2J\\x0d\\x0a\\x9b'],
    ['/invoice_\u202etxt.exe', '/invoice_\\u202etxt.exe'],
    ['\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c', '\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c'],
    ['\u200b zero-width space is not a bidi control', '\u200b zero-width space is not a bidi control'],
  ]
  for (const [s, want] of cases) t.equal(printable(s), want, JSON.stringify(s))
})
