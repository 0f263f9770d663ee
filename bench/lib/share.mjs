// The mirror rows' steady share (bench/suites/mirror.mjs), apart so that its test loads nothing else.

/**
 * steadyShare is the compared share between two readings taken during a saturated run: what was
 * compared (completed) over what came in, in that window. Unlike the row's accounting it leaves out
 * the run's start, unsaturated until the load average crosses --shed-above (about a second), when
 * every request is kept; with the number pending about level, completions in the window are the
 * steady rate.
 */
export function steadyShare(a, b, fromS, toS) {
  const compared = b.compared - a.compared;
  const eligible = b.requests - b.skipped - (a.requests - a.skipped);
  // With few requests in the window (mirror-256m: one or two 256 MiB downloads start in it) the
  // completions of earlier ones are no steady rate: 3 of 1 is not a 300% share. No share then.
  return { compared, eligible, share: eligible >= STEADY_MIN_ELIGIBLE ? compared / eligible : null, from_s: fromS, to_s: toS, pending: [a.pending, b.pending] };
}

/** The fewest shadow-eligible requests in the window for a steady share to be given. */
export const STEADY_MIN_ELIGIBLE = 20;

/**
 * poolSteady adds up the steady windows of one row's rounds (one window per run of cutover mirror;
 * null for a round whose counters were not read): what was compared over what came in, in all of
 * them together, and each round's own share. null when no window was read.
 */
export function poolSteady(windows) {
  const read = windows.filter(Boolean);
  if (read.length === 0) return null;
  const compared = read.reduce((n, s) => n + s.compared, 0);
  const eligible = read.reduce((n, s) => n + s.eligible, 0);
  const last = read[read.length - 1];
  return {
    compared,
    eligible,
    share: eligible >= STEADY_MIN_ELIGIBLE ? compared / eligible : null,
    from_s: last.from_s,
    to_s: last.to_s,
    pending: last.pending,
    per_round: windows.map((s) => s?.share ?? null),
  };
}
