import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { codeOf } from '../../src/core/errors.js'
import { readRecords, type ReadRecordsOptions } from '../../src/replay/read-records.js'
import type { LogFormat, ParsedLine } from '../../src/replay/record.js'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const LOGS = join(REPO, 'fixtures/logs')
const AUTO: ReadRecordsOptions = { format: 'auto' }

/** collect reads every parsed line of the files, and the final summary. */
async function collect(paths: string[], o: ReadRecordsOptions = AUTO) {
  const reader = readRecords(paths, o)
  const lines: ParsedLine[] = []
  for await (const p of reader) lines.push(p)
  return { lines, summary: reader.summary }
}
const lineOf = (p: ParsedLine) => (p.kind === 'record' ? p.record.line : p.bad.line)
const withoutFile = (p: ParsedLine) =>
  p.kind === 'record' ? { ...p, record: { ...p.record, file: '' } } : { ...p, bad: { ...p.bad, file: '' } }

// What each fixture holds (fixtures/logs/README.md): the lines that are bad, and the counts.
const FIXTURES: Array<{ file: string; format: LogFormat; records: number; bad: number[]; skipped: number }> =
  [
    { file: 'nginx-combined.txt', format: 'combined', records: 14, bad: [14, 15, 16, 17, 18], skipped: 0 },
    { file: 'nginx-combined.txt.gz', format: 'combined', records: 14, bad: [14, 15, 16, 17, 18], skipped: 0 },
    { file: 'apache-common.txt', format: 'common', records: 9, bad: [10, 11, 12, 13, 14], skipped: 0 },
    { file: 'cutover.jsonl', format: 'jsonl', records: 12, bad: [12, 13, 14, 15, 16], skipped: 0 },
    { file: 'chrome.har', format: 'har', records: 8, bad: [8, 9, 10, 11], skipped: 0 },
    { file: 'goreplay.gor', format: 'gor', records: 9, bad: [79, 85, 91, 96, 103], skipped: 2 },
  ]

t.test('readRecords reads every fixture, in order, keeping bad lines', async t => {
  for (const f of FIXTURES) {
    const path = join(LOGS, f.file)
    const { lines, summary } = await collect([path])
    const bad = lines.filter(p => p.kind === 'bad').map(lineOf)
    t.strictSame(bad, f.bad, `${f.file}: the bad lines are ${f.bad.join(', ')}`)
    t.equal(lines.length - bad.length, f.records, `${f.file}: ${f.records} records`)
    const order = lines.map(lineOf)
    t.ok(
      order.every((n, i) => i === 0 || n > order[i - 1]!),
      `${f.file}: lines come in file order`,
    )
    t.ok(
      lines.every(p => (p.kind === 'record' ? p.record.file : p.bad.file) === path),
      `${f.file}: every line names its file as given`,
    )
    t.ok(
      lines.every(p => p.kind === 'bad' || /^\/[\x21-\x7e]*$/.test(p.record.path)),
      `${f.file}: every target is a sendable path`,
    )
    t.ok(
      lines.every(p => p.kind === 'record' || /^[a-z_.[\]0-9A-Z]+: /.test(p.bad.reason)),
      `${f.file}: every reason names a field`,
    )
    t.strictSame(
      summary,
      {
        files: [{ file: path, format: f.format, records: f.records, bad: f.bad.length, skipped: f.skipped, rangeless206: 0 }],
        records: f.records,
        bad: f.bad.length,
        skipped: f.skipped,
      },
      `${f.file}: the summary counts them`,
    )
  }
})

