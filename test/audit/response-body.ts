import t from 'tap'
import { HIGH_WATER_BYTES, ResponseBody, type ResponseStart } from '../../src/audit/response-body.js'

const raw = (...pairs: string[]): Buffer[] => pairs.map(p => Buffer.from(p, 'latin1'))

/** made is a ResponseBody with what it told its owner, the aborts it asked for and the resumes written down. */
function made() {
  const told: string[] = []
  let start: ResponseStart | undefined
  const body = new ResponseBody(
    r => {
      start = r
      told.push(`start ${r.status}`)
    },
    err => told.push(`failure ${err.message}`),
  )
  const aborts: string[] = []
  let resumes = 0
  const abort = (err?: Error): void => {
    aborts.push(err?.message ?? '')
    // undici fails the exchange with the reason it was aborted with.
    if (err) body.onError(err)
  }
  const resume = (): void => {
    resumes++
  }
  return { body, told, aborts, abort, resume, resumes: () => resumes, start: () => start }
}

/** step reads one step of the iterator without waiting past this turn: a chunk's length, 'end', 'error: message', or 'pending'. */
async function step(body: ResponseBody): Promise<string> {
  const p = body.next().then(
    r => (r.done ? 'end' : `${r.value.length}`),
    (e: Error) => `error: ${e.message}`,
  )
  return Promise.race([p, new Promise<string>(resolve => setImmediate(() => resolve('pending')))])
}

t.test('the head: 1xx skipped, the fields as sent (Latin-1), once', async t => {
  const m = made()
  m.body.onConnect(() => undefined)
  t.equal(m.body.onHeaders(103, raw('Link', '</a>'), m.resume), true, 'a 103 is read past')
  t.strictSame(m.told, [], 'and not told')
  m.body.onHeaders(200, raw('X-A', '1', 'x-a', '2', 'Content-Type', 'caf\xe9'), m.resume)
  t.strictSame(m.start(), { status: 200, rawHeaders: ['X-A', '1', 'x-a', '2', 'Content-Type', 'caf\xe9'] })
  t.strictSame(m.told, ['start 200'])
})

t.test('the body, read by one reader: chunks in order, the end or the error after them', async t => {
  // Each row: what the parser does (a chunk of n bytes, 'empty', 'end' or 'error'), interleaved
  // with reads ('read'), and what the reads gave.
  const rows: Array<{ name: string; steps: Array<number | 'empty' | 'end' | 'error' | 'read'>; reads: string[] }> = [
    { name: 'chunks then the end, read after', steps: [10, 20, 'end', 'read', 'read', 'read', 'read'], reads: ['10', '20', 'end', 'end'] },
    { name: 'a read waiting gets the next chunk', steps: ['read', 5, 'read', 'end'], reads: ['5', 'end'] },
    { name: 'an empty chunk is nothing', steps: ['empty', 3, 'end', 'read', 'read'], reads: ['3', 'end'] },
    { name: 'an error after chunks: they come first', steps: [7, 'error', 'read', 'read', 'read'], reads: ['7', 'error: cut', 'end'] },
    { name: 'an error while a read waits', steps: ['read', 'error', 'read'], reads: ['error: cut', 'end'] },
    { name: 'the end while a read waits', steps: ['read', 'end', 'read'], reads: ['end', 'end'] },
  ]
  for (const row of rows) {
    const m = made()
    m.body.onConnect(() => undefined)
    m.body.onHeaders(200, [], m.resume)
    const reads: Promise<string>[] = []
    let closed = 0
    m.body.onClose = () => closed++
    for (const s of row.steps) {
      if (s === 'read') reads.push(step(m.body))
      else if (s === 'empty') m.body.onData(Buffer.alloc(0))
      else if (s === 'end') m.body.onComplete()
      else if (s === 'error') m.body.onError(new Error('cut'))
      else m.body.onData(Buffer.alloc(s))
    }
    t.strictSame(await Promise.all(reads), row.reads, row.name)
    t.equal(closed, 1, `${row.name}: closed once`)
  }
})

