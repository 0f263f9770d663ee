/**
 * Html is markup known to be safe: produced by {@link markup} (which escapes every interpolated
 * value) or declared so with {@link raw}. Anything else put into markup is text and gets escaped.
 */
export class Html {
  readonly value: string
  constructor(value: string) {
    this.value = value
  }
  toString(): string {
    return this.value
  }
}

/** Interpolation is what {@link markup} accepts between its literal parts. */
export type Interpolation = Html | string | number | boolean | undefined | null | readonly Interpolation[]

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/**
 * escapeHtml escapes text for an HTML element body or a quoted attribute value (`& < > " '`). Pure.
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, c => ENTITIES[c]!)
}

function render(v: Interpolation): string {
  if (v instanceof Html) return v.value
  if (v === undefined || v === null || v === false) return ''
  if (Array.isArray(v)) return v.map(render).join('')
  return escapeHtml(String(v))
}

/**
 * markup is a template tag that builds {@link Html}: the literal parts are kept as written, every
 * interpolated value is escaped unless it is Html already; arrays are joined; undefined, null and
 * false render as nothing. Values must only go into element bodies or quoted attribute values. (It
 * is not named `html` so that prettier leaves the markup as written.)
 */
export function markup(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!
  return new Html(out)
}

/** raw declares a string to be safe markup, unescaped. Use it only for text this program wrote. */
export function raw(s: string): Html {
  return new Html(s)
}
