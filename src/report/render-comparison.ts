import type { ChalkInstance } from 'chalk'
import type { Comparison, Divergence } from '../audit/divergence.js'
import type { Rules } from '../audit/rules.js'
import { headerDiff, type HeaderList } from './header-diff.js'
import { hexdump } from './hexdump.js'

/** RenderOptions says what {@link renderComparison} shows and how it colours it. */
export interface RenderOptions {
  /** The colours to use; the caller decides (level 0 for plain text). This module never asks the terminal. */
  readonly chalk: ChalkInstance
  /** The rules the comparison used, to annotate the header diff. If unset, DEFAULT_RULES. */
  readonly rules?: Rules
  /**
   * Both sides' response headers as received (Observed.headers). If set and they differ, the
   * rendering ends with their {@link headerDiff}; if unset, no header diff (a Comparison does not
   * keep whole header lists).
   */
  readonly headers?: { readonly control: HeaderList; readonly candidate: HeaderList }
}

/** SHA_SHOWN is how many hex digits of a sha256 a one-line description shows. */
const SHA_SHOWN = 12

const side = (s: 'control' | 'candidate'): string => (s === 'control' ? 'old' : 'new')
const value = (v: string | undefined): string => (v === undefined ? '(absent)' : JSON.stringify(v))
const sha = (h: string): string => (h.length > SHA_SHOWN ? `${h.slice(0, SHA_SHOWN)}…` : h)

/** shaOf is ` sha256 …` for a side whose body was hashed whole, nothing for one that was not. */
const shaOf = (h: string | undefined): string => (h === undefined ? '' : ` sha256 ${sha(h)}`)
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
const ofPart = (part: number | undefined): string => (part === undefined ? '' : ` of part ${part}`)

/**
 * describeDivergence renders one divergence as one line without colour, old side first, e.g.
 * `body-bytes: first difference at byte 104857601; old 209715200 B sha256 ab12…, new …` or
 * `header etag: old "\"a\"", new (absent)`. Part numbers are 0-based, as in the JSONL record, and
 * a byte offset with a part is counted from the start of that part.
 */
export function describeDivergence(d: Divergence): string {
  switch (d.kind) {
    case 'status':
      return `status: old ${d.control}, new ${d.candidate}`
    case 'header':
      return `header ${d.name}: old ${value(d.control)}, new ${value(d.candidate)}`
    case 'body-length':
      return (
        `body-length${ofPart(d.part)}: old ${d.control} B, new ${d.candidate} B` +
        (d.equalUpTo === undefined ? '' : ` (equal up to byte ${d.equalUpTo}; the block after it was not compared)`)
      )
    case 'body-bytes': {
      const where = d.block
        ? `first difference in bytes ${d.block.from}-${d.block.to - 1}${ofPart(d.part)} (${d.block.why})`
        : `first difference at byte ${d.offset}${ofPart(d.part)}`
      return (
        `body-bytes: ${where}; ` +
        `old ${d.controlLength} B${shaOf(d.controlSha256)}, ` +
        `new ${d.candidateLength} B${shaOf(d.candidateSha256)}`
      )
    }
    case 'range-part':
      return d.field === 'count'
        ? `range-part: part count: old ${d.control ?? '?'}, new ${d.candidate ?? '?'}`
        : `range-part: part ${d.part} ${d.field}: old ${value(d.control)}, new ${value(d.candidate)}`
    case 'error':
      return `error on ${side(d.side)}: ${d.code} ${d.message}`
    case 'timeout':
      return `timeout on ${side(d.side)} after ${d.afterMs} ms`
    case 'not-compared':
      return `not compared (${d.reason}): ${d.message}`
  }
}

/**
 * renderComparison renders one {@link Comparison} for a person at a terminal, as lines ending in
 * '\n': the request line and the request headers; each side's status and time and the bytes
 * compared; the verdict (`no divergences` or `N divergences`) and one line per divergence
 * ({@link describeDivergence}); then, dimmed, the divergences a rule explains (with the rule) and
 * those the noise baseline explains; then the header diff (when `o.headers` is set and the headers
 * differ) and a hexdump for every body-bytes divergence that carries context. Only
 * `c.divergences` count for the verdict. Pure.
 */
export function renderComparison(c: Comparison, o: RenderOptions): string {
  const { chalk } = o
  const out: string[] = [chalk.bold(`${c.request.method} ${c.request.path}`)]
  for (const [k, v] of Object.entries(c.request.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    out.push(`  ${k}: ${v}`)
  const status = (s: 'control' | 'candidate'): string => {
    const code = c.status[s]
    const ms = c.durationsMs[s]
    const took = ms === undefined ? '' : ` in ${Math.round(ms)} ms`
    return `${side(s)}: ${code === undefined ? 'no response' : code}${took}`
  }
  out.push(`${status('control')}   ${status('candidate')}   ${c.bytesCompared} B compared`)

  const n = c.divergences.length
  out.push(n === 0 ? chalk.green('no divergences') : chalk.red.bold(plural(n, 'divergence')))
  for (const d of c.divergences) out.push(`  ${describeDivergence(d)}`)
  if (c.ignored.length > 0) {
    out.push(chalk.dim(`ignored by rules (${c.ignored.length})`))
    for (const { divergence, reason } of c.ignored)
      out.push(chalk.dim(`  ${describeDivergence(divergence)}  (${reason})`))
  }
  if (c.noise.length > 0) {
    out.push(chalk.dim(`noise, also between old and baseline (${c.noise.length})`))
    for (const d of c.noise) out.push(chalk.dim(`  ${describeDivergence(d)}`))
  }
  let text = out.join('\n') + '\n'

  if (o.headers) {
    const diff = headerDiff(o.headers.control, o.headers.candidate, { chalk, rules: o.rules })
    if (diff !== '') text += `\n${chalk.bold('response headers')}\n${diff}`
  }
  for (const d of c.divergences) {
    if (d.kind !== 'body-bytes' || !d.context) continue
    const dump = hexdump(d.context, d.offset, { chalk })
    if (dump !== '') text += `\n${chalk.bold(`body around byte ${d.offset}${ofPart(d.part)}`)}\n${dump}`
  }
  return text
}
