import { CutoverError } from '../core/errors.js'

/**
 * RequestTarget is what a request line names: a path with its query (origin-form or absolute-form),
 * or the whole server (asterisk-form, `*`).
 */
export type RequestTarget =
  | {
      readonly kind: 'path'
      /** The path, still percent-encoded as sent; it always starts with `/`. */
      readonly path: string
      /** The query with its leading `?`, or "" when there is none. */
      readonly query: string
    }
  | { readonly kind: 'asterisk' }

const badRequest = (why: string): CutoverError => new CutoverError('ERR_BAD_REQUEST', why)

/** SCHEME is a URI scheme and its colon (RFC 3986 §3.1). */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/

/**
 * parseRequestTarget reads the request-target of a request line (RFC 9112 §3.2) as Go's
 * `url.ParseRequestURI` does for a server:
 * - origin-form `/path?query` is taken as it is;
 * - absolute-form `scheme://authority/path?query`, which a server MUST accept (RFC 9112 §3.2.2), gives
 *   its path and query; the scheme is not checked and the authority only validated (Go), since it
 *   names this server whatever it says; an empty path is `/` (RFC 9110 §4.2.3);
 * - asterisk-form `*` (RFC 9112 §3.2.4) gives `{ kind: 'asterisk' }`.
 * Anything else throws CutoverError ERR_BAD_REQUEST: authority-form (RFC 9112 §3.2.3: CONNECT only),
 * a scheme without `//authority`, an authority Go refuses (bad host byte, ASCII percent-escape in the
 * host, non-numeric port, bad userinfo byte).
 */
export function parseRequestTarget(target: string): RequestTarget {
  if (target[0] === '/') {
    const q = target.indexOf('?')
    return q < 0 ? { kind: 'path', path: target, query: '' } : { kind: 'path', path: target.slice(0, q), query: target.slice(q) }
  }
  if (target === '*') return { kind: 'asterisk' }
  const scheme = SCHEME.exec(target)
  if (!scheme) throw badRequest('request target is not origin-form, absolute-form or *')
  const q = target.indexOf('?')
  const query = q < 0 ? '' : target.slice(q)
  const rest = (q < 0 ? target : target.slice(0, q)).slice(scheme[0].length)
  if (!rest.startsWith('//')) throw badRequest('absolute-form without an authority')
  const slash = rest.indexOf('/', 2)
  const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash)
  checkAuthority(authority)
  return { kind: 'path', path: slash < 0 ? '/' : rest.slice(slash), query }
}

/** USERINFO_BYTE: bytes Go's url package accepts in userinfo (validUserinfo). */
const USERINFO_BYTE = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/
/** HOST_BYTE: ASCII bytes Go's url package accepts raw in a host (shouldEscape with encodeHost). */
const HOST_BYTE = /^[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"\u0080-\uffff]$/

/**
 * checkAuthority validates `[userinfo@]host[:port]` as Go's url.parseAuthority and parseHost do; it
 * throws ERR_BAD_REQUEST for what Go refuses.
 */
function checkAuthority(authority: string): void {
  const at = authority.lastIndexOf('@')
  if (at >= 0 && !USERINFO_BYTE.test(authority.slice(0, at))) throw badRequest('bad userinfo')
  const host = authority.slice(at + 1)
  let colonPort = ''
  if (host[0] === '[') {
    const close = host.lastIndexOf(']')
    if (close < 0) throw badRequest("missing ']' in host")
    colonPort = host.slice(close + 1)
  } else {
    const colon = host.lastIndexOf(':')
    if (colon >= 0) colonPort = host.slice(colon)
  }
  if (colonPort !== '' && !/^:[0-9]*$/.test(colonPort)) throw badRequest('bad port')
  for (let i = 0; i < host.length; i++) {
    const c = host[i]!
    if (c === '%') {
      const hex = host.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw badRequest('bad percent-encoding in host')
      // RFC 3986 §3.2.2: a host percent-encodes only non-ASCII bytes; `%25` introduces an IPv6 zone
      // (RFC 6874).
      if (parseInt(hex, 16) < 0x80 && hex !== '25') throw badRequest('percent-encoded ASCII in host')
      i += 2
    } else if (!HOST_BYTE.test(c)) {
      throw badRequest('bad byte in host')
    }
  }
}

/** VALID_HOST_HEADER: the bytes Go accepts in a Host header (httpguts.ValidHostHeader). */
const VALID_HOST_HEADER = /^[A-Za-z0-9!$%&'()*+,\-.:;=[\]_~]*$/

/**
 * checkRequestHead applies the request rules Go's server checks before any handler runs; it throws
 * CutoverError:
 * - ERR_HTTP_VERSION for a major version other than 1 (RFC 9110 §15.6.6: 505; Go answers so to
 *   HTTP/0.9, HTTP/2.0 and HTTP/3.0 request lines);
 * - ERR_BAD_REQUEST for more than one Host field, none in HTTP/1.1 (RFC 9112 §3.2: "A server MUST
 *   respond with a 400 ... to any HTTP/1.1 request message that lacks a Host header field and to
 *   any request message that contains more than one Host header field line or a Host header field
 *   with an invalid field value"), or a Host with a byte Go refuses;
 * - ERR_BAD_REQUEST for a Transfer-Encoding whose final coding is not chunked (RFC 9112 §6.3: the
 *   body length "cannot be determined reliably; the server MUST respond with the 400 (Bad Request)
 *   status code and then close the connection"). Node's parser refuses such a request too, but only
 *   after this handler has run; Go answers 501 (it knows no other coding).
 * `rawHeaders` is Node's flat [name, value, ...] list, so that repeated fields are all seen.
 */
export function checkRequestHead(major: number, minor: number, rawHeaders: readonly string[]): void {
  if (major !== 1) throw new CutoverError('ERR_HTTP_VERSION', `HTTP/${major}.${minor} is not supported`)
  let host: string | undefined
  let hosts = 0
  let codings: string | undefined
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++
      host = rawHeaders[i + 1]
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      codings = codings === undefined ? rawHeaders[i + 1]! : `${codings},${rawHeaders[i + 1]!}`
    }
  }
  if (codings !== undefined && codings.slice(codings.lastIndexOf(',') + 1).trim().toLowerCase() !== 'chunked') {
    throw badRequest('Transfer-Encoding does not end with chunked')
  }
  if (hosts > 1) throw badRequest('too many Host headers')
  if (hosts === 0 && minor >= 1) throw badRequest('missing Host header')
  if (host !== undefined && !VALID_HOST_HEADER.test(host)) throw badRequest('malformed Host header')
}
