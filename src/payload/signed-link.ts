import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { cleanPath } from './clean-path.js'
import { SIGNATURE_PARAM } from '../http/redact-signature.js'

/*
 * Signed links, format version 1.
 *
 * A signed link is the resource's URL with these query parameters added (each exactly once):
 *
 *   sig-kid  the signing key's id (a key of the keys file), [A-Za-z0-9._-]{1,64}
 *   sig-exp  the expiry, whole seconds since the Unix epoch; the link is valid strictly before it
 *   sig-m    the methods, comma-separated, upper case (GET covers HEAD too: RFC 9110 section 9.3.2
 *            defines HEAD as GET without the content)
 *   sig-c    optional claims: comma-separated `k=v`, k and v each percent-encoded
 *            (encodeURIComponent) so that commas and equals signs inside them are data
 *   sig-p    optional: the names of the other query parameters the signature covers, comma-separated,
 *            each percent-encoded; each must appear exactly once. Any other parameter that is not a
 *            sig-* one makes the link refused: an uncovered parameter could change what a later
 *            handler does with a request the signer never saw
 *   sig      base64url (no padding) HMAC-SHA256 of the canonical string under the key
 *
 * The canonical string is the JSON text (JSON.stringify, so every field is delimited and escaped
 * unambiguously) of the array
 *
 *   ["cutover-signed-link-1", kid, [methods...], path, exp, [[k, v], ...], [[name, value], ...]]
 *
 * where `path` is the cleaned, percent-decoded request path with its leading slash (cleanPath with
 * dot-files allowed: empty and `.` segments merged away), so that `/a//b`, `/a/./b` and `/a/%62`
 * are the same link for the signer and the verifier, as they are the same payload for the router;
 * exp is a number; claims and covered parameters are in the order the link lists them, with their
 * decoded values (the query is read with WHATWG URLSearchParams: `+` is a space).
 */

/** SIGNED_LINK_PARAMS are the query parameter names a signed link adds. */
export const SIGNED_LINK_PARAMS = Object.freeze({
  keyId: 'sig-kid',
  expires: 'sig-exp',
  methods: 'sig-m',
  claims: 'sig-c',
  covered: 'sig-p',
  signature: SIGNATURE_PARAM,
} as const)

const P = SIGNED_LINK_PARAMS
const VERSION = 'cutover-signed-link-1'
/** MIN_KEY_BYTES is the shortest secret accepted: HMAC-SHA256's output size (RFC 2104 section 3). */
export const MIN_KEY_BYTES = 32
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/
const METHOD = /^[A-Z]{1,20}$/
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/

/**
 * SigningKeys holds the HMAC secrets of signed links by key id. Several keys at once allow
 * rotation: sign with the new id while links signed with the old one still verify, then drop the
 * old one. The keys file is JSON:
 *
 * ```json
 * { "keys": { "2026-12": "<base64 of at least 32 random bytes>", "2027-01": "..." } }
 * ```
 *
 * Key ids are [A-Za-z0-9._-]{1,64}; secrets are base64 or base64url of at least 32 bytes. The
 * constructor and {@link SigningKeys.parse} throw TypeError for anything else.
 */
export class SigningKeys {
  readonly #keys: ReadonlyMap<string, Buffer>

  /** keys maps key ids to their secrets (bytes, or base64 text). */
  constructor(keys: Readonly<Record<string, string | Uint8Array>>) {
    const map = new Map<string, Buffer>()
    for (const [id, v] of Object.entries(keys)) {
      if (!KEY_ID.test(id)) throw new TypeError(`signing key id "${id}" must be 1 to 64 of A-Z a-z 0-9 . _ -`)
      let secret: Buffer
      if (typeof v === 'string') {
        if (!BASE64.test(v)) throw new TypeError(`signing key "${id}" is not base64`)
        secret = Buffer.from(v, 'base64')
      } else if (v instanceof Uint8Array) secret = Buffer.from(v)
      else throw new TypeError(`signing key "${id}" must be base64 text`)
      if (secret.length < MIN_KEY_BYTES) throw new TypeError(`signing key "${id}" has ${secret.length} bytes; at least ${MIN_KEY_BYTES} are needed`)
      map.set(id, secret)
    }
    this.#keys = map
  }

