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
  return { compared, eligible, share: eligible > 0 ? compared / eligible : null, from_s: fromS, to_s: toS, pending: [a.pending, b.pending] };
}
