import type { LogFormat } from '../record.js'

/** DETECT_LINES is how many non-empty lines {@link detectFormat} looks at. */
export const DETECT_LINES = 20

const HAR_START = /^\s*\{\s*"log"\s*:/
const GOR_META = /^[123] [0-9A-Fa-f]+ \d+(?: -?\d+)?$/
const ACCESS_LOG = /^\S+ \S+ \S+ \[[^\]]*\] "/
// After `"$request" $status $body_bytes_sent`, combined goes on with `"$http_referer"`.
const COMBINED = /^\S+ \S+ \S+ \[[^\]]*\] "(?:[^"\\]|\\.)*" \S+ \S+ "/

/**
 * detectFormat tells the format of a log from its beginning (the first few KiB, decoded as latin1 or
 * UTF-8), or undefined when it cannot tell:
 * - `{` then `"log":` → HAR (its only top-level key), any other `{` → cutover JSONL;
 * - a line `1 <hex id> <digits> <digits>` (GoReplay meta; types 2 and 3 too, latency optional) → gor;
 * - lines `host ident user [time] "..."` → combined if one of them has a quoted field after the
 *   status and size, else common.
 * It looks at the first {@link DETECT_LINES} non-empty lines, so a few junk lines at the top do not
 * hide the format. A last line cut by the end of `head` is looked at too (it may be the only one).
 */
export function detectFormat(head: string): LogFormat | undefined {
  const text = head.replace(/^\uFEFF/, '')
  if (HAR_START.test(text)) return 'har'
  const lines = text
    .split('\n')
    .map(l => l.replace(/\r$/, ''))
    .filter(l => l.trim() !== '')
    .slice(0, DETECT_LINES)
  if (lines[0]?.trimStart().startsWith('{')) return 'jsonl'
  for (const l of lines) {
    if (GOR_META.test(l)) return 'gor'
    if (ACCESS_LOG.test(l)) return lines.some(x => COMBINED.test(x)) ? 'combined' : 'common'
  }
  return undefined
}
