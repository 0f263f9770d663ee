// Mirror itself: admission (methods, sampling), the queue and shedding, and the accounting, with
// fake backends for the shadow side and a load the test sets. The primary is a loopback server (the
// client path is a real proxy); everything else is in the test's hands. No sleeps: slow sides wait
// on gates the tests open.
import type { IncomingMessage, ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { request } from 'undici'
import type { Comparison } from '../../src/audit/divergence.js'
import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import type { Backend, SendOptions } from '../../src/audit/http-backend.js'
import { Mirror, outgoingTarget, type MirrorOptions, type MirrorStats } from '../../src/audit/mirror.js'
import { TaskQueue } from '../../src/audit/task-queue.js'
import { gate, listen, type Gate } from '../helpers/gate.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { patterned } from '../helpers/random.js'

const BODY = 'payload\n'

/** primaryHandler answers like the fake sides below do by default. */
function primaryHandler(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(BODY) })
  res.end(req.method === 'HEAD' ? undefined : BODY)
}

const bodyOf = (s: string): AsyncIterable<Uint8Array> =>
  (async function* () {
    if (s !== '') yield Buffer.from(s)
  })()

/** answer is what a fake side sends back: the primary's answer unless told otherwise. */
function answer(req: ExchangeRequest, o: { body?: string; headers?: Array<[string, string]> } = {}): Observed {
  const body = req.method === 'HEAD' ? '' : (o.body ?? BODY)
  return {
    kind: 'response',
    status: 200,
    headers: o.headers ?? [
      ['content-type', 'text/plain'],
      ['content-length', String(Buffer.byteLength(o.body ?? BODY))],
    ],
    body: bodyOf(body),
    durationMs: 1,
  }
}

/**
 * FakeBackend is a Backend the test drives: it records what it was sent, and answers with
 * `reply`; while `hold` is set, sends wait for it to open (or for the caller's abort).
 */
class FakeBackend implements Backend {
  readonly seen: Array<{ req: ExchangeRequest; o: SendOptions | undefined }> = []
  readonly arrived: Gate[] = [gate(), gate(), gate(), gate(), gate(), gate()]
  hold: Gate | undefined
  reply: (req: ExchangeRequest) => Observed = req => answer(req)
  constructor(
    readonly name: string,
    readonly base: string,
  ) {}
  async send(req: ExchangeRequest, o?: SendOptions): Promise<Observed> {
    this.arrived[this.seen.length]?.open()
    this.seen.push({ req, o })
    if (this.hold) {
      const aborted = new Promise<void>(resolve => o?.signal?.addEventListener('abort', () => resolve(), { once: true }))
      await Promise.race([this.hold.promise, aborted])
      if (o?.signal?.aborted) return { kind: 'error', code: 'ERR_ABORTED', message: `${this.name}: aborted`, durationMs: 1 }
    }
    return this.reply(req)
  }
  async close(): Promise<void> {}
}

/** setup runs a Mirror in front of a loopback primary (old) and fake new and baseline sides. */
async function setup(
  t: Test,
  o: Partial<Omit<MirrorOptions, 'old' | 'new'>> = {},
  handler: (req: IncomingMessage, res: ServerResponse) => void = primaryHandler,
) {
  const primary = await listen(t, handler)
  const old = new FakeBackend('old', primary.url)
  const nw = new FakeBackend('new', 'http://new.invalid')
  const comparisons: Comparison[] = []
  const mirror = new Mirror({ old, new: nw, shedAbove: 1, onComparison: c => comparisons.push(c), ...o })
  const addr = await mirror.listen(0, '127.0.0.1')
  t.teardown(() => mirror.close(0))
  const url = `http://127.0.0.1:${addr.port}`
  const get = async (path: string, method = 'GET'): Promise<string> => {
    const res = await request(`${url}${path}`, { method: method as 'GET' })
    return res.body.text()
  }
  return { mirror, old, nw, comparisons, get, url }
}

/** addsUp asserts the accounting identity, pending included, at any moment. */
function addsUp(t: Test, s: MirrorStats, what: string): void {
  t.equal(s.compared + s.abandoned + s.dropped + s.skipped + s.pending, s.requests, `${what}: every request is accounted for`)
}

