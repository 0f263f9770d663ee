import type { ChalkInstance } from 'chalk'
import type { Comparison, Divergence, DivergenceKind, NotComparedReason } from '../audit/divergence.js'
import { DIVERGENCE_KINDS, divergenceKey } from '../audit/divergence.js'
import type { ExchangeRequest } from '../audit/exchange.js'
import { describeDivergence } from './render-comparison.js'
import { printable, shellQuote } from './shell-quote.js'
import { TopK, type TopEntry } from './top-k.js'
import { LOGGED_HEADERS } from '../telemetry/access-log.js'
import { headerFix } from './header-fix.js'
import { DEFAULT_MAX_PAYLOADS, PayloadGroups, payloadLines, type PayloadTable } from './payload-groups.js'


/** DEFAULT_TOP is how many paths, headers, rules and noise keys a summary lists. */
export const DEFAULT_TOP = 10
/** DEFAULT_MAX_PATHS is how many distinct paths a summary tracks (beyond: Space-Saving estimates). */
export const DEFAULT_MAX_PATHS = 1000
/** DEFAULT_MAX_KEYS is how many distinct header names, rules and noise keys a summary tracks each. */
export const DEFAULT_MAX_KEYS = 200
/** DEFAULT_EXAMPLES is how many example comparisons a summary keeps per kind (the first ones seen). */
export const DEFAULT_EXAMPLES = 3
/** DEFAULT_LATENCY_SAMPLES is the size of each side's latency reservoir. */
export const DEFAULT_LATENCY_SAMPLES = 10_000
/** DEFAULT_MAX_BUCKETS bounds the timeline: past it, buckets double in width (one minute at first). */
export const DEFAULT_MAX_BUCKETS = 1440
/** DEFAULT_COMMAND_HEADERS are the request headers an example's compare command repeats. */
export const DEFAULT_COMMAND_HEADERS: readonly string[] = [...LOGGED_HEADERS, 'accept-encoding', 'accept']
/** MAX_VALUE_KEPT bounds the example header values a summary keeps (characters). */
const MAX_VALUE_KEPT = 256
const MINUTE = 60_000

/** SummaryOptions bounds what {@link summarize} keeps. Every field is optional. */
export interface SummaryOptions {
  /** How many entries the lists of the result hold. If unset, defaults to DEFAULT_TOP. */
  readonly top?: number
  /** Distinct paths tracked. If unset, defaults to DEFAULT_MAX_PATHS. */
  readonly maxPaths?: number
  /** Distinct header names, rules and noise keys tracked, each. If unset, defaults to DEFAULT_MAX_KEYS. */
  readonly maxKeys?: number
  /** Examples kept per kind. If unset, defaults to DEFAULT_EXAMPLES. */
  readonly examples?: number
  /** Latency samples kept per side. If unset, defaults to DEFAULT_LATENCY_SAMPLES. */
  readonly latencySamples?: number
  /** Distinct payload names tracked. If unset, defaults to DEFAULT_MAX_PAYLOADS. */
  readonly maxPayloads?: number
  /** Timeline buckets kept before they widen. If unset, defaults to DEFAULT_MAX_BUCKETS. */
  readonly maxBuckets?: number
  /** Uniform random numbers in [0, 1) for the latency reservoirs. If unset, defaults to Math.random. */
  readonly random?: () => number
}

/** KindCount is how often one kind of divergence occurs. */
export interface KindCount {
  /** Divergences of the kind. */
  readonly divergences: number
  /** Comparisons with at least one divergence of the kind. */
  readonly comparisons: number
}

/** PathCount is one of the paths with the most divergences. */
export interface PathCount {
  readonly path: string
  /** Divergences on the path; an overestimate by at most `error` (0 unless over maxPaths paths). */
  readonly divergences: number
  readonly error: number
  /** Divergent comparisons, and divergences by kind, since the path was last admitted. */
  readonly comparisons: number
  readonly kinds: Readonly<Partial<Record<DivergenceKind, number>>>
}

