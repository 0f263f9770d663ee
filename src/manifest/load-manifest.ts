import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Document } from 'yaml'
import type { Acl, AllowDeny, CachePolicy, ContentPart, Manifest, ManifestHeader, Network, Payload, PayloadContent } from './manifest.js'
import { compareProblems, formatProblem, type ManifestProblem } from './manifest-problem.js'
import { DURATION_MESSAGE, parseDuration } from './parse-duration.js'
import { NETWORK_MESSAGE, parseNetwork } from './parse-network.js'
import { parseTime, TIME_MESSAGE } from './parse-time.js'

export { formatProblem, type ManifestProblem }

/** LoadManifestResult is a loaded manifest with the sha256 of its text, or every problem found. */
export type LoadManifestResult =
  | { readonly ok: true; readonly manifest: Manifest; readonly hash: string }
  | { readonly ok: false; readonly problems: readonly ManifestProblem[] }

/** PathPatternError is what a path pattern checker says about a bad pattern. */
export interface PathPatternError {
  /** offset is the 0-based index in the pattern text where the problem is. */
  readonly offset: number
  /** message is a plain sentence saying what is wrong. */
  readonly message: string
}

/** LoadManifestOptions plugs the URL path pattern parser into the loader (this folder does not own it). */
export interface LoadManifestOptions {
  /**
   * checkPath checks one path pattern and returns what is wrong with it, or undefined when it is
   * valid. The problem is reported at the pattern's position plus `offset`. If unset, patterns are
   * only checked to start with '/'. A throw is reported as a problem with the pattern.
   */
  readonly checkPath?: (path: string) => PathPatternError | undefined
  /**
   * paramsOf returns the named segments of a path pattern (`/sdk/:version` -> `['version']`), or
   * undefined for an invalid pattern. Each `{name}` in a payload's blob keys (but `{path}`) must be a
   * named segment of every path of that payload. If unset, blob key placeholders are not checked.
   */
  readonly paramsOf?: (path: string) => readonly string[] | undefined
  /** loader is the ManifestLoader to use. If unset, a new one is built, which reads and compiles the schema again. */
  readonly loader?: ManifestLoader
}

/** ManifestLoaderOptions says where the schema is. */
export interface ManifestLoaderOptions {
  /** schemaUrl is the file URL of manifest.schema.json. If unset, defaults to manifestSchemaUrl(). */
  readonly schemaUrl?: URL
}

/**
 * manifestSchemaUrl is the file URL of schema/manifest.schema.json at the repository (or package)
 * root. This module runs from dist/src/manifest/, so the root is three folders up; the schema is read
 * at run time, not compiled into dist/.
 */
export function manifestSchemaUrl(): URL {
  return new URL('../../../schema/manifest.schema.json', import.meta.url)
}

/** AJV_OPTIONS: strict, so a schema mistake fails at construction; every error, so all problems are reported at once. */
const AJV_OPTIONS = Object.freeze({ strict: true, allowUnionTypes: true, allErrors: true, verbose: true })

/**
 * ManifestLoader holds the compiled schema: build one (it reads and compiles
 * schema/manifest.schema.json once) and call `load` for every manifest.
 */
export class ManifestLoader {
  /** schema is the parsed manifest.schema.json. */
  readonly schema: Readonly<Record<string, unknown>>
  readonly #validate: ValidateFunction
  /** #defName names the schema objects under $defs, so an error can be told by the definition it broke. */
  readonly #defName: ReadonlyMap<object, string>

  /** The constructor throws when the schema cannot be read or compiled: an installation problem, not a manifest one. */
  constructor(options: ManifestLoaderOptions = {}) {
    const url = options.schemaUrl ?? manifestSchemaUrl()
    if (!(url instanceof URL)) throw new TypeError('schemaUrl must be a URL')
    this.schema = JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>
    const ajv = new Ajv2020({ ...AJV_OPTIONS })
    addFormatsModule.default(ajv, ['date-time'])
    this.#validate = ajv.compile(this.schema)
    const names = new Map<object, string>()
    const defs = (this.schema.$defs ?? {}) as Record<string, unknown>
    for (const [name, def] of Object.entries(defs)) if (typeof def === 'object' && def !== null) names.set(def, name)
    // The four allow/deny lists of an acl are inline objects; name them together.
    const aclProps = ((defs.acl as { properties?: Record<string, object> } | undefined)?.properties ?? {}) as Record<string, object>
    for (const key of ['networks', 'countries', 'users', 'user_types']) if (aclProps[key] !== undefined) names.set(aclProps[key], 'allowDeny')
    this.#defName = names
  }

