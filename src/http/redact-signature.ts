/**
 * SIGNATURE_PARAM is the query parameter that carries a signed link's signature (see
 * payload/signed-link.ts for the format): the one part of a request target logs must not keep.
 */
export const SIGNATURE_PARAM = 'sig'

/**
 * REDACTED replaces a signature in logs: a signed link is a bearer credential until it expires,
 * so access logs and captures must not hold one that works.
 */
export const REDACTED = 'REDACTED'

/**
 * redactSignature returns a request target (path and query, or a whole URL) with the value of
 * every `sig` query parameter replaced by REDACTED, everything else byte for byte. A parameter
 * whose name only decodes to `sig` (`%73ig`) is redacted too, since verifyLink reads it as one.
 */
export function redactSignature(target: string): string {
  const q = target.indexOf('?')
  if (q < 0) return target
  const hash = target.indexOf('#', q)
  const end = hash < 0 ? target.length : hash
  const parts = target.slice(q + 1, end).split('&').map(part => {
    const eq = part.indexOf('=')
    const raw = eq < 0 ? part : part.slice(0, eq)
    let name: string
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' '))
    } catch {
      return part
    }
    return name === SIGNATURE_PARAM ? `${raw}=${REDACTED}` : part
  })
  return `${target.slice(0, q + 1)}${parts.join('&')}${target.slice(end)}`
}
