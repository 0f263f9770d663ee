// The harness's options, read from an environment object (bench/run.mjs passes process.env). A bad
// value throws an Error naming the variable; the variables are read in one fixed order, so the first
// bad one is the one reported.

/**
 * envInt reads env[name] as an integer >= min. If unset or empty, defaults to `def`.
 * @throws {Error} when the value is not such an integer.
 */
export function envInt(env, name, def, min = 0) {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || Math.floor(n) !== n) {
    throw new Error(`$${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * envList reads env[name] as a comma-separated subset of `all`, an alias standing for its list. If
 * unset or empty, defaults to `all`.
 * @throws {Error} when an item is neither in `all` nor an alias.
 */
export function envList(env, name, all, aliases = {}) {
  const v = env[name];
  if (!v) return all;
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((x) => aliases[x] ?? [x]);
  for (const x of list) if (!all.includes(x)) throw new Error(`$${name}: unknown "${x}" (known: ${[...all, ...Object.keys(aliases)].join(', ')})`);
  return list;
}

/** Splits a flags variable (BENCH_MIRROR_ARGS, BENCH_NODE_ARGS) on whitespace. If unset, defaults to []. */
const envArgs = (env, name) => (env[name] ?? '').split(/\s+/).filter(Boolean);

/**
 * readOptions reads every BENCH_* variable but the two lists (BENCH_WORKLOADS, BENCH_SERVERS: their
 * known values come from the suites, see bench/run.mjs) and BENCH_CUTOVER (kept as given, checked
 * when cutover is started). Defaults are those of bench/README.md.
 * @throws {Error} on the first bad value.
 */
export function readOptions(env) {
  return {
    seconds: envInt(env, 'BENCH_SECONDS', 5, 1),
    connections: envInt(env, 'BENCH_CONNECTIONS', 64, 1),
    warmup: envInt(env, 'BENCH_WARMUP', 1, 0),
    // The fixed-rate latency row measures the steady state of a proxy that runs for hours: a fresh
    // Node process is still compiling its hot paths for several seconds (p99 through cutover mirror
    // over the 5 s after 1 s of warmup: 5.8-7.6 ms; after 5 s: 3.2-4.6 ms; on a process warm for a
    // minute: 1.9-2.5 ms). Every target of that row (old, nginx-mirror, cutover-mirror) gets the same.
    mirrorWarmup: envInt(env, 'BENCH_MIRROR_WARMUP', 5, 0),
    strict: env.BENCH_STRICT === '1',
    mirrorRate: envInt(env, 'BENCH_MIRROR_RATE', 500, 1),
    // mirror-mixed: the mixed workload is 200 req/s (about 35 MB/s).
    mixedRate: envInt(env, 'BENCH_MIXED_RATE', 200, 1),
    // mirror-mixed: its targets are measured in turn this many times and each target's latencies
    // pooled. One run's small-file p99 rests on its 9 slowest of 900 requests, most of them the ones
    // that overlapped the run's one 64 MiB download: straight to old, four runs (each followed by the
    // other targets) gave 12.06, 7.98, 11.97 and 13.89 ms, a spread larger than the 2 ms the target allows.
    // Pooled over 4 rounds (4 large downloads), four runs of one build still gave cutover − old
    // +0.25 to +6.66 ms. (Those figures are from before fixed-rate.mjs read the large classes on
    // threads of their own.) 8 rounds of the row's seven targets (with haproxy) take about 10 minutes.
    mixedRounds: envInt(env, 'BENCH_MIXED_ROUNDS', 8, 1),
    // mirror-mixed's floors: old, haproxy and the three floors (haproxy-reader, haproxy-paced-reader,
    // hash-paced-reader) are measured in this many rounds in all (the rounds past BENCH_MIXED_ROUNDS
    // without the other targets, about 55 s each). Their small-file p99 over old decides whether the
    // row's +2 ms is within any mirror's reach here. Its 95% interval was 2.1 to 6.0 ms wide over 8
    // rounds in seven bench runs of 2026-12-07, 1.7 to 2.3 ms over 30 rounds by hand, and over 24 in
    // the bench 3.7 to 6.6 ms at 20:14Z (one round had haproxy at 25.7 ms), 1.7 to 3.1 ms at 21:42Z
    // and 1.8 to 2.6 ms at 2026-12-08T01:00Z (every haproxy floor wholly over +2 ms in those two).
    floorRounds: envInt(env, 'BENCH_FLOOR_ROUNDS', 24, 1),
    // The saturated mirror rows (mirror-small, -1m, -256m): every target measured this many times in
    // turn, the ratio to nginx's mirror taken within each round and its median judged. Measured one
    // after the other once, the 1m row's ratio for one build ranged 0.47-0.65 over five runs,
    // nginx's mirror alone 602-853 MB/s; in alternated pairs by hand, 0.57-0.66.
    saturatedRounds: envInt(env, 'BENCH_SATURATED_ROUNDS', 3, 1),
    // The seed of the random ranges (wrk scripts read $BENCH_SEED themselves) and of mirror-mixed's plan.
    seed: envInt(env, 'BENCH_SEED', 20240601, 0),
    mirrorOut: env.BENCH_MIRROR_OUT === '1',
    // Extra flags for cutover mirror, e.g. `--shed-above 1` to measure what comparing everything costs.
    mirrorArgs: envArgs(env, 'BENCH_MIRROR_ARGS'),
    replayConcurrency: envInt(env, 'BENCH_REPLAY_CONCURRENCY', 16, 1),
    replayBigConcurrency: envInt(env, 'BENCH_REPLAY_BIG_CONCURRENCY', 4, 1),
    replaySmallRecords: envInt(env, 'BENCH_REPLAY_SMALL_RECORDS', 30_000, 1),
    replayBigRecords: envInt(env, 'BENCH_REPLAY_BIG_RECORDS', 16, 1),
    slowReaders: envInt(env, 'BENCH_SLOW_READERS', 1000, 1),
    slowHold: envInt(env, 'BENCH_SLOW_HOLD', 10, 1),
    nodeArgs: envArgs(env, 'BENCH_NODE_ARGS'),
    cutover: env.BENCH_CUTOVER,
  };
}
