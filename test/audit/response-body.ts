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
  return { body, told, aborts, resume, resumes: () => resumes, start: () => start }
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
