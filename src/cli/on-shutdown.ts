import { plural } from '../report/plural.js'

/** The part of `process` that {@link onShutdown} uses (a fake one in tests). */
export interface SignalTarget {
  on(signal: NodeJS.Signals, listener: () => void): unknown
  off(signal: NodeJS.Signals, listener: () => void): unknown
  exit(code: number): void
  readonly stderr: { write(text: string): unknown }
}

/**
 * signalTarget is `process` with what the handlers write to stderr sent to `stderr` instead: a
 * status-aware printer, so that a message never lands on a status line being redrawn.
 */
export function signalTarget(stderr: { log(text: string): unknown }): SignalTarget {
  return {
    on: (signal, listener) => process.on(signal, listener),
    off: (signal, listener) => process.off(signal, listener),
    exit: code => process.exit(code),
    stderr: { write: text => stderr.log(text) },
  }
}

/** ShutdownOptions configures {@link onShutdown}. */
export interface ShutdownOptions {
  /** How the command names itself in messages, e.g. `cutover serve`. */
  readonly name: string
  /**
   * Called once, on the first signal: stop accepting work, let what is in flight finish, then let
   * the process end (set `process.exitCode`, close handles). It must not throw.
   */
  readonly drain: (signal: NodeJS.Signals) => void
  /** The signals that stop the command. If unset, defaults to SIGINT and SIGTERM. */
  readonly signals?: readonly NodeJS.Signals[]
  /** The process to listen on. If unset, defaults to `process`. */
  readonly target?: SignalTarget
}

/** EXIT_INTERRUPTED is the exit status of a command stopped at once by a second signal (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130

/**
 * onShutdown is how every long-running command stops: the first SIGINT or SIGTERM calls `drain`
 * (graceful: the command finishes what it started), a second one says so on stderr and exits at
 * once with {@link EXIT_INTERRUPTED}, for the operator whose drain takes too long. It returns a
 * function that removes the handlers (for a command that ends by itself).
 */
export function onShutdown(o: ShutdownOptions): () => void {
  const target = o.target ?? process
  const signals = o.signals ?? (['SIGINT', 'SIGTERM'] as const)
  let draining = false
  const listeners = signals.map(signal => {
    const listener = (): void => {
      if (draining) {
        target.stderr.write(`\n${o.name}: ${signal} again, exiting now\n`)
        target.exit(EXIT_INTERRUPTED)
        return
      }
      draining = true
      o.drain(signal)
    }
    target.on(signal, listener)
    return [signal, listener] as const
  })
  return () => {
    for (const [signal, listener] of listeners) target.off(signal, listener)
  }
}

/** ReopenOptions configures {@link onReopen}. */
export interface ReopenOptions {
  /** How the command names itself in messages, e.g. `cutover serve`. */
  readonly name: string
  /**
   * Reopens every log file of the command (each writes what it holds to the file open now, then
   * opens its path again) and resolves with how many it reopened. A rejection is reported on stderr.
   */
  readonly reopen: () => Promise<number>
  /** The signals that reopen the logs. If unset, defaults to SIGHUP and SIGUSR1. */
  readonly signals?: readonly NodeJS.Signals[]
  /** The process to listen on. If unset, defaults to `process`. */
  readonly target?: SignalTarget
}

/**
 * onReopen is how every long-running command lets logrotate rotate its logs: SIGHUP or SIGUSR1
 * (nginx's USR1, the usual HUP) reopens them, after logrotate has moved them away (its create mode,
 * with `postrotate kill -HUP`). Installing it also keeps SIGHUP from ending the command, as it does
 * by default. Reopens never overlap: a signal during one runs another after it (the files may have
 * been moved again). It returns a function that removes the handlers.
 */
export function onReopen(o: ReopenOptions): () => void {
  const target = o.target ?? process
  const signals = o.signals ?? (['SIGHUP', 'SIGUSR1'] as const)
  let chain: Promise<void> = Promise.resolve()
  const listeners = signals.map(signal => {
    const listener = (): void => {
      chain = chain.then(
        () => o.reopen().then(
          n => void target.stderr.write(`${o.name}: ${signal}: reopened ${plural(n, 'log file')}\n`),
          (err: unknown) => void target.stderr.write(`${o.name}: ${signal}: reopening the logs failed: ${(err as Error).message}\n`),
        ),
      )
    }
    target.on(signal, listener)
    return [signal, listener] as const
  })
  return () => {
    for (const [signal, listener] of listeners) target.off(signal, listener)
  }
}
