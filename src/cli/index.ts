#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { register as registerMirror } from './mirror.js'
import { register as registerReplay } from './replay.js'
import { register as registerServe } from './serve.js'
import { register as registerCompare } from './compare.js'
import { register as registerReport } from './report.js'

/** program builds the `cutover` command line. Exported so tests can drive it without exiting. */
export function program(): Command {
  const p = new Command('cutover')
    .description('Move a busy download service from an old server to a new one without breaking a byte.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors exit 2 (below) rather than commander's 1, so scripts can tell them from failures.
    .exitOverride()
  registerServe(p)
  registerMirror(p)
  registerReplay(p)
  registerCompare(p)
  registerReport(p)
  return p
}

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // commander has already printed the message (or the help, or the version).
      process.exit(err.exitCode === 0 ? 0 : 2)
    }
    process.stderr.write(`cutover: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(2)
  })
