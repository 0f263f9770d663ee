import type { Comparison, DivergenceKind } from '../audit/divergence.js'
import { DIVERGENCE_KINDS } from '../audit/divergence.js'
import { printable } from './shell-quote.js'
import { TopK } from './top-k.js'

/**
 * DEFAULT_MAX_PAYLOADS is how many distinct payload names {@link PayloadGroups} tracks exactly:
 * 10,000, as many as the largest manifests hold (beyond: Space-Saving estimates).
 */
export const DEFAULT_MAX_PAYLOADS = 10_000
/** NO_PAYLOAD is how the group of records that name no payload is shown (no payload name has a space or parentheses). */
export const NO_PAYLOAD = '(no payload)'
/** TOP_KINDS is how many divergence kinds a payload's row names, most frequent first. */
export const TOP_KINDS = 3

type KindCounts = Partial<Record<DivergenceKind, number>>

/** PayloadCount is what the comparisons of one payload (or of none) add up to. */
export interface PayloadCount {
  /** The payload's name; unset for the records that name none (shown as {@link NO_PAYLOAD}). */
  readonly payload?: string
  /** Records of the payload; an overestimate by at most `error` (0 unless over the tracked maximum). */
  readonly records: number
  readonly error: number
  /**
   * Records whose exchange was compared (one not compared, a `not-compared` divergence, is not),
   * as AuditStats counts `compared`; since the payload was last admitted when `error` is not 0.
   */
  readonly compared: number
  /** Records with at least one divergence that counts (not-compared is not one), as AuditStats counts `divergent`. */
  readonly divergent: number
  /** Per kind, the records with at least one divergence of it (as AuditStats.divergentByKind). Kinds never seen are absent. */
  readonly kinds: KindCounts
}

/** PayloadTable is the per-payload view of a set of comparisons: plain data, JSON-serialisable. */
export interface PayloadTable {
  /** Records that name a payload. A report shows the table only when this is more than 0. */
  readonly named: number
  /**
   * The payloads with the most divergent records first (ties: the most compared, then by name), at
   * most `top` of them; then the records that name none, when there are any. When the counts are
   * estimates (`exact` false), only payloads whose count is more than half certain are listed.
   */
  readonly rows: readonly PayloadCount[]
  /** Distinct payload names tracked, and whether every count is exact. */
  readonly tracked: number
  readonly exact: boolean
}

/** PayloadGroupsOptions bounds what {@link PayloadGroups} keeps. */
export interface PayloadGroupsOptions {
  /** Distinct payload names tracked. If unset, defaults to DEFAULT_MAX_PAYLOADS. */
  readonly maxPayloads?: number
}

interface Group {
  compared: number
  divergent: number
  kinds: KindCounts
}

const newGroup = (): Group => ({ compared: 0, divergent: 0, kinds: {} })

/** countInto adds one comparison to a group, with AuditStats' meaning of compared and divergent. */
function countInto(g: Group, c: Comparison): void {
  let notCompared = false
  const kinds = new Set<DivergenceKind>()
  for (const d of c.divergences) {
    if (d.kind === 'not-compared') notCompared = true
    else kinds.add(d.kind)
  }
  if (!notCompared) g.compared++
  if (kinds.size === 0) return
  g.divergent++
  for (const k of kinds) g.kinds[k] = (g.kinds[k] ?? 0) + 1
}

/**
 * PayloadGroups adds up comparisons per payload (`Comparison.payload`, which `replay` sets from
 * `serve --manifest`'s access log) in bounded memory: a Space-Saving table ({@link TopK}) of at most
 * `maxPayloads` names, weighted by records, so every count is exact up to that many payloads; the
 * records that name none are counted apart, exactly. `replay` feeds it every comparison (clean ones
 * too) and `report` every record of a divergence log.
 */
export class PayloadGroups {
  readonly #payloads: TopK<Group>
  readonly #none = newGroup()
  #noneRecords = 0
  #named = 0

  constructor(o: PayloadGroupsOptions = {}) {
    const max = o.maxPayloads ?? DEFAULT_MAX_PAYLOADS
    if (!Number.isSafeInteger(max) || max < 1) throw new TypeError('maxPayloads must be a positive integer')
    this.#payloads = new TopK(max, newGroup)
  }

