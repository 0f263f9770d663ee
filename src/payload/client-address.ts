import ipaddr from 'ipaddr.js'
import type { Network } from '../manifest/manifest.js'
import { parseNetwork } from '../manifest/parse-network.js'

/**
 * Address is a parsed IP address. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, RFC 4291 section
 * 2.5.5.2) is always the IPv4 address: a dual-stack socket reports IPv4 clients that way, and a
 * rule written `10.0.0.0/8` must match them.
 */
export interface Address {
  /** family is the address family after unmapping. */
  readonly family: 'ipv4' | 'ipv6'
  /** bytes are the address's bytes: 4 for IPv4, 16 for IPv6. */
  readonly bytes: readonly number[]
  /** text is the normal form: a dotted quad, or ipaddr.js's compressed IPv6 form. */
  readonly text: string
}

/**
 * parseAddress parses one IP address (no port, no brackets, no zone, no CIDR), or returns
 * undefined. IPv4 must be four decimal parts (`10.1` or `0x0a.0.0.1` are refused: resolvers read
 * them differently, so they are no address a proxy would write). IPv4-mapped IPv6 becomes IPv4.
 */
export function parseAddress(text: string): Address | undefined {
  // The common cases without ipaddr.js's regular expressions (over half of manifest mode's own time
  // per request in one profile): a dotted quad, and one mapped into IPv6 as a dual-stack socket reports it.
  const quad = dottedQuad(text, 0)
  if (quad !== undefined) return { family: 'ipv4', bytes: quad, text }
  if (text.startsWith('::ffff:')) {
    const mapped = dottedQuad(text, 7)
    if (mapped !== undefined) return { family: 'ipv4', bytes: mapped, text: text.slice(7) }
  }
  return parseWithIpaddr(text)
}

/**
 * parseWithIpaddr is {@link parseAddress} decided by ipaddr.js alone, without the hand-written
 * IPv4 paths: every address form, and the reference those paths must agree with (tests compare them).
 */
export function parseWithIpaddr(text: string): Address | undefined {
  let addr: ipaddr.IPv4 | ipaddr.IPv6
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) addr = ipaddr.IPv4.parse(text)
  else if (/^[0-9A-Fa-f:.]+$/.test(text) && text.includes(':') && ipaddr.IPv6.isValid(text)) addr = ipaddr.IPv6.parse(text)
  else return undefined
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address()
  return { family: addr.kind(), bytes: addr.toByteArray(), text: addr.toString() }
}

/**
 * dottedQuad parses `text` from `from` to its end as ipaddr.js's four-part decimal IPv4 address
 * (`IPv4.isValidFourPartDecimal`): four parts `0` or `[1-9][0-9]*`, each at most 255, no leading
 * zeros, nothing else. Returns the four bytes, or undefined (then the caller asks ipaddr.js).
 */
function dottedQuad(text: string, from: number): number[] | undefined {
  const bytes: number[] = []
  let i = from
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (text.charCodeAt(i) !== 0x2e) return undefined
      i++
    }
    const start = i
    let v = 0
    for (let c = text.charCodeAt(i); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i)) {
      v = v * 10 + (c - 0x30)
      if (v > 255) return undefined
    }
    if (i === start || (text.charCodeAt(start) === 0x30 && i - start > 1)) return undefined
    bytes.push(v)
  }
  return i === text.length ? bytes : undefined
}

/**
 * unmapNetwork returns an IPv4-mapped IPv6 network (inside ::ffff:0:0/96) as the IPv4 network it
 * stands for, and any other network as is, so that it matches what {@link parseAddress} returns.
 * (parseNetwork refuses host bits, so a mapped network always has a prefix of at least 96.)
 */
function unmapNetwork(n: Network): Pick<Network, 'family' | 'bytes' | 'prefixLength'> {
  if (!n.ipv4Mapped || n.prefixLength < 96) return n
  return { family: 'ipv4', bytes: n.bytes.slice(12), prefixLength: n.prefixLength - 96 }
}

