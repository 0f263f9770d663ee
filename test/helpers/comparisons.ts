import { DIVERGENCE_KINDS, type Comparison, type Divergence, type DivergenceKind } from '../../src/audit/divergence.js'

/** comparison builds a synthetic Comparison; fields not given are those of an equal exchange. */
export function comparison(
  o: Partial<Comparison> & { path?: string; headers?: Record<string, string> } = {},
): Comparison {
  const { path = '/big.bin', headers = {}, ...rest } = o
  return {
    request: { id: 'r1', method: 'GET', path, headers },
    time: '2024-05-01T10:00:00.000Z',
    status: { control: 200, candidate: 200 },
    durationsMs: { control: 10, candidate: 12 },
    bytesCompared: 1000,
    divergences: [],
    ignored: [],
    noise: [],
    ...rest,
  }
}

const SHA_A = 'ab12'.repeat(16)
const SHA_B = 'cd34'.repeat(16)

/** FIXTURE_PATHS are the paths of {@link fixtureComparisons}, awkward ones included (XSS, quotes). */
export const FIXTURE_PATHS = [
  '/sdk/v1.zip',
  '/pkgs/index.json?v=2',
  '/iso/big.iso',
  `/a b'$(x).txt`,
  '/<script>alert(1)</script>.txt',
] as const

/** XSS_HEADER is a response header value in the fixture that must show as text. */
export const XSS_HEADER = '<img src=x onerror=alert(1)>'

/** The divergences of comparison i of the fixture, by i % 10 (8 and 9 have none: ignored, noise). */
function divergencesOf(i: number): Divergence[] {
  switch (i % 10) {
    case 0:
      return [{ kind: 'header', name: 'etag', control: '"a"', candidate: XSS_HEADER }]
    case 1:
      return [
        { kind: 'header', name: 'etag', control: '"a"', candidate: '"b"' },
        { kind: 'header', name: 'last-modified', control: 'Mon, 01 Jan 2024 00:00:00 GMT' },
      ]
    case 2:
      return [
        {
          kind: 'body-bytes',
          offset: 1000 + i,
          controlLength: 4096,
          candidateLength: 4096,
          controlSha256: SHA_A,
          candidateSha256: SHA_B,
        },
      ]
    case 3:
      return [{ kind: 'status', control: 206, candidate: 200 }]
    case 4:
      return [{ kind: 'body-length', control: 4096, candidate: 4095 }]
    case 5:
      return [
        {
          kind: 'range-part',
          part: 1,
          field: 'content-range',
          control: 'bytes 0-9/100',
          candidate: 'bytes 0-9/101',
        },
      ]
    case 6:
      return [
        {
          kind: 'error',
          side: 'candidate',
          code: 'ERR_CONNECT',
          message: 'connect ECONNREFUSED 127.0.0.1:9',
        },
      ]
    case 7:
      return [{ kind: 'timeout', side: 'candidate', afterMs: 30000 }]
    default:
      return []
  }
}

/**
 * fixtureComparisons returns `n` deterministic comparisons of every kind, 12 s apart from
 * 2024-05-01T10:00:00Z, over the five FIXTURE_PATHS; with i % 10 = 8 only an ignored difference
 * (rule `etag: consistent`) and with 9 only noise (header server).
 */
export function fixtureComparisons(n = 50): Comparison[] {
  const out: Comparison[] = []
  for (let i = 0; i < n; i++) {
    const headers: Record<string, string> = { 'user-agent': 'curl/8.5.0', host: 'dl.example' }
    if (i % 3 === 0) headers.range = `bytes=${i}-${i + 99}`
    if (i % 4 === 1) headers['if-none-match'] = '"a"'
    out.push(
      comparison({
        request: {
          id: `r${i}`,
          method: i % 13 === 12 ? 'HEAD' : 'GET',
          path: FIXTURE_PATHS[i % 5]!,
          headers,
        },
        time: new Date(Date.parse('2024-05-01T10:00:00Z') + i * 12_000).toISOString(),
        status: { control: i % 10 === 3 ? 206 : 200, ...(i % 10 === 6 ? {} : { candidate: 200 }) },
        durationsMs: { control: 10 + (i % 7) * 3, candidate: 12 + (i % 11) * 4 },
        divergences: divergencesOf(i),
        ignored:
          i % 10 === 8
            ? [
                {
                  divergence: { kind: 'header', name: 'etag', control: '"1-2"', candidate: '"abc"' },
                  reason: 'etag: consistent',
                },
              ]
            : [],
        noise:
          i % 10 === 9 ? [{ kind: 'header', name: 'server', control: 'nginx', candidate: 'nginx/1.2' }] : [],
      }),
    )
  }
  return out
}

/** expectedKinds counts, from the comparisons themselves, divergences and requests by kind. */
export function expectedKinds(
  cs: readonly Comparison[],
): Record<DivergenceKind, { divergences: number; comparisons: number }> {
  const out = {} as Record<DivergenceKind, { divergences: number; comparisons: number }>
  for (const k of DIVERGENCE_KINDS)
    out[k] = {
      divergences: cs.reduce((a, c) => a + c.divergences.filter(d => d.kind === k).length, 0),
      comparisons: cs.filter(c => c.divergences.some(d => d.kind === k)).length,
    }
  return out
}