  /** parse reads the keys file's JSON text; `source` names it in errors. It throws TypeError when the text is not a valid keys file. */
  static parse(text: string, source = 'signing keys'): SigningKeys {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (err) {
      throw new TypeError(`${source}: not JSON: ${(err as Error).message}`)
    }
    const keys = (doc as { keys?: unknown } | null)?.keys
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys) || Object.keys(keys).length === 0) {
      throw new TypeError(`${source}: expected { "keys": { "<key id>": "<base64 secret>" } } with at least one key`)
    }
    try {
      return new SigningKeys(keys as Record<string, string>)
    } catch (err) {
      throw new TypeError(`${source}: ${(err as Error).message}`)
    }
  }

  /** load reads and parses a keys file; it rejects when the file cannot be read or is not valid. */
  static async load(path: string): Promise<SigningKeys> {
    return SigningKeys.parse(await readFile(path, 'utf8'), path)
  }

  /** ids are the key ids, in the file's order. */
  get ids(): string[] {
    return [...this.#keys.keys()]
  }

  /** secret returns the secret of `keyId`, or undefined when there is no such key. */
  secret(keyId: string): Buffer | undefined {
    return this.#keys.get(keyId)
  }
}

/** SignOptions say what a signed link allows. */
export interface SignOptions {
  /** keyId is the id of the key to sign with (it must be in the SigningKeys). */
  readonly keyId: string
  /**
   * expiresAt is the expiry, epoch milliseconds; the link carries whole seconds, rounded down so
   * that a link never lives longer than asked.
   */
  readonly expiresAt: number
  /** claims are name=value pairs carried and signed; if unset, none. Names must not be empty. */
  readonly claims?: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>
  /** methods are the allowed methods (GET covers HEAD); if unset, defaults to ['GET']. */
  readonly methods?: readonly string[]
  /**
   * cover names the URL's query parameters the signature covers, in order; if unset, defaults to
   * every parameter of the URL, in order. A parameter of the URL not covered, a covered name the
   * URL lacks or has twice, or a sig-* parameter already there throws TypeError: the link would
   * be refused.
   */
  readonly cover?: readonly string[]
}

/** canonical is the string a signed link's HMAC is computed over (see the format above). */
function canonical(kid: string, methods: readonly string[], path: string, exp: number, claims: ReadonlyArray<readonly [string, string]>, covered: ReadonlyArray<readonly [string, string]>): string {
  return JSON.stringify([VERSION, kid, methods, path, exp, claims, covered])
}

/** mac is the HMAC-SHA256 of `text` under `secret`. */
function mac(secret: Buffer, text: string): Buffer {
  return createHmac('sha256', secret).update(text, 'utf8').digest()
}

/** signedPath is the path as signed: cleaned, percent-decoded, with its leading slash. */
function signedPath(rawPath: string): string {
  return `/${cleanPath(rawPath, true)}`
}

/** encodeList joins names or k=v pairs, each part percent-encoded, with commas. */
const encodeList = (parts: readonly string[]): string => parts.map(encodeURIComponent).join(',')

/**
 * signLink returns `url` signed: the same URL (absolute, or origin-form starting with `/`) with
 * the sig-* query parameters appended. It throws TypeError for an unknown key id, a path cleanPath
 * refuses, bad methods, claims or covered parameters (see {@link SignOptions}).
 */
