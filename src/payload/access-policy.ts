import type { IncomingHttpHeaders } from 'node:http'
import type { AllowDeny, Manifest, Network, Payload } from '../manifest/manifest.js'
import type { RequestFacts } from './resolver.js'
import { believedClient, inNetwork, NetworkSet, parseAddress, type Address, type BelievedClient } from './client-address.js'
import { edgeCountry, UNKNOWN_COUNTRY, type GeoLookup } from './geo-lookup.js'
import { verifyLink, type SigningKeys } from './signed-link.js'

/** Decision is what the access policy says about one request for one payload. */
export type Decision =
  | { readonly allow: true; readonly client: string; readonly vary: readonly string[] }
  | { readonly allow: false; readonly client: string; readonly vary: readonly string[]; readonly rule: string; readonly reason: string }
// client: the client's address as believed (X-Forwarded-For walked right to left through trusted proxies), for the log.
// vary: lower-case names of request headers the decision read (edge country header, identity headers), for Vary.
// rule: which rule decided, e.g. "payloads[3].acl.networks.deny" ; reason: a sentence for the access log (never sent).

/** AccessPolicy decides who may download a payload. Pure given its inputs; `at` is the request time (epoch ms). */
export interface AccessPolicy {
  decide(payload: Payload, request: RequestFacts, at: number): Decision
}

/** ManifestAccessPolicyOptions configure a {@link ManifestAccessPolicy}. */
export interface ManifestAccessPolicyOptions {
  /**
   * trustedProxies are the proxies (CIDRs or addresses, IPv4 or IPv6) whose X-Forwarded-For,
   * country header and identity headers are believed. If unset, defaults to none: only the
   * socket's address counts and those headers are never read.
   */
  readonly trustedProxies?: ReadonlyArray<string | Network>
  /** geo maps client addresses to countries; if unset, every client's country is '--' (unless a trusted edge header says). */
  readonly geo?: GeoLookup
  /**
   * countryHeader is the request header a trusted edge sets to the client's country (e.g.
   * `CloudFront-Viewer-Country`), believed instead of the database when the peer is a trusted
   * proxy; if unset, the database alone decides.
   */
  readonly countryHeader?: string
  /** identityHeader is the header a trusted proxy sets to the authenticated user; if unset, no request has a user. */
  readonly identityHeader?: string
  /** userTypeHeader is the header a trusted proxy sets to the user's type; if unset, no request has a user type. */
  readonly userTypeHeader?: string
  /** keys verify signed links; if unset, a payload with `signed: true` refuses every request. */
  readonly keys?: SigningKeys
  /**
   * manifestPath names a payload in rule names (`payloads[3]`, see {@link manifestPaths}); if
   * unset, defaults to `payloads[name=<the payload's name>]`.
   */
  readonly manifestPath?: (payload: Payload) => string
}

/**
 * manifestPaths returns a {@link ManifestAccessPolicyOptions.manifestPath} that names each payload
 * of `manifest` by its index, as manifest problems do (`payloads[3]`), and any other payload by name.
 */
export function manifestPaths(manifest: Manifest): (payload: Payload) => string {
  const index = new Map<Payload, number>(manifest.payloads.map((p, i) => [p, i]))
  return p => {
    const i = index.get(p)
    return i === undefined ? `payloads[name=${p.name}]` : `payloads[${i}]`
  }
}

/** HEADER_NAME is a field name (RFC 9110 section 5.1: a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** headerOption lower-cases an optional header name, throwing TypeError for one that is not a token. */
function headerOption(name: string | undefined, what: string): string | undefined {
  if (name === undefined) return undefined
  if (!HEADER_NAME.test(name)) throw new TypeError(`${what} "${name}" is not a header field name`)
  return name.toLowerCase()
}

/** single returns a header's value when it was sent once and is not empty, else undefined. */
function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name]
  if (typeof v !== 'string') return undefined
  const t = v.trim()
  return t === '' ? undefined : t
}