  /** load is loadManifest with this loader; see there. */
  load(text: string, file: string, options: LoadManifestOptions = {}): LoadManifestResult {
    return new Run(text, file, options, this.#validate, this.#defName).result()
  }
}

/**
 * loadManifest parses a manifest (YAML, or JSON, which YAML reads too, with positions) and checks it
 * against schema/manifest.schema.json and the rules no schema can state (real times, expires after
 * reveal, unique names, durations, networks, header fields, blob keys and their placeholders, path
 * patterns through options.checkPath). It returns the resolved manifest and the sha256 (hex) of the
 * text, or every problem found, sorted by line and column. It never throws on any text; it throws
 * only when it has to build a loader (options.loader unset) and the schema cannot be read.
 */
export function loadManifest(text: string, file: string, options: LoadManifestOptions = {}): LoadManifestResult {
  return (options.loader ?? new ManifestLoader()).load(text, file, options)
}

type Segment = string | number

/** Where a problem points: the value of the field (bad values), or its key (unknown or misplaced keys). */
type Anchor = 'value' | 'key'

interface Found {
  readonly segments: readonly Segment[]
  readonly anchor: Anchor
  readonly message: string
  /** inner is an offset within a scalar value's text (a path pattern's problem, a placeholder). */
  readonly inner?: number
  /** replaceable marks a schema pattern, format or range error, which a rule's problem with the same field replaces. */
  readonly replaceable?: boolean
  /** rule marks a problem found by a rule rather than the schema. */
  readonly rule?: boolean
}

const PAYLOAD_ONLY: readonly string[] = ['name', 'paths', 'content', 'reveal', 'expires']

/** SERVER_OWNED maps header fields a manifest may not set (lower case) to why: hop-by-hop (RFC 9110 section 7.6.1) or owned by the server. */
const SERVER_OWNED: ReadonlyMap<string, string> = new Map([
  ['content-length', 'is set by the server from the content'],
  ['content-range', 'is set by the server for range requests'],
  ['content-type', 'is set by the server; use content_type instead'],
  ['content-disposition', 'is set by the server; use filename instead'],
  ['etag', 'is set by the server'],
  ['last-modified', 'is set by the server'],
  ['date', 'is set by the server'],
  ['accept-ranges', 'is set by the server'],
  ['cache-control', 'is set by the server; use cache instead'],
  ['expires', 'is set by the server; use cache instead'],
  ['vary', 'is set by the server'],
  ['repr-digest', 'is set by the server; use content.sha256 instead'],
  ['connection', 'is a hop-by-hop field (RFC 9110 section 7.6.1) and cannot be set'],
  ['proxy-connection', 'is a hop-by-hop field (RFC 9110 section 7.6.1) and cannot be set'],
  ['keep-alive', 'is a hop-by-hop field (RFC 9110 section 7.6.1) and cannot be set'],
  ['te', 'is a hop-by-hop field (RFC 9110 section 7.6.1) and cannot be set'],
  ['trailer', 'is a hop-by-hop field (RFC 9110 section 7.6.1) and cannot be set'],
  ['transfer-encoding', 'is a hop-by-hop field (RFC 9110 section 7.6.1) and cannot be set'],
  ['upgrade', 'is a hop-by-hop field (RFC 9110 section 7.6.1) and cannot be set'],
])

/** DEF_MESSAGES says what a value of each schema definition must be, for pattern and format errors. */
const DEF_MESSAGES: Readonly<Record<string, string>> = Object.freeze({
  name: 'must be 1 to 128 of the characters A-Z a-z 0-9 . _ -',
  path: "must be a URL path pattern starting with '/'",
  blobKey: "must be a blob key: not empty, no NUL, no leading '/' and no '..' segment",
  sha256: 'must be a SHA-256 digest: 64 hex digits',
  mediaType: 'must be a media type with optional parameters, e.g. application/zip or text/plain; charset=utf-8',
  filename: "must be a file name of 1 to 255 characters without '/', '\\' or control characters",
  time: TIME_MESSAGE,
  duration: DURATION_MESSAGE,
  headerName: 'is not a valid header field name (RFC 9110 section 5.1: a token)',
  headerValue: 'must not contain CR, LF, NUL, other control characters or characters above U+00FF (RFC 9110 section 5.5)',
  cidr: NETWORK_MESSAGE,
  country: 'must be an ISO 3166-1 alpha-2 country code in upper case, e.g. US, or -- for unknown',
  identity: 'must not be empty or contain control characters',
})

function messageOf(def: string | undefined): string | undefined {
  return def !== undefined && Object.hasOwn(DEF_MESSAGES, def) ? DEF_MESSAGES[def] : undefined
}

const TYPE_WORDS: Readonly<Record<string, string>> = Object.freeze({
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'empty',
})

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function orList(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`
}

/** editDistance is the optimal string alignment distance (a swap of two neighbours counts once: revael -> reveal). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

/** suggest returns the known field closest to an unknown one, if it is close enough to be a typo. */
function suggest(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const k of known) {
    const dist = editDistance(unknown.toLowerCase(), k)
    if (dist < bestDistance) [best, bestDistance] = [k, dist]
  }
  return bestDistance <= Math.max(1, Math.min(2, Math.floor(unknown.length / 3))) ? best : undefined
}

/** formatPath renders segments as `payloads[3].headers.X-Foo`. */
function formatPath(segments: readonly Segment[]): string {
  let out = ''
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`
    else if (/^[A-Za-z0-9_-]+$/.test(s)) out += out === '' ? s : `.${s}`
    else out += `[${JSON.stringify(s)}]`
  }
  return out
}

