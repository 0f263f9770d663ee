import { READ_TURN_BYTES } from './bound-read-turns.js'

/**
 * TURN_WRITES_BUDGET is how many bytes of large bodies a mirror holds, over all its clients, to
 * write them once per turn of its event loop: 16 MiB.
 *
 * Why a budget: a corked socket keeps in the mirror's memory what a socket written at once hands
 * to the kernel, up to a turn's worth per client (20 MiB at 64 connections). With no budget, the
 * mirror's peak RSS at 64 connections of 1 MiB rose by 15-21 MB (three runs each, by hand). In the
 * same minutes (wrk, 64 connections, 1 MiB, 8 s, alternated) 8 MiB did 454-533 req/s, 16 MiB
 * 543-561 and no budget 491-574.
 */
export const TURN_WRITES_BUDGET = 16 * 1024 * 1024

/**
 * TURN_WRITE_BYTES is how much a corked turn may hold for one client before reading waits for it
 * to drain: a turn's reads ({@link READ_TURN_BYTES}) plus one more socket read (64 KiB), which is
 * the most a body bounded per turn can deliver in one.
 */
export const TURN_WRITE_BYTES = READ_TURN_BYTES + 64 * 1024

/** The part of a client's response (or socket) that {@link TurnWrites} writes to. */
export interface TurnWritable {
  readonly writableLength: number
  write(chunk: Buffer): boolean
  cork(): void
  uncork(): void
}

/**
 * TurnWrites writes what one turn of the event loop reads of a large body to its client in one
 * system call, instead of one per 64 KiB socket read.
 *
 * Why: on loopback each write to a client also runs the receiving side of TCP and wakes the
 * client; at 64 connections of 1 MiB the mirror's writes were 18.5 a request, and its thread's
 * time in the kernel's wake-ups alone 0.17-0.25 ms a request (perf). Gathered per turn they are
 * 5.5 a request, and the mirror's throughput at saturation rose by 3-23% in six runs alternated by
 * hand (13% on average).
 *
 * How: the first chunk of a turn corks the client's socket if it has nothing left to send (a
 * slower client sets its own pace, as before) and the budget has room; the turn's check phase
 * (`setImmediate`) uncorks it, which writes the turn's chunks in one `writev`. The bytes held are
 * counted against one budget for all the mirror's clients and given back at the uncork; a writer
 * whose next chunk would pass the budget uncorks at once and writes the rest of its turn. Nothing is
 * reordered or lost: a corked socket keeps its chunks in order, and ending a response while it is
 * corked ends it after them.
 */
export class TurnWrites {
  readonly budget: number
  #held = 0

  /**
   * `budget`: the most bytes held corked at once over every writer, {@link TURN_WRITES_BUDGET} by
   * default. A writer corks only while the total is under it, and a corked writer whose next chunk
   * would take the total past it writes what it holds at once, before that chunk: the total never
   * passes the budget.
   */
  constructor(budget: number = TURN_WRITES_BUDGET) {
    this.budget = budget
  }

  /** The bytes held corked now, over every writer. */
  get held(): number {
    return this.#held
  }

  /**
   * writer returns the function that writes one chunk of a body to `out`. It returns false when
   * the body's reading must wait for `out`'s `'drain'`: `out` is full and not corked for this
   * turn, or holds more than {@link TURN_WRITE_BYTES} though it is.
   */
  writer(out: TurnWritable): (chunk: Buffer) => boolean {
    let corked = false
    let bytes = 0
    // Corked in this turn (until its check phase), even if the budget made it write early: a writer
    // that reached the budget writes the rest of its turn at once rather than cork again.
    let turn = false
    const uncork = (): void => {
      if (!corked) return
      this.#held -= bytes
      bytes = 0
      corked = false
      out.uncork()
    }
    const endTurn = (): void => {
      turn = false
      uncork()
    }
    return chunk => {
      if (corked && this.#held + chunk.length > this.budget) uncork()
      else if (!turn && out.writableLength === 0 && this.#held + chunk.length <= this.budget) {
        corked = true
        turn = true
        out.cork()
        setImmediate(endTurn)
      }
      if (corked) {
        bytes += chunk.length
        this.#held += chunk.length
      }
      // A corked socket's write says false once it holds its buffer size (16 KiB): for the turn,
      // that is expected, and the turn's own bound keeps what it holds under TURN_WRITE_BYTES.
      return out.write(chunk) || (corked && out.writableLength < TURN_WRITE_BYTES)
    }
  }
}
