import type { ServerResponse } from 'node:http'
import t from 'tap'
import { Pool, type Dispatcher } from 'undici'
import { BODY_HIGH_WATER_BYTES, DispatchedBody, dispatchRequest } from '../../src/audit/dispatched-body.js'
import { gate, heldListen, listen } from '../helpers/gate.js'
import type { T } from '../helpers/serve.js'

/** FakeController records what a body asks of its connection. */
class FakeController implements Dispatcher.DispatchController {
  paused = false
  aborted = false
  reason: Error | null = null
  pauses = 0
  resumes = 0
  pause(): void {
    this.paused = true
    this.pauses++
  }
  resume(): void {
    this.paused = false
    this.resumes++
  }
  abort(reason: Error): void {
    this.aborted = true
    this.reason = reason
  }
}

const KiB = 1024

t.test('DispatchedBody: queueing, the high-water mark, end, failure and destroy (table)', async t => {
  type Step = { push: number } | { read: number } | 'end' | { fail: string } | 'destroy'
  const rows: Array<{
    name: string
    steps: Step[]
    /** What each push returned, in order. */
    pushed: boolean[]
    /** What the reads after the steps give: byte counts, then 'done' or the rejection's message. */
    then: Array<number | 'done' | string>
    pauses?: number
    resumes?: number
    aborted?: boolean
    doneCalls: number
  }> = [
    {
      name: 'chunks come out in order, then the end',
      steps: [{ push: 10 }, { push: 20 }, 'end'],
      pushed: [true, true],
      then: [10, 20, 'done', 'done'],
      doneCalls: 1,
    },
    {
      name: 'the push that reaches the high-water mark says so; reading below it resumes',
      steps: [{ push: 128 * KiB }, { push: 128 * KiB }, { read: 1 }],
      pushed: [true, false],
      then: [128 * KiB],
      resumes: 1,
      doneCalls: 0,
    },
    {
      name: 'a read that leaves the queue at the mark does not resume',
      steps: [{ push: 64 * KiB }, { push: BODY_HIGH_WATER_BYTES }, { read: 1 }],
      pushed: [true, false],
      then: [],
      resumes: 0,
      doneCalls: 0,
    },
    {
      name: 'a failure drops what is queued and rejects every later read',
      steps: [{ push: 10 }, { fail: 'reset' }],
      pushed: [true],
      then: ['reset', 'reset'],
      doneCalls: 1,
    },
    {
      name: 'destroy before the end aborts the exchange and later reads reject',
      steps: [{ push: 10 }, 'destroy'],
      pushed: [true],
      then: ['response body destroyed before its end'],
      aborted: true,
      doneCalls: 1,
    },
    {
      name: 'destroy after the end aborts nothing',
      steps: [{ push: 10 }, 'end', 'destroy'],
      pushed: [true],
      then: ['done'],
      aborted: false,
      doneCalls: 1,
    },
    {
      name: 'pushes after the end or a failure are ignored',
      steps: ['end', { push: 5 }, { fail: 'late' }],
      pushed: [true],
      then: ['done'],
      doneCalls: 1,
    },
  ]
  for (const row of rows) {
    const c = new FakeController()
    let doneCalls = 0
    const body = new DispatchedBody(c, () => doneCalls++)
    const pushed: boolean[] = []
    for (const s of row.steps) {
      if (s === 'end') body.end()
      else if (s === 'destroy') body.destroy()
      else if ('push' in s) {
        const ok = body.push(new Uint8Array(s.push))
        if (!ok) c.pause()
        pushed.push(ok)
      } else if ('read' in s) for (let i = 0; i < s.read; i++) await body.next()
      else body.fail(new Error(s.fail))
    }
    const got: Array<number | string> = []
    for (const _ of row.then) {
      try {
        const r = await body.next()
        got.push(r.done ? 'done' : r.value.length)
      } catch (err) {
        got.push((err as Error).message)
      }
    }
    t.strictSame(pushed, row.pushed, `${row.name}: pushes`)
    t.strictSame(got, row.then, `${row.name}: reads`)
    if (row.pauses !== undefined) t.equal(c.pauses, row.pauses, `${row.name}: pauses`)
    if (row.resumes !== undefined) t.equal(c.resumes, row.resumes, `${row.name}: resumes`)
    if (row.aborted !== undefined) t.equal(c.aborted, row.aborted, `${row.name}: aborted`)
    t.equal(doneCalls, row.doneCalls, `${row.name}: onDone calls`)
  }
})

