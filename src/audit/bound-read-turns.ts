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
 */
export const READ_TURN_BYTES = 256 * 1024

/** The flag `IncomingMessage` checks before it resumes its socket (`readStart`, lib/_http_incoming.js). */
interface PausableSocket extends Socket {
  _paused?: boolean
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
 * A response whose Content-Length is under `bytesPerTurn` is left alone.
 */
export function boundReadTurns(res: IncomingMessage, bytesPerTurn: number = READ_TURN_BYTES): void {
  const socket = res.socket as PausableSocket | null
  if (!socket) return
  // A body its Content-Length says is under the bound never reaches it: no listener, no timer (the
  // small file's answers are most of a mirror's traffic).
  const length = Number(res.headers['content-length'] ?? Number.NaN)
  if (Number.isSafeInteger(length) && length < bytesPerTurn) return
  let taken = 0
  let held = false
  let turnOpen = false
  // The check phase ends the turn: the count starts again and a held socket reads again.
  const endTurn = (): void => {
    turnOpen = false
    taken = 0
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
    }
    if (held || taken < bytesPerTurn) return
    held = true
    socket._paused = true
    socket.pause()
  })
}
