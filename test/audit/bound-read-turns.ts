import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { IncomingMessage, request } from 'node:http'
import { Socket } from 'node:net'
import t, { type Test } from 'tap'
import { boundReadTurns, READ_TURN_BYTES } from '../../src/audit/bound-read-turns.js'

const MiB = 1024 * 1024
const SOCKET_READ = 64 * 1024 // what libuv reads from a socket at a time
const SMALLEST = 16 * 1024 // the smallest bound tried: two socket reads in one turn are over it

/**
 * A server in a process of its own, so that it keeps the socket full while this process reads:
 * it answers every GET with `size` bytes (byte i = i mod 251) as fast as the kernel takes them, and
 * prints a line once the kernel has taken all it will for now (the socket's buffers are full).
 */
interface Sender {
  port: number
  /** Resolves at the sender's next "full" line. */
  full(): Promise<void>
}

async function startSender(t: Test): Promise<Sender> {
  const script = `
    const http = require('node:http')
    const size = Number(process.argv[1])
    const body = Buffer.alloc(size)
    for (let i = 0; i < size; i++) body[i] = i % 251
    const s = http.createServer((req, res) => {
      res.writeHead(200, { 'content-length': size })
      res.end(body)
      // end() wrote what the kernel would take at once; the rest waits in the socket's queue.
      setImmediate(() => process.stdout.write('full\\n'))
    })
    s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'))
  `
  const child: ChildProcess = spawn(process.execPath, ['-e', script, String(16 * MiB)], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    child.kill()
  })
  const lines: string[] = []
  const waiting: Array<(line: string) => void> = []
  let out = ''
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i)
      out = out.slice(i + 1)
      const w = waiting.shift()
      if (w) w(line)
      else lines.push(line)
    }
  })
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const l = lines.shift()
      if (l !== undefined) return resolve(l)
      waiting.push(resolve)
      child.once('exit', code => reject(new Error(`sender exited ${code}`)))
    })
  const port = Number(await next())
  return {
    port,
    full: async () => {
      const l = await next()
      if (l !== 'full') throw new Error(`sender said ${JSON.stringify(l)}`)
    },
  }
}

interface Turns {
  /** Bytes of the body delivered in each turn of the event loop that delivered any. */
  perTurn: number[]
  bytes: number
  sha256: string
}

/** fetch reads the whole body, counting what each loop turn (ended by the check phase) delivered. */
async function fetchCounting(sender: Sender, bound: number | null): Promise<Turns> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    request({ host: '127.0.0.1', port: sender.port, path: '/', agent: false }, resolve).on('error', reject).end()
  })
  // Read nothing until the sender has filled the socket: the first turns then find it full, as a
  // mirror does behind a fast primary.
  await sender.full()
  const perTurn: number[] = []
  let current = 0
  let open = false
  const hash = createHash('sha256')
  let bytes = 0
  // Read as a pipe does ('data' events, flowing): how the mirror forwards a body to its client.
  await new Promise<void>((resolve, reject) => {
    res.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      bytes += chunk.length
      current += chunk.length
      if (!open) {
        open = true
        setImmediate(() => {
          perTurn.push(current)
          current = 0
          open = false
        })
      }
    })
    // Bounded after this listener is on: its setImmediate, queued first, closes the count of a turn
    // before the bound's own resumes the socket (whose buffered read is the next turn's).
    if (bound !== null) boundReadTurns(res, bound)
    res.once('end', resolve)
    res.once('error', reject)
  })
  if (current > 0) perTurn.push(current)
  return { perTurn, bytes, sha256: hash.digest('hex') }
}

function expectedSha(size: number): string {
  const body = Buffer.alloc(size)
  for (let i = 0; i < size; i++) body[i] = i % 251
  return createHash('sha256').update(body).digest('hex')
}

t.test('a fast body is taken in at most the bound (plus one socket read) per turn, every byte in order', async t => {
  const sender = await startSender(t)
  const want = expectedSha(16 * MiB)
  const cases: Array<[string, number]> = [
    ['16 KiB per turn', SMALLEST],
    ['64 KiB per turn', 64 * 1024],
    ['the default, 256 KiB per turn', READ_TURN_BYTES],
  ]
  for (const [name, bound] of cases) {
    const got = await fetchCounting(sender, bound)
    t.equal(got.bytes, 16 * MiB, `${name}: every byte`)
    t.equal(got.sha256, want, `${name}: the bytes as sent, in order`)
    const max = Math.max(...got.perTurn)
    t.ok(max < bound + SOCKET_READ, `${name}: at most ${bound + SOCKET_READ - 1} bytes in a turn (most: ${max})`)
  }
})

t.test('without the bound the same body comes in bursts over it (what the bound is for)', async t => {
  // The reference the first test is measured against: with nothing bounding it, libuv's read loop
  // hands over every read it can make at once (up to 32). The socket is full when reading starts,
  // so at least two reads come in one turn: over the smallest bound above plus a read.
  const sender = await startSender(t)
  const got = await fetchCounting(sender, null)
  t.equal(got.bytes, 16 * MiB)
  const max = Math.max(...got.perTurn)
  t.ok(max >= SMALLEST + SOCKET_READ, `some turn took two reads or more (most: ${max})`)
})

t.test('a response whose Content-Length is under the bound is left alone; one over it or without one is bounded', async t => {
  const cases: Array<[string, Record<string, string>, boolean]> = [
    ['1,238 bytes', { 'content-length': '1238' }, false],
    ['one byte under the bound', { 'content-length': String(READ_TURN_BYTES - 1) }, false],
    ['exactly the bound', { 'content-length': String(READ_TURN_BYTES) }, true],
    ['16 MiB', { 'content-length': String(16 * MiB) }, true],
    ['no Content-Length (chunked)', {}, true],
  ]
  for (const [name, headers, bounded] of cases) {
    const res = new IncomingMessage(new Socket())
    res.headers = headers
    boundReadTurns(res)
    t.equal(res.listenerCount('data'), bounded ? 1 : 0, `${name}: ${bounded ? 'bounded' : 'left alone'}`)
  }
})
