import ipaddr from 'ipaddr.js'
import type { Network } from './manifest.js'

/** NETWORK_MESSAGE is the problem message for text that is neither an address nor a CIDR. */
export const NETWORK_MESSAGE = 'must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32'

/**
 * parseNetwork parses a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address (an IPv4 /32, an
 * IPv6 /128) into a Network, or returns a plain-sentence reason why it is not one. IPv4 must be four
 * decimal parts (no `10.1`, `0x0a.0.0.1` or leading zeros, which resolvers read differently); zone
 * identifiers are refused; a CIDR with host bits set is refused, since `10.0.0.1/8` is more likely a
 * typo than a wish for `10.0.0.0/8`.
 */
export function parseNetwork(source: string): Network | string {
  const m = /^([0-9A-Fa-f:.]+)(?:\/([0-9]{1,3}))?$/.exec(source)
  if (m === null) return NETWORK_MESSAGE
  const text = m[1]!
  let addr: ipaddr.IPv4 | ipaddr.IPv6
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) addr = ipaddr.IPv4.parse(text)
  else if (text.includes(':') && ipaddr.IPv6.isValid(text)) addr = ipaddr.IPv6.parse(text)
  else return NETWORK_MESSAGE
  const family = addr.kind()
  const max = family === 'ipv4' ? 32 : 128
  const prefixLength = m[2] === undefined ? max : Number(m[2])
  if (prefixLength > max) return `has a prefix length over ${max}, the most an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} network has`
  const bytes = addr.toByteArray()
  const network = bytes.map((b, i) => {
    const bits = Math.min(8, Math.max(0, prefixLength - i * 8))
    return b & ((0xff << (8 - bits)) & 0xff)
  })
  const address = ipaddr.fromByteArray(network).toString()
  if (network.some((b, i) => b !== bytes[i])) return `has host bits set after the first ${prefixLength} (did you mean ${address}/${prefixLength}?)`
  const ipv4Mapped = addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
  return { source, family, address, bytes: network, prefixLength, ipv4Mapped }
}
