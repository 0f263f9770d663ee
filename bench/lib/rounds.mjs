// The saturated mirror rows measured in rounds (bench/suites/mirror.mjs), apart so that its test
// loads nothing else.

import { median } from './report.mjs';

/**
 * medianRun is the run of one target that stands for all its rounds: the one whose value is the
 * median (the lower of the two middle ones for an even count), with the peak RSS of every round (a
 * peak is the highest seen, whichever round it came in), valid only when every round was, and every
 * round's warnings, each named by its round. null for no run.
 */
export function medianRun(runs) {
  if (runs.length === 0) return null;
  const order = runs.map((x, k) => k).sort((i, j) => runs[i].value - runs[j].value);
  const mid = runs[order[Math.floor((runs.length - 1) / 2)]];
  const rss = Math.max(...runs.map((x) => x.raw?.rss_max_bytes ?? 0));
  return {
    ...mid,
    valid: runs.every((x) => x.valid),
    warnings: runs.length === 1 ? mid.warnings : runs.flatMap((x, k) => x.warnings.map((m) => `round ${k + 1}: ${m}`)),
    raw: { ...mid.raw, rss_max_bytes: rss },
    rounds: runs.map((x) => x.value),
  };
}

/**
 * pairedRatios is, round by round, `a`'s value over `b`'s measured in the same round (null where
 * `b`'s is 0 or either is missing), and their median over the rounds that have one (null if none):
 * two servers measured minutes apart on a shared machine drift apart more than two measured one
 * after the other, so the ratio is taken within each round and the middle one kept.
 */
export function pairedRatios(a, b) {
  const per = a.map((x, k) => (x && b[k]?.value ? x.value / b[k].value : null));
  return { per_round: per, median: median(per.filter((q) => q !== null)) };
}

/**
 * roundOrder is the order of a row's targets in round k (from 0): as given in even rounds, the first
 * two swapped in odd ones. The suite puts first the two parts of the row's target, so that they run
 * next to each other and neither always follows the other.
 */
export function roundOrder(targets, k) {
  return k % 2 === 0 || targets.length < 2 ? targets : [targets[1], targets[0], ...targets.slice(2)];
}