/**
 * ManifestAccessPolicy evaluates a payload's manifest `acl`. The evaluation order is fixed; the
 * first rule that refuses decides (its rule name and a reason for the log), otherwise the request
 * is allowed:
 *
 * 1. `networks.deny`, then `networks.allow`: the client address as believed (see clientAddress:
 *    X-Forwarded-For only through trusted proxies). An address that does not parse is in no list.
 * 2. `countries.deny`, then `countries.allow`: the client's country, from the trusted edge
 *    header when the peer is a trusted proxy and the header holds a country, else from the
 *    database on the believed address, else '--' (unknown). An allow list admits '--' only if it
 *    lists '--'.
 * 3. `signed`: a valid signed link (see signed-link.ts) for this method, path and query.
 * 4. `users.deny`, then `users.allow`; 5. `user_types.deny`, then `user_types.allow`: the
 *    identity headers, read only when the peer is a trusted proxy (a client could send them
 *    itself). No identity matches no deny list and is refused by any allow list.
 *
 * Cheap, local rules come first; the order does not change whether a request is allowed (every
 * rule must admit it), only which refusal the log names.
 *
 * `vary` lists every request header the payload's rules consult for this peer, even when an
 * earlier rule already refused: the same resource then always answers the same Vary (RFC 9110
 * section 12.5.5). That is x-forwarded-for (when the peer is trusted and a network or country rule
 * uses the address), the country header, and the identity headers, each only from a trusted peer.
 */
export class ManifestAccessPolicy implements AccessPolicy {
  readonly #trusted: NetworkSet
  readonly #geo: GeoLookup | undefined
  readonly #countryHeader: string | undefined
  readonly #identityHeader: string | undefined
  readonly #userTypeHeader: string | undefined
  readonly #keys: SigningKeys | undefined
  readonly #path: (payload: Payload) => string
  /** Parsed peer addresses (see #peer). */
  readonly #peers = new Map<string, PeerFacts>()

  /** The constructor throws TypeError for a trusted proxy that is not a network or a header name that is not a token. */
  constructor(o: ManifestAccessPolicyOptions = {}) {
    this.#trusted = new NetworkSet(o.trustedProxies ?? [])
    this.#geo = o.geo
    this.#countryHeader = headerOption(o.countryHeader, 'countryHeader')
    this.#identityHeader = headerOption(o.identityHeader, 'identityHeader')
    this.#userTypeHeader = headerOption(o.userTypeHeader, 'userTypeHeader')
    this.#keys = o.keys
    this.#path = o.manifestPath ?? (p => `payloads[name=${p.name}]`)
  }