/** metricValue reads one sample of the registry's text exposition. */
async function metricValue(m: Mirror, sample: string): Promise<number | undefined> {
  const text = await m.registry.metrics()
  const line = text.split('\n').find(l => l.startsWith(`${sample} `))
  return line === undefined ? undefined : Number(line.slice(sample.length + 1))
}

t.test('admission: only sampled requests of the shadowed methods are shadowed', async t => {
  const draws: number[] = []
  const m = await setup(t, { sample: 0.5, shadowMethods: ['get', 'HEAD'], random: () => draws.shift() ?? 1 })
  // [method, the draw it takes (none when the method is not shadowed), shadowed?]
  const table: Array<[string, number | undefined, boolean]> = [
    ['GET', 0.2, true],
    ['GET', 0.7, false],
    ['GET', 0.5, false],
    ['POST', undefined, false],
    ['HEAD', 0.1, true],
    ['DELETE', undefined, false],
  ]
  let shadowed = 0
  for (const [i, [method, draw, want]] of table.entries()) {
    if (draw !== undefined) draws.push(draw)
    t.equal(await m.get(`/r${i}`, method), method === 'HEAD' ? '' : BODY, `${method} ${draw}: the client is answered`)
    await m.mirror.queue.idle()
    if (want) shadowed++
    t.equal(m.nw.seen.length, shadowed, `${method} ${draw ?? '(no draw)'}: ${want ? 'shadowed' : 'not shadowed'}`)
    t.equal(draws.length, 0, `${method}: ${draw === undefined ? 'no draw is taken' : 'its draw is taken'}`)
    addsUp(t, m.mirror.stats, method)
  }
  t.match(m.mirror.stats, { requests: 6, compared: 2, skipped: 4, divergent: 0, dropped: 0 })
  t.strictSame(m.nw.seen.map(s => [s.req.method, s.req.path]), [['GET', '/r0'], ['HEAD', '/r4']])
  t.match(m.nw.seen[0]!.o, { marker: true, forwardedFor: '127.0.0.1' }, 'shadow sends are marked and forwarded-for')
  t.equal(m.old.seen.length, 0, 'the primary is proxied to, never sent to as a shadow')
})

t.test('a full queue drops; a saturated mirror sheds all but one; the counts add up at every step', async t => {
  const load = { utilization: 0 }
  const m = await setup(t, { queue: new TaskQueue({ concurrency: 1, maxQueued: 1 }), shedAbove: 0.9, shedKeep: 0, load })
  const hold = gate()
  m.nw.hold = hold
  const steps: Array<{ what: string; path: string; utilization: number; want: Partial<MirrorStats> }> = [
    { what: 'the first takes the only slot', path: '/1', utilization: 0, want: { requests: 1, pending: 1, dropped: 0, shed: 0 } },
    { what: 'the second waits in the queue', path: '/2', utilization: 0, want: { requests: 2, pending: 2, dropped: 0, shed: 0 } },
    { what: 'the third finds the queue full', path: '/3', utilization: 0, want: { requests: 3, pending: 2, dropped: 1, shed: 0 } },
    { what: 'a saturated loop sheds the fourth', path: '/4', utilization: 1, want: { requests: 4, pending: 2, dropped: 2, shed: 1 } },
  ]
  for (const s of steps) {
    load.utilization = s.utilization
    t.equal(await m.get(s.path), BODY, `${s.what}: the client is answered`)
    if (s.path === '/1') await m.nw.arrived[0]!.promise
    t.match(m.mirror.stats, s.want, s.what)
    addsUp(t, m.mirror.stats, s.what)
  }
  t.equal(m.mirror.queue.stats.dropped, 1, 'the queue counts its own refusal only')
  hold.open()
  await m.mirror.queue.idle()
  t.match(m.mirror.stats, { requests: 4, compared: 2, pending: 0, dropped: 2, shed: 1, abandoned: 0, notCompared: 2 })
  // The dropped ones are recorded too, as not compared with their reason, when their client's response closes.
  t.strictSame(
    m.comparisons.map(c => [c.request.path, c.divergences.map(d => (d.kind === 'not-compared' ? d.reason : d.kind))]),
    [['/3', ['queue-full']], ['/4', ['shed']], ['/1', []], ['/2', []]],
  )
  t.match(m.comparisons[0], { status: { control: 200 }, bytesCompared: 0 }, 'a dropped record has the primary status')
  // Saturated but idle: one shadow at a time still goes through.
  load.utilization = 1
  await m.get('/5')
  await m.mirror.queue.idle()
  t.match(m.mirror.stats, { requests: 5, compared: 3, dropped: 2, shed: 1 }, 'a saturated mirror still compares one at a time')
  addsUp(t, m.mirror.stats, 'at the end')
  const table: Array<[string, number]> = [
    ['cutover_mirror_requests_total', m.mirror.stats.requests],
    ['cutover_mirror_compared_total', m.mirror.stats.compared],
    ['cutover_mirror_dropped_total', m.mirror.stats.dropped],
    ['cutover_mirror_shed_total', m.mirror.stats.shed],
    ['cutover_mirror_abandoned_total', m.mirror.stats.abandoned],
    ['cutover_mirror_pending', 0],
    ['cutover_mirror_event_loop_utilization', 1],
  ]
  for (const [name, want] of table) t.equal(await metricValue(m.mirror, name), want, `${name} reads the stats`)
})

