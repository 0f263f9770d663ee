import t from 'tap'
import { splitLines, type SplitLine, type SplitStats } from '../../src/replay/split-lines.js'

async function* from(chunks: Array<string | Buffer>) {
  for (const c of chunks) yield Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1')
}
const show = (l: SplitLine) => (l.kind === 'line' ? l.bytes.toString('latin1') : `long ${l.length} ${l.head.toString('latin1')}`)
async function split(chunks: Array<string | Buffer>, max = 10) {
  const out: string[] = []
  for await (const l of splitLines(from(chunks), max)) out.push(show(l))
  return out
}

const cases: Array<{ title: string; chunks: string[]; max?: number; want: string[] }> = [
  { title: 'LF and CRLF line ends, last line without one', chunks: ['a\nb\r\nc'], want: ['a', 'b', 'c'] },
  { title: 'a line split across chunks', chunks: ['ab', 'c\nd', 'e\n'], want: ['abc', 'de'] },
  { title: 'blank lines are lines', chunks: ['\n\r\n\n'], want: ['', '', ''] },
  { title: 'a lone CR is not a line end', chunks: ['a\rb\n'], want: ['a\rb'] },
  { title: 'a line of exactly the cap, with CRLF', chunks: ['0123456789\r\n'], want: ['0123456789'] },
  { title: 'one byte over the cap', chunks: ['0123456789X\nok\n'], want: ['long 11 0123456789X', 'ok'] },
  { title: 'over the cap across chunks, then good lines', chunks: ['0123', '456789', 'XYZ', 'W\nok', '\nlast'], want: ['long 14 0123456789XYZW', 'ok', 'last'] },
  { title: 'over the cap at the end of the stream', chunks: ['ok\n', '0123456789abc'], want: ['ok', 'long 13 0123456789abc'] },
  { title: 'nothing', chunks: [], want: [] },
]

t.test('splitLines cuts lines and marks the ones over the cap', async t => {
  for (const c of cases) t.strictSame(await split(c.chunks, c.max), c.want, c.title)
  await t.rejects(splitLines(from([]), 0).next(), TypeError)
})

t.test('splitLines reads a line 8 MiB over a 4 KiB cap in bounded memory, then goes on', async t => {
  const CHUNK = 64 * 1024
  const chunks = 128 // 8 MiB of one line
  let made = 0
  async function* huge() {
    yield Buffer.from('good 1\n')
    // Made one at a time, as a file is read: the splitter must drop them as they come.
    for (; made < chunks; made++) yield Buffer.alloc(CHUNK, 0x61)
    yield Buffer.from('\ngood 2\n')
  }
  const stats: SplitStats = { maxHeld: 0 }
  const out: string[] = []
  for await (const l of splitLines(huge(), 4096, stats)) out.push(l.kind === 'line' ? l.bytes.toString() : `long ${l.length}`)
  t.strictSame(out, ['good 1', `long ${chunks * CHUNK}`, 'good 2'], 'the long line is counted, the lines around it are read')
  t.equal(made, chunks, 'every chunk was read')
  t.ok(stats.maxHeld <= 4096 + CHUNK, `held at most the cap and one chunk (${stats.maxHeld} bytes)`)
})
