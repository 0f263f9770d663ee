/**
 * Content sniffing as Go 1.23's `http.DetectContentType` (net/http/sniff.go) does it: the WHATWG
 * MIME Sniffing Standard's signature table (https://mimesniff.spec.whatwg.org/), in Go's order and
 * with Go's deviations (RAR Labs' RAR signatures, WebAssembly, fonts; no `audio/basic`).
 * `http.ServeContent` uses it when the extension gives no type, so a server that claims Go parity
 * must give the same answer for the same first bytes.
 */

/** SNIFF_LEN is the number of leading bytes the algorithm looks at; the rest never matters. */
export const SNIFF_LEN = 512

/** TEXT_UTF8 is what Go answers for data without binary bytes (also for empty data). */
const TEXT_UTF8 = 'text/plain; charset=utf-8'
/** OCTET_STREAM is Go's fallback when no signature matches. */
const OCTET_STREAM = 'application/octet-stream'

/** A signature's matcher: the MIME type of the data, or '' when it does not match (Go's sniffSig). */
type Sig = (data: Uint8Array, firstNonWS: number) => string

/** latin1 turns a Go string literal written with \xNN escapes into its bytes. */
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, c => c.charCodeAt(0))

/** isWS is the spec's whitespace byte (0xWS): TAB, LF, FF, CR, SPACE. */
function isWS(b: number): boolean {
  return b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d || b === 0x20
}

/** isTT is the spec's tag-terminating byte (0xTT): SPACE or '>'. */
function isTT(b: number): boolean {
  return b === 0x20 || b === 0x3e
}

/** exactSig matches when the data (leading whitespace NOT skipped) starts with `sig`. */
function exactSig(sig: string, ct: string): Sig {
  const s = latin1(sig)
  return data => {
    if (data.length < s.length) return ''
    for (let i = 0; i < s.length; i++) if (data[i] !== s[i]) return ''
    return ct
  }
}

/**
 * maskedSig is the spec's pattern matching algorithm: data[i] & mask[i] must equal pat[i] for every
 * i. Only `skipWS` signatures (Go: `<?xml` alone) start after leading whitespace.
 */
function maskedSig(mask: string, pat: string, ct: string, skipWS = false): Sig {
  const m = latin1(mask)
  const p = latin1(pat)
  return (data, firstNonWS) => {
    const d = skipWS ? data.subarray(firstNonWS) : data
    if (p.length !== m.length) return ''
    if (d.length < p.length) return ''
    for (let i = 0; i < p.length; i++) if ((d[i]! & m[i]!) !== p[i]) return ''
    return ct
  }
}

/**
 * htmlSig matches an HTML tag after leading whitespace, ASCII letters case-insensitively, and only
 * when a tag-terminating byte follows (`<a>` and `<a ` are HTML, `<abbr` is not).
 */
function htmlSig(tag: string): Sig {
  const h = latin1(tag)
  return (data, firstNonWS) => {
    const d = data.subarray(firstNonWS)
    if (d.length < h.length + 1) return ''
    for (let i = 0; i < h.length; i++) {
      const b = h[i]!
      let db = d[i]!
      if (b >= 0x41 && b <= 0x5a) db &= 0xdf // upper-case the data byte where the pattern has a letter
      if (b !== db) return ''
    }
    if (!isTT(d[h.length]!)) return ''
    return 'text/html; charset=utf-8'
  }
}

const FTYP = latin1('ftyp')
const MP4 = latin1('mp4')

/**
 * mp4Sig is the spec's signature for MP4 (#signature-for-mp4): an `ftyp` box whose size is a multiple of 4
 * and fits in the data, with a `mp4` brand among the major and compatible brands (the minor version
 * at offset 12 is skipped).
 */
const mp4Sig: Sig = data => {
  if (data.length < 12) return ''
  const boxSize = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0
  if (data.length < boxSize || boxSize % 4 !== 0) return ''
  for (let i = 0; i < 4; i++) if (data[4 + i] !== FTYP[i]) return ''
  for (let st = 8; st < boxSize; st += 4) {
    if (st === 12) continue // the version number of the major brand
    if (data[st] === MP4[0] && data[st + 1] === MP4[1] && data[st + 2] === MP4[2]) return 'video/mp4'
  }
  return ''
}

/**
 * textSig answers text when no byte after the leading whitespace is a binary data byte (the spec's
 * #binary-data-byte: 0x00-0x08, 0x0B, 0x0E-0x1A, 0x1C-0x1F). Bytes >= 0x80 are not binary: any UTF-8 is text.
 */
const textSig: Sig = (data, firstNonWS) => {
  for (let i = firstNonWS; i < data.length; i++) {
    const b = data[i]!
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return ''
  }
  return TEXT_UTF8
}