t.test('reading pauses while HIGH_WATER_BYTES wait, and resumes once the reader took them', async t => {
  const m = made()
  m.body.onConnect(() => undefined)
  m.body.onHeaders(200, [], m.resume)
  const half = HIGH_WATER_BYTES / 2
  t.equal(m.body.onData(Buffer.alloc(half)), true, 'under the mark: read on')
  t.equal(m.body.onData(Buffer.alloc(half)), false, 'at the mark: paused')
  t.equal(await step(m.body), `${half}`)
  t.equal(m.resumes(), 1, 'resumed once under the mark')
  t.equal(await step(m.body), `${half}`)
  t.equal(m.resumes(), 1, 'not resumed twice')
  // Paused, then the body ends: a finished exchange is never resumed (its socket may serve another).
  t.equal(m.body.onData(Buffer.alloc(HIGH_WATER_BYTES)), false)
  m.body.onComplete()
  t.equal(await step(m.body), `${HIGH_WATER_BYTES}`)
  t.equal(m.resumes(), 1, 'not resumed after the end')
  t.equal(await step(m.body), 'end')
})

t.test('abort: before the connection, before the status, after it; and a cancel', async t => {
  // Before a connection: the reason waits for one.
  let m = made()
  m.body.abort(new Error('stop'))
  t.strictSame(m.aborts, [])
  m.body.onConnect(err => {
    m.aborts.push(err?.message ?? '')
    if (err) m.body.onError(err)
  })
  t.strictSame(m.aborts, ['stop'], 'aborted on connecting')
  t.strictSame(m.told, ['failure stop'], 'the owner told the reason')

  // Before the status.
  m = made()
  m.body.onConnect(err => {
    m.aborts.push(err?.message ?? '')
    if (err) m.body.onError(err)
  })
  m.body.abort(new Error('timeout'))
  m.body.abort(new Error('again'))
  t.strictSame(m.told, ['failure timeout'], 'one failure, the first reason')

  // After the status: the body rejects with the reason, after what came before.
  m = made()
  m.body.onConnect(err => {
    m.aborts.push(err?.message ?? '')
    if (err) m.body.onError(err)
  })
  m.body.onHeaders(200, [], m.resume)
  m.body.onData(Buffer.alloc(4))
  m.body.abort(new Error('shutdown'))
  t.strictSame([await step(m.body), await step(m.body)], ['4', 'error: shutdown'])
  m.body.abort(new Error('late'))
  t.strictSame(m.aborts, ['shutdown'], 'nothing once it is over')

  // A cancel (the iterator's return) before the end aborts the exchange; after the end it does not.
  m = made()
  m.body.onConnect(err => m.aborts.push(err?.message ?? ''))
  m.body.onHeaders(200, [], m.resume)
  m.body.onData(Buffer.alloc(4))
  let closed = 0
  m.body.onClose = () => closed++
  t.strictSame(await m.body.return(), { value: undefined, done: true })
  t.strictSame(m.aborts, ['the body was cancelled'], 'the connection is given up')
  t.equal(closed, 1)
  t.equal(await step(m.body), 'end', 'nothing more is read')
  // A read waiting when the reader gives up ends, rather than waiting for ever.
  m = made()
  m.body.onConnect(err => m.aborts.push(err?.message ?? ''))
  m.body.onHeaders(200, [], m.resume)
  const waiting = step(m.body)
  await m.body.return()
  t.equal(await waiting, 'end', 'the waiting read ends')
  t.strictSame(m.aborts, ['the body was cancelled'])
  t.equal(m.body.onData(Buffer.alloc(4)), true, 'late bytes are dropped')
  m = made()
  m.body.onConnect(err => m.aborts.push(err?.message ?? ''))
  m.body.onHeaders(200, [], m.resume)
  m.body.onComplete()
  await m.body.return()
  t.strictSame(m.aborts, [], 'a body over is not aborted')
})

/** sinkOf is a BodySink that writes down what it was handed, holding after the chunk numbers in `holdAfter`. */
function sinkOf(holdAfter: readonly number[] = [], onData?: () => void) {
  const got: string[] = []
  let n = 0
  const sink = {
    data: (c: Uint8Array): boolean => {
      got.push(`${c.length}`)
      onData?.()
      return !holdAfter.includes(++n)
    },
    end: () => got.push('end'),
    error: (e: unknown) => got.push(`error: ${(e as Error).message}`),
  }
  return { sink, got }
}

