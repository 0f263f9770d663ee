import t from 'tap'
import { codeOf } from '../../src/core/errors.js'
import { parseErrorToHttp } from '../../src/http/http-error.js'
import { checkRequestHead, parseRequestTarget, type RequestTarget } from '../../src/http/request-target.js'

t.test('parseRequestTarget: the forms of RFC 9112 §3.2, as Go reads them', async t => {
  const ok: [string, RequestTarget][] = [
    ['/a.txt', { kind: 'path', path: '/a.txt', query: '' }],
    ['/a.txt?x=1?y', { kind: 'path', path: '/a.txt', query: '?x=1?y' }],
    ['//evil.example', { kind: 'path', path: '//evil.example', query: '' }],
    ['/', { kind: 'path', path: '/', query: '' }],
    ['*', { kind: 'asterisk' }],
    ['http://h/a.txt', { kind: 'path', path: '/a.txt', query: '' }],
    ['http://h/a.txt?q', { kind: 'path', path: '/a.txt', query: '?q' }],
    ['HTTP://h/a.txt', { kind: 'path', path: '/a.txt', query: '' }],
    ['ftp://h/a.txt', { kind: 'path', path: '/a.txt', query: '' }],
    ['http://h', { kind: 'path', path: '/', query: '' }],
    ['http://h?q=1', { kind: 'path', path: '/', query: '?q=1' }],
    ['http://h//x', { kind: 'path', path: '//x', query: '' }],
    ['http://h:8080/a', { kind: 'path', path: '/a', query: '' }],
    ['http://h:/a', { kind: 'path', path: '/a', query: '' }],
    ['http://[::1]:80/a', { kind: 'path', path: '/a', query: '' }],
    ['http://[fe80::1%25en0]/a', { kind: 'path', path: '/a', query: '' }],
    ['http://user:pw@h/a', { kind: 'path', path: '/a', query: '' }],
    ['http://caf%C3%A9/a', { kind: 'path', path: '/a', query: '' }],
    ['http://h/a?x=http://e/', { kind: 'path', path: '/a', query: '?x=http://e/' }],
  ]
  for (const [target, want] of ok) t.same(parseRequestTarget(target), want, target)
  const bad = [
    '',
    'a.txt',
    'example.com',
    'example.com:443',
    '127.0.0.1:80',
    'http:/a.txt',
    'http:a.txt',
    ':80/a',
    '**',
    'http://ho%20st/a',
    'http://h%41/a',
    'http://h%zz/a',
    'http://h:8x/a',
    'http://h:-1/a',
    'http://[::1/a',
    'http://[::1]x/a',
    'http://h{}/a',
    'http://us er@h/a',
    'http://h h/a',
  ]
  for (const target of bad) {
    t.throws(() => parseRequestTarget(target), { code: 'ERR_BAD_REQUEST' }, JSON.stringify(target))
  }
})

