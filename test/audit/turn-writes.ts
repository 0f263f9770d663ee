import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, Socket, type AddressInfo } from 'node:net'
import t from 'tap'
import { TURN_WRITE_BYTES, TurnWrites, type TurnWritable } from '../../src/audit/turn-writes.js'

const KiB = 1024
const READ = 64 * KiB // one socket read
const SOCKET_BUFFER = 16 * KiB // a socket's own buffer size: its write says false once it holds this

const nextTurn = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

/** A client's socket that records what is done to it; `pending` bytes were left by an earlier write. */
class FakeOut implements TurnWritable {
  calls: string[] = []
  buffered: number
  corked = false
  constructor(pending: number) {
    this.buffered = pending
  }
  get writableLength(): number {
    return this.buffered
  }
  write(chunk: Buffer): boolean {
    this.calls.push(`write ${chunk.length / KiB} KiB`)
    this.buffered += chunk.length
    // A socket that is not corked hands what it can to the kernel at once (all of it, here,
    // unless earlier bytes still wait).
    if (!this.corked && this.buffered === chunk.length) this.buffered = 0
    return this.buffered < SOCKET_BUFFER
  }
  cork(): void {
    this.corked = true
    this.calls.push('cork')
  }
  uncork(): void {
    this.corked = false
    this.buffered = 0
    this.calls.push('uncork')
  }
}

t.test("a turn's chunks are held corked and written at its check phase, within the budget", async t => {
  const cases: Array<{
    name: string
    pending: number
    budget: number
    otherHolds: number
    chunks: number
    calls: string[]
    wait: boolean[]
  }> = [
    {
      name: 'a client that has caught up: corked for the turn',
      pending: 0,
      budget: 16 * 1024 * KiB,
      otherHolds: 0,
      chunks: 4,
      calls: ['cork', 'write 64 KiB', 'write 64 KiB', 'write 64 KiB', 'write 64 KiB', 'uncork'],
      wait: [false, false, false, false],
    },
    {
      name: 'a client with a byte still to send sets its own pace: written at once, reading waits',
      pending: SOCKET_BUFFER,
      budget: 16 * 1024 * KiB,
      otherHolds: 0,
      chunks: 2,
      calls: ['write 64 KiB', 'write 64 KiB'],
      wait: [true, true],
    },
    {
      name: 'the budget held by other clients: written at once',
      pending: 0,
      budget: 256 * KiB,
      otherHolds: 256 * KiB,
      chunks: 2,
      calls: ['write 64 KiB', 'write 64 KiB'],
      wait: [false, false],
    },
    {
      name: 'more than a turn can bring (TURN_WRITE_BYTES) while corked: reading waits',
      pending: 0,
      budget: 16 * 1024 * KiB,
      otherHolds: 0,
      chunks: TURN_WRITE_BYTES / READ + 1,
      calls: ['cork', ...Array<string>(TURN_WRITE_BYTES / READ + 1).fill('write 64 KiB'), 'uncork'],
      wait: [...Array<boolean>(TURN_WRITE_BYTES / READ - 1).fill(false), true, true],
    },
  ]
  for (const c of cases) {
    const writes = new TurnWrites(c.budget)
    const other = new FakeOut(0)
    const otherWrite = writes.writer(other)
    if (c.otherHolds > 0) otherWrite(Buffer.alloc(c.otherHolds))
    const out = new FakeOut(c.pending)
    const write = writes.writer(out)
    const wait = []
    for (let i = 0; i < c.chunks; i++) wait.push(!write(Buffer.alloc(READ)))
    const corked = out.corked ? c.chunks * READ : 0
    t.equal(writes.held, c.otherHolds + corked, `${c.name}: held during the turn`)
    await nextTurn()
    t.same(out.calls, c.calls, `${c.name}: what was done to the socket`)
    t.same(wait, c.wait, `${c.name}: when reading must wait for 'drain'`)
    t.equal(writes.held, 0, `${c.name}: nothing held after the check phase`)
  }
})