/**
 * inNetwork tells whether `address` is inside `network`, both seen with IPv4-mapped addresses as
 * IPv4. An IPv6 network never contains an IPv4 address (`::/0` is not "everything").
 */
export function inNetwork(address: Address, network: Network): boolean {
  const n = unmapNetwork(network)
  if (n.family !== address.family) return false
  let bits = n.prefixLength
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if (((address.bytes[i] ?? 0) & mask) !== ((n.bytes[i] ?? 0) & mask)) return false
  }
  return true
}

/**
 * NetworkSet is a list of networks (such as the trusted proxies) that an address is looked up in.
 * The constructor takes parsed networks or their text (CIDRs or single addresses, IPv4 or IPv6) and
 * throws TypeError for text that is neither.
 */
export class NetworkSet {
  /** networks are the parsed networks, in the order given. */
  readonly networks: readonly Network[]

  constructor(networks: ReadonlyArray<string | Network> = []) {
    this.networks = networks.map(n => {
      if (typeof n !== 'string') return n
      const parsed = parseNetwork(n)
      if (typeof parsed === 'string') throw new TypeError(`network "${n}" ${parsed}`)
      return parsed
    })
  }

  /** has tells whether the address (parsed, or text; unparsable text is in no set) is in any network of the set. */
  has(address: Address | string | undefined): boolean {
    const a = typeof address === 'string' ? parseAddress(address) : address
    return a !== undefined && this.networks.some(n => inNetwork(a, n))
  }
}

/**
 * clientAddress is the client's address as believed, in the normal form of {@link parseAddress}
 * (the peer as given when it does not parse, e.g. "" for a socket already gone).
 *
 * X-Forwarded-For is believed only when the peer (the socket's address) is in `trusted`: a client
 * that connects directly and sends its own X-Forwarded-For gains nothing. Then the list is walked
 * from right to left, as nginx's `real_ip_recursive on`: each proxy appends the address it saw, so
 * the rightmost entries were written by our own proxies and the first untrusted entry is the
 * client. Every entry trusted: the leftmost is the client. An entry that is not an address (a
 * port, brackets, `unknown`, garbage) stops the walk: the address before it (the last trusted
 * one, or the peer) is the client, since nothing left of it can be vouched for.
 *
 * Several X-Forwarded-For field lines are one list joined by commas, in order (RFC 9110 section
 * 5.3); empty list elements are ignored (RFC 9110 section 5.6.1). Node already joins repeated lines
 * with ", "; an array is accepted too.
 */
export function clientAddress(peer: string, xForwardedFor: string | readonly string[] | undefined, trusted: NetworkSet): string {
  return believedClient(parseAddress(peer), peer, xForwardedFor, trusted).text
}

/**
 * BelievedClient is {@link clientAddress}'s answer with the parsed address (undefined when the peer
 * itself does not parse): the access policy matches networks against it without parsing it again.
 */
export interface BelievedClient {
  readonly address: Address | undefined
  readonly text: string
}

/**
 * believedClient is {@link clientAddress} for a peer already parsed (`peer`, undefined when `rawPeer`
 * does not parse), returning the address with its text.
 */
export function believedClient(
  peer: Address | undefined,
  rawPeer: string,
  xForwardedFor: string | readonly string[] | undefined,
  trusted: NetworkSet,
): BelievedClient {
  if (peer === undefined) return { address: undefined, text: rawPeer }
  if (xForwardedFor === undefined || !trusted.has(peer)) return { address: peer, text: peer.text }
  const list = typeof xForwardedFor === 'string' ? xForwardedFor : xForwardedFor.join(',')
  const entries = list.split(',').map(e => e.trim()).filter(e => e !== '')
  let client = peer
  for (let i = entries.length - 1; i >= 0; i--) {
    const a = parseAddress(entries[i]!)
    if (a === undefined) break
    client = a
    if (!trusted.has(a)) break
  }
  return { address: client, text: client.text }
}
