import t from 'tap'
import { PrimaryAnswer } from '../../src/audit/primary-answer.js'

const raw = (...pairs: string[]): Buffer[] => pairs.map(p => Buffer.from(p, 'latin1'))
const nextTurn = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

/** recorded is a PrimaryAnswer with every event and every resume written down. */
function recorded(bytesPerTurn: number) {
  const answer = new PrimaryAnswer(bytesPerTurn)
  const events: string[] = []
  let resumes = 0
  answer.on('response', () => events.push(`response ${answer.statusCode}`))
  answer.on('data', (c: Buffer) => events.push(`data ${c.length}`))
  answer.on('end', () => events.push('end'))
  answer.on('error', (e: Error) => events.push(`error ${e.message}`))
  const resume = (): void => {
    resumes++
  }
  return { answer, events, resumes: () => resumes, resume }
}

t.test('the head: 1xx skipped, fields as sent and by name, trailers as text', async t => {
  const r = recorded(0)
  r.answer.onConnect(() => undefined)
  t.equal(r.answer.onHeaders(103, raw('Link', '</a>'), r.resume, 'Early Hints'), true, 'a 103 is read past')
  t.strictSame(r.events, [], 'and not told')
  r.answer.onHeaders(200, raw('X-A', '1', 'x-a', '2', 'Content-Type', 'caf\xe9'), r.resume, 'OK')
  t.strictSame(r.answer.rawHeaders, ['X-A', '1', 'x-a', '2', 'Content-Type', 'caf\xe9'], 'raw: case, order, repeats, Latin-1')
  t.strictSame(r.answer.headers, { 'x-a': '1, 2', 'content-type': 'caf\xe9' }, 'by name: repeats joined')
  t.equal(r.answer.statusMessage, 'OK')
  r.answer.onComplete(raw('X-Sum', '42'))
  t.strictSame(r.answer.rawTrailers, ['X-Sum', '42'])
  t.strictSame(r.events, ['response 200', 'end'])
})

t.test('the body: empty chunks are not passed on; reading is held while any reason stands', async t => {
  const rows: Array<{ name: string; steps: Array<'data' | 'empty' | 'hold' | 'release'>; returns: boolean[]; resumes: number }> = [
    { name: 'flowing', steps: ['data', 'data'], returns: [true, true], resumes: 0 },
    { name: 'an empty chunk is nothing', steps: ['empty', 'data'], returns: [true, true], resumes: 0 },
    { name: 'held: the chunk is passed on, then reading stops', steps: ['hold', 'data', 'release'], returns: [false], resumes: 1 },
  ]
  for (const row of rows) {
    const r = recorded(0)
    r.answer.onConnect(() => undefined)
    r.answer.onHeaders(200, raw('Content-Length', '1000'), r.resume, 'OK')
    const returns: boolean[] = []
    for (const s of row.steps) {
      if (s === 'data') returns.push(r.answer.onData(Buffer.alloc(10)))
      else if (s === 'empty') returns.push(r.answer.onData(Buffer.alloc(0)))
      else if (s === 'hold') r.answer.hold('drain')
      else r.answer.release('drain')
    }
    t.strictSame(returns, row.returns, `${row.name}: what the parser is told`)
    t.equal(r.resumes(), row.resumes, `${row.name}: resumed`)
    t.notOk(r.events.includes('data 0'), `${row.name}: no empty chunk passed on`)
  }
  const r = recorded(0)
  r.answer.onConnect(() => undefined)
  r.answer.onHeaders(200, [], r.resume, 'OK')
  r.answer.hold('drain')
  r.answer.hold('turn')
  r.answer.release('drain')
  t.equal(r.resumes(), 0, 'one reason of two released: still held')
  r.answer.release('turn')
  t.equal(r.resumes(), 1, 'both released: resumed once')
  r.answer.release('turn')
  t.equal(r.resumes(), 1, 'releasing what is not held resumes nothing')
})

t.test('the read bound per turn: held once a turn has taken its bytes, read again in the check phase', async t => {
  const rows: Array<{
    name: string
    length?: string
    chunks: number[]
    returns: boolean[]
    resumesAfterTurn: number
    bounded: boolean
  }> = [
    {
      name: 'under the bound',
      length: '100',
      chunks: [40, 40],
      returns: [true, true],
      resumesAfterTurn: 0,
      bounded: true,
    },
    {
      name: 'reaches it: held',
      length: '1000',
      chunks: [60, 40],
      returns: [true, false],
      resumesAfterTurn: 1,
      bounded: true,
    },
    { name: 'no length: bounded too', chunks: [100], returns: [false], resumesAfterTurn: 1, bounded: true },
    {
      name: 'a Content-Length under the bound is never held',
      length: '99',
      chunks: [99],
      returns: [true],
      resumesAfterTurn: 0,
      bounded: false,
    },
  ]
  for (const row of rows) {
    const r = recorded(100)
    r.answer.onConnect(() => undefined)
    r.answer.onHeaders(200, row.length === undefined ? [] : raw('Content-Length', row.length), r.resume, 'OK')
    t.equal(r.answer.bounded, row.bounded, `${row.name}: bounded (what the mirror gathers per turn)`)
    const returns = row.chunks.map(n => r.answer.onData(Buffer.alloc(n)))
    t.strictSame(returns, row.returns, `${row.name}: what the parser is told`)
    await nextTurn()
    t.equal(r.resumes(), row.resumesAfterTurn, `${row.name}: resumed at the check phase`)
    t.equal(r.answer.onData(Buffer.alloc(1)), true, `${row.name}: a new turn reads on`)
  }
  const unbounded = recorded(0)
  unbounded.answer.onHeaders(200, [], unbounded.resume, 'OK')
  t.equal(unbounded.answer.bounded, false, 'no bound per turn: not bounded, whatever the length')
  // Once the exchange is over, a turn's end resumes nothing (the parser may be another request's).
  const r = recorded(100)
  r.answer.onConnect(() => undefined)
  r.answer.onHeaders(200, [], r.resume, 'OK')
  r.answer.onData(Buffer.alloc(100))
  r.answer.onComplete(null)
  await nextTurn()
  t.equal(r.resumes(), 0, 'over: not resumed')
})

t.test('destroy aborts the exchange once, whenever it comes; nothing after the end', async t => {
  const aborts: string[] = []
  const abort = (e?: Error): void => void aborts.push(e?.message ?? '')
  const early = recorded(0)
  early.answer.destroy(new Error('gone'))
  early.answer.onConnect(abort)
  t.strictSame(aborts, ['gone'], 'destroyed before its connection: aborted as soon as it has one')
  aborts.length = 0
  const mid = recorded(0)
  mid.answer.onConnect(abort)
  mid.answer.onHeaders(200, [], mid.resume, 'OK')
  mid.answer.destroy()
  mid.answer.destroy()
  t.equal(aborts.length, 1, 'destroyed twice: aborted once')
  mid.answer.onError(new Error('aborted'))
  mid.answer.onError(new Error('again'))
  t.strictSame(mid.events, ['response 200', 'error aborted'], 'one error told')
  aborts.length = 0
  const done = recorded(0)
  done.answer.onConnect(abort)
  done.answer.onHeaders(200, [], done.resume, 'OK')
  done.answer.onComplete(null)
  done.answer.destroy()
  done.answer.onError(new Error('late'))
  t.strictSame(aborts, [], 'over: destroy does nothing')
  t.strictSame(done.events, ['response 200', 'end'], 'and no error after the end')
})
