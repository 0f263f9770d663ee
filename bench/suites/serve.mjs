// The serve suite (the plain rows): nginx, Go net/http ServeContent and cutover serve, one after
// another under the same wrk load on the same data; ratios cutover/go (the targets) and cutover/nginx,
// and cutover's peak RSS during the 256 MiB GET.

import path from 'node:path';
import { BENCH, BIG_SIZE, DATA, KiB, MiB, SERVER_NAMES, SMALL_SIZE } from '../lib/constants.mjs';
import { measureWrk } from '../lib/load.mjs';
import { freePorts, startServer, stopChild, waitForPort } from '../lib/processes.mjs';
import { log, sleep } from '../lib/log.mjs';
import { fmt, fmtMB, fmtMs, median, ratio, table, targetsLine } from '../lib/report.mjs';

const RSS_TARGET_BYTES = 200e6; // "200 MB", MB = 10^6 bytes
/** Issue 12: manifest mode (10,000 payloads, ACLs on a third) keeps at least this share of directory mode's figure on every workload. */
const MANIFEST_TARGET = 0.9;
/** Issue 13: cutover serve from S3 with its data in the chunk cache at least matches Go serving the files from disk. */
const S3_TARGET = 1.0;
/** Issue 13: the s3 column's RSS stays within its --cache-size plus this much (100 MB, 10^6 bytes). */
const S3_RSS_MARGIN = 100e6;

/** The serve workloads; `target` is the least cutover/go ratio of the row's value. */
export const SERVE_WORKLOADS = [
  { id: 'small', label: 'small file GET (1,238 B)', unit: 'req/s', path: '/small.json', script: 'get.lua', body: SMALL_SIZE, target: 0.5 },
  { id: '1m', label: '1 MiB GET', unit: 'MB/s', path: '/1m.bin', script: 'get.lua', body: MiB, target: 0.7 },
  { id: '256m', label: '256 MiB GET', unit: 'MB/s', path: '/256m.bin', script: 'get.lua', body: BIG_SIZE, target: 0.7 },
  { id: 'range', label: 'random 1 MiB ranges of 256 MiB', unit: 'MB/s', path: '/256m.bin', script: 'range.lua', body: MiB, env: { BENCH_FILE_SIZE: String(BIG_SIZE), BENCH_SLICE: String(MiB) }, target: 0.7 },
  { id: 'multi', label: '2-range multipart (2x64 KiB)', unit: 'req/s', alsoMBs: true, path: '/256m.bin', script: 'multirange.lua', body: 128 * KiB, env: { BENCH_FILE_SIZE: String(BIG_SIZE), BENCH_SLICE: String(64 * KiB) }, target: 0.7 },
];

/** workloads returns the suite's workloads (they depend on no option; same signature as the other suites). */
export const workloads = (_opts) => SERVE_WORKLOADS;

/** selected returns the suite's workloads that ctx.opts.workloads selects, in the suite's order. */
export const selected = (ctx) => SERVE_WORKLOADS.filter((w) => ctx.opts.workloads.includes(w.id));

/**
 * run measures every selected workload on every server of `servers` (warmup, then the measured wrk
 * run, 300 ms between runs); cutover/manifest and go/s3, when both of a pair are measured, in
 * PAIR_ROUNDS interleaved pairs. Returns { servers, results, pairRatios, s3Ratios } with
 * results[workload id][server name] = { rps, mbs, value, warnings, valid, raw } (the median run of a paired server).
 */