t.test('readRecords gives each format the request a client made', async t => {
  const first = async (file: string, n = 1) => {
    const { lines } = await collect([join(LOGS, file)])
    const p = lines.filter(p => p.kind === 'record')[n - 1]
    return p?.kind === 'record' ? { ...p.record, file } : undefined
  }
  t.strictSame(await first('nginx-combined.txt', 3), {
    file: 'nginx-combined.txt',
    line: 3,
    time: new Date('2025-10-10T13:55:03Z'),
    method: 'GET',
    path: '/nums11.txt',
    headers: { range: 'bytes=0-1,5-6' },
    status: 206,
  })
  t.strictSame(await first('nginx-combined.txt', 6), {
    file: 'nginx-combined.txt',
    line: 6,
    time: new Date('2025-10-10T13:55:06Z'),
    method: 'GET',
    path: '/snow%20%E2%98%83.txt?v="1"',
    headers: {},
    status: 400,
  })
  t.strictSame(await first('apache-common.txt', 3), {
    file: 'apache-common.txt',
    line: 3,
    time: new Date('2025-10-10T13:55:33Z'),
    method: 'HEAD',
    path: '/data.json',
    headers: {},
    status: 200,
  })
  t.strictSame(await first('cutover.jsonl', 6), {
    file: 'cutover.jsonl',
    line: 6,
    time: new Date('2025-10-10T13:56:06.042Z'),
    method: 'GET',
    path: '/nums11.txt',
    headers: { range: 'bytes=2-5', 'if-range': '"0b-18f2a3c4d5e"' },
    status: 206,
  })
  t.strictSame(await first('chrome.har', 4), {
    file: 'chrome.har',
    line: 4,
    time: new Date('2025-10-10T13:57:04.044Z'),
    method: 'GET',
    path: '/snow%20%E2%98%83.txt',
    headers: { 'if-none-match': '"0b-18f2a3c4d5e"' },
    status: 304,
  })
  t.strictSame(await first('goreplay.gor', 3), {
    file: 'goreplay.gor',
    line: 26,
    time: new Date('2025-10-10T13:57:00.003Z'),
    method: 'GET',
    path: '/some%20thing.txt',
    headers: { range: 'bytes=-3', 'if-range': '"0b-18f2a3c4d5e"' },
  })
})

t.test('readRecords reads a gzipped log exactly as the plain one', async t => {
  const plain = await collect([join(LOGS, 'nginx-combined.txt')])
  const gz = await collect([join(LOGS, 'nginx-combined.txt.gz')])
  t.strictSame(gz.lines.map(withoutFile), plain.lines.map(withoutFile))
})

t.test('readRecords detects gzip by its magic bytes, not its name', async t => {
  const dir = t.testdir({})
  const rotated = join(dir, 'access.log.1') // logrotate's name for a compressed log with delaycompress off
  copyFileSync(join(LOGS, 'nginx-combined.txt.gz'), rotated)
  const misnamed = join(dir, 'plain.gz')
  copyFileSync(join(LOGS, 'nginx-combined.txt'), misnamed)
  const plain = await collect([join(LOGS, 'nginx-combined.txt')])
  t.strictSame(
    (await collect([rotated])).lines.map(withoutFile),
    plain.lines.map(withoutFile),
    'gzip without .gz',
  )
  t.strictSame(
    (await collect([misnamed])).lines.map(withoutFile),
    plain.lines.map(withoutFile),
    'plain with .gz',
  )
})

t.test('readRecords reads gzipped HAR, JSONL and .gor files', async t => {
  const dir = t.testdir({})
  for (const f of ['chrome.har', 'cutover.jsonl', 'goreplay.gor']) {
    const gz = join(dir, `${f}.gz`)
    writeFileSync(gz, gzipSync(readFileSync(join(LOGS, f))))
    const a = await collect([join(LOGS, f)])
    const b = await collect([gz])
    t.strictSame(b.lines.map(withoutFile), a.lines.map(withoutFile), f)
  }
})

t.test('readRecords reads several files one after the other, with a summary per file', async t => {
  const files = ['apache-common.txt', 'goreplay.gor', 'cutover.jsonl'].map(f => join(LOGS, f))
  const { lines, summary } = await collect(files)
  const byFile = lines.map(p => (p.kind === 'record' ? p.record.file : p.bad.file))
  t.strictSame([...new Set(byFile)], files, 'files come in the order given')
  t.ok(
    byFile.every((f, i) => i === 0 || files.indexOf(f) >= files.indexOf(byFile[i - 1]!)),
    'a file is done before the next starts',
  )
  t.strictSame(
    summary.files.map(f => [f.format, f.records, f.bad, f.skipped]),
    [
      ['common', 9, 5, 0],
      ['gor', 9, 5, 2],
      ['jsonl', 12, 5, 0],
    ],
  )
  t.strictSame([summary.records, summary.bad, summary.skipped], [30, 15, 2], 'totals')
})

