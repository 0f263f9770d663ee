import { CutoverError } from '../core/errors.js'

/** MimeTableFormat is the syntax a table was read in. */
export type MimeTableFormat = 'nginx' | 'apache'

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
/**
 * MEDIA_TYPE is RFC 9110 §8.3.1's media-type: `type/subtype` tokens, optionally with parameters
 * (a quoted nginx type may carry `; charset=...`). Anything else would be sent as a broken header.
 */
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[^"\\\\]|\\\\.)*"))*$`)

/** isMediaType tells whether `s` is a media type that may be sent as a Content-Type value. */
export function isMediaType(s: string): boolean {
  return MEDIA_TYPE.test(s)
}

/**
 * lastExtension is the part of a path's last segment after its last dot, lower-cased, or undefined
 * when there is none. A leading dot does not start an extension (`.profile` has none), as in
 * nginx; `a.` has the empty extension, which no table lists.
 */
function lastExtension(name: string): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : undefined
}

/** Word is a token of an nginx file with the line it starts on. */
interface Word {
  readonly text: string
  readonly line: number
  /** True for `{`, `}` and `;` outside quotes. */
  readonly special: boolean
}

/**
 * MimeTable maps file extensions to media types, read from a `mime.types` file in either syntax:
 *
 * - nginx: `types { text/html html htm; image/png png; }`, `#` comments, an entry may span lines
 *   and ends with `;`; quoted types (`"text/plain; charset=utf-8" txt;`) are allowed.
 * - Apache and `/etc/mime.types`: one `type ext ext ...` per line, `#` comments; a type without
 *   extensions is allowed and maps nothing.
 *
 * The format is detected from the first word: `types` means nginx. Types are kept exactly as written
 * (no `charset` is added: nginx and Apache add none in their stock configuration); extensions are
 * matched case-insensitively, and a later entry for an extension replaces an earlier one, as in
 * nginx, Apache and Go's mime package. Extensions containing a dot are skipped (see addExtension).
 */
export class MimeTable {
  /** The syntax the file was written in. */
  readonly format: MimeTableFormat
  readonly #types: ReadonlyMap<string, string>

  private constructor(format: MimeTableFormat, types: ReadonlyMap<string, string>) {
    this.format = format
    this.#types = types
  }

  /**
   * parse reads the text of a mime.types file. `file` is only used in messages. Throws CutoverError
   * ERR_INVALID_ARGUMENT as `FILE:LINE: what is wrong` for a bad media type, a bad extension, or
   * nginx syntax that does not parse.
   */
  static parse(text: string, file: string): MimeTable {
    const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text // a UTF-8 BOM is no word
    if (firstWord(src) === 'types') return new MimeTable('nginx', parseNginx(tokenize(src, file), file))
    return new MimeTable('apache', parseApache(src, file))
  }

  /** size is the number of extensions the table maps. */
  get size(): number {
    return this.#types.size
  }

  /**
   * lookup returns the type of a file name by its last extension (case-insensitive), or undefined
   * when the name has no extension or the table lacks it.
   */
  lookup(name: string): string | undefined {
    const ext = lastExtension(name)
    return ext === undefined ? undefined : this.#types.get(ext)
  }
}

const invalid = (file: string, line: number, what: string): CutoverError =>
  new CutoverError('ERR_INVALID_ARGUMENT', `${file}:${line}: ${what}`)

/**
 * addExtension validates one extension and maps it, lower-cased. An extension with a dot
 * (`cwl.json`, as /etc/mime.types lists) can never be a name's last extension, so it is skipped: Go's
 * mime package and Apache never match it either.
 */
