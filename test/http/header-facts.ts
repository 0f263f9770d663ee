import t from 'tap'
import { connectionTokens, HOP_BY_HOP, rawHeaderPairs } from '../../src/http/header-facts.js'

t.test('connectionTokens lists the names a Connection field names, lower-case', async t => {
  const table: Array<[string | undefined, string[]]> = [
    [undefined, []],
    ['', []],
    ['close', ['close']],
    ['Keep-Alive, X-Trace', ['keep-alive', 'x-trace']],
    [' , upgrade ,, ', ['upgrade']],
  ]
  for (const [value, want] of table) t.strictSame(connectionTokens(value), want, JSON.stringify(value))
})

t.test('rawHeaderPairs pairs a flat raw list in wire order, names lower-cased or as sent', async t => {
  const table: Array<[string[], boolean, Array<[string, string]>]> = [
    [[], false, []],
    [['Content-Type', 'text/plain'], false, [['content-type', 'text/plain']]],
    [['Set-Cookie', 'a=1', 'X-A', 'v', 'set-cookie', 'b=2'], false, [['set-cookie', 'a=1'], ['x-a', 'v'], ['set-cookie', 'b=2']]],
    [['Dangling'], false, []],
    [['X-Sum', '42', 'x-sum', '43'], true, [['X-Sum', '42'], ['x-sum', '43']]],
    [['X-Sum', '42', 'Dangling'], true, [['X-Sum', '42']]],
  ]
  for (const [raw, keepCase, want] of table) t.strictSame(rawHeaderPairs(raw, { keepCase }), want, `${JSON.stringify(raw)} keepCase ${keepCase}`)
})

t.test('HOP_BY_HOP holds the connection fields of RFC 9110 §7.6.1 and no end-to-end one', async t => {
  for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection'])
    t.ok(HOP_BY_HOP.has(name), `${name} is hop-by-hop`)
  for (const name of ['content-length', 'etag', 'date', 'content-type']) t.notOk(HOP_BY_HOP.has(name), `${name} is end-to-end`)
})
