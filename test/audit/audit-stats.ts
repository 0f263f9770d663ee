import t from 'tap'
import { AuditStats, MAX_NOT_COMPARED_PATHS, topNotCompared } from '../../src/audit/audit-stats.js'
import type { Comparison, Divergence } from '../../src/audit/divergence.js'

const header = (name: string): Divergence => ({ kind: 'header', name, control: 'a', candidate: 'b' })
const bytes: Divergence = { kind: 'body-bytes', offset: 1, controlLength: 4, candidateLength: 4, controlSha256: 'c', candidateSha256: 'n' }
const comparison = (divergences: Divergence[], noise: Divergence[] = [], bytesCompared = 4): Comparison => ({
  request: { id: 'x', method: 'GET', path: '/f', headers: {} },
  time: '2024-01-01T00:00:00.000Z',
  status: { control: 200, candidate: 200 },
  durationsMs: { control: 1, candidate: 1 },
  bytesCompared,
  divergences,
  ignored: [],
  noise,
})

t.test('AuditStats counts comparisons, never divergences', async t => {
  const table: Array<[string, Comparison[], Partial<AuditStats>]> = [
    ['nothing', [], { compared: 0, divergent: 0, divergentByKind: {}, noise: 0, bytesCompared: 0 }],
    ['a clean comparison', [comparison([])], { compared: 1, divergent: 0, divergentByKind: {}, noise: 0, bytesCompared: 4 }],
    [
      'three divergences of two kinds in one comparison',
      [comparison([header('server'), header('etag'), bytes])],
      { compared: 1, divergent: 1, divergentByKind: { header: 1, 'body-bytes': 1 }, noise: 0 },
    ],
    [
      'two noise divergences in one comparison, one in another',
      [comparison([], [header('server'), header('via')]), comparison([bytes], [header('server')], 2)],
      { compared: 2, divergent: 1, divergentByKind: { 'body-bytes': 1 }, noise: 2, bytesCompared: 6 },
    ],
  ]
  for (const [name, comparisons, want] of table) {
    const s = new AuditStats()
    for (const c of comparisons) s.count(c)
    t.match(s, want, name)
    t.strictSame(s.divergentByKind, want.divergentByKind ?? s.divergentByKind, `${name}: exactly these kinds`)
  }
})

t.test('records not compared count apart, by reason and by path (bounded), and their other divergences still count', async t => {
  const s = new AuditStats()
  const rec = (path: string, ...divergences: Comparison['divergences'][number][]): Comparison => ({
    request: { id: path, method: 'GET', path, headers: {} },
    time: '2024-05-01T10:00:00.000Z',
    status: {},
    durationsMs: {},
    bytesCompared: 0,
    divergences,
    ignored: [],
    noise: [],
  })
  const shed = { kind: 'not-compared', reason: 'shed', message: 'm' } as const
  const budget = { kind: 'not-compared', reason: 'budget', message: 'm' } as const
  s.count(rec('/a', shed))
  s.count(rec('/a', budget, { kind: 'header', name: 'x', control: '1' }))
  s.count(rec('/b', shed))
  s.count(rec('/c'))
  t.match(s, { compared: 1, notCompared: 3, notComparedByReason: { shed: 2, budget: 1 }, divergent: 1, divergentByKind: { header: 1 } })
  t.strictSame(topNotCompared(s, 5), [
    { path: '/a', count: 2, reason: 'budget' },
    { path: '/b', count: 1, reason: 'shed' },
  ])
  for (let i = 0; i < MAX_NOT_COMPARED_PATHS + 5; i++) s.count(rec(`/u${i}`, shed))
  t.equal(s.notComparedPaths.size, MAX_NOT_COMPARED_PATHS, 'the path table is bounded')
  t.equal(s.otherNotCompared, 7, 'paths past it are counted, not kept')
})
