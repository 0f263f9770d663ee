import { createReadStream } from 'node:fs'
import { NOT_COMPARED_REASONS, type Comparison } from '../audit/divergence.js'
import { CutoverError } from '../core/errors.js'
import { gunzipMembers, type GunzipEnd } from '../replay/gunzip-members.js'
import { splitLines } from '../replay/split-lines.js'

/** DEFAULT_BAD_KEPT is how many bad lines {@link ReadStats} lists (all are counted). */
export const DEFAULT_BAD_KEPT = 20

/** ReadStats is what {@link readComparisons} saw, updated as it reads. */
export interface ReadStats {
  /** Non-blank lines read. */
  lines: number
  /** Lines that were comparisons. */
  comparisons: number
  /** Lines that were not, in all. */
  badLines: number
  /** The first few of them: `file:line: why`. */
  readonly bad: string[]
}

/** newReadStats returns zeroed {@link ReadStats}. */
export function newReadStats(): ReadStats {
  return { lines: 0, comparisons: 0, badLines: 0, bad: [] }
}

/** ReadOptions says where {@link readComparisons} reports what it saw. */
export interface ReadOptions {
  /** Updated while reading. */
  readonly stats: ReadStats
  /** How many bad lines `stats.bad` lists. If unset, defaults to DEFAULT_BAD_KEPT. */
  readonly badKept?: number
}

/** ParseResult is a line read as a Comparison, or why it is not one. */
export type ParseResult =
  { readonly ok: true; readonly value: Comparison } | { readonly ok: false; readonly reason: string }

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v)
const isStr = (v: unknown): boolean => typeof v === 'string'
const optNum = (v: unknown): boolean => v === undefined || isNum(v)
const optStr = (v: unknown): boolean => v === undefined || isStr(v)
const isSide = (v: unknown): boolean => v === 'control' || v === 'candidate'

/** FIELDS lists, per divergence kind, the fields that must be there and their checks. */
const FIELDS: Readonly<Record<string, Readonly<Record<string, (v: unknown) => boolean>>>> = {
  status: { control: isNum, candidate: isNum },
  header: { name: isStr, control: optStr, candidate: optStr },
  'body-length': { control: isNum, candidate: isNum, part: optNum, equalUpTo: optNum },
  'body-bytes': {
    offset: isNum,
    controlLength: isNum,
    candidateLength: isNum,
    controlSha256: optStr,
    candidateSha256: optStr,
    part: optNum,
    block: v => v === undefined || (isObj(v) && isNum(v.from) && isNum(v.to) && isStr(v.why)),
  },
  'range-part': {
    part: isNum,
    field: v => v === 'content-range' || v === 'content-type' || v === 'count',
    control: optStr,
    candidate: optStr,
  },
  error: { side: isSide, code: isStr, message: isStr },
  timeout: { side: isSide, afterMs: isNum },
  'not-compared': { reason: v => typeof v === 'string' && (NOT_COMPARED_REASONS as readonly string[]).includes(v), message: isStr },
}

/** divergenceProblem says what is wrong with a divergence record, or undefined when nothing is. */
function divergenceProblem(d: unknown, at: string): string | undefined {
  if (!isObj(d)) return `${at} is not an object`
  const fields = typeof d.kind === 'string' && Object.hasOwn(FIELDS, d.kind) ? FIELDS[d.kind] : undefined
  if (!fields) return `${at}.kind ${JSON.stringify(d.kind)} is not a divergence kind`
  for (const [name, ok] of Object.entries(fields))
    if (!ok(d[name])) return `${at}.${name} is missing or malformed`
  return undefined
}

/** comparisonProblem says what is wrong with a parsed line, or undefined when it is a Comparison. */
function comparisonProblem(v: unknown): string | undefined {
  if (!isObj(v)) return 'not a JSON object'
  const r = v.request
  if (!isObj(r)) return 'request is missing'
  if (!isStr(r.method) || !isStr(r.path)) return 'request.method or request.path is missing'
  if (!isObj(r.headers) || !Object.values(r.headers).every(isStr))
    return 'request.headers is missing or malformed'
  if (!isStr(v.time) || !Number.isFinite(Date.parse(v.time as string))) return 'time is not an ISO 8601 date'
  for (const f of ['status', 'durationsMs']) {
    const o = v[f]
    if (!isObj(o) || !optNum(o.control) || !optNum(o.candidate)) return `${f} is missing or malformed`
  }
  if (!isNum(v.bytesCompared)) return 'bytesCompared is missing'
  if (!optStr(v.payload)) return 'payload is not a string'
  for (const f of ['divergences', 'ignored', 'noise']) if (!Array.isArray(v[f])) return `${f} is not an array`
  const divergences = v.divergences as unknown[]
  for (const [i, d] of divergences.entries()) {
    const p = divergenceProblem(d, `divergences[${i}]`)
    if (p) return p
  }
  for (const [i, x] of (v.ignored as unknown[]).entries()) {
    if (!isObj(x) || !isStr(x.reason)) return `ignored[${i}].reason is missing`
    const p = divergenceProblem(x.divergence, `ignored[${i}].divergence`)
    if (p) return p
  }
  for (const [i, d] of (v.noise as unknown[]).entries()) {
    const p = divergenceProblem(d, `noise[${i}]`)
    if (p) return p
  }
  return undefined
}

