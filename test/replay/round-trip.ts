import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { captureRecord, type ClientExchange } from '../../src/audit/capture-record.js'
import { readRecords } from '../../src/replay/read-records.js'
import type { ParsedLine } from '../../src/replay/record.js'
import { AccessLog, accessRecordHeaders, type AccessRecord } from '../../src/telemetry/access-log.js'

/**
 * What Node.js can hand to `serve` and `mirror` as a request: every target form it accepts
 * (origin, absolute, `*`, authority), header values with obs-text bytes (Node gives them as latin1
 * characters), and every outcome (answered, cut, cancelled before any status: status 0).
 */
interface Case {
  title: string
  method: string
  url: string
  headers?: Record<string, string>
  status: number
  aborted?: boolean
  /** What replay makes of the line: the request it replays, or `skipped` (counted apart, not bad). */
  want: { path: string; headers?: Record<string, string>; status?: number } | 'skipped'
}
const CASES: Case[] = [
  { title: 'a plain GET', method: 'GET', url: '/nums11.txt', status: 200, want: { path: '/nums11.txt', status: 200 } },
  { title: 'a range', method: 'GET', url: '/nums11.txt', headers: { range: 'bytes=0-1,5-6', 'if-range': '"0b-1"' }, status: 206, want: { path: '/nums11.txt', headers: { range: 'bytes=0-1,5-6', 'if-range': '"0b-1"' }, status: 206 } },
  { title: 'a conditional GET', method: 'GET', url: '/a?b=c//d', headers: { 'if-none-match': 'W/"x", "y"', 'if-modified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' }, status: 304, want: { path: '/a?b=c//d', headers: { 'if-none-match': 'W/"x", "y"', 'if-modified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' }, status: 304 } },
  { title: 'an obs-text header value (bytes 0x80-0xFF)', method: 'GET', url: '/x', headers: { 'if-match': '"caf\u00e9\u00ff"' }, status: 412, want: { path: '/x', headers: { 'if-match': '"caf\u00e9\u00ff"' }, status: 412 } },
  { title: 'cancelled before any status (status 0)', method: 'GET', url: '/big.bin', status: 0, aborted: true, want: { path: '/big.bin' } },
  { title: 'cut mid-body', method: 'GET', url: '/big.bin', status: 200, aborted: true, want: { path: '/big.bin', status: 200 } },
  { title: 'HEAD', method: 'HEAD', url: '/nums11.txt', status: 200, want: { path: '/nums11.txt', status: 200 } },
  { title: 'an absolute-form target', method: 'GET', url: 'http://example.test/dl//f.bin?x=a//b', status: 400, want: { path: '/dl//f.bin?x=a//b', status: 400 } },
  { title: 'an odd method and a percent-encoded path', method: 'PROPFIND', url: '/snow%E2%98%83', status: 405, want: { path: '/snow%E2%98%83', status: 405 } },
  { title: 'OPTIONS * (asterisk-form)', method: 'OPTIONS', url: '*', status: 400, want: 'skipped' },
  { title: 'CONNECT (authority-form)', method: 'CONNECT', url: 'example.test:443', status: 400, want: 'skipped' },
]

const fakeRequest = (c: Case) => ({ method: c.method, url: c.url, headers: c.headers ?? {} }) as unknown as IncomingMessage

/** serveRecord is the record `serve --access-log` writes when a response closes (see Server). */
const serveRecord = (c: Case): AccessRecord => ({
  time: '2025-10-10T13:56:01.007Z',
  remote: '::ffff:127.0.0.1',
  method: c.method,
  path: c.url,
  headers: accessRecordHeaders(fakeRequest(c)),
  status: c.status,
  bytes: c.status === 0 ? 0 : 11,
  durationMs: 0.125,
  aborted: c.aborted ?? false,
})
const mirrorRecord = (c: Case): AccessRecord => {
  const e: ClientExchange = { startMs: 1_760_104_561_007, remote: '127.0.0.1', status: c.status, bytes: 0, durationMs: 3, aborted: c.aborted ?? false }
  return captureRecord(fakeRequest(c), e)
}

t.test('every record serve --access-log and mirror --capture write is read back by replay: replayed or skipped, never bad', async t => {
  const dir = t.testdir({})
  for (const [writer, make] of [['serve --access-log', serveRecord], ['mirror --capture', mirrorRecord]] as const) {
    const file = join(dir, `${writer.split(' ')[0]}.jsonl`)
    const log = new AccessLog(file)
    for (const c of CASES) log.write(make(c))
    await log.close()
    const reader = readRecords([file], { format: 'auto' })
    const lines: ParsedLine[] = []
    for await (const p of reader) lines.push(p)
    t.same(lines.filter(p => p.kind === 'bad'), [], `${writer}: no bad line`)
    const records = lines.flatMap(p => (p.kind === 'record' ? [p.record] : []))
    const replayed = CASES.flatMap((c, i) => (c.want === 'skipped' ? [] : [{ c, line: i + 1, want: c.want }]))
    t.equal(records.length, replayed.length, `${writer}: every replayable record is replayed`)
    for (const [i, r] of replayed.entries()) {
      const got = records[i]
      t.strictSame(
        got && { line: got.line, method: got.method, path: got.path, headers: got.headers, status: got.status },
        { line: r.line, method: r.c.method, path: r.want.path, headers: r.want.headers ?? {}, status: r.want.status },
        `${writer}: ${r.c.title}`,
      )
    }
    t.equal(reader.summary.skipped, CASES.length - replayed.length, `${writer}: targets no replay can send are counted as skipped`)
  }
})

t.test('mirror --capture keeps a signed link without its signature', async t => {
  const cases: Array<[string, string]> = [
    ['/dl/f.zip?sig-kid=k1&sig-exp=1767225600&sig-m=GET&sig=n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg', '/dl/f.zip?sig-kid=k1&sig-exp=1767225600&sig-m=GET&sig=REDACTED'],
    ['/dl/f.zip?v=1', '/dl/f.zip?v=1'],
  ]
  for (const [url, want] of cases) {
    const r = mirrorRecord({ title: url, method: 'GET', url, status: 200, want: { path: url, status: 200 } })
    t.equal(r.path, want, url)
  }
})
