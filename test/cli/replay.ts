import { InvalidArgumentError } from 'commander'
import t from 'tap'
import { collectPayloads } from '../../src/cli/replay.js'

t.test('collectPayloads adds the names of a --payload value (a name or a comma list) to the previous ones', async t => {
  const cases: Array<[value: string, previous: string[], want: string[]]> = [
    ['sdk-tools', [], ['sdk-tools']],
    ['a,b', [], ['a', 'b']],
    [' a , b ', [], ['a', 'b']],
    ['c', ['a', 'b'], ['a', 'b', 'c']],
    ['v1.2_x-Y', [], ['v1.2_x-Y']],
    ['x'.repeat(128), [], ['x'.repeat(128)]],
  ]
  for (const [value, previous, want] of cases) t.strictSame(collectPayloads(value, previous), want, value)
})

t.test('collectPayloads refuses a name no payload can have', async t => {
  for (const value of ['', 'a,', ',a', 'a b', 'a/b', '(no payload)', 'x'.repeat(129), 'é']) {
    t.throws(() => collectPayloads(value, []), InvalidArgumentError, JSON.stringify(value))
  }
})