t.test('readRecords turns a corrupt or cut gzip stream into a bad line and goes on', async t => {
  const dir = t.testdir({})
  const gz = readFileSync(join(LOGS, 'nginx-combined.txt.gz'))
  const cut = join(dir, 'cut.gz')
  writeFileSync(cut, gz.subarray(0, gz.length - 12)) // the CRC and size trailer, and some data, are gone
  const corrupt = join(dir, 'corrupt.gz')
  writeFileSync(corrupt, Buffer.concat([gz.subarray(0, 2), Buffer.from('not deflate data at all')]))
  const next = join(LOGS, 'apache-common.txt')
  const { lines, summary } = await collect([cut, corrupt, next])

  const cutLines = lines.filter(p => (p.kind === 'record' ? p.record.file : p.bad.file) === cut)
  const last = cutLines[cutLines.length - 1]!
  t.match(
    last,
    { kind: 'bad', bad: { reason: /^gzip: unexpected end of file/ } },
    'a cut file ends with a gzip bad line',
  )
  t.equal(lineOf(last), lineOf(cutLines[cutLines.length - 2]!) + 1, 'numbered after the last line read')
  t.ok(cutLines.length > 10, 'the lines before the cut are read')
  t.match(
    lines.filter(p => (p.kind === 'record' ? p.record.file : p.bad.file) === corrupt),
    [{ kind: 'bad', bad: { line: 1, reason: /^gzip: / } }],
    'a corrupt file is one gzip bad line',
  )
  t.equal(summary.files[2]!.records, 9, 'the next file is still read')

  // A bigger file breaks after the format was detected, in the middle of the line loop.
  const line = (i: number) =>
    `192.0.2.1 - - [10/Oct/2025:13:55:01 +0000] "GET /n${i} HTTP/1.1" 200 1 "-" "-"\n`
  const big = gzipSync(Array.from({ length: 20_000 }, (_, i) => line(i)).join(''))
  const bigCut = join(dir, 'big-cut.gz')
  writeFileSync(bigCut, big.subarray(0, big.length >> 1))
  const half = await collect([bigCut])
  const records = half.summary.records
  t.ok(records > 1000 && records < 20_000, `the first half is read (${records} records)`)
  t.equal(half.summary.bad, 1, 'then one bad line')
  t.match(half.lines[half.lines.length - 1], { kind: 'bad', bad: { line: records + 1, reason: /^gzip: / } })
})

t.test('readRecords rejects an unreadable file before yielding anything', async t => {
  const dir = t.testdir({ sub: {}, 'text.txt': 'hello\nworld\n' })
  const missing = join(dir, 'missing.log')
  const reader = readRecords([join(LOGS, 'nginx-combined.txt'), missing], AUTO)
  const it = reader[Symbol.asyncIterator]()
  const err = await it.next().catch((e: unknown) => e)
  t.equal(codeOf(err), 'ERR_NOT_FOUND', 'a missing file is ERR_NOT_FOUND')
  t.match((err as Error).message, missing, 'naming the file')
  t.equal(reader.summary.records, 0, 'before the first file is read')

  const dirErr = await collect([join(dir, 'sub')]).catch((e: unknown) => e)
  t.equal(codeOf(dirErr), 'ERR_INVALID_ARGUMENT', 'a directory is ERR_INVALID_ARGUMENT')
  t.match((dirErr as Error).message, join(dir, 'sub'))

  const unknown = await collect([join(dir, 'text.txt')]).catch((e: unknown) => e)
  t.equal(codeOf(unknown), 'ERR_INVALID_ARGUMENT', 'a file of no known format is ERR_INVALID_ARGUMENT')
  t.match((unknown as Error).message, join(dir, 'text.txt'))

  const forced = await collect([join(dir, 'text.txt')], { format: 'jsonl' })
  t.strictSame(
    forced.lines.map(p => (p.kind === 'bad' ? [p.bad.line, p.bad.reason.split(':')[0]] : p.kind)),
    [
      [1, 'json'],
      [2, 'json'],
    ],
    'with a format given, every line is read (and is bad)',
  )
})

