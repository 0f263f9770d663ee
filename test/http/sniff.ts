import t from 'tap'
import { detectContentType, SNIFF_LEN } from '../../src/http/sniff.js'

/** bin is the bytes of a Go string literal written with \xNN escapes (one char, one byte). */
const bin = (s: string): Buffer => Buffer.from(s, 'latin1')
/** utf8 is the bytes of a Go string literal with non-ASCII characters (Go source is UTF-8). */
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8')

interface Row {
  readonly desc: string
  readonly data: Uint8Array
  readonly contentType: string
}

/** GO_SNIFF_TESTS is every row of sniffTests in Go 1.23's net/http/sniff_test.go, in its order. */
const GO_SNIFF_TESTS: Row[] = [
  // Some nonsense.
  { desc: 'Empty', data: new Uint8Array(0), contentType: 'text/plain; charset=utf-8' },
  { desc: 'Binary', data: Uint8Array.of(1, 2, 3), contentType: 'application/octet-stream' },

  { desc: 'HTML document #1', data: utf8('<HtMl><bOdY>blah blah blah</body></html>'), contentType: 'text/html; charset=utf-8' },
  { desc: 'HTML document #2', data: utf8('<HTML></HTML>'), contentType: 'text/html; charset=utf-8' },
  { desc: 'HTML document #3 (leading whitespace)', data: utf8('   <!DOCTYPE HTML>...'), contentType: 'text/html; charset=utf-8' },
  { desc: 'HTML document #4 (leading CRLF)', data: utf8('\r\n<html>...'), contentType: 'text/html; charset=utf-8' },

  { desc: 'Plain text', data: utf8('This is not HTML. It has ☃ though.'), contentType: 'text/plain; charset=utf-8' },

  { desc: 'XML', data: utf8('\n<?xml!'), contentType: 'text/xml; charset=utf-8' },

  // Image types.
  { desc: 'Windows icon', data: bin('\x00\x00\x01\x00'), contentType: 'image/x-icon' },
  { desc: 'Windows cursor', data: bin('\x00\x00\x02\x00'), contentType: 'image/x-icon' },
  { desc: 'BMP image', data: bin('BM...'), contentType: 'image/bmp' },
  { desc: 'GIF 87a', data: bin('GIF87a'), contentType: 'image/gif' },
  { desc: 'GIF 89a', data: bin('GIF89a...'), contentType: 'image/gif' },
  { desc: 'WEBP image', data: bin('RIFF\x00\x00\x00\x00WEBPVP'), contentType: 'image/webp' },
  { desc: 'PNG image', data: bin('\x89PNG\x0D\x0A\x1A\x0A'), contentType: 'image/png' },
  { desc: 'JPEG image', data: bin('\xFF\xD8\xFF'), contentType: 'image/jpeg' },

  // Audio types.
  { desc: 'MIDI audio', data: bin('MThd\x00\x00\x00\x06\x00\x01'), contentType: 'audio/midi' },
  { desc: 'MP3 audio/MPEG audio', data: bin('ID3\x03\x00\x00\x00\x00\x0f'), contentType: 'audio/mpeg' },
  { desc: 'WAV audio #1', data: bin('RIFFb\xb8\x00\x00WAVEfmt \x12\x00\x00\x00\x06'), contentType: 'audio/wave' },
  { desc: 'WAV audio #2', data: bin('RIFF,\x00\x00\x00WAVEfmt \x12\x00\x00\x00\x06'), contentType: 'audio/wave' },
  {
    desc: 'AIFF audio #1',
    data: bin('FORM\x00\x00\x00\x00AIFFCOMM\x00\x00\x00\x12\x00\x01\x00\x00\x57\x55\x00\x10\x40\x0d\xf3\x34'),
    contentType: 'audio/aiff',
  },

  {
    desc: 'OGG audio',
    data: bin('OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x7e\x46\x00\x00\x00\x00\x00\x00\x1f\xf6\xb4\xfc\x01\x1e\x01\x76\x6f\x72'),
    contentType: 'application/ogg',
  },
  { desc: 'Must not match OGG', data: bin('owow\x00'), contentType: 'application/octet-stream' },
  { desc: 'Must not match OGG', data: bin('oooS\x00'), contentType: 'application/octet-stream' },
  { desc: 'Must not match OGG', data: bin('oggS\x00'), contentType: 'application/octet-stream' },

  // Video types.
  { desc: 'MP4 video', data: bin('\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom<\x06t\xbfmdat'), contentType: 'video/mp4' },
  { desc: 'AVI video #1', data: Buffer.concat([bin('RIFF,O\n\x00AVI LIST'), utf8('À')]), contentType: 'video/avi' },
  { desc: 'AVI video #2', data: Buffer.concat([bin('RIFF,\n\x00\x00AVI LIST'), utf8('À')]), contentType: 'video/avi' },

  // Font types. (Go leaves an MS.FontObject row commented out.)
  { desc: 'TTF sample  I', data: bin('\x00\x01\x00\x00\x00\x17\x01\x00\x00\x04\x01\x60\x4f'), contentType: 'font/ttf' },
  { desc: 'TTF sample II', data: bin('\x00\x01\x00\x00\x00\x0e\x00\x80\x00\x03\x00\x60\x46'), contentType: 'font/ttf' },

  { desc: 'OTTO sample  I', data: bin('\x4f\x54\x54\x4f\x00\x0e\x00\x80\x00\x03\x00\x60\x42\x41\x53\x45'), contentType: 'font/otf' },

  { desc: 'woff sample  I', data: bin('\x77\x4f\x46\x46\x00\x01\x00\x00\x00\x00\x30\x54\x00\x0d\x00\x00'), contentType: 'font/woff' },
  { desc: 'woff2 sample', data: bin('\x77\x4f\x46\x32\x00\x01\x00\x00\x00'), contentType: 'font/woff2' },
  { desc: 'wasm sample', data: bin('\x00\x61\x73\x6d\x01\x00'), contentType: 'application/wasm' },

  // Archive types
  { desc: 'RAR v1.5-v4.0', data: bin('Rar!\x1A\x07\x00'), contentType: 'application/x-rar-compressed' },
  { desc: 'RAR v5+', data: bin('Rar!\x1A\x07\x01\x00'), contentType: 'application/x-rar-compressed' },
  { desc: 'Incorrect RAR v1.5-v4.0', data: bin('Rar \x1A\x07\x00'), contentType: 'application/octet-stream' },
  { desc: 'Incorrect RAR v5+', data: bin('Rar \x1A\x07\x01\x00'), contentType: 'application/octet-stream' },
]

