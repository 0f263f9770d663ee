import t from 'tap'
import { ManualClock } from '../helpers/manual-clock.js'
import type { Divergence } from '../../src/audit/divergence.js'
import { EtagPairs } from '../../src/audit/etag-pairs.js'
import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import { runExperiment, type SideName } from '../../src/audit/experiment.js'
import type { Backend } from '../../src/audit/http-backend.js'
import { DEFAULT_RULES, parseRules } from '../../src/audit/rules.js'
import { gate } from '../helpers/gate.js'
import { RangeBackend } from '../helpers/range-backend.js'
import { ZoomBudget } from '../../src/audit/zoom.js'
import { CutoverError } from '../../src/core/errors.js'

const req = (headers: Record<string, string> = {}, path = '/f'): ExchangeRequest => ({ id: 'x', method: 'GET', path, headers })

const bodyOf = (...chunks: Array<string | Promise<string>>): AsyncIterable<Uint8Array> =>
  (async function* () {
    for (const c of chunks) yield Buffer.from(await c)
  })()

const tagged = (tag: string, ...body: Array<string | Promise<string>>): Observed => ({
  kind: 'response',
  status: 200,
  headers: [['etag', tag]],
  body: bodyOf(...body),
  durationMs: 1,
})

/** fake is a Backend that answers with `reply` and records the requests it was sent. */
function fake(name: string, reply: (r: ExchangeRequest) => Observed): Backend & { seen: ExchangeRequest[] } {
  const seen: ExchangeRequest[] = []
  return {
    name,
    base: `http://${name}`,
    seen,
    send: async r => {
      seen.push(r)
      return reply(r)
    },
    close: async () => undefined,
  }
}

const consistent = parseRules('etag: consistent')
const tagsIgnored = parseRules('etag: ignore')

t.test('the experiment learns ETag pairs across exchanges; each verdict uses the pairs of earlier ones', async t => {
  const etags = new EtagPairs()
  const run = (ce: string, ne: string, path = '/f'): Promise<readonly Divergence[]> =>
    runExperiment(
      req({}, path),
      { control: fake('old', () => tagged(ce, 'a')), candidate: fake('new', () => tagged(ne, 'a')) },
      { rules: consistent, etags },
    ).then(c => c.divergences)
  const table: Array<[string, string, string, string, number]> = [
    ['first pairing', '/f', '"old1"', '"new1"', 0],
    ['same pairing again', '/f', '"old1"', '"new1"', 0],
    ['a new version on both sides', '/f', '"old2"', '"new2"', 0],
    ['new reuses a tag for another representation', '/f', '"old3"', '"new1"', 1],
    ['pairs are per path', '/other', '"old1"', '"new9"', 0],
  ]
  for (const [name, path, ce, ne, want] of table) {
    const got = await run(ce, ne, path)
    t.equal(got.length, want, name)
    if (want) t.match(got, [{ kind: 'header', name: 'etag' }], `${name}: an etag divergence`)
  }
  t.equal(etags.translate('/f', '"old2"'), '"new2"', 'validators translate')
})

t.test('a pair is learnt before the bodies are compared: a later exchange in flight is judged against it', async t => {
  const etags = new EtagPairs()
  const slow = gate<string>()
  const first = runExperiment(
    req(),
    { control: fake('old', () => tagged('"o"', 'a', 'b')), candidate: fake('new', () => tagged('"n1"', 'a', slow.promise)) },
    { rules: consistent, etags },
  )
  // The first comparison is still reading its bodies when the second one runs to its end.
  const second = await runExperiment(
    req(),
    { control: fake('old', () => tagged('"o"', 'ab')), candidate: fake('new', () => tagged('"n2"', 'ab')) },
    { rules: consistent, etags },
  )
  t.match(second.divergences, [{ kind: 'header', name: 'etag', control: '"o"', candidate: '"n2"' }])
  slow.open('b')
  t.strictSame((await first).divergences, [], 'the first one learnt "o" and "n1"')
})