/** Run is one load: the text, its document and the problems found so far. */
class Run {
  readonly #found: Found[] = []
  readonly #problems: ManifestProblem[] = []
  readonly #lines = new LineCounter()
  #doc: Document.Parsed | undefined

  constructor(
    readonly text: string,
    readonly file: string,
    readonly options: LoadManifestOptions,
    readonly validate: ValidateFunction,
    readonly defName: ReadonlyMap<object, string>,
  ) {}

  result(): LoadManifestResult {
    const data = this.#parse()
    if (data === undefined) return this.#fail()
    this.#schemaCheck(data.value)
    this.#ruleCheck(data.value)
    this.#locateAll()
    if (this.#problems.length > 0) return this.#fail()
    const manifest = buildManifest(data.value as RawManifest)
    return { ok: true, manifest, hash: createHash('sha256').update(this.text).digest('hex') }
  }

  #fail(): LoadManifestResult {
    const seen = new Set<string>()
    const problems = this.#problems.filter(p => {
      const k = formatProblem(p)
      return seen.has(k) ? false : (seen.add(k), true)
    })
    return { ok: false, problems: problems.sort(compareProblems) }
  }

  #at(offset: number, path: string, message: string): void {
    const pos = this.#lines.linePos(Math.max(0, Math.min(offset, this.text.length)))
    this.#problems.push({ file: this.file, line: Math.max(1, pos.line), column: Math.max(1, pos.col), path, message })
  }

  /** #parse reads the YAML; on a syntax error it records the parser's own positions and returns undefined. */
  #parse(): { value: unknown } | undefined {
    let doc: Document.Parsed
    try {
      doc = parseDocument(this.text, { lineCounter: this.#lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error' })
    } catch (e) {
      this.#at(0, '', `cannot be read as YAML: ${(e as Error).message}`)
      return undefined
    }
    this.#doc = doc
    for (const e of doc.errors) this.#at(e.pos[0], '', e.message)
    for (const w of doc.warnings) this.#at(w.pos[0], '', w.message)
    if (doc.errors.length > 0) return undefined
    try {
      // maxAliasCount bounds alias expansion (a "billion laughs" document). logLevel 'error' (above) keeps
      // yaml from printing process warnings; what it would warn about is reported as a problem instead.
      return { value: doc.toJS({ maxAliasCount: 100 }) as unknown }
    } catch (e) {
      this.#at(0, '', `cannot be read as YAML: ${(e as Error).message}`)
      return undefined
    }
  }

  #add(f: Found): void {
    this.#found.push({ ...f, rule: true })
  }

  #schemaCheck(value: unknown): void {
    if (this.validate(value)) return
    const errors = this.validate.errors ?? []
    // A value of the wrong type breaks the other keywords of its schema too (a null content "has
    // neither blob nor parts"); its type is the one thing to say about it.
    const mistyped = new Set(errors.filter(e => e.keyword === 'type').map(e => e.instancePath))
    for (const e of errors) {
      if (e.keyword !== 'type' && e.propertyName === undefined && mistyped.has(e.instancePath)) continue
      const f = this.#fromAjv(e, value)
      if (f !== undefined) this.#found.push(f)
    }
  }

  /** #fromAjv turns one ajv error into a problem in plain words, or undefined for errors another one already says. */
  #fromAjv(e: ErrorObject, root: unknown): Found | undefined {
    // Errors of the oneOf branches (required blob, required parts) are said once by the oneOf error.
    if (e.schemaPath.includes('/oneOf/') || e.keyword === 'propertyNames') return undefined
    const segments = pointerSegments(e.instancePath, root)
    const def = typeof e.parentSchema === 'object' ? this.defName.get(e.parentSchema) : undefined
    const params = e.params as Record<string, unknown>
    if (e.propertyName !== undefined) {
      return { segments: [...segments, e.propertyName], anchor: 'key', message: messageOf(def) ?? 'is not a valid name' }
    }
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty)
        if (def === 'defaults' && PAYLOAD_ONLY.includes(key)) {
          return { segments: [...segments, key], anchor: 'key', message: `'${key}' cannot be set in defaults, only in a payload` }
        }
        const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {})
        const guess = suggest(key, known)
        return { segments: [...segments, key], anchor: 'key', message: `unknown field '${key}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`}` }
      }
      case 'required': {
        const key = String(params.missingProperty)
        return { segments, anchor: 'value', message: `missing required field '${key}'` }
      }
      case 'type': {
        const types = Array.isArray(params.type) ? (params.type as string[]) : [String(params.type)]
        const words = orList(types.map(t => TYPE_WORDS[t] ?? t))
        // YAML reads 2026.12 or true as a number or a boolean; a header value wants quotes then.
        const scalar = typeof e.data === 'number' || typeof e.data === 'boolean'
        return { segments, anchor: 'value', message: def === 'headerValue' && scalar ? `must be ${words} (put the value in quotes)` : `must be ${words}` }
      }
      case 'const':
        return { segments, anchor: 'value', message: `must be ${JSON.stringify(params.allowedValue)}` }
      case 'enum':
        return { segments, anchor: 'value', message: `must be ${orList((params.allowedValues as unknown[]).map(v => JSON.stringify(v)))}` }
      case 'minItems':
        return { segments, anchor: 'value', message: params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} items` }
      case 'minimum':
        return { segments, anchor: 'value', message: `must be at least ${String(params.limit)}`, replaceable: true }
      case 'minProperties':
      case 'maxProperties':
      case 'oneOf':
        if (def === 'cache') return { segments, anchor: 'value', message: 'must set exactly one of max_age, expires_in or no_store' }
        if (def === 'content') return { segments, anchor: 'value', message: 'must set exactly one of blob or parts' }
        if (def === 'allowDeny') return { segments, anchor: 'value', message: 'must set allow, deny or both' }
        return { segments, anchor: 'value', message: 'is not valid' }
      case 'dependentRequired':
        return { segments: [...segments, String(params.property)], anchor: 'key', message: 'needs a blob: with parts, give each part its own sha256' }
      case 'pattern':
      case 'format':
      case 'minLength':
      case 'maxLength':
        return { segments, anchor: 'value', message: messageOf(def) ?? 'is not valid', replaceable: true }
      default:
        return { segments, anchor: 'value', message: 'is not valid' }
    }
  }

  /** #ruleCheck applies the rules a schema cannot state; it reads the data defensively, since the schema may have failed. */
  #ruleCheck(root: unknown): void {
    if (!isObject(root)) return
    const defaults = root.defaults
    if (isObject(defaults)) this.#checkCommon(defaults, ['defaults'])
    if (!Array.isArray(root.payloads)) return
    const names = new Map<string, number>()
    root.payloads.forEach((p: unknown, i) => {
      if (!isObject(p)) return
      const at: Segment[] = ['payloads', i]
      if (typeof p.name === 'string') {
        const first = names.get(p.name)
        if (first === undefined) names.set(p.name, i)
        else {
          const line = this.#lines.linePos(this.#offsetOf(['payloads', first, 'name'], 'value')).line
          this.#add({ segments: [...at, 'name'], anchor: 'value', message: `duplicate payload name '${p.name}' (first at line ${line})` })
        }
      }
      const paths = Array.isArray(p.paths) ? p.paths : []
      paths.forEach((path: unknown, j) => {
        if (typeof path !== 'string' || this.options.checkPath === undefined) return
        let err: PathPatternError | undefined
        try {
          err = this.options.checkPath(path)
        } catch (e) {
          err = { offset: 0, message: `cannot be checked: ${(e as Error).message}` }
        }
        if (err !== undefined) this.#add({ segments: [...at, 'paths', j], anchor: 'value', message: err.message, inner: err.offset })
      })
      let reveal: number | undefined
      let expires: number | undefined
      for (const key of ['reveal', 'expires'] as const) {
        const v = p[key]
        if (typeof v !== 'string') continue
        const ms = parseTime(v)
        if (ms === undefined) this.#add({ segments: [...at, key], anchor: 'value', message: TIME_MESSAGE })
        else if (key === 'reveal') reveal = ms
        else expires = ms
      }
      if (reveal !== undefined && expires !== undefined && expires <= reveal) {
        this.#add({ segments: [...at, 'expires'], anchor: 'value', message: 'expires must be after reveal' })
      }
      if (isObject(p.content)) this.#checkContent(p.content, paths, [...at, 'content'])
      this.#checkCommon(p, at)
    })
  }

  /** #checkCommon checks the fields payloads and defaults share: headers, acl networks, cache durations. */
  #checkCommon(o: Record<string, unknown>, at: readonly Segment[]): void {
    if (isObject(o.headers)) {
      const seen = new Map<string, string>()
      for (const name of Object.keys(o.headers)) {
        const key = name.toLowerCase()
        const why = SERVER_OWNED.get(key)
        if (why !== undefined) this.#add({ segments: [...at, 'headers', name], anchor: 'key', message: `'${name}' ${why}` })
        const first = seen.get(key)
        if (first === undefined) seen.set(key, name)
        else {
          const line = this.#lines.linePos(this.#offsetOf([...at, 'headers', first], 'key')).line
          this.#add({ segments: [...at, 'headers', name], anchor: 'key', message: `duplicate header field '${name}' (first at line ${line} as '${first}')` })
        }
      }
    }
    const acl = o.acl
    if (isObject(acl) && isObject(acl.networks)) {
      for (const list of ['allow', 'deny'] as const) {
        const items = acl.networks[list]
        if (!Array.isArray(items)) continue
        items.forEach((item: unknown, k) => {
          if (typeof item !== 'string') return
          const n = parseNetwork(item)
          if (typeof n === 'string') this.#add({ segments: [...at, 'acl', 'networks', list, k], anchor: 'value', message: n })
        })
      }
    }
    if (isObject(o.cache)) {
      for (const key of ['max_age', 'expires_in'] as const) {
        const v = o.cache[key]
        if (v === undefined || (typeof v !== 'string' && typeof v !== 'number')) continue
        const s = parseDuration(v)
        if (typeof s === 'string') this.#add({ segments: [...at, 'cache', key], anchor: 'value', message: s })
      }
    }
  }

  /** #checkContent checks blob keys and that each `{name}` in them is a named segment of every path. */
  #checkContent(content: Record<string, unknown>, paths: readonly unknown[], at: readonly Segment[]): void {
    const keys: Array<[string, Segment[]]> = []
    if (typeof content.blob === 'string') keys.push([content.blob, [...at, 'blob']])
    if (Array.isArray(content.parts)) {
      content.parts.forEach((part: unknown, i) => {
        if (isObject(part) && typeof part.blob === 'string') keys.push([part.blob, [...at, 'parts', i, 'blob']])
      })
    }
    for (const [key, segments] of keys) {
      const bad = blobKeyProblem(key)
      if (bad !== undefined) {
        this.#add({ segments, anchor: 'value', message: bad })
        continue
      }
      const paramsOf = this.options.paramsOf
      if (paramsOf === undefined) continue
      for (const m of key.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
        const name = m[1]!
        if (name === 'path') continue
        paths.forEach((path: unknown, j) => {
          if (typeof path !== 'string') return
          let params: readonly string[] | undefined
          try {
            params = paramsOf(path)
          } catch {
            params = undefined // an invalid pattern, which checkPath reports
          }
          if (params !== undefined && !params.includes(name)) {
            this.#add({ segments, anchor: 'value', inner: m.index, message: `'{${name}}' is not a named segment of path '${path}' (paths[${j}])` })
          }
        })
      }
    }
  }

  /** #locateAll turns found problems into positioned ones; a schema pattern error gives way to a precise one of the same field. */
  #locateAll(): void {
    const precise = new Set(this.#found.filter(f => f.rule === true).map(f => formatPath(f.segments)))
    for (const f of this.#found) {
      const path = formatPath(f.segments)
      if (f.replaceable === true && precise.has(path)) continue
      this.#at(this.#offsetOf(f.segments, f.anchor, f.inner ?? 0), path, f.message)
    }
  }

  /**
   * #offsetOf finds where a field is in the text: its value's first character, or its key's. A field
   * that is not there (a missing one) points at the nearest enclosing node that is. `inner` moves into
   * a scalar's text when the scalar is written as its value is (plain, or quoted without escapes).
   */
  #offsetOf(segments: readonly Segment[], anchor: Anchor, inner = 0): number {
    const doc = this.#doc
    if (doc === undefined) return 0
    let node: unknown = doc.contents
    let keyNode: unknown
    let offset = rangeStart(node) ?? 0
    for (const seg of segments) {
      if (isAlias(node)) node = node.resolve(doc)
      keyNode = undefined
      if (isMap(node)) {
        const pair = node.items.find(p => keyText(p.key) === String(seg))
        if (pair === undefined) return offset
        keyNode = pair.key
        node = pair.value
        offset = rangeStart(keyNode) ?? offset
        const v = rangeStart(node)
        if (v !== undefined && !(isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1])) offset = v
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        node = node.items[seg]
        offset = rangeStart(node) ?? offset
      } else return offset
    }
    if (anchor === 'key') return rangeStart(keyNode) ?? offset
    if (inner > 0 && isScalar(node) && typeof node.value === 'string' && node.range != null) {
      const src = this.text.slice(node.range[0], node.range[1])
      if (node.type === Scalar.PLAIN && src === node.value) return offset + inner
      if ((node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE) && src.slice(1, -1) === node.value) return offset + 1 + inner
    }
    return offset
  }
}