/** HeaderCount is one of the response headers that differ most often. */
export interface HeaderCount {
  /** Lower-case header name. */
  readonly name: string
  readonly count: number
  readonly error: number
  /** The first difference seen (values cut to 256 characters). */
  readonly example: { readonly control?: string; readonly candidate?: string }
  /** The serve flag or comparison rule that would remove it (see headerFix); undefined when none. */
  readonly fix?: string
}

/** RuleCount is how many divergences one rule explained. */
export interface RuleCount {
  readonly reason: string
  readonly count: number
  readonly error: number
  /** The first divergence the rule explained. */
  readonly example: Divergence
}

/** NoiseCount is how many divergences of one key (divergenceKey) the noise baseline explained. */
export interface NoiseCount {
  readonly key: string
  readonly count: number
  readonly error: number
  readonly example: Divergence
}

/** Example is one comparison that shows a kind of divergence. */
export interface Example {
  readonly request: ExchangeRequest
  readonly time: string
  readonly status: Comparison['status']
  readonly durationsMs: Comparison['durationsMs']
  /** The first divergence of the kind in the comparison. */
  readonly divergence: Divergence
  /** How many other divergences the comparison has. */
  readonly others: number
}

/** LatencyStats describes one side's durations (ms): exact count, min, max, mean; sampled percentiles. */
export interface LatencyStats {
  readonly count: number
  readonly min?: number
  readonly max?: number
  readonly mean?: number
  readonly p50?: number
  readonly p90?: number
  readonly p99?: number
  /** True when the percentiles come from a sample (more durations than the reservoir holds). */
  readonly sampled: boolean
}

/** TimeBucket counts the divergences by kind of the comparisons that finished in [start, start + bucketMs). */
export interface TimeBucket {
  /** Milliseconds since the epoch, a multiple of bucketMs. */
  readonly start: number
  readonly counts: Readonly<Partial<Record<DivergenceKind, number>>>
}

/**
 * Summary is what a divergence log adds up to: plain data (JSON-serialisable), produced by
 * {@link summarize} and rendered by {@link renderSummary} and renderHtml.
 */
export interface Summary {
  /** Comparisons read. */
  readonly comparisons: number
  /** Comparisons with at least one divergence that counts (not-compared is not one). */
  readonly divergent: number
  /** Records of exchanges not compared (a `not-compared` divergence), by reason. */
  readonly notCompared: number
  readonly notComparedByReason: Readonly<Partial<Record<NotComparedReason, number>>>
  /** The paths most often not compared (bounded, like `paths`), with how often and the last reason seen. */
  readonly notComparedPaths: ReadonlyArray<{ readonly path: string; readonly count: number; readonly error: number; readonly reason: NotComparedReason }>
  /** Divergences that count, in all (not-compared ones excluded). */
  readonly divergences: number
  /** Divergences explained by a rule, in all. */
  readonly ignored: number
  /** Divergences explained by the noise baseline, in all. */
  readonly noise: number
  /** Earliest and latest comparison time, ISO 8601 (unset when there is none). */
  readonly firstTime?: string
  readonly lastTime?: string
  /** Every kind, in DIVERGENCE_KINDS order. */
  readonly kinds: Readonly<Record<DivergenceKind, KindCount>>
  /**
   * The paths with the most divergences. When the counts are estimates (`pathsExact` false), only
   * those whose count is more than half certain: maybe none, when no path stands out.
   */
  readonly paths: readonly PathCount[]
  /** Distinct paths with divergences tracked, and whether the path counts are exact. */
  readonly pathsTracked: number
  readonly pathsExact: boolean
  readonly headers: readonly HeaderCount[]
  /**
   * The comparisons per payload (`Comparison.payload`, set by `replay` of `serve --manifest`'s log):
   * at most `top` payloads, most divergent first, then the records that name none. Rendered only
   * when `named` is more than 0.
   */
  readonly payloads: PayloadTable
  readonly rules: readonly RuleCount[]
  readonly noiseKeys: readonly NoiseCount[]
  readonly timeline: { readonly bucketMs: number; readonly buckets: readonly TimeBucket[] }
  readonly latency: { readonly control: LatencyStats; readonly candidate: LatencyStats }
  /**
   * Up to `examples` comparisons per kind that has any, most serious kind first ({@link SEVERITY}),
   * no two of a kind with the same method, path and divergence key.
   */
  readonly examples: ReadonlyArray<{ readonly kind: DivergenceKind; readonly items: readonly Example[] }>
}

