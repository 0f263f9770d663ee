import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import t from 'tap'
import { parse } from 'yaml'
import {
  formatProblem,
  loadManifest,
  ManifestLoader,
  manifestSchemaUrl,
  type LoadManifestOptions,
  type LoadManifestResult,
  type PathPatternError,
} from '../../src/manifest/load-manifest.js'
import type { Manifest, Network } from '../../src/manifest/manifest.js'
import { parseDuration } from '../../src/manifest/parse-duration.js'
import { parseNetwork } from '../../src/manifest/parse-network.js'
import { parseTime } from '../../src/manifest/parse-time.js'
import { mulberry32 } from '../helpers/random.js'

/** EXAMPLE is the full example manifest (the README's), read from the repository (this file runs from dist/test/manifest/). */
const EXAMPLE = readFileSync(new URL('../../../fixtures/manifests/example.yaml', import.meta.url), 'utf8')
const EXAMPLE_JSON = JSON.stringify(parse(EXAMPLE), null, 2)

/** paramsOf stands in for the path pattern parser: the `:name` segments of a pattern. */
function paramsOf(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map(m => m[1]!)
}

/** checkPath stands in for the path pattern parser: it refuses a `**` that is not a whole segment. */
function checkPath(path: string): PathPatternError | undefined {
  const m = /[^/]\*\*|\*\*[^/]/.exec(path)
  if (m === null) return undefined
  return { offset: path.indexOf('**', m.index), message: "'**' must be a whole segment" }
}

const loader = new ManifestLoader()
const HOOKS: LoadManifestOptions = { loader, paramsOf, checkPath }

function problemsOf(r: LoadManifestResult): string[] {
  return r.ok ? [] : r.problems.map(formatProblem)
}

const net = (source: string, family: 'ipv4' | 'ipv6', address: string, bytes: number[], prefixLength: number, ipv4Mapped = false): Network => ({
  source,
  family,
  address,
  bytes,
  prefixLength,
  ipv4Mapped,
})
const V6_DOC = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