/**
 * parseComparison reads one JSONL line as a {@link Comparison}, checking every field reports rely
 * on (the divergence union included), or says why the line is not one. Pure.
 */
export function parseComparison(line: string): ParseResult {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message})` }
  }
  const problem = comparisonProblem(v)
  if (problem) return { ok: false, reason: problem }
  const value = v as Comparison
  // request.id is the one field no report needs: a record without it is still worth counting.
  return {
    ok: true,
    value: isStr(value.request.id) ? value : { ...value, request: { ...value.request, id: '' } },
  }
}

/**
 * REPORT_MAX_LINE_BYTES is the longest line `cutover report` reads: 16 MiB, far above any
 * comparison record (their body excerpts are bounded), so only a corrupt line reaches it.
 */
export const REPORT_MAX_LINE_BYTES = 16 * 1024 * 1024

/** FileLine is one line of a file, a line over the cap, or the broken end of a gzip file. */
type FileLine = { kind: 'line'; text: string } | { kind: 'bad'; reason: string }

/**
 * openLines reads a file (gunzipped when its name ends in .gz) line by line, in bounded memory. A
 * broken gzip stream (cut short, corrupt, junk after the last member) ends the file with one `bad`
 * line after every line decompressed before it: the report goes on. An error reading the file
 * itself rejects the iteration.
 */
async function* openLines(file: string): AsyncGenerator<FileLine> {
  const raw = createReadStream(file)
  const gz: GunzipEnd = {}
  const bytes: AsyncIterable<Buffer> = file.endsWith('.gz') ? gunzipMembers(raw, gz) : raw
  try {
    for await (const l of splitLines(bytes, REPORT_MAX_LINE_BYTES)) {
      if (l.kind === 'line') yield { kind: 'line', text: l.bytes.toString('utf8') }
      else yield { kind: 'bad', reason: `longer than ${REPORT_MAX_LINE_BYTES} bytes (${l.length} bytes), not read` }
    }
    if (gz.junk) yield { kind: 'bad', reason: `gzip: ${gz.junk.bytes} bytes of trailing data after the last member (at byte ${gz.junk.offset}), not read` }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // zlib: a truncated or corrupt stream is the file's last (bad) line, never the report's end.
    if (typeof code === 'string' && code.startsWith('Z_')) yield { kind: 'bad', reason: `gzip: ${(err as Error).message}` }
    else throw err
  } finally {
    raw.destroy()
  }
}

/** ioError names the file in an error reading it. */
function ioError(file: string, err: unknown): CutoverError {
  const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message
  return new CutoverError('ERR_IO', `${file}: ${why}`, { cause: err })
}

/**
 * readComparisons streams the Comparisons of JSONL files (one record per line, as `mirror --out`
 * writes them; `.gz` files are decompressed), one file after the other, in constant memory. Blank
 * lines are skipped; a line that is not a Comparison is counted in `o.stats` (and the first few
 * listed as `file:line: why`), never fatal; so is the broken end of a gzip file (cut short, corrupt,
 * junk after the last member), after every line before it. A file that cannot be read rejects with
 * ERR_IO naming it.
 */
export async function* readComparisons(files: readonly string[], o: ReadOptions): AsyncGenerator<Comparison> {
  const { stats } = o
  const keep = o.badKept ?? DEFAULT_BAD_KEPT
  for (const file of files) {
    const it = openLines(file)
    try {
      for (let n = 1; ; n++) {
        let next: IteratorResult<FileLine>
        try {
          next = await it.next()
        } catch (err) {
          throw ioError(file, err)
        }
        if (next.done) break
        const l = next.value
        if (l.kind === 'line' && l.text.trim() === '') continue
        stats.lines++
        const r = l.kind === 'line' ? parseComparison(l.text) : { ok: false as const, reason: l.reason }
        if (r.ok) {
          stats.comparisons++
          yield r.value
        } else {
          stats.badLines++
          if (stats.bad.length < keep) stats.bad.push(`${file}:${n}: ${r.reason}`)
        }
      }
    } finally {
      // Also when the consumer stops early.
      await it.return(undefined)
    }
  }
}
