/**
 * BodySink takes a body's chunks from a {@link PushSource} as the source has them, on the source's
 * own call stack: no promise, no microtask per chunk.
 */
export interface BodySink {
  /**
   * One chunk of the body (never empty), in order. Returning false asks the source to hand over
   * nothing more (no chunk, nor the end or the error) until {@link PushSource.resume} is called.
   */
  data(chunk: Uint8Array): boolean
  /** The body's end, after its last chunk. Nothing is handed over after it. */
  end(): void
  /** The error that cut the body, after the chunks that came before it. Nothing is handed over after it. */
  error(err: unknown): void
}

/**
 * PushSource is a body that can push its chunks to one {@link BodySink} instead of being read
 * through its async iterator. A comparing mirror reads two bodies per compared request, chunk by
 * chunk: read with `for await`, every chunk costs a few promises and turns of the microtask queue
 * on the thread that also serves the clients; pushed, a chunk goes from the socket's parser to the
 * hash in one call.
 *
 * {@link pushTo} is called at most once, before any read through the iterator (the iterator is not
 * used after it); the chunks that came before it are handed over first. The iterator's `return()`
 * still cancels the body (what `cancelStream` calls), and the sink is called no more after it.
 */
export interface PushSource extends AsyncIterable<Uint8Array> {
  pushTo(sink: BodySink): void
  /** resume ends the hold the sink asked for by returning false from `data`. */
  resume(): void
}

/** isPushSource tells whether a body can push its chunks ({@link PushSource}). */
export const isPushSource = (body: AsyncIterable<Uint8Array>): body is PushSource =>
  typeof (body as Partial<PushSource>).pushTo === 'function' && typeof (body as Partial<PushSource>).resume === 'function'
