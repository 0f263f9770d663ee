import t from 'tap'
import type { Comparison, Divergence } from '../../src/audit/divergence.js'
import { NO_PAYLOAD, PayloadGroups, payloadLines, topKinds, type PayloadCount } from '../../src/report/payload-groups.js'
import { comparison } from '../helpers/comparisons.js'

const status: Divergence = { kind: 'status', control: 200, candidate: 404 }
const header: Divergence = { kind: 'header', name: 'etag', control: '"a"', candidate: '"b"' }
const bytes: Divergence = { kind: 'body-bytes', offset: 3, controlLength: 9, candidateLength: 9, controlSha256: 'a', candidateSha256: 'b' }
const shed: Divergence = { kind: 'not-compared', reason: 'shed', message: 'shed' }

/** of is a comparison of `payload` (none when undefined) with these divergences. */
const of = (payload: string | undefined, ...divergences: Divergence[]): Comparison =>
  comparison({ divergences, ...(payload === undefined ? {} : { payload }) })

/** row is a PayloadCount as the table reports it, exact (no error). */
const row = (payload: string | undefined, compared: number, divergent: number, kinds: PayloadCount['kinds'] = {}, records = compared): PayloadCount => ({
  ...(payload === undefined ? {} : { payload }),
  records,
  error: 0,
  compared,
  divergent,
  kinds,
})

t.test('PayloadGroups counts per payload, the records of none apart', async t => {
  const cases: Array<{ title: string; input: Comparison[]; top?: number; named: number; rows: PayloadCount[] }> = [
    { title: 'nothing', input: [], named: 0, rows: [] },
    { title: 'no record names a payload: one group of none', input: [of(undefined), of(undefined, status)], named: 0, rows: [row(undefined, 2, 1, { status: 1 })] },
    {
      title: 'a clean payload and a divergent one: most divergent first, none last',
      input: [of('docs'), of('docs'), of('docs'), of('tools', status, header), of('tools'), of(undefined)],
      named: 5,
      rows: [row('tools', 2, 1, { status: 1, header: 1 }), row('docs', 3, 0), row(undefined, 1, 0)],
    },
    {
      title: 'two header divergences in one record count once for the kind',
      input: [of('tools', header, { ...header, name: 'server' })],
      named: 1,
      rows: [row('tools', 1, 1, { header: 1 })],
    },
    {
      title: 'equally divergent: the most compared first, then by name',
      input: [of('b', status), of('a', status), of('c', status), of('c')],
      named: 4,
      rows: [row('c', 2, 1, { status: 1 }), row('a', 1, 1, { status: 1 }), row('b', 1, 1, { status: 1 })],
    },
    {
      title: 'a record not compared is not compared, but what it found before still counts as divergent',
      input: [of('tools', shed), of('tools', header, shed), of('tools')],
      named: 3,
      rows: [row('tools', 1, 1, { header: 1 }, 3)],
    },
    {
      title: 'top limits the payloads listed, never the group of none',
      input: [of('a', status), of('b'), of('c'), of(undefined)],
      top: 1,
      named: 3,
      rows: [row('a', 1, 1, { status: 1 }), row(undefined, 1, 0)],
    },
  ]
  for (const c of cases) {
    const g = new PayloadGroups()
    for (const x of c.input) g.add(x)
    const table = g.table(c.top ?? 10)
    t.equal(table.named, c.named, `${c.title}: named`)
    t.strictSame(table.rows, c.rows, `${c.title}: rows`)
    t.equal(table.exact, true, `${c.title}: exact`)
  }
})

t.test('PayloadGroups beyond maxPayloads estimates, and still finds the heavy payload', async t => {
  const g = new PayloadGroups({ maxPayloads: 4 })
  for (let i = 0; i < 40; i++) {
    g.add(of('hot', status))
    g.add(of(`cold-${i}`))
  }
  const table = g.table(10)
  t.equal(table.exact, false)
  t.equal(table.named, 80)
  t.equal(table.tracked, 4)
  t.match(table.rows[0], { payload: 'hot', divergent: 40, kinds: { status: 40 } }, 'the payload of half the records is listed first')
  t.ok(table.rows.every(r => 2 * r.error < r.records), 'only counts more than half certain are listed')
})

t.test('PayloadGroups rejects a bad maxPayloads', async t => {
  for (const maxPayloads of [0, -1, 1.5, Number.NaN]) t.throws(() => new PayloadGroups({ maxPayloads }), TypeError, String(maxPayloads))
})

t.test('topKinds lists the most frequent kinds first, at most three by default', async t => {
  const cases: Array<[PayloadCount['kinds'], number | undefined, ReturnType<typeof topKinds>]> = [
    [{}, undefined, []],
    [{ header: 2, status: 5 }, undefined, [['status', 5], ['header', 2]]],
    [{ header: 1, status: 1, 'body-bytes': 1, timeout: 1 }, undefined, [['status', 1], ['header', 1], ['body-bytes', 1]]],
    [{ header: 1, timeout: 9 }, 1, [['timeout', 9]]],
  ]
  for (const [kinds, n, want] of cases) t.strictSame(topKinds(kinds, n), want, JSON.stringify(kinds))
})

t.test('payloadLines aligns the columns, names the group of none, makes names printable and says what it left out', async t => {
  const g = new PayloadGroups()
  for (const x of [of('sdk-tools', status, header), of('sdk-tools', header), of('notes'), of('evil\u001b[31m'), of('other'), of(undefined, bytes)]) g.add(x)
  const lines = payloadLines(g.table(3), { indent: '  ', dim: s => `<${s}>` })
  t.strictSame(lines, [
    '<  payload       compared  divergent  top divergence kinds (requests)>',
    '  sdk-tools            2          2  header 2, status 1',
    '  evil\\x1b[31m         1          0',
    '  notes                1          0',
    `  ${NO_PAYLOAD}         1          1  body-bytes 1`,
    '<  ... 1 more payload not listed>',
  ])
})
