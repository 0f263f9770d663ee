#!/usr/bin/env node
import { Command, CommanderError } from 'commander'

/**
 * COMMANDS maps each subcommand to the module that registers it, in the order `--help` lists them.
 * Modules are imported only when needed: `cutover serve` never loads the mirror's http-proxy,
 * undici and prom-client nor the report's chalk and diff (about 30 MB of RSS for a server that
 * uses none of them).
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<{ register(p: Command): void }>]> = [
  ['serve', () => import('./serve.js')],
  ['mirror', () => import('./mirror.js')],
  ['replay', () => import('./replay.js')],
  ['compare', () => import('./compare.js')],
  ['report', () => import('./report.js')],
  ['manifest', () => import('./manifest.js')],
  ['sign', () => import('./sign.js')],
]

/**
 * program builds the `cutover` command line for `argv` (as process.argv: node, script, args). When
 * the first argument names a subcommand, only that one is loaded; otherwise (help, version, an
 * unknown command) all are, so that help lists every command and commander can suggest one.
 * Exported so tests can drive it without exiting.
 */
export async function program(argv: readonly string[]): Promise<Command> {
  const p = new Command('cutover')
    .description('Move a busy download service from an old server to a new one without breaking a byte.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors exit 2 (below) rather than commander's 1, so scripts can tell them from failures.
    .exitOverride()
  const named = COMMANDS.filter(([name]) => name === argv[2])
  for (const [, load] of named.length > 0 ? named : COMMANDS) (await load()).register(p)
  return p
}

/**
 * keepQuietOnClosedPipe makes a reader that stops early (`cutover manifest resolve ... | head -3`)
 * end our output, not the process: without a listener, the EPIPE of the next write to stdout is an
 * unhandled 'error' event and a stack trace. The command still finishes and exits with its own
 * status (a gate's verdict is not lost); only its remaining output goes nowhere. Any other error on
 * stdout is rethrown.
 */
function keepQuietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
}

keepQuietOnClosedPipe(process.stdout)
program(process.argv)
  .then(p => p.parseAsync(process.argv))
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // commander has already printed the message (or the help, or the version).
      process.exit(err.exitCode === 0 ? 0 : 2)
    }
    process.stderr.write(`cutover: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(2)
  })
