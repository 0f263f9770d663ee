/**
 * redirectLocation is the Location of the redirect from a directory to its slash form: built from
 * the cleaned relative path `rel` (as cleanPath, clean-path.ts, gives it), never from the raw request path,
 * so that it is path-only and never starts with `//` or `/\` (which a browser reads as another
 * host: `GET //evil.example` must not answer `Location: //evil.example/`). Each segment is
 * percent-encoded again (so a name with CR, LF, `?`, `#` or non-ASCII characters stays inside its
 * segment and no header value can carry a control byte); the query is kept, with every byte outside
 * visible ASCII percent-encoded.
 */
export function redirectLocation(rel: string, query: string): string {
  // The bytes encodeURIComponent keeps; the rest is escaped (a `/` inside a name too).
  const seg = (name: string): string => name.replace(/[^A-Za-z0-9\-_.!~*'()]/gu, percentEncode)
  const path = rel === '' ? '/' : `/${rel.split('/').map(seg).join('/')}/`
  return path + query.replace(/[^\x21-\x7e]/gu, percentEncode)
}

/** percentEncode writes the UTF-8 bytes of `c` as `%XX` escapes; it never throws (no URIError). */
function percentEncode(c: string): string {
  let out = ''
  for (const b of Buffer.from(c, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  return out
}