t.test('validators are translated toward each side; the baseline gets the control request', async t => {
  const etags = new EtagPairs()
  etags.observe('/f', '"o"', '"n"')
  const table: Array<[string, 'control' | 'candidate', string, string, string]> = [
    ['the client holds old tags', 'control', '"o"', '"o"', '"n"'],
    ['the client holds new tags', 'candidate', '"n"', '"o"', '"n"'],
  ]
  for (const [name, validatorsOf, sent, toOld, toNew] of table) {
    const old = fake('old', () => tagged('"o"', 'a'))
    const nw = fake('new', () => tagged('"n"', 'a'))
    const baseline = fake('baseline', () => tagged('"o"', 'a'))
    const c = await runExperiment(req({ 'if-none-match': sent }), { control: old, candidate: nw, baseline }, { rules: consistent, etags, validatorsOf })
    t.strictSame(c.divergences, [], `${name}: no divergence`)
    t.equal(old.seen[0]!.headers['if-none-match'], toOld, `${name}: old gets its own tag`)
    t.equal(baseline.seen[0]!.headers['if-none-match'], toOld, `${name}: so does the baseline`)
    t.equal(nw.seen[0]!.headers['if-none-match'], toNew, `${name}: new gets its own tag`)
  }
  t.equal(etags.translate('/f', '"o"'), '"n"', 'control-vs-baseline learnt nothing that breaks the pair')
})

t.test('an answered side is not sent to; its one body feeds both comparisons', async t => {
  const answers: SideName[] = []
  const nw = fake('new', () => tagged('"t"', 'diff'))
  const baseline = fake('baseline', () => tagged('"t"', 'diff'))
  const c = await runExperiment(
    req(),
    { control: { answer: tagged('"t"', 'same') }, candidate: nw, baseline },
    { rules: DEFAULT_RULES, onAnswer: side => answers.push(side) },
  )
  t.strictSame(c.divergences, [], 'the body difference is explained by the baseline comparison')
  t.match(c.noise, [{ kind: 'body-bytes', offset: 0 }], 'which read the same control digest')
  t.strictSame(answers.sort(), ['baseline', 'candidate'], 'onAnswer hears only the sides sent to')
})

t.test('a control sent to feeds both comparisons from its one body, and noise is what the baseline also shows', async t => {
  const old = fake('old', () => ({ ...tagged('"o"', 'same'), headers: [['x-served-by', 'old-1']] }))
  const nw = fake('new', () => ({ ...tagged('"o"', 'diff'), headers: [['x-served-by', 'new-1']] }))
  const baseline = fake('baseline', () => ({ ...tagged('"o"', 'same'), headers: [['x-served-by', 'old-2']] }))
  const c = await runExperiment(req(), { control: old, candidate: nw, baseline }, { rules: DEFAULT_RULES })
  t.equal(old.seen.length, 1, 'old is asked once')
  t.match(c.divergences, [{ kind: 'body-bytes', offset: 0 }])
  t.equal(c.divergences.length, 1)
  t.match(c.noise, [{ kind: 'header', name: 'x-served-by' }])
})

t.test('the comparison time comes from the clock', async t => {
  const clock = new ManualClock(Date.UTC(2031, 5, 6, 7, 8, 9, 10))
  const c = await runExperiment(req(), { control: fake('old', () => tagged('"a"', 'x')), candidate: fake('new', () => tagged('"a"', 'x')) }, { clock })
  t.equal(c.time, '2031-06-06T07:08:09.010Z')
})

const KiB = 1024
/** pattern is `n` deterministic bytes with the bytes at `flips` changed. */
const pattern = (n: number, ...flips: number[]): Buffer => {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 10)) & 0xff
  for (const f of flips) b[f] = b[f]! ^ 0x5a
  return b
}