function rangeStart(node: unknown): number | undefined {
  const r = (node as { range?: unknown } | null | undefined)?.range
  return Array.isArray(r) && typeof r[0] === 'number' ? r[0] : undefined
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key)
}

/** pointerSegments turns an ajv instancePath (a JSON pointer) into segments, numbers where the data is a list. */
function pointerSegments(pointer: string, root: unknown): Segment[] {
  if (pointer === '') return []
  const out: Segment[] = []
  let cur: unknown = root
  for (const raw of pointer.slice(1).split('/')) {
    const s = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (Array.isArray(cur) && /^\d+$/.test(s)) {
      out.push(Number(s))
      cur = cur[Number(s)]
    } else {
      out.push(s)
      cur = isObject(cur) ? cur[s] : undefined
    }
  }
  return out
}

/** blobKeyProblem says what is wrong with a blob key, or undefined when it is fine. */
function blobKeyProblem(key: string): string | undefined {
  if (key === '') return 'must not be empty'
  if (key.includes('\0')) return 'must not contain NUL'
  if (key.startsWith('/')) return "must not start with '/' (a blob key is relative to the store)"
  if (key.split('/').includes('..')) return "must not contain a '..' segment"
  return undefined
}

// What the schema admitted, as the builder reads it. Only used after every check passed.
interface RawAllowDeny<T> {
  allow?: T[]
  deny?: T[]
}
interface RawAcl {
  networks?: RawAllowDeny<string>
  countries?: RawAllowDeny<string>
  users?: RawAllowDeny<string>
  user_types?: RawAllowDeny<string>
  signed?: boolean
}
interface RawCommon {
  content_type?: string
  filename?: string
  expired_status?: 404 | 410
  acl?: RawAcl
  headers?: Record<string, string>
  cache?: { max_age?: number | string; expires_in?: number | string; no_store?: true }
}
interface RawPayload extends RawCommon {
  name: string
  paths: string[]
  content: { blob?: string; sha256?: string; parts?: Array<{ blob: string; sha256?: string }> }
  reveal?: string
  expires?: string
}
interface RawManifest {
  version: 1
  defaults?: RawCommon
  payloads: RawPayload[]
}

