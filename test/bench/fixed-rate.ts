import { execFile } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'

/** bench/fixed-rate.mjs, the fixed-rate load generator of the mirror rows. */
const FIXED_RATE = fileURLToPath(new URL('../../../bench/fixed-rate.mjs', import.meta.url))

/** The sizes the mix expects (bench/lib/constants.mjs, plain ESM, no types). */
const { SMALL_SIZE, MID_SIZE, MiB } = (await import(new URL('../../../bench/lib/constants.mjs', import.meta.url).href)) as {
  SMALL_SIZE: number
  MID_SIZE: number
  MiB: number
}

/** byteAt is the content of every served file: each MiB is the same, its byte j being j mod 251. */
const byteAt = (i: number): number => (i % MiB) % 251

/** slice is bytes [a, b] of a served file. */
function slice(a: number, b: number): Buffer {
  const out = Buffer.allocUnsafe(b - a + 1)
  for (let i = 0; i < out.length; i++) out[i] = byteAt(a + i)
  return out
}

interface Seen {
  path: string
  /** The client's port: one per connection. */
  port: number
}

/**
 * mixServer answers the mix's three files (one range: 206; two ranges: multipart/byteranges, RFC
 * 9110 section 14.6) on a free port and records which connection each request came on.
 */
async function mixServer(t: Test): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = []
  const sizes: Record<string, number> = { '/small.json': SMALL_SIZE, '/1m.bin': MiB, '/64m.bin': MID_SIZE }
  const s = http.createServer((req, res) => {
    const size = sizes[req.url ?? '']
    seen.push({ path: req.url ?? '', port: req.socket.remotePort ?? 0 })
    if (size === undefined) return void res.writeHead(404).end()
    const ranges = /^bytes=(.*)$/.exec(req.headers.range ?? '')?.[1]?.split(',').map(r => r.split('-').map(Number) as [number, number])
    if (!ranges) {
      res.writeHead(200, { 'content-length': size })
      // The 64 MiB body is written in 1 MiB pieces (all the same, see byteAt) as the client takes
      // them: never all held at once.
      const piece = slice(0, MiB - 1)
      let sent = 0
      const more = (): void => {
        while (sent < size) {
          const n = Math.min(MiB - (sent % MiB), size - sent)
          const chunk = sent % MiB === 0 && n === MiB ? piece : slice(sent, sent + n - 1)
          sent += n
          if (!res.write(chunk)) return void res.once('drain', more)
        }
        res.end()
      }
      return more()
    }
    if (ranges.length === 1) {
      const [a, b] = ranges[0]!
      return void res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${size}` }).end(slice(a, b))
    }
    const parts = ranges.map(([a, b]) =>
      Buffer.concat([Buffer.from(`--B0UND\r\ncontent-range: bytes ${a}-${b}/${size}\r\n\r\n`), slice(a, b), Buffer.from('\r\n')]),
    )
    res.writeHead(206, { 'content-type': 'multipart/byteranges; boundary=B0UND' }).end(Buffer.concat([...parts, Buffer.from('--B0UND--\r\n')]))
  })
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => s.close(() => resolve())))
  return { port: (s.address() as AddressInfo).port, seen }
}

t.test('fixed-rate --mix: every class answered and checked, the small file on connections of its own', async t => {
  const { port, seen } = await mixServer(t)
  // 20 requests: one short deck, which holds every kind (16 small, one 1 MiB, one of each range, one 64 MiB).
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [FIXED_RATE, '--url', `http://127.0.0.1:${port}`, '--mix', 'mirror-mixed', '--rate', '200', '--duration', '0.1', '--connections', '2', '--timeout', '20'],
    { timeout: 60_000 },
  )
  const out = JSON.parse(stdout) as {
    scheduled: number
    completed: number
    failed: number
    classes: Record<string, { scheduled: number; completed: number; failed: number }>
  }
  t.equal(out.scheduled, 20)
  t.equal(out.completed, 20, 'every request answered as planned')
  t.equal(out.failed, 0)
  t.strictSame(
    Object.fromEntries(['small', '1m', 'range', '64m'].map(c => [c, [out.classes[c]!.scheduled, out.classes[c]!.completed]])),
    { small: [16, 16], '1m': [1, 1], range: [2, 2], '64m': [1, 1] },
    'per class: scheduled, completed',
  )
  // Each class group comes from its own thread and pool: no connection carries two groups. With one
  // pool for every class (the generator before), connections carried several groups: this check failed.
  const group = (s: Seen): string => (s.path === '/small.json' ? 'small' : s.path === '/64m.bin' ? '64m' : '1m and ranges')
  const groupsOf = new Map<number, Set<string>>()
  for (const s of seen) groupsOf.set(s.port, (groupsOf.get(s.port) ?? new Set()).add(group(s)))
  t.equal(seen.length, 20, 'the server saw every request once')
  t.strictSame([...groupsOf.values()].filter(g => g.size > 1).map(g => [...g].sort()), [], 'no connection shared between class groups')
})

t.test('fixed-rate --pace: a paced reader still gets every answer whole; --pace-after alone is refused', async t => {
  const { port, seen } = await mixServer(t)
  const run = promisify(execFile)
  const base = [FIXED_RATE, '--url', `http://127.0.0.1:${port}`, '--mix', 'mirror-mixed', '--rate', '200', '--duration', '0.1', '--connections', '2', '--timeout', '20']
  // 512 MiB/s past the first MiB: the 64 MiB answer is read in about 0.12 s more than unpaced.
  const { stdout } = await run(process.execPath, [...base, '--pace', String(512 * MiB), '--pace-after', String(MiB)], { timeout: 60_000 })
  const out = JSON.parse(stdout) as { scheduled: number; completed: number; failed: number; bytes: number }
  t.equal(out.completed, 20, 'every request answered as planned, paced')
  t.equal(out.failed, 0)
  t.equal(seen.length, 20)
  const refused = await run(process.execPath, [...base, '--pace-after', String(MiB)], { timeout: 60_000 }).then(
    () => null,
    (e: { code?: number; stderr?: string }) => e,
  )
  t.not(refused, null, '--pace-after without --pace fails')
  t.match(refused?.stderr ?? '', /--pace-after needs --pace/)
})
