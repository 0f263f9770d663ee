// `cutover compare` end to end: two in-process `cutover serve` on two copies of the same files, the
// built CLI run against them, its exit status and output checked.
import { utimesSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CLI, startServe } from '../helpers/serve.js'
import { prngBytes, run, type RunResult } from '../helpers/e2e.js'

const MIB = 1024 * 1024
const MTIME = new Date('2023-05-06T07:08:09Z')
/** The byte of big.bin that differs on side b. */
const OFFSET = 2_345_678

const big = prngBytes(3 * MIB, 7)
const bigB = Buffer.from(big)
bigB[OFFSET] = big[OFFSET]! ^ 0xff
const same = prngBytes(MIB + 17, 9)
const stamp = prngBytes(4096, 3)

const base = t.testdir({
  a: { 'big.bin': big, 'same.bin': same, 'stamp.bin': stamp, 'only-a.bin': 'only on a\n' },
  b: { 'big.bin': bigB, 'same.bin': same, 'stamp.bin': stamp },
  'consistent.yaml': 'etag: consistent\n',
  'bad.yaml': 'ignoreHeaders: [server]\netag: sometimes\n',
})
// Same mtime on both sides, so that ETags and Last-Modified agree ...
for (const side of ['a', 'b'])
  for (const f of ['big.bin', 'same.bin', 'stamp.bin']) utimesSync(join(base, side, f), MTIME, MTIME)
utimesSync(join(base, 'a', 'only-a.bin'), MTIME, MTIME)
// ... except stamp.bin: the same second (same Last-Modified), another microsecond (another ETag).
utimesSync(join(base, 'b', 'stamp.bin'), MTIME, new Date(MTIME.getTime() + 500))

const [old, neu] = await Promise.all([startServe(t, join(base, 'a')), startServe(t, join(base, 'b'))])

/** compare runs the built CLI against both servers, without colour unless asked. */
function compare(path: string, ...extra: string[]): Promise<RunResult> {
  const env = { ...process.env }
  delete env.NO_COLOR
  delete env.FORCE_COLOR
  return run(process.execPath, [CLI, 'compare', path, '--old', old.url, '--new', neu.url, ...extra], {
    timeoutMs: 30_000,
    env,
  })
}

/** row renders the expected hexdump line of one side at a 16-byte aligned offset. */
function row(label: string, body: Buffer, at: number): string {
  const bytes = [...body.subarray(at, at + 16)]
  const hex = bytes.map(b => b.toString(16).padStart(2, '0'))
  const ascii = bytes.map(b => (b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '.')).join('')
  return `${label} ${at.toString(16).padStart(8, '0')}: ${hex.slice(0, 8).join(' ')}  ${hex.slice(8).join(' ')}  ${ascii}`
}