function addExtension(types: Map<string, string>, ext: string, type: string, file: string, line: number): void {
  if (/[/\\\x00-\x20\x7f"';{}]/.test(ext)) throw invalid(file, line, `extension "${ext}" contains a character a file extension cannot have`)
  if (!ext.includes('.')) types.set(ext.toLowerCase(), type)
}

function checkType(type: string, file: string, line: number): void {
  if (!isMediaType(type)) throw invalid(file, line, `"${type}" is not a media type (expected type/subtype, e.g. text/plain)`)
}

/** firstWord is the first word of the text outside `#` comments: `types` for an nginx file. */
function firstWord(src: string): string | undefined {
  for (const line of src.split('\n')) {
    const m = /^\s*([^\s{};"'#]*)/.exec(line)!
    if (m[1] !== '') return m[1]
    if (!/^\s*(#.*)?$/.test(line)) return undefined // the first thing is a quote or a special
  }
  return undefined
}

/**
 * tokenize splits nginx configuration text into words, as nginx's own reader does: whitespace
 * separates, `#` at the start of a word comments to the end of the line, `{` `}` `;` stand alone,
 * and '...' or "..." quote (with backslash escapes).
 */
function tokenize(src: string, file: string): Word[] {
  const words: Word[] = []
  let line = 1
  let i = 0
  const n = src.length
  while (i < n) {
    const c = src[i]!
    if (c === '\n') {
      line++
      i++
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++
    } else if (c === '#') {
      while (i < n && src[i] !== '\n') i++
    } else if (c === '{' || c === '}' || c === ';') {
      words.push({ text: c, line, special: true })
      i++
    } else if (c === '"' || c === "'") {
      const start = line
      let text = ''
      i++
      for (;;) {
        if (i >= n) throw invalid(file, start, `unterminated ${c === '"' ? 'double' : 'single'} quote`)
        const q = src[i]!
        if (q === '\\' && i + 1 < n) {
          const e = src[i + 1]!
          text += e === 't' ? '\t' : e === 'r' ? '\r' : e === 'n' ? '\n' : e
          if (e === '\n') line++
          i += 2
          continue
        }
        if (q === c) break
        if (q === '\n') line++
        text += q
        i++
      }
      i++
      const after = src[i]
      if (after !== undefined && !/[\s;{}]/.test(after)) {
        throw invalid(file, line, `unexpected "${after}" after a quoted string`)
      }
      words.push({ text, line: start, special: false })
    } else {
      let j = i
      while (j < n && !/[\s;{}"']/.test(src[j]!)) j++
      words.push({ text: src.slice(i, j), line, special: false })
      i = j
    }
  }
  return words
}

/** parseNginx reads `types { type ext ...; ... }` from its words. */
function parseNginx(words: Word[], file: string): Map<string, string> {
  const types = new Map<string, string>()
  const open = words[1]
  if (!open || open.text !== '{' || !open.special) {
    throw invalid(file, open?.line ?? words[0]!.line, `expected "{" after "types", got ${open ? `"${open.text}"` : 'the end of the file'}`)
  }
  let entry: Word[] = []
  let i = 2
  for (; i < words.length; i++) {
    const w = words[i]!
    if (w.special && w.text === ';') {
      if (entry.length === 0) throw invalid(file, w.line, 'unexpected ";" (an entry is "type ext ...;")')
      const [type, ...exts] = entry
      if (type!.text === 'include') throw invalid(file, type!.line, '"include" is not supported: give the included file itself')
      checkType(type!.text, file, type!.line)
      for (const e of exts) {
        if (isMediaType(e.text)) {
          throw invalid(file, e.line, `"${e.text}" is a media type where an extension is expected: a ";" is missing at the end of the entry before it`)
        }
        addExtension(types, e.text, type!.text, file, e.line)
      }
      entry = []
    } else if (w.special && w.text === '}') {
      if (entry.length > 0) throw invalid(file, entry[0]!.line, `the entry "${entry.map(e => e.text).join(' ')}" has no ";" before "}"`)
      break
    } else if (w.special) {
      throw invalid(file, w.line, 'unexpected "{" inside the types block')
    } else {
      entry.push(w)
    }
  }
  if (i >= words.length) {
    if (entry.length > 0) throw invalid(file, entry[0]!.line, `unexpected end of file: the entry "${entry.map(e => e.text).join(' ')}" has no ";"`)
    throw invalid(file, open.line, 'unexpected end of file: the "types {" block is not closed')
  }
  const extra = words[i + 1]
  if (extra) throw invalid(file, extra.line, `unexpected "${extra.text}" after the end of the types block`)
  return types
}

/** parseApache reads `type ext ext ...` lines; `#` starts a comment at the start of a field. */
function parseApache(src: string, file: string): Map<string, string> {
  const types = new Map<string, string>()
  const lines = src.split('\n')
  for (let n = 0; n < lines.length; n++) {
    const fields = lines[n]!.trim().split(/\s+/).filter(f => f !== '')
    const end = fields.findIndex(f => f.startsWith('#'))
    if (end >= 0) fields.length = end
    if (fields.length === 0) continue
    const [type, ...exts] = fields
    checkType(type!, file, n + 1)
    for (const e of exts) addExtension(types, e, type!, file, n + 1)
  }
  return types
}
