/**
 * Downloads aborted mid-body and a burst of concurrent connections, against an in-process
 * DownloadServer (so that its counters and the process's descriptors can be read). Invariants: the
 * server stays up and answers correctly, `stats.active` returns to 0, every descriptor it opened is
 * closed again (the count in /proc/self/fd returns to its level), and every complete answer has the
 * right bytes.
 */
import { readdirSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { withTimeout, writeLargeFile } from '../helpers/e2e.js'
import { mulberry32, seededBytes } from '../helpers/random.js'
import { exchange, requestBytes } from '../helpers/raw-http.js'
import { startServe } from '../helpers/serve.js'

const ABORTS = 300
const CONCURRENT = 300
const MiB = 1024 * 1024

const openFds = (): number => readdirSync('/proc/self/fd').length

const dir = t.testdir({})
const BIG = 8 * MiB
writeLargeFile(join(dir, 'big.bin'), BIG / MiB, 11)
const small = seededBytes(5, 40_000)
writeFileSync(join(dir, 'small.bin'), small)

const { url, server, resolver } = await startServe(t, dir, { pieceSize: 64 * 1024, smallFileMax: 64 * 1024 })
const port = Number(new URL(url).port)

/** Server-side connections still open; `drained()` resolves when there are none. */
let open = 0
let onDrained: (() => void) | undefined
server.server.on('connection', (s: Socket) => {
  open++
  s.once('close', () => {
    open--
    if (open === 0) onDrained?.()
  })
})
const drained = (what: string): Promise<void> =>
  withTimeout(
    new Promise<void>(resolve => {
      if (open === 0) resolve()
      else onDrained = resolve
    }),
    15_000,
    `every server connection closed after ${what}`,
  )

/** abortAfter requests `target` and destroys the socket once `after` bytes arrived; resolves on close. */
function abortAfter(target: string, range: string | undefined, after: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1')
    let got = 0
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`${target}: no ${after} bytes in 10 s`))
    }, 10_000)
    sock.on('data', (d: Buffer) => {
      got += d.length
      if (got >= after) sock.destroy()
    })
    sock.on('error', () => undefined)
    sock.on('close', () => {
      clearTimeout(timer)
      resolve(got)
    })
    sock.write(requestBytes('GET', target, range ? [['Range', range]] : []))
  })
}

/** pool runs `n` tasks with at most `width` at once. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    for (let i = next++; i < n; i = next++) await task(i)
  }))
}

// Warm up: the open-file cache then holds big.bin's descriptor, a level the rest must return to.
// The descriptors the store keeps for sharing are not counted: one idle for 30 s is closed, which
// happens in the middle of a slow run (a loaded machine), and is not a leak.
const fdCount = (): number => openFds() - resolver.store.sharedFiles
let baseline = 0
t.before(async () => {
  const warm = await exchange(url, requestBytes('GET', '/big.bin', [['Range', 'bytes=0-0']]))
  if (warm.responses[0]?.status !== 206) throw new Error('warm-up: no 206')
  await exchange(url, requestBytes('GET', '/small.bin'))
  await drained('the warm-up')
  baseline = fdCount()
})

t.test(`${ABORTS} downloads aborted mid-body`, async t => {
  const rnd = mulberry32(99)
  const abortedBefore = server.stats.aborted
  await pool(ABORTS, 20, async i => {
    const k = rnd()
    // Mostly the streamed file (whole or a large range), some multipart, some small files.
    const [target, range] =
      k < 0.6 ? ['/big.bin', undefined] : k < 0.8 ? ['/big.bin', `bytes=${Math.floor(rnd() * MiB)}-`] : k < 0.9 ? ['/big.bin', 'bytes=0-3000000,4000000-7999999'] : ['/small.bin', undefined]
    await abortAfter(target!, range, 1 + Math.floor(rnd() * 200_000) + (i % 7))
  })
  await drained('the aborts')
  t.equal(server.stats.active, 0, 'stats.active is back to 0')
  t.ok(server.stats.aborted - abortedBefore >= ABORTS * 0.8, `${server.stats.aborted - abortedBefore} responses seen as aborted`)
  const fds = fdCount()
  // At most the warm-up's level: a socket of the warm-up may still have been closing when it was taken.
  t.ok(fds <= baseline, `no descriptor leaked (${fds}, warm-up level ${baseline})`)
})

t.test(`${CONCURRENT} concurrent connections`, async t => {
  const rnd = mulberry32(7)
  const reqs = Array.from({ length: CONCURRENT }, () => {
    const a = Math.floor(rnd() * (BIG - 70_000))
    return rnd() < 0.5 ? { target: '/small.bin', range: undefined, a: 0, b: small.length - 1 } : { target: '/big.bin', range: `bytes=${a}-${a + 65_535}`, a, b: a + 65_535 }
  })
  const bigBytes = await import('node:fs').then(fs => fs.readFileSync(join(dir, 'big.bin')))
  const results = await Promise.all(reqs.map(q => exchange(url, requestBytes('GET', q.target, q.range ? [['Range', q.range]] : []), 20_000)))
  let wrong = 0
  for (let i = 0; i < reqs.length; i++) {
    const q = reqs[i]!
    const r = results[i]!.responses[0]
    const want = q.target === '/small.bin' ? small : bigBytes.subarray(q.a, q.b + 1)
    if (!r || r.status !== (q.range ? 206 : 200) || !r.body.equals(want)) wrong++
  }
  t.equal(wrong, 0, 'every answer complete and right')
  await drained('the burst')
  t.equal(server.stats.active, 0, 'stats.active is back to 0')
  const fds = fdCount()
  // At most the warm-up's level: a socket of the warm-up may still have been closing when it was taken.
  t.ok(fds <= baseline, `no descriptor leaked (${fds}, warm-up level ${baseline})`)
})

t.test('the server still answers correctly', async t => {
  t.ok(server.server.listening, 'still listening')
  const r = await exchange(url, requestBytes('GET', '/small.bin'))
  t.equal(r.responses[0]?.status, 200)
  t.ok(r.responses[0]?.body.equals(small), 'right bytes')
})