t.test('a difference beyond the first block: located exactly by re-requesting its block, or to the block, saying why', async t => {
  const size = 1024 * KiB
  const at = 300_000 // in block 4: [262144, 327680)
  type Row = [name: string, oldTag: string, newTag: string, budget: ZoomBudget | undefined, change: boolean, want: object]
  const table: Row[] = [
    ['re-requested', '"o"', '"n"', new ZoomBudget(), false, { offset: at }],
    ['--no-zoom', '"o"', '"n"', undefined, false, { offset: 262_144, block: { from: 262_144, to: 327_680, why: /--no-zoom/ } }],
    ['a weak ETag', 'W/"o"', '"n"', new ZoomBudget(), false, { offset: 262_144, block: { why: /strong ETag/ } }],
    ['the budget spent', '"o"', '"n"', spent(), false, { block: { why: /budget spent/ } }],
    ['old changed since', '"o"', '"n"', new ZoomBudget(), true, { block: { why: /old changed since/ } }],
  ]
  for (const [name, oldTag, newTag, budget, change, want] of table) {
    const old = new RangeBackend('old', pattern(size), oldTag)
    const nw = new RangeBackend('new', pattern(size, at, at + 5000), newTag)
    const c = await runExperiment(req(), { control: old, candidate: nw }, { rules: tagsIgnored, zoom: budget, onAnswer: side => { if (change && side === 'control') old.etag = '"o2"' } })
    t.match(c.divergences, [{ kind: 'body-bytes', controlLength: size, candidateLength: size, ...want }], name)
    t.equal(c.divergences.length, 1, `${name}: one divergence`)
    const exact = c.divergences[0]!.kind === 'body-bytes' && c.divergences[0]!.block === undefined
    if (exact) {
      const d = c.divergences[0] as Extract<Divergence, { kind: 'body-bytes' }>
      t.equal(d.context!.from, at - 32, `${name}: context from the re-requested bytes`)
      t.equal(d.context!.control.slice(64, 66), pattern(size).subarray(at, at + 1).toString('hex'))
    }
    const zooms = old.seen.length - 1
    t.equal(zooms, name === 're-requested' || name === 'old changed since' ? 1 : 0, `${name}: re-requests to old`)
  }
})

t.test('with a baseline, bodies past the first block that old and new read side by side are judged against the baseline on every byte', async t => {
  const size = 1024 * KiB
  const at = 300_000 // in block 4, past the head
  // [name, new's bytes, baseline's bytes, divergences, noise]
  const rows: Array<[string, Buffer, Buffer, object[], object[]]> = [
    ['all three equal', pattern(size), pattern(size), [], []],
    ['new differs, the baseline does not: a divergence, not noise', pattern(size, at), pattern(size), [{ kind: 'body-bytes', offset: at }], []],
    ['new and the baseline differ alike: noise', pattern(size, at), pattern(size, at), [], [{ kind: 'body-bytes' }]],
  ]
  for (const [name, newBytes, baseBytes, divergences, noise] of rows) {
    const old = new RangeBackend('old', pattern(size), '"o"')
    const nw = new RangeBackend('new', newBytes, '"n"')
    const baseline = new RangeBackend('baseline', baseBytes, '"o"')
    const c = await runExperiment(req(), { control: old, candidate: nw, baseline }, { rules: tagsIgnored, zoom: new ZoomBudget() })
    t.match(c.divergences, divergences, `${name}: divergences`)
    t.equal(c.divergences.length, divergences.length, `${name}: no other divergence`)
    t.match(c.noise, noise, `${name}: noise`)
    t.equal(c.noise.length, noise.length, `${name}: no other noise`)
  }
})

/** spent is a budget with nothing left. */
function spent(): ZoomBudget {
  const b = new ZoomBudget(1, new ManualClock())
  b.take()
  return b
}

t.test('a body shorter than the other, ending mid-block beyond the first: a length difference, the block checked by a re-request', async t => {
  const old = new RangeBackend('old', pattern(200 * KiB + 10))
  const nw = new RangeBackend('new', pattern(300 * KiB))
  const rows: Array<[string, ZoomBudget | undefined, object]> = [
    ['re-requested: a prefix', new ZoomBudget(), { kind: 'body-length', control: 200 * KiB + 10, candidate: 300 * KiB }],
    ['not re-requested: equal up to the block', undefined, { kind: 'body-length', equalUpTo: 192 * KiB }],
  ]
  for (const [name, zoom, want] of rows) {
    const c = await runExperiment(req(), { control: old, candidate: nw }, { rules: DEFAULT_RULES, zoom })
    t.strictSame(c.divergences[0], { kind: 'header', name: 'content-length', control: String(200 * KiB + 10), candidate: String(300 * KiB) }, name)
    t.match(c.divergences.slice(1), [want], name)
    t.equal(c.divergences.length, 2, `${name}: nothing else`)
    t.equal(c.divergences[1]!.kind === 'body-length' && c.divergences[1]!.equalUpTo !== undefined, zoom === undefined, `${name}: equalUpTo only when not re-requested`)
  }
})