t.test('DispatchedBody: a read waiting for data gets the next push, the end, or the failure', async t => {
  const rows: Array<{ name: string; settle: (b: DispatchedBody) => void; expect: number | 'done' | string }> = [
    { name: 'a push', settle: b => b.push(new Uint8Array(7)), expect: 7 },
    { name: 'the end', settle: b => b.end(), expect: 'done' },
    { name: 'a failure', settle: b => b.fail(new Error('cut')), expect: 'cut' },
  ]
  for (const row of rows) {
    const body = new DispatchedBody(new FakeController())
    const read = body.next()
    await t.rejects(body.next(), /one read at a time/, `${row.name}: a second concurrent read is refused`)
    row.settle(body)
    const got = await read.then(
      r => (r.done ? 'done' : r.value.length),
      (err: Error) => err.message,
    )
    t.equal(got, row.expect, row.name)
  }
})

/** pool is a Pool to `url` closed at teardown. */
function pool(t: T, url: string, connections = 1): Pool {
  const p = new Pool(url, { connections })
  t.teardown(() => p.destroy())
  return p
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of body) chunks.push(c)
  return Buffer.concat(chunks)
}

t.test('dispatchRequest against a server: what each answer gives (table)', async t => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 5, 0x5a)
  const rows: Array<{
    name: string
    method?: string
    answer: (res: ServerResponse) => void
    status: number
    fields?: Array<[string, string]>
    body: number | 'rejects'
  }> = [
    {
      name: 'a body of several reads, fields in wire order with repeats apart',
      answer: res => {
        res.setHeader('Set-Cookie', ['a=1', 'b=2'])
        res.setHeader('X-Latin', 'caf\u00e9')
        res.end(big)
      },
      status: 200,
      fields: [
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
        ['x-latin', 'caf\u00e9'],
      ],
      body: big.length,
    },
    { name: 'HEAD has no body', method: 'HEAD', answer: res => res.end(), status: 200, body: 0 },
    {
      name: 'an informational answer is skipped',
      answer: res => {
        res.writeEarlyHints({ link: '</a.css>; rel=preload' })
        res.writeHead(204).end()
      },
      status: 204,
      body: 0,
    },
    {
      name: 'a body shorter than its Content-Length rejects',
      answer: res => {
        res.writeHead(200, { 'content-length': '100' })
        res.write('partial', () => res.destroy())
      },
      status: 200,
      body: 'rejects',
    },
  ]
  for (const row of rows) {
    const { url } = await listen(t, (_rq, res) => row.answer(res))
    let done = 0
    const r = await dispatchRequest(pool(t, url), { path: '/x', method: row.method ?? 'GET' }, undefined, () => done++)
    t.equal(r.status, row.status, `${row.name}: status`)
    if (row.fields) {
      const pairs: Array<[string, string]> = []
      for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) pairs.push([r.rawHeaders[i]!.toLowerCase(), r.rawHeaders[i + 1]!])
      t.strictSame(pairs.filter(([k]) => row.fields!.some(([f]) => f === k)), row.fields, `${row.name}: fields`)
    }
    if (row.body === 'rejects') await t.rejects(drain(r.body), `${row.name}: the body rejects`)
    else t.equal((await drain(r.body)).length, row.body, `${row.name}: body bytes`)
    t.equal(done, 1, `${row.name}: onDone once`)
  }
})

t.test('dispatchRequest: a refused connection rejects with the transport error', async t => {
  const { url, server } = await listen(t, (_rq, res) => res.end())
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => resolve()))
  let done = 0
  await t.rejects(dispatchRequest(pool(t, url), { path: '/', method: 'GET' }, undefined, () => done++), { code: 'ECONNREFUSED' })
  t.equal(done, 1, 'onDone once')
})

t.test('dispatchRequest: an abort while waiting for a connection rejects at once, and the request is never sent', async t => {
  const seen: string[] = []
  const s = await heldListen(t, (rq, res) => res.end(rq.url))
  const p = pool(t, s.url, 1)
  t.teardown(() => s.release.open())
  // The only connection is busy with a request the server holds.
  const first = dispatchRequest(p, { path: '/first', method: 'GET' })
  await s.arrived.promise
  const ac = new AbortController()
  let done = 0
  const second = dispatchRequest(p, { path: '/second', method: 'GET' }, ac.signal, () => done++)
  ac.abort(new Error('gave up'))
  await t.rejects(second, { message: 'gave up' }, 'rejects with the reason, before any connection is free')
  t.equal(done, 1, 'onDone once')
  s.server.on('request', rq => seen.push(rq.url ?? ''))
  s.release.open()
  const r = await first
  t.equal((await drain(r.body)).toString(), '/first')
  // A third request on the same connection shows the pool went on past the aborted one.
  const third = await dispatchRequest(p, { path: '/third', method: 'GET' })
  t.equal((await drain(third.body)).toString(), '/third')
  t.strictSame(seen, ['/third'], 'the aborted request never reached the server')
})