export async function run(ctx, servers) {
  const results = {};
  const pairRatios = {};
  const s3Ratios = {};
  const bareRounds = {};
  const pair = ['cutover', 'manifest'].map((n) => servers.find((s) => s.name === n));
  const paired = pair.every((s) => s !== undefined);
  // The s3 column's target (s3/go >= 1.0) is measured the same way: PAIR_ROUNDS interleaved go/s3 pairs.
  const s3pair = ['go', 's3'].map((n) => servers.find((s) => s.name === n));
  const s3paired = s3pair.every((s) => s !== undefined);
  const inPair = (s) => (paired && pair.includes(s)) || (s3paired && s3pair.includes(s));
  for (const w of selected(ctx)) {
    results[w.id] = {};
    const runs = {};
    const measure = async (s) => {
      const r = await measureWrk(ctx, s, w);
      (runs[s.name] ??= []).push(r);
      log(`${w.id.padEnd(5)} ${s.name.padEnd(8)} ${fmt(r.rps).padStart(9)} req/s ${fmt(r.mbs).padStart(7)} MB/s  rss ${fmtMB(r.raw.rss_max_bytes)}${r.warnings.length ? '  WARN: ' + r.warnings.join('; ') : ''}`);
      await sleep(300); // let the server settle (aborted in-flight responses)
    };
    for (const s of servers) if (!inPair(s)) await measure(s);
    if (s3paired) {
      const ratios = [];
      // The small file's pairs also measure the bare Node server (bench/bare-server.mjs) right after
      // each pair: what a single-threaded Node server can reach at that moment (see bareRounds).
      const bare = w.id === 'small' ? await startBare(ctx) : null;
      try {
        for (let round = 0; round < PAIR_ROUNDS; round++) {
          const [a, b] = round % 2 === 0 ? s3pair : [...s3pair].reverse();
          await measure(a);
          await measure(b);
          if (bare) await measure(bare);
          const g = runs.go.at(-1);
          const x = runs.s3.at(-1);
          if (g.value) ratios.push(x.value / g.value);
        }
      } finally {
        if (bare) await stopChild(ctx, bare.child);
      }
      if (bare) bareRounds[w.id] = runs.go.map((g, i) => ({ go: g, s3: runs.s3[i], bare: runs.bare[i] }));
      delete runs.bare;
      s3Ratios[w.id] = ratios;
    }
    if (paired) {
      // The manifest/cutover target (0.9) compares two modes of one build; on this shared VM one run of a server can
      // differ from the next by 30%. So the two are measured in PAIR_ROUNDS back-to-back pairs, alternating which goes
      // first, and the ratio is the median of the pairs' ratios (each server's figure: the median of its runs).
      const ratios = [];
      for (let round = 0; round < PAIR_ROUNDS; round++) {
        const [a, b] = round % 2 === 0 ? pair : [...pair].reverse();
        await measure(a);
        await measure(b);
        const c = runs.cutover.at(-1);
        const m = runs.manifest.at(-1);
        if (c.value) ratios.push(m.value / c.value);
      }
      pairRatios[w.id] = ratios;
    }
    for (const [name, rs] of Object.entries(runs)) results[w.id][name] = rs.length === 1 ? rs[0] : medianRun(rs);
  }
  return { servers, results, pairRatios, s3Ratios, bareRounds };
}

/**
 * startBare starts bench/bare-server.mjs on the small file: Node's HTTP server answering its bytes from
 * memory and doing nothing else, the most a single-threaded Node server reaches on this machine at the
 * moment it is measured.
 */
async function startBare(ctx) {
  const [port] = await freePorts(1);
  const child = startServer(ctx, 'bare', process.execPath, [path.join(BENCH, 'bare-server.mjs'), String(port), path.join(DATA, 'small.json')]);
  await waitForPort(child, port);
  log(`bare listening on 127.0.0.1:${port} (pid ${child.proc.pid}): node bench/bare-server.mjs (the small file from memory, nothing else)`);
  return { name: 'bare', port, child, describe: 'node bench/bare-server.mjs' };
}

/** mainCore names the core a server's main thread was on in most samples of a run, with that share ("1 (97%)"). */
function mainCore(r) {
  const c = Object.entries(r?.raw?.main_thread_cores ?? {});
  const n = c.reduce((a, [, k]) => a + k, 0);
  if (n === 0) return 'n/a';
  const [core, k] = c.sort((x, y) => y[1] - x[1])[0];
  return `${core} (${Math.round((100 * k) / n)}%)`;
}

/** PAIR_ROUNDS is how many back-to-back cutover/manifest pairs each workload measures (see run). */
const PAIR_ROUNDS = 3;

/** medianRun is the run of median value among runs of one server on one workload, valid only if all were, with the highest RSS. */
function medianRun(rs) {
  const sorted = [...rs].sort((a, b) => a.value - b.value);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  return {
    ...mid,
    valid: rs.every((r) => r.valid),
    warnings: rs.flatMap((r) => r.warnings),
    raw: { ...mid.raw, rss_max_bytes: Math.max(...rs.map((r) => r.raw.rss_max_bytes ?? 0)), runs: rs.map((r) => r.value) },
  };
}

