import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'

/**
 * READ_TURN_BYTES is how much of one upstream response body the mirror takes in per turn of its
 * event loop: 256 KiB, four reads of the socket.
 *
 * Why a bound: libuv reads a readable TCP socket up to 32 times (64 KiB each) in one poll before it
 * looks at any other, and a proxied body is consumed as it comes (written to the client, hashed
 * for the comparison). A 64 MiB download from a fast primary then held the mirror's one thread for
 * 2 MiB at a time, 9-15 ms per turn on average (up to 28 ms) with its comparison, and every other
 * client of the mirror waited that long for each step of its own exchange (measured: the event
 * loop's gaps during such a download, and the small file's p99 in the bench's mixed workload).
 * Why not more: what a turn takes in is written to the client in one call (see `writesTo`), and a
 * larger write costs less per byte (512 KiB: 511 MB/s against 468 on 1 MiB files at 64
 * connections, three alternated bench runs each), but every connection then holds up to that much
 * until the turn ends: at 512 KiB the mirror's peak RSS on 256 MiB downloads at 64 connections went
 * from 189-196 MB to 220-252 MB (two runs each), against the 250 MB it must stay under.
 */
export const READ_TURN_BYTES = 256 * 1024

/**
 * TURN_WRITE_BYTES is the write buffer a client's connection needs for a turn's worth of body to be
 * written as one: {@link READ_TURN_BYTES} plus one socket read (what a turn can deliver). With the
 * default buffer (16 KiB) the pipe that forwards the body stops at the first chunk of each turn
 * (the corked socket reports backpressure) and the turn forwards one read instead of four. The
 * buffer is raised to this only while a turn is corked, on a connection that had nothing left to
 * send: a client slower than its answer keeps the default, and holds no more in the mirror than it
 * did (a server-wide 320 KiB buffer raised the mirror's peak RSS at 1 MiB from 199-203 to 211-217 MB
 * by hand, and to 257.7 MB in one bench run of three).
 */
export const TURN_WRITE_BYTES = READ_TURN_BYTES + 64 * 1024

/** The flag `IncomingMessage` checks before it resumes its socket (`readStart`, lib/_http_incoming.js). */
interface PausableSocket extends Socket {
  _paused?: boolean
}

/**
 * Corkable is where a body is written: a socket, whose writes between cork and uncork go out as one.
 * `_writableState.highWaterMark` is the buffer size Node's Writable checks on each write (a plain
 * field of the stream's state since Node 10); without it the socket is never corked.
 */
export interface Corkable {
  cork(): void
  uncork(): void
  readonly writableLength: number
  readonly _writableState?: { highWaterMark: number }
}

/** TurnOptions tune {@link boundReadTurns}. */
export interface TurnOptions {
  /** The most of the body delivered per turn, plus one socket read. If unset, {@link READ_TURN_BYTES}. */
  readonly bytesPerTurn?: number
  /**
   * The client's socket the body is forwarded to: if it has nothing left to send when a turn's first
   * chunk arrives, it is corked (its buffer raised to {@link TURN_WRITE_BYTES}) until the turn's end,
   * so that the turn's chunks leave in one write (writev) rather than one system call per 64 KiB
   * read. If unset, the writes are left as they are.
   */
  readonly writesTo?: Corkable | null | undefined
}

/**
 * boundReadTurns makes `res`'s socket stop reading for the rest of the event loop's turn once
 * `bytesPerTurn` bytes of its body have arrived in that turn, and read again in the turn's check
 * phase (`setImmediate`), after every other ready socket has had its poll.
 *
 * The socket, not the message, is paused: a `pipe` resumes its source on every `drain` of the
 * destination, and the message's own `_read` resumes the socket on the next tick unless its
 * `_paused` flag is set, which is the flag Node's HTTP server uses to hold a pipelined socket. A
 * response that applies backpressure (its client is slower) still pauses the socket as before:
 * resuming at the check phase lets at most one more read into the message's buffer, which then
 * pauses the socket again. At most `bytesPerTurn` plus one socket read (64 KiB) of the body is
 * delivered per turn. Nothing is lost or reordered: a paused socket keeps what it has read. A kept-
 * alive socket handed to the next request in the same turn reads for it from the check phase on.
 *
 * With `writesTo`, a client's socket that has caught up is corked while a turn delivers the body
 * and uncorked at the same check phase: a turn's chunks are written together. Each write to a loopback socket also
 * runs the receiver's side of TCP and wakes it; measured with wrk (64 connections, 1 MiB), a plain
 * Node proxy writing each 64 KiB read on its own moved 545-581 req/s, writing a turn at a time
 * 773-822, and the mirror gained 10-12% at 256 KiB per turn (three runs of each). The cork is
 * undone on the socket it was made on even if the response has let go of it, and every cork is
 * undone in the turn it was made in.
 *
 * A response whose Content-Length is under `bytesPerTurn` is left alone (no listener, no timer).
 */
export function boundReadTurns(res: IncomingMessage, o: TurnOptions = {}): void {
  const bytesPerTurn = o.bytesPerTurn ?? READ_TURN_BYTES
  const socket = res.socket as PausableSocket | null
  if (!socket) return
  // A body its Content-Length says is under the bound never reaches it: no listener, no timer (the
  // small file's answers are most of a mirror's traffic).
  const length = Number(res.headers['content-length'] ?? Number.NaN)
  if (Number.isSafeInteger(length) && length < bytesPerTurn) return
  const out = o.writesTo ?? undefined
  let taken = 0
  let held = false
  let turnOpen = false
  let corked: Corkable | undefined
  let buffer = 0
  // The check phase ends the turn: the turn's writes leave together (under the socket's own buffer
  // size again, so that what the kernel does not take now holds the body back as before), the count
  // starts again and a held socket reads again.
  const endTurn = (): void => {
    turnOpen = false
    taken = 0
    if (corked) {
      const c = corked
      corked = undefined
      if (c._writableState) c._writableState.highWaterMark = buffer
      c.uncork()
    }
    if (!held) return
    held = false
    socket._paused = false
    if (!socket.destroyed && socket.readable) socket.resume()
  }
  res.on('data', (chunk: Buffer) => {
    taken += chunk.length
    if (!turnOpen) {
      turnOpen = true
      setImmediate(endTurn)
      // Corked before this chunk is written: the body's listener that forwards it comes after this
      // one. A client that has not taken the last turn's bytes yet is not: it sets the pace anyway.
      const state = out?._writableState
      if (out && out.writableLength === 0 && typeof state?.highWaterMark === 'number') {
        corked = out
        buffer = state.highWaterMark
        state.highWaterMark = Math.max(buffer, TURN_WRITE_BYTES)
        out.cork()
      }
    }
    if (held || taken < bytesPerTurn) return
    held = true
    socket._paused = true
    socket.pause()
  })
}