function buildManifest(raw: RawManifest): Manifest {
  const d = raw.defaults ?? {}
  const defaultAcl = d.acl === undefined ? undefined : buildAcl(d.acl)
  const defaultCache = d.cache === undefined ? undefined : buildCache(d.cache)
  const payloads = raw.payloads.map((p): Payload => {
    const acl = p.acl === undefined ? defaultAcl : buildAcl(p.acl)
    const cache = p.cache === undefined ? defaultCache : buildCache(p.cache)
    const contentType = p.content_type ?? d.content_type
    const filename = p.filename ?? d.filename
    return {
      name: p.name,
      paths: [...p.paths],
      content: buildContent(p.content),
      ...(contentType === undefined ? {} : { contentType }),
      ...(filename === undefined ? {} : { filename }),
      ...(p.reveal === undefined ? {} : { reveal: parseTime(p.reveal)! }),
      ...(p.expires === undefined ? {} : { expires: parseTime(p.expires)! }),
      expiredStatus: p.expired_status ?? d.expired_status ?? 404,
      ...(acl === undefined ? {} : { acl }),
      headers: mergeHeaders(d.headers ?? {}, p.headers ?? {}),
      ...(cache === undefined ? {} : { cache }),
    }
  })
  return { version: 1, payloads }
}

