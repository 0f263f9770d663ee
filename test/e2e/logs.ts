// Records are never lost: the access log of `cutover serve`, the capture of `cutover mirror`, their
// timed flush and their reopening for logrotate, against real processes on loopback. No sleeps:
// every wait is on an event or a bounded poll of the file.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname as dirOf, join } from 'node:path'
import t, { type Test } from 'tap'
import { prngBytes, readJsonl, waitForOutput, withTimeout } from '../helpers/e2e.js'
import { CLI, exited, requireTool, spawnListening, startServeProcess } from '../helpers/serve.js'

const SIZE = 64 * 1024 * 1024

/**
 * fixture makes a root with one large file (a download that cannot finish while its client pauses),
 * removed when this file's tests end.
 */
function fixture(): { root: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-logs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
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
  const m = /stopped.*; (\d+) requests?, (\d+) body bytes?, (\d+) aborted/.exec(out)
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

/** linesOf reads a JSONL file's records ([] while it does not exist). */
const linesOf = (path: string): Record<string, unknown>[] => (existsSync(path) ? readJsonl(path) : [])

/**
 * waitLines polls `path` until it holds at least `n` lines: bounded (100 polls 50 ms apart, 5 s,
 * well past the 1 s flush interval), and the caller asserts on what it returns.
 */
async function waitLines(path: string, n: number): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 100; i++) {
    const got = linesOf(path)
    if (got.length >= n) return got
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return linesOf(path)
}

/** get asks for `path` and reads the whole answer. */
async function get(base: string, path: string): Promise<number> {
  const r = await fetch(new URL(path, base))
  await r.arrayBuffer()
  return r.status
}

t.test('serve --access-log: lines reach the disk within the flush interval, and stay there after kill -9', async t => {
  const { root, dir } = fixture()
  const log = join(dir, 'access.jsonl')
  const s = await startServeProcess(t, root, ['--access-log', log])
  for (let i = 0; i < 5; i++) t.equal(await get(s.url, `/small.txt?n=${i}`), 200)
  const seen = await waitLines(log, 5)
  t.strictSame(seen.map(r => r.path), [0, 1, 2, 3, 4].map(i => `/small.txt?n=${i}`), 'all five on disk while serve runs')
  s.child.kill('SIGKILL')
  await withTimeout(exited(s.child), 10_000, 'serve to die')
  t.equal(linesOf(log).length, 5, 'still five after kill -9')
})

t.test('mirror --capture and --out: lines reach the disk within the flush interval, and stay there after kill -9', async t => {
  const a = fixture()
  const b = fixture()
  writeFileSync(join(b.root, 'small.txt'), 'another body')
  const capture = join(a.dir, 'capture.jsonl')
  const out = join(a.dir, 'divergences.jsonl')
  const old = await startServeProcess(t, a.root)
  const nw = await startServeProcess(t, b.root)
  const m = await spawnListening(
    t,
    process.execPath,
    [CLI, 'mirror', '--listen', '127.0.0.1:0', '--old', old.url, '--new', nw.url, '--capture', capture, '--out', out],
    'cutover mirror',
  )
  for (let i = 0; i < 5; i++) t.equal(await get(m.url, `/small.txt?n=${i}`), 200)
  t.equal((await waitLines(capture, 5)).length, 5, 'five capture lines on disk while the mirror runs')
  t.equal((await waitLines(out, 5)).length, 5, 'five divergent comparisons on disk while the mirror runs')
  m.child.kill('SIGKILL')
  await withTimeout(exited(m.child), 10_000, 'mirror to die')
  t.equal(linesOf(capture).length, 5, 'capture still complete after kill -9')
  t.equal(linesOf(out).length, 5, '--out still complete after kill -9')
})

/** paths lists the request targets of a JSONL access log, in order. */
const paths = (path: string): unknown[] => linesOf(path).map(r => r.path)

/**
 * rotation serves `before` requests, rotates the access log with `rotate` (which must move the
 * file to `<log>.1` and signal serve), waits for serve to say it reopened, serves `after` more, stops
 * serve, and checks each file has exactly its own lines.
 */
async function rotation(t: Test, rotate: (log: string, pid: number) => void, signal: string): Promise<void> {
  const { root, dir } = fixture()
  const log = join(dir, 'access.jsonl')
  const s = await startServeProcess(t, root, ['--access-log', log])
  const want = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `/small.txt?n=${from + i}`)
  for (let i = 0; i < 4; i++) await get(s.url, `/small.txt?n=${i}`)
  t.equal((await waitLines(log, 4)).length, 4, 'the lines before the rotation are on disk')
  rotate(log, s.child.pid ?? 0)
  await waitForOutput(s.child, s.output, new RegExp(`${signal}: reopened 1 log file`))
  for (let i = 4; i < 10; i++) await get(s.url, `/small.txt?n=${i}`)
  s.child.kill('SIGINT')
  t.equal(await withTimeout(exited(s.child), 10_000, 'serve to exit'), 0, 'serve still runs after the signal, and stops cleanly')
  t.strictSame(paths(`${log}.1`), want(0, 4), 'the rotated file has the lines before, once each')
  t.strictSame(paths(log), want(4, 10), 'the new file has the lines after, once each')
}

t.test('serve: logrotate (create mode, postrotate kill -HUP) loses and repeats no line', async t => {
  if (!requireTool(t, 'logrotate')) return
  await rotation(
    t,
    (log, pid) => {
      const conf = join(dirOf(log), 'logrotate.conf')
      writeFileSync(
        conf,
        `${log} {\n  rotate 3\n  create\n  nocompress\n  missingok\n  postrotate\n    kill -HUP ${pid}\n  endscript\n}\n`,
      )
      const r = spawnSync('logrotate', ['--force', '--state', join(dirOf(log), 'logrotate.state'), conf], { encoding: 'utf8', timeout: 10_000 })
      t.equal(r.status, 0, `logrotate ran (${r.stderr})`)
      t.ok(existsSync(`${log}.1`), 'logrotate moved the log')
    },
    'SIGHUP',
  )
})

t.test('serve: SIGUSR1 after a move reopens the log too', async t => {
  await rotation(
    t,
    (log, pid) => {
      renameSync(log, `${log}.1`)
      process.kill(pid, 'SIGUSR1')
    },
    'SIGUSR1',
  )
})

t.test('serve without a log: SIGHUP no longer ends it', async t => {
  const { root } = fixture()
  const s = await startServeProcess(t, root)
  s.child.kill('SIGHUP')
  await waitForOutput(s.child, s.output, /SIGHUP: reopened 0 log file/)
  t.equal(await get(s.url, '/small.txt'), 200, 'still serving')
  s.child.kill('SIGINT')
  t.equal(await withTimeout(exited(s.child), 10_000, 'serve to exit'), 0)
})


