import t from 'tap'
import { multipartLayout } from '../../src/http/multipart.js'
import { pieces } from '../../src/http/serve-content.js'

const show = (body: Parameters<typeof pieces>[0], size: number): string[] =>
  [...pieces(body, size)].map(p => `${p.literal.map(l => Buffer.from(l).toString('latin1').length).join('+') || '-'}|${p.off}+${p.len}`)

t.test('pieces cuts a single range into pieces of at most the piece size', async t => {
  const cases: Array<[number, number, number, string[]]> = [
    [0, 10, 4, ['-|0+4', '-|4+4', '-|8+2']],
    [3, 4, 4, ['-|3+4']],
    [0, 0, 4, []],
    [5, 1, 1, ['-|5+1']],
  ]
  for (const [start, length, size, want] of cases) {
    t.same(show({ kind: 'range', range: { start, length } }, size), want, `${start}+${length} in pieces of ${size}`)
  }
})

t.test('pieces puts each part header in front of its first bytes and the trailer last', async t => {
  const layout = multipartLayout(
    [
      { start: 0, length: 2 },
      { start: 5, length: 300 },
      { start: 9, length: 0 },
    ],
    'text/plain',
    400,
    'B',
  )
  const h = layout.parts.map(p => p.header.length)
  const tr = layout.trailer.length
  const got = show({ kind: 'multipart', layout }, 256)
  t.same(got, [
    `${h[0]}|0+2`,
    `${h[1]}|5+${256 - h[1]!}`,
    `-|${5 + 256 - h[1]!}+${300 - (256 - h[1]!)}`,
    `${h[2]}|9+0`,
    `${tr}|0+0`,
  ])
  const total = [...pieces({ kind: 'multipart', layout }, 256)].reduce((n, p) => n + p.literalLength + p.len, 0)
  t.equal(total, layout.length, 'the pieces add up to the multipart Content-Length')
})
