import { Chalk } from 'chalk'
import t from 'tap'
import type { Comparison, Divergence } from '../../src/audit/divergence.js'
import { describeDivergence, renderComparison } from '../../src/report/render-comparison.js'

const plain = new Chalk({ level: 0 })
const SHA_A = 'ab12'.repeat(16)
const SHA_B = 'cd34'.repeat(16)

/** comparison builds a synthetic Comparison; fields not given are those of an equal exchange. */
function comparison(o: Partial<Comparison> = {}): Comparison {
  return {
    request: { id: 'r1', method: 'GET', path: '/big.bin', headers: {} },
    time: '2024-01-01T00:00:00.000Z',
    status: { control: 200, candidate: 200 },
    durationsMs: { control: 12.4, candidate: 15.6 },
    bytesCompared: 209715200,
    divergences: [],
    ignored: [],
    noise: [],
    ...o,
  }
}

t.test('describeDivergence renders every kind in one line', async t => {
  const table: Array<[Divergence, string]> = [
    [{ kind: 'status', control: 200, candidate: 404 }, 'status: old 200, new 404'],
    [{ kind: 'header', name: 'etag', control: '"a"', candidate: '"b"' }, 'header etag: old "\\"a\\"", new "\\"b\\""'],
    [{ kind: 'header', name: 'x-extra', candidate: '1' }, 'header x-extra: old (absent), new "1"'],
    [{ kind: 'header', name: 'server', control: 'nginx' }, 'header server: old "nginx", new (absent)'],
    [{ kind: 'body-length', control: 100, candidate: 99 }, 'body-length: old 100 B, new 99 B'],
    [{ kind: 'body-length', control: 10, candidate: 11, part: 2 }, 'body-length of part 2: old 10 B, new 11 B'],
    [
      {
        kind: 'body-bytes',
        offset: 104857601,
        controlLength: 209715200,
        candidateLength: 209715200,
        controlSha256: SHA_A,
        candidateSha256: SHA_B,
      },
      'body-bytes: first difference at byte 104857601; old 209715200 B sha256 ab12ab12ab12…, new 209715200 B sha256 cd34cd34cd34…',
    ],
    [
      { kind: 'body-bytes', offset: 17, part: 2, controlLength: 5, candidateLength: 5, controlSha256: 'ab', candidateSha256: 'cd' },
      'body-bytes: first difference at byte 17 of part 2; old 5 B sha256 ab, new 5 B sha256 cd',
    ],
    [
      // Bodies whose first bytes were only compared, not hashed, have no sha256.
      { kind: 'body-bytes', offset: 70000, controlLength: 90000, candidateLength: 90000 },
      'body-bytes: first difference at byte 70000; old 90000 B, new 90000 B',
    ],
    [
      { kind: 'range-part', part: 1, field: 'content-range', control: 'bytes 0-9/100', candidate: 'bytes 0-9/101' },
      'range-part: part 1 content-range: old "bytes 0-9/100", new "bytes 0-9/101"',
    ],
    [
      { kind: 'range-part', part: 0, field: 'content-type', control: 'text/plain' },
      'range-part: part 0 content-type: old "text/plain", new (absent)',
    ],
    [{ kind: 'range-part', part: 2, field: 'count', control: '3', candidate: '2' }, 'range-part: part count: old 3, new 2'],
    [{ kind: 'range-part', part: 2, field: 'count' }, 'range-part: part count: old ?, new ?'],
    [
      { kind: 'error', side: 'candidate', code: 'ERR_CONNECT', message: 'connect ECONNREFUSED 127.0.0.1:1' },
      'error on new: ERR_CONNECT connect ECONNREFUSED 127.0.0.1:1',
    ],
    [{ kind: 'error', side: 'control', code: 'ERR_UPSTREAM', message: 'body truncated' }, 'error on old: ERR_UPSTREAM body truncated'],
    [{ kind: 'timeout', side: 'candidate', afterMs: 60000 }, 'timeout on new after 60000 ms'],
    [{ kind: 'timeout', side: 'control', afterMs: 5 }, 'timeout on old after 5 ms'],
  ]
  for (const [d, want] of table) t.equal(describeDivergence(d), want, `${d.kind}: ${want}`)
})

