import type { Observed } from './exchange.js'

/** cancelBody gives up reading a response's body (releasing its connection); no-op for an error. */
export const cancelBody = (r: Observed): void => {
  if (r.kind === 'response') void (r.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]().return?.()?.catch(() => undefined)
}
