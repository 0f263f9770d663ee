/**
 * DEFAULT_SPLIT_LAG_BYTES bounds how far one reader of a split body may run ahead of the other: 8 MiB.
 */
export const DEFAULT_SPLIT_LAG_BYTES = 8 * 1024 * 1024

/**
 * splitBody lets two readers read one body stream that is not on the client path (a shadow
 * response compared both with the candidate and with the noise baseline). Each chunk is read from
 * the source once and handed to both readers. Unlike a {@link BodyTee}, it applies backpressure:
 * the reader ahead waits while the other has more than `maxLagBytes` unread, which is fine here
 * because no client waits on a shadow body. A reader that stops (`return()`) no longer holds the
 * other back; when both have stopped, the source is cancelled. A source error reaches both readers
 * after the chunks they have not read yet.
 */
export function splitBody(
  source: AsyncIterable<Uint8Array>,
  maxLagBytes: number,
): [AsyncIterable<Uint8Array>, AsyncIterable<Uint8Array>] {
  if (!Number.isSafeInteger(maxLagBytes) || maxLagBytes < 1)
    throw new TypeError('maxLagBytes must be a positive integer')
  const it = source[Symbol.asyncIterator]()
  const readers = [0, 1].map(() => ({ chunks: [] as Uint8Array[], bytes: 0, active: true }))
  let done = false
  let failed = false
  let error: unknown
  let pulling: Promise<void> | undefined
  let waiters: Array<() => void> = []
  const wakeAll = (): void => {
    const w = waiters
    waiters = []
    for (const f of w) f()
  }

  const pull = (): Promise<void> =>
    (pulling ??= it.next().then(
      r => {
        pulling = undefined
        if (r.done) done = true
        else
          for (const s of readers)
            if (s.active) {
              s.chunks.push(r.value)
              s.bytes += r.value.length
            }
        wakeAll()
      },
      (err: unknown) => {
        pulling = undefined
        failed = true
        error = err
        wakeAll()
      },
    ))

  const reader = (i: number): AsyncIterable<Uint8Array> => {
    const me = readers[i]!
    const other = readers[1 - i]!
    return {
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<Uint8Array, undefined>> {
          for (;;) {
            if (!me.active) return { done: true, value: undefined }
            const chunk = me.chunks.shift()
            if (chunk) {
              me.bytes -= chunk.length
              wakeAll() // the other reader may be waiting for this one to catch up
              return { done: false, value: chunk }
            }
            if (failed) throw error
            if (done) return { done: true, value: undefined }
            if (other.active && other.bytes > maxLagBytes) await new Promise<void>(r => waiters.push(r))
            else await pull()
          }
        },
        async return(): Promise<IteratorResult<Uint8Array, undefined>> {
          if (me.active) {
            me.active = false
            me.chunks = []
            me.bytes = 0
            wakeAll()
            if (!other.active && !done && !failed) await it.return?.()
          }
          return { done: true, value: undefined }
        },
      }),
    }
  }
  return [reader(0), reader(1)]
}
