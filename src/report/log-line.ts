import { printable } from './shell-quote.js'

/** LEVELS are pino's level numbers and their names. */
const LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

/** OMITTED are pino's own fields: the level and message are shown apart, the rest is not for a person. */
const OMITTED: ReadonlySet<string> = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname', 'v'])

/** value writes one field's value: a string as is, an error by its message, anything else as JSON. */
function value(v: unknown): string {
  if (typeof v === 'string') return /^\S+$/.test(v) ? v : JSON.stringify(v)
  if (v !== null && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
    return JSON.stringify((v as { message: string }).message)
  }
  return JSON.stringify(v) ?? String(v)
}

/**
 * formatLogLine turns one pino JSON line into one line a person reads on a terminal:
 * `<prefix>: <level>: <msg> (key=value, ...)`, e.g.
 * `cutover mirror: warn: primary failed (err="connect ECONNREFUSED 127.0.0.1:1", path=/f, primary=old)`.
 * The fields keep their order; an error shows its message only (not its stack), strings with spaces
 * are quoted; pino's own fields (time, pid, hostname, name) are left out. Control characters,
 * which a logged path or server message may hold, are escaped so that the line stays one line and
 * cannot drive the terminal. A line that is not a JSON object is shown as it is, made printable.
 * The result has no trailing newline. Pure.
 */
export function formatLogLine(line: string, prefix: string): string {
  let o: unknown
  try {
    o = JSON.parse(line)
  } catch {
    o = undefined
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return printable(`${prefix}: ${line.replace(/\n$/, '')}`)
  const rec = o as Record<string, unknown>
  const level = typeof rec.level === 'number' ? (LEVELS[rec.level] ?? `level ${rec.level}`) : String(rec.level ?? 'log')
  const fields = Object.entries(rec)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${k}=${value(v)}`)
  const msg = typeof rec.msg === 'string' ? rec.msg : ''
  return printable(`${prefix}: ${level}: ${msg}${fields.length > 0 ? ` (${fields.join(', ')})` : ''}`)
}

/**
 * logLines is a destination stream for pino that shows each JSON line as {@link formatLogLine}
 * writes it, through `print` (a status-aware printer's `log`, so that a log line never lands on
 * a status line being redrawn). For a terminal only: what reads stderr when it is not one gets the
 * JSON.
 */
export function logLines(print: (line: string) => void, prefix: string): { write(chunk: string): void } {
  return {
    write(chunk: string): void {
      // pino writes one line per call; several, should a caller batch them, are shown one by one.
      for (const line of chunk.split('\n')) if (line.trim() !== '') print(formatLogLine(line, prefix))
    },
  }
}
