import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { codeOf } from '../../src/core/errors.js'
import { isMediaType, MimeTable } from '../../src/http/mime-table.js'

/** Good files: the format detected, and what names then map to (undefined: the table lacks it). */
const goodCases: Array<{ title: string; text: string; format: 'nginx' | 'apache'; size: number; lookups: Array<[string, string | undefined]> }> = [
  {
    title: 'nginx: one entry per line, several extensions',
    text: 'types {\n    text/html  html htm shtml;\n    image/png  png;\n}\n',
    format: 'nginx',
    size: 4,
    lookups: [
      ['a.html', 'text/html'],
      ['a.htm', 'text/html'],
      ['dir/a.png', 'image/png'],
      ['a.txt', undefined],
    ],
  },
  {
    title: 'nginx: an entry spread over lines, comments everywhere, no space before {',
    text: '# header\ntypes{ # opened\n  application/vnd.openxmlformats-officedocument.presentationml.presentation\n      pptx; # trailing\n  # a whole comment line\n  application/octet-stream\n      deb\n      iso img;\n}   # closed\n',
    format: 'nginx',
    size: 4,
    lookups: [
      ['slides.pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
      ['x.deb', 'application/octet-stream'],
      ['x.img', 'application/octet-stream'],
    ],
  },
  {
    title: 'nginx: several entries on one line, a quoted type with a charset, types kept as written',
    text: 'types { text/plain txt; "text/plain; charset=utf-8" log; \'application/json\' json; }',
    format: 'nginx',
    size: 3,
    lookups: [
      ['a.txt', 'text/plain'],
      ['a.log', 'text/plain; charset=utf-8'],
      ['a.json', 'application/json'],
    ],
  },
  {
    title: 'nginx: extensions are matched case-insensitively, the last extension of the name counts',
    text: 'types { application/gzip GZ; application/x-tar tar; }',
    format: 'nginx',
    size: 2,
    lookups: [
      ['a.gz', 'application/gzip'],
      ['A.GZ', 'application/gzip'],
      ['a.tar.gz', 'application/gzip'],
      ['a.gz.tar', 'application/x-tar'],
      ['gz', undefined],
      ['.gz', undefined],
      ['dir.gz/file', undefined],
      ['a.', undefined],
    ],
  },
  {
    title: 'nginx: a later entry for an extension replaces an earlier one; a type without extensions maps nothing',
    text: 'types { text/plain txt; text/x-log txt; application/x-empty; }',
    format: 'nginx',
    size: 1,
    lookups: [['a.txt', 'text/x-log']],
  },
  { title: 'nginx: an empty types block', text: 'types {}', format: 'nginx', size: 0, lookups: [['a.txt', undefined]] },
  {
    title: 'apache: type and extensions per line, comments, types without extensions, CRLF, tabs',
    text: '# This is a comment.\r\n\r\napplication/andrew-inset\t\t\tez\r\napplication/x-empty\r\n  text/plain\ttxt text  conf  # trailing comment\r\n#text/html html\r\n',
    format: 'apache',
    size: 4,
    lookups: [
      ['a.ez', 'application/andrew-inset'],
      ['a.TXT', 'text/plain'],
      ['a.conf', 'text/plain'],
      ['a.html', undefined],
    ],
  },
  {
    title: 'apache: a later line for an extension replaces an earlier one',
    text: 'text/plain asc\napplication/pgp-keys asc key\n',
    format: 'apache',
    size: 2,
    lookups: [
      ['KEYS.asc', 'application/pgp-keys'],
      ['a.key', 'application/pgp-keys'],
    ],
  },
  {
    title: 'extensions with a dot can never be the last extension of a name, and are skipped',
    text: 'application/sarif+json sarif sarif.json\napplication/gzip .gz\n',
    format: 'apache',
    size: 1,
    lookups: [
      ['a.sarif', 'application/sarif+json'],
      ['a.sarif.json', undefined],
      ['a.gz', undefined],
    ],
  },
  { title: 'apache: an empty file', text: '', format: 'apache', size: 0, lookups: [['a', undefined]] },
  { title: 'apache: comments only', text: '# nothing\n   # here\n', format: 'apache', size: 0, lookups: [] },
  { title: 'a UTF-8 BOM before "types" is not a word', text: '\ufefftypes { text/plain txt; }', format: 'nginx', size: 1, lookups: [['a.txt', 'text/plain']] },
]

t.test('MimeTable.parse reads both formats and looks names up by their last extension', async t => {
  for (const c of goodCases) {
    const table = MimeTable.parse(c.text, 'f.types')
    t.equal(table.format, c.format, `${c.title}: format`)
    t.equal(table.size, c.size, `${c.title}: size`)
    for (const [name, want] of c.lookups) t.equal(table.lookup(name), want, `${c.title}: ${name} → ${want ?? '(none)'}`)
  }
})

/** Bad files: the exact message, which names the file and the line. */
const badCases: Array<{ title: string; text: string; message: string }> = [
  { title: 'nginx: types without {', text: 'types\n  text/plain txt;\n}', message: 'my.types:2: expected "{" after "types", got "text/plain"' },
  { title: 'nginx: types and nothing else', text: '# c\ntypes', message: 'my.types:2: expected "{" after "types", got the end of the file' },
  { title: 'nginx: a missing ;', text: 'types {\n  text/plain txt\n  text/html html;\n}', message: 'my.types:3: "text/html" is a media type where an extension is expected: a ";" is missing at the end of the entry before it' },
  { title: 'nginx: an entry without ; before }', text: 'types {\n  text/plain txt;\n  text/html html\n}', message: 'my.types:3: the entry "text/html html" has no ";" before "}"' },
  { title: 'nginx: an unclosed block', text: 'types {\n  text/plain txt;\n', message: 'my.types:1: unexpected end of file: the "types {" block is not closed' },
  { title: 'nginx: an unfinished entry at the end', text: 'types {\n  text/plain txt;\n  text/html\n   html', message: 'my.types:3: unexpected end of file: the entry "text/html html" has no ";"' },
  { title: 'nginx: a lone ;', text: 'types {\n  ;\n}', message: 'my.types:2: unexpected ";" (an entry is "type ext ...;")' },
  { title: 'nginx: a nested block', text: 'types {\n  text {\n}', message: 'my.types:2: unexpected "{" inside the types block' },
  { title: 'nginx: something after the block', text: 'types {\n}\n\ntext/plain txt;', message: 'my.types:4: unexpected "text/plain" after the end of the types block' },
  { title: 'nginx: a bad media type', text: 'types {\n  text txt;\n}', message: 'my.types:2: "text" is not a media type (expected type/subtype, e.g. text/plain)' },
  { title: 'nginx: a type with a space inside quotes', text: 'types {\n  "text/ plain" txt;\n}', message: 'my.types:2: "text/ plain" is not a media type (expected type/subtype, e.g. text/plain)' },
  { title: 'nginx: an extension with a slash', text: 'types {\n  text/html x/;\n}', message: 'my.types:2: extension "x/" contains a character a file extension cannot have' },
  { title: 'nginx: include', text: 'types {\n  include other.types;\n}', message: 'my.types:2: "include" is not supported: give the included file itself' },
  { title: 'nginx: an unterminated quote', text: 'types {\n  "text/plain txt;\n}\n', message: 'my.types:2: unterminated double quote' },
  { title: 'nginx: text glued to a quote', text: "types {\n  'text/plain'x txt;\n}", message: 'my.types:2: unexpected "x" after a quoted string' },
  { title: 'apache: a reversed line', text: '# ok\ntext/plain txt\nhtml text/html\n', message: 'my.types:3: "html" is not a media type (expected type/subtype, e.g. text/plain)' },
  { title: 'apache: nginx syntax without types {', text: 'text/plain txt;\n', message: 'my.types:1: extension "txt;" contains a character a file extension cannot have' },
  { title: 'apache: a type with parameters broken by a space', text: 'text/plain; charset=utf-8 txt\n', message: 'my.types:1: "text/plain;" is not a media type (expected type/subtype, e.g. text/plain)' },
  { title: 'apache: binary garbage', text: '\u0000\u0001\u0002 x\n', message: 'my.types:1: "\u0000\u0001\u0002" is not a media type (expected type/subtype, e.g. text/plain)' },
]

t.test('MimeTable.parse names the file, the line and what is wrong', async t => {
  for (const c of badCases) {
    let err: unknown
    try {
      MimeTable.parse(c.text, 'my.types')
    } catch (e) {
      err = e
    }
    t.equal(codeOf(err), 'ERR_INVALID_ARGUMENT', `${c.title}: code`)
    t.equal((err as Error | undefined)?.message, c.message, `${c.title}: message`)
  }
})

t.test('isMediaType accepts type/subtype with parameters and nothing else', async t => {
  const cases: Array<[string, boolean]> = [
    ['text/plain', true],
    ['application/vnd.ms-excel', true],
    ['image/svg+xml', true],
    ['text/plain; charset=utf-8', true],
    ['text/plain;charset="utf-8"', true],
    ['text/plain; charset=utf-8; format=flowed', true],
    ['text', false],
    ['text/', false],
    ['/plain', false],
    ['text/plain;', false],
    ['text/plain; charset', false],
    ['text/pl ain', false],
    ['text/plain\r\nX-Injected: 1', false],
    ['', false],
  ]
  for (const [s, want] of cases) t.equal(isMediaType(s), want, JSON.stringify(s))
})

// The real files this machine ships: both must parse, in the format their package writes.
const SYSTEM_FILES: Array<{ path: string; format: 'nginx' | 'apache'; lookups: Array<[string, string | undefined]> }> = [
  {
    path: '/etc/nginx/mime.types',
    format: 'nginx',
    lookups: [
      ['a.html', 'text/html'],
      ['a.txt', 'text/plain'],
      ['a.json', 'application/json'],
      ['a.deb', 'application/octet-stream'],
      ['a.rpm', 'application/x-redhat-package-manager'],
      ['a.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ],
  },
  {
    path: '/etc/mime.types',
    format: 'apache',
    lookups: [
      ['a.html', 'text/html'],
      ['a.asc', 'application/pgp-keys'],
      ['a.deb', 'application/vnd.debian.binary-package'],
    ],
  },
]

for (const f of SYSTEM_FILES) {
  const skip = existsSync(f.path) ? false : `${f.path} is not installed on this machine`
  t.test(`MimeTable.parse reads the system's ${f.path}`, { skip }, async t => {
    const table = MimeTable.parse(readFileSync(f.path, 'utf8'), f.path)
    t.equal(table.format, f.format)
    t.ok(table.size > 50, `${table.size} extensions`)
    for (const [name, want] of f.lookups) t.equal(table.lookup(name), want, `${name} → ${want}`)
  })
}
