import { extname } from 'node:path'
import mime from 'mime-types'
import { isMediaType, type MimeTable } from './mime-table.js'
import { detectContentType, SNIFF_LEN } from './sniff.js'

/** SNIFF is the {@link ContentTypeResolverOptions.defaultType} that sniffs the content, as Go does. */
export const SNIFF = 'sniff'

/** ContentTypeResolverOptions configures a {@link ContentTypeResolver}. */
export interface ContentTypeResolverOptions {
  /**
   * The extension table, used as is (no charset added). If unset, defaults to the mime-types
   * package's table with `; charset=utf-8` added to `text/*` types, as Go's mime package does.
   */
  readonly table?: MimeTable | undefined
  /**
   * The type of names the table lacks: {@link SNIFF} (detect it from the first 512 bytes, as Go's
   * `http.ServeContent` does) or a fixed media type such as `application/octet-stream` (nginx's
   * `default_type`). If unset, defaults to `sniff`.
   */
  readonly defaultType?: string | undefined
}

/**
 * ContentTypeResolver picks a file's Content-Type (RFC 9110 §8.3) the way Go's `http.ServeContent`
 * does: by the name's extension, else from the content's first {@link SNIFF_LEN} bytes
 * (`http.DetectContentType`); or, when configured so, with a given table and a fixed default type.
 * Callers ask {@link byName} first and read the head of the file only when it answers undefined.
 */
export class ContentTypeResolver {
  readonly #table: MimeTable | undefined
  readonly #fixed: string | undefined

  /** Throws TypeError for a defaultType that is neither `sniff` nor a media type. */
  constructor(o: ContentTypeResolverOptions = {}) {
    this.#table = o.table
    const d = o.defaultType ?? SNIFF
    if (d !== SNIFF && !isMediaType(d)) throw new TypeError(`defaultType must be "sniff" or a media type, got "${d}"`)
    this.#fixed = d === SNIFF ? undefined : d
  }

  /**
   * byName returns the type decided by the file name alone (the table, else a fixed default type),
   * or undefined when the content must be sniffed: then call {@link sniff} with its first bytes.
   */
  byName(name: string): string | undefined {
    return (this.#table ? this.#table.lookup(name) : packageType(name)) ?? this.#fixed
  }

  /** sniff is the type of content whose first bytes (up to {@link SNIFF_LEN}; more are ignored) are `head`. */
  sniff(head: Uint8Array): string {
    return detectContentType(head)
  }
}

/** packageType is the mime-types package's type for the extension; text types get charset=utf-8 as in Go. */
function packageType(name: string): string | undefined {
  const t = mime.lookup(extname(name))
  if (!t) return undefined
  return t.startsWith('text/') ? `${t}; charset=utf-8` : t
}
