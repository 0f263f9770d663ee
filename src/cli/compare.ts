import { randomUUID } from 'node:crypto'
import { Argument, Command, InvalidArgumentError, Option } from 'commander'
import { Chalk } from 'chalk'
import type { ExchangeRequest, Observed } from '../audit/exchange.js'
import { runExperiment } from '../audit/experiment.js'
import { HttpBackend } from '../audit/http-backend.js'
import type { Rules } from '../audit/rules.js'
import { renderComparison } from '../report/render-comparison.js'
import { parseDuration, parseHeaderFlag, parseUrl, noZoomOption, zoomBudget, zoomRateOption } from './options.js'
import { loadRules } from './load-rules.js'
import { systemClock } from '../core/clock.js'

/** ColorMode is the value of `--color`. */
export type ColorMode = 'auto' | 'always' | 'never'

interface CompareFlags {
  old: string
  new: string
  header: Array<[string, string]>
  method: 'GET' | 'HEAD'
  rules?: string
  color: ColorMode
  timeout: number
  zoom: boolean
  zoomRate: number
}

/** parsePath accepts a request target: a path starting with '/', with an optional query. */
function parsePath(s: string): string {
  if (!s.startsWith('/') || /[\s\0]/.test(s))
    throw new InvalidArgumentError(`expected a path starting with /, got ${JSON.stringify(s)}`)
  return s
}

/**
 * colorLevel decides the chalk level for `--color`: `always` 1, `never` 0, `auto` 1 only when stdout
 * is a terminal and NO_COLOR is unset or empty (https://no-color.org). Basic colours suffice, so
 * the level is never above 1.
 */
export function colorLevel(mode: ColorMode, isTTY: boolean, noColor: string | undefined): 0 | 1 {
  if (mode === 'always') return 1
  if (mode === 'never') return 0
  return isTTY && (noColor === undefined || noColor === '') ? 1 : 0
}

/** register adds `cutover compare` to the program. */
export function register(program: Command): void {
  program
    .command('compare')
    .summary('send one request to both servers and show how the answers differ')
    .description(
      [
        'Send one request to --old and to --new at the same time and compare the answers as the ' +
          'audit does: status, headers (hop-by-hop and Date never compared; --rules relax the rest), ' +
          'and every body byte.',
        'Prints each divergence in one line, a unified diff of the response headers and a hexdump of both ' +
          'bodies around the first differing byte.',
        'Exit status: 0 no divergences (differences explained by --rules do not count), 1 divergences, ' +
          '2 usage or input error.',
      ].join('\n\n'),
    )
    .addArgument(new Argument('<path>', 'request target, e.g. /files/big.iso?x=1').argParser(parsePath))
    .requiredOption('--old <url>', 'the old server (control), e.g. http://old.internal:8080', parseUrl)
    .requiredOption('--new <url>', 'the new server (candidate)', parseUrl)
    .addOption(
      new Option('-H, --header <header>', "request header 'Name: value' (repeatable)")
        .default([], 'none')
        .argParser(parseHeaderFlag),
    )
    .addOption(new Option('--method <method>', 'request method').choices(['GET', 'HEAD']).default('GET'))
    .option('--rules <file>', 'rules file (YAML or JSON) saying which differences are expected')
    .addOption(
      new Option('--color <when>', 'colour the output').choices(['auto', 'always', 'never']).default('auto'),
    )
    .addOption(
      new Option('--timeout <duration>', 'give up on a side after this long')
        .default(30_000, '30s')
        .argParser(parseDuration),
    )
    .addOption(noZoomOption())
    .addOption(zoomRateOption())
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover compare /sdk/v1.zip --old http://old:80 --new http://new:8080\n' +
        "  cutover compare /big.iso --old http://old --new http://new -H 'Range: bytes=0-99' --rules r.yaml",
    )
    .action(async (path: string, flags: CompareFlags) => {
      const level = colorLevel(flags.color, process.stdout.isTTY === true, process.env.NO_COLOR)
      const chalk = new Chalk({ level })
      const rules = loadRules(flags.rules)
      const { text, divergent } = await runCompare(path, flags, rules, chalk)
      process.stdout.write(text)
      process.exitCode = divergent ? 1 : 0
    })
}


/**
 * runCompare runs one experiment (the request to both sides at once, compared as the audit does,
 * without ETag learning: one exchange has no earlier pairs) and renders it.
 */
async function runCompare(
  path: string,
  f: CompareFlags,
  rules: Rules,
  chalk: InstanceType<typeof Chalk>,
): Promise<{ text: string; divergent: boolean }> {
  const headers: Record<string, string> = {}
  // Repeated -H of one name are joined as one field (RFC 9110 §5.3).
  for (const [k, v] of f.header) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`
  const request: ExchangeRequest = { id: randomUUID(), method: f.method, path, headers }
  // A Host given with -H is sent as is; otherwise each side gets its own.
  const hostHeader = headers.host === undefined ? 'rewrite' : 'keep'
  const clock = systemClock
  const control = new HttpBackend({ name: 'old', base: f.old, timeoutMs: f.timeout, hostHeader, clock })
  const candidate = new HttpBackend({ name: 'new', base: f.new, timeoutMs: f.timeout, hostHeader, clock })
  try {
    // The comparison consumes the bodies; the header lists stay readable for the diff.
    const answers: { control?: Observed; candidate?: Observed } = {}
    const comparison = await runExperiment(
      request,
      { control, candidate },
      {
        rules,
        clock,
        bodyTimeoutMs: f.timeout,
        zoom: zoomBudget(f, clock),
        onAnswer: (side, a) => {
          if (side !== 'baseline') answers[side] = a
        },
      },
    )
    const { control: c, candidate: n } = answers
    const shown =
      c?.kind === 'response' && n?.kind === 'response' ? { control: c.headers, candidate: n.headers } : undefined
    const text = renderComparison(comparison, { chalk, rules, headers: shown })
    return { text, divergent: comparison.divergences.length > 0 }
  } finally {
    await Promise.all([control.close(), candidate.close()])
  }
}