  /** decide evaluates `payload.acl` for `request` at `at` (epoch ms); a payload without acl is allowed. */
  decide(payload: Payload, request: RequestFacts, at: number): Decision {
    const acl = payload.acl
    const facts = this.#peer(request.remote)
    const trustedPeer = facts.trusted
    const xff = request.headers['x-forwarded-for']
    // X-Forwarded-For is only walked from a trusted peer; anyone else is the client it connects from.
    const believed = xff === undefined || !trustedPeer ? facts.self : believedClient(facts.address, request.remote, xff, this.#trusted)
    const client = believed.text
    if (acl === undefined) return { allow: true, client, vary: NO_VARY }

    // Only a trusted peer's headers are read, so only then can the answer vary with them.
    let vary: readonly string[] = NO_VARY
    if (trustedPeer) {
      const v: string[] = []
      if (acl.networks !== undefined || (acl.countries !== undefined && this.#geo !== undefined)) v.push('x-forwarded-for')
      if (acl.countries !== undefined && this.#countryHeader !== undefined) v.push(this.#countryHeader)
      if (acl.users !== undefined && this.#identityHeader !== undefined) v.push(this.#identityHeader)
      if (acl.userTypes !== undefined && this.#userTypeHeader !== undefined) v.push(this.#userTypeHeader)
      vary = v
    }
    const deny = (rule: string, reason: string): Decision => ({ allow: false, client, vary, rule: `${this.#path(payload)}.acl.${rule}`, reason })

    if (acl.networks !== undefined) {
      const a = believed.address
      const denied = acl.networks.deny && firstContaining(acl.networks.deny, a)
      if (denied) return deny('networks.deny', `client ${client} is in denied network ${denied.source}`)
      if (acl.networks.allow && !firstContaining(acl.networks.allow, a)) return deny('networks.allow', `client ${client || '(no address)'} is in no allowed network`)
    }

    if (acl.countries !== undefined) {
      const country = this.#country(request.headers, trustedPeer, believed.address ?? client)
      const r = listCheck(acl.countries, country)
      if (r !== undefined) return deny(`countries.${r}`, r === 'deny' ? `client country ${country} is denied` : `client country ${country} is not allowed`)
    }

    if (acl.signed) {
      if (this.#keys === undefined) return deny('signed', 'a signed link is required and no signing keys are configured')
      const v = verifyLink(request.method, request.path, request.query, at, this.#keys)
      if (!v.ok) return deny('signed', `signed link refused (${v.failure}): ${v.reason}`)
    }

    if (acl.users !== undefined) {
      const user = trustedPeer && this.#identityHeader !== undefined ? single(request.headers, this.#identityHeader) : undefined
      const r = listCheck(acl.users, user)
      if (r !== undefined) return deny(`users.${r}`, user === undefined ? 'no user identity' : `user ${JSON.stringify(user)} is ${r === 'deny' ? 'denied' : 'not allowed'}`)
    }

    if (acl.userTypes !== undefined) {
      const type = trustedPeer && this.#userTypeHeader !== undefined ? single(request.headers, this.#userTypeHeader) : undefined
      const r = listCheck(acl.userTypes, type)
      if (r !== undefined) return deny(`user_types.${r}`, type === undefined ? 'no user type' : `user type ${JSON.stringify(type)} is ${r === 'deny' ? 'denied' : 'not allowed'}`)
    }

    return { allow: true, client, vary }
  }

  /**
   * #peer is parseAddress of a socket's address, remembered: a keep-alive connection asks for the
   * same one on every request. Bounded: past PEER_MEMO_ENTRIES addresses it starts afresh.
   */
  #peer(remote: string): PeerFacts {
    let f = this.#peers.get(remote)
    if (f === undefined) {
      if (this.#peers.size >= PEER_MEMO_ENTRIES) this.#peers.clear()
      const address = parseAddress(remote)
      f = { address, trusted: address !== undefined && this.#trusted.has(address), self: believedClient(address, remote, undefined, this.#trusted) }
      this.#peers.set(remote, f)
    }
    return f
  }

  /** #country is the client's country: the trusted edge's header, else the database, else '--'. */
  #country(headers: IncomingHttpHeaders, trustedPeer: boolean, client: Address | string): string {
    if (trustedPeer && this.#countryHeader !== undefined) {
      const c = edgeCountry(headers[this.#countryHeader])
      if (c !== undefined) return c
    }
    return this.#geo?.country(client) ?? UNKNOWN_COUNTRY
  }
}

/** PeerFacts is what a socket's address tells by itself: the address, whether it is a trusted proxy, and the client it is when no header says otherwise. */
interface PeerFacts {
  readonly address: Address | undefined
  readonly trusted: boolean
  readonly self: BelievedClient
}

/** PEER_MEMO_ENTRIES bounds the parsed peer addresses an access policy remembers. */
const PEER_MEMO_ENTRIES = 4096

/** NO_VARY is the Vary of a decision that read no request field but the peer's address: shared, never written. */
const NO_VARY: readonly string[] = Object.freeze([])

/** firstContaining is the first network of `list` that holds `address` (undefined for an address that did not parse). */
function firstContaining(list: readonly Network[], address: Address | undefined): Network | undefined {
  if (address === undefined) return undefined
  for (const n of list) if (inNetwork(address, n)) return n
  return undefined
}

/**
 * listCheck applies a deny list, then an allow list, to a value (undefined: none, e.g. no user
 * identity, which no deny list names and every allow list refuses). It returns which list refused.
 */
function listCheck(lists: AllowDeny<string>, value: string | undefined): 'deny' | 'allow' | undefined {
  if (value !== undefined && lists.deny?.includes(value)) return 'deny'
  if (lists.allow !== undefined && (value === undefined || !lists.allow.includes(value))) return 'allow'
  return undefined
}