/**
 * SEVERITY orders the divergence kinds from the most serious for clients: wrong bytes (body-bytes),
 * a wrong length, a wrong range slice, another status, then header differences, and last the
 * failures to answer at all (error, timeout), which are often the network's rather than the
 * server's. Examples are shown in this order.
 */
export const SEVERITY: readonly DivergenceKind[] = ['body-bytes', 'body-length', 'range-part', 'status', 'header', 'error', 'timeout', 'not-compared']

/** exampleKey is what makes two examples of one kind the same example. */
const exampleKey = (method: string, path: string, d: Divergence): string => `${method} ${path} ${divergenceKey(d)}`

type KindCounts = Partial<Record<DivergenceKind, number>>

const bump = (m: KindCounts, k: DivergenceKind, n = 1): void => {
  m[k] = (m[k] ?? 0) + n
}

const cut = (v: string | undefined): string | undefined =>
  v === undefined || v.length <= MAX_VALUE_KEPT ? v : `${v.slice(0, MAX_VALUE_KEPT)}…`

/**
 * Reservoir keeps a uniform sample of at most `capacity` numbers of a stream (Vitter's Algorithm R)
 * and the exact count, min, max and sum.
 */
class Reservoir {
  readonly #capacity: number
  readonly #random: () => number
  readonly #sample: number[] = []
  #count = 0
  #min = Infinity
  #max = -Infinity
  #sum = 0

  constructor(capacity: number, random: () => number) {
    this.#capacity = capacity
    this.#random = random
  }