export function signLink(url: string, o: SignOptions, keys: SigningKeys): string {
  const secret = keys.secret(o.keyId)
  if (secret === undefined) throw new TypeError(`no signing key "${o.keyId}"`)
  if (!Number.isFinite(o.expiresAt)) throw new TypeError('expiresAt must be a time in epoch milliseconds')
  const exp = Math.floor(o.expiresAt / 1000)
  const methods = (o.methods ?? ['GET']).map(m => m.toUpperCase())
  if (methods.length === 0 || methods.some(m => !METHOD.test(m))) throw new TypeError(`methods must be method names, got ${JSON.stringify(o.methods)}`)
  const claims: Array<readonly [string, string]> = Array.isArray(o.claims) ? [...(o.claims as ReadonlyArray<readonly [string, string]>)] : Object.entries(o.claims ?? {})
  if (claims.some(([k]) => k === '')) throw new TypeError('a claim name must not be empty')

  const absolute = !url.startsWith('/')
  let u: URL
  try {
    u = absolute ? new URL(url) : new URL(url, 'http://origin.invalid')
  } catch {
    throw new TypeError(`not a URL: ${url}`)
  }
  const rawPath = u.pathname
  let path: string
  try {
    path = signedPath(rawPath)
  } catch (err) {
    throw new TypeError(`a path the server refuses (${(err as Error).message}): ${rawPath}`)
  }
  const params = [...u.searchParams]
  if (params.some(([n]) => Object.values(P).includes(n as never))) throw new TypeError('the URL is already signed (it has sig-* parameters)')
  const names = params.map(([n]) => n)
  const cover = o.cover ?? names
  for (const n of names) if (!cover.includes(n)) throw new TypeError(`query parameter "${n}" is not covered: the link would be refused`)
  const covered = cover.map(n => {
    const values = params.filter(([k]) => k === n)
    if (values.length !== 1) throw new TypeError(`covered parameter "${n}" must appear exactly once in the URL, not ${values.length} times`)
    return [n, values[0]![1]] as const
  })

  const sig = mac(secret, canonical(o.keyId, methods, path, exp, claims, covered)).toString('base64url')
  const add = new URLSearchParams()
  add.set(P.keyId, o.keyId)
  add.set(P.expires, String(exp))
  add.set(P.methods, methods.join(','))
  if (claims.length > 0) add.set(P.claims, claims.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join(','))
  if (covered.length > 0) add.set(P.covered, encodeList(cover))
  add.set(P.signature, sig)
  const query = u.search === '' ? `?${add}` : `${u.search}&${add}`
  return absolute ? `${u.origin}${rawPath}${query}${u.hash}` : `${rawPath}${query}`
}

/** SignedLinkFailure names why a link was refused, for the access log and for tests. */
export type SignedLinkFailure =
  /** no sig parameter at all: the link is not signed. */
  | 'unsigned'
  /** a sig-* parameter missing, repeated or not in its format (including a covered name absent or repeated). */
  | 'malformed'
  /** sig-kid names no key in the SigningKeys (retired, or never issued). */
  | 'unknown-key'
  /** the HMAC does not match: some signed field (path, methods, expiry, claims, a covered value, key id) was changed. */
  | 'bad-signature'
  /** the link is authentic but the request time is at or after sig-exp. */
  | 'expired'
  /** the link is authentic but does not allow the request's method. */
  | 'method'
  /** the query has a parameter that is neither sig-* nor listed in sig-p. */
  | 'uncovered-parameter'

/** SignedLinkResult is the outcome of {@link verifyLink}. */
export type SignedLinkResult =
  | {
      readonly ok: true
      readonly keyId: string
      /** expiresAt is sig-exp in epoch milliseconds. */
      readonly expiresAt: number
      readonly methods: readonly string[]
      readonly claims: ReadonlyArray<readonly [string, string]>
    }
  | { readonly ok: false; readonly failure: SignedLinkFailure; readonly reason: string }

const fail = (failure: SignedLinkFailure, reason: string): SignedLinkResult => ({ ok: false, failure, reason })

/** decodeList splits a comma list of percent-encoded parts; undefined when a part does not decode. */
function decodeList(s: string): string[] | undefined {
  try {
    return s === '' ? [] : s.split(',').map(decodeURIComponent)
  } catch {
    return undefined
  }
}

/**
 * verifyLink checks a request against the signed-link format (see the top of this file): `method`
 * and the target's `path` (as received, percent-encoded) and `query` (with its `?`, or ""), at
 * `at` (epoch ms). Checks run in this order, the first failing one answering: structure
 * (unsigned, malformed), uncovered parameters, the key id, the HMAC (compared in constant time
 * with crypto.timingSafeEqual, so the time taken says nothing about how much of a forged signature
 * was right), then, for an authentic link only, expiry and the method: "expired" is never said of
 * a forged link.
 */
