// Latency summaries of bench/fixed-rate.mjs, and the pooling of several of its runs into one: a
// percentile over more requests, measured in turns with the other targets, so that a slow minute of
// the machine weighs on every target alike instead of deciding one target's figure alone.

import { mulberry32 } from './mix.mjs';

/** percentile is the p-th percentile (nearest rank) of ascending `sorted`; null when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** us turns milliseconds into whole microseconds (null stays null). */
export const us = (ms) => (ms === null ? null : Math.round(ms * 1000));

/** latencyOf summarises ascending latencies (ms) in microseconds; null when there are none. */
export function latencyOf(sorted) {
  return sorted.length
    ? {
        min: us(sorted[0]),
        mean: us(sorted.reduce((a, b) => a + b, 0) / sorted.length),
        p50: us(percentile(sorted, 50)),
        p90: us(percentile(sorted, 90)),
        p99: us(percentile(sorted, 99)),
        p999: us(percentile(sorted, 99.9)),
        max: us(sorted[sorted.length - 1]),
      }
    : null;
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const mean = (xs) => (xs.length ? sum(xs) / xs.length : null);
const ascending = (xs) => Float64Array.from(xs).sort();

/**
 * poolRounds pools runs of bench/fixed-rate.mjs made with `--raw` (each as runFixedRate returns it:
 * its JSON line plus rss_max_bytes, server_cpu_cores, foreign_cpu_cores, warnings, valid) against
 * one target into one result of the same shape: counts and bytes summed, latency percentiles (whole
 * run and per class) over the requests of every run together, rates averaged, peak RSS and foreign
 * CPU the worst run's, valid when every run is; failures by kind summed, the first 5 samples of
 * all runs kept. `per_round` keeps each run's own figures; the raw latencies are dropped.
 * @throws {Error} when there is no run, or a run has no raw latencies.
 */
export function poolRounds(rounds) {
  if (rounds.length === 0) throw new Error('poolRounds: no run to pool');
  for (const r of rounds) if (!r.raw_ms) throw new Error('poolRounds: a run without raw latencies (run fixed-rate.mjs with --raw)');
  const first = rounds[0];
  const pooled = (name) => latencyOf(ascending(rounds.flatMap((r) => [...(r.raw_ms[name] ?? [])])));
  const out = {
    ...first,
    rounds: rounds.length,
    scheduled: sum(rounds.map((r) => r.scheduled)),
    completed: sum(rounds.map((r) => r.completed)),
    failed: sum(rounds.map((r) => r.failed)),
    unfinished: sum(rounds.map((r) => r.unfinished ?? 0)),
    bytes: sum(rounds.map((r) => r.bytes)),
    errors: rounds.reduce((acc, r) => {
      for (const [k, v] of Object.entries(r.errors ?? {})) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
    error_samples: rounds.flatMap((r) => r.error_samples ?? []).slice(0, 5),
    max_inflight: Math.max(...rounds.map((r) => r.max_inflight ?? 0)),
    achieved_rate: mean(rounds.map((r) => r.achieved_rate)),
    mb_per_s: mean(rounds.map((r) => r.mb_per_s)),
    latency_us: pooled('all'),
    // The generator's own lateness: the worst run's, as each figure includes it.
    send_lag_us: rounds.map((r) => r.send_lag_us).reduce((a, b) => ((b?.p99 ?? -1) > (a?.p99 ?? -1) ? b : a)),
    rss_max_bytes: Math.max(...rounds.map((r) => r.rss_max_bytes ?? 0)),
    server_cpu_cores: mean(rounds.map((r) => r.server_cpu_cores).filter((x) => x != null)),
    foreign_cpu_cores: Math.max(...rounds.map((r) => r.foreign_cpu_cores ?? 0)),
    warnings: rounds.flatMap((r, k) => (r.warnings ?? []).map((w) => `round ${k + 1}: ${w}`)),
    valid: rounds.every((r) => r.valid),
    per_round: rounds.map((r) => ({
      latency_us: r.latency_us,
      mb_per_s: r.mb_per_s,
      ...(r.classes ? { classes: Object.fromEntries(Object.entries(r.classes).map(([c, x]) => [c, { completed: x.completed, latency_us: x.latency_us }])) } : {}),
    })),
  };
  delete out.raw_ms;
  if (first.classes) {
    out.classes = {};
    for (const c of Object.keys(first.classes)) {
      const xs = rounds.map((r) => r.classes?.[c]).filter(Boolean);
      const bytes = xs.map((x) => x.bytes);
      out.classes[c] = {
        scheduled: sum(xs.map((x) => x.scheduled)),
        completed: sum(xs.map((x) => x.completed)),
        failed: sum(xs.map((x) => x.failed)),
        bytes: bytes.some((b) => b === null || b === undefined) ? null : sum(bytes),
        latency_us: pooled(c),
      };
    }
  }
  return out;
}

/**
 * pooledDiffInterval is how sure a pooled percentile's difference between two targets measured in
 * turn is: `a` and `b` are their runs of bench/fixed-rate.mjs with `--raw`, round k of one next to
 * round k of the other (the rounds past the shorter list are left out). The difference is the
 * `p`-th percentile of `cls`'s latencies pooled over a's rounds minus the same over b's; its
 * interval comes from `resamples` bootstrap resamples of the rounds (drawn with replacement, a
 * round of a always with the round of b measured next to it, so that a slow minute of the machine
 * weighs on both alike), the middle `level` of their differences. Rounds, not requests, are
 * resampled: the requests of one round share that round's conditions and are not independent.
 * Returns microseconds: { diff_us, lo_us, hi_us, rounds, resamples, level }, or null when a class
 * has no latencies or fewer than `minRounds` rounds pair up (resampling two or three rounds gives a
 * handful of distinct draws, not an interval).
 */
export function pooledDiffInterval(a, b, cls, { p = 99, resamples = 2000, level = 0.95, seed = 20240601, minRounds = 5 } = {}) {
  const n = Math.min(a.length, b.length);
  if (n < Math.max(2, minRounds)) return null;
  const of = (runs, i) => runs[i]?.raw_ms?.[cls] ?? [];
  const xa = Array.from({ length: n }, (_, i) => of(a, i));
  const xb = Array.from({ length: n }, (_, i) => of(b, i));
  if (xa.every((x) => x.length === 0) || xb.every((x) => x.length === 0)) return null;
  const pooledP = (xs, picks) => percentile(ascending(picks.flatMap((i) => xs[i])), p);
  const all = Array.from({ length: n }, (_, i) => i);
  const diff = pooledP(xa, all) - pooledP(xb, all);
  const rnd = mulberry32(seed);
  const ds = [];
  for (let k = 0; k < resamples; k++) {
    const picks = all.map(() => Math.floor(rnd() * n));
    const pa = pooledP(xa, picks);
    const pb = pooledP(xb, picks);
    // A resample whose rounds of one side hold no latency of the class has no difference to give.
    if (pa != null && pb != null) ds.push(pa - pb);
  }
  ds.sort((x, y) => x - y);
  const tail = (1 - level) / 2;
  return { diff_us: us(diff), lo_us: us(percentile(ds, tail * 100)), hi_us: us(percentile(ds, (1 - tail) * 100)), rounds: n, resamples: ds.length, level };
}
