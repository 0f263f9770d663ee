import { trimOws } from './range.js'

/**
 * scanETag reads one entity-tag (RFC 9110 §8.8.3: `"opaque"` or `W/"opaque"`) at the start of `s`
 * after trimming, as Go's scanETag does. It returns the tag and the rest of the string, or
 * undefined when `s` does not start with a syntactically valid tag.
 */
export function scanETag(s: string): { etag: string; rest: string } | undefined {
  s = trimOws(s)
  const start = s.startsWith('W/') ? 2 : 0
  if (s.length - start < 2 || s.charCodeAt(start) !== 0x22) return undefined
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22) return { etag: s.slice(0, i + 1), rest: s.slice(i + 1) }
    // etagc = %x21 / %x23-7E / obs-text; Go compares bytes, and a JS string from Node's latin1
    // header decoding keeps obs-text at >= 0x80 as well.
    if (!(c === 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80)) return undefined
  }
  return undefined
}

/** etagStrongMatch is the strong comparison of RFC 9110 §8.8.3.2: equal and neither weak. */
export function etagStrongMatch(a: string, b: string | undefined): boolean {
  return b !== undefined && a === b && a !== '' && a.charCodeAt(0) === 0x22
}

/** etagWeakMatch is the weak comparison of RFC 9110 §8.8.3.2: equal once any `W/` is removed. */
export function etagWeakMatch(a: string, b: string | undefined): boolean {
  if (b === undefined) return false
  return (a.startsWith('W/') ? a.slice(2) : a) === (b.startsWith('W/') ? b.slice(2) : b)
}

