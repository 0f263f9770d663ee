import { readFile } from 'node:fs/promises'
import { formatProblem, loadManifest, type LoadManifestOptions, type ManifestLoader, type ManifestProblem } from './load-manifest.js'
import type { Manifest, Payload } from './manifest.js'
import { RouteTable, type RouteEntry, type RouteOverlap } from './route-table.js'
import { parsePattern, type Params, type ParseResult, type UrlPattern } from './url-pattern.js'

/**
 * patternHooks let the loader check every path pattern and the `{name}`s of blob keys against the
 * pattern compiler, so that a bad pattern is reported with the manifest's other problems, at its
 * line and column. Each pattern is compiled once into `compiled` (the loader asks twice per path,
 * and compileManifest builds its route table from the same compilations).
 */
export const patternHooks = (
  compiled: Map<string, ParseResult> = new Map(),
): Required<Pick<LoadManifestOptions, 'checkPath' | 'paramsOf'>> => {
  const parse = (path: string): ParseResult => {
    let r = compiled.get(path)
    if (r === undefined) compiled.set(path, (r = parsePattern(path)))
    return r
  }
  return {
    checkPath: path => {
      const r = parse(path)
      return r.ok ? undefined : r.error
    },
    paramsOf: path => {
      const r = parse(path)
      return r.ok ? r.pattern.names : undefined
    },
  }
}

/** CompiledManifest is a valid manifest with its route table, ready to answer requests. Immutable. */
export interface CompiledManifest {
  /** The file it was read from (for messages). */
  readonly file: string
  readonly manifest: Manifest
  /** SHA-256 of the manifest's text, hex: what a reload reports and the access log names. */
  readonly hash: string
  readonly table: RouteTable
  /** Every path pattern, compiled: entry `path` of payload `payload` is `patterns[payload][path]`. */
  readonly patterns: readonly (readonly UrlPattern[])[]
}

/** CompileResult is a compiled manifest, or every problem found in it. */
export type CompileResult =
  | { readonly ok: true; readonly compiled: CompiledManifest }
  | { readonly ok: false; readonly problems: readonly ManifestProblem[] }

/**
 * compileManifest loads a manifest's text (loadManifest, with the path patterns checked) and builds
 * its route table. Never throws on any text: problems are returned, each with its location.
 */
export function compileManifest(text: string, file: string, loader?: ManifestLoader): CompileResult {
  const compiled = new Map<string, ParseResult>()
  const loaded = loadManifest(text, file, { ...patternHooks(compiled), ...(loader ? { loader } : {}) })
  if (!loaded.ok) return loaded
  return { ok: true, compiled: compileLoaded(file, loaded.manifest, loaded.hash, compiled) }
}

/**
 * compileLoaded builds the route table of a manifest that loadManifest accepted (`hash` is the
 * SHA-256 of its text), compiling its path patterns, or taking them from `compiled` where the
 * loader's checks already did. Throws only when given a manifest the loader did not accept.
 */
export function compileLoaded(file: string, manifest: Manifest, hash: string, compiled: ReadonlyMap<string, ParseResult> = new Map()): CompiledManifest {
  const patterns = manifest.payloads.map(p =>
    p.paths.map(path => {
      const r = compiled.get(path) ?? parsePattern(path)
      // The loader has checked every pattern with the same compiler.
      if (!r.ok) throw new Error(`unreachable: ${path} was accepted by the loader`)
      return r.pattern
    }),
  )
  const entries: RouteEntry[] = []
  patterns.forEach((list, payload) => list.forEach((pattern, path) => entries.push({ pattern, payload, path })))
  return { file, manifest, hash, table: new RouteTable(entries), patterns }
}

/**
 * readManifest reads and compiles a manifest file. Problems come back as formatted lines
 * (`file:line:column: path: message`); a file that cannot be read is one such line.
 */
export async function readManifest(
  file: string,
  loader?: ManifestLoader,
): Promise<{ ok: true; compiled: CompiledManifest } | { ok: false; lines: string[] }> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return { ok: false, lines: [`${file}: cannot read the manifest${code ? ` (${code})` : ''}`] }
  }
  const r = compileManifest(text, file, loader)
  return r.ok ? r : { ok: false, lines: r.problems.map(formatProblem) }
}

/** Routed is the payload a request path gets, through which of its patterns, with the named segments' values. */
export interface Routed {
  readonly payload: Payload
  /** Index of the payload in the manifest. */
  readonly index: number
  readonly pattern: UrlPattern
  /** Index of the pattern in the payload's paths. */
  readonly pathIndex: number
  readonly params: Params
}

/**
 * routeRequest finds the payload that serves a request path by the manifest's precedence (exact,
 * named, glob; more literal characters; declaration order), or undefined. `path` is the request's
 * cleaned, percent-decoded path.
 */
export function routeRequest(c: CompiledManifest, path: string): Routed | undefined {
  const m = c.table.match(path)
  if (!m) return undefined
  const payload = c.manifest.payloads[m.entry.payload]
  if (!payload) return undefined
  return { payload, index: m.entry.payload, pattern: m.entry.pattern, pathIndex: m.entry.path, params: m.params }
}

/**
 * blobKey expands a blob key template: `{name}` is the value of the named segment `name`, `{path}`
 * the request path without its leading slash. The loader has checked that every `{name}` of a
 * payload's keys is a named segment of each of its paths; a name with no value expands to nothing.
 */
export function blobKey(template: string, params: Params, path: string): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) =>
    name === 'path' ? path.replace(/^\//, '') : (params[name] ?? ''),
  )
}

/** blobKeys are the blob keys of a routed request's content, in order (one for `blob`, one per part). */
export function blobKeys(r: Routed, path: string): string[] {
  const c = r.payload.content
  return c.kind === 'blob' ? [blobKey(c.blob, r.params, path)] : c.parts.map(p => blobKey(p.blob, r.params, path))
}

/** overlapsOf lists the pairs of patterns some path matches both of (see RouteTable.overlaps). */
export function overlapsOf(c: CompiledManifest): readonly RouteOverlap[] {
  return c.table.overlaps()
}
