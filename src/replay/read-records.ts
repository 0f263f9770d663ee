import { open } from 'node:fs/promises'
import { CutoverError, isCutoverError } from '../core/errors.js'
import { parseCombined } from './parsers/combined.js'
import { detectFormat } from './parsers/detect-format.js'
import { GOR_LONG_LINE, parseGorRecord, splitGorRecords } from './parsers/gor.js'
import { gunzipMembers, type GunzipEnd } from './gunzip-members.js'
import { DEFAULT_MAX_LINE_BYTES, splitLines } from './split-lines.js'
import { HAR_MAX_BYTES, parseHar } from './parsers/har.js'
import { parseJsonl } from './parsers/jsonl.js'
import { type LineParser, type LineResult, printable, printableBytes } from './parsers/line-parser.js'
import type { LogFormat, ParsedLine } from './record.js'

/** LOG_FORMATS lists every {@link LogFormat}, for checking options. */
export const LOG_FORMATS: readonly LogFormat[] = Object.freeze(['combined', 'common', 'jsonl', 'har', 'gor'])

/** byteCount writes a size in bytes, `1 byte` or `n bytes`. */
const byteCount = (n: number): string => `${n} ${n === 1 ? 'byte' : 'bytes'}`

/** DETECT_BYTES is how much of a file's (decompressed) beginning format detection looks at: 64 KiB. */
export const DETECT_BYTES = 64 * 1024

/** ReadRecordsOptions configures {@link readRecords}. */
export interface ReadRecordsOptions {
  /** The format of every file, or `auto` to detect it per file from its first lines (see detectFormat). */
  format: 'auto' | LogFormat
  /** The largest HAR file read (HAR is parsed whole). If unset, defaults to HAR_MAX_BYTES (256 MiB). */
  maxHarBytes?: number
  /**
   * The longest line read (line end not counted); a longer one is a bad line, read past in bounded
   * memory. If unset, defaults to DEFAULT_MAX_LINE_BYTES (1 MiB).
   */
  maxLineBytes?: number
}

/** FileSummary counts what was read of one file so far. */
export interface FileSummary {
  /** The path as given. */
  readonly file: string
  /** The format the file was read as; undefined until it is opened, and for an empty file. */
  readonly format: LogFormat | undefined
  /** Requests yielded as records. */
  readonly records: number
  /** Lines (HAR entries, .gor records) yielded as bad lines. */
  readonly bad: number
  /** Records that are not requests (GoReplay responses): not yielded, not bad. */
  readonly skipped: number
  /**
   * Records of a combined or common log that answered 206 but carry no Range: the format has no
   * `$http_range` field (nginx's default), so they replay as full GETs. Zero for other formats.
   */
  readonly rangeless206: number
}

/** ReadSummary counts what a {@link RecordReader} has read so far: per file, in path order, and in total. */
export interface ReadSummary {
  readonly files: readonly FileSummary[]
  readonly records: number
  readonly bad: number
  readonly skipped: number
}

/**
 * RecordReader is what {@link readRecords} returns: the parsed lines of every file, in order, and a
 * live {@link ReadSummary} that is final once the iteration ends. It can be iterated once.
 */
