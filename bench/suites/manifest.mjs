// The manifest suite (issue 12): how long the payload manifest's route table takes to find the payload of a
// request path. bench/manifest-match.mjs runs in a child process of its own (a clean heap, not the harness's),
// RUNS times; the row reports, per kind of lookup, the median over the runs of each run's median and p99. Then
// bench/policy-decide.mjs times the access policy's decisions once (stated, no target).

import path from 'node:path';
import { BENCH, FOREIGN_CPU_WARN } from '../lib/constants.mjs';
import { measureLoad } from '../lib/load.mjs';
import { log } from '../lib/log.mjs';
import { fmtCores, median, table, targetsLine } from '../lib/report.mjs';

/** The issue's target: matching a path to its payload takes under 2 us at the median, for every kind of lookup. */
const TARGET_MEDIAN_US = 2;
/** Runs of the micro-benchmark; the machine is shared, so one run's figures are not trusted alone. */
const RUNS = 3;
/** The kinds of lookup, in table order: exact paths, named-segment patterns, globs, paths no entry matches. */
const KINDS = ['exact', 'named', 'glob', 'miss'];

/** workloads returns the suite's workloads (they depend on no option; same signature as the other suites). */
export const workloads = (_opts) => [{ id: 'manifest-match', label: 'RouteTable.match on 10,000 payloads' }];

/** selected returns the suite's workloads that ctx.opts.workloads selects. */
export const selected = (ctx) => workloads(ctx.opts).filter((w) => ctx.opts.workloads.includes(w.id));

/**
 * run starts `node bench/manifest-match.mjs --no-overlaps` RUNS times, one after another (the overlap check is
 * `cutover manifest check`'s cost, not a request's), and returns { runs, summary }: each run's JSON line plus the CPU
 * other processes used meanwhile, and per kind the median over the runs of median_us and p99_us, of the table's
 * build time and of the clock's own cost.
 * @throws {Error} when the script fails (e.g. dist/ not built: run `npx tsc -p .` or `npm run build`).
 */
export async function run(ctx) {
  const script = path.join(BENCH, 'manifest-match.mjs');
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const load = await measureLoad(ctx, [], process.execPath, [script, '--no-overlaps'], process.env);
    if (load.code !== 0) throw new Error(`manifest-match.mjs exited with ${load.code}:\n${load.stdout}${load.stderr}`);
    const out = JSON.parse(load.stdout);
    runs.push({ ...out, foreign_cpu_cores: load.foreign });
    log(`manifest-match run ${i + 1}/${RUNS}: median ${KINDS.map((k) => `${k} ${out.match[k].median_us} us`).join(', ')}; other CPU ${fmtCores(load.foreign)} cores`);
  }
  const summary = { build_ms: median(runs.map((r) => r.build_ms)), clock_only_median_us: median(runs.map((r) => r.match.clock_only.median_us)), kinds: {} };
  for (const k of [...KINDS, 'all']) {
    summary.kinds[k] = {
      n: runs[0].match[k].n,
      median_us: median(runs.map((r) => r.match[k].median_us)),
      p99_us: median(runs.map((r) => r.match[k].p99_us)),
      batch_mean_us: k === 'all' ? null : median(runs.map((r) => r.batch_mean_us[k])),
    };
  }
  // The access policy's cost, stated apart from matching (no target): one run of bench/policy-decide.mjs.
  const pol = await measureLoad(ctx, [], process.execPath, [path.join(BENCH, 'policy-decide.mjs')], process.env);
  if (pol.code !== 0) throw new Error(`policy-decide.mjs exited with ${pol.code}:\n${pol.stdout}${pol.stderr}`);
  summary.policy = { ...JSON.parse(pol.stdout), foreign_cpu_cores: pol.foreign };
  log(`policy-decide: median ${Object.entries(summary.policy.cases).map(([k, v]) => `${k} ${v.median_us} us`).join(', ')}`);
  return { runs, summary };
}

