import { Command, InvalidArgumentError, Option } from 'commander'
import { codeOf } from '../core/errors.js'
import { blobKeys, overlapsOf, readManifest, routeRequest, type CompiledManifest } from '../manifest/compile-manifest.js'
import { ManifestLoader } from '../manifest/load-manifest.js'
import { parseTime } from '../manifest/parse-time.js'
import type { Payload } from '../manifest/manifest.js'
import type { RouteEntry } from '../manifest/route-table.js'
import { cleanPath } from '../payload/clean-path.js'
import { revealState } from '../payload/reveal-state.js'
import { plural } from '../report/plural.js'
import { parseCount, parseHeaderFlag } from './options.js'
import { accessPolicy, addPolicyOptions, type PolicyFlags } from './policy-options.js'
import type { AccessPolicy } from '../payload/access-policy.js'
import type { RequestFacts } from '../payload/resolver.js'
import { systemClock } from '../core/clock.js'

/** DEFAULT_MAX_OVERLAPS is how many overlapping pairs `manifest check` lists before it only counts them. */
export const DEFAULT_MAX_OVERLAPS = 50

/** Out is where the manifest commands write: stdout and stderr by default, strings in tests. */
export interface Out {
  out(line: string): void
  err(line: string): void
}

/** stdio writes to the process's stdout and stderr. */
const stdio = (): Out => ({ out: line => process.stdout.write(`${line}\n`), err: line => process.stderr.write(`${line}\n`) })

/** where names an entry as `payloads[i].paths[j]` with its pattern and payload name. */
function where(c: CompiledManifest, e: RouteEntry): string {
  return `payloads[${e.payload}].paths[${e.path}] ${e.pattern.text} ('${c.manifest.payloads[e.payload]?.name ?? '?'}')`
}

/** why says in a few words why `winner` takes precedence over `loser`. */
function why(winner: RouteEntry, loser: RouteEntry): string {
  const a = winner.pattern
  const b = loser.pattern
  if (a.kind !== b.kind) return `${a.kind === 'exact' ? 'an exact path' : 'named segments'} before ${b.kind === 'glob' ? 'a glob' : 'named segments'}`
  if (a.literalCount !== b.literalCount) return `more literal characters, ${a.literalCount} against ${b.literalCount}`
  return winner.payload !== loser.payload ? 'declared first' : 'listed first in the payload'
}

/**
 * checkManifest is `cutover manifest check FILE`: every problem with its location and exit 2, or a
 * one-line summary, the overlapping patterns (at most `maxOverlaps` listed, with which one wins and
 * a path both match) and exit 0.
 */
export async function checkManifest(file: string, maxOverlaps: number, o: Out = stdio(), loader?: ManifestLoader): Promise<number> {
  const r = await readManifest(file, loader ?? new ManifestLoader())
  if (!r.ok) {
    for (const line of r.lines) o.err(line)
    o.err(`${file}: ${plural(r.lines.length, 'problem')}; the manifest was not loaded`)
    return 2
  }
  const c = r.compiled
  const kinds = { exact: 0, named: 0, glob: 0 }
  for (const list of c.patterns) for (const p of list) kinds[p.kind]++
  const overlaps = overlapsOf(c)
  const paths = kinds.exact + kinds.named + kinds.glob
  o.out(
    `${file}: ok: ${plural(c.manifest.payloads.length, 'payload')}, ${plural(paths, 'path')} ` +
      `(${kinds.exact} exact, ${kinds.named} named, ${kinds.glob} glob), ${plural(overlaps.length, 'overlap')}, sha256 ${c.hash}`,
  )
  for (const ov of overlaps.slice(0, maxOverlaps)) {
    o.out(`  overlap: ${where(c, ov.winner)} and ${where(c, ov.loser)} both match ${ov.witness}: the first wins (${why(ov.winner, ov.loser)})`)
  }
  if (overlaps.length > maxOverlaps) o.out(`  ... and ${overlaps.length - maxOverlaps} more (--max-overlaps N lists more)`)
  return 0
}

/** iso formats an epoch-milliseconds time as RFC 3339 UTC. */
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z')

/** describeAcl lists a payload's access rules in one line, or undefined when it has none. */
function describeAcl(p: Payload): string | undefined {
  const a = p.acl
  if (!a) return undefined
  const parts: string[] = []
  const list = <T>(name: string, ad: { allow?: readonly T[]; deny?: readonly T[] } | undefined, show: (x: T) => string): void => {
    if (ad?.allow) parts.push(`${name} allow [${ad.allow.map(show).join(', ')}]`)
    if (ad?.deny) parts.push(`${name} deny [${ad.deny.map(show).join(', ')}]`)
  }
  list('networks', a.networks, n => n.source)
  list('countries', a.countries, (x: string) => x)
  list('users', a.users, (x: string) => x)
  list('user types', a.userTypes, (x: string) => x)
  if (a.signed) parts.push('a signed link')
  return parts.length > 0 ? parts.join('; ') : undefined
}

/**
 * resolveRequest is `cutover manifest resolve FILE PATH [--at TIME] [--ip IP] [--header K:V]...`:
 * which payload a request for PATH gets, through which pattern, with which blob keys, whether it is
 * served at TIME (reveal and expiry) and whether its access rules let this client have it (decided
 * by `who.policy` as serve decides). Exit 0 when the payload is served, 1 when the request gets a
 * 404, 410 or 403 (the reason printed), 2 for a bad manifest or path.
 */