t.test('identical files exit 0', async t => {
  const r = await compare('/same.bin')
  t.equal(r.code, 0, r.stdout + r.stderr)
  t.match(r.stdout, /^GET \/same\.bin\n/)
  t.match(r.stdout, /old: 200 in \d+ ms {3}new: 200 in \d+ ms {3}1048593 B compared\n/)
  t.match(r.stdout, /\nno divergences\n/)
  t.notMatch(r.stdout, /\u001b\[/, 'no colour when stdout is not a terminal')
})

t.test('one changed byte in a 3 MiB file exits 1 naming the offset and showing the hexdump', async t => {
  const r = await compare('/big.bin')
  t.equal(r.code, 1, r.stderr)
  t.match(r.stdout, /\n1 divergence\n/)
  // The bytes before the difference were compared side by side, not hashed: no sha256 to show.
  t.match(r.stdout, `body-bytes: first difference at byte ${OFFSET}; old ${3 * MIB} B, new ${3 * MIB} B\n`)
  const at = OFFSET - (OFFSET % 16)
  const caret = ' '.repeat(14 + (OFFSET % 16) * 3 + (OFFSET % 16 >= 8 ? 1 : 0)) + '^^'
  t.match(r.stdout, `\nbody around byte ${OFFSET}\n`)
  t.match(r.stdout, `\n${row('old', big, at)}\n${row('new', bigB, at)}\n${caret}`, 'the row of the difference, with a caret')
  t.notMatch(r.stdout, /response headers/, 'equal headers give no header diff')
})

t.test('--color always colours the output', async t => {
  const r = await compare('/big.bin', '--color', 'always')
  t.equal(r.code, 1, r.stderr)
  t.match(r.stdout, /\u001b\[7m/, 'the differing byte is inverse')
})

t.test('a Range request compares the slices', async t => {
  const head = await compare('/big.bin', '-H', 'Range: bytes=0-99')
  t.equal(head.code, 0, head.stdout + head.stderr)
  t.match(head.stdout, /\n {2}range: bytes=0-99\n/, 'the request header is shown')
  t.match(head.stdout, /old: 206 in \d+ ms {3}new: 206 in \d+ ms {3}100 B compared\n/)

  const from = OFFSET - 78
  const hit = await compare('/big.bin', '-H', `range: bytes=${from}-${from + 99}`)
  t.equal(hit.code, 1, hit.stderr)
  t.match(hit.stdout, /old: 206 in \d+ ms {3}new: 206 in \d+ ms {3}100 B compared\n/)
  t.match(hit.stdout, 'body-bytes: first difference at byte 78; old 100 B', 'the offset is counted in the slice')
  t.match(hit.stdout, `\n${row('old', big.subarray(from), 64)}\n${row('new', bigB.subarray(from), 64)}\n`)
})

t.test('a file missing on one side is a status divergence', async t => {
  const r = await compare('/only-a.bin')
  t.equal(r.code, 1, r.stderr)
  t.match(r.stdout, /old: 200 in \d+ ms {3}new: 404 in \d+ ms/)
  t.match(r.stdout, '\n  status: old 200, new 404\n')
  t.match(r.stdout, /\nresponse headers\n--- old\n\+\+\+ new\n/, 'and the header diff is shown')
})

t.test('different ETags diverge, unless the rules say etag: consistent', async t => {
  const exact = await compare('/stamp.bin')
  t.equal(exact.code, 1, exact.stderr)
  t.match(exact.stdout, /\n {2}header etag: old "\\"[0-9a-f]+-1000\\"", new "\\"[0-9a-f]+-1000\\""\n/)
  t.match(exact.stdout, /\n-etag: "[0-9a-f]+-1000"\n\+etag: "[0-9a-f]+-1000"\n/, 'the header diff shows both tags')

  const loose = await compare('/stamp.bin', '--rules', join(base, 'consistent.yaml'))
  t.equal(loose.code, 0, loose.stdout + loose.stderr)
  t.match(loose.stdout, /\nno divergences\n/)
  t.match(loose.stdout, /\n-etag: "[0-9a-f]+-1000" {2}\[etag: consistent\]\n/, 'the diff marks the relaxed header')
})

t.test('usage and input errors exit 2', async t => {
  const cases: Array<[string, string[], RegExp]> = [
    ['a -H without a colon', ['/same.bin', '-H', 'Range bytes=0-1'], /'-H, --header <header>' argument 'Range bytes=0-1' is invalid/],
    ['a -H with a bad name', ['/same.bin', '-H', 'Bad Name: x'], /argument 'Bad Name: x' is invalid/],
    ['a path without /', ['same.bin'], /expected a path starting with \//],
    ['an unknown method', ['/same.bin', '--method', 'POST'], /--method/],
    ['a missing rules file', ['/same.bin', '--rules', join(base, 'none.yaml')], /--rules .*none\.yaml: does not exist/],
    ['an invalid rules file', ['/same.bin', '--rules', join(base, 'bad.yaml')], /bad\.yaml: etag: expected one of/],
  ]
  for (const [name, args, stderr] of cases) {
    const [path, ...extra] = args as [string, ...string[]]
    const r = await compare(path, ...extra)
    t.equal(r.code, 2, `${name} exits 2`)
    t.match(r.stderr, stderr, `${name} is named`)
    t.equal(r.stdout, '', `${name} prints no comparison`)
  }
  const noNew = await run(process.execPath, [CLI, 'compare', '/same.bin', '--old', old.url], { timeoutMs: 30_000 })
  t.equal(noNew.code, 2, 'a missing --new exits 2')
  t.match(noNew.stderr, /--new/)
})