  add(v: number): void {
    this.#count++
    this.#min = Math.min(this.#min, v)
    this.#max = Math.max(this.#max, v)
    this.#sum += v
    if (this.#sample.length < this.#capacity) this.#sample.push(v)
    else {
      const j = Math.floor(this.#random() * this.#count)
      if (j < this.#capacity) this.#sample[j] = v
    }
  }

  stats(): LatencyStats {
    if (this.#count === 0) return { count: 0, sampled: false }
    const sorted = [...this.#sample].sort((a, b) => a - b)
    // Nearest-rank percentile.
    const pct = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!
    return {
      count: this.#count,
      min: this.#min,
      max: this.#max,
      mean: this.#sum / this.#count,
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      sampled: this.#count > this.#sample.length,
    }
  }
}

/**
 * certain returns the `n` heaviest entries of a TopK whose count is more than half certain
 * (error < count / 2). Once a table has evicted keys, many keys of similar weight look alike with
 * large error bounds: listing them would present noise as a ranking. Exact tables lose nothing.
 */
const certain = <D>(k: TopK<D>, n: number): Array<TopEntry<D>> =>
  k
    .top(k.size)
    .filter(e => 2 * e.error < e.count)
    .slice(0, n)

const positiveInt = (v: number | undefined, dflt: number, name: string): number => {
  const n = v ?? dflt
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`${name} must be a positive integer`)
  return n
}

/**
 * Summarizer adds up Comparisons one at a time in bounded memory: fixed-size counters per kind,
 * Space-Saving tables for paths, header names, rules and noise keys (TopK), minute buckets that
 * widen past `maxBuckets`, reservoir samples of the latencies and the first few examples per kind.
 * Memory does not grow with the number of comparisons. {@link summarize} drives one over a stream.
 */
export class Summarizer {
  readonly #top: number
  readonly #examplesPerKind: number
  readonly #maxBuckets: number
  #comparisons = 0
  #divergent = 0
  #notCompared = 0
  readonly #notComparedByReason: Partial<Record<NotComparedReason, number>> = {}
  readonly #notComparedPaths: TopK<{ reason?: NotComparedReason }>
  #divergences = 0
  #ignored = 0
  #noise = 0
  #first = Infinity
  #last = -Infinity
  readonly #kinds = new Map<DivergenceKind, { divergences: number; comparisons: number }>(
    DIVERGENCE_KINDS.map(k => [k, { divergences: 0, comparisons: 0 }]),
  )
  readonly #paths: TopK<{ comparisons: number; kinds: KindCounts }>
  readonly #headers: TopK<{ control?: string; candidate?: string; set: boolean }>
  readonly #rules: TopK<{ example?: Divergence }>
  readonly #noiseKeys: TopK<{ example?: Divergence }>
  #bucketMs = MINUTE
  #buckets = new Map<number, KindCounts>()
  readonly #latency: { control: Reservoir; candidate: Reservoir }
  readonly #examples = new Map<DivergenceKind, Example[]>()
  readonly #payloads: PayloadGroups

  constructor(o: SummaryOptions = {}) {
    this.#top = positiveInt(o.top, DEFAULT_TOP, 'top')
    this.#examplesPerKind = o.examples ?? DEFAULT_EXAMPLES
    if (!Number.isSafeInteger(this.#examplesPerKind) || this.#examplesPerKind < 0)
      throw new TypeError('examples must be a nonnegative integer')
    this.#maxBuckets = positiveInt(o.maxBuckets, DEFAULT_MAX_BUCKETS, 'maxBuckets')
    const maxKeys = positiveInt(o.maxKeys, DEFAULT_MAX_KEYS, 'maxKeys')
    this.#paths = new TopK(positiveInt(o.maxPaths, DEFAULT_MAX_PATHS, 'maxPaths'), () => ({
      comparisons: 0,
      kinds: {},
    }))
    this.#notComparedPaths = new TopK(positiveInt(o.maxPaths, DEFAULT_MAX_PATHS, 'maxPaths'), () => ({}))
    this.#payloads = new PayloadGroups({ maxPayloads: positiveInt(o.maxPayloads, DEFAULT_MAX_PAYLOADS, 'maxPayloads') })
    this.#headers = new TopK(maxKeys, () => ({ set: false }))
    this.#rules = new TopK(maxKeys, () => ({}))
    this.#noiseKeys = new TopK(maxKeys, () => ({}))
    const samples = positiveInt(o.latencySamples, DEFAULT_LATENCY_SAMPLES, 'latencySamples')
    const random = o.random ?? Math.random
    this.#latency = { control: new Reservoir(samples, random), candidate: new Reservoir(samples, random) }
  }

  /** add counts one comparison. */
  add(c: Comparison): void {
    this.#comparisons++
    this.#payloads.add(c)
    const t = Date.parse(c.time)
    if (Number.isFinite(t)) {
      this.#first = Math.min(this.#first, t)
      this.#last = Math.max(this.#last, t)
    }
    for (const side of ['control', 'candidate'] as const) {
      const ms = c.durationsMs[side]
      if (typeof ms === 'number' && Number.isFinite(ms)) this.#latency[side].add(ms)
    }
    this.#ignored += c.ignored.length
    for (const { divergence, reason } of c.ignored) {
      const r = this.#rules.add(reason)
      r.example ??= divergence
    }
    this.#noise += c.noise.length
    for (const d of c.noise) {
      const n = this.#noiseKeys.add(divergenceKey(d))
      n.example ??= d
    }

    // A record not compared is counted apart: what it found before (status, headers) still counts.
    const not = c.divergences.find(d => d.kind === 'not-compared')
    if (not) {
      this.#notCompared++
      this.#notComparedByReason[not.reason] = (this.#notComparedByReason[not.reason] ?? 0) + 1
      this.#notComparedPaths.add(c.request.path).reason = not.reason
    }
    const found = not ? c.divergences.filter(d => d.kind !== 'not-compared') : c.divergences
    const n = found.length
    if (n === 0) return
    this.#divergent++
    this.#divergences += n
    const kinds: KindCounts = {}
    for (const d of found) bump(kinds, d.kind)
    const path = this.#paths.add(c.request.path, n)
    path.comparisons++
    for (const [k, count] of Object.entries(kinds) as Array<[DivergenceKind, number]>) {
      const kc = this.#kinds.get(k)!
      kc.divergences += count
      kc.comparisons++
      bump(path.kinds, k, count)
    }
    if (Number.isFinite(t)) this.#bucket(t, kinds)
    for (const d of c.divergences) {
      if (d.kind !== 'header') continue
      const h = this.#headers.add(d.name)
      if (!h.set) Object.assign(h, { set: true, control: cut(d.control), candidate: cut(d.candidate) })
    }
    for (const k of Object.keys(kinds) as DivergenceKind[]) {
      let list = this.#examples.get(k)
      if (!list) this.#examples.set(k, (list = []))
      if (list.length >= this.#examplesPerKind) continue
      const divergence = c.divergences.find(d => d.kind === k)!
      const { request, time, status, durationsMs } = c
      // Examples differ from each other: a second request to the same path with the same kind of
      // difference (the same header, say) teaches nothing the first did not.
      const key = exampleKey(request.method, request.path, divergence)
      if (list.some(e => exampleKey(e.request.method, e.request.path, e.divergence) === key)) continue
      list.push({ request, time, status, durationsMs, divergence, others: n - 1 })
    }
  }

  /** #bucket adds divergence counts to the bucket of time `t`, widening every bucket when too many. */
  #bucket(t: number, kinds: KindCounts): void {
    const start = Math.floor(t / this.#bucketMs) * this.#bucketMs
    let b = this.#buckets.get(start)
    if (!b) this.#buckets.set(start, (b = {}))
    for (const [k, n] of Object.entries(kinds) as Array<[DivergenceKind, number]>) bump(b, k, n)
    while (this.#buckets.size > this.#maxBuckets) {
      // Doubling keeps the buckets aligned: each new bucket is exactly two old ones.
      this.#bucketMs *= 2
      const wider = new Map<number, KindCounts>()
      for (const [s, counts] of this.#buckets) {
        const w = Math.floor(s / this.#bucketMs) * this.#bucketMs
        let into = wider.get(w)
        if (!into) wider.set(w, (into = {}))
        for (const [k, n] of Object.entries(counts) as Array<[DivergenceKind, number]>) bump(into, k, n)
      }
      this.#buckets = wider
    }
  }

  /** summary returns what has been added so far. */
  summary(): Summary {
    const top = this.#top
    const kinds = Object.fromEntries(DIVERGENCE_KINDS.map(k => [k, { ...this.#kinds.get(k)! }])) as Record<
      DivergenceKind,
      KindCount
    >
    return {
      comparisons: this.#comparisons,
      divergent: this.#divergent,
      notCompared: this.#notCompared,
      notComparedByReason: { ...this.#notComparedByReason },
      notComparedPaths: certain(this.#notComparedPaths, top).map(e => ({ path: e.key, count: e.count, error: e.error, reason: e.data.reason! })),
      divergences: this.#divergences,
      ignored: this.#ignored,
      noise: this.#noise,
      ...(Number.isFinite(this.#first)
        ? { firstTime: new Date(this.#first).toISOString(), lastTime: new Date(this.#last).toISOString() }
        : {}),
      kinds,
      paths: certain(this.#paths, top).map(e => ({
        path: e.key,
        divergences: e.count,
        error: e.error,
        comparisons: e.data.comparisons,
        kinds: { ...e.data.kinds },
      })),
      pathsTracked: this.#paths.size,
      pathsExact: this.#paths.exact,
      headers: certain(this.#headers, top).map(e => {
        const fix = headerFix(e.key, e.data)
        return {
          name: e.key,
          count: e.count,
          error: e.error,
          example: {
            ...(e.data.control === undefined ? {} : { control: e.data.control }),
            ...(e.data.candidate === undefined ? {} : { candidate: e.data.candidate }),
          },
          ...(fix === undefined ? {} : { fix }),
        }
      }),
      payloads: this.#payloads.table(top),
      rules: certain(this.#rules, top).map(e => ({
        reason: e.key,
        count: e.count,
        error: e.error,
        example: e.data.example!,
      })),
      noiseKeys: certain(this.#noiseKeys, top).map(e => ({
        key: e.key,
        count: e.count,
        error: e.error,
        example: e.data.example!,
      })),
      timeline: {
        bucketMs: this.#bucketMs,
        buckets: [...this.#buckets]
          .sort(([a], [b]) => a - b)
          .map(([start, counts]) => ({ start, counts: { ...counts } })),
      },
      latency: { control: this.#latency.control.stats(), candidate: this.#latency.candidate.stats() },
      examples: SEVERITY.filter(k => (this.#examples.get(k)?.length ?? 0) > 0).map(kind => ({
        kind,
        items: [...this.#examples.get(kind)!],
      })),
    }
  }
}

/**
 * summarize reads every comparison of `comparisons` (a stream is consumed as it comes, in bounded
 * memory: see {@link Summarizer}) and returns their {@link Summary}.
 */
export async function summarize(
  comparisons: AsyncIterable<Comparison> | Iterable<Comparison>,
  o: SummaryOptions = {},
): Promise<Summary> {
  const s = new Summarizer(o)
  for await (const c of comparisons) s.add(c)
  return s.summary()
}

/** CommandOptions says how {@link compareCommand} names the servers and which headers it repeats. */
export interface CommandOptions {
  /** The old server. If unset, the command says "$OLD" (a shell variable for the reader to set). */
  readonly oldUrl?: string
  /** The new server. If unset, "$NEW". */
  readonly newUrl?: string
  /** Request headers the command repeats, lower-case. If unset, defaults to DEFAULT_COMMAND_HEADERS. */
  readonly headers?: readonly string[]
}

/** canonical writes a lower-case header name the usual way: `if-none-match` → `If-None-Match`. */
const canonical = (name: string): string =>
  name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())

/** quoted is {@link shellQuote} that quotes even a safe string, so that paths always look alike. */
const quoted = (s: string): string => {
  const q = shellQuote(s)
  return q === s ? `'${s}'` : q
}

/**
 * compareCommand returns a `cutover compare` command line that repeats `request` against both
 * servers, every client-supplied part shell-quoted ({@link shellQuote}), or undefined when the
 * method is one compare cannot send (it sends GET and HEAD only). Header values with CR, LF or NUL
 * (which compare refuses) are left out. Pure.
 */
export function compareCommand(request: ExchangeRequest, o: CommandOptions = {}): string | undefined {
  const method = request.method.toUpperCase()
  if (method !== 'GET' && method !== 'HEAD') return undefined
  const parts = [
    'cutover compare',
    quoted(request.path),
    '--old',
    o.oldUrl === undefined ? '"$OLD"' : shellQuote(o.oldUrl),
    '--new',
    o.newUrl === undefined ? '"$NEW"' : shellQuote(o.newUrl),
  ]
  if (method === 'HEAD') parts.push('--method HEAD')
  for (const name of o.headers ?? DEFAULT_COMMAND_HEADERS) {
    const v = request.headers[name]
    if (v === undefined || /[\r\n\0]/.test(v)) continue
    parts.push('-H', shellQuote(`${canonical(name)}: ${v}`))
  }
  return parts.join(' ')
}

/** SummaryRenderOptions says how {@link renderSummary} colours the summary and names the servers. */
export interface SummaryRenderOptions extends CommandOptions {
  /** The colours to use; the caller decides (level 0 for plain text). */
  readonly chalk: ChalkInstance
  /** Lines of the input that were not comparisons: their count and the first few, `file:line: why`. */
  readonly badLines?: { readonly count: number; readonly first: readonly string[] }
  /** The input files, for the title line. */
  readonly files?: readonly string[]
}

const fmt = (n: number): string => n.toLocaleString('en-US')
/** count writes `n noun`, with the noun in the plural unless n is 1: `1 request`, `2 requests`. */
const count = (n: number, noun: string): string => `${fmt(n)} ${noun}${n === 1 ? '' : 's'}`
const ms = (v: number | undefined): string =>
  v === undefined ? '-' : v < 10 ? v.toFixed(1) : fmt(Math.round(v))
const pct = (n: number, of: number): string => (of === 0 ? '0%' : `${((100 * n) / of).toFixed(1)}%`)
const approx = (error: number): string => (error > 0 ? ` (±${fmt(error)})` : '')
const MAX_SHOWN = 100
const short = (s: string): string => {
  const p = printable(s)
  return p.length > MAX_SHOWN ? `${p.slice(0, MAX_SHOWN - 1)}…` : p
}
/** describe is describeDivergence made printable: error messages and values come from servers. */
const describe = (d: Divergence): string => printable(describeDivergence(d))
const kindsLine = (kinds: Partial<Record<DivergenceKind, number>>): string =>
  DIVERGENCE_KINDS.filter(k => (kinds[k] ?? 0) > 0)
    .map(k => `${k} ${kinds[k]}`)
    .join(', ')

/**
 * renderSummary renders a {@link Summary} for a terminal, as lines ending in '\n': totals; counts
 * by kind (divergences and requests); top paths; per payload, when any comparison names one
 * (compared, divergent, top divergence kinds; the records of none as "(no payload)"); top differing headers with a first example;
 * latency of old and new (p50, p90, p99, max); up to a few examples per kind, each with its
 * divergence ({@link describeDivergence}) and a ready-to-run `cutover compare` command
 * ({@link compareCommand}); divergences explained by rules and by noise; and the bad input lines.
 * Client-supplied text (paths) is made printable first. Pure.
 */
export function renderSummary(s: Summary, o: SummaryRenderOptions): string {
  const { chalk } = o
  const out: string[] = []
  const heading = (text: string): void => {
    out.push('', chalk.bold(text))
  }
  const files = o.files && o.files.length > 0 ? ` of ${o.files.map(printable).join(', ')}` : ''
  out.push(chalk.bold(`cutover report${files}`))
  out.push(
    `${count(s.comparisons, 'comparison')}, ` +
      (s.divergent > 0 ? chalk.red.bold(`${fmt(s.divergent)} divergent`) : chalk.green('0 divergent')) +
      ` (${pct(s.divergent, s.comparisons)}), ${count(s.divergences, 'divergence')}; ` +
      `${fmt(s.ignored)} ignored by rules, ${fmt(s.noise)} noise`,
  )
  if (s.firstTime !== undefined) out.push(chalk.dim(`from ${s.firstTime} to ${s.lastTime}`))
  if (o.badLines && o.badLines.count > 0)
    out.push(
      chalk.yellow(
        `${count(o.badLines.count, 'input line')} ${o.badLines.count === 1 ? 'is not a comparison' : 'are not comparisons'} (listed at the end)`,
      ),
    )

  const kinds = DIVERGENCE_KINDS.filter(k => s.kinds[k].divergences > 0).sort(
    (a, b) => s.kinds[b].divergences - s.kinds[a].divergences,
  )
  if (kinds.length > 0) {
    heading('divergences by kind')
    const w = Math.max(...kinds.map(k => k.length))
    const cw = Math.max(11, ...kinds.map(k => fmt(s.kinds[k].divergences).length))
    out.push(chalk.dim(`  ${'kind'.padEnd(w)}  ${'divergences'.padStart(cw)}  requests`))
    for (const k of kinds)
      out.push(
        `  ${k.padEnd(w)}  ${fmt(s.kinds[k].divergences).padStart(cw)}  ${fmt(s.kinds[k].comparisons).padStart(8)}`,
      )
  }

  if (s.notCompared > 0) {
    const reasons = Object.entries(s.notComparedByReason)
      .sort(([, a], [, b]) => b - a)
      .map(([r, n]) => `${r} ${fmt(n)}`)
      .join(', ')
    heading(`not compared: ${count(s.notCompared, 'request')} (${reasons})`)
    if (s.notComparedPaths.length === 0) out.push(chalk.dim('  no path stands out'))
    const w = Math.max(0, ...s.notComparedPaths.map(p => fmt(p.count).length + approx(p.error).length))
    for (const p of s.notComparedPaths)
      out.push(`  ${(fmt(p.count) + approx(p.error)).padStart(w)}  ${short(p.path)}  ${chalk.dim(p.reason)}`)
  }

  if (s.paths.length === 0 && !s.pathsExact) {
    heading('top paths')
    out.push(chalk.dim(`  none stands out among more than ${fmt(s.pathsTracked)} distinct paths`))
  }
  if (s.paths.length > 0) {
    heading(`top paths${s.pathsExact ? '' : ` (estimated: more than ${fmt(s.pathsTracked)} distinct paths)`}`)
    const w = Math.max(...s.paths.map(p => fmt(p.divergences).length + approx(p.error).length))
    const pw = Math.max(...s.paths.map(p => short(p.path).length))
    for (const p of s.paths)
      out.push(
        `  ${(fmt(p.divergences) + approx(p.error)).padStart(w)}  ${short(p.path).padEnd(pw)}  ` +
          chalk.dim(`${kindsLine(p.kinds)}; ${count(p.comparisons, 'request')}`),
      )
  }

  if (s.payloads.named > 0) {
    heading(`by payload${s.payloads.exact ? '' : ` (estimated: more than ${fmt(s.payloads.tracked)} payloads)`}`)
    out.push(...payloadLines(s.payloads, { dim: t => chalk.dim(t) }))
  }

  if (s.headers.length > 0) {
    heading('top differing headers')
    const w = Math.max(...s.headers.map(h => fmt(h.count).length + approx(h.error).length))
    const nw = Math.max(...s.headers.map(h => h.name.length))
    for (const h of s.headers) {
      const e = describe({ kind: 'header', name: h.name, ...h.example })
      const eg = e.slice(e.indexOf(': ') + 2)
      out.push(
        `  ${(fmt(h.count) + approx(h.error)).padStart(w)}  ${printable(h.name).padEnd(nw)}  ${chalk.dim(`e.g. ${eg}`)}`,
      )
      if (h.fix !== undefined) out.push(`  ${' '.repeat(w)}  ${' '.repeat(nw)}  ${chalk.dim('fix: ')}${h.fix}`)
    }
  }

  const { control, candidate } = s.latency
  if (control.count > 0 || candidate.count > 0) {
    heading(`latency (ms)${control.sampled || candidate.sampled ? ', percentiles from a sample' : ''}`)
    out.push(chalk.dim(`         ${['p50', 'p90', 'p99', 'max', 'count'].map(h => h.padStart(8)).join('')}`))
    for (const [name, l] of [
      ['old', control],
      ['new', candidate],
    ] as const)
      out.push(
        `  ${name.padEnd(5)}  ${[l.p50, l.p90, l.p99, l.max].map(v => ms(v).padStart(8)).join('')}${fmt(l.count).padStart(8)}`,
      )
  }

  if (s.examples.length > 0) {
    heading('examples')
    if (o.oldUrl === undefined || o.newUrl === undefined)
      out.push(chalk.dim('  (set OLD and NEW to the servers, or give report --old and --new)'))
    for (const { kind, items } of s.examples) {
      out.push(`  ${chalk.bold(kind)}`)
      for (const e of items) {
        const st = (v: number | undefined): string => (v === undefined ? '-' : String(v))
        out.push(
          `    ${short(`${e.request.method} ${e.request.path}`)}  ` +
            chalk.dim(`${e.time}  old ${st(e.status.control)}, new ${st(e.status.candidate)}`),
        )
        out.push(`      ${describe(e.divergence)}${e.others > 0 ? chalk.dim(` (+${e.others} more)`) : ''}`)
        const cmd = compareCommand(e.request, o)
        out.push(
          cmd === undefined
            ? chalk.dim(`      (no compare command: compare sends GET and HEAD only)`)
            : `      ${chalk.cyan(`$ ${cmd}`)}`,
        )
      }
    }
  }

  if (s.rules.length > 0) {
    heading(`ignored by rules (${fmt(s.ignored)})`)
    for (const r of s.rules)
      out.push(
        chalk.dim(`  ${fmt(r.count)}${approx(r.error)}  ${printable(r.reason)}: e.g. ${describe(r.example)}`),
      )
  }
  if (s.noiseKeys.length > 0) {
    heading(`noise, also between old and baseline (${fmt(s.noise)})`)
    for (const n of s.noiseKeys)
      out.push(
        chalk.dim(`  ${fmt(n.count)}${approx(n.error)}  ${printable(n.key)}: e.g. ${describe(n.example)}`),
      )
  }
  if (o.badLines && o.badLines.count > 0) {
    heading(chalk.yellow(`input lines that are not comparisons (${fmt(o.badLines.count)})`))
    for (const b of o.badLines.first) out.push(`  ${printable(b)}`)
    const more = o.badLines.count - o.badLines.first.length
    if (more > 0) out.push(chalk.dim(`  ... and ${fmt(more)} more`))
  }
  return out.join('\n') + '\n'
}