t.test('a loop busy for the whole last second sheds once shadows wait for a slot, and goes on while it stays busy', async t => {
  // The moving average stays low throughout: only the last second's samples and the queue decide.
  const load = { utilization: 0.5, sustained: 0 }
  // The trim timer runs on this clock, which never moves: nothing is given up behind the table.
  const m = await setup(t, { queue: new TaskQueue({ concurrency: 1, maxQueued: 4 }), shedAbove: 0.9, shedKeep: 0, load, clock: new ManualClock() })
  let hold = gate()
  m.nw.hold = hold
  const steps: Array<{ what: string; path: string; sustained: number; want: Partial<MirrorStats> }> = [
    { what: 'the first takes the only slot', path: '/1', sustained: 0, want: { requests: 1, pending: 1, shed: 0 } },
    { what: 'busy a second, nothing waiting: the second waits in the queue', path: '/2', sustained: 1, want: { requests: 2, pending: 2, shed: 0 } },
    { what: 'busy a second, one waiting: the third is shed', path: '/3', sustained: 1, want: { requests: 3, pending: 2, shed: 1 } },
    { what: 'the loop had slack in the last second: the fourth waits', path: '/4', sustained: 0.5, want: { requests: 4, pending: 3, shed: 1 } },
    { what: 'busy a second again, two waiting: the fifth is shed', path: '/5', sustained: 1, want: { requests: 5, pending: 3, shed: 2 } },
  ]
  const run = async (s: (typeof steps)[number]): Promise<void> => {
    load.sustained = s.sustained
    t.equal(await m.get(s.path), BODY, `${s.what}: the client is answered`)
    // The requests whose shadow takes the free slot at once, and which shadow that is in the order
    // sent: /1 the first; /6 the fourth (/2 and /4 were sent as the queue drained).
    const slot = { '/1': 0, '/6': 3 }[s.path]
    if (slot !== undefined) await m.nw.arrived[slot]!.promise
    t.match(m.mirror.stats, s.want, s.what)
    addsUp(t, m.mirror.stats, s.what)
  }
  for (const s of steps) await run(s)
  // The queue drains while the loop stays busy: shedding goes on, but for one at a time.
  hold.open()
  await m.mirror.queue.idle()
  t.equal(m.mirror.queue.stats.queued, 0, 'the queue is empty')
  hold = gate()
  m.nw.hold = hold
  const after: Array<(typeof steps)[number]> = [
    { what: 'still busy, nothing running: the sixth is compared', path: '/6', sustained: 1, want: { requests: 6, pending: 1, shed: 2 } },
    { what: 'still busy, the queue empty: the seventh is shed all the same', path: '/7', sustained: 1, want: { requests: 7, pending: 1, shed: 3 } },
    { what: 'the loop had slack: the eighth waits', path: '/8', sustained: 0.8, want: { requests: 8, pending: 2, shed: 3 } },
    { what: 'busy a second again, one waiting: the ninth is shed', path: '/9', sustained: 1, want: { requests: 9, pending: 2, shed: 4 } },
  ]
  for (const s of after) await run(s)
  hold.open()
  await m.mirror.queue.idle()
  t.match(m.mirror.stats, { requests: 9, compared: 5, shed: 4, dropped: 4, pending: 0 })
  addsUp(t, m.mirror.stats, 'at the end')
})