t.test('bodies are read independently: one side is read to its end while the other is still stalled', async t => {
  const candidateDone = gate()
  const body = pattern(3 * 64 * KiB)
  const control: Observed = {
    kind: 'response',
    status: 200,
    headers: [],
    // The rest of old's body comes only once new's body has been read to its end: in lockstep, never.
    body: (async function* () {
      yield body.subarray(0, 1000)
      await candidateDone.promise
      yield body.subarray(1000)
    })(),
    durationMs: 1,
  }
  const candidate: Observed = {
    kind: 'response',
    status: 200,
    headers: [],
    body: (async function* () {
      for (let at = 0; at < body.length; at += 4096) yield body.subarray(at, at + 4096)
      candidateDone.open()
    })(),
    durationMs: 1,
  }
  const c = await runExperiment(req(), { control: { answer: control }, candidate: { answer: candidate } }, { rules: DEFAULT_RULES })
  t.match(c, { divergences: [], bytesCompared: body.length })
})

t.test('a client-paced body its client cut short is compared as far as the client got', async t => {
  const full = pattern(3 * 64 * KiB)
  const cutAt = 2 * 64 * KiB + 500
  const cut = (flip?: number): Observed => ({
    kind: 'response',
    status: 200,
    headers: [['etag', '"v1"'], ['content-type', 'application/octet-stream'], ['content-length', String(full.length)]],
    body: (async function* () {
      const b = flip === undefined ? full : pattern(full.length, flip)
      yield b.subarray(0, cutAt)
      throw new CutoverError('ERR_CLIENT_GONE', 'the client went away')
    })(),
    durationMs: 1,
  })
  const rows: Array<[string, number | undefined, object[]]> = [
    ['no difference: whole blocks compared', undefined, []],
    ['a difference in the first block', 100, [{ kind: 'body-bytes', offset: 100 }]],
    ['a difference in a later block', 70_000, [{ kind: 'body-bytes', offset: 65_536, block: { from: 65_536, to: 131_072 } }]],
  ]
  for (const [name, flip, want] of rows) {
    const c = await runExperiment(req(), { control: { answer: cut(flip), paced: true }, candidate: new RangeBackend('new', full) }, { rules: DEFAULT_RULES })
    t.match(c.divergences, want, name)
    t.equal(c.divergences.length, want.length, `${name}: nothing else (no length difference: the client cut it)`)
    if (want.length === 0) t.equal(c.bytesCompared, 2 * 64 * KiB, `${name}: the bytes compared`)
  }
  const early = await runExperiment(req(), { control: { answer: { kind: 'error', code: 'ERR_CLIENT_GONE', message: 'gone', durationMs: 1 }, paced: true }, candidate: new RangeBackend('new', full) }, { rules: DEFAULT_RULES })
  t.match(early.divergences, [{ kind: 'not-compared', reason: 'client-gone' }], 'a client gone before the status: not compared')
})