t.test('readRecords reads a HAR file whole only up to maxHarBytes', async t => {
  const har = join(LOGS, 'chrome.har')
  const size = readFileSync(har).length
  const err = await collect([har], { format: 'auto', maxHarBytes: size - 1 }).catch((e: unknown) => e)
  t.equal(codeOf(err), 'ERR_INVALID_ARGUMENT')
  t.match((err as Error).message, har)
  t.equal(
    (await collect([har], { format: 'auto', maxHarBytes: size })).summary.records,
    8,
    'a file of the limit is read',
  )
})

t.test('readRecords with a format given reads the file as that format', async t => {
  const { lines, summary } = await collect([join(LOGS, 'cutover.jsonl')], { format: 'combined' })
  t.equal(summary.bad, 17)
  t.ok(
    lines.every(p => p.kind === 'bad' && p.bad.reason.startsWith('line: ')),
    'every JSON line is a bad combined line',
  )
  t.equal(summary.files[0]!.format, 'combined')
})

t.test('readRecords skips blank lines, keeps line numbers, and reads CRLF and a BOM', async t => {
  const combined = (path: string) =>
    `192.0.2.1 - - [10/Oct/2025:13:55:01 +0000] "GET ${path} HTTP/1.1" 200 1 "-" "-"`
  const jsonl = (path: string) => JSON.stringify({ time: '2025-10-10T13:56:01.007Z', method: 'GET', path })
  const dir = t.testdir({
    'crlf.log': `\r\n${combined('/a')}\r\n\r\n   \r\n${combined('/b')}\r\n`,
    'bom.jsonl': `\uFEFF${jsonl('/a')}\n\n${jsonl('/b')}`,
    'empty.log': '',
    'blank.log': '\n\n  \n',
  })
  const paths = (r: Awaited<ReturnType<typeof collect>>) =>
    r.lines.map(p => (p.kind === 'record' ? [p.record.line, p.record.path] : p.bad.reason))
  t.strictSame(
    paths(await collect([join(dir, 'crlf.log')])),
    [
      [2, '/a'],
      [5, '/b'],
    ],
    'CRLF',
  )
  t.strictSame(
    paths(await collect([join(dir, 'bom.jsonl')])),
    [
      [1, '/a'],
      [3, '/b'],
    ],
    'BOM, and a last line without a newline',
  )
  const empty = await collect([join(dir, 'empty.log'), join(dir, 'blank.log')])
  t.strictSame(empty.lines, [], 'empty and blank files have no lines')
  t.strictSame(
    empty.summary.files.map(f => f.format),
    [undefined, undefined],
    'and no format',
  )
})

t.test('readRecords decodes JSONL as UTF-8 across chunk boundaries', async t => {
  // 5000 lines of ~100 bytes cross many 64 KiB chunk boundaries, some inside a 3-byte ☃.
  const n = 5000
  const line = (i: number) =>
    JSON.stringify({
      time: '2025-10-10T13:56:01.007Z',
      method: 'GET',
      path: `/snow ☃${'☃'.repeat(i % 7)}.txt`,
    })
  const dir = t.testdir({ 'snow.jsonl': Array.from({ length: n }, (_, i) => line(i)).join('\n') })
  const { lines, summary } = await collect([join(dir, 'snow.jsonl')])
  t.equal(summary.records, n)
  t.ok(
    lines.every(
      (p, i) =>
        p.kind === 'record' && decodeURIComponent(p.record.path) === `/snow ☃${'☃'.repeat(i % 7)}.txt`,
    ),
    'every path comes back whole',
  )
})

