/** The part of `process` that {@link onShutdown} uses (a fake one in tests). */
export interface SignalTarget {
  on(signal: NodeJS.Signals, listener: () => void): unknown
  off(signal: NodeJS.Signals, listener: () => void): unknown
  exit(code: number): void
  readonly stderr: { write(text: string): unknown }
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
