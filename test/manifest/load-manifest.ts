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
        acl: { signed: false }, // acl: {} replaces the default acl as a whole
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
