import { hex2 } from './line-parser.js'

/**
 * requestTarget turns the bytes of a logged request target, given as a latin1 string (one character
 * per byte), into the string an HTTP client sends:
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
export function requestTarget(latin1: string): string | undefined {
  const s = /[^\x21-\x7e]/.test(latin1)
    ? latin1.replace(/[^\x21-\x7e]/g, c => `%${hex2(c.charCodeAt(0))}`)
    : latin1
  if (s.startsWith('/')) return s
  // RFC 9112 §3.2.2 absolute-form: scheme "://" authority, then the path-abempty and query.
  const m = /^https?:\/\/[^/?#]*/i.exec(s)
  if (m === null) return undefined
  const rest = s.slice(m[0].length)
  return rest.startsWith('/') ? rest : `/${rest}`
}

/** utf8AsLatin1 gives the UTF-8 bytes of a string as a latin1 string, the input of {@link requestTarget}. */
export const utf8AsLatin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1')

/** isToken tells whether s is an RFC 9110 §5.6.2 token, the syntax of methods and header names. */
export const isToken = (s: string): boolean => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s)

/** isMethod tells whether s is a valid HTTP method (RFC 9110 §9.1: a token). */
export const isMethod = isToken

/** isProtocol tells whether s is an HTTP version as logs write it (`HTTP/1.1`, `HTTP/2`). */
export const isProtocol = (s: string): boolean => /^HTTP\/\d(\.\d)?$/.test(s)
