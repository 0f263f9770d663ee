import t from 'tap'
import { colorLevel } from '../../src/cli/compare.js'
import { parseHeaderFlag } from '../../src/cli/options.js'

t.test('parseHeaderFlag reads Name: value into lower-case pairs', async t => {
  const ok: Array<[string, [string, string]]> = [
    ['Range: bytes=0-99', ['range', 'bytes=0-99']],
    ['If-None-Match:"abc"', ['if-none-match', '"abc"']],
    ['X-Empty:', ['x-empty', '']],
    ['User-Agent:   curl/8  ', ['user-agent', 'curl/8']],
    ['X-Colon: a:b', ['x-colon', 'a:b']],
  ]
  for (const [s, want] of ok) t.strictSame(parseHeaderFlag(s), [want], s)
  t.strictSame(parseHeaderFlag('B: 2', [['a', '1']]), [['a', '1'], ['b', '2']], 'appends to the list so far')
  for (const bad of ['Range', ': x', 'Bad Name: x', 'X(y): z', 'X: a\r\nY: b'])
    t.throws(() => parseHeaderFlag(bad), { message: `expected 'Name: value', got ${JSON.stringify(bad)}` }, `${JSON.stringify(bad)} is refused`)
})

t.test('colorLevel honours --color, the terminal and NO_COLOR', async t => {
  const table: Array<[Parameters<typeof colorLevel>, 0 | 1]> = [
    [['always', false, '1'], 1],
    [['never', true, undefined], 0],
    [['auto', true, undefined], 1],
    [['auto', true, ''], 1],
    [['auto', true, '1'], 0],
    [['auto', false, undefined], 0],
  ]
  for (const [args, want] of table) t.equal(colorLevel(...args), want, JSON.stringify(args))
})