t.test('the full example loads to the resolved manifest, defaults applied', async t => {
  const r = loadManifest(EXAMPLE, 'example.yaml', HOOKS)
  t.strictSame(problemsOf(r), [], 'no problems')
  if (!r.ok) return
  const defaultHeaders = [
    { name: 'X-Served-By', key: 'x-served-by', value: 'cutover' },
    { name: 'X-Release', key: 'x-release', value: '2026.11' },
  ]
  const defaultAcl = { networks: { deny: [net('192.0.2.0/24', 'ipv4', '192.0.2.0', [192, 0, 2, 0], 24)] }, signed: false }
  const want: Manifest = {
    version: 1,
    payloads: [
      {
        name: 'sdk-tools',
        paths: ['/sdk/:version/tools-:os.zip', '/mirror/sdk/:version/**/tools-:os.zip'],
        content: { kind: 'blob', blob: 'sdk/{version}/tools-{os}.zip', sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
        contentType: 'application/zip',
        filename: 'tools-é.zip',
        reveal: Date.UTC(2026, 11, 10, 9, 0, 0),
        expires: Date.UTC(2027, 5, 29, 22, 0, 0), // 2027-06-30T00:00:00+02:00
        expiredStatus: 410,
        acl: {
          networks: {
            allow: [
              net('10.0.0.0/8', 'ipv4', '10.0.0.0', [10, 0, 0, 0], 8),
              net('2001:db8::/32', 'ipv6', '2001:db8::', V6_DOC, 32),
              net('198.51.100.7', 'ipv4', '198.51.100.7', [198, 51, 100, 7], 32),
            ],
            deny: [net('10.9.0.0/16', 'ipv4', '10.9.0.0', [10, 9, 0, 0], 16)],
          },
          countries: { allow: ['US', 'CA', '--'], deny: ['KP'] },
          users: { allow: ['alice', 'bob'] },
          userTypes: { allow: ['employee'], deny: ['contractor'] },
          signed: true,
        },
        // The payload's x-release replaces the default X-Release in place, with the payload's spelling.
        headers: [
          { name: 'X-Served-By', key: 'x-served-by', value: 'cutover' },
          { name: 'x-release', key: 'x-release', value: '2026.12' },
        ],
        cache: { kind: 'max-age', seconds: 86400 },
      },
      {
        name: 'installer',
        paths: ['/installer/latest.bin'],
        content: {
          kind: 'parts',
          parts: [
            { blob: 'installer/header.bin', sha256: '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae' },
            { blob: 'installer/body.bin' },
          ],
        },
        contentType: 'application/octet-stream',
        expiredStatus: 404,
        acl: defaultAcl,
        headers: defaultHeaders,
        cache: { kind: 'expires-in', seconds: 900 },
      },
      {
        name: 'nightly',
        paths: ['/nightly/*'],
        content: { kind: 'blob', blob: '{path}' },
        contentType: 'application/octet-stream',
        expiredStatus: 404,
        // acl: {} replaces the default acl as a whole, and an acl without rules is none (not private)
        headers: defaultHeaders,
        cache: { kind: 'no-store' },
      },
    ],
  }
  t.strictSame(r.manifest, want, 'the resolved manifest')
  t.equal(r.hash, createHash('sha256').update(EXAMPLE).digest('hex'), 'hash is the sha256 of the text')
})

t.test('a minimal manifest gets the defaults of the format', async t => {
  const r = loadManifest('version: 1\npayloads:\n  - { name: a, paths: [/a], content: { blob: a } }\n', 'min.yaml', { loader })
  t.strictSame(r.ok ? r.manifest : problemsOf(r), {
    version: 1,
    payloads: [{ name: 'a', paths: ['/a'], content: { kind: 'blob', blob: 'a' }, expiredStatus: 404, headers: [] }],
  })
})

t.test('an acl without rules is no acl; one rule keeps it', async t => {
  const defaults = 'defaults: { acl: { users: { allow: [a] } } }\n'
  const cases: Array<[string, string, boolean]> = [
    ['acl: {} lifts the default', `${defaults}payloads:\n  - { name: a, paths: [/a], content: { blob: a }, acl: {} }\n`, false],
    ['signed: false alone is no rule', `${defaults}payloads:\n  - { name: a, paths: [/a], content: { blob: a }, acl: { signed: false } }\n`, false],
    ['a default acl: {} is none', 'defaults: { acl: {} }\npayloads:\n  - { name: a, paths: [/a], content: { blob: a } }\n', false],
    ['signed: true is a rule', `payloads:\n  - { name: a, paths: [/a], content: { blob: a }, acl: { signed: true } }\n`, true],
    ['an empty allow list is a rule (refuses everyone)', `payloads:\n  - { name: a, paths: [/a], content: { blob: a }, acl: { users: { allow: [] } } }\n`, true],
    ['the default applies', `${defaults}payloads:\n  - { name: a, paths: [/a], content: { blob: a } }\n`, true],
  ]
  for (const [what, text, hasAcl] of cases) {
    const r = loadManifest(`version: 1\n${text}`, 'acl.yaml', { loader })
    t.equal(r.ok ? 'acl' in r.manifest.payloads[0]! : problemsOf(r), hasAcl, what)
  }
})

t.test('loadManifest without a loader finds the schema from dist/', async t => {
  t.ok(manifestSchemaUrl().pathname.endsWith('/schema/manifest.schema.json'), `schema at ${manifestSchemaUrl().pathname}`)
  const r = loadManifest(EXAMPLE, 'example.yaml')
  t.equal(r.ok, true, 'loads with a loader of its own')
  t.throws(() => new ManifestLoader({ schemaUrl: new URL('file:///nonexistent/manifest.schema.json') }), 'a missing schema throws at construction')
})

/** MANY has a problem on most lines; every one is reported at once. */
const MANY = `version: 2
defaults:
  headers: { X-Served-By: cutover, Date: x }
  cache: { max_age: 1h }
  name: foo
payloads:
  - name: sdk
    paths: [/sdk/:version/x.zip, sdk, "/m/a**/:version"]
    content:
      blob: sdk/{version}/{os}.zip
      parts: []
    revael: 2026-12-10T09:00:00Z
    reveal: 2026-13-10T09:00:00Z
    headers:
      "X Y": 3
      x-ok: "a\\r\\nb"
    acl: { networks: { allow: [10.0.0.1/8, 300.1.1.1, "::1", 10.0.0.0/33] }, countries: { allow: [us] }, users: {} }
  - name: sdk
    paths: []
    content: { parts: [{blob: ../a}, {blob: /b}, {}], sha256: abc }
    cache: {}
  - name: "bad name"
    paths: [/c/**/x]
    content: { blob: c }
    reveal: 2026-12-10T09:00:00+01:00
    expires: 2026-12-10T08:00:00Z
    expired_status: 403
    content_type: "text/plain;"
    filename: a/b
    cache: { expires_in: 1.5s, no_store: false }
  - paths: [/d]
`

t.test('a manifest with many problems reports all of them, in order, with line, column and path', async t => {
  t.strictSame(problemsOf(loadManifest(MANY, 'many.yaml', HOOKS)), [
    'many.yaml:1:10: version: must be 1',
    "many.yaml:3:36: defaults.headers.Date: 'Date' is set by the server",
    "many.yaml:5:3: defaults.name: 'name' cannot be set in defaults, only in a payload",
    "many.yaml:8:34: payloads[0].paths[1]: must be a URL path pattern starting with '/'",
    "many.yaml:8:44: payloads[0].paths[2]: '**' must be a whole segment",
    'many.yaml:10:7: payloads[0].content: must set exactly one of blob or parts',
    "many.yaml:10:17: payloads[0].content.blob: '{version}' is not a named segment of path 'sdk' (paths[1])",
    "many.yaml:10:27: payloads[0].content.blob: '{os}' is not a named segment of path '/m/a**/:version' (paths[2])",
    "many.yaml:10:27: payloads[0].content.blob: '{os}' is not a named segment of path '/sdk/:version/x.zip' (paths[0])",
    "many.yaml:10:27: payloads[0].content.blob: '{os}' is not a named segment of path 'sdk' (paths[1])",
    'many.yaml:11:14: payloads[0].content.parts: must not be empty',
    "many.yaml:12:5: payloads[0].revael: unknown field 'revael' (did you mean 'reveal'?)",
    'many.yaml:13:13: payloads[0].reveal: must be an RFC 3339 time with a UTC offset, e.g. 2026-12-10T09:00:00Z',
    'many.yaml:15:7: payloads[0].headers["X Y"]: is not a valid header field name (RFC 9110 section 5.1: a token)',
    'many.yaml:15:14: payloads[0].headers["X Y"]: must be a string (put the value in quotes)',
    'many.yaml:16:13: payloads[0].headers.x-ok: must not contain CR, LF, NUL, other control characters or characters above U+00FF (RFC 9110 section 5.5)',
    'many.yaml:17:32: payloads[0].acl.networks.allow[0]: has host bits set after the first 8 (did you mean 10.0.0.0/8?)',
    'many.yaml:17:44: payloads[0].acl.networks.allow[1]: must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32',
    'many.yaml:17:62: payloads[0].acl.networks.allow[3]: has a prefix length over 32, the most an IPv4 network has',
    'many.yaml:17:99: payloads[0].acl.countries.allow[0]: must be an ISO 3166-1 alpha-2 country code in upper case, e.g. US, or -- for unknown',
    'many.yaml:17:113: payloads[0].acl.users: must set allow, deny or both',
    "many.yaml:18:11: payloads[1].name: duplicate payload name 'sdk' (first at line 7)",
    'many.yaml:19:12: payloads[1].paths: must not be empty',
    "many.yaml:20:31: payloads[1].content.parts[0].blob: must not contain a '..' segment",
    "many.yaml:20:45: payloads[1].content.parts[1].blob: must not start with '/' (a blob key is relative to the store)",
    "many.yaml:20:50: payloads[1].content.parts[2]: missing required field 'blob'",
    'many.yaml:20:55: payloads[1].content.sha256: needs a blob: with parts, give each part its own sha256',
    'many.yaml:20:63: payloads[1].content.sha256: must be a SHA-256 digest: 64 hex digits',
    'many.yaml:21:12: payloads[1].cache: must set exactly one of max_age, expires_in or no_store',
    'many.yaml:22:11: payloads[2].name: must be 1 to 128 of the characters A-Z a-z 0-9 . _ -',
    'many.yaml:26:14: payloads[2].expires: expires must be after reveal',
    'many.yaml:27:21: payloads[2].expired_status: must be 404 or 410',
    'many.yaml:28:19: payloads[2].content_type: must be a media type with optional parameters, e.g. application/zip or text/plain; charset=utf-8',
    "many.yaml:29:15: payloads[2].filename: must be a file name of 1 to 255 characters without '/', '\\' or control characters",
    'many.yaml:30:12: payloads[2].cache: must set exactly one of max_age, expires_in or no_store',
    'many.yaml:30:26: payloads[2].cache.expires_in: must come to a whole number of seconds (1.5s is 1.5 s)',
    'many.yaml:30:42: payloads[2].cache.no_store: must be true',
    "many.yaml:31:5: payloads[3]: missing required field 'content'",
    "many.yaml:31:5: payloads[3]: missing required field 'name'",
  ])
})

t.test('JSON is read by the same parser, with positions', async t => {
  const json = `{
  "version": 1,
  "payloads": [
    { "name": "a", "paths": ["/a/x**"], "content": { "blob": "a/{os}" },
      "reveal": "2026-12-10", "Expires": 1 }
  ]
}`
  t.strictSame(problemsOf(loadManifest(json, 'm.json', HOOKS)), [
    "m.json:4:35: payloads[0].paths[0]: '**' must be a whole segment",
    "m.json:4:65: payloads[0].content.blob: '{os}' is not a named segment of path '/a/x**' (paths[0])",
    'm.json:5:17: payloads[0].reveal: must be an RFC 3339 time with a UTC offset, e.g. 2026-12-10T09:00:00Z',
    "m.json:5:31: payloads[0].Expires: unknown field 'Expires' (did you mean 'expires'?)",
  ])
  const ok = loadManifest('{"version":1,"payloads":[{"name":"a","paths":["/a"],"content":{"blob":"a"},"cache":{"max_age":60}}]}', 'ok.json', HOOKS)
  t.strictSame(ok.ok ? ok.manifest.payloads[0]?.cache : problemsOf(ok), { kind: 'max-age', seconds: 60 }, 'a valid JSON manifest loads')
})

t.test('YAML syntax errors are reported at the parser’s positions', async t => {
  const bomb = ['a: &a [x,x,x,x,x,x,x,x,x,x]', ...['b', 'c', 'd'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abc'[i]}`).join(',')}]`)].join('\n')
  const cases: Array<[string, string, string[]]> = [
    ['an unclosed flow sequence', 'version: 1\npayloads: [\n', ['y:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['a duplicate key', 'version: 1\nversion: 1\n', ['y:2:1: Map keys must be unique']],
    ['a tab as indentation', 'version: 1\npayloads:\n\t- a\n', ['y:3:1: Tabs are not allowed as indentation']],
    ['two documents', 'version: 1\n---\nversion: 1\n', ['y:2:1: Source contains multiple documents; please use YAML.parseAllDocuments()']],
    ['an unclosed quote', 'version: 1\npayloads:\n  - name: "abc\n', ['y:4:1: Missing closing "quote']],
    ['a nested compact mapping', 'a: b: c\n', ['y:1:4: Nested mappings are not allowed in compact mappings']],
    ['an alias bomb', bomb, ['y:1:1: cannot be read as YAML: Excessive alias count indicates a resource exhaustion attack']],
    ['an unknown tag', 'version: !foo 1\npayloads: []\n', ['y:1:10: Unresolved tag: !foo', 'y:1:15: version: must be 1', 'y:2:11: payloads: must not be empty']],
    ['an empty text', '', ['y:1:1: must be a mapping']],
    ['a list', '- a\n', ['y:1:1: must be a mapping']],
    ['a missing field at the root', 'version: 1\n', ["y:1:1: missing required field 'payloads'"]],
  ]
  for (const [name, text, want] of cases) t.strictSame(problemsOf(loadManifest(text, 'y', { loader })), want, name)
})

/** one builds a manifest of one payload from its field lines (indented under `- `). */
function one(...fields: string[]): string {
  return `version: 1\npayloads:\n  - name: p\n${fields.map(f => `    ${f}\n`).join('')}`
}
const BASE = ['paths: [/p/:v]', 'content: { blob: "p/{v}" }']

t.test('each rule reports its problem at the field', async t => {
  const cases: Array<[string, string, string[]]> = [
    ['a valid payload', one(...BASE), []],
    ['reveal without offset', one(...BASE, 'reveal: 2026-12-10T09:00:00'), ['x:6:13: payloads[0].reveal: must be an RFC 3339 time with a UTC offset, e.g. 2026-12-10T09:00:00Z']],
    ['reveal on February 30th', one(...BASE, 'reveal: 2026-02-30T09:00:00Z'), ['x:6:13: payloads[0].reveal: must be an RFC 3339 time with a UTC offset, e.g. 2026-12-10T09:00:00Z']],
    ['expires equal to reveal', one(...BASE, 'reveal: 2026-12-10T09:00:00Z', 'expires: 2026-12-10T10:00:00+01:00'), ['x:7:14: payloads[0].expires: expires must be after reveal']],
    ['a time as a number', one(...BASE, 'expires: 2026'), ['x:6:14: payloads[0].expires: must be a string']],
    ['a negative duration', one(...BASE, 'cache: { max_age: -1 }'), ['x:6:23: payloads[0].cache.max_age: must be a duration: a whole number of seconds, or a number with a unit s, m, h or d, e.g. 90s, 15m, 1h, 1d']],
    ['a duration with a bad unit', one(...BASE, 'cache: { max_age: 1w }'), ['x:6:23: payloads[0].cache.max_age: must be a duration: a whole number of seconds, or a number with a unit s, m, h or d, e.g. 90s, 15m, 1h, 1d']],
    ['two cache forms', one(...BASE, 'cache: { max_age: 1, no_store: true }'), ['x:6:12: payloads[0].cache: must set exactly one of max_age, expires_in or no_store']],
    ['an IPv6 prefix too long', one(...BASE, 'acl: { networks: { deny: ["::/129"] } }'), ['x:6:31: payloads[0].acl.networks.deny[0]: has a prefix length over 128, the most an IPv6 network has']],
    ['a short IPv4 form', one(...BASE, 'acl: { networks: { deny: ["10.1"] } }'), ['x:6:31: payloads[0].acl.networks.deny[0]: must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32']],
    ['an empty acl list object', one(...BASE, 'acl: { countries: {} }'), ['x:6:23: payloads[0].acl.countries: must set allow, deny or both']],
    ['signed as a string', one(...BASE, 'acl: { signed: "yes" }'), ['x:6:20: payloads[0].acl.signed: must be true or false']],
    ['a hop-by-hop header', one(...BASE, 'headers: { Keep-Alive: x }'), ["x:6:16: payloads[0].headers.Keep-Alive: 'Keep-Alive' is a hop-by-hop field (RFC 9110 section 7.6.1) and cannot be set"]],
    ['Cache-Control in any case', one(...BASE, 'headers: { cache-CONTROL: x }'), ["x:6:16: payloads[0].headers.cache-CONTROL: 'cache-CONTROL' is set by the server; use cache instead"]],
    ['a header twice in two cases', one(...BASE, 'headers:', '  X-A: 1', '  x-a: "2"'), [
      'x:7:12: payloads[0].headers.X-A: must be a string (put the value in quotes)',
      "x:8:7: payloads[0].headers.x-a: duplicate header field 'x-a' (first at line 7 as 'X-A')",
    ]],
    ['a header value that is a list', one(...BASE, 'headers: { X-A: [1] }'), ['x:6:21: payloads[0].headers.X-A: must be a string']],
    ['empty fields', one('paths:', 'content:', 'reveal:'), [
      'x:4:5: payloads[0].paths: must be a list',
      'x:5:5: payloads[0].content: must be a mapping',
      'x:6:5: payloads[0].reveal: must be a string',
    ]],
    ['an empty payload item', 'version: 1\npayloads:\n  -\n', ['x:3:4: payloads[0]: must be a mapping']],
    ['a header value with NUL', one(...BASE, 'headers: { X-A: "a\\0" }'), ['x:6:21: payloads[0].headers.X-A: must not contain CR, LF, NUL, other control characters or characters above U+00FF (RFC 9110 section 5.5)']],
    ['a header value beyond Latin-1', one(...BASE, 'headers: { X-A: "→" }'), ['x:6:21: payloads[0].headers.X-A: must not contain CR, LF, NUL, other control characters or characters above U+00FF (RFC 9110 section 5.5)']],
    ['a header name with a colon', one(...BASE, 'headers: { "X:A": b }'), ['x:6:16: payloads[0].headers["X:A"]: is not a valid header field name (RFC 9110 section 5.1: a token)']],
    ['a short sha256', one('paths: [/p]', 'content: { blob: p, sha256: abcd }'), ['x:5:33: payloads[0].content.sha256: must be a SHA-256 digest: 64 hex digits']],
    ['an empty blob key', one('paths: [/p]', 'content: { blob: "" }'), ['x:5:22: payloads[0].content.blob: must not be empty']],
    ['a blob key with NUL', one('paths: [/p]', 'content: { blob: "a\\0b" }'), ['x:5:22: payloads[0].content.blob: must not contain NUL']],
    ['a blob key ending in ..', one('paths: [/p]', 'content: { blob: a/.. }'), ["x:5:22: payloads[0].content.blob: must not contain a '..' segment"]],
    ['a blob key with .. inside a name', one('paths: [/p]', 'content: { blob: a..b/c }'), []],
    ['both blob and parts', one('paths: [/p]', 'content: { blob: a, parts: [{ blob: b }] }'), ['x:5:14: payloads[0].content: must set exactly one of blob or parts']],
    ['a placeholder missing from one path (quoted key, exact column)', one('paths: [/p/:v, /q]', 'content: { blob: "x/{v}" }'), ["x:5:25: payloads[0].content.blob: '{v}' is not a named segment of path '/q' (paths[1])"]],
    ['{path} needs no named segment', one('paths: [/p/**]', 'content: { blob: "{path}" }'), []],
    ['a misspelt top-level field', 'version: 1\npayload: []\n', ["x:1:1: missing required field 'payloads'", "x:2:1: payload: unknown field 'payload' (did you mean 'payloads'?)"]],
    ['a field far from any known one', one(...BASE, 'zzzzzz: 1'), ["x:6:5: payloads[0].zzzzzz: unknown field 'zzzzzz'"]],
    ['reveal in defaults', 'version: 1\ndefaults: { reveal: 2026-12-10T09:00:00Z }\npayloads: [{ name: p, paths: [/p], content: { blob: p } }]\n', ["x:2:13: defaults.reveal: 'reveal' cannot be set in defaults, only in a payload"]],
    ['a bad default header', 'version: 1\ndefaults: { headers: { ETag: x } }\npayloads: [{ name: p, paths: [/p], content: { blob: p } }]\n', ["x:2:24: defaults.headers.ETag: 'ETag' is set by the server"]],
    ['a bad default duration', 'version: 1\ndefaults: { cache: { expires_in: 0.5s } }\npayloads: [{ name: p, paths: [/p], content: { blob: p } }]\n', ['x:2:34: defaults.cache.expires_in: must come to a whole number of seconds (0.5s is 0.5 s)']],
    ['a name too long', one(...BASE).replace('name: p', `name: ${'n'.repeat(129)}`), ['x:3:11: payloads[0].name: must be 1 to 128 of the characters A-Z a-z 0-9 . _ -']],
    ['a pattern parser that throws', one('paths: [/boom]', 'content: { blob: "{x}" }'), ['x:4:13: payloads[0].paths[0]: cannot be checked: boom']],
  ]
  const options: LoadManifestOptions = {
    ...HOOKS,
    checkPath: p => {
      if (p === '/boom') throw new Error('boom')
      return checkPath(p)
    },
    paramsOf: p => {
      if (p === '/boom') throw new Error('boom')
      return paramsOf(p)
    },
  }
  for (const [name, text, want] of cases) t.strictSame(problemsOf(loadManifest(text, 'x', options)), want, name)
})

t.test('keys named after Object.prototype members are plain keys', async t => {
  const r = loadManifest(one(...BASE, 'headers: { __proto__: a, constructor: b }'), 'x', HOOKS)
  t.strictSame(r.ok ? r.manifest.payloads[0]?.headers : problemsOf(r), [
    { name: '__proto__', key: '__proto__', value: 'a' },
    { name: 'constructor', key: 'constructor', value: 'b' },
  ])
  t.strictSame(problemsOf(loadManifest('version: 1\n__proto__: {}\npayloads: []\n', 'x', HOOKS)), [
    "x:2:1: __proto__: unknown field '__proto__'",
    'x:3:11: payloads: must not be empty',
  ])
})

t.test('without hooks, placeholders and patterns are not checked', async t => {
  const text = one('paths: [/p/x**, /q]', 'content: { blob: "x/{v}" }')
  t.equal(loadManifest(text, 'x', { loader }).ok, true, 'loads without paramsOf and checkPath')
  t.equal(loadManifest(text, 'x', HOOKS).ok, false, 'the same text fails with them')
})

t.test('parseDuration, parseTime and parseNetwork', async t => {
  const durations: Array<[unknown, number | string]> = [
    [0, 0],
    [90, 90],
    ['90s', 90],
    ['15m', 900],
    ['1h', 3600],
    ['1.5h', 5400],
    ['0.1h', 360],
    ['1d', 86400],
    ['1.5s', 'must come to a whole number of seconds (1.5s is 1.5 s)'],
    [1.5, 'must be a duration: a whole number of seconds, or a number with a unit s, m, h or d, e.g. 90s, 15m, 1h, 1d'],
    ['1 h', 'must be a duration: a whole number of seconds, or a number with a unit s, m, h or d, e.g. 90s, 15m, 1h, 1d'],
    ['99999999999999999999d', 'is too long a duration'],
    [true, 'must be a duration: a whole number of seconds, or a number with a unit s, m, h or d, e.g. 90s, 15m, 1h, 1d'],
  ]
  for (const [v, want] of durations) t.equal(parseDuration(v), want, `duration ${JSON.stringify(v)}`)
  const times: Array<[string, number | undefined]> = [
    ['2026-12-10T09:00:00Z', Date.UTC(2026, 11, 10, 9)],
    ['2026-12-10t09:00:00z', Date.UTC(2026, 11, 10, 9)],
    ['2026-12-10 09:00:00Z', Date.UTC(2026, 11, 10, 9)],
    ['2026-12-10T09:00:00.1239Z', Date.UTC(2026, 11, 10, 9, 0, 0, 123)],
    ['2026-12-10T09:00:00-05:30', Date.UTC(2026, 11, 10, 14, 30)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2025-02-29T00:00:00Z', undefined],
    ['2026-12-10T24:00:00Z', undefined],
    ['2026-12-10T23:59:60Z', undefined],
    ['2026-12-10T09:00:00+24:00', undefined],
    ['2026-12-10T09:00:00', undefined],
    ['2026-12-10', undefined],
  ]
  for (const [text, want] of times) t.equal(parseTime(text), want, `time ${text}`)
  t.equal(parseTime('0050-01-01T00:00:00Z'), -60589296000000, 'year 50 stays in the first century (Date.UTC would make it 1950)')
  const networks: Array<[string, Network | string]> = [
    ['10.0.0.0/8', net('10.0.0.0/8', 'ipv4', '10.0.0.0', [10, 0, 0, 0], 8)],
    ['0.0.0.0/0', net('0.0.0.0/0', 'ipv4', '0.0.0.0', [0, 0, 0, 0], 0)],
    ['2001:DB8::/32', net('2001:DB8::/32', 'ipv6', '2001:db8::', V6_DOC, 32)],
    ['::1', net('::1', 'ipv6', '::1', [...Array(15).fill(0), 1], 128)],
    ['::ffff:10.0.0.0/104', net('::ffff:10.0.0.0/104', 'ipv6', '::ffff:a00:0', [...Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 0], 104, true)],
    ['10.0.0.1/31', 'has host bits set after the first 31 (did you mean 10.0.0.0/31?)'],
    ['2001:db8::1/64', 'has host bits set after the first 64 (did you mean 2001:db8::/64?)'],
    ['010.0.0.1', 'must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32'],
    ['fe80::1%eth0', 'must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32'],
    ['10.0.0.0/', 'must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32'],
    ['1:2:3:4:5:6:7:8:9', 'must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32'],
  ]
  for (const [text, want] of networks) t.strictSame(parseNetwork(text), want, `network ${text}`)
})

/** mutate applies one random edit to a text: delete, duplicate or swap characters or lines, or insert a YAML metacharacter. */
function mutate(text: string, rnd: () => number): string {
  const pick = (n: number): number => Math.floor(rnd() * n)
  const lines = text.split('\n')
  const i = pick(text.length)
  switch (pick(7)) {
    case 0:
      return text.slice(0, i) + text.slice(i + 1)
    case 1:
      return text.slice(0, i) + text.charAt(i) + text.slice(i)
    case 2:
      return text.slice(0, i) + text.charAt(i + 1) + text.charAt(i) + text.slice(i + 2)
    case 3:
      lines.splice(pick(lines.length), 1)
      return lines.join('\n')
    case 4: {
      const l = pick(lines.length)
      lines.splice(l, 0, lines[l]!)
      return lines.join('\n')
    }
    case 5: {
      const [a, b] = [pick(lines.length), pick(lines.length)]
      ;[lines[a], lines[b]] = [lines[b]!, lines[a]!]
      return lines.join('\n')
    }
    default: {
      const meta = ':{}[]-"\' \n\t#&*!|>%@`,?\\\0\u00e9'
      return text.slice(0, i) + meta.charAt(pick(meta.length)) + text.slice(i)
    }
  }
}

t.test('fuzz: a mutated manifest never throws and always loads or says where it is wrong', async t => {
  const rnd = mulberry32(0x12c0ffee)
  const iterations = 3000
  const deadline = Date.now() + 90_000 // a bound on time, not an assertion on it
  let loaded = 0
  let refused = 0
  const bad: string[] = []
  for (let n = 0; n < iterations && Date.now() < deadline; n++) {
    // Half the runs mutate the YAML, half the same manifest as JSON.
    let text = n % 2 === 0 ? EXAMPLE : EXAMPLE_JSON
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) text = mutate(text, rnd)
    let r: LoadManifestResult
    try {
      r = loadManifest(text, 'f', HOOKS)
    } catch (e) {
      bad.push(`iteration ${n} threw ${String(e)} on ${JSON.stringify(text)}`)
      continue
    }
    if (r.ok) loaded++
    else {
      refused++
      const lineCount = text.split('\n').length
      for (const p of r.problems) {
        if (!(p.line >= 1 && p.line <= lineCount + 1 && p.column >= 1 && p.message !== '' && p.file === 'f')) bad.push(`iteration ${n}: ${formatProblem(p)}`)
      }
      if (r.problems.length === 0) bad.push(`iteration ${n}: refused without a problem`)
    }
  }
  t.strictSame(bad.slice(0, 5), [], 'no throw, every problem positioned')
  t.ok(loaded > 0 && refused > 0, `both outcomes seen (${loaded} loaded, ${refused} refused)`)
})

/** fieldSchemas lists every subschema that describes an object's field, and every definition, with where it is. */
function fieldSchemas(schema: Record<string, unknown>): Array<[string, Record<string, unknown>]> {
  const out: Array<[string, Record<string, unknown>]> = []
  const visit = (where: string, s: unknown): void => {
    if (typeof s !== 'object' || s === null) return
    const o = s as Record<string, unknown>
    for (const [k, v] of Object.entries((o.properties ?? {}) as Record<string, unknown>)) {
      out.push([`${where}.${k}`, v as Record<string, unknown>])
      visit(`${where}.${k}`, v)
    }
    if (typeof o.items === 'object') visit(`${where}[]`, o.items)
  }
  visit('#', schema)
  for (const [k, v] of Object.entries((schema.$defs ?? {}) as Record<string, unknown>)) {
    out.push([`$defs.${k}`, v as Record<string, unknown>])
    visit(`$defs.${k}`, v)
  }
  return out
}

t.test('schema/manifest.schema.json is a strict 2020-12 schema that accepts the example', async t => {
  const schema = JSON.parse(readFileSync(manifestSchemaUrl(), 'utf8')) as Record<string, unknown>
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true })
  addFormatsModule.default(ajv)
  t.equal(ajv.validateSchema(schema), true, 'valid against the 2020-12 meta-schema')
  const validate = ajv.compile(schema)
  t.equal(validate(parse(EXAMPLE)), true, `accepts the example ${JSON.stringify(validate.errors)}`)
  t.equal(validate({ version: 1, payloads: [{ name: 'p', paths: ['/p'], content: { blob: 'p' }, revael: 1 }] }), false, 'refuses an unknown field')
  t.equal(schema.$id, 'urn:cutover:schema:manifest:1', 'has an $id (a URN: the project owns no domain)')
  const defs = schema.$defs as Record<string, Record<string, unknown>>
  const effective = (s: Record<string, unknown>): Record<string, unknown> =>
    typeof s.$ref === 'string' ? { ...defs[s.$ref.replace('#/$defs/', '')], ...s } : s
  const undocumented = fieldSchemas(schema).filter(([, s]) => typeof effective(s).description !== 'string' || typeof effective(s).title !== 'string')
  t.strictSame(undocumented.map(([w]) => w), [], 'every field and definition has a title and a description, its own or its definition’s')
  const open = fieldSchemas(schema)
    .concat([['#', schema]])
    .filter(([, s]) => s.type === 'object' && s.additionalProperties !== false && typeof s.additionalProperties !== 'object')
  t.strictSame(open.map(([w]) => w), [], 'every object says additionalProperties: false (headers: a schema for values)')
})