t.test('readRecords keeps raw bytes of combined and .gor lines across chunk boundaries', async t => {
  const n = 5000
  const raw = (i: number) => Buffer.from(`/snow☃${'é'.repeat(i % 5)}.txt`, 'utf8')
  const enc = (i: number) =>
    [...raw(i)].map(b => (b > 0x7e ? `%${b.toString(16).toUpperCase()}` : String.fromCharCode(b))).join('')
  const lines = Array.from({ length: n }, (_, i) =>
    Buffer.concat([
      Buffer.from('192.0.2.1 - - [10/Oct/2025:13:55:01 +0000] "GET '),
      raw(i),
      Buffer.from(' HTTP/1.1" 200 1 "-" "-"\n'),
    ]),
  )
  const dir = t.testdir({ 'raw.log': Buffer.concat(lines) })
  const got = await collect([join(dir, 'raw.log')])
  t.equal(got.summary.records, n)
  t.ok(
    got.lines.every((p, i) => p.kind === 'record' && p.record.path === enc(i)),
    'every raw byte is percent-encoded, none is replaced',
  )
})

t.test(
  'readRecords closes the file when the reader stops early',
  { skip: !existsSync('/proc/self/fd') && 'needs /proc' },
  async t => {
    const fds = () => readdirSync('/proc/self/fd').length
    for (const f of ['nginx-combined.txt', 'nginx-combined.txt.gz', 'goreplay.gor', 'chrome.har']) {
      const before = fds()
      for await (const p of readRecords([join(LOGS, f)], AUTO)) {
        t.ok(p, 'read one line')
        break
      }
      // The file handle closes asynchronously after destroy().
      for (let i = 0; i < 100 && fds() > before; i++) await new Promise(r => setImmediate(r))
      t.equal(fds(), before, `${f}: no file descriptor is left open`)
    }
  },
)

t.test('readRecords checks its arguments', async t => {
  t.throws(() => readRecords('a.log' as unknown as string[], AUTO), TypeError)
  t.throws(() => readRecords([''], AUTO), TypeError)
  t.throws(() => readRecords(['a.log'], { format: 'nginx' as LogFormat }), TypeError)
  t.throws(() => readRecords(['a.log'], { format: 'auto', maxHarBytes: -1 }), TypeError)
  const reader = readRecords([join(LOGS, 'cutover.jsonl')], AUTO)
  for await (const _ of reader) break
  t.throws(() => reader[Symbol.asyncIterator](), TypeError, 'a reader is iterated once')
})

const combined = (path: string) => `192.0.2.1 - - [10/Oct/2025:13:55:01 +0000] "GET ${path} HTTP/1.1" 200 1 "-" "-"`

t.test('readRecords loses no line of a gzip member followed by trailing bytes, and counts those as one bad line', async t => {
  const n = 600
  const body = Array.from({ length: n }, (_, i) => `${combined(`/f/${i}?pad=${'x'.repeat(100)}`)}\n`).join('')
  const member = gzipSync(body)
  const cases: Array<{ title: string; bytes: Buffer; records: number; bad: Array<[number, RegExp]> }> = [
    { title: 'junk after the member', bytes: Buffer.concat([member, Buffer.from('junk junk junk trailing')]), records: n, bad: [[n + 1, new RegExp(`^gzip: 23 bytes of trailing data after the last member \\(at byte ${member.length}\\)`)]] },
    { title: 'one byte after the member: "1 byte"', bytes: Buffer.concat([member, Buffer.from('J')]), records: n, bad: [[n + 1, /^gzip: 1 byte of trailing data after the last member/]] },
    { title: 'two members, zero padding', bytes: Buffer.concat([member, member, Buffer.alloc(512)]), records: 2 * n, bad: [] },
    { title: 'a member, then a second one cut short', bytes: Buffer.concat([member, member.subarray(0, 40)]), records: n, bad: [[n + 1, /^gzip: unexpected end of file/]] },
    { title: 'a member cut in its trailer', bytes: member.subarray(0, member.length - 4), records: n, bad: [[n + 1, /^gzip: unexpected end of file/]] },
  ]
  const dir = t.testdir(Object.fromEntries(cases.map((c, i) => [`${i}.log.gz`, c.bytes])))
  for (const [i, c] of cases.entries()) {
    const { lines, summary } = await collect([join(dir, `${i}.log.gz`)])
    t.equal(summary.records, c.records, `${c.title}: every line of the complete members is read`)
    const bad = lines.flatMap(p => (p.kind === 'bad' ? [p.bad] : []))
    t.equal(bad.length, c.bad.length, `${c.title}: ${c.bad.length} bad line(s)`)
    for (const [j, [line, reason]] of c.bad.entries()) {
      t.equal(bad[j]?.line, line, `${c.title}: the bad line comes after the last good one`)
      t.match(bad[j]?.reason, reason, `${c.title}: says why`)
    }
  }
})