t.test('pushed to a sink: chunks in order in the parser call, holds, the end or the error after them', async t => {
  // Each row: what happens in order (a chunk of n bytes from the parser, 'push' to attach the sink,
  // 'resume', 'end', 'error', 'empty'), the chunks after which the sink holds, what the sink got,
  // what each parser call returned (true: read on), and how often undici was told to resume.
  type Step = number | 'push' | 'resume' | 'end' | 'error' | 'empty'
  const rows: Array<{ name: string; steps: Step[]; hold?: number[]; got: string[]; returns: boolean[]; resumes: number }> = [
    { name: 'attached first: each chunk handed over in its call', steps: ['push', 3, 4, 'end'], got: ['3', '4', 'end'], returns: [true, true], resumes: 0 },
    { name: 'chunks that came before are handed over first', steps: [5, 'push', 6, 'end'], got: ['5', '6', 'end'], returns: [true, true], resumes: 0 },
    { name: 'paused at the mark before the sink came: resumed once it took them', steps: [HIGH_WATER_BYTES, 'push', 6, 'end'], got: [`${HIGH_WATER_BYTES}`, '6', 'end'], returns: [false, true], resumes: 1 },
    { name: 'a hold pauses reading; resume hands over what came and reads on', steps: ['push', 1, 2, 'resume', 3, 'end'], hold: [1], got: ['1', '2', '3', 'end'], returns: [false, false, true], resumes: 1 },
    { name: 'the end waits for the resume', steps: ['push', 1, 'end', 'resume'], hold: [1], got: ['1', 'end'], returns: [false], resumes: 0 },
    { name: 'an error after chunks: they come first', steps: ['push', 7, 8, 'error', 'resume'], hold: [1], got: ['7', '8', 'error: cut'], returns: [false, false], resumes: 0 },
    { name: 'an error before the sink: after the chunks', steps: [2, 'error', 'push'], got: ['2', 'error: cut'], returns: [true], resumes: 0 },
    { name: 'an empty chunk is nothing', steps: ['push', 'empty', 3, 'end'], got: ['3', 'end'], returns: [true], resumes: 0 },
    { name: 'a resume with no hold does nothing', steps: ['push', 'resume', 2, 'end'], got: ['2', 'end'], returns: [true], resumes: 0 },
  ]
  for (const row of rows) {
    const m = made()
    m.body.onConnect(() => undefined)
    m.body.onHeaders(200, [], m.resume)
    const { sink, got } = sinkOf(row.hold)
    let closed = 0
    m.body.onClose = () => closed++
    const returns: boolean[] = []
    for (const s of row.steps) {
      if (s === 'push') m.body.pushTo(sink)
      else if (s === 'resume') m.body.resume()
      else if (s === 'empty') m.body.onData(Buffer.alloc(0))
      else if (s === 'end') m.body.onComplete()
      else if (s === 'error') m.body.onError(new Error('cut'))
      else returns.push(m.body.onData(Buffer.alloc(s)))
    }
    t.strictSame(got, row.got, `${row.name}: handed over`)
    t.strictSame(returns, row.returns, `${row.name}: the parser told`)
    t.equal(m.resumes(), row.resumes, `${row.name}: resumes`)
    t.equal(closed, 1, `${row.name}: closed once`)
  }
})

t.test('pushed to a sink: a cancel from the sink or later stops the exchange and hands nothing more', async t => {
  // Cancelled from within the sink's call.
  const m = made()
  m.body.onConnect(m.abort)
  m.body.onHeaders(200, [], m.resume)
  const { sink, got } = sinkOf([], () => void m.body.return())
  m.body.pushTo(sink)
  t.equal(m.body.onData(Buffer.alloc(4)), false, 'the parser is told to stop')
  m.body.onData(Buffer.alloc(5))
  m.body.onComplete()
  t.strictSame(got, ['4'], 'nothing after the cancel')
  t.strictSame(m.aborts, ['the body was cancelled'], 'the exchange aborted once')

  // Cancelled before the sink came: the sink gets nothing.
  const m2 = made()
  m2.body.onConnect(m2.abort)
  m2.body.onHeaders(200, [], m2.resume)
  m2.body.onData(Buffer.alloc(3))
  await m2.body.return()
  const s2 = sinkOf()
  m2.body.pushTo(s2.sink)
  t.strictSame(s2.got, [], 'a cancelled body hands nothing over')
  t.equal(m2.resumes(), 0, 'and is never resumed')
})
