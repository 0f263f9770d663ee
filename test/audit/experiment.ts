import t from 'tap'
import { ManualClock } from '../helpers/manual-clock.js'
import type { Divergence } from '../../src/audit/divergence.js'
import { EtagPairs } from '../../src/audit/etag-pairs.js'
import type { ExchangeRequest, Observed } from '../../src/audit/exchange.js'
import { runExperiment, type SideName } from '../../src/audit/experiment.js'
import type { Backend } from '../../src/audit/http-backend.js'
import { DEFAULT_RULES, parseRules } from '../../src/audit/rules.js'
import { gate } from '../helpers/gate.js'

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