t.test('dispatchRequest: destroy or abort mid-body closes that connection; the pool goes on', async t => {
  const rows: Array<{ name: string; cut: (body: DispatchedBody, ac: AbortController) => void; message: RegExp }> = [
    { name: 'destroy', cut: b => b.destroy(), message: /destroyed before its end/ },
    { name: "the caller's abort", cut: (_b, ac) => ac.abort(new Error('caller stop')), message: /caller stop/ },
  ]
  for (const row of rows) {
    const closed = gate()
    const { url } = await listen(t, (rq, res) => {
      if (rq.url === '/endless') {
        rq.socket.once('close', () => closed.open())
        res.writeHead(200, { 'content-length': String(1 << 30) })
        res.write(Buffer.alloc(64 * 1024))
        return
      }
      res.end('next')
    })
    const p = pool(t, url, 1)
    const ac = new AbortController()
    let done = 0
    const r = await dispatchRequest(p, { path: '/endless', method: 'GET' }, ac.signal, () => done++)
    const first = await r.body.next()
    t.notOk(first.done, `${row.name}: the body began`)
    row.cut(r.body, ac)
    await t.rejects(r.body.next(), row.message, `${row.name}: later reads reject`)
    await closed.promise
    t.pass(`${row.name}: the server saw the connection close`)
    t.equal(done, 1, `${row.name}: onDone once`)
    const next = await dispatchRequest(p, { path: '/next', method: 'GET' })
    t.equal((await drain(next.body)).toString(), 'next', `${row.name}: the pool serves the next request`)
  }
})

t.test('dispatchRequest: a reader that falls behind pauses the connection; reading resumes it', async t => {
  const size = 16 * 1024 * 1024
  const { url } = await listen(t, (_rq, res) => res.end(Buffer.alloc(size, 1)))
  // A spy between the pool and the body's handler: what the handler asks of the connection, and
  // whether any chunk is delivered while it is paused.
  const spy = { pauses: 0, resumes: 0, whilePaused: 0, delivered: 0 }
  const firstPause = gate()
  const spied = pool(t, url).compose(dispatch => (opts, handler) => {
    let inner: Dispatcher.DispatchController | undefined
    const c: Dispatcher.DispatchController = {
      get aborted() {
        return inner!.aborted
      },
      get paused() {
        return inner!.paused
      },
      get reason() {
        return inner!.reason
      },
      get rawHeaders() {
        return inner!.rawHeaders
      },
      abort: r => inner!.abort(r),
      pause: () => {
        spy.pauses++
        inner!.pause()
        firstPause.open()
      },
      resume: () => {
        spy.resumes++
        inner!.resume()
      },
    }
    return dispatch(opts, {
      onRequestStart: (ic, ctx) => {
        inner = ic
        handler.onRequestStart?.(c, ctx)
      },
      onResponseStart: (_ic, status, headers, msg) => handler.onResponseStart?.(c, status, headers, msg),
      onResponseData: (_ic, chunk) => {
        if (inner!.paused) spy.whilePaused++
        spy.delivered += chunk.length
        handler.onResponseData?.(c, chunk)
      },
      onResponseEnd: (_ic, trailers) => handler.onResponseEnd?.(c, trailers),
      onResponseError: (_ic, err) => handler.onResponseError?.(c, err),
    })
  })
  const r = await dispatchRequest(spied, { path: '/', method: 'GET' })
  // Nothing is read until the body has paused its connection: it must, at the high-water mark.
  await firstPause.promise
  t.ok(spy.delivered >= BODY_HIGH_WATER_BYTES && spy.delivered < size, `paused after ${spy.delivered} bytes, at the mark`)
  t.equal((await drain(r.body)).length, size, 'every byte arrives once read')
  t.ok(spy.resumes >= 1 && spy.resumes <= spy.pauses, `resumed as the reader caught up (${spy.pauses} pauses, ${spy.resumes} resumes)`)
  t.equal(spy.whilePaused, 0, 'no chunk was delivered while paused')
})
