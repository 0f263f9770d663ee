#!/usr/bin/env node
import { Command } from 'commander'
import { register as registerServe } from './serve.js'

/** program builds the `cutover` command line. Exported so tests can drive it without exiting. */
export function program(): Command {
  const p = new Command('cutover')
    .description(
      'Move a busy download service from an old server to a new one without breaking a byte.\n\n' +
        '  serve    the new range-serving download server (Go http.ServeContent semantics)',
    )
    .version('0.1.0')
    .showHelpAfterError()
  registerServe(p)
  return p
}

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`cutover: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(2)
  })
