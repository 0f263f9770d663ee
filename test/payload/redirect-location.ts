import t from 'tap'
import { redirectLocation } from '../../src/payload/redirect-location.js'

t.test('redirectLocation: path-only, never // or /\\, every byte safe in a header', async t => {
  const rows: [string, string, string][] = [
    ['', '', '/'],
    ['', '?q=1', '/?q=1'],
    ['dir', '', '/dir/'],
    ['evil.example', '', '/evil.example/'],
    ['a/b', '?x=1&y=2', '/a/b/'.concat('?x=1&y=2')],
    ['a\r\nb', '', '/a%0D%0Ab/'],
    ['x?y', '', '/x%3Fy/'],
    ['#frag', '', '/%23frag/'],
    ['sp ace', '', '/sp%20ace/'],
    ['\u00e9', '', '/%C3%A9/'],
    ['a\\b', '', '/a%5Cb/'],
    ['%2f', '', '/%252f/'],
    ['\ud800', '', '/%EF%BF%BD/'],
    ['dir', '?a b\r\n\u00e9', '/dir/?a%20b%0D%0A%C3%A9'],
  ]
  for (const [rel, query, want] of rows) {
    const got = redirectLocation(rel, query)
    t.equal(got, want, JSON.stringify([rel, query]))
    t.notOk(/^\/[/\\]/.test(got), 'does not start with // or /\\')
    t.notOk(/[^\x21-\x7e]/.test(got), 'visible ASCII only')
  }
})