export interface RecordReader extends AsyncIterable<ParsedLine> {
  readonly summary: ReadSummary
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type Count = 'records' | 'bad' | 'skipped'

/**
 * readRecords reads captured request logs for `cutover replay` (formats in the README): the files one after
 * the other, each line by line through node:readline, so a multi-GB log is read in constant memory
 * (HAR excepted: one JSON document, read whole up to `o.maxHarBytes`). For each file it:
 * - gunzips it when it starts with the gzip magic bytes, whatever its name (multi-member gzip, as
 *   `cat a.gz b.gz` makes, is read through; bytes after the last member are one bad line after the
 *   member's lines, none of which is lost);
 * - reads lines up to `o.maxLineBytes`: a longer line is a bad line, skipped in bounded memory;
 * - detects its format from the first non-empty lines when `o.format` is `auto`;
 * - yields every request as a `record` and every unreadable line as a `bad` line, in file order, with
 *   1-based line numbers (bad lines are never dropped); blank lines are neither; GoReplay response
 *   records are counted as `skipped` in the summary.
 *
 * Before the first line is yielded every file is opened once, so a missing file fails the run before
 * anything is replayed: the iteration rejects with CutoverError ERR_NOT_FOUND (no such file) or
 * ERR_INVALID_ARGUMENT (a directory, no permission, a HAR file over `o.maxHarBytes`, a format that
 * cannot be detected), naming the file. A read error later rejects with ERR_IO. A corrupt or truncated
 * gzip stream is not fatal: it ends that file with a bad line (`gzip: unexpected end of file`) and
 * reading goes on with the next file.
 *
 * Breaking out of the iteration closes the open file. Throws TypeError on bad arguments.
 */
export function readRecords(paths: readonly string[], o: ReadRecordsOptions): RecordReader {
  if (!Array.isArray(paths) || paths.some(p => typeof p !== 'string' || p === '')) {
    throw new TypeError('paths must be an array of non-empty strings')
  }
  if (o?.format !== 'auto' && !LOG_FORMATS.includes(o?.format)) {
    throw new TypeError(`format must be "auto" or one of ${LOG_FORMATS.join(', ')}`)
  }
  const maxHarBytes = o.maxHarBytes ?? HAR_MAX_BYTES
  if (!Number.isSafeInteger(maxHarBytes) || maxHarBytes < 0) {
    throw new TypeError('maxHarBytes must be a nonnegative integer')
  }
  const maxLineBytes = o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
    throw new TypeError('maxLineBytes must be a positive integer')
  }
  const files: Array<Mutable<FileSummary>> = paths.map(file => ({
    file,
    format: undefined,
    records: 0,
    bad: 0,
    skipped: 0,
    rangeless206: 0,
  }))
  const summary: Mutable<ReadSummary> = { files, records: 0, bad: 0, skipped: 0 }
  let iterated = false
  return {
    summary,
    [Symbol.asyncIterator]() {
      if (iterated) throw new TypeError('a RecordReader can be iterated only once')
      iterated = true
      return readAll(files, { format: o.format, maxHarBytes, maxLineBytes }, (f, c) => {
        f[c]++
        summary[c]++
      })
    },
  }
}

async function* readAll(
  files: Array<Mutable<FileSummary>>,
  o: Required<ReadRecordsOptions>,
  count: (f: Mutable<FileSummary>, c: Count) => void,
): AsyncGenerator<ParsedLine> {
  // Open every file first: a typo in the last path must stop the run before it starts, not after
  // hours of replaying the first files.
  for (const f of files) await (await openLog(f.file)).close()
  for (const f of files) yield* readFile(f, o, c => count(f, c))
}

/** openLog opens a log file for reading, or rejects with a CutoverError naming it. */
async function openLog(file: string) {
  let fh
  try {
    fh = await open(file, 'r')
    // open(2) succeeds on a directory; reading it would fail later with a vaguer EISDIR.
    if ((await fh.stat()).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
    return fh
  } catch (err) {
    await fh?.close()
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new CutoverError('ERR_NOT_FOUND', `log file not found: ${file}`, { cause: err })
    }
    const why = code ?? (err as Error).message
    throw new CutoverError('ERR_INVALID_ARGUMENT', `cannot read log file ${file}: ${why}`, { cause: err })
  }
}

