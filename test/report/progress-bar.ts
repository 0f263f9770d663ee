import t from 'tap'
import { plural } from '../../src/report/plural.js'
import { progressBar } from '../../src/report/progress-bar.js'

t.test('progressBar is full only at the total, and never beyond', async t => {
  const cases: Array<[number, number, number, string]> = [
    [0, 10, 10, '░░░░░░░░░░ 0%'],
    [5, 10, 10, '█████░░░░░ 50%'],
    [999, 1000, 10, '█████████░ 99%'],
    [10, 10, 10, '██████████ 100%'],
    [12, 10, 10, '██████████ 100%'],
    [-1, 10, 4, '░░░░ 0%'],
    [0, 0, 4, '████ 100%'],
    [1, 3, 3, '█░░ 33%'],
  ]
  for (const [done, total, width, want] of cases) t.equal(progressBar(done, total, width), want, `${done}/${total}`)
  t.equal(progressBar(1, 2).length, 20 + ' 50%'.length, 'width defaults to 20')
  t.throws(() => progressBar(1, 2, 0), TypeError)
  t.throws(() => progressBar(1, 2, 1.5), TypeError)
})

t.test('plural agrees with the count', async t => {
  const cases: Array<[number, string, string | undefined, string]> = [
    [0, 'comparison', undefined, '0 comparisons'],
    [1, 'comparison', undefined, '1 comparison'],
    [2, 'comparison', undefined, '2 comparisons'],
    [1, 'bad line', undefined, '1 bad line'],
    [29, 'bad line', undefined, '29 bad lines'],
    [1, 'body byte', undefined, '1 body byte'],
    [2, 'entry', 'entries', '2 entries'],
    [1, 'entry', 'entries', '1 entry'],
  ]
  for (const [n, noun, many, want] of cases) t.equal(many === undefined ? plural(n, noun) : plural(n, noun, many), want, want)
})