export async function resolveRequest(
  file: string,
  target: string,
  at: number,
  o: Out = stdio(),
  loader?: ManifestLoader,
  who: ResolveClient = {},
): Promise<number> {
  const r = await readManifest(file, loader ?? new ManifestLoader())
  if (!r.ok) {
    for (const line of r.lines) o.err(line)
    return 2
  }
  const c = r.compiled
  const rawPath = target.split('?')[0] ?? target
  let path: string
  try {
    // The path a payload is matched against is the one serve sees: percent-decoded, empty and '.'
    // segments dropped; '..' and NUL refused.
    path = `/${cleanPath(rawPath, true)}`
  } catch (err) {
    o.err(`${target}: ${codeOf(err) === 'ERR_BAD_REQUEST' ? 'a bad request path' : 'not a path'} (${(err as Error).message}): the server answers 400`)
    return 2
  }
  const routed = routeRequest(c, path)
  if (!routed) {
    o.out(`${path}: no payload: 404`)
    return 1
  }
  const p = routed.payload
  o.out(`${path}: payload '${p.name}' (payloads[${routed.index}]), by payloads[${routed.index}].paths[${routed.pathIndex}] ${routed.pattern.text} (${routed.pattern.kind})`)
  const params = Object.entries(routed.params)
  if (params.length > 0) o.out(`  segments: ${params.map(([k, v]) => `${k}=${v}`).join(' ')}`)
  const keys = blobKeys(routed, path)
  o.out(`  content: ${p.content.kind === 'blob' ? 'blob' : `${keys.length} parts`} ${keys.join(' + ')}`)
  const acl = describeAcl(p)
  const s = revealState(p, at)
  if (s.state === 'unrevealed') {
    o.out(`  at ${iso(at)}: not revealed until ${iso(s.reveal)}: 404, the same answer as a path no payload serves`)
    return 1
  }
  if (s.state === 'expired') {
    o.out(`  at ${iso(at)}: expired at ${iso(s.expires)}: ${s.status}`)
    return 1
  }
  if (acl) {
    o.out(`  access rules: ${acl}`)
    if (!who.policy) {
      o.out('  no access policy given: a server without one refuses everyone (403)')
      return 1
    }
    const query = target.includes('?') ? target.slice(target.indexOf('?')) : ''
    const request: RequestFacts = { method: who.method ?? 'GET', path: rawPath, query, headers: who.headers ?? {}, remote: who.ip ?? '127.0.0.1' }
    const d = who.policy.decide(p, request, at)
    const vary = d.vary.length > 0 ? `; varies on ${d.vary.join(', ')}` : ''
    if (!d.allow) {
      o.out(`  from ${request.remote} (client ${d.client}): denied by ${d.rule}: ${d.reason}: 403${vary}`)
      return 1
    }
    o.out(`  from ${request.remote} (client ${d.client}): allowed${vary}`)
  }
  o.out(`  at ${iso(at)}: served${p.expires !== undefined ? ` (until ${iso(p.expires)})` : ''}`)
  return 0
}

/** ResolveClient is who asks, for `manifest resolve`: the peer's address, the request's headers and method, and the access policy. */
export interface ResolveClient {
  /** The address the request comes from (the socket's peer). If unset, 127.0.0.1. */
  readonly ip?: string
  /** Request headers, lower-case names (X-Forwarded-For, identity and country headers). If unset, none. */
  readonly headers?: Record<string, string>
  /** The method. If unset, GET. */
  readonly method?: string
  /** Decides payloads with access rules; if unset, such payloads are reported as refused (as a server without one does). */
  readonly policy?: AccessPolicy
}

/** parseAt reads `--at`: an RFC 3339 time with a UTC offset, as the manifest's own times are read. */
export function parseAt(s: string): number {
  const ms = parseTime(s)
  if (ms === undefined) throw new InvalidArgumentError(`expected an RFC 3339 time such as 2026-12-10T09:00:00Z; got ${JSON.stringify(s)}`)
  return ms
}

/** register adds `cutover manifest check` and `cutover manifest resolve`. */
export function register(program: Command): void {
  const manifest = program.command('manifest').description('check a payload manifest, and see which payload a request gets')
  manifest
    .command('check')
    .description('report every problem of a manifest with its line and column (exit 2), or summarise it and list overlapping patterns (exit 0)')
    .argument('<file>', 'the manifest (YAML or JSON)')
    .addOption(new Option('--max-overlaps <n>', 'list at most this many overlapping pattern pairs').default(DEFAULT_MAX_OVERLAPS).argParser(parseCount(0)))
    .action(async (file: string, f: { maxOverlaps: number }) => {
      process.exitCode = await checkManifest(file, f.maxOverlaps)
    })
  const resolve = manifest
    .command('resolve')
    .description('which payload a request for PATH gets and why: exit 0 served, 1 a 404 or 410, 2 a bad manifest or path')
    .argument('<file>', 'the manifest (YAML or JSON)')
    .argument('<path>', 'the request path, e.g. /sdk/1.2/tools-linux.zip')
    .addOption(new Option('--at <time>', 'evaluate reveal, expiry and signed links at this RFC 3339 time instead of now').argParser(parseAt))
    .option('--ip <address>', 'the address the request comes from (the socket\'s peer)', '127.0.0.1')
    .option('-H, --header <header>', "a request header, 'Name: value' (repeatable), e.g. X-Forwarded-For", parseHeaderFlag, [])
    .option('--method <method>', 'the request method: GET or HEAD', 'GET')
  addPolicyOptions(resolve).action(async (file: string, path: string, f: PolicyFlags & { at?: number; ip: string; header: Array<[string, string]>; method: string }) => {
    const policy = await accessPolicy(f)
    const headers: Record<string, string> = {}
    for (const [k, v] of f.header) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`
    process.exitCode = await resolveRequest(file, path, f.at ?? systemClock.now(), stdio(), undefined, { ip: f.ip, headers, method: f.method.toUpperCase(), policy })
  })
}
