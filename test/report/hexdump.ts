import { Chalk } from 'chalk'
import t from 'tap'
import { hexdump } from '../../src/report/hexdump.js'

const plain = new Chalk({ level: 0 })
const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex')

interface Row {
  name: string
  ctx: { from: number; control: string; candidate: string }
  offset: number
  want: string[]
}

const table: Row[] = [
  {
    name: 'one row, aligned, difference in the second half',
    ctx: { from: 0, control: hex('ABCDEFGHIJKLMNOP'), candidate: hex('ABCDEFGHIJxLMNOP') },
    offset: 10,
    want: [
      'old 00000000: 41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP',
      'new 00000000: 41 42 43 44 45 46 47 48  49 4a 78 4c 4d 4e 4f 50  ABCDEFGHIJxLMNOP',
      '                                             ^^                           ^',
    ],
  },
  {
    name: 'unaligned start spanning two rows, difference in the first half, non-printable bytes as dots',
    ctx: { from: 0x1c, control: hex('abcd\x00\x7f\n\tefgh'), candidate: hex('abcd\x00\x7f\n\tefXh') },
    offset: 0x1c + 10,
    want: [
      'old 00000010:                                      61 62 63 64              abcd',
      'new 00000010:                                      61 62 63 64              abcd',
      'old 00000020: 00 7f 0a 09 65 66 67 68                           ....efgh',
      'new 00000020: 00 7f 0a 09 65 66 58 68                           ....efXh',
      '                                ^^                                    ^',
    ],
  },
  {
    name: 'a shorter side shows blanks',
    ctx: { from: 0, control: hex('abcdef'), candidate: hex('abc') },
    offset: 3,
    want: [
      'old 00000000: 61 62 63 64 65 66                                 abcdef',
      'new 00000000: 61 62 63                                          abc',
      '                       ^^                                          ^',
    ],
  },
  {
    name: 'offsets past 32 bits widen the offset column',
    ctx: { from: 0x123456789, control: hex('xy'), candidate: hex('xz') },
    offset: 0x12345678a,
    want: [
      'old 123456780:                             78 79                          xy',
      'new 123456780:                             78 7a                          xz',
      '                                              ^^                           ^',
    ],
  },
  {
    name: 'an offset outside the context gets no caret',
    ctx: { from: 16, control: hex('a'), candidate: hex('b') },
    offset: 0,
    want: [
      'old 00000010: 61                                                a',
      'new 00000010: 62                                                b',
    ],
  },
  {
    name: 'invalid hex is decoded up to the first bad pair',
    ctx: { from: 0, control: '6162zz63', candidate: '616263' },
    offset: 2,
    want: [
      'old 00000000: 61 62                                             ab',
      'new 00000000: 61 62 63                                          abc',
      '                    ^^                                            ^',
    ],
  },
]

t.test('hexdump shows both sides 16 bytes a row with a caret under the first difference', async t => {
  for (const row of table) t.equal(hexdump(row.ctx, row.offset, { chalk: plain }), row.want.join('\n') + '\n', row.name)
})

t.test('hexdump of two empty sides is empty', async t => {
  t.equal(hexdump({ from: 5, control: '', candidate: '' }, 5, { chalk: plain }), '')
})

t.test('hexdump highlights the first differing byte when colour is on', async t => {
  const chalk = new Chalk({ level: 1 })
  const out = hexdump({ from: 0, control: hex('aXcY'), candidate: hex('aZcW') }, 1, { chalk })
  t.ok(out.includes(chalk.inverse('58')) && out.includes(chalk.inverse('5a')), 'the first difference is inverse on both sides')
  t.ok(out.includes(chalk.red('59')), 'a later difference is red on the old side')
  t.ok(out.includes(chalk.green('57')), 'and green on the new side')
})
