/**
 * HOP_BY_HOP are the fields that describe one connection rather than the message (RFC 9110 §7.6.1,
 * plus `keep-alive` and `proxy-connection`, which old clients still send, and the proxy
 * authentication fields, which belong to one hop too): a proxy does not forward them and a
 * comparison of two servers never compares them. Lower-case.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
])

/**
 * connectionTokens lists the field names a Connection field value names (RFC 9110 §7.6.1: they are
 * hop-by-hop for this message too), lower-cased, empty list elements left out. An unset value names
 * nothing.
 */
export function connectionTokens(value: string | undefined): string[] {
  if (value === undefined) return []
  const out: string[] = []
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase()
    if (name !== '') out.push(name)
  }
  return out
}

/**
 * rawHeaderPairs turns Node's (and undici's) flat raw field list `[name, value, name, value, ...]`
 * into `[name, value]` pairs in wire order, repeated fields kept apart: names in lower case (what
 * comparisons read), or as sent with `keepCase` (what is passed on, e.g. trailers). A trailing
 * name without a value is dropped.
 */
export function rawHeaderPairs(raw: readonly string[], o: { readonly keepCase?: boolean } = {}): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([o.keepCase ? raw[i]! : raw[i]!.toLowerCase(), raw[i + 1]!])
  return out
}

/**
 * SHADOW_MARKER is the request header `cutover mirror` sets on the copies it sends to the shadow
 * server (value `1`), and strips from clients' own requests: a server that sees it knows the
 * request is audit traffic, not a client's (`serve` logs it as such and `replay` skips it).
 */
export const SHADOW_MARKER = 'x-cutover-shadow'