/** report prints the serve tables, the RSS verdict and the targets line; returns the verdicts. */
export function report(ctx, { servers, results, pairRatios = {}, s3Ratios = {}, bareRounds = {}, s3Loads = null }, meta) {
  const { connections, seconds, warmup } = ctx.opts;
  const names = SERVER_NAMES.filter((n) => servers.some((s) => s.name === n));
  const has = (n) => names.includes(n);
  const verdicts = [];
  const rows = [['workload', 'unit', ...names, 'cutover/go', 'cutover/nginx', 'target (cutover/go)']];
  for (const w of selected(ctx)) {
    const cell = (n) => {
      const r = results[w.id]?.[n];
      if (!r) return 'n/a';
      return fmt(r.value, w.unit === 'MB/s' ? 0 : 0) + (r.valid ? '' : ' (!)');
    };
    const rg = has('cutover') && has('go') ? ratio(results, w, 'cutover', 'go') : null;
    const rn = has('cutover') && has('nginx') ? ratio(results, w, 'cutover', 'nginx') : null;
    let verdict = 'n/a';
    if (rg !== null) {
      const invalid = !results[w.id].cutover.valid || !results[w.id].go.valid;
      verdict = invalid ? 'INVALID' : rg >= w.target ? 'PASS' : 'FAIL';
      verdicts.push({ what: `${w.id} cutover/go >= ${w.target}`, verdict, value: rg });
    }
    rows.push([w.label, w.unit, ...names.map(cell), rg === null ? 'n/a' : rg.toFixed(2), rn === null ? 'n/a' : rn.toFixed(2), `>= ${w.target} ${verdict}`]);
    if (w.alsoMBs) {
      const mrow = (n) => {
        const r = results[w.id]?.[n];
        return r ? fmt(r.mbs) + (r.valid ? '' : ' (!)') : 'n/a';
      };
      const mr = (a, b) => {
        const x = results[w.id]?.[a];
        const y = results[w.id]?.[b];
        return x && y && y.mbs ? (x.mbs / y.mbs).toFixed(2) : 'n/a';
      };
      rows.push([`  (same, throughput)`, 'MB/s', ...names.map(mrow), has('go') ? mr('cutover', 'go') : 'n/a', has('nginx') ? mr('cutover', 'nginx') : 'n/a', '']);
    }
  }
  const out = [];
  out.push('');
  out.push(`Results (${meta.date}; wrk -t1 -c${connections} -d${seconds}s, warmup ${warmup}s; ${meta.cpus} CPUs; MB = 10^6 bytes)`);
  out.push(table(rows, ['l', 'l', ...names.map(() => 'r'), 'r', 'r', 'l']));
  out.push('(!) = errors or implausible byte counts in that run, see warnings; such a row is not a valid measurement.');

  // Manifest mode against directory mode, the same cutover build on the same data (issue 12's target).
  if (has('manifest') && has('cutover')) {
    const mrows = [['workload', 'unit', 'cutover (--root), median', 'manifest, median', 'manifest/cutover (median pair)', 'each pair', `target (>= ${MANIFEST_TARGET})`]];
    for (const w of selected(ctx)) {
      const d = results[w.id]?.cutover;
      const m = results[w.id]?.manifest;
      if (!d || !m) continue;
      const pr = pairRatios[w.id] ?? [];
      const r = pr.length > 0 ? median(pr) : ratio(results, w, 'manifest', 'cutover');
      const verdict = !d.valid || !m.valid ? 'INVALID' : r >= MANIFEST_TARGET ? 'PASS' : 'FAIL';
      verdicts.push({ what: `${w.id} manifest/cutover >= ${MANIFEST_TARGET}`, verdict, value: r });
      mrows.push([w.label, w.unit, fmt(d.value) + (d.valid ? '' : ' (!)'), fmt(m.value) + (m.valid ? '' : ' (!)'), r === null ? 'n/a' : r.toFixed(2), pr.map((x) => x.toFixed(2)).join(', ') || 'n/a', verdict]);
    }
    out.push('');
    out.push(`Manifest mode (${PAIR_ROUNDS} back-to-back pairs per workload, alternating which goes first): serve --manifest (10,000 payloads: exact paths, named segments, globs; ACLs on a third; /small.json by a named pattern and /1m.bin by its exact path, both behind a network ACL, /256m.bin by a glob) against serve --root, same data`);
    out.push(table(mrows, ['l', 'l', 'r', 'r', 'r', 'l', 'l']));
  }

  // cutover serve from S3, the data in its chunk cache, against Go serving the files from disk (issue 13's target).
  if (has('s3') && has('go')) {
    const s3 = servers.find((x) => x.name === 's3');
    const budget = s3.cacheBytes + S3_RSS_MARGIN;
    const srows = [['workload', 'unit', 'go, median', 's3, median', 's3/go (median pair)', 'each pair', 'spread (min-max)', `target (>= ${S3_TARGET})`, 's3 peak RSS']];
    let rssMax = 0;
    for (const w of selected(ctx)) {
      const g = results[w.id]?.go;
      const x = results[w.id]?.s3;
      if (!g || !x) continue;
      const pr = s3Ratios[w.id] ?? [];
      const r = pr.length > 0 ? median(pr) : ratio(results, w, 's3', 'go');
      const verdict = !g.valid || !x.valid ? 'INVALID' : r >= S3_TARGET ? 'PASS' : 'FAIL';
      verdicts.push({ what: `${w.id} s3/go >= ${S3_TARGET}`, verdict, value: r });
      rssMax = Math.max(rssMax, x.raw.rss_max_bytes ?? 0);
      const spread = pr.length ? `${Math.min(...pr).toFixed(2)}-${Math.max(...pr).toFixed(2)}` : 'n/a';
      srows.push([w.label, w.unit, fmt(g.value) + (g.valid ? '' : ' (!)'), fmt(x.value) + (x.valid ? '' : ' (!)'), r === null ? 'n/a' : r.toFixed(2), pr.map((y) => y.toFixed(2)).join(', ') || 'n/a', spread, verdict, fmtMB(x.raw.rss_max_bytes)]);
    }
    const rv = rssMax <= budget ? 'PASS' : 'FAIL';
    verdicts.push({ what: `s3 peak RSS <= cache budget + 100 MB (${fmtMB(budget)})`, verdict: rv, value: rssMax });
    out.push('');
    out.push(`From S3 (${PAIR_ROUNDS} interleaved go/s3 pairs per workload, alternating which goes first): ${s3.describe}, against s3rver on loopback, after a warm-up that loaded all its data into the chunk cache; go serves the same files from disk`);
    out.push(table(srows, ['l', 'l', 'r', 'r', 'r', 'l', 'l', 'l', 'r']));
    out.push(`s3 peak RSS over all its runs: ${fmtMB(rssMax)} (target <= --cache-size ${fmtMB(s3.cacheBytes)} + 100 MB = ${fmtMB(budget)}) ${rv}`);
    for (const [id, rounds] of Object.entries(bareRounds)) {
      // Each pair next to the bare Node server measured right after it, and the core each Node
      // server's main thread was on: a pair in which bare/go falls is one in which the machine
      // slowed the core a single-threaded server runs on, whatever that server does.
      const brows = [['pair', 'go req/s', 's3 req/s (core)', 'bare req/s (core)', 's3/go', 'bare/go', 's3/bare']];
      rounds.forEach((r, i) => {
        const v = (x) => (x ? fmt(x.value) + (x.valid ? '' : ' (!)') : 'n/a');
        const q = (x, y) => (x?.value && y?.value ? (x.value / y.value).toFixed(2) : 'n/a');
        brows.push([String(i + 1), v(r.go), `${v(r.s3)} (${mainCore(r.s3)})`, `${v(r.bare)} (${mainCore(r.bare)})`, q(r.s3, r.go), q(r.bare, r.go), q(r.s3, r.bare)]);
      });
      out.push('');
      out.push(`The ${id} row pair by pair, with bench/bare-server.mjs (Node's HTTP server answering the file from memory, nothing else) measured after each pair; "core": the core a Node server's main thread was on in most samples`);
      out.push(table(brows, ['r', 'r', 'r', 'r', 'r', 'r', 'r']));
    }
    if (s3Loads) {
      const d = s3Loads.after - s3Loads.before;
      // The rows are meant as serving from the chunk cache: a chunk loaded meanwhile means they were not.
      verdicts.push({ what: 's3 served every workload from the chunk cache (0 chunk loads)', verdict: d === 0 ? 'PASS' : 'FAIL', value: d });
      out.push(`s3 chunk loads during the workloads: ${d} (cutover_serve_chunk_loads_total ${s3Loads.before} after the warm-up, ${s3Loads.after} after the last workload${d === 0 ? ': every byte came from the chunk cache' : ': NOT all from the chunk cache'})`);
    }
  }

  // Details: latency, errors, RSS.
  const drows = [['workload', 'server', 'requests', 'req/s', 'MB/s', 'p50', 'p99', 'errors (status/sock/timeout)', 'peak RSS (sampled)']];
  for (const w of selected(ctx)) {
    for (const n of names) {
      const r = results[w.id]?.[n];
      if (!r) continue;
      const e = r.raw.errors;
      drows.push([w.id, n, fmt(r.raw.requests), fmt(r.rps), fmt(r.mbs), fmtMs(r.raw.latency_us?.p50), fmtMs(r.raw.latency_us?.p99), `${e.status}/${e.connect + e.read + e.write}/${e.timeout}`, fmtMB(r.raw.rss_max_bytes)]);
    }
  }
  out.push('');
  out.push('Details (RSS = sum of VmRSS over the server process tree, sampled every 100 ms during warmup+run; nginx = master+worker)');
  out.push(table(drows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));

  if (has('cutover') && results['256m']?.cutover) {
    const rss = results['256m'].cutover.raw.rss_max_bytes;
    const v = rss < RSS_TARGET_BYTES ? 'PASS' : 'FAIL';
    verdicts.push({ what: 'cutover peak RSS during 256 MiB GET < 200 MB', verdict: v, value: rss });
    out.push('');
    out.push(`cutover peak RSS during 256 MiB GET x${connections} connections: ${fmtMB(rss)} (target < 200 MB) ${v}`);
    const cmp = names.filter((n) => n !== 'cutover').map((n) => `${n} ${fmtMB(results['256m'][n]?.raw.rss_max_bytes)}`);
    if (cmp.length) out.push(`  for comparison: ${cmp.join(', ')}`);
  } else if (!has('cutover')) {
    out.push('');
    out.push('cutover was not run: no ratios, no RSS verdict.');
  }
  const warns = [];
  for (const w of SERVE_WORKLOADS) for (const n of names) for (const x of results[w.id]?.[n]?.warnings ?? []) warns.push(`WARNING ${n} ${w.id}: ${x}`);
  if (warns.length) out.push('', ...warns);
  if (verdicts.length) out.push('', targetsLine('Targets', verdicts));
  console.log(out.join('\n'));
  return verdicts;
}

