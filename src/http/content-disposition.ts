/**
 * ATTR_CHAR is RFC 8187 §3.2.1's attr-char: what an ext-value may carry unencoded. Every other
 * UTF-8 byte is percent-encoded.
 */
const ATTR_CHAR = /^[A-Za-z0-9!#$&+.^_`|~-]$/

/**
 * asciiFallback is the `filename` parameter for user agents that do not read `filename*`: the name
 * with every character outside printable ASCII replaced by `_`, and so are `"` and `\` (a
 * quoted-string could escape them, but RFC 6266 §4.3 and its Appendix D warn that user agents
 * disagree on backslash escapes) and `%` (some user agents percent-decode `filename`, Appendix D).
 */
function asciiFallback(name: string): string {
  let out = ''
  for (const ch of name) {
    const c = ch.codePointAt(0)!
    out += c < 0x20 || c > 0x7e || ch === '"' || ch === '\\' || ch === '%' ? '_' : ch
  }
  return out
}

/** extValue encodes a name as RFC 8187 §3.2.1's ext-value: `UTF-8''` and the percent-encoded UTF-8 bytes. */
function extValue(name: string): string {
  let out = "UTF-8''"
  for (const ch of name) {
    if (ATTR_CHAR.test(ch)) out += ch
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/**
 * contentDisposition is the `Content-Disposition` field value that makes a download save as
 * `filename`: `attachment; filename="<ascii>"` (RFC 6266 §4.1, §4.3), followed by
 * `filename*=UTF-8''<pct-encoded>` (RFC 8187) only when the ASCII fallback is not the name itself
 * (non-ASCII characters, `"`, `\`, `%`, controls): RFC 6266 §4.3 puts `filename` first so that user
 * agents that do not know `filename*` still get a name, and those that do prefer `filename*`.
 * The result never holds a control character, so it is always a valid field value.
 */
export function contentDisposition(filename: string): string {
  const fallback = asciiFallback(filename)
  const head = `attachment; filename="${fallback}"`
  return fallback === filename ? head : `${head}; filename*=${extValue(filename)}`
}