t.test('a comparison waiting for a shadow slot holds no bytes: the primary body is hashed as it streams', async t => {
  const rest = gate()
  const size = 1536 * 1024
  const m = await setup(t, { queue: new TaskQueue({ concurrency: 1, maxQueued: 4 }) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(2 * size) })
    res.write(Buffer.alloc(size, 7))
    void rest.promise.then(() => res.end(Buffer.alloc(size, 7)))
  })
  const hold = gate()
  m.nw.hold = hold
  m.nw.reply = req => answer(req, { body: Buffer.alloc(2 * size, 7).toString(), headers: [['content-type', 'text/plain'], ['content-length', String(2 * size)]] })
  // /a holds the only shadow slot; /b waits in the queue while its client reads 1.5 MiB.
  const a = await request(`${m.url}/a`)
  await m.nw.arrived[0]!.promise
  const b = await request(`${m.url}/b`)
  const read = async (body: AsyncIterable<Uint8Array>, upTo: number): Promise<{ n: number; it: AsyncIterator<Uint8Array> }> => {
    const it = body[Symbol.asyncIterator]()
    let n = 0
    for (let i = 0; i < 10_000 && n < upTo; i++) {
      const r = await it.next()
      if (r.done) break
      n += r.value.length
    }
    return { n, it }
  }
  const [ha, hb] = [await read(a.body, size), await read(b.body, size)]
  t.match(m.mirror.stats, { requests: 2, pending: 2 })
  t.equal(m.mirror.queue.stats.queued, 1, '/b is still waiting for a slot')
  t.equal(m.mirror.heldBytes, 0, 'and no tee holds any of the bytes its client already has')
  hold.open()
  rest.open()
  const more = async (h: { n: number; it: AsyncIterator<Uint8Array> }): Promise<number> => {
    let n = h.n
    for (let i = 0; i < 10_000; i++) {
      const r = await h.it.next()
      if (r.done) break
      n += r.value.length
    }
    return n
  }
  t.equal((await more(ha)) + (await more(hb)), 4 * size, 'both clients got their whole answer')
  await m.mirror.queue.idle()
  t.match(m.mirror.stats, { requests: 2, compared: 2, abandoned: 0, pending: 0 })
  t.strictSame(m.comparisons.map(c => [c.request.path, c.divergences, c.bytesCompared]).sort(), [['/a', [], 2 * size], ['/b', [], 2 * size]])
  addsUp(t, m.mirror.stats, 'at the end')
})

t.test('while shedding, shedKeep of the requests are still compared, spread evenly', async t => {
  const load = { utilization: 1 }
  const hold = gate()
  const m = await setup(t, { shedAbove: 0.9, shedKeep: 0.5, load, queue: new TaskQueue({ concurrency: 64, maxQueued: 64 }) })
  m.nw.hold = hold
  const got: string[] = []
  for (let i = 0; i < 8; i++) {
    await m.get(`/r${i}`)
    got.push(m.mirror.stats.shed > got.filter(g => g === 'shed').length ? 'shed' : 'kept')
  }
  // The first is kept (nothing else running), then one of every two.
  t.strictSame(got, ['kept', 'shed', 'kept', 'shed', 'kept', 'shed', 'kept', 'shed'])
  hold.open()
  await m.mirror.queue.idle()
  t.match(m.mirror.stats, { requests: 8, compared: 4, dropped: 4, shed: 4 })
  addsUp(t, m.mirror.stats, 'at the end')
  t.throws(() => new Mirror({ old: m.old, new: m.nw, shedKeep: 1.5 }), TypeError)
})

