import { readFileSync } from 'node:fs'
import { InvalidArgumentError, Option } from 'commander'
import { BLOCK_BYTES } from '../audit/body-digest.js'
import { DEFAULT_ZOOMS_PER_MINUTE, ZoomBudget } from '../audit/zoom.js'
import type { Clock } from '../core/clock.js'
import { isMediaType, MimeTable } from '../http/mime-table.js'
import { SNIFF } from '../http/content-type-resolver.js'

/** parseListen parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s)
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535) throw new InvalidArgumentError(`expected HOST:PORT, got "${s}"`)
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port }
}

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 }

/** formatBytes writes a byte size as parseBytes reads it: `256MiB`, `2MiB`, `64KiB`, `1000` (exact, binary units). */
export function formatBytes(n: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) if (n >= size && n % size === 0) return `${n / size}${unit}`
  return String(n)
}

/** parseBytes parses a byte size such as `65536`, `64k`, `2MiB`, `1g` (binary units). */
export function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim())
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined
  const v = m && unit ? Math.round(Number(m[1]) * unit) : NaN
  if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`expected a size like 64k or 2MiB, got "${s}"`)
  return v
}

/** parseDuration parses seconds (`30`, `1.5`) or a suffixed duration (`500ms`, `30s`, `2m`) into ms. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim())
  if (!m) throw new InvalidArgumentError(`expected a duration like 30s or 500ms, got "${s}"`)
  const n = Number(m[1])
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000)
}

/** parseUrl parses an http(s) URL of a server (origin, optionally with a path prefix). */
export function parseUrl(s: string): string {
  let u: URL
  try {
    u = new URL(s)
  } catch {
    throw new InvalidArgumentError(`expected a URL like http://127.0.0.1:8080, got "${s}"`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new InvalidArgumentError(`expected an http or https URL, got "${s}"`)
  }
  if (u.search || u.hash || u.username || u.password) {
    throw new InvalidArgumentError(`expected a URL without query, fragment or credentials, got "${s}"`)
  }
  return s
}

/** parseFraction parses a number between 0 and 1 inclusive (`0.1`, `1`). */
export function parseFraction(s: string): number {
  const v = /^\d*\.?\d+$/.test(s.trim()) ? Number(s) : NaN
  if (!(v >= 0 && v <= 1)) throw new InvalidArgumentError(`expected a fraction between 0 and 1, got "${s}"`)
  return v
}

/** parseCount returns a parser of integers >= `min`. */
export function parseCount(min: number): (s: string) => number {
  return s => {
    const v = /^\d+$/.test(s.trim()) ? Number(s) : NaN
    if (!Number.isSafeInteger(v) || v < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got "${s}"`)
    }
    return v
  }
}

/** parseDefaultType parses `--default-type`: `sniff` or a media type such as `application/octet-stream`. */
export function parseDefaultType(s: string): string {
  if (s !== SNIFF && !isMediaType(s)) {
    throw new InvalidArgumentError(`expected "sniff" or a media type like application/octet-stream, got "${s}"`)
  }
  return s
}

/**
 * loadMimeTable reads a --mime-types file (nginx or Apache syntax). A missing file, or a bad line,
 * throws an error naming the file (and the line and what is wrong).
 */
export function loadMimeTable(file: string): MimeTable {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new Error(`--mime-types ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message}`)
  }
  return MimeTable.parse(text, file) // its errors read FILE:LINE: what is wrong
}

/**
 * noZoomOption is `--no-zoom`, the same for mirror, replay and compare: no re-request locates a
 * body difference exactly.
 */
export const noZoomOption = (): Option =>
  new Option(
    '--no-zoom',
    `never re-request a differing block to find the exact offset (the record then gives the ${BLOCK_BYTES / 1024} KiB block it lies in)`,
  )

/** zoomRateOption is `--zoom-rate <per-minute>`, the bound of those re-requests (load on the old server). */
export const zoomRateOption = (): Option =>
  new Option('--zoom-rate <per-minute>', 're-requests (one block from both servers, If-Range their strong ETags) allowed a minute')
    .default(DEFAULT_ZOOMS_PER_MINUTE)
    .argParser(parseCount(1))

/** zoomBudget is the re-request budget the zoom flags ask for, or undefined with `--no-zoom`. */
export function zoomBudget(f: { readonly zoom: boolean; readonly zoomRate: number }, clock: Clock): ZoomBudget | undefined {
  return f.zoom ? new ZoomBudget(f.zoomRate, clock) : undefined
}

/** TOKEN is an RFC 9110 §5.6.2 token: what a header name may be made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * parseHeaderFlag parses one `-H 'Name: value'` (commander calls it once per flag with the list so
 * far) and returns the list with `[lower-case name, value]` appended. The name must be a token,
 * the value is trimmed and must not contain CR, LF or NUL; anything else is an
 * InvalidArgumentError quoting the flag, which the CLI reports as a usage error (exit 2).
 */
export function parseHeaderFlag(s: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const colon = s.indexOf(':')
  const name = colon < 0 ? '' : s.slice(0, colon)
  const value = colon < 0 ? '' : s.slice(colon + 1).trim()
  if (!TOKEN.test(name) || /[\r\n\0]/.test(value))
    throw new InvalidArgumentError(`expected 'Name: value', got ${JSON.stringify(s)}`)
  return [...previous, [name.toLowerCase(), value]]
}