/** toJson is the suite's part of results.json: one entry per selected workload. */
export function toJson(ctx, { results, pairRatios = {}, s3Ratios = {}, bareRounds = {}, s3Loads = null }) {
  return selected(ctx).map((w) => ({
    id: w.id,
    label: w.label,
    unit: w.unit,
    target_cutover_over_go: w.target,
    ...(pairRatios[w.id] ? { manifest_over_cutover_pairs: pairRatios[w.id], target_manifest_over_cutover: MANIFEST_TARGET } : {}),
    ...(s3Ratios[w.id] ? { s3_over_go_pairs: s3Ratios[w.id], target_s3_over_go: S3_TARGET, s3_chunk_loads_during_workloads: s3Loads && s3Loads.after - s3Loads.before } : {}),
    ...(bareRounds[w.id] ? { bare_pairs: bareRounds[w.id].map((r) => ({ go: r.go?.value ?? null, s3: r.s3?.value ?? null, bare: r.bare?.value ?? null, s3_core: mainCore(r.s3), bare_core: mainCore(r.bare) })) } : {}),
    results: Object.fromEntries(
      Object.entries(results[w.id]).map(([n, r]) => {
        const { wrk_stdout, ...raw } = r.raw;
        return [n, { req_per_s: r.rps, mb_per_s: r.mbs, value: r.value, valid: r.valid, warnings: r.warnings, ...raw }];
      }),
    ),
  }));
}
