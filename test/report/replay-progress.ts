import t from 'tap'
import { replayProgress, type ReplayProgress } from '../../src/report/replay-progress.js'

type Stats = ReplayProgress['stats']
const stats = (s: Partial<Stats>): Stats => ({ sent: 0, settled: 0, probesPlanned: 0, probesSettled: 0, bad: 0, filtered: 0, shadows: 0, divergent: 0, ...s })

t.test('replayProgress counts records and probes alike, and is full only at the end', async t => {
  const cases: Array<{ title: string; p: ReplayProgress; want: string }> = [
    {
      title: 'no line count, no limit: counts only',
      p: { stats: stats({ sent: 3, settled: 3, probesPlanned: 2, probesSettled: 1 }), skipped: 0, elapsedMs: 2000 },
      want: '4 requests (1 probe) | 2/s | 0 divergent | 0 bad lines',
    },
    {
      title: 'one request, one bad line: singular',
      p: { stats: stats({ sent: 1, settled: 1, bad: 1, divergent: 1 }), skipped: 0, elapsedMs: 1000 },
      want: '1 request (0 probes) | 1/s | 1 divergent | 1 bad line',
    },
    {
      // 12 lines: 2 bad, 1 filtered, 1 shadow, 1 skipped leave 7 records to send; 4 probes planned so far.
      title: 'lines counted: the records still expected plus the probes planned',
      p: { stats: stats({ sent: 5, settled: 4, probesPlanned: 4, probesSettled: 2, bad: 2, filtered: 1, shadows: 1 }), skipped: 1, lines: 12, elapsedMs: 1000 },
      want: '██████████░░░░░░░░░░ 54% 6/11 requests (2 probes) | 6/s | 0 divergent | 2 bad lines | ETA 1s',
    },
    {
      title: 'every record settled but a probe still running: not full',
      p: { stats: stats({ sent: 2, settled: 2, probesPlanned: 9, probesSettled: 8 }), skipped: 0, lines: 2, elapsedMs: 10_000 },
      want: '██████████████████░░ 90% 10/11 requests (8 probes) | 1/s | 0 divergent | 0 bad lines | ETA 1s',
    },
    {
      title: 'everything settled: full',
      p: { stats: stats({ sent: 2, settled: 2, probesPlanned: 9, probesSettled: 9 }), skipped: 0, lines: 2, elapsedMs: 1000 },
      want: '████████████████████ 100% 11/11 requests (9 probes) | 11/s | 0 divergent | 0 bad lines',
    },
    {
      title: '--limit below the lines: the limit',
      p: { stats: stats({ sent: 1, settled: 1 }), skipped: 0, lines: 100, limit: 4, elapsedMs: 1000 },
      want: '█████░░░░░░░░░░░░░░░ 25% 1/4 requests (0 probes) | 1/s | 0 divergent | 0 bad lines | ETA 3s',
    },
    {
      title: '--limit beyond what the log holds, at the end: the total is what was sent, full',
      p: { stats: stats({ sent: 3, settled: 3, probesPlanned: 1, probesSettled: 1 }), skipped: 0, limit: 50, elapsedMs: 1000, final: true },
      want: '████████████████████ 100% 4/4 requests (1 probe) | 4/s | 0 divergent | 0 bad lines',
    },
    {
      title: 'a line count that falls short (blank-looking lines): never below what was sent',
      p: { stats: stats({ sent: 5, settled: 2 }), skipped: 0, lines: 3, elapsedMs: 0 },
      want: '████████░░░░░░░░░░░░ 40% 2/5 requests (0 probes) | 0/s | 0 divergent | 0 bad lines',
    },
    {
      title: 'a slow replay: ETA in minutes',
      p: { stats: stats({ sent: 10, settled: 10 }), skipped: 0, lines: 1000, elapsedMs: 10_000 },
      want: '░░░░░░░░░░░░░░░░░░░░ 1% 10/1000 requests (0 probes) | 1/s | 0 divergent | 0 bad lines | ETA 16m30s',
    },
  ]
  for (const c of cases) t.equal(replayProgress(c.p), c.want, c.title)
})
