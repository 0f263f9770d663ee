import type { ChalkInstance } from 'chalk'
import { structuredPatch } from 'diff'
import { ALWAYS_IGNORED, DEFAULT_RULES, type Rules } from '../audit/rules.js'
import { connectionTokens, HOP_BY_HOP } from '../http/header-facts.js'

/** HeaderList is a response's headers as [name, value] pairs, in the order received. */
export type HeaderList = ReadonlyArray<readonly [string, string]>

/** HeaderDiffOptions says how {@link headerDiff} colours and annotates its output. */
export interface HeaderDiffOptions {
  /**
   * The colours to use. The caller decides (cli makes `new Chalk({ level: 0 })` for plain text);
   * this module never looks at the terminal or the environment.
   */
  readonly chalk: ChalkInstance
  /** The rules the comparison used, to annotate the headers they relax. If unset, DEFAULT_RULES. */
  readonly rules?: Rules
}

/**
 * ruleNote names the rule that relaxes the comparison of header `name`, or undefined when the header
 * is compared exactly.
 */
function ruleNote(name: string, rules: Rules): string | undefined {
  if (rules.ignoreHeaders.has(name)) return 'ignored by rule'
  if (name === 'etag' && rules.etag !== 'exact') return `etag: ${rules.etag}`
  const tolerance = rules.dateTolerance.get(name)
  if (tolerance !== undefined) return `within ${tolerance}s`
  if (name === 'content-type' && rules.contentTypeParams === 'ignore') return 'media type only'
  return undefined
}

/** connectionNamed lists the extra hop-by-hop fields a Connection header names (RFC 9110 §7.6.1). */
function connectionNamed(headers: HeaderList): string[] {
  return headers
    .filter(([k]) => k.toLowerCase() === 'connection')
    .flatMap(([, v]) => connectionTokens(v))
}

/** block renders one side as `name: value` lines, names lower-cased, sorted by name (stable). */
function block(headers: HeaderList, skip: ReadonlySet<string>): string {
  return headers
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .filter(([k]) => !skip.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('')
}

/**
 * headerDiff renders a unified diff (labels `old` and `new`) of two header blocks, one
 * `name: value` line per header, names lower-cased and sorted by name (repeated headers keep their
 * order). The whole block is shown as context, so the reader sees every header once.
 *
 * Left out: the hop-by-hop headers, those either side's Connection header names, and Date, which
 * are never compared (HOP_BY_HOP in http/header-facts.ts, ALWAYS_IGNORED in audit/rules.ts). Kept but marked: headers a rule
 * ignores or compares loosely get a dimmed `[...]` note naming the rule (`[ignored by rule]`,
 * `[etag: consistent]`, `[within 2s]`, `[media type only]`), so a difference there is visibly not
 * a divergence.
 *
 * Old-only lines are red (`-`), new-only lines green (`+`). Returns '' when the blocks are equal.
 * Pure: the result depends only on the arguments.
 */
export function headerDiff(control: HeaderList, candidate: HeaderList, o: HeaderDiffOptions): string {
  const { chalk } = o
  const rules = o.rules ?? DEFAULT_RULES
  // As the comparer does: skip what either side's Connection header names, on both sides.
  const skip = new Set([
    ...HOP_BY_HOP,
    ...ALWAYS_IGNORED,
    ...connectionNamed(control),
    ...connectionNamed(candidate),
  ])
  const a = block(control, skip)
  const b = block(candidate, skip)
  if (a === b) return ''
  // Context as large as the longer block: a single hunk holding every header.
  const context = Math.max(a.length, b.length)
  const patch = structuredPatch('old', 'new', a, b, undefined, undefined, { context })
  const out = [chalk.bold('--- old'), chalk.bold('+++ new')]
  for (const h of patch.hunks) {
    // An empty side is written `-0,0` as GNU diff does (and the diff package's own formatPatch).
    const oldStart = h.oldLines === 0 ? h.oldStart - 1 : h.oldStart
    const newStart = h.newLines === 0 ? h.newStart - 1 : h.newStart
    out.push(chalk.cyan(`@@ -${oldStart},${h.oldLines} +${newStart},${h.newLines} @@`))
    for (const line of h.lines) {
      // Both blocks end with a newline, so diff never emits its "\ No newline" marker.
      const sign = line[0]
      const name = line.slice(1, line.indexOf(':'))
      const note = ruleNote(name, rules)
      const text = sign === '-' ? chalk.red(line) : sign === '+' ? chalk.green(line) : line
      out.push(note === undefined ? text : `${text}  ${chalk.dim(`[${note}]`)}`)
    }
  }
  return out.join('\n') + '\n'
}