t.test('once a client-paced body is cut by its client or given up, the other side is read no further than it was', async t => {
  const full = pattern(16 * 64 * KiB)
  const headers: Array<[string, string]> = [['etag', '"v1"'], ['content-type', 'application/octet-stream'], ['content-length', String(full.length)]]
  const table: Array<[string, 'control' | 'candidate', 'ERR_CLIENT_GONE' | 'ERR_SHED', unknown[], number]> = [
    ['old answers clients, its client left', 'control', 'ERR_CLIENT_GONE', [], 2 * 64 * KiB],
    ['old answers clients, the mirror shed the comparison', 'control', 'ERR_SHED', [{ kind: 'not-compared', reason: 'shed' }], 0],
    ['new answers clients, its client left', 'candidate', 'ERR_CLIENT_GONE', [], 2 * 64 * KiB],
    ['new answers clients, the mirror shed the comparison', 'candidate', 'ERR_SHED', [{ kind: 'not-compared', reason: 'shed' }], 0],
  ]
  for (const [name, pacedSide, code, divergences, compared] of table) {
    const pacedDone = gate()
    const paced: Observed = {
      kind: 'response',
      status: 200,
      headers,
      body: (async function* () {
        try {
          yield full.subarray(0, 64 * KiB)
          yield full.subarray(64 * KiB, 2 * 64 * KiB)
          throw new CutoverError(code, 'cut')
        } finally {
          pacedDone.open()
        }
      })(),
      durationMs: 1,
    }
    let pulled = 0
    let closed = false
    const other: Backend = {
      name: 'other',
      base: 'http://other.invalid',
      send: async () => ({
        kind: 'response',
        status: 200,
        headers,
        body: (async function* () {
          try {
            for (let k = 0; k < 16; k++) {
              // The third chunk comes only after the paced body ended: nothing races the cut.
              if (k === 2) {
                await pacedDone.promise
                for (let i = 0; i < 5; i++) await new Promise(setImmediate)
              }
              pulled++
              yield full.subarray(k * 64 * KiB, (k + 1) * 64 * KiB)
            }
          } finally {
            closed = true
          }
        })(),
        durationMs: 1,
      }),
      close: async () => {},
    }
    const answered = { answer: paced, paced: true }
    const sides = pacedSide === 'control' ? { control: answered, candidate: other } : { control: other, candidate: answered }
    const c = await runExperiment(req(), sides, { rules: DEFAULT_RULES })
    t.match(c.divergences, divergences, `${name}: what is recorded`)
    t.equal(c.divergences.length, divergences.length, `${name}: nothing else`)
    t.equal(c.bytesCompared, compared, `${name}: bytes compared`)
    // A cancelled generator runs its `finally` once it is next resumed.
    for (let i = 0; i < 20 && !closed; i++) await new Promise(setImmediate)
    t.ok(closed, `${name}: the other stream was cancelled`)
    t.ok(pulled <= 3, `${name}: the other side read ${pulled} of 16 chunks, no more than needed`)
  }
})

t.test('a side that sends no byte for the body timeout times out; a client-paced side never does', async t => {
  const clock = new ManualClock()
  const stall = gate()
  const stalled = (): Observed => ({
    kind: 'response',
    status: 200,
    headers: [],
    body: (async function* () {
      yield Buffer.from('abc')
      await stall.promise
    })(),
    durationMs: 1,
  })
  const ok = (): Observed => ({ kind: 'response', status: 200, headers: [], body: bodyOf('abcdef'), durationMs: 1 })
  const run = runExperiment(req(), { control: { answer: ok() }, candidate: { answer: stalled() } }, { rules: DEFAULT_RULES, clock, bodyTimeoutMs: 5000 })
  for (let i = 0; i < 100 && clock.pending === 0; i++) await new Promise(setImmediate)
  clock.advance(5000)
  t.match((await run).divergences, [{ kind: 'timeout', side: 'candidate', afterMs: 5000 }])
  const paced = runExperiment(req(), { control: { answer: stalled(), paced: true }, candidate: { answer: ok() } }, { rules: DEFAULT_RULES, clock, bodyTimeoutMs: 5000 })
  for (let i = 0; i < 100; i++) await new Promise(setImmediate)
  clock.advance(60_000)
  stall.open()
  t.match((await paced).divergences, [{ kind: 'body-length', control: 3, candidate: 6 }], 'the paced side waited for its client')
})

t.test('a body never read (its comparison ended first) is destroyed, releasing its connection', async t => {
  const { Readable } = await import('node:stream')
  const late = gate()
  const candidateBody = new Readable({ read() {} })
  const candidate: Observed = { kind: 'response', status: 200, headers: [], body: candidateBody, durationMs: 1 }
  const control: Observed = {
    kind: 'response',
    status: 200,
    headers: [],
    body: (async function* () {
      yield Buffer.from('abc')
      throw new CutoverError('ERR_ABANDONED', 'over budget')
    })(),
    durationMs: 1,
  }
  // The candidate answers only once the control's body has been given up.
  const run = runExperiment(req(), { control: { answer: control }, candidate: { answer: late.promise.then(() => candidate) } }, { rules: DEFAULT_RULES })
  for (let i = 0; i < 100; i++) await new Promise(setImmediate)
  late.open()
  const c = await run
  t.match(c.divergences, [{ kind: 'not-compared', reason: 'budget' }])
  t.ok(candidateBody.destroyed, 'the unread body was destroyed')
})
