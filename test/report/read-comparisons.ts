import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import type { Comparison } from '../../src/audit/divergence.js'
import { newReadStats, parseComparison, readComparisons } from '../../src/report/read-comparisons.js'
import { comparison, fixtureComparisons } from '../helpers/comparisons.js'

const good = JSON.stringify(comparison({ divergences: [{ kind: 'status', control: 200, candidate: 500 }] }))

t.test('parseComparison says why a line is not a Comparison', async t => {
  const base = JSON.parse(good) as Record<string, unknown>
  const with_ = (o: Record<string, unknown>): string => JSON.stringify({ ...base, ...o })
  const cases: Array<[string, string]> = [
    ['not json', 'not JSON'],
    ['[1,2]', 'not a JSON object'],
    ['{"hello":1}', 'request is missing'],
    [with_({ request: { method: 'GET', headers: {} } }), 'request.method or request.path is missing'],
    [
      with_({ request: { method: 'GET', path: '/', headers: { a: 1 } } }),
      'request.headers is missing or malformed',
    ],
    [with_({ time: 'yesterday' }), 'time is not an ISO 8601 date'],
    [with_({ status: { control: '200' } }), 'status is missing or malformed'],
    [with_({ durationsMs: null }), 'durationsMs is missing or malformed'],
    [with_({ bytesCompared: '1' }), 'bytesCompared is missing'],
    [with_({ noise: {} }), 'noise is not an array'],
    [with_({ divergences: [{ kind: 'weird' }] }), 'divergences[0].kind "weird" is not a divergence kind'],
    [
      with_({ divergences: [{ kind: 'toString' }] }),
      'divergences[0].kind "toString" is not a divergence kind',
    ],
    [
      with_({ divergences: [{ kind: 'status', control: 200 }] }),
      'divergences[0].candidate is missing or malformed',
    ],
    [
      with_({ divergences: [{ kind: 'error', side: 'left', code: 'E', message: 'm' }] }),
      'divergences[0].side is missing',
    ],
    [
      with_({ ignored: [{ divergence: { kind: 'status', control: 1, candidate: 2 } }] }),
      'ignored[0].reason is missing',
    ],
    [with_({ ignored: [{ reason: 'r', divergence: 3 }] }), 'ignored[0].divergence is not an object'],
    [with_({ noise: [{ kind: 'timeout', side: 'candidate' }] }), 'noise[0].afterMs is missing or malformed'],
    [with_({ payload: 7 }), 'payload is not a string'],
    [with_({ payload: null }), 'payload is not a string'],
  ]
  for (const [line, why] of cases) {
    const r = parseComparison(line)
    t.equal(r.ok, false, line)
    if (!r.ok) t.match(r.reason, why)
  }
  const ok = parseComparison(good)
  t.ok(ok.ok)
  if (ok.ok) t.equal(ok.value.divergences.length, 1)
  const named = parseComparison(with_({ payload: 'sdk-tools' }))
  t.ok(named.ok && named.value.payload === 'sdk-tools', 'the payload of a replay record is kept')
  const noId = parseComparison(with_({ request: { method: 'GET', path: '/', headers: {} } }))
  t.ok(noId.ok && noId.value.request.id === '', 'a record without request.id still counts')
})

t.test(
  'readComparisons streams several files, counts bad lines with file:line and skips blank ones',
  async t => {
    const cs = fixtureComparisons(12)
    const dir = t.testdir({
      'a.jsonl':
        cs
          .slice(0, 6)
          .map(c => JSON.stringify(c))
          .join('\n') + '\n\nnot json\n',
      'b.jsonl.gz': gzipSync(['{"a":1}', ...cs.slice(6).map(c => JSON.stringify(c)), '   '].join('\r\n')),
    })
    const stats = newReadStats()
    const got: Comparison[] = []
    for await (const c of readComparisons([join(dir, 'a.jsonl'), join(dir, 'b.jsonl.gz')], { stats }))
      got.push(c)
    t.strictSame(got, cs, 'every comparison, in order, gzip and CRLF included')
    t.match(stats, { lines: 14, comparisons: 12, badLines: 2 })
    t.strictSame(stats.bad, [
      `${join(dir, 'a.jsonl')}:8: not JSON (Unexpected token 'o', "not json" is not valid JSON)`,
      `${join(dir, 'b.jsonl.gz')}:1: request is missing`,
    ])
  },
)

t.test('readComparisons keeps only the first bad lines but counts all', async t => {
  const dir = t.testdir({ 'bad.jsonl': 'x\n'.repeat(30) })
  const stats = newReadStats()
  for await (const _ of readComparisons([join(dir, 'bad.jsonl')], { stats, badKept: 5 }))
    t.fail('no comparison')
  t.equal(stats.badLines, 30)
  t.equal(stats.bad.length, 5)
  t.match(stats.bad[4], /bad\.jsonl:5: not JSON/)
})

t.test('readComparisons rejects naming a file it cannot read', async t => {
  const dir = t.testdir({})
  const read = async (f: string): Promise<void> => {
    for await (const _ of readComparisons([f], { stats: newReadStats() })) void _
  }
  await t.rejects(read(join(dir, 'missing.jsonl')), {
    code: 'ERR_IO',
    message: `${join(dir, 'missing.jsonl')}: does not exist`,
  })
})

t.test('readComparisons reads what a broken gzip file holds and counts the broken part as one bad line', async t => {
  const cs = fixtureComparisons(40)
  const gz = gzipSync(cs.map(c => `${JSON.stringify(c)}\n`).join(''))
  const cases: Array<{ title: string; bytes: Buffer | string; comparisons: number; bad: RegExp }> = [
    { title: 'junk after the member', bytes: Buffer.concat([gz, Buffer.from('junk')]), comparisons: 40, bad: /^junk\.jsonl\.gz:41: gzip: 4 bytes of trailing data after the last member/ },
    { title: 'cut short', bytes: gz.subarray(0, Math.floor(gz.length / 2)), comparisons: -1, bad: /^cut\.jsonl\.gz:\d+: gzip: unexpected end of file/ },
    { title: 'not gzip at all', bytes: 'not gzip at all', comparisons: 0, bad: /^corrupt\.gz:1: gzip: incorrect header check/ },
  ]
  const names = ['junk.jsonl.gz', 'cut.jsonl.gz', 'corrupt.gz']
  const dir = t.testdir(Object.fromEntries(cases.map((c, i) => [names[i]!, c.bytes])))
  for (const [i, c] of cases.entries()) {
    const stats = newReadStats()
    const got: Comparison[] = []
    // The files after a broken one are still read.
    for await (const x of readComparisons([join(dir, names[i]!), join(dir, names[0]!)], { stats })) got.push(x)
    if (c.comparisons >= 0) t.equal(got.length, c.comparisons + 40, `${c.title}: every comparison before the break, and the next file`)
    else t.ok(got.length > 40 && got.length < 80, `${c.title}: the comparisons before the cut (${got.length - 40}), and the next file`)
    t.equal(stats.badLines, 2, `${c.title}: one bad line for the broken part (and one for the next file's junk)`)
    t.match(stats.bad[0]?.replace(`${dir}/`, ''), c.bad, `${c.title}: says where and why`)
  }
})

t.test('readComparisons stops cleanly when the consumer stops early', async t => {
  const dir = t.testdir({
    'a.jsonl': fixtureComparisons(10)
      .map(c => JSON.stringify(c))
      .join('\n'),
  })
  const stats = newReadStats()
  let n = 0
  for await (const _ of readComparisons([join(dir, 'a.jsonl')], { stats })) if (++n === 2) break
  t.equal(stats.comparisons, 2)
})
