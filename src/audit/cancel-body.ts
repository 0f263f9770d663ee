import type { Observed } from './exchange.js'

/**
 * cancelStream gives up reading a body stream and releases what holds it (a connection). A Node
 * stream is destroyed: the async iterator's `return()` does not do it when reading never started (a
 * generator that has not run has no `finally` to run), which left the connection of a body that was
 * never read held forever. Anything else gets `return()`.
 */
export function cancelStream(body: AsyncIterable<Uint8Array>, iterator?: AsyncIterator<Uint8Array>): void {
  const stream = body as { destroy?: unknown; on?: unknown }
  if (typeof stream.destroy === 'function') {
    // undici's body emits an abort error when destroyed before its end: expected here, and with no
    // listener it would be an uncaught exception.
    if (typeof stream.on === 'function') (stream.on as (e: string, f: () => void) => void).call(body, 'error', () => undefined)
    ;(stream.destroy as () => void).call(body)
    return
  }
  void (iterator ?? body[Symbol.asyncIterator]()).return?.()?.catch?.(() => undefined)
}

/** cancelBody gives up reading a response's body (releasing its connection); no-op for an error. */
export const cancelBody = (r: Observed): void => {
  if (r.kind === 'response') cancelStream(r.body)
}
