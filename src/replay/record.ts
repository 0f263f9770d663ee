/**
 * ReplayRecord is one request read from a captured log, ready to be replayed: where it came from,
 * when it was made, and what a client asked for.
 */
export interface ReplayRecord {
  /** The log file it was read from (as given on the command line). */
  readonly file: string
  /** 1-based line number in that file (for HAR: the entry index; for .gor: the record's first line). */
  readonly line: number
  /** When the original request was made, if the log says. */
  readonly time?: Date
  readonly method: string
  /** The request target (path and query), unescaped as the client sent it. */
  readonly path: string
  /** Request headers that matter for the answer, lower-case names (range, if-*, accept-encoding...). */
  readonly headers: Readonly<Record<string, string>>
  /** The status the original server answered, if the log says. */
  readonly status?: number
  /** True when the log marks the request as `cutover mirror`'s shadow traffic (cutover's JSONL `shadow`). */
  readonly shadow?: boolean
  /**
   * The manifest payload that answered the logged request (cutover's JSONL `payload`, written by
   * `serve --manifest`). Absent for other formats, directory mode and requests no payload matched.
   */
  readonly payload?: string
}

/** BadLine is a log line that could not be read: counted and reported, never silently dropped. */
export interface BadLine {
  readonly file: string
  readonly line: number
  /** Why, naming the field: e.g. `status: not a number ("2OO")`. */
  readonly reason: string
  /** The start of the line, for the report (at most 200 characters). */
  readonly text: string
}

/** ParsedLine is what a log reader yields for each line or record of a log. */
export type ParsedLine = { readonly kind: 'record'; readonly record: ReplayRecord } | { readonly kind: 'bad'; readonly bad: BadLine }

/** LogFormat names the formats `cutover replay` reads. */
export type LogFormat = 'combined' | 'common' | 'jsonl' | 'har' | 'gor'