const text = (n: number, c = 'a'): Buffer => Buffer.alloc(n, c)

/**
 * MORE_ROWS pin the parts of Go's algorithm its own table leaves untested; each expectation follows
 * from sniff.go (and was checked against Go's DetectContentType).
 */
const MORE_ROWS: Row[] = [
  // The HTML tag-terminating byte rule.
  { desc: '<a> is HTML', data: utf8('<a>'), contentType: 'text/html; charset=utf-8' },
  { desc: '"<a " is HTML', data: utf8('<a href=x>'), contentType: 'text/html; charset=utf-8' },
  { desc: '<abbr> is not HTML (no terminating byte after <A)', data: utf8('<abbr>x</abbr>'), contentType: 'text/plain; charset=utf-8' },
  { desc: '<p\\n is not HTML (a newline does not terminate a tag)', data: utf8('<p\n'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'a tag with nothing after it is not HTML', data: utf8('<html'), contentType: 'text/plain; charset=utf-8' },
  { desc: '<!-- needs a terminating byte too', data: utf8('<!--x-->'), contentType: 'text/plain; charset=utf-8' },
  { desc: '<!-- followed by a space is HTML', data: utf8('<!-- x -->'), contentType: 'text/html; charset=utf-8' },
  { desc: 'DOCTYPE is matched case-insensitively', data: utf8('<!doctype html>'), contentType: 'text/html; charset=utf-8' },
  { desc: 'H1 digit is matched exactly', data: utf8('<h1>t</h1>'), contentType: 'text/html; charset=utf-8' },
  { desc: 'HTML after form feed and tab', data: utf8('\x0c\t<body>'), contentType: 'text/html; charset=utf-8' },
  { desc: 'a vertical tab is not whitespace (and is binary)', data: bin('\x0b<html>'), contentType: 'application/octet-stream' },
  { desc: 'a NUL-prefixed tag is binary', data: bin('\x00<html>'), contentType: 'application/octet-stream' },
  // XML skips whitespace and is case-sensitive.
  { desc: '<?xml after spaces', data: utf8('   <?xml version="1.0"?>'), contentType: 'text/xml; charset=utf-8' },
  { desc: '<?XML is not XML', data: utf8('<?XML version="1.0"?>'), contentType: 'text/plain; charset=utf-8' },
  // Exact signatures do not skip whitespace.
  { desc: '%PDF-', data: utf8('%PDF-1.7\n'), contentType: 'application/pdf' },
  { desc: '%PDF- after a space is just text', data: utf8(' %PDF-1.7\n'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'PostScript', data: utf8('%!PS-Adobe-3.0\n'), contentType: 'application/postscript' },
  { desc: 'GIF after a newline is text', data: utf8('\nGIF89a'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'gzip', data: bin('\x1f\x8b\x08\x00\x00\x00\x00\x00'), contentType: 'application/x-gzip' },
  { desc: 'gzip with another method byte is binary', data: bin('\x1f\x8b\x07\x00'), contentType: 'application/octet-stream' },
  { desc: 'zip', data: bin('PK\x03\x04\x14\x00'), contentType: 'application/zip' },
  { desc: 'empty zip (PK\\x05\\x06) is binary', data: bin('PK\x05\x06'), contentType: 'application/octet-stream' },
  { desc: 'webm', data: bin('\x1a\x45\xdf\xa3\x01'), contentType: 'video/webm' },
  { desc: 'a lone "B" is text (BM needs both bytes)', data: utf8('B'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'BM wins over text', data: utf8('BMW cars'), contentType: 'image/bmp' },
  // BOMs: the masked byte is "anything", but it must exist.
  { desc: 'UTF-16BE BOM', data: bin('\xfe\xff\x00h'), contentType: 'text/plain; charset=utf-16be' },
  { desc: 'UTF-16LE BOM', data: bin('\xff\xfeh\x00'), contentType: 'text/plain; charset=utf-16le' },
  { desc: 'a UTF-16LE BOM alone (2 bytes) is too short for the BOM row, and not binary', data: bin('\xff\xfe'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'UTF-8 BOM', data: bin('\xef\xbb\xbfhi'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'UTF-8 BOM alone (3 bytes) is not binary', data: bin('\xef\xbb\xbf'), contentType: 'text/plain; charset=utf-8' },
  // Masks with zero bytes accept anything there.
  { desc: 'WAVE with any size bytes', data: bin('RIFF\xff\xff\xff\xffWAVE'), contentType: 'audio/wave' },
  { desc: 'RIFF too short for WAVE', data: bin('RIFF\x00\x00\x00\x00WAV'), contentType: 'application/octet-stream' },
  { desc: 'WEBP needs the VP', data: bin('RIFF\x00\x00\x00\x00WEBP'), contentType: 'application/octet-stream' },
  {
    desc: 'Embedded OpenType: 34 arbitrary bytes then LP',
    data: Buffer.concat([text(34, 'x'), utf8('LP')]),
    contentType: 'application/vnd.ms-fontobject',
  },
  { desc: 'EOT shape one byte short is text', data: Buffer.concat([text(33, 'x'), utf8('LP')]), contentType: 'text/plain; charset=utf-8' },
  // The MP4 sniffer.
  { desc: 'mp4 brand in the compatible list', data: bin('\x00\x00\x00\x14ftypisom\x00\x00\x02\x00mp41'), contentType: 'video/mp4' },
  { desc: 'mp4 only as the minor version is not mp4', data: bin('\x00\x00\x00\x10ftypisommp42'), contentType: 'application/octet-stream' },
  { desc: 'mp4 box size not a multiple of 4', data: bin('\x00\x00\x00\x13ftypmp42\x00\x00\x00\x00mp42'), contentType: 'application/octet-stream' },
  { desc: 'mp4 box larger than the data', data: bin('\x00\x00\x00\x20ftypmp42\x00\x00\x00\x00mp42'), contentType: 'application/octet-stream' },
  { desc: 'mp4 box of size 0', data: bin('\x00\x00\x00\x00ftypmp42\x00\x00\x00\x00'), contentType: 'application/octet-stream' },
  { desc: 'mp4 shorter than 12 bytes', data: bin('\x00\x00\x00\x08ftyp'), contentType: 'application/octet-stream' },
  // The text-or-binary rule.
  { desc: 'ESC (0x1B) is not binary', data: bin('\x1b[31mred\x1b[0m'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'CR LF FF TAB are not binary', data: bin('a\r\nb\x0cc\td'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'DEL and high bytes are not binary', data: bin('\x7f\x80\xff\xfe'), contentType: 'text/plain; charset=utf-8' },
  { desc: 'a single 0x1F is binary', data: bin('abc\x1f'), contentType: 'application/octet-stream' },
  { desc: '0x1A is binary', data: bin('abc\x1a'), contentType: 'application/octet-stream' },
  { desc: 'whitespace only is text', data: utf8(' \t\r\n'), contentType: 'text/plain; charset=utf-8' },
  // Only the first SNIFF_LEN bytes count.
  { desc: 'text for 512 bytes, binary at offset 512', data: Buffer.concat([text(512), bin('\x00')]), contentType: 'text/plain; charset=utf-8' },
  { desc: 'binary at offset 511', data: Buffer.concat([text(511), bin('\x00')]), contentType: 'application/octet-stream' },
  { desc: 'HTML after 512 bytes of whitespace is text', data: Buffer.concat([text(512, ' '), utf8('<html>')]), contentType: 'text/plain; charset=utf-8' },
  { desc: '<html> whose terminating byte is the 513th', data: Buffer.concat([text(507, ' '), utf8('<html>')]), contentType: 'text/plain; charset=utf-8' },
  { desc: '<html> whose terminating byte is the 512th', data: Buffer.concat([text(506, ' '), utf8('<html>')]), contentType: 'text/html; charset=utf-8' },
]

t.test("Go's sniffTests table", async t => {
  t.equal(GO_SNIFF_TESTS.length, 38, "every row of Go's table is here")
  for (const row of GO_SNIFF_TESTS) t.equal(detectContentType(row.data), row.contentType, row.desc)
})

t.test('more rows: tag-terminating bytes, whitespace, masks, mp4, text rule, the 512-byte limit', async t => {
  for (const row of MORE_ROWS) t.equal(detectContentType(row.data), row.contentType, row.desc)
})

t.test('detectContentType does not read past SNIFF_LEN and does not change its input', async t => {
  t.equal(SNIFF_LEN, 512)
  const data = Buffer.concat([text(SNIFF_LEN), bin('\x00\x01\x02')])
  const copy = Buffer.from(data)
  t.equal(detectContentType(data), 'text/plain; charset=utf-8')
  t.same(data, copy, 'input untouched')
  t.equal(detectContentType(data.subarray(1)), 'application/octet-stream', 'shifting by one brings a binary byte into the window')
})
