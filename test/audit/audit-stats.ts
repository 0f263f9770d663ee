import t from 'tap'
import { AuditStats } from '../../src/audit/audit-stats.js'
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