t.test('readRecords counts a line over --max-line-bytes as bad and goes on, for every line format', async t => {
  const MiB = 1024 * 1024
  const huge = 'a'.repeat(8 * MiB)
  const jsonl = (path: string) => JSON.stringify({ time: '2025-10-10T13:56:01.007Z', method: 'GET', path })
  const meta = '1 8f3a2b1c0d9e8f7a6b5c4d3e 1760104620001250000 0'
  const sep = Buffer.from('🐵🙈🙉', 'utf8').toString('latin1')
  const dir = t.testdir({
    'long.log': `${combined('/a')}\n${combined(`/${huge}`)}\n${combined('/b')}\n`,
    'long.jsonl': `${jsonl('/a')}\n${jsonl(`/${huge}`)}\n${jsonl('/b')}`,
    'long.gor': Buffer.from(
      [meta, 'GET /a HTTP/1.1', `X-Long: ${huge}`, '', '', sep, meta, 'POST /b HTTP/1.1', '', huge, sep, meta, 'GET /c HTTP/1.1', '', ''].join('\n'),
      'latin1',
    ),
  })
  const cases = [
    { file: 'long.log', records: ['/a', '/b'], bad: [[2, /^line: longer than 4096 bytes \(8388\d{3} bytes\)/]] },
    { file: 'long.jsonl', records: ['/a', '/b'], bad: [[2, /^line: longer than 4096 bytes/]] },
    { file: 'long.gor', records: ['/b', '/c'], bad: [[1, /^headers: a line longer than the line length cap/]] },
  ] as const
  for (const c of cases) {
    const { lines } = await collect([join(dir, c.file)], { format: 'auto', maxLineBytes: 4096 })
    t.strictSame(lines.flatMap(p => (p.kind === 'record' ? [p.record.path] : [])), c.records, `${c.file}: the lines around the long one are read`)
    const bad = lines.flatMap(p => (p.kind === 'bad' ? [p.bad] : []))
    t.equal(bad.length, c.bad.length, `${c.file}: the long line is one bad line`)
    for (const [j, [line, reason]] of c.bad.entries()) {
      t.equal(bad[j]?.line, line, `${c.file}: at its line`)
      t.match(bad[j]?.reason, reason, `${c.file}: says why`)
      t.ok((bad[j]?.text.length ?? 0) <= 200, `${c.file}: a bounded text`)
    }
  }
  t.throws(() => readRecords([join(dir, 'long.log')], { format: 'auto', maxLineBytes: 0 }), TypeError)
})

t.test('readRecords counts, per file, the 206 lines of a combined or common log that have no Range field', async t => {
  const line = (status: number, range?: string) =>
    `192.0.2.1 - - [10/Oct/2025:13:55:01 +0000] "GET /f HTTP/1.1" ${status} 1 "-" "-"${range === undefined ? '' : ` "${range}"`}`
  const common = (status: number) => `192.0.2.1 - - [10/Oct/2025:13:55:01 +0000] "GET /f HTTP/1.1" ${status} 1`
  const dir = t.testdir({
    'default.log': [line(206), line(200), line(206), line(206, '-')].join('\n'),
    'with-range.log': [line(206, 'bytes=0-1'), line(200, '-')].join('\n'),
    'common.log': [common(206), common(200)].join('\n'),
    'a.jsonl': JSON.stringify({ time: '2025-10-10T13:56:01.007Z', method: 'GET', path: '/f', status: 206 }),
  })
  const { summary } = await collect(['default.log', 'with-range.log', 'common.log', 'a.jsonl'].map(f => join(dir, f)))
  t.strictSame(
    summary.files.map(f => f.rangeless206),
    [3, 0, 1, 0],
    'a 206 with no Range field, or "-", in combined and common logs; JSONL records what it has',
  )
})
