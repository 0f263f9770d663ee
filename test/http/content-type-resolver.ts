import t from 'tap'
import { ContentTypeResolver, type ContentTypeResolverOptions } from '../../src/http/content-type-resolver.js'
import { MimeTable } from '../../src/http/mime-table.js'

const NGINX = MimeTable.parse('types { text/html html; text/plain txt; application/octet-stream deb; }', 'nginx.types')

/** Each resolver, the names it decides alone, and those it leaves to sniffing (undefined). */
const cases: Array<{ title: string; o: ContentTypeResolverOptions; names: Array<[string, string | undefined]> }> = [
  {
    title: "default: the mime-types table, text/* with Go's charset, else sniff",
    o: {},
    names: [
      ['a.json', 'application/json'],
      ['a.txt', 'text/plain; charset=utf-8'],
      ['a.html', 'text/html; charset=utf-8'],
      ['A.HTML', 'text/html; charset=utf-8'],
      ['a.zip', 'application/zip'],
      ['a.tar.gz', 'application/gzip'],
      ['/srv/dir/a.css', 'text/css; charset=utf-8'],
      ['noext', undefined],
      ['a.unknownext', undefined],
    ],
  },
  {
    title: 'default table with a fixed default type',
    o: { defaultType: 'application/octet-stream' },
    names: [
      ['a.txt', 'text/plain; charset=utf-8'],
      ['noext', 'application/octet-stream'],
      ['a.unknownext', 'application/octet-stream'],
    ],
  },
  {
    title: 'a given table is used as is (no charset added), and sniffs what it lacks',
    o: { table: NGINX },
    names: [
      ['a.html', 'text/html'],
      ['a.TXT', 'text/plain'],
      ['a.deb', 'application/octet-stream'],
      ['a.json', undefined],
      ['noext', undefined],
    ],
  },
  {
    title: "a given table with nginx's default_type",
    o: { table: NGINX, defaultType: 'application/octet-stream' },
    names: [
      ['a.txt', 'text/plain'],
      ['a.json', 'application/octet-stream'],
      ['noext', 'application/octet-stream'],
    ],
  },
  {
    title: 'an explicit "sniff" default type',
    o: { table: NGINX, defaultType: 'sniff' },
    names: [['noext', undefined]],
  },
]

t.test('ContentTypeResolver.byName decides by name, or leaves the type to sniffing', async t => {
  for (const c of cases) {
    const r = new ContentTypeResolver(c.o)
    for (const [name, want] of c.names) t.equal(r.byName(name), want, `${c.title}: ${name} → ${want ?? '(sniff)'}`)
  }
})

t.test("ContentTypeResolver.sniff is Go's DetectContentType", async t => {
  const r = new ContentTypeResolver()
  const rows: Array<[Uint8Array, string]> = [
    [Buffer.from('hello\n'), 'text/plain; charset=utf-8'],
    [Buffer.from('<!DOCTYPE html><html>'), 'text/html; charset=utf-8'],
    [Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), 'image/png'],
    [Uint8Array.of(0, 1, 2), 'application/octet-stream'],
    [new Uint8Array(0), 'text/plain; charset=utf-8'],
  ]
  for (const [data, want] of rows) t.equal(r.sniff(data), want, want)
})

t.test('ContentTypeResolver refuses a default type that is not a media type', async t => {
  for (const bad of ['', 'octet-stream', 'text/plain\r\nX: 1', 'Sniff']) {
    t.throws(() => new ContentTypeResolver({ defaultType: bad }), TypeError, JSON.stringify(bad))
  }
})
