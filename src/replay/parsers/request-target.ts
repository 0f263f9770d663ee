/**
 * requestTarget turns the bytes of a logged request target into the string an HTTP client sends:
 * - bytes 0x21-0x7E are kept as they are, percent signs included: existing percent-encoding is the
 *   target the client sent (`/snow%E2%98%83.txt` stays so, never decoded or normalised);
 * - any other byte (a raw space, control byte, or non-ASCII byte such as the UTF-8 of `☃`) is
 *   percent-encoded (`%E2%98%83`), because no HTTP client library sends it raw; the server sees the
 *   same path after decoding, which is as close to the original as a replay can get;
 * - an absolute-form target (`http://host/p?q`, what a client sends to a proxy) is reduced to its
 *   path and query, since the replay chooses the host.
 *
 * It returns undefined when the target is neither origin-form (`/...`) nor absolute-form: `*`
 * (OPTIONS), authority-form (CONNECT), or garbage.
 */
export function requestTarget(bytes: Uint8Array): string | undefined {
  let s = ''
  for (const b of bytes) s += b > 0x20 && b < 0x7f ? String.fromCharCode(b) : `%${hex2(b)}`
  if (s.startsWith('/')) return s
  // RFC 9112 §3.2.2 absolute-form: scheme "://" authority, then the path-abempty and query.
  const m = /^https?:\/\/[^/?#]*/i.exec(s)
  if (m === null) return undefined
  const rest = s.slice(m[0].length)
  return rest.startsWith('/') ? rest : `/${rest}`
}

/** isToken tells whether s is an RFC 9110 §5.6.2 token, the syntax of methods and header names. */
export const isToken = (s: string): boolean => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s)

/** isMethod tells whether s is a valid HTTP method (RFC 9110 §9.1: a token). */
export const isMethod = isToken

/** isProtocol tells whether s is an HTTP version as request lines and logs write it (`HTTP/1.1`, `HTTP/2.0`). */
export const isProtocol = (s: string): boolean => /^HTTP\/\d(\.\d)?$/.test(s)

const hex2 = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0')