t.test('a corked writer that would pass the budget writes what it holds at once: the total never passes it', async t => {
  const cases: Array<{ name: string; budget: number; otherHolds: number; chunks: number; calls: string[]; heldAfter: number }> = [
    {
      name: 'its own turn reaches the budget: what it holds written, the rest of the turn at once',
      budget: 3 * READ,
      otherHolds: 0,
      chunks: 5,
      calls: ['cork', 'write 64 KiB', 'write 64 KiB', 'write 64 KiB', 'uncork', 'write 64 KiB', 'write 64 KiB'],
      heldAfter: 0,
    },
    {
      name: 'another client holds most of it: what fits, then at once',
      budget: 3 * READ,
      otherHolds: 2 * READ,
      chunks: 3,
      calls: ['cork', 'write 64 KiB', 'uncork', 'write 64 KiB', 'write 64 KiB'],
      heldAfter: 2 * READ,
    },
  ]
  for (const c of cases) {
    const writes = new TurnWrites(c.budget)
    if (c.otherHolds > 0) writes.writer(new FakeOut(0))(Buffer.alloc(c.otherHolds))
    const out = new FakeOut(0)
    const write = writes.writer(out)
    let most = 0
    for (let i = 0; i < c.chunks; i++) {
      write(Buffer.alloc(READ))
      most = Math.max(most, writes.held)
    }
    t.ok(most <= c.budget, `${c.name}: never more than the budget held (${most})`)
    t.equal(writes.held, c.heldAfter, `${c.name}: held at the end of the turn's writes`)
    await nextTurn()
    t.same(out.calls, c.calls, `${c.name}: what was done to the socket`)
    t.equal(writes.held, 0, `${c.name}: nothing held after the check phase`)
  }
})

t.test('a writer corks again in the next turn, and only if its client has caught up', async t => {
  const writes = new TurnWrites()
  const out = new FakeOut(0)
  const write = writes.writer(out)
  write(Buffer.alloc(READ))
  await nextTurn()
  out.buffered = 1 // the kernel did not take all of the last turn
  write(Buffer.alloc(READ))
  await nextTurn()
  out.buffered = 0
  write(Buffer.alloc(READ))
  await nextTurn()
  t.same(out.calls, ['cork', 'write 64 KiB', 'uncork', 'write 64 KiB', 'cork', 'write 64 KiB', 'uncork'])
})

/** The chunks written to a real socket: small enough that the kernel takes every write at once. */
const SMALL = 2 * KiB

/**
 * Writes `turns` turns of `perTurn` 2 KiB chunks to a real TCP socket, with TurnWrites or one
 * write per chunk, and counts the socket's calls to the system (`_write` one chunk, `_writev`
 * several); the receiver checks every byte arrived, in order.
 */
async function countWrites(
  gathered: boolean,
  turns: number,
  perTurn: number,
): Promise<{ calls: number; same: boolean }> {
  let received = 0
  const hash = createHash('sha256')
  const total = turns * perTurn * SMALL
  const server = createServer(sock => {
    sock.on('data', (d: Buffer) => {
      received += d.length
      hash.update(d)
      if (received === total) sock.end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const sock = new Socket()
  sock.connect((server.address() as AddressInfo).port, '127.0.0.1')
  await once(sock, 'connect')
  let calls = 0
  const s = sock as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void }
  const w = s._write.bind(sock)
  const wv = s._writev.bind(sock)
  s._write = (...a) => (calls++, w(...a))
  s._writev = (...a) => (calls++, wv(...a))
  const write = gathered ? new TurnWrites().writer(sock) : (c: Buffer): boolean => sock.write(c)
  const want = createHash('sha256')
  for (let turn = 0; turn < turns; turn++) {
    for (let i = 0; i < perTurn; i++) {
      const chunk = Buffer.alloc(SMALL, (turn * perTurn + i) % 251)
      want.update(chunk)
      write(chunk)
    }
    await nextTurn()
  }
  await once(sock, 'end')
  sock.destroy()
  server.close()
  return { calls, same: hash.digest('hex') === want.digest('hex') && received === total }
}

t.test('on a real socket, a turn of chunks is one system call, every byte in order', async t => {
  const cases: Array<[string, boolean, number, number, number]> = [
    ['four turns of four reads, gathered', true, 4, 4, 4],
    ['one turn of four reads, gathered', true, 1, 4, 1],
    ['four turns of four reads, one write per read (what it replaces)', false, 4, 4, 16],
  ]
  for (const [name, gathered, turns, perTurn, calls] of cases) {
    const got = await countWrites(gathered, turns, perTurn)
    t.equal(got.calls, calls, `${name}: calls to the system`)
    t.ok(got.same, `${name}: every byte arrived, in order`)
  }
})