t.test('while saturated, comparisons in progress beyond shedKeep of the clients in flight are given up, newest first', async t => {
  const load = { utilization: 0 }
  const rest = gate()
  const gone = { '/b': gate(), '/e': gate() } as Record<string, Gate>
  const half = Buffer.alloc(64 * 1024, 'x')
  // The trim timer runs on this clock, which never moves: the test calls trim() itself.
  const m = await setup(t, { shedAbove: 0.9, shedKeep: 0.25, load, clock: new ManualClock(), queue: new TaskQueue({ concurrency: 2, maxQueued: 8 }) }, (req, res) => {
    // The mirror cuts the primary's answer once its client has gone.
    const left = gone[req.url ?? '']
    if (left) res.once('close', () => left.open())
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(2 * half.length) })
    res.write(half)
    void rest.promise.then(() => res.end(half))
  })
  m.nw.reply = req => answer(req, { body: Buffer.concat([half, half]).toString(), headers: [['content-type', 'text/plain'], ['content-length', String(2 * half.length)]] })
  // Five downloads admitted before the load rose: /a and /b have shadow slots, /c, /d and /e wait.
  // /b's client leaves (its running comparison stops where the client did: nothing to shed) and so
  // does /e's (waiting, its shadow would read new at full speed up to where the client left).
  const clients: Array<Awaited<ReturnType<typeof request>>> = []
  for (const p of ['/a', '/b', '/c', '/d', '/e']) clients.push(await request(`${m.url}${p}`))
  await m.nw.arrived[1]!.promise
  // /b's client has the first half (all the primary sent so far) when it leaves.
  let got = 0
  for await (const chunk of clients[1]!.body) {
    got += (chunk as Buffer).length
    if (got >= half.length) break
  }
  clients[4]!.body.destroy()
  await Promise.all(Object.values(gone).map(g => g.promise))
  t.equal(m.mirror.trim(), 0, 'not saturated: nothing is given up')
  load.utilization = 1
  // Three clients in flight, a quarter kept: the oldest comparison.
  t.equal(m.mirror.trim(), 3, 'saturated: the ones waiting are given up, the one whose client left is not')
  t.equal(m.mirror.trim(), 0, 'and only once')
  t.match(m.mirror.stats, { requests: 5, shed: 3, dropped: 0 })
  rest.open()
  const bodies = await Promise.all([0, 2, 3].map(i => clients[i]!.body.arrayBuffer()))
  t.strictSame(bodies.map(b => b.byteLength), [1, 2, 3].map(() => 2 * half.length), 'every client still there got its whole answer')
  await m.mirror.queue.idle()
  t.strictSame(
    m.comparisons.map(c => [c.request.path, c.divergences.map(d => (d.kind === 'not-compared' ? d.reason : d.kind)), c.bytesCompared]).sort(),
    [['/a', [], 2 * half.length], ['/b', [], half.length], ['/c', ['shed'], 0], ['/d', ['shed'], 0], ['/e', ['shed'], 0]],
    'what was shed is recorded as shed, and what was not as compared (/b as far as its client got)',
  )
  t.match(m.comparisons.find(c => c.request.path === '/c'), { status: { control: 200 } }, 'a comparison given up before its shadow was sent has the primary status')
  // /c may have taken the slot /b's comparison freed before the trim, and was given up running.
  const asked = m.nw.seen.map(s => s.req.path)
  t.ok(asked.includes('/a') && asked.includes('/b') && !asked.includes('/d') && !asked.includes('/e'), `new is not asked for the ones given up while they waited (asked: ${asked.join(' ')})`)
  t.match(m.mirror.stats, { requests: 5, compared: 2, abandoned: 3, shed: 3, dropped: 0, pending: 0 })
  addsUp(t, m.mirror.stats, 'at the end')
})

