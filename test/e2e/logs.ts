// Records are never lost: the access log of `cutover serve`, the capture of `cutover mirror`, their
// timed flush and their reopening for logrotate, against real processes on loopback. No sleeps:
// every wait is on an event or a bounded poll of the file.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { prngBytes, readJsonl, withTimeout } from '../helpers/e2e.js'
import { CLI, exited, spawnListening, startServeProcess } from '../helpers/serve.js'

const SIZE = 64 * 1024 * 1024

/** fixture makes a root with one large file (a download that cannot finish while its client pauses). */
function fixture(): { root: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-logs-'))
  const root = join(dir, 'root')
  mkdirSync(root)
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(SIZE, 7))
  writeFileSync(join(root, 'small.txt'), prngBytes(100, 1))
  return { root, dir }
}

/**
 * slowDownload asks for `path` on `url` over a raw socket, reads until the first body bytes arrived,
 * then stops reading (the download stays in flight). Resolves with the socket and the count of
 * body bytes the client has received so far (a getter: more may arrive before the pause bites).
 */
async function slowDownload(url: string, path: string): Promise<{ socket: Socket; received: () => number }> {
  const u = new URL(url)
  const socket = connect(Number(u.port), u.hostname)
  let raw = Buffer.alloc(0)
  let headerEnd = -1
  let body = 0
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.on('data', (d: Buffer) => {
        if (headerEnd < 0) {
          raw = Buffer.concat([raw, d])
          const i = raw.indexOf('\r\n\r\n')
          if (i < 0) return
          headerEnd = i + 4
          body += raw.length - headerEnd
        } else body += d.length
        if (body > 0) {
          socket.pause()
          resolve()
        }
      })
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)
    }),
    10_000,
    'first body bytes',
  )
  return { socket, received: () => body }
}

/** summaryBytes reads `N body bytes` from serve's stop line. */
function summaryBytes(out: string): number {
  const m = /stopped.*; (\d+) requests, (\d+) body bytes, (\d+) aborted/.exec(out)
  return m ? Number(m[2]) : -1
}

t.test('serve: SIGINT with a download in flight past --grace: exit 0, summary, the cut download logged and counted', async t => {
  const { root, dir } = fixture()
  const log = join(dir, 'access.jsonl')
  const s = await startServeProcess(t, root, ['--grace', '2s', '--access-log', log, '--piece-size', '64k'])
  const dl = await slowDownload(s.url, '/big.bin')
  t.teardown(() => dl.socket.destroy())
  s.child.kill('SIGINT')
  const code = await withTimeout(exited(s.child), 20_000, 'serve to exit')
  const out = s.output()
  t.equal(code, 0, `exit 0 (output: ${out})`)
  t.notMatch(out, /SonicBoom/, 'no crash')
  t.match(out, /stopped \(grace period over/, 'the summary is printed')
  const records = readJsonl(log)
  t.equal(records.length, 1, 'the cut download is in the access log')
  const r = records[0] ?? {}
  t.equal(r.aborted, true, 'recorded as aborted')
  t.equal(r.status, 200)
  const bytes = Number(r.bytes)
  t.ok(bytes >= dl.received() && bytes > 0, `the record counts at least what the client got (${bytes} >= ${dl.received()})`)
  t.ok(bytes < SIZE, `and not the whole file (${bytes} < ${SIZE})`)
  t.equal(summaryBytes(out), bytes, 'the summary counts the bytes the log records')
})

t.test('mirror --capture: SIGINT with a download in flight past --grace: exit 0, summary, the cut download captured', async t => {
  const { root, dir } = fixture()
  const capture = join(dir, 'capture.jsonl')
  const backend = await startServeProcess(t, root)
  const m = await spawnListening(
    t,
    process.execPath,
    [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', backend.url, '--new', backend.url, '--capture', capture, '--grace', '2s', '--sample', '0'],
    'cutover mirror',
  )
  const dl = await slowDownload(m.url, '/big.bin')
  t.teardown(() => dl.socket.destroy())
  m.child.kill('SIGINT')
  const code = await withTimeout(exited(m.child), 20_000, 'mirror to exit')
  const out = m.output()
  t.equal(code, 0, `exit 0 (output: ${out})`)
  t.notMatch(out, /SonicBoom/, 'no crash')
  t.match(out, /cutover mirror: stopped/, 'the summary is printed')
  const records = readJsonl(capture)
  t.equal(records.length, 1, 'the cut download is in the capture')
  const r = records[0] ?? {}
  t.equal(r.aborted, true, 'recorded as aborted')
  t.equal(r.status, 200)
  const bytes = Number(r.bytes)
  t.ok(bytes >= dl.received() && bytes > 0 && bytes < SIZE, `bytes ${bytes} between what the client got (${dl.received()}) and the size`)
})