/** SIGNATURES is Go 1.23's sniffSignatures, in its order: the first match wins. */
const SIGNATURES: readonly Sig[] = [
  htmlSig('<!DOCTYPE HTML'),
  htmlSig('<HTML'),
  htmlSig('<HEAD'),
  htmlSig('<SCRIPT'),
  htmlSig('<IFRAME'),
  htmlSig('<H1'),
  htmlSig('<DIV'),
  htmlSig('<FONT'),
  htmlSig('<TABLE'),
  htmlSig('<A'),
  htmlSig('<STYLE'),
  htmlSig('<TITLE'),
  htmlSig('<B'),
  htmlSig('<BODY'),
  htmlSig('<BR'),
  htmlSig('<P'),
  htmlSig('<!--'),
  maskedSig('\xFF\xFF\xFF\xFF\xFF', '<?xml', 'text/xml; charset=utf-8', true),
  exactSig('%PDF-', 'application/pdf'),
  exactSig('%!PS-Adobe-', 'application/postscript'),

  // UTF BOMs.
  maskedSig('\xFF\xFF\x00\x00', '\xFE\xFF\x00\x00', 'text/plain; charset=utf-16be'),
  maskedSig('\xFF\xFF\x00\x00', '\xFF\xFE\x00\x00', 'text/plain; charset=utf-16le'),
  maskedSig('\xFF\xFF\xFF\x00', '\xEF\xBB\xBF\x00', 'text/plain; charset=utf-8'),

  // Image types (image/x-icon, not the old draft's image/vnd.microsoft.icon: #matching-an-image-type-pattern).
  exactSig('\x00\x00\x01\x00', 'image/x-icon'),
  exactSig('\x00\x00\x02\x00', 'image/x-icon'),
  exactSig('BM', 'image/bmp'),
  exactSig('GIF87a', 'image/gif'),
  exactSig('GIF89a', 'image/gif'),
  maskedSig('\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF', 'RIFF\x00\x00\x00\x00WEBPVP', 'image/webp'),
  exactSig('\x89PNG\x0D\x0A\x1A\x0A', 'image/png'),
  exactSig('\xFF\xD8\xFF', 'image/jpeg'),

  // Audio and video types, in the order of #matching-an-audio-or-video-type-pattern.
  maskedSig('\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF', 'FORM\x00\x00\x00\x00AIFF', 'audio/aiff'),
  maskedSig('\xFF\xFF\xFF', 'ID3', 'audio/mpeg'),
  maskedSig('\xFF\xFF\xFF\xFF\xFF', 'OggS\x00', 'application/ogg'),
  maskedSig('\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF', 'MThd\x00\x00\x00\x06', 'audio/midi'),
  maskedSig('\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF', 'RIFF\x00\x00\x00\x00AVI ', 'video/avi'),
  maskedSig('\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF', 'RIFF\x00\x00\x00\x00WAVE', 'audio/wave'),
  mp4Sig,
  exactSig('\x1A\x45\xDF\xA3', 'video/webm'),

  // Font types. Embedded OpenType: 34 bytes of anything, then "LP".
  maskedSig(`${'\x00'.repeat(34)}\xFF\xFF`, `${'\x00'.repeat(34)}LP`, 'application/vnd.ms-fontobject'),
  exactSig('\x00\x01\x00\x00', 'font/ttf'),
  exactSig('OTTO', 'font/otf'),
  exactSig('ttcf', 'font/collection'),
  exactSig('wOFF', 'font/woff'),
  exactSig('wOF2', 'font/woff2'),

  // Archive types. RAR as RAR Labs defines it (the spec's is wrong: whatwg/mimesniff#63), as Go does.
  exactSig('\x1F\x8B\x08', 'application/x-gzip'),
  exactSig('PK\x03\x04', 'application/zip'),
  exactSig('Rar!\x1A\x07\x00', 'application/x-rar-compressed'), // RAR v1.5-v4.0
  exactSig('Rar!\x1A\x07\x01\x00', 'application/x-rar-compressed'), // RAR v5+

  exactSig('\x00\x61\x73\x6D', 'application/wasm'),

  textSig, // must be last
]

/**
 * detectContentType returns the MIME type of `data` as Go's `http.DetectContentType` does,
 * considering at most its first {@link SNIFF_LEN} bytes: always a valid type, `text/plain;
 * charset=utf-8` for text (and for empty data), `application/octet-stream` when nothing matches.
 * Leading whitespace is skipped only by the HTML and XML signatures (and the text rule), as in Go.
 */
export function detectContentType(data: Uint8Array): string {
  const d = data.length > SNIFF_LEN ? data.subarray(0, SNIFF_LEN) : data
  let firstNonWS = 0
  while (firstNonWS < d.length && isWS(d[firstNonWS]!)) firstNonWS++
  for (const sig of SIGNATURES) {
    const ct = sig(d, firstNonWS)
    if (ct !== '') return ct
  }
  return OCTET_STREAM
}
