import type { AddressInfo } from 'node:net'
import { networkInterfaces } from 'node:os'

/** Loopback names and addresses: a URL naming one reaches a server listening on loopback or on every address. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** The addresses of this machine's interfaces, as `networkInterfaces` gives them. */
function ownAddresses(): Set<string> {
  const all = new Set<string>()
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) all.add(a.address)
  return all
}

/**
 * pointsAtSelf tells whether `url` (a backend of `cutover mirror`, a store of `cutover serve`)
 * reaches the process's own listening socket `addr`: the same port, and a host that is the address
 * it listens on, a loopback one when it listens on loopback or on every address, or any address of
 * this machine when it listens on every address. A mirror pointed at itself would send each request
 * back to itself until the headers it appends grow past the limit; a server whose store is itself
 * would have each read wait on itself. Host names other than `localhost` are not resolved: a name
 * that happens to point here is not caught.
 */
export function pointsAtSelf(addr: AddressInfo, url: string, own: () => Set<string> = ownAddresses): boolean {
  const u = new URL(url)
  const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port)
  if (port !== addr.port) return false
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  const bound = addr.address.replace(/^::ffff:/, '')
  if (host === bound) return true
  const wildcard = bound === '0.0.0.0' || bound === '::'
  if (isLoopback(host)) return wildcard || isLoopback(bound)
  return wildcard && own().has(host)
}
