import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { run, waitForOutput, withTimeout } from '../helpers/e2e.js'
import { heldListen, listen } from '../helpers/gate.js'
import { deadPort } from '../helpers/nginx.js'
import { CLI, REPO, exited, requireTool, startServe } from '../helpers/serve.js'

/**
 * What `cutover mirror` and `cutover replay` write to a terminal and to pipes: no escape sequence
 * and no carriage return without a terminal, warnings never glued onto the status line, the summary
 * after the stop message, and a progress bar that counts range probes.
 */

/** ESC_OR_CR matches the bytes that drive a terminal: ESC (0x1b) and a carriage return. */
const ESC_OR_CR = /[\x1b\r]/

/** fixed answers every request with `body`. */
const fixed = (body: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/**
 * merged starts `node CLI args` with stderr joined to stdout on one pipe (not a terminal), so the
 * output keeps the order the command wrote it in. The child is killed at teardown.
 */
function merged(t: Test, args: readonly string[]): { child: ChildProcess; output: () => string } {
  const child = spawn('sh', ['-c', 'exec "$@" 2>&1', 'sh', process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let out = ''
  child.stdout!.setEncoding('latin1').on('data', (d: string) => (out += d))
  return { child, output: () => out }
}

/** underPty runs `node CLI args` on a pseudo-terminal (python3's pty); what it shows is `screen()`. */
function underPty(t: Test, args: readonly string[]): { child: ChildProcess; screen: () => string } {
  const child = spawn('python3', ['-c', 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)', process.execPath, CLI, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let screen = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (screen += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (screen += d))
  return { child, screen: () => screen }
}

const get = async (url: string): Promise<number> => {
  const res = await request(url)
  await res.body.arrayBuffer()
  return res.statusCode
}

t.test('mirror without a terminal: no ESC or CR byte, the log in JSON, the summary whole and after the stop message', async t => {
  const nw = await listen(t, fixed('new\n'))
  const dead = `http://127.0.0.1:${await deadPort()}`
  const { child, output } = merged(t, ['mirror', '--listen', '127.0.0.1:0', '--old', dead, '--new', nw.url, '--status-interval', '20ms', '--shed-above', '1'])
  await waitForOutput(child, output, /listening on http:\/\/\S+/)
  const url = /listening on (http:\/\/[^\s)]+)/.exec(output())![1]!
  t.equal(await get(`${url}/f`), 502, 'the primary is down: the client gets a 502')
  // A warning from the mirror's logger while status lines are printed.
  await waitForOutput(child, output, /"msg":"primary failed"[^\n]*\n/)
  await waitForOutput(child, output, /^cutover mirror: requests 1 /m)
  child.kill('SIGINT')
  t.equal(await withTimeout(exited(child), 10_000, 'mirror to exit'), 0)
  const out = output()
  t.notOk(ESC_OR_CR.test(out), 'not one ESC or CR byte')
  const warning = out.split('\n').find(l => l.includes('primary failed'))!
  t.match(JSON.parse(warning), { level: 40, msg: 'primary failed', path: '/f', primary: 'old' }, 'the log line is whole JSON, on a line of its own')
  const pending = /SIGINT: draining, up to 30000 ms \((\d+) (comparisons?) pending\)\n/.exec(out)
  t.ok(pending, 'the stop message, on its own line')
  if (pending) t.equal(pending[2], pending[1] === '1' ? 'comparison' : 'comparisons', 'its count agrees with its noun')
  const stop = out.indexOf('SIGINT: draining')
  const summary = out.search(/cutover mirror: stopped\n {2}requests 1 {2}compared \d+ {2}divergent \d+ {2}noise 0 {2}dropped 0 {2}abandoned 0 {2}skipped 0\n {2}shed 0 [^\n]*\n {2}divergent comparisons by kind: [^\n]*\n/)
  t.ok(summary > stop && stop >= 0, `the summary, whole, after the stop message: ${out}`)
})

t.test('mirror on a terminal: a warning erases the status line, is one readable line, and the line is redrawn; the summary comes after the stop message', async t => {
  if (!requireTool(t, 'python3')) return
  const nw = await listen(t, fixed('new\n'))
  const dead = `http://127.0.0.1:${await deadPort()}`
  const { child, screen } = underPty(t, ['mirror', '--listen', '127.0.0.1:0', '--old', dead, '--new', nw.url, '--status-interval', '20ms', '--shed-above', '1'])
  await waitForOutput(child, screen, /listening on http:\/\/\S+/)
  const url = /listening on (http:\/\/[^\s)]+)/.exec(screen())![1]!
  // The status line is drawn before the warning comes.
  await waitForOutput(child, screen, /\rrequests 0 [^\r\n]*\x1b\[K/)
  t.equal(await get(`${url}/f`), 502)
  await waitForOutput(child, screen, /warn: primary failed[^\r\n]*\r\n\rrequests/)
  t.match(
    screen(),
    /\r\x1b\[Kcutover mirror: warn: primary failed \(err="[^"\r\n]+", path=\/f, primary=old\)\r\n\rrequests \d [^\r\n]*\x1b\[K/,
    'erase the status line, the warning on a line of its own, then the status line again',
  )
  t.notMatch(screen(), /"level"|"msg"/, 'no JSON on a terminal')
  await waitForOutput(child, screen, /\rrequests 1 /)
  child.stdin!.write('\x03')
  t.equal(await withTimeout(exited(child), 10_000, 'mirror under a pty to exit'), 0)
  const s = screen()
  t.match(s, /\r\x1b\[Kcutover mirror: SIGINT: draining, up to 30000 ms \(\d+ comparisons? pending\)\r\n/, 'the stop message, the status line erased first')
  t.match(s, /\r\x1b\[Kcutover mirror: stopped\r\n {2}requests 1 {2}compared 1 /, 'the status line erased, then the summary on lines of its own')
  t.ok(s.indexOf('SIGINT: draining') < s.indexOf('cutover mirror: stopped'), 'the summary after the stop message')
  t.notMatch(s.slice(s.indexOf('cutover mirror: stopped')), /\rrequests/, 'no status line drawn over or after the summary')
})

t.test('replay without a terminal, interrupted: no ESC or CR byte, the summary whole and after the stop message', async t => {
  const line = (path: string) =>
    JSON.stringify({ time: '2025-10-10T13:56:01.007Z', remote: '127.0.0.1', method: 'GET', path, headers: {}, status: 200, bytes: 4, durationMs: 1, aborted: false })
  const dir = t.testdir({ 'log.jsonl': `${line('/a')}\n${line('/b')}\nnot json\n${line('/c')}\n` })
  // Old and new are one server that holds every request until the test releases them.
  const held = await heldListen(t, fixed('one\n'))
  const { child, output } = merged(t, ['replay', join(dir, 'log.jsonl'), '--old', held.url, '--new', held.url, '--concurrency', '1'])
  await withTimeout(held.arrived.promise, 10_000, 'the first request')
  child.kill('SIGINT')
  await waitForOutput(child, output, /stopping: letting the exchanges in flight finish/)
  held.release.open()
  t.equal(await withTimeout(exited(child), 10_000, 'replay to exit'), 0, `exit 0: ${output()}`)
  const out = output()
  t.notOk(ESC_OR_CR.test(out), 'not one ESC or CR byte')
  const stop = out.indexOf('cutover replay: stopping')
  const summary = out.search(
    /cutover replay: interrupted in [\d.]+ s\n {2}records \d+ {2}bad lines \d+ {2}filtered 0 {2}sent \d+ {2}probes 0 \(verified 0, unverified 0\)\n {2}compared \d+ {2}divergent 0 {2}noise 0 {2}bytes compared \d+\n {2}divergent comparisons by kind: none\n/,
  )
  t.ok(stop >= 0 && summary > stop, `the summary, whole, after the stop message: ${out}`)
})

t.test('replay on a terminal with --range-probes: the bar counts records and probes and ends full at what was sent; bad lines are printed around it', async t => {
  if (!requireTool(t, 'script')) return
  const dir = t.testdir({})
  cpSync(join(REPO, 'fixtures/blobs'), join(dir, 'blobs'), { recursive: true, preserveTimestamps: true })
  const a = await startServe(t, join(dir, 'blobs'))
  const log = join(REPO, 'fixtures/logs/nginx-combined.txt')
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, CLI, 'replay', log, '--old', a.url, '--new', a.url, '--range-probes', '3'].map(q).join(' ')
  const r = await run('script', ['-qec', command, '/dev/null'], { timeoutMs: 60_000 })
  t.equal(r.code, 0, `exit 0: ${r.stdout}${r.stderr}`)
  const s = r.stdout
  const sum = /cutover replay: done in [\d.]+ s\r\n {2}records (\d+) {2}bad lines (\d+) {2}filtered 0 {2}sent (\d+) {2}probes (\d+) [^\r\n]*\r\n {2}compared (\d+) /.exec(s)
  t.ok(sum, `the summary: ${s}`)
  if (!sum) return
  const [, , bad, sent, probes, compared] = sum.map(Number)
  t.ok(probes! > 0, 'probes were sent')
  t.equal(compared, sent! + probes!, 'one comparison per record and per probe')
  // The last frame, kept above the summary (a newline after it: CR LF on a terminal).
  const frames = s.slice(0, s.indexOf('cutover replay: done')).split('\r').filter(f => f.includes('%'))
  const last = frames.at(-1) ?? ''
  t.match(last, new RegExp(`^█+ 100% ${compared}/${compared} requests \\(${probes} probes\\) \\| \\d+/s \\| 0 divergent \\| ${bad} bad lines\\x1b\\[K$`), 'the last frame: full, at exactly what was sent')
  t.notOk(
    frames.slice(0, -1).some(f => / 100% /.test(f)),
    'no frame before the last is full',
  )
  // One assertion whatever the number of frames (it depends on timing), so the count of tests is fixed.
  const beyond = frames.map(f => / (\d+)\/(\d+) requests/.exec(f)).filter(m => m !== null && Number(m[1]) > Number(m[2])).map(m => m![0])
  t.strictSame(beyond, [], `no frame beyond its total (of ${frames.length} frames)`)
  t.match(s, /\r\x1b\[K[^\r\n]*nginx-combined\.txt:14: [^\r\n]*\r\n\r/, 'a bad line erases the bar, is printed on its own line, then the bar is redrawn')
  t.notMatch(s, /[░█]+ \d+%[^\r\n]*nginx-combined\.txt:/, 'never glued onto the bar')
})
