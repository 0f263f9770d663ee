import { printable } from './shell-quote.js'

/** PrinterStream is the part of a `process.stdout` or `process.stderr` that {@link StatusPrinter} uses. */
export interface PrinterStream {
  write(text: string): unknown
  /** True when the stream is a terminal. */
  readonly isTTY?: boolean
  /** The terminal's width in columns, when known. */
  readonly columns?: number
}

/** StatusPrinterOptions configures a {@link StatusPrinter}. */
export interface StatusPrinterOptions {
  /** Where the status line and the messages go (the command's stderr). */
  readonly err: PrinterStream
  /** Where the results go (the command's stdout). If unset, defaults to `err`. */
  readonly out?: PrinterStream
  /**
   * Whether `err` is a terminal, which decides whether a status line is drawn at all. If unset,
   * defaults to `err.isTTY === true`.
   */
  readonly tty?: boolean
}

/** CLEAR_LINE goes back to the start of the line and erases it (CR, then ECMA-48 EL, "erase in line"). */
const CLEAR_LINE = '\r\x1b[K'

/**
 * StatusPrinter is the one writer of a long-running command's terminal output: a status line (or
 * progress bar) redrawn in place on stderr, and the lines printed around it. Everything the command
 * prints while a status line is drawn goes through it, so that nothing is glued onto the status line:
 * the line is erased, the text printed on lines of its own, and the status line drawn again below.
 *
 * When stderr is not a terminal it writes no escape sequence and no carriage return at all: the
 * status line is not drawn (the caller prints plain lines with {@link log} at its own pace instead),
 * and {@link print} and {@link log} write the text exactly as given.
 */
export class StatusPrinter {
  /** True when the status line is drawn (stderr is a terminal). */
  readonly tty: boolean
  readonly #err: PrinterStream
  readonly #out: PrinterStream
  /** The status line now on the screen, as written; undefined when none is. */
  #drawn: string | undefined

  /** Builds a printer on `o.err` and `o.out`; throws TypeError when `o.err` cannot be written. */
  constructor(o: StatusPrinterOptions) {
    if (typeof o?.err?.write !== 'function') throw new TypeError('StatusPrinter: err must be a writable stream')
    if (o.out !== undefined && typeof o.out.write !== 'function') throw new TypeError('StatusPrinter: out must be a writable stream')
    this.#err = o.err
    this.#out = o.out ?? o.err
    this.tty = o.tty ?? o.err.isTTY === true
  }

  /**
   * status draws `text` as the status line, over the one drawn before. It is made one line
   * (control characters escaped) and cut to the terminal's width, because a line that wraps could
   * no longer be erased with a carriage return. Does nothing when stderr is not a terminal.
   */
  status(text: string): void {
    if (!this.tty) return
    const line = fit(printable(text), this.#err.columns)
    this.#drawn = line
    this.#err.write(`\r${line}\x1b[K`)
  }

  /** print writes `text` to stdout on lines of its own (a newline is added when it lacks one). */
  print(text: string): void {
    this.#around(this.#out, text)
  }

  /** log writes `text` to stderr on lines of its own (a newline is added when it lacks one). */
  log(text: string): void {
    this.#around(this.#err, text)
  }

  /** clear erases the status line, if one is drawn; the next {@link status} draws it again. */
  clear(): void {
    if (this.#drawn === undefined) return
    this.#drawn = undefined
    this.#err.write(CLEAR_LINE)
  }

  /**
   * keep leaves the status line on the screen as an ordinary line (the final state of a progress
   * bar, say) and moves below it; the next {@link status} starts a new one.
   */
  keep(): void {
    if (this.#drawn === undefined) return
    this.#drawn = undefined
    this.#err.write('\n')
  }

  #around(stream: PrinterStream, text: string): void {
    const whole = text.endsWith('\n') ? text : `${text}\n`
    const drawn = this.#drawn
    if (drawn === undefined) {
      stream.write(whole)
      return
    }
    const redraw = `\r${drawn}\x1b[K`
    // One write when it all goes to the terminal's stream: nothing can come between.
    if (stream === this.#err) {
      this.#err.write(CLEAR_LINE + whole + redraw)
      return
    }
    this.#err.write(CLEAR_LINE)
    stream.write(whole)
    this.#err.write(redraw)
  }
}

/** fit cuts `line` to `columns - 1` characters (the last column would wrap on some terminals). */
function fit(line: string, columns: number | undefined): string {
  if (columns === undefined || !(columns > 1)) return line
  const chars = Array.from(line)
  return chars.length < columns ? line : chars.slice(0, columns - 1).join('')
}
