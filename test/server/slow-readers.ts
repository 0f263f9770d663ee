import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { BufferBudget, type Lease } from '../../src/http/buffer-budget.js'
import { DownloadServer } from '../../src/server/server.js'
import { seededBytes } from '../helpers/random.js'
import { directoryResolver, exited, startServeProcess } from '../helpers/serve.js'

const PIECE = 64 * 1024
const SLOTS = 16
/**
 * Larger than what the socket buffers of a loopback connection whose client does not read absorb
 * (3.7 MB here), so that every download is stuck mid-body until its reader resumes.
 */
const FILE_SIZE = 6 * 1024 * 1024 + 12345
const READERS = 200
/** Readers that hang up while queued, to check that an abort gives its place back. */
const QUITTERS = 20
/** Readers that hang up mid-body, to check that a download cut short gives back what it holds. */
const CUTTERS = 10

/**
 * CountingBudget is a BufferBudget that resolves `asked` once `want` downloads (told apart by
 * their AbortSignal) have called acquire, so the test knows, without sleeping, that every download
 * has asked for its first piece.
 */
class CountingBudget extends BufferBudget {
  readonly #seen = new WeakSet<AbortSignal>()
  #count = 0
  readonly asked: Promise<void>
  #resolve!: () => void
  constructor(readonly want: number) {
    super({ bytes: SLOTS * PIECE, pieceSize: PIECE })
    this.asked = new Promise(resolve => (this.#resolve = resolve))
  }
  override acquire(signal?: AbortSignal): Promise<Lease> {
    if (signal && !this.#seen.has(signal)) {
      this.#seen.add(signal)
      if (++this.#count === this.want) this.#resolve()
    }
    return super.acquire(signal)
  }
}

/** Reader is a raw HTTP/1.1 client that sends its request and then reads nothing until resumed. */
interface Reader {
  readonly socket: Socket
  /** Resolves with the status line and the SHA-256 and length of the body once the server closes. */
  readonly done: Promise<{ status: string; sha: string; length: number }>
}

function slowReader(port: number, path: string): Reader {
  const socket = connect(port, '127.0.0.1')
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  socket.pause()
  const done = new Promise<{ status: string; sha: string; length: number }>((resolve, reject) => {
    let head = Buffer.alloc(0)
    let status: string | undefined
    const hash = createHash('sha256')
    let length = 0
    socket.on('data', (d: Buffer) => {
      if (status === undefined) {
        head = Buffer.concat([head, d])
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) return
        status = head.subarray(0, head.indexOf('\r\n')).toString('latin1')
        d = head.subarray(end + 4)
      }
      hash.update(d)
      length += d.length
    })
    socket.on('error', reject)
    socket.on('close', () => resolve({ status: status ?? '(none)', sha: hash.digest('hex'), length }))
  })
  done.catch(() => undefined)
  return { socket, done }
}

t.test('many slow readers: the buffers in flight never exceed the budget and every download completes', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-slow-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const data = seededBytes(42, FILE_SIZE)
  writeFileSync(join(dir, 'big.bin'), data)
  const want = createHash('sha256').update(data).digest('hex')

  const budget = new CountingBudget(READERS)
  const server = new DownloadServer({ resolver: directoryResolver(dir), logger: pino({ level: 'silent' }), budget })
  const { port } = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close(0))

  const readers = Array.from({ length: READERS }, () => slowReader(port, '/big.bin'))
  // Every download has asked for its first piece while no reader reads: the budget is spent.
  await budget.asked
  t.equal(budget.stats.inUse, budget.bytes, 'the whole budget is in use')
  t.ok(budget.stats.waiting >= READERS - 2 * SLOTS, `downloads wait for a piece (${budget.stats.waiting} waiting) rather than being refused`)

  // Some clients give up while queued: their place goes to the others.
  const quitters = readers.slice(-QUITTERS)
  for (const r of quitters) r.socket.destroy()
  // The first ones in were the first served: they hang up once some of the body has arrived.
  const cutters = readers.slice(0, CUTTERS)
  for (const r of cutters) {
    r.socket.once('data', () => r.socket.destroy())
    r.socket.resume()
  }
  const keep = readers.slice(CUTTERS, READERS - QUITTERS)
  for (const r of keep) r.socket.resume()
  const results = await Promise.all(keep.map(r => r.done))

  const wrong = results.filter(r => r.status !== 'HTTP/1.1 200 OK' || r.length !== FILE_SIZE || r.sha !== want)
  t.equal(wrong.length, 0, `every one of ${keep.length} downloads is complete and byte-correct`)
  await Promise.all([...quitters, ...cutters].map(r => r.done))
  t.ok(budget.stats.peakInUse <= budget.bytes, `bytes in flight peaked at ${budget.stats.peakInUse}, budget ${budget.bytes}`)
  t.ok(budget.stats.waited >= keep.length - SLOTS, `${budget.stats.waited} pieces were waited for`)
  t.ok(budget.stats.aborted > 0, `aborted waits left the queue (${budget.stats.aborted})`)
  t.comment(`read-aheads given back by blocked downloads: ${budget.stats.reclaimed}`)
  // The last release happens in a write callback that may run after the client saw the end.
  await new Promise<void>(resolve => server.server.close(() => resolve()))
  t.equal(budget.stats.inUse, 0, 'every piece came back: none leaked by finished or aborted downloads')
  t.equal(budget.stats.waiting, 0, 'nobody is left waiting')
})

t.test('cutover serve --max-buffer-memory: downloads complete through a budget of a few pieces', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-slow-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const data = seededBytes(7, FILE_SIZE)
  writeFileSync(join(dir, 'big.bin'), data)
  const want = createHash('sha256').update(data).digest('hex')
  const { url } = await startServeProcess(t, dir, ['--max-buffer-memory', '128k', '--piece-size', '64k'])
  const port = Number(new URL(url).port)
  const readers = Array.from({ length: 20 }, () => slowReader(port, '/big.bin'))
  for (const r of readers) r.socket.resume()
  const results = await Promise.all(readers.map(r => r.done))
  t.same(
    results.map(r => `${r.status} ${r.length} ${r.sha === want}`),
    results.map(() => `HTTP/1.1 200 OK ${FILE_SIZE} true`),
    'every download is complete and byte-correct',
  )
})

t.test('cutover serve refuses a budget smaller than one piece', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-slow-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { spawn } = await import('node:child_process')
  const { CLI } = await import('../helpers/serve.js')
  const child = spawn(process.execPath, [CLI, 'serve', '--root', dir, '--listen', '127.0.0.1:0', '--max-buffer-memory', '32k', '--piece-size', '64k'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  t.equal(await exited(child), 2, 'exit 2')
  t.match(err, /--max-buffer-memory/, 'the message names the flag')
})

t.test('a DownloadServer refuses a piece size other than its budget piece size', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-slow-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cases: Array<[string, number | undefined, boolean]> = [
    ['the same piece size', PIECE, false],
    ['no piece size (the budget decides)', undefined, false],
    ['another piece size', 2 * PIECE, true],
  ]
  for (const [name, pieceSize, bad] of cases) {
    const make = (): DownloadServer =>
      new DownloadServer({
        resolver: directoryResolver(dir),
        logger: pino({ level: 'silent' }),
        budget: new BufferBudget({ bytes: SLOTS * PIECE, pieceSize: PIECE }),
        pieceSize,
      })
    if (bad) t.throws(make, TypeError, name)
    else t.equal(make().budget.pieceSize, PIECE, name)
  }
})