t.test('renderComparison summarises an exchange', async t => {
  const table: Array<{ name: string; c: Comparison; headers?: Parameters<typeof renderComparison>[1]['headers']; want: string[] }> = [
    {
      name: 'an equal exchange',
      c: comparison({ request: { id: 'r', method: 'HEAD', path: '/a?b=1', headers: { range: 'bytes=0-99', 'accept-encoding': 'gzip' } } }),
      want: [
        'HEAD /a?b=1',
        '  accept-encoding: gzip',
        '  range: bytes=0-99',
        'old: 200 in 12 ms   new: 200 in 16 ms   209715200 B compared',
        'no divergences',
      ],
    },
    {
      name: 'one side without a response',
      c: comparison({
        status: { control: 200 },
        durationsMs: { control: 3 },
        bytesCompared: 0,
        divergences: [{ kind: 'error', side: 'candidate', code: 'ERR_CONNECT', message: 'refused' }],
      }),
      want: [
        'GET /big.bin',
        'old: 200 in 3 ms   new: no response   0 B compared',
        '1 divergence',
        '  error on new: ERR_CONNECT refused',
      ],
    },
    {
      name: 'divergences, ignored ones with their rule, noise, header diff and hexdump',
      c: comparison({
        status: { control: 206, candidate: 206 },
        bytesCompared: 32,
        divergences: [
          { kind: 'header', name: 'x-extra', candidate: '1' },
          {
            kind: 'body-bytes',
            offset: 20,
            controlLength: 32,
            candidateLength: 32,
            controlSha256: SHA_A,
            candidateSha256: SHA_B,
            context: { from: 16, control: '3031323334', candidate: '3031323358' },
          },
        ],
        ignored: [{ divergence: { kind: 'header', name: 'server', control: 'nginx', candidate: 'cutover' }, reason: 'ignoreHeaders' }],
        noise: [{ kind: 'header', name: 'age', control: '1', candidate: '2' }],
      }),
      headers: {
        control: [['Server', 'nginx'], ['Content-Length', '32']],
        candidate: [['content-length', '32'], ['server', 'cutover'], ['x-extra', '1']],
      },
      want: [
        'GET /big.bin',
        'old: 206 in 12 ms   new: 206 in 16 ms   32 B compared',
        '2 divergences',
        '  header x-extra: old (absent), new "1"',
        '  body-bytes: first difference at byte 20; old 32 B sha256 ab12ab12ab12…, new 32 B sha256 cd34cd34cd34…',
        'ignored by rules (1)',
        '  header server: old "nginx", new "cutover"  (ignoreHeaders)',
        'noise, also between old and baseline (1)',
        '  header age: old "1", new "2"',
        '',
        'response headers',
        '--- old',
        '+++ new',
        '@@ -1,2 +1,3 @@',
        ' content-length: 32',
        '-server: nginx',
        '+server: cutover',
        '+x-extra: 1',
        '',
        'body around byte 20',
        'old 00000010: 30 31 32 33 34                                    01234',
        'new 00000010: 30 31 32 33 58                                    0123X',
        '                          ^^                                        ^',
      ],
    },
    {
      name: 'equal headers add no diff; a body-bytes divergence without context adds no hexdump',
      c: comparison({
        divergences: [
          { kind: 'body-bytes', offset: 3, part: 1, controlLength: 9, candidateLength: 9, controlSha256: 'a', candidateSha256: 'b' },
        ],
      }),
      headers: { control: [['etag', '"x"']], candidate: [['ETag', '"x"']] },
      want: [
        'GET /big.bin',
        'old: 200 in 12 ms   new: 200 in 16 ms   209715200 B compared',
        '1 divergence',
        '  body-bytes: first difference at byte 3 of part 1; old 9 B sha256 a, new 9 B sha256 b',
      ],
    },
    {
      name: 'a multipart hexdump names the part',
      c: comparison({
        divergences: [
          {
            kind: 'body-bytes',
            offset: 1,
            part: 0,
            controlLength: 2,
            candidateLength: 2,
            controlSha256: 'a',
            candidateSha256: 'b',
            context: { from: 0, control: '4142', candidate: '4143' },
          },
        ],
      }),
      want: [
        'GET /big.bin',
        'old: 200 in 12 ms   new: 200 in 16 ms   209715200 B compared',
        '1 divergence',
        '  body-bytes: first difference at byte 1 of part 0; old 2 B sha256 a, new 2 B sha256 b',
        '',
        'body around byte 1 of part 0',
        'old 00000000: 41 42                                             AB',
        'new 00000000: 41 43                                             AC',
        '                 ^^                                              ^',
      ],
    },
  ]
  for (const row of table)
    t.equal(renderComparison(row.c, { chalk: plain, headers: row.headers }), row.want.join('\n') + '\n', row.name)
})

t.test('renderComparison adds ANSI codes only when the chalk level says so', async t => {
  const c = comparison({
    divergences: [{ kind: 'status', control: 200, candidate: 500 }],
    ignored: [{ divergence: { kind: 'header', name: 'server', control: 'a', candidate: 'b' }, reason: 'ignoreHeaders' }],
  })
  const ANSI = /\u001b\[[0-9;]*m/
  t.notMatch(renderComparison(c, { chalk: plain }), ANSI, 'level 0 is plain text')
  const coloured = renderComparison(c, { chalk: new Chalk({ level: 1 }) })
  t.match(coloured, ANSI, 'level 1 has escape codes')
  t.equal(coloured.replace(/\u001b\[[0-9;]*m/g, ''), renderComparison(c, { chalk: plain }), 'and the same text without them')
})
