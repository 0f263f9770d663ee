import t from 'tap'
import type { Comparison, Divergence } from '../../src/audit/divergence.js'
import { withNoise } from '../../src/audit/divergence.js'
import type { ExchangeRequest } from '../../src/audit/exchange.js'

const req = (headers: Record<string, string>): ExchangeRequest => ({ id: 'x', method: 'GET', path: '/f', headers })

const comparison = (divergences: Divergence[], noise: Divergence[] = []): Comparison => ({
  request: req({}),
  time: '2024-01-01T00:00:00.000Z',
  status: { control: 200, candidate: 200 },
  durationsMs: { control: 1, candidate: 1 },
  bytesCompared: 0,
  divergences,
  ignored: [],
  noise,
})

t.test('withNoise moves what the baseline also shows into noise, by divergence key', async t => {
  const server: Divergence = { kind: 'header', name: 'server', control: 'a', candidate: 'b' }
  const etag: Divergence = { kind: 'header', name: 'etag', control: '"1"', candidate: '"2"' }
  const bytes: Divergence = {
    kind: 'body-bytes',
    offset: 3,
    controlLength: 9,
    candidateLength: 9,
    controlSha256: 'c',
    candidateSha256: 'n',
  }
  const main = comparison([server, etag, bytes])
  const base = comparison([{ kind: 'header', name: 'server', control: 'a', candidate: 'c' }])
  const got = withNoise(main, base)
  t.strictSame(got.divergences, [etag, bytes])
  t.strictSame(got.noise, [server])
  t.strictSame(main.divergences, [server, etag, bytes], 'the input is not changed')

  const baseBytes = comparison([{ ...bytes, offset: 100 }])
  t.strictSame(withNoise(main, baseBytes).noise, [bytes], 'body differences are one key, wherever the offset')
})

t.test('withNoise does not take failures of the baseline as noise', async t => {
  const down: Divergence = { kind: 'error', side: 'candidate', code: 'ERR_CONNECT', message: 'new: refused' }
  const timeout: Divergence = { kind: 'timeout', side: 'candidate', afterMs: 10 }
  const main = comparison([down, timeout])
  const base = comparison([{ ...down, message: 'baseline: refused' }, timeout])
  t.equal(withNoise(main, base), main)
})