  /** add counts one comparison under its payload, or under none. */
  add(c: Comparison): void {
    if (c.payload === undefined) {
      this.#noneRecords++
      countInto(this.#none, c)
      return
    }
    this.#named++
    countInto(this.#payloads.add(c.payload), c)
  }

  /** table returns the counts so far: at most `top` payloads, then the records of none (see {@link PayloadTable}). */
  table(top: number): PayloadTable {
    const k = this.#payloads
    const rows: PayloadCount[] = k
      .top(k.size)
      // An estimate mostly made of an evicted payload's count would rank noise (as summary's tables).
      .filter(e => 2 * e.error < e.count)
      .map(e => ({ payload: e.key, records: e.count, error: e.error, compared: e.data.compared, divergent: e.data.divergent, kinds: { ...e.data.kinds } }))
      .sort((a, b) => b.divergent - a.divergent || b.compared - a.compared || (a.payload < b.payload ? -1 : a.payload > b.payload ? 1 : 0))
      .slice(0, Math.max(0, top))
    if (this.#noneRecords > 0) {
      const n = this.#none
      rows.push({ records: this.#noneRecords, error: 0, compared: n.compared, divergent: n.divergent, kinds: { ...n.kinds } })
    }
    return { named: this.#named, rows, tracked: k.size, exact: k.exact }
  }
}

/** topKinds lists the `n` kinds with the most records, most first (ties in DIVERGENCE_KINDS order). */
export function topKinds(kinds: KindCounts, n = TOP_KINDS): Array<readonly [DivergenceKind, number]> {
  return DIVERGENCE_KINDS.filter(k => (kinds[k] ?? 0) > 0)
    .map(k => [k, kinds[k]!] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
}

/** payloadLabel is how a row names its payload: the name made printable (it comes from a log), or {@link NO_PAYLOAD}. */
export const payloadLabel = (r: PayloadCount): string => (r.payload === undefined ? NO_PAYLOAD : printable(r.payload))

/** PayloadLinesOptions says how {@link payloadLines} lays out its lines. */
export interface PayloadLinesOptions {
  /** Put before every line. If unset, defaults to two spaces. */
  readonly indent?: string
  /** Styles the column titles and notes (a report dims them). If unset, text is left as it is. */
  readonly dim?: (s: string) => string
}

const fmt = (n: number): string => n.toLocaleString('en-US')

/**
 * payloadLines writes a {@link PayloadTable} as aligned terminal lines, without a trailing newline
 * each: a title row, then one row per payload (name, compared, divergent, the top divergence kinds
 * with their record counts), and a note when payloads were left out. Pure.
 */
export function payloadLines(t: PayloadTable, o: PayloadLinesOptions = {}): string[] {
  const indent = o.indent ?? '  '
  const dim = o.dim ?? ((s: string) => s)
  const names = t.rows.map(payloadLabel)
  const w = Math.max('payload'.length, ...names.map(n => n.length))
  const compared = t.rows.map(r => fmt(r.compared) + (r.error > 0 ? ` (±${fmt(r.error)})` : ''))
  const cw = Math.max('compared'.length, ...compared.map(c => c.length))
  const dw = Math.max('divergent'.length, ...t.rows.map(r => fmt(r.divergent).length))
  const out = [dim(`${indent}${'payload'.padEnd(w)}  ${'compared'.padStart(cw)}  ${'divergent'.padStart(dw)}  top divergence kinds (requests)`)]
  t.rows.forEach((r, i) => {
    const kinds = topKinds(r.kinds)
      .map(([k, n]) => `${k} ${fmt(n)}`)
      .join(', ')
    out.push(`${indent}${names[i]!.padEnd(w)}  ${compared[i]!.padStart(cw)}  ${fmt(r.divergent).padStart(dw)}${kinds ? `  ${kinds}` : ''}`)
  })
  const shown = t.rows.filter(r => r.payload !== undefined).length
  if (shown < t.tracked) out.push(dim(`${indent}... ${fmt(t.tracked - shown)} more ${t.tracked - shown === 1 ? 'payload' : 'payloads'} not listed`))
  return out
}
