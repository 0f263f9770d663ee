import type { Observed } from './exchange.js'

/**
 * cancelStream gives up reading a body stream and releases what holds it (a connection). A Node
 * stream is destroyed: the async iterator's `return()` does not do it when reading never started (a
 * generator that has not run has no `finally` to run), which left the connection of a body that was
 * never read held forever. Anything else gets `return()`.
 */
export function cancelStream(body: AsyncIterable<Uint8Array>, iterator?: AsyncIterator<Uint8Array>): void {
  const destroy = (body as { destroy?: unknown }).destroy
  if (typeof destroy === 'function') {
    ;(destroy as () => void).call(body)
    return
  }
  void (iterator ?? body[Symbol.asyncIterator]()).return?.()?.catch?.(() => undefined)
}

/** cancelBody gives up reading a response's body (releasing its connection); no-op for an error. */
export const cancelBody = (r: Observed): void => {
  if (r.kind === 'response') cancelStream(r.body)
}