export function verifyLink(method: string, path: string, query: string, at: number, keys: SigningKeys): SignedLinkResult {
  const params = [...new URLSearchParams(query)]
  const one = (name: string): string | undefined | null => {
    const v = params.filter(([n]) => n === name)
    return v.length === 0 ? undefined : v.length === 1 ? v[0]![1] : null
  }
  const sig = one(P.signature)
  if (sig === undefined) return fail('unsigned', 'the link is not signed (no sig parameter)')
  const kid = one(P.keyId)
  const expText = one(P.expires)
  const mText = one(P.methods)
  const cOne = one(P.claims)
  const pOne = one(P.covered)
  for (const [name, v] of [[P.signature, sig], [P.keyId, kid], [P.expires, expText], [P.methods, mText]] as const) {
    if (v === undefined) return fail('malformed', `the signed link has no ${name} parameter`)
  }
  for (const [name, v] of [[P.signature, sig], [P.keyId, kid], [P.expires, expText], [P.methods, mText], [P.claims, cOne], [P.covered, pOne]] as const) {
    if (v === null) return fail('malformed', `the signed link has more than one ${name} parameter`)
  }
  // Optional lists: absent is empty.
  const cText = cOne ?? ''
  const pText = pOne ?? ''
  // 43 base64url characters carry 258 bits: the last one has 2 spare bits, so 4 spellings would
  // decode to the same MAC. Only the canonical one is accepted, so a link has one spelling.
  if (!/^[A-Za-z0-9_-]{43}$/.test(sig!) || Buffer.from(sig!, 'base64url').toString('base64url') !== sig) return fail('malformed', 'sig is not a base64url HMAC-SHA256')
  if (!/^[0-9]{1,15}$/.test(expText!)) return fail('malformed', 'sig-exp is not whole epoch seconds')
  const methods = mText!.split(',')
  if (methods.some(m => !METHOD.test(m))) return fail('malformed', 'sig-m is not a list of methods')
  // Each claim's k and v were percent-encoded separately around a literal '=': split, then decode each side.
  let claims: Array<readonly [string, string]>
  try {
    claims = cText === '' ? [] : cText!.split(',').map(c => {
      const i = c.indexOf('=')
      if (i <= 0) throw new TypeError('no k=v')
      return [decodeURIComponent(c.slice(0, i)), decodeURIComponent(c.slice(i + 1))] as const
    })
  } catch {
    return fail('malformed', 'sig-c is not a list of k=v claims')
  }
  const coveredNames = decodeList(pText!)
  if (coveredNames === undefined) return fail('malformed', 'sig-p is not a list of parameter names')
  const own = new Set<string>(Object.values(P))
  const covered: Array<readonly [string, string]> = []
  for (const n of coveredNames) {
    const v = one(n)
    if (own.has(n) || v === undefined || v === null) return fail('malformed', `covered parameter "${n}" must appear exactly once`)
    covered.push([n, v])
  }
  for (const [n] of params) {
    if (!own.has(n) && !coveredNames.includes(n)) return fail('uncovered-parameter', `query parameter "${n}" is not covered by the signature`)
  }
  const secret = keys.secret(kid!)
  if (secret === undefined) return fail('unknown-key', `no signing key "${kid}"`)
  let cleaned: string
  try {
    cleaned = signedPath(path)
  } catch {
    return fail('malformed', 'the path cannot be signed')
  }
  const exp = Number(expText)
  const want = mac(secret, canonical(kid!, methods, cleaned, exp, claims, covered))
  const got = Buffer.from(sig!, 'base64url')
  if (got.length !== want.length || !timingSafeEqual(got, want)) return fail('bad-signature', 'the signature does not match the link')
  if (at >= exp * 1000) return fail('expired', `the link expired at ${new Date(exp * 1000).toISOString()}`)
  const allowed = methods.includes(method) || (method === 'HEAD' && methods.includes('GET'))
  if (!allowed) return fail('method', `the link allows ${methods.join(', ')}, not ${method}`)
  return { ok: true, keyId: kid!, expiresAt: exp * 1000, methods, claims }
}