t.test('with a baseline, a body the client and the shadow read side by side is judged against the baseline on every byte', async t => {
  const size = 1024 * 1024
  const at = 300_000 // past the first block, kept whole
  const bytes = (...flips: number[]): Buffer => patterned(size, ...flips)
  const big = (body: Buffer): Observed => ({
    kind: 'response',
    status: 200,
    headers: [['content-type', 'application/octet-stream'], ['content-length', String(size)]],
    body: (async function* () {
      for (let i = 0; i < size; i += 64 * 1024) yield body.subarray(i, i + 64 * 1024)
    })(),
    durationMs: 1,
  })
  const primary = bytes()
  const baseline = new FakeBackend('baseline', 'http://baseline.invalid')
  const m = await setup(t, { baseline }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
    res.end(primary)
  })
  // [path, new's bytes, the baseline's bytes, divergences, noise]
  const rows: Array<[string, Buffer, Buffer, object[], object[]]> = [
    ['/equal', bytes(), bytes(), [], []],
    ['/new-differs', bytes(at), bytes(), [{ kind: 'body-bytes' }], []],
    ['/both-differ', bytes(at), bytes(at), [], [{ kind: 'body-bytes' }]],
  ]
  for (const [path, newBytes, baseBytes, divergences, noise] of rows) {
    m.nw.reply = () => big(newBytes)
    baseline.reply = () => big(baseBytes)
    const res = await request(`${m.url}${path}`)
    t.ok(Buffer.from(await res.body.arrayBuffer()).equals(primary), `${path}: the client gets the primary's bytes`)
    await m.mirror.queue.idle()
    const c = m.comparisons.at(-1)!
    t.match(c, { divergences, noise }, `${path}: divergences and noise`)
    t.equal(c.divergences.length + c.noise.length, divergences.length + noise.length, `${path}: nothing else`)
  }
})

t.test('accounting: counters count comparisons, and the metrics are the same numbers', async t => {
  const baseline = new FakeBackend('baseline', 'http://baseline.invalid')
  const m = await setup(t, { baseline })
  // /diff: new differs in two headers and the body; the baseline shows the same two headers.
  // /down: new fails before a status. /same: clean.
  const odd: Array<[string, string]> = [['content-type', 'text/plain'], ['content-length', '8'], ['x-a', '1'], ['x-b', '2']]
  m.nw.reply = req =>
    req.path === '/down'
      ? { kind: 'error', code: 'ERR_CONNECT', message: 'new: refused', durationMs: 1 }
      : req.path === '/diff'
        ? answer(req, { body: 'PAYLOAD\n', headers: odd })
        : answer(req)
  baseline.reply = req => (req.path === '/diff' ? answer(req, { headers: odd }) : answer(req))
  for (const path of ['/diff', '/down', '/same']) {
    await m.get(path)
    await m.mirror.queue.idle()
  }
  const [diff, down, same] = m.comparisons
  t.match(diff, { divergences: [{ kind: 'body-bytes' }], noise: [{ kind: 'header' }, { kind: 'header' }] }, '/diff: two noise divergences')
  t.match(down, { divergences: [{ kind: 'error', side: 'candidate', code: 'ERR_CONNECT' }] })
  t.match(same, { divergences: [], noise: [] })
  t.match(m.mirror.stats, {
    requests: 3,
    compared: 3,
    divergent: 2,
    divergentByKind: { 'body-bytes': 1, error: 1 },
    noise: 1,
    shadowErrors: 1,
  })
  t.equal(m.mirror.stats.bytesCompared, 2 * BODY.length, 'the bytes of the two bodies compared')
  addsUp(t, m.mirror.stats, 'at the end')
  const table: Array<[string, number | undefined]> = [
    ['cutover_mirror_compared_total', 3],
    ['cutover_mirror_divergent_total{kind="body-bytes"}', 1],
    ['cutover_mirror_divergent_total{kind="error"}', 1],
    ['cutover_mirror_divergent_total{kind="header"}', undefined],
    ['cutover_mirror_noise_total', 1],
    ['cutover_mirror_shadow_errors_total', 1],
    ['cutover_mirror_shadow_seconds_count', 6],
  ]
  for (const [name, want] of table) t.equal(await metricValue(m.mirror, name), want, name)
  t.equal(baseline.seen.length, 3, 'the baseline is asked what the control is asked')
})