t.test('checkRequestHead: version and Host rules', async t => {
  const rows: [string, number, number, string[], string | undefined][] = [
    ['HTTP/1.1 with Host', 1, 1, ['Host', 'a'], undefined],
    ['HTTP/1.0 without Host', 1, 0, [], undefined],
    ['HTTP/1.1 without Host', 1, 1, ['X', 'y'], 'ERR_BAD_REQUEST'],
    ['two Hosts', 1, 1, ['Host', 'a', 'X', 'y', 'host', 'a'], 'ERR_BAD_REQUEST'],
    ['two Hosts in HTTP/1.0', 1, 0, ['HOST', 'a', 'Host', 'b'], 'ERR_BAD_REQUEST'],
    ['empty Host', 1, 1, ['Host', ''], undefined],
    ['Host with port', 1, 1, ['Host', 'a.example:8080'], undefined],
    ['Host IPv6', 1, 1, ['Host', '[::1]:80'], undefined],
    ['Host with a space', 1, 1, ['Host', 'a b'], 'ERR_BAD_REQUEST'],
    ['Host with a slash', 1, 1, ['Host', 'a/b'], 'ERR_BAD_REQUEST'],
    ['Host with @', 1, 1, ['Host', 'u@a'], 'ERR_BAD_REQUEST'],
    ['Host non-ASCII', 1, 1, ['Host', 'caf\u00e9'], 'ERR_BAD_REQUEST'],
    ['a header named like Host but longer', 1, 1, ['Host', 'a', 'Hosts', 'b'], undefined],
    ['HTTP/2.0', 2, 0, ['Host', 'a'], 'ERR_HTTP_VERSION'],
    ['HTTP/3.0', 3, 0, ['Host', 'a'], 'ERR_HTTP_VERSION'],
    ['HTTP/0.9', 0, 9, [], 'ERR_HTTP_VERSION'],
    ['HTTP/2.0 with two Hosts: the version first, as Go', 2, 0, ['Host', 'a', 'Host', 'b'], 'ERR_HTTP_VERSION'],
    ['Transfer-Encoding: chunked', 1, 1, ['Host', 'a', 'Transfer-Encoding', 'chunked'], undefined],
    ['Transfer-Encoding: Chunked', 1, 1, ['Host', 'a', 'transfer-encoding', ' Chunked '], undefined],
    ['Transfer-Encoding: gzip, chunked', 1, 1, ['Host', 'a', 'Transfer-Encoding', 'gzip, chunked'], undefined],
    ['Transfer-Encoding: identity', 1, 1, ['Host', 'a', 'Transfer-Encoding', 'identity'], 'ERR_BAD_REQUEST'],
    ['Transfer-Encoding: xchunked', 1, 1, ['Host', 'a', 'Transfer-Encoding', 'xchunked'], 'ERR_BAD_REQUEST'],
    ['Transfer-Encoding: chunked, identity', 1, 1, ['Host', 'a', 'Transfer-Encoding', 'chunked, identity'], 'ERR_BAD_REQUEST'],
    ['Transfer-Encoding: chunked then gzip', 1, 1, ['Transfer-Encoding', 'chunked', 'Host', 'a', 'Transfer-Encoding', 'gzip'], 'ERR_BAD_REQUEST'],
    ['Transfer-Encoding: empty', 1, 1, ['Host', 'a', 'Transfer-Encoding', ''], 'ERR_BAD_REQUEST'],
  ]
  for (const [name, major, minor, raw, code] of rows) {
    let got: string | undefined
    try {
      checkRequestHead(major, minor, raw)
    } catch (err) {
      got = codeOf(err) ?? String(err)
    }
    t.equal(got, code, name)
  }
})

t.test("parseErrorToHttp: Go's status for what Node's parser refuses", async t => {
  const rows: [string, string | undefined, string | undefined, number][] = [
    ['header overflow', 'HPE_HEADER_OVERFLOW', undefined, 431],
    ['headers timeout', 'ERR_HTTP_REQUEST_TIMEOUT', undefined, 408],
    ['HTTP/3.0', 'HPE_INVALID_VERSION', 'GET / HTTP/3.0\r\nHost: x\r\n\r\n', 505],
    ['HTTP/2.1', 'HPE_INVALID_VERSION', 'GET / HTTP/2.1\r\n', 505],
    ['HTTP/0.8', 'HPE_INVALID_VERSION', 'GET / HTTP/0.8\r\n', 505],
    ['HTTP/1.2: Go serves it, Node refuses it', 'HPE_INVALID_VERSION', 'GET / HTTP/1.2\r\n', 400],
    ['HTTP/10.0', 'HPE_INVALID_VERSION', 'GET / HTTP/10.0\r\n', 400],
    ['bare LF', 'HPE_INVALID_VERSION', 'GET / HTTP/1.1\nHost: x\n\n', 400],
    ['no packet', 'HPE_INVALID_VERSION', undefined, 400],
    ['bad header', 'HPE_INVALID_HEADER_TOKEN', 'GET / HTTP/1.1\r\nX\r\n\r\n', 400],
    ['no code', undefined, undefined, 400],
  ]
  for (const [name, code, raw, status] of rows) {
    t.equal(parseErrorToHttp({ code, rawPacket: raw === undefined ? undefined : Buffer.from(raw, 'latin1') }).status, status, name)
  }
})