/** readFile yields the parsed lines of one file; see {@link readRecords}. */
async function* readFile(
  f: Mutable<FileSummary>,
  o: Required<ReadRecordsOptions>,
  count: (c: Count) => void,
) {
  const { file } = f
  const fh = await openLog(file)
  const raw = fh.createReadStream({ highWaterMark: DETECT_BYTES })
  const gz: GunzipEnd = {}
  let line = 0 // the last line read, for a gzip error's line number
  /**
   * emit turns a parser's result into what is yielded (undefined for a skipped record) and counts it.
   * The text of a line is made only for a bad line: most lines are good, and escaping costs.
   */
  const emit = (n: number, r: LineResult, text: () => string): ParsedLine | undefined => {
    if (r.kind === 'skipped') {
      count('skipped')
      return undefined
    }
    if (r.kind === 'bad') {
      count('bad')
      return { kind: 'bad', bad: { file, line: n, reason: r.reason, text: text() } }
    }
    count('records')
    if (r.request.status === 206 && r.request.headers.range === undefined && (f.format === 'combined' || f.format === 'common')) {
      f.rangeless206++
    }
    return { kind: 'record', record: { file, line: n, ...r.request } }
  }
  try {
    const magic = await peek(raw[Symbol.asyncIterator](), 2)
    const gzipped = magic.head[0] === 0x1f && magic.head[1] === 0x8b
    const bytes: AsyncIterator<Buffer> = gzipped ? gunzipMembers(chain(magic), gz) : chain(magic)
    const start = await peek(bytes, DETECT_BYTES)
    // A UTF-8 byte order mark (Windows tools write one) is not part of the first line.
    if (start.head[0] === 0xef && start.head[1] === 0xbb && start.head[2] === 0xbf) {
      start.head = start.head.subarray(3)
    }
    const headText = start.head.toString('latin1')
    const fmt = o.format === 'auto' ? detectFormat(headText) : o.format
    if (fmt === undefined) {
      // A gzip stream broken before its first line gets its bad line (below); an empty file has no lines.
      if (start.error !== undefined) throw start.error
      if (headText.trim() === '') return
      const why = `cannot tell the format of log file ${file} from its first lines`
      throw new CutoverError('ERR_INVALID_ARGUMENT', why)
    }
    f.format = fmt

    if (fmt === 'har') {
      const chunks: Buffer[] = []
      let size = 0
      for await (const c of chain(start)) {
        size += c.length
        if (size > o.maxHarBytes) {
          const why = `HAR file ${file} is larger than ${byteCount(o.maxHarBytes)}`
          throw new CutoverError('ERR_INVALID_ARGUMENT', why)
        }
        chunks.push(c)
      }
      for (const item of parseHar(Buffer.concat(chunks).toString('utf8'))) {
        const p = emit(item.line, item.result, () => item.text)
        if (p) yield p
      }
      return
    }

    // Combined, common and .gor lines are decoded as latin1, one character per byte, so that raw
    // bytes in request lines survive to requestTarget(); JSONL lines as UTF-8, a whole line at a time
    // (so a character split across chunks is kept whole).
    const latin1 = fmt !== 'jsonl'
    const lines = splitLines(chain(start), o.maxLineBytes)
    const tooLong = (length: number) => `line: longer than ${byteCount(o.maxLineBytes)} (${byteCount(length)}), not read`
    if (fmt === 'gor') {
      const numbered = async function* () {
        for await (const l of lines) {
          line++
          // A body line over the cap is dropped with the body; a head line over it makes the record bad.
          yield l.kind === 'line' ? l.bytes.toString('latin1') : GOR_LONG_LINE
        }
      }
      for await (const r of splitGorRecords(numbered())) {
        const p = emit(r.line, parseGorRecord(r), () => printableBytes(r.head.slice(0, 2).join(' | ')))
        if (p) yield p
      }
    } else {
      const parse: LineParser = fmt === 'jsonl' ? parseJsonl : l => parseCombined(l, { format: fmt })
      for await (const s of lines) {
        line++
        if (s.kind === 'long') {
          const p = emit(line, { kind: 'bad', reason: tooLong(s.length) }, () => printableBytes(s.head.toString('latin1')))
          if (p) yield p
          continue
        }
        const l = s.bytes.toString(latin1 ? 'latin1' : 'utf8')
        if (l.trim() === '') continue
        const p = emit(line, parse(l), () => (latin1 ? printableBytes(l) : printable(l)))
        if (p) yield p
      }
    }
    if (gz.junk !== undefined) {
      // Every line of the last member was read; what follows it is not gzip, counted as one bad line.
      const why = `gzip: ${byteCount(gz.junk.bytes)} of trailing data after the last member (at byte ${gz.junk.offset}), not read`
      const p = emit(line + 1, { kind: 'bad', reason: why }, () => '')
      if (p) yield p
    }
  } catch (err) {
    if (isCutoverError(err)) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (typeof code === 'string' && code.startsWith('Z_')) {
      // zlib: truncated or corrupt data. The lines before it were read; this file ends here.
      const p = emit(line + 1, { kind: 'bad', reason: `gzip: ${(err as Error).message}` }, () => '')
      if (p) yield p
      return
    }
    const why = `cannot read log file ${file}: ${(err as Error).message}`
    throw new CutoverError('ERR_IO', why, { cause: err })
  } finally {
    raw.destroy()
  }
}

/** Peeked is the beginning of a byte stream, the iterator of the rest, and how the stream ended if it did. */
interface Peeked {
  head: Buffer
  rest: AsyncIterator<Buffer>
  done: boolean
  /** The error that ended the stream within the head (a gzip file cut short), thrown after the head. */
  error?: unknown
}

/**
 * peek reads at least n bytes (fewer at the end) from an iterator, without losing them: see
 * {@link chain}. An error is kept for after the head, so the lines before it are still read.
 */
async function peek(it: AsyncIterator<Buffer>, n: number): Promise<Peeked> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    while (size < n) {
      const r = await it.next()
      if (r.done === true) return { head: Buffer.concat(chunks), rest: it, done: true }
      chunks.push(r.value)
      size += r.value.length
    }
  } catch (error) {
    return { head: Buffer.concat(chunks), rest: it, done: true, error }
  }
  return { head: Buffer.concat(chunks), rest: it, done: false }
}

/** chain yields the peeked head, then the rest of the stream (or the error that ended it). */
async function* chain(p: Peeked): AsyncGenerator<Buffer> {
  if (p.head.length > 0) yield p.head
  if (p.error !== undefined) throw p.error
  if (p.done) return
  for (let r = await p.rest.next(); r.done !== true; r = await p.rest.next()) yield r.value
}

