import t from 'tap'
import { detectFormat } from '../../src/replay/parsers/detect-format.js'
import type { LogFormat } from '../../src/replay/record.js'

const COMBINED =
  '192.0.2.10 - - [10/Oct/2025:13:55:01 +0000] "GET /nums11.txt HTTP/1.1" 200 11 "-" "curl/7.88.1"'
const COMMON = '192.0.2.20 - frank [10/Oct/2025:06:55:31 -0700] "GET /nums11.txt HTTP/1.1" 200 11'
const META = '1 8f3a2b1c0d9e8f7a6b5c4d3e 1760104620001250000 0'

const cases: Array<[string, string, LogFormat | undefined]> = [
  ['nginx combined', `${COMBINED}\n${COMBINED}\n`, 'combined'],
  ['combined with a trailing range field', `${COMBINED} "bytes=0-4"\n`, 'combined'],
  [
    'combined with an escaped quote in the request',
    '1.2.3.4 - - [10/Oct/2025:13:55:01 +0000] "GET /a\\"b HTTP/1.1" 404 1 "-" "-"\n',
    'combined',
  ],
  ['Apache common', `${COMMON}\n${COMMON}\n`, 'common'],
  ['common whose first line is junk', `\u0016\u0003 junk\n${COMMON}\n`, 'common'],
  ['combined whose first line is cut', `${COMBINED.slice(0, 60)}\n${COMBINED}\n`, 'combined'],
  ['combined with CRLF line ends', `${COMBINED}\r\n`, 'combined'],
  ['a head cut inside the first line', COMBINED.slice(0, 70), 'common'],
  ['cutover JSONL', '{"time":"2025-10-10T13:56:01.007Z","method":"GET","path":"/a"}\n', 'jsonl'],
  ['JSONL after blank lines', '\n\n  {"time":"x"}\n', 'jsonl'],
  ['a pretty-printed HAR', '{\n  "log": {\n    "version": "1.2",', 'har'],
  ['a one-line HAR', '{"log":{"version":"1.2","entries":[]}}', 'har'],
  ['a HAR with a byte order mark', '\uFEFF{\n "log": {}}', 'har'],
  ['GoReplay', `${META}\nGET / HTTP/1.1\r\n`, 'gor'],
  [
    'GoReplay starting with a response record',
    '2 8f3a 1760104620001250000 350000\nHTTP/1.1 200 OK\r\n',
    'gor',
  ],
  ['GoReplay without latency', '1 8f3a 1760104620001250000\nGET / HTTP/1.1\r\n', 'gor'],
  ['plain text', 'hello\nworld\n', undefined],
  ['a JSON array', '[{"a":1}]\n', undefined],
  ['nothing', '', undefined],
]

t.test('detectFormat tells the format from the first lines', async t => {
  for (const [title, head, want] of cases)
    t.equal(detectFormat(head), want, `${title} is ${want ?? 'unknown'}`)
})

t.test('detectFormat looks only at the first 20 non-empty lines', async t => {
  t.equal(detectFormat(`${'junk\n'.repeat(19)}${COMMON}\n`), 'common')
  t.equal(detectFormat(`${'junk\n'.repeat(20)}${COMMON}\n`), undefined)
})
