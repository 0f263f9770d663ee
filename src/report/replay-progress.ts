import type { ReplayStats } from '../replay/replay.js'
import { plural } from './plural.js'
import { progressBar } from './progress-bar.js'

/** ReplayProgress is what {@link replayProgress} shows of a replay that is running. */
export interface ReplayProgress {
  /** The replay's live counters (`ReplayOptions.stats`). */
  readonly stats: Pick<
    ReplayStats,
    'sent' | 'settled' | 'probesPlanned' | 'probesSettled' | 'bad' | 'filtered' | 'shadows' | 'divergent'
  >
  /** Records the log reader skipped (not requests, not bad: GoReplay responses). */
  readonly skipped: number
  /** Non-blank lines of the logs, when they were counted; unset when they were not (gzip, HAR, .gor). */
  readonly lines?: number | undefined
  /** `--limit`: at most this many records are sent. Unset: no limit. */
  readonly limit?: number | undefined
  /** Time since the replay started, in ms. */
  readonly elapsedMs: number
  /**
   * True once the replay has ended by itself (not interrupted): every request has been sent and has
   * ended, so the total is what was sent and the bar is full, whatever the estimate of the records
   * to send was (a --limit beyond what the log holds, say).
   */
  readonly final?: boolean
}

/** duration writes seconds as `42s` or `3m07s`. */
const duration = (s: number): string => (s < 60 ? `${Math.ceil(s)}s` : `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`)

/**
 * replayProgress is the status line of `cutover replay` on a terminal. It counts requests, records
 * and range probes alike, because each is one exchange sent to the servers: the total is the
 * records still expected (the log's lines less those read as bad, filtered, shadow or skipped, at
 * most --limit) plus the probes chosen so far, and the count is the exchanges that have ended. A
 * record counts as ended only once its probes are chosen, so the bar is full only when everything
 * has ended, and never beyond. Without a line count or a limit there is no total: the line shows
 * counts only. Pure.
 */
export function replayProgress(p: ReplayProgress): string {
  const s = p.stats
  const done = s.settled + s.probesSettled
  let records: number | undefined
  if (p.lines !== undefined) records = p.lines - s.bad - s.filtered - s.shadows - p.skipped
  if (p.limit !== undefined) records = Math.min(records ?? p.limit, p.limit)
  // The line count is an estimate (a line of Unicode spaces is blank to the reader): never below what was sent.
  if (records !== undefined) records = Math.max(records, s.sent)
  const total = p.final ? done : records === undefined ? undefined : records + s.probesPlanned
  const secs = p.elapsedMs / 1000
  const rate = secs > 0 ? done / secs : 0
  const tail =
    ` (${plural(s.probesSettled, 'probe')}) | ${rate.toFixed(0)}/s | ${s.divergent} divergent | ${plural(s.bad, 'bad line')}` +
    (total !== undefined && !p.final && rate > 0 && total > done ? ` | ETA ${duration((total - done) / rate)}` : '')
  if (total === undefined) return `${plural(done, 'request')}${tail}`
  return `${progressBar(done, total)} ${done}/${total} ${total === 1 ? 'request' : 'requests'}${tail}`
}
