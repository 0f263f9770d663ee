import t from 'tap'
import { formatLogLine, logLines } from '../../src/report/log-line.js'

t.test('formatLogLine: level, message and the fields on one printable line', async t => {
  const cases: Array<[string, string, string]> = [
    [
      'a warning with an error and fields, pino fields left out',
      '{"level":40,"time":1733370000000,"name":"cutover","msg":"primary failed","err":{"type":"Error","message":"connect ECONNREFUSED 127.0.0.1:1","stack":"Error: x\\n    at y"},"path":"/f","primary":"old"}\n',
      'cutover mirror: warn: primary failed (err="connect ECONNREFUSED 127.0.0.1:1", path=/f, primary=old)',
    ],
    ['every level by name', '{"level":50,"msg":"shadow comparison failed"}', 'cutover mirror: error: shadow comparison failed'],
    ['an unknown level by number', '{"level":35,"msg":"m"}', 'cutover mirror: level 35: m'],
    ['no message, numbers and objects as JSON', '{"level":30,"n":3,"ok":true,"o":{"a":[1]},"nil":null}', 'cutover mirror: info:  (n=3, ok=true, o={"a":[1]}, nil=null)'],
    ['a string with spaces or nothing is quoted', '{"level":30,"msg":"m","a":"x y","b":""}', 'cutover mirror: info: m (a="x y", b="")'],
    [
      'control characters from a client or a server are escaped',
      '{"level":40,"msg":"m\\u001b[2J","path":"/x\\u001b]0;owned\\u0007\\u202e"}',
      'cutover mirror: warn: m\\x1b[2J (path=/x\\x1b]0;owned\\x07\\u202e)',
    ],
    ['not JSON: as it is, made printable', 'plain \x1b[31mtext\n', 'cutover mirror: plain \\x1b[31mtext'],
    ['JSON but not an object', '[1,2]', 'cutover mirror: [1,2]'],
  ]
  for (const [title, line, want] of cases) t.equal(formatLogLine(line, 'cutover mirror'), want, title)
})

t.test('logLines prints one line per JSON line, blank ones skipped', async t => {
  const printed: string[] = []
  const s = logLines(l => printed.push(l), 'x')
  s.write('{"level":40,"msg":"a"}\n')
  s.write('{"level":40,"msg":"b"}\n\n{"level":50,"msg":"c"}\n')
  t.strictSame(printed, ['x: warn: a', 'x: warn: b', 'x: error: c'])
})
