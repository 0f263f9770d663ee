import t from 'tap'
import { loadMimeTable, parseBytes, parseCount, parseDefaultType, parseDuration, parseFraction, parseListen, parseUrl } from '../../src/cli/options.js'

t.test('parseListen reads HOST:PORT forms', async t => {
  const ok: Array<[string, { host: string; port: number }]> = [
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
    [':80', { host: '0.0.0.0', port: 80 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
  ]
  for (const [s, want] of ok) t.same(parseListen(s), want, s)
  for (const bad of ['8080', 'host:', 'host:99999', '::1:80', 'a:b']) t.throws(() => parseListen(bad), `${bad} is refused`)
})

t.test('parseBytes reads binary sizes', async t => {
  const ok: Array<[string, number]> = [
    ['65536', 65536],
    ['64k', 65536],
    ['64KiB', 65536],
    ['2MiB', 2 * 1024 * 1024],
    ['1g', 1024 ** 3],
    ['1.5m', 1.5 * 1024 * 1024],
  ]
  for (const [s, want] of ok) t.equal(parseBytes(s), want, s)
  for (const bad of ['', '0', '-1', '1x', 'k']) t.throws(() => parseBytes(bad), `"${bad}" is refused`)
})

t.test('parseDuration reads seconds and suffixed durations as milliseconds', async t => {
  const ok: Array<[string, number]> = [
    ['30', 30_000],
    ['1.5', 1500],
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['0', 0],
  ]
  for (const [s, want] of ok) t.equal(parseDuration(s), want, s)
  for (const bad of ['', 'x', '1h', '-1s']) t.throws(() => parseDuration(bad), `"${bad}" is refused`)
})

t.test('parseUrl accepts http(s) server URLs only', async t => {
  for (const ok of ['http://127.0.0.1:8080', 'https://old.example/', 'http://h/prefix']) t.equal(parseUrl(ok), ok, ok)
  for (const bad of ['127.0.0.1:8080', 'ftp://h/', 'http://h/?q=1', 'http://u:p@h/', 'http://h/#x']) {
    t.throws(() => parseUrl(bad), `${bad} is refused`)
  }
})

t.test('parseFraction reads 0..1 and parseCount integers from a minimum', async t => {
  const ok: Array<[string, number]> = [
    ['0', 0],
    ['1', 1],
    ['0.25', 0.25],
    ['.5', 0.5],
  ]
  for (const [s, want] of ok) t.equal(parseFraction(s), want, s)
  for (const bad of ['', '1.5', '-0.1', 'half', '1e-1']) t.throws(() => parseFraction(bad), `"${bad}" is refused`)
  t.equal(parseCount(0)('0'), 0)
  t.equal(parseCount(1)('16'), 16)
  for (const bad of ['', '0', '-1', '1.5', 'x']) t.throws(() => parseCount(1)(bad), `"${bad}" is refused below 1`)
})

t.test('parseDefaultType accepts "sniff" or a media type', async t => {
  for (const ok of ['sniff', 'application/octet-stream', 'text/plain; charset=utf-8']) t.equal(parseDefaultType(ok), ok, ok)
  for (const bad of ['', 'Sniff', 'octet-stream', 'text/plain\r\nX: 1']) t.throws(() => parseDefaultType(bad), `${JSON.stringify(bad)} is refused`)
})

t.test('loadMimeTable reads a file, or names it in the error', async t => {
  const dir = t.testdir({ 'ok.types': 'types { text/plain txt; }', 'bad.types': 'text/plain txt\nbroken\n' })
  t.equal(loadMimeTable(`${dir}/ok.types`).lookup('a.txt'), 'text/plain')
  t.throws(() => loadMimeTable(`${dir}/bad.types`), { message: `${dir}/bad.types:2: "broken" is not a media type (expected type/subtype, e.g. text/plain)` })
  t.throws(() => loadMimeTable(`${dir}/none.types`), { message: `--mime-types ${dir}/none.types: does not exist` })
})
