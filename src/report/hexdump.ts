import type { ChalkInstance } from 'chalk'

/**
 * HexdumpContext is the bytes of both sides around a difference, hex-encoded, both starting at byte
 * `from` (the `context` of a body-bytes divergence).
 */
export interface HexdumpContext {
  readonly from: number
  readonly control: string
  readonly candidate: string
}

/** HexdumpOptions says how {@link hexdump} colours its output. */
export interface HexdumpOptions {
  /** The colours to use; the caller decides (level 0 for plain text). */
  readonly chalk: ChalkInstance
}

/** ROW is the number of bytes per row, as in xxd and hexdump -C. */
const ROW = 16

/** fromHex decodes pairs of hex digits, stopping at the first pair that is not hex. */
function fromHex(hex: string): Uint8Array {
  const m = /^(?:[0-9a-fA-F]{2})*/.exec(hex)
  return Buffer.from(m ? m[0] : '', 'hex')
}

const printable = (b: number): string => (b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '.')

/**
 * hexdump renders both sides of a difference, 16 bytes a row, rows aligned on multiples of 16:
 * for each row an `old` line and a `new` line (`old 0012d680: 41 42 … 50  ABC…P`: the offset in hex
 * like xxd, at least 8 digits, then the bytes, then the printable-ASCII column with `.` for other
 * bytes). Below the row holding `offset` (the first differing byte, in the same coordinates as
 * `ctx.from`), a caret line points at that byte in both columns. With colour, the first differing
 * byte is shown inverse and later differing bytes red (old) and green (new). A side that has no
 * byte at a position shows blanks there. Returns '' when both sides are empty.
 *
 * Hex strings are decoded up to the first character that is not a pair of hex digits. Pure.
 */
export function hexdump(ctx: HexdumpContext, offset: number, o: HexdumpOptions): string {
  const { chalk } = o
  const sides = [
    { label: 'old', bytes: fromHex(ctx.control), paint: chalk.red },
    { label: 'new', bytes: fromHex(ctx.candidate), paint: chalk.green },
  ] as const
  const len = Math.max(sides[0].bytes.length, sides[1].bytes.length)
  if (len === 0) return ''
  const start = Math.floor(ctx.from / ROW) * ROW
  const end = Math.ceil((ctx.from + len) / ROW) * ROW
  const width = Math.max(8, (end - 1).toString(16).length)
  const byteAt = (s: 0 | 1, pos: number): number | undefined => {
    const i = pos - ctx.from
    return i >= 0 && i < sides[s].bytes.length ? sides[s].bytes[i] : undefined
  }
  const prefix = 4 + width + 2 // 'old ' + offset + ': '
  const hexCol = (i: number): number => prefix + i * 3 + (i >= 8 ? 1 : 0)
  const asciiCol = (i: number): number => prefix + ROW * 3 + 2 + i // hex cells are 48 wide, then 2 spaces

  const out: string[] = []
  for (let row = start; row < end; row += ROW) {
    for (const s of [0, 1] as const) {
      const hex: string[] = []
      let ascii = ''
      for (let i = 0; i < ROW; i++) {
        const pos = row + i
        const b = byteAt(s, pos)
        if (b === undefined) {
          hex.push('  ')
          ascii += ' '
          continue
        }
        const other = byteAt(s === 0 ? 1 : 0, pos)
        const style = pos === offset ? chalk.inverse : b !== other ? sides[s].paint : undefined
        const h = b.toString(16).padStart(2, '0')
        hex.push(style ? style(h) : h)
        ascii += style ? style(printable(b)) : printable(b)
      }
      const cells = hex.slice(0, 8).join(' ') + '  ' + hex.slice(8).join(' ')
      const line = `${sides[s].label} ${row.toString(16).padStart(width, '0')}: ${cells}  ${ascii}`
      out.push(line.replace(/ +$/, ''))
    }
    if (offset >= row && offset < row + ROW) {
      const i = offset - row
      out.push(' '.repeat(hexCol(i)) + '^^' + ' '.repeat(asciiCol(i) - hexCol(i) - 2) + '^')
    }
  }
  return out.join('\n') + '\n'
}