t.test('close() cuts shadows that outlive the grace period and counts them abandoned', async t => {
  const m = await setup(t)
  m.nw.hold = gate() // never opened: only the stop signal ends the send
  await m.get('/f')
  await m.nw.arrived[0]!.promise
  t.match(m.mirror.stats, { requests: 1, pending: 1 })
  const { forced } = await m.mirror.close(0)
  t.equal(forced, true)
  t.match(m.mirror.stats, { requests: 1, compared: 0, abandoned: 1, pending: 0, shadowErrors: 0 }, 'an abort is not a shadow error')
  t.equal(m.nw.seen[0]!.o?.signal?.aborted, true, 'the send was cut')
  addsUp(t, m.mirror.stats, 'after close')
})

t.test('past its first 4 MiB the shadow body is read at shadowRate: the comparison ends when its time is due, not with the client', async t => {
  const clock = new ManualClock()
  const size = 6 * 1024 * 1024
  const body = Buffer.alloc(size, 'x')
  // 1 MiB a second: the 2 MiB past the first 4 MiB take 2 s.
  const rate = 1024 * 1024
  const m = await setup(t, { clock, shadowRate: rate }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(size) })
    res.end(body)
  })
  m.nw.reply = req => answer(req, { body: body.toString(), headers: [['content-type', 'text/plain'], ['content-length', String(size)]] })
  t.equal((await m.get('/big')).length, size, 'the client got its answer at once')
  for (let i = 0; i < 200 && m.mirror.stats.compared === 0; i++) await new Promise(setImmediate)
  t.match(m.mirror.stats, { compared: 0, pending: 1 }, "the shadow's last 2 MiB wait for their time")
  clock.advance(1999)
  for (let i = 0; i < 200 && m.mirror.stats.compared === 0; i++) await new Promise(setImmediate)
  t.match(m.mirror.stats, { compared: 0, pending: 1 }, 'not before 2 s')
  clock.advance(1)
  await m.mirror.queue.idle()
  t.match(m.mirror.stats, { compared: 1, divergent: 0, abandoned: 0, pending: 0 })
  t.equal(m.comparisons[0]?.bytesCompared, size, 'every byte compared')
})

t.test('bad options are refused at construction', async t => {
  const old = new FakeBackend('old', 'http://127.0.0.1:1')
  const nw = new FakeBackend('new', 'http://127.0.0.1:2')
  const table: Array<[string, Partial<MirrorOptions>]> = [
    ['a sample above 1', { sample: 1.5 }],
    ['a negative sample', { sample: -0.1 }],
    ['a tee of 0 bytes', { teeBytes: 0 }],
    ['shedAbove above 1', { shedAbove: 2 }],
    // A shadow is sent without the client's body: it would be compared with old's answer to the body.
    ['a method with a body', { shadowMethods: ['GET', 'POST'] }],
    ['PUT in lower case', { shadowMethods: ['put'] }],
    ['a shadow rate of 0', { shadowRate: 0 }],
    ['an unbounded shadow rate', { shadowRate: Number.POSITIVE_INFINITY }],
  ]
  for (const [name, o] of table) t.throws(() => new Mirror({ old, new: nw, ...o }), TypeError, name)
})

t.test('outgoingTarget: the one target both servers are sent', async t => {
  const table: Array<[string, string | undefined]> = [
    ['/dl//file.bin?x=a//b', '/dl//file.bin?x=a//b'],
    ['/a/./b/../%2F?%2F', '/a/./b/../%2F?%2F'],
    ['/', '/'],
    ['http://h.example/p//q?r=//s', '/p//q?r=//s'],
    ['https://h.example:8443', '/'],
    ['HTTP://h.example?q', '/?q'],
    ['*', '*'],
    ['h.example:443', undefined], // authority-form: CONNECT only
    ['http:/no-authority', undefined],
    ['relative/path', undefined],
  ]
  for (const [target, want] of table) t.equal(outgoingTarget(target), want, JSON.stringify(target))
})