/**
 * report prints the table (per kind: median and p99 per lookup, the batch mean) and the verdict: PASS when the
 * median of every kind is under TARGET_MEDIAN_US, INVALID when a probe path did not hit the kind it was made for
 * (a fast lookup that finds the wrong entry measures nothing). Returns the verdicts.
 */
export function report(ctx, { runs, summary }, meta) {
  const first = runs[0];
  const rows = [['lookup', 'paths', 'median (us)', 'p99 (us)', 'batch mean (us)', 'target', 'verdict']];
  const wrong = runs.reduce((n, r) => n + Object.values(r.probe_class_mismatches).reduce((a, b) => a + b, 0), 0);
  const bad = [];
  for (const k of KINDS) {
    const s = summary.kinds[k];
    const ok = s.median_us < TARGET_MEDIAN_US;
    if (!ok) bad.push(k);
    rows.push([k, s.n, s.median_us.toFixed(2), s.p99_us.toFixed(2), s.batch_mean_us.toFixed(2), `median < ${TARGET_MEDIAN_US} us`, wrong ? 'INVALID' : ok ? 'PASS' : 'FAIL']);
  }
  const all = summary.kinds.all;
  rows.push(['all (mixed)', all.n, all.median_us.toFixed(2), all.p99_us.toFixed(2), '', '', '']);
  const verdict = wrong ? 'INVALID' : bad.length ? 'FAIL' : 'PASS';
  const verdicts = [{ what: `manifest-match median < ${TARGET_MEDIAN_US} us for every kind of lookup${bad.length ? ` (not: ${bad.join(', ')})` : ''}`, verdict, value: Math.max(...KINDS.map((k) => summary.kinds[k].median_us)) }];
  const busiest = Math.max(...runs.map((r) => r.foreign_cpu_cores ?? 0));
  const out = [''];
  out.push(
    `Manifest route table (${meta.date}; ${first.payloads.toLocaleString('en-US')} payloads, ${first.entries.toLocaleString('en-US')} path patterns: ${first.kinds.exact} exact, ${first.kinds.named} named, ${first.kinds.glob} glob; median of ${runs.length} runs of bench/manifest-match.mjs, each timing every lookup alone, the clock included: ${summary.clock_only_median_us} us)`,
  );
  out.push(table(rows, ['l', 'r', 'r', 'r', 'r', 'l', 'l']));
  out.push(`table build: ${summary.build_ms.toFixed(1)} ms (median of the runs); batch mean = the mean per lookup over all paths of a kind, without the clock`);
  if (wrong) out.push(`WARNING: ${wrong} probe paths did not hit the kind they were made for (probe_class_mismatches in results.json)`);
  if (busiest > FOREIGN_CPU_WARN) out.push(`WARNING: other processes used up to ${fmtCores(busiest)} cores during the runs; the figures are skewed (slower)`);
  out.push(`${verdict}: ${verdicts[0].what}`);
  const pol = summary.policy;
  if (pol) {
    out.push('', `Access policy (ManifestAccessPolicy.decide on an admitted request, ${pol.n.toLocaleString('en-US')} calls per case, stated, no target; bench/policy-decide.mjs):`);
    const prow = [['rules', 'median (us)', 'p99 (us)', 'batch mean (us)']];
    const what = { none: 'none (no acl)', networks: 'networks (XFF from a trusted proxy)', countries: 'countries (iptoasn database)', signed: 'signed link (HMAC-SHA256)', all: 'networks + countries + signed + users' };
    for (const [k, v] of Object.entries(pol.cases)) prow.push([what[k] ?? k, v.median_us.toFixed(2), v.p99_us.toFixed(2), v.batch_mean_us.toFixed(2)]);
    out.push(table(prow, ['l', 'r', 'r', 'r']));
  }
  out.push('', targetsLine('Manifest targets', verdicts));
  console.log(out.join('\n'));
  return verdicts;
}

/** toJson is the suite's part of results.json: the target, the summary and every run's figures. */
export function toJson(_ctx, { runs, summary }) {
  return { target_median_us: TARGET_MEDIAN_US, summary, runs };
}