function buildContent(c: RawPayload['content']): PayloadContent {
  const part = (blob: string, sha256: string | undefined): ContentPart => ({ blob, ...(sha256 === undefined ? {} : { sha256: sha256.toLowerCase() }) })
  if (c.blob !== undefined) return { kind: 'blob', ...part(c.blob, c.sha256) }
  return { kind: 'parts', parts: (c.parts ?? []).map(p => part(p.blob, p.sha256)) }
}

function buildAllowDeny<T, U>(r: RawAllowDeny<T> | undefined, f: (t: T) => U): AllowDeny<U> | undefined {
  if (r === undefined) return undefined
  return { ...(r.allow === undefined ? {} : { allow: r.allow.map(f) }), ...(r.deny === undefined ? {} : { deny: r.deny.map(f) }) }
}

/**
 * buildAcl resolves an acl, or returns undefined when it has no rule (`acl: {}`, which lifts the
 * default's, or only `signed: false`): an acl without rules is no acl, so the payload is served as
 * one without (no `Cache-Control: private`, no client in the access log), as `manifest resolve`
 * already described it.
 */
function buildAcl(r: RawAcl): Acl | undefined {
  const networks = buildAllowDeny(r.networks, s => parseNetwork(s) as Network)
  const countries = buildAllowDeny(r.countries, s => s)
  const users = buildAllowDeny(r.users, s => s)
  const userTypes = buildAllowDeny(r.user_types, s => s)
  if (networks === undefined && countries === undefined && users === undefined && userTypes === undefined && r.signed !== true) return undefined
  return {
    ...(networks === undefined ? {} : { networks }),
    ...(countries === undefined ? {} : { countries }),
    ...(users === undefined ? {} : { users }),
    ...(userTypes === undefined ? {} : { userTypes }),
    signed: r.signed ?? false,
  }
}

function buildCache(r: NonNullable<RawCommon['cache']>): CachePolicy {
  if (r.max_age !== undefined) return { kind: 'max-age', seconds: parseDuration(r.max_age) as number }
  if (r.expires_in !== undefined) return { kind: 'expires-in', seconds: parseDuration(r.expires_in) as number }
  return { kind: 'no-store' }
}

/** mergeHeaders puts the payload's fields over the defaults', by lower-case name: a payload's field replaces the default in place. */
function mergeHeaders(defaults: Record<string, string>, own: Record<string, string>): ManifestHeader[] {
  const out: ManifestHeader[] = Object.entries(defaults).map(([name, value]) => ({ name, key: name.toLowerCase(), value }))
  for (const [name, value] of Object.entries(own)) {
    const key = name.toLowerCase()
    const i = out.findIndex(h => h.key === key)
    if (i >= 0) out[i] = { name, key, value }
    else out.push({ name, key, value })
  }
  return out
}
