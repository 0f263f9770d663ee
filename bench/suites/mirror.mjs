// The mirror suite: two proxies in front of old = the nginx server and new = the cutover serve
// server: a second nginx configured as proxy_pass + mirror (the anchor, compares nothing) and
// `cutover mirror` (compares every request). Each load goes through both proxies (and, for the
// fixed-rate loads, straight to old too); targets are cutover-mirror / nginx-mirror, latency over
// old, the share of shadow-eligible requests cutover mirror compared, peak RSS in every row, and that
// every request is accounted for in cutover mirror's /metrics. The rows whose targets name a share
// compared (mirror-mixed: all, mirror-1m: a third) and mirror-256m (all) also go through the simplest
// comparing Node mirror (bench/floor-mirror.mjs: receive, forward, compare exactly that share,
// nothing else) and through the same process comparing nothing (node-proxy), so that each run shows what
// that design, and one Node thread in the path at all, reach on this machine; mirror-1m also through
// the floor over plain net sockets (bench/raw-floor-mirror.mjs: no node:http on its client path). The mixed row also goes
// through nginx as a plain reverse proxy (nginx-proxy: no mirror) and through HAProxy splicing bodies
// in the kernel (haproxy: the cheapest proxy measured here): what a proxy that compares nothing costs the
// small file's latency, in C, copying bodies or not; and through a second cutover mirror that
// shadows nothing (cutover-client: `--sample 0`): what cutover's own client path costs before it
// compares anything, measured in the same run as the target. And through haproxy while a second
// generator at the lowest CPU priority (nice 19) sends the same requests straight to new and reads
// every answer (haproxy-reader): the cheapest hop plus the least that comparing everything adds on a
// machine that runs old and new too (new serves every request twice, something reads its answers),
// with nothing compared and old's bytes handed to no one: a floor under any mirror here that sends its
// shadows as requests come and compares them all.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH, BIG_SIZE, MIRROR_RULES, MiB, OUT, ROOT, RSS_SAMPLE_MS, SMALL_SIZE } from '../lib/constants.mjs';
import { FIXED_RATE_CONNECTIONS, measureWrk, runFixedRate } from '../lib/load.mjs';
import { log, sleep } from '../lib/log.mjs';
import { MIX_CARDS, MIX_CLASSES, MIX_DECK } from '../lib/mix.mjs';
import { freePorts, processTree, startServer, stopChild, tailLog, waitForLog, waitForPort } from '../lib/processes.mjs';
import { fmt, fmtCores, fmtMB, fmtMs, fmtRatio, signedMs, table, targetsLine } from '../lib/report.mjs';
import { buildFloor, FLOORS, mixedFloor, READER_NICE, READER_PACE } from '../lib/floor.mjs';
import { treeRss } from '../lib/sampling.mjs';
import { poolSteady, steadyShare } from '../lib/share.mjs';
import { medianRun, pairedRatios, roundOrder } from '../lib/rounds.mjs';
import { httpGet, sanityCheck } from '../lib/sanity.mjs';
import { pooledDiffInterval, poolRounds } from '../lib/latency.mjs';
import { cutoverCommand, haproxyConf, nginxMirrorConf, nginxProxyConf } from '../lib/servers.mjs';

const MIRROR_RSS_TARGET_BYTES = 250e6;
const MIRROR_P50_TARGET_US = 1000; // cutover mirror p50 - straight-to-old p50
const MIRROR_P99_TARGET_US = 5000;
const MIXED_SMALL_P99_TARGET_US = 2000; // mirror-mixed: small-file p99 through cutover mirror - straight to old
const MIXED_SHARE_TARGET = 1; // mirror-mixed: every shadow-eligible request compared
/**
 * Every target a mirror row may measure, in the order they are measured and reported; each table
 * lists those its rows have (old in the fixed-rate rows, haproxy, haproxy-reader, haproxy-paced-reader, hash-paced-reader and nginx-proxy in mirror-mixed,
 * cutover-client in mirror-mixed and mirror-1m, node-proxy-2p, raw-floor-mirror, reader-floor-mirror and compare-floor-mirror in mirror-1m).
 */
const TARGETS = ['old', 'haproxy', 'haproxy-reader', 'haproxy-paced-reader', 'hash-paced-reader', 'nginx-proxy', 'nginx-mirror', 'floor-mirror', 'node-proxy', 'node-proxy-2p', 'raw-floor-mirror', 'reader-floor-mirror', 'compare-floor-mirror', 'cutover-client', 'cutover-mirror'];
const SATURATED_SHARE_TARGET = 1 / 3; // mirror-1m: compared share at saturation (with the throughput target)
/**
 * The floor mirror's EVERY when it is measured as `node-proxy`: larger than any run's request count,
 * so it compares nothing and is a plain Node proxy (node:http to old, piped to the client).
 */
const NEVER = 2 ** 31;

/**
 * The worker processes of `node-proxy-2p`: node-proxy as a node:cluster primary that accepts and
 * this many workers that proxy, measured on the rows marked `twoProcesses`: what a Node proxy
 * reaches, and what memory it takes, when it uses both of this machine's cores.
 */
const TWO_PROCESSES = 2;

/**
 * workloads returns the suite's workloads; the fixed-rate ones (kind 'rate': one path; 'mixed': the
 * seeded mix of bench/lib/mix.mjs) carry their rate, opts.mirrorRate or opts.mixedRate.
 */
export const workloads = (opts) => [
  { id: 'mirror-latency', label: `fixed ${opts.mirrorRate} req/s GET /small.json`, kind: 'rate', rate: opts.mirrorRate, path: '/small.json', body: SMALL_SIZE },
  {
    id: 'mirror-mixed',
    label: `mixed ${opts.mixedRate} req/s (90% small, 9.9% 1 MiB incl. ranges, 0.1% 64 MiB)`,
    kind: 'mixed',
    rate: opts.mixedRate,
    mix: 'mirror-mixed',
    floorEvery: 1,
  },
  { id: 'mirror-small', label: 'small file GET via proxy (1,238 B)', unit: 'req/s', path: '/small.json', script: 'get.lua', body: SMALL_SIZE, target: 0.5 },
  { id: 'mirror-1m', label: '1 MiB GET via proxy', unit: 'MB/s', path: '/1m.bin', script: 'get.lua', body: MiB, target: 0.7, shareTarget: SATURATED_SHARE_TARGET, floorEvery: 3, twoProcesses: true, rawFloor: true, readerFloor: true, compareFloor: true, clientPath: true },
  { id: 'mirror-256m', label: '256 MiB GET via proxy', unit: 'MB/s', path: '/256m.bin', script: 'get.lua', body: BIG_SIZE, target: 0.7, nodeProxy: true },
];

/** selected returns the suite's workloads that ctx.opts.workloads selects. */
export const selected = (ctx) => workloads(ctx.opts).filter((w) => ctx.opts.workloads.includes(w.id));


/** Prometheus text -> { 'name': v, 'name{kind="x"}': v }. */
function parseProm(text) {
  const m = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const x = line.match(/^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/);
    if (x) m[x[1]] = Number(x[2]);
  }
  return m;
}

// shed: the part of dropped + abandoned given up because the mirror was saturated (explains a
// compared share below 100 %; older builds have no such counter).
const MIRROR_COUNTERS = ['requests', 'compared', 'abandoned', 'dropped', 'skipped', 'shed', 'noise', 'shadow_errors', 'proxy_errors'];
const OPTIONAL_COUNTERS = ['skipped', 'shed', 'noise', 'shadow_errors', 'proxy_errors'];

/** The cutover mirror counters we account with, read from its /metrics. */
async function mirrorCounts(metricsPort) {
  const r = await httpGet(metricsPort, '/metrics');
  if (r.status !== 200) throw new Error(`cutover mirror /metrics: status ${r.status}`);
  const m = parseProm(r.body.toString('utf8'));
  const c = {};
  for (const k of MIRROR_COUNTERS) {
    const v = m[`cutover_mirror_${k}_total`];
    if (v === undefined && !OPTIONAL_COUNTERS.includes(k)) {
      throw new Error(`cutover mirror /metrics has no cutover_mirror_${k}_total`);
    }
    c[k] = v ?? 0;
  }
  c.has_skipped = m.cutover_mirror_skipped_total !== undefined;
  c.pending = m.cutover_mirror_pending ?? 0;
  c.queued = m.cutover_mirror_shadow_queued ?? 0;
  c.divergent = {};
  for (const [k, v] of Object.entries(m)) {
    const x = k.match(/^cutover_mirror_divergent_total\{.*kind="([^"]*)".*\}$/);
    if (x) c.divergent[x[1]] = v;
  }
  return c;
}

/** Waits until no comparison is pending and nothing is queued (max timeoutMs). */
async function mirrorSettle(metricsPort, timeoutMs = 60_000) {
  const t = Date.now();
  for (;;) {
    const c = await mirrorCounts(metricsPort);
    if (c.pending === 0 && c.queued === 0) return { counts: c, settled: true, waited_ms: Date.now() - t };
    if (Date.now() - t > timeoutMs) return { counts: c, settled: false, waited_ms: Date.now() - t };
    await sleep(100);
  }
}

/** accounting is the counter deltas of one workload; `ok` when settled and every request ended one way. */
function accounting(before, after) {
  const d = {};
  for (const k of MIRROR_COUNTERS) d[k] = after.counts[k] - before[k];
  d.divergent = {};
  for (const [k, v] of Object.entries(after.counts.divergent)) if (v - (before.divergent[k] ?? 0) > 0) d.divergent[k] = v - (before.divergent[k] ?? 0);
  d.divergent_requests_by_kind_sum = Object.values(d.divergent).reduce((a, b) => a + b, 0);
  d.pending = after.counts.pending;
  d.settled = after.settled;
  d.settle_ms = after.waited_ms;
  d.accounted = d.compared + d.abandoned + d.dropped + d.skipped;
  d.ok = after.settled && d.accounted === d.requests;
  return d;
}

/**
 * comparedShare is what share of the shadow-eligible requests of an accounting were compared:
 * eligible = requests - skipped (skipped = never meant to be shadowed: method, sampling, a target or
 * body that cannot be repeated); dropped and abandoned ones were eligible and count against it.
 * `share` is null when nothing was eligible.
 */
export function comparedShare(acc) {
  const eligible = acc.requests - acc.skipped;
  return { compared: acc.compared, eligible, share: eligible > 0 ? acc.compared / eligible : null, abandoned: acc.abandoned, dropped: acc.dropped, shed: acc.shed };
}

/**
 * countsAt reads the cutover mirror's counters at each of `offsetsMs` from now (while a load runs);
 * resolves with them in order, or, when a read failed, null after logging why (the row's share
 * target is then n/a, not judged on the whole run's share).
 */
function countsAt(metricsPort, offsetsMs, what) {
  const t0 = Date.now();
  return (async () => {
    const out = [];
    for (const at of offsetsMs) {
      await sleep(Math.max(0, at - (Date.now() - t0)));
      out.push(await mirrorCounts(metricsPort));
    }
    return out;
  })().catch((err) => {
    log(`${what}: WARNING: the steady share was not read (${err.message})`);
    return null;
  });
}

/** floorCounts sets the floor mirror's share (1 in `every`) and returns its counters. */
async function floorCounts(port, every) {
  const r = await httpGet(port, `/__floor?every=${every}`);
  if (r.status !== 200) throw new Error(`floor-mirror /__floor: status ${r.status}`);
  return JSON.parse(r.body.toString('utf8'));
}

/**
 * floorAccounting waits (at most 10 s) until the floor mirror has finished the comparisons of the
 * requests it answered since `before`, and returns the deltas: requests, compared, differing, errors.
 */
async function floorAccounting(port, before) {
  const t = Date.now();
  for (;;) {
    const c = await floorCounts(port, before.every);
    const d = { every: before.every, requests: c.requests - before.requests, compared: c.compared - before.compared, differing: c.differing - before.differing, errors: c.errors - before.errors };
    d.settled = d.compared + d.errors >= Math.floor(c.requests / c.every) - Math.floor(before.requests / before.every);
    if (d.settled || Date.now() - t > 10_000) return d;
    await sleep(100);
  }
}

/**
 * roundDiffs is, for a mirror-mixed result pooled over rounds, target `name`'s small-file p99 minus
 * old's in each round (us); null when the row was not pooled.
 */
function roundDiffs(r, name) {
  const a = r[name]?.per_round;
  const o = r.old?.per_round;
  if (!a || !o || a.length !== o.length) return null;
  return a.map((x, k) => (x.classes?.small?.latency_us?.p99 ?? Number.NaN) - (o[k].classes?.small?.latency_us?.p99 ?? Number.NaN));
}

/** classP99s prints a mixed run's p99 per size class (and small_clear's) for the log. */
function classP99s(x) {
  return [...MIX_CLASSES, 'small_clear'].map((c) => `${c} p99 ${fmtMs(x.classes[c]?.latency_us?.p99)}`).join(', ');
}

/** sumFloor adds two of floorAccounting's deltas (runs of one row): settled when both are. */
function sumFloor(a, b) {
  return { every: a.every, requests: a.requests + b.requests, compared: a.compared + b.compared, differing: a.differing + b.differing, errors: a.errors + b.errors, settled: a.settled && b.settled };
}

/** fmtShare prints a share as `compared N of M (x%); abandoned A, dropped D, of which shed S`. */
function fmtShare(acc) {
  if (!acc) return 'n/a';
  const c = comparedShare(acc);
  const pct = c.share === null ? 'n/a' : `${(c.share * 100).toFixed(c.share > 0 && c.share < 0.001 ? 3 : 1)}%`;
  return `compared ${fmt(c.compared)} of ${fmt(c.eligible)} (${pct}); abandoned ${fmt(c.abandoned)}, dropped ${fmt(c.dropped)}, of which shed ${fmt(c.shed)}`;
}

/**
 * fmtSteady prints a steady share as `second half of the run: x% (N of M)`, or, pooled over rounds,
 * `second half of the 3 runs: x% (N of M; per run a%, b%, c%)`.
 */
function fmtSteady(st) {
  if (!st || st.share === null) return '';
  const pct = (x) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const rounds = st.per_round?.length > 1 ? st.per_round : null;
  return `; second half of the ${rounds ? `${rounds.length} runs` : 'run'}: ${pct(st.share)} (${fmt(st.compared)} of ${fmt(st.eligible)}${rounds ? `; per run ${rounds.map(pct).join(', ')}` : ''})`;
}

/** logProblems counts the lines of a log matching `re`, with up to three samples. */
function logProblems(file, re) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { count: 0, samples: [] };
  }
  const lines = text.split('\n').filter((l) => re.test(l));
  return { count: lines.length, samples: lines.slice(0, 3).map((l) => (l.length > 300 ? l.slice(0, 300) + '...' : l)) };
}

/**
 * run: starts the nginx mirror proxy and cutover mirror in front of
 * old (nginx) and new (cutover serve), runs the selected mirror workloads one
 * target at a time, accounts every cutover-mirror workload through /metrics,
 * samples cutover mirror's RSS for the whole part, then stops both proxies
 * (cutover mirror by SIGTERM: drain, summary).
 */
export async function run(ctx, oldS, newS) {
  const { seconds, mirrorWarmup, mirrorOut, mirrorArgs, seed } = ctx.opts;
  const [nmPort, cmPort, metricsPort, fmPort, tpPort, nxPort, hpPort, rfPort, ccPort, rdPort, cfPort, hfPort] = await freePorts(12);
  const confPath = path.join(OUT, 'nginx-mirror.conf');
  fs.writeFileSync(confPath, nginxMirrorConf(nmPort, oldS.port, newS.port));
  fs.rmSync(path.join(OUT, 'nginx-mirror-error.log'), { force: true });
  const nmChild = startServer(ctx, 'nginx-mirror', 'nginx', ['-p', OUT + '/', '-e', path.join(OUT, 'nginx-mirror-error.log'), '-c', confPath]);
  const nm = { name: 'nginx-mirror', port: nmPort, child: nmChild, describe: `nginx -c ${path.relative(ROOT, confPath)} (proxy_pass old + mirror to new, 1 worker)` };
  // Two proxies that compare nothing, started only when the mixed row is measured: nginx as a plain
  // reverse proxy to old (its client path, buffered, one worker), and HAProxy splicing bodies in the
  // kernel when it is installed (the cheapest proxy measured here).
  let nx = null;
  let hp = null;
  let hr = null;
  let hrp = null;
  let hf = null;
  if (selected(ctx).some((w) => w.kind === 'mixed')) {
    // The least a comparing mirror of cutover's build must do: cutover mirror's client path, from
    // its own parts, hashing every answer of old's as the mirror hashes a primary's body (old's
    // bytes pass through the mirror only), while new is read by haproxy-paced-reader's reader, at
    // the lowest CPU priority in a process of its own, paced as cutover mirror paces its shadows.
    const hfChild = startServer(ctx, 'hash-paced-reader', process.execPath, [path.join(BENCH, 'hash-floor-mirror.mjs'), String(hfPort), String(oldS.port), '1']);
    hf = { name: 'hash-paced-reader', port: hfPort, child: hfChild, reader: { port: newS.port, nice: READER_NICE, pace: READER_PACE }, describe: `node bench/hash-floor-mirror.mjs ${hfPort} ${oldS.port} 1 (cutover mirror's client path from its own parts, every answer of old's hashed in blocks as the mirror hashes it, nothing sent to new), while \`nice -n ${READER_NICE} node bench/fixed-rate.mjs\` sends the same requests at the same moments straight to new (port ${newS.port}) and reads each answer as cutover mirror reads its shadows' bodies (past the first 4 MiB, 16 MiB/s), comparing nothing` };
    const nxConf = path.join(OUT, 'nginx-proxy.conf');
    fs.writeFileSync(nxConf, nginxProxyConf(nxPort, oldS.port));
    fs.rmSync(path.join(OUT, 'nginx-proxy-error.log'), { force: true });
    const nxChild = startServer(ctx, 'nginx-proxy', 'nginx', ['-p', OUT + '/', '-e', path.join(OUT, 'nginx-proxy-error.log'), '-c', nxConf]);
    nx = { name: 'nginx-proxy', port: nxPort, child: nxChild, describe: `nginx -c ${path.relative(ROOT, nxConf)} (proxy_pass old, no mirror, 1 worker)` };
    if (spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).status !== 0) {
      log('haproxy not found in PATH: mirror-mixed runs without it (apt-get install -y haproxy)');
    } else {
      const hpConf = path.join(OUT, 'haproxy.cfg');
      fs.writeFileSync(hpConf, haproxyConf(hpPort, oldS.port));
      const hpChild = startServer(ctx, 'haproxy', 'haproxy', ['-db', '-f', hpConf]);
      hp = { name: 'haproxy', port: hpPort, child: hpChild, describe: `haproxy -db -f ${path.relative(ROOT, hpConf)} (HTTP proxy to old, bodies spliced in the kernel, a thread per core)` };
      // The same haproxy, measured while new is read as a mirror comparing everything would read it.
      hr = { ...hp, name: 'haproxy-reader', reader: { port: newS.port, nice: READER_NICE }, describe: `haproxy as above, while \`nice -n ${READER_NICE} node bench/fixed-rate.mjs\` sends the same requests at the same moments straight to new (port ${newS.port}) and reads every answer, comparing nothing` };
      // The same again with new's answers read as cutover mirror reads its shadows' bodies: spread
      // over seconds rather than as fast as new sends them.
      const paced = `--pace ${READER_PACE.bytesPerSecond} --pace-after ${READER_PACE.after}`;
      hrp = { ...hp, name: 'haproxy-paced-reader', reader: { port: newS.port, nice: READER_NICE, pace: READER_PACE }, describe: `${hr.describe}; its reader with ${paced} (each body past its first 4 MiB read at 16 MiB/s, cutover mirror's default --shadow-rate)` };
    }
  }

  const cmd = cutoverCommand(ctx);
  const outFile = path.join(OUT, 'mirror-divergences.jsonl');
  fs.rmSync(outFile, { force: true });
  // The command both cutover mirrors (cutover-mirror, cutover-client) run, listening on `port`.
  const mirrorCommand = (port) => [cmd.file, 'mirror', '--listen', `127.0.0.1:${port}`, '--old', `http://127.0.0.1:${oldS.port}`, '--new', `http://127.0.0.1:${newS.port}`, '--grace', '2s', '--rules', MIRROR_RULES];
  const mirrorDrainMs = 2000 + 3000; // --grace 2s, then the summary
  const cmArgs = [...mirrorCommand(cmPort), '--metrics-listen', `127.0.0.1:${metricsPort}`, ...(mirrorOut ? ['--out', outFile] : []), ...mirrorArgs];
  const cmChild = startServer(ctx, 'cutover-mirror', process.execPath, cmArgs);
  cmChild.drainMs = mirrorDrainMs;
  const cm = { name: 'cutover-mirror', port: cmPort, child: cmChild, describe: `node ${cmd.rel} ${cmArgs.slice(1).join(' ').replaceAll(ROOT + '/', '')}` };
  // cutover's client path alone, started only when a row that measures it is selected (mirror-mixed,
  // and the rows marked `clientPath`): the same command shadowing nothing (`--sample 0`, after any
  // BENCH_MIRROR_ARGS), so the same requests reach old the same way and nothing is sent to new or
  // compared. It shows, in the same run, how much of cutover-mirror's latency over old its client
  // path takes before any comparison, and at saturation how much throughput comparing costs.
  let cc = null;
  if (selected(ctx).some((w) => w.kind === 'mixed' || w.clientPath)) {
    const ccArgs = [...mirrorCommand(ccPort), ...mirrorArgs, '--sample', '0'];
    const ccChild = startServer(ctx, 'cutover-client', process.execPath, ccArgs);
    ccChild.drainMs = mirrorDrainMs;
    cc = { name: 'cutover-client', port: ccPort, child: ccChild, describe: `node ${cmd.rel} ${ccArgs.slice(1).join(' ').replaceAll(ROOT + '/', '')} (cutover mirror shadowing nothing: its client path alone)` };
  }

  const fmChild = startServer(ctx, 'floor-mirror', process.execPath, [path.join(BENCH, 'floor-mirror.mjs'), String(fmPort), String(oldS.port), String(newS.port), '3']);
  const fm = { name: 'floor-mirror', port: fmPort, child: fmChild, describe: `node bench/floor-mirror.mjs ${fmPort} ${oldS.port} ${newS.port} EVERY (the Node floor: compares 1 in EVERY)` };
  // The same process set to compare nothing: a plain Node proxy, what a single Node thread costs a
  // request on its way to old and back before any comparison.
  const np = { name: 'node-proxy', port: fmPort, child: fmChild, describe: `the floor mirror with EVERY = ${NEVER} (compares nothing)` };

  // node-proxy as two worker processes, started only when a selected row measures it.
  const tpChild = selected(ctx).some((w) => w.twoProcesses)
    ? startServer(ctx, 'node-proxy-2p', process.execPath, [path.join(BENCH, 'floor-mirror.mjs'), String(tpPort), String(oldS.port), String(newS.port), String(NEVER), String(TWO_PROCESSES)])
    : null;
  // The floor without node:http on its client path, started only when a selected row measures it.
  const rfChild = selected(ctx).some((w) => w.rawFloor)
    ? startServer(ctx, 'raw-floor-mirror', process.execPath, [path.join(BENCH, 'raw-floor-mirror.mjs'), String(rfPort), String(oldS.port), String(newS.port), '3'])
    : null;
  const rf = rfChild && { name: 'raw-floor-mirror', port: rfPort, child: rfChild, describe: `node bench/raw-floor-mirror.mjs ${rfPort} ${oldS.port} ${newS.port} EVERY (the floor over net sockets, no node:http: compares 1 in EVERY)` };
  // The ceiling of a mirror built as cutover's (node:http, undici), reading a share of new's answers
  // and comparing nothing; started only when a selected row measures it.
  const rdChild = selected(ctx).some((w) => w.readerFloor)
    ? startServer(ctx, 'reader-floor-mirror', process.execPath, [path.join(BENCH, 'reader-floor-mirror.mjs'), String(rdPort), String(oldS.port), String(newS.port), '3'])
    : null;
  const rd = rdChild && { name: 'reader-floor-mirror', port: rdPort, child: rdChild, describe: `node bench/reader-floor-mirror.mjs ${rdPort} ${oldS.port} ${newS.port} EVERY (node:http for clients, undici for old and new: reads 1 in EVERY of new's answers and throws them away, comparing nothing)` };
  // The same build comparing that share, status and bytes, and doing nothing else: the least work
  // a comparing mirror of the build does; started only when a selected row measures it.
  const cfChild = selected(ctx).some((w) => w.compareFloor)
    ? startServer(ctx, 'compare-floor-mirror', process.execPath, [path.join(BENCH, 'reader-floor-mirror.mjs'), String(cfPort), String(oldS.port), String(newS.port), '3', 'compare'])
    : null;
  const cf = cfChild && { name: 'compare-floor-mirror', port: cfPort, child: cfChild, describe: `node bench/reader-floor-mirror.mjs ${cfPort} ${oldS.port} ${newS.port} EVERY compare (the reader floor comparing the two answers of 1 in EVERY, status and bytes, as they come: nothing else)` };
  const tp = tpChild && { name: 'node-proxy-2p', port: tpPort, child: tpChild, describe: `node bench/floor-mirror.mjs ${tpPort} ${oldS.port} ${newS.port} ${NEVER} ${TWO_PROCESSES} (node-proxy as a node:cluster primary and ${TWO_PROCESSES} workers)` };

  await waitForPort(nmChild, nmPort);
  if (nx) await waitForPort(nx.child, nxPort);
  if (hp) await waitForPort(hp.child, hpPort);
  if (hf) await waitForLog(hf.child, /listening on http:\/\//);
  await waitForPort(fmChild, fmPort);
  // The primary prints its line once every worker listens.
  if (tpChild) await waitForLog(tpChild, /listening on http:\/\//);
  if (rfChild) await waitForPort(rfChild, rfPort);
  if (rdChild) await waitForPort(rdChild, rdPort);
  if (cfChild) await waitForPort(cfChild, cfPort);
  if (cc) await waitForLog(cc.child, /listening on http:\/\//);
  log(`floor-mirror listening on 127.0.0.1:${fmPort} (pid ${fmChild.proc.pid}): ${fm.describe}`);
  log(`nginx-mirror listening on 127.0.0.1:${nmPort} (pid ${nmChild.proc.pid}): ${nm.describe}`);
  if (nx) log(`nginx-proxy listening on 127.0.0.1:${nxPort} (pid ${nx.child.proc.pid}): ${nx.describe}`);
  if (hp) log(`haproxy listening on 127.0.0.1:${hpPort} (pid ${hp.child.proc.pid}): ${hp.describe}`);
  if (hr) log(`haproxy-reader: ${hr.describe}`);
  if (hrp) log(`haproxy-paced-reader: ${hrp.describe}`);
  if (hf) log(`hash-paced-reader listening on 127.0.0.1:${hfPort} (pid ${hf.child.proc.pid}): ${hf.describe}`);
  if (rf) log(`raw-floor-mirror listening on 127.0.0.1:${rfPort} (pid ${rfChild.proc.pid}): ${rf.describe}`);
  if (rd) log(`reader-floor-mirror listening on 127.0.0.1:${rdPort} (pid ${rdChild.proc.pid}): ${rd.describe}`);
  if (cf) log(`compare-floor-mirror listening on 127.0.0.1:${cfPort} (pid ${cfChild.proc.pid}): ${cf.describe}`);
  if (tp) log(`node-proxy-2p listening on 127.0.0.1:${tpPort} (pids ${processTree(tpChild.proc.pid).join(', ')}): ${tp.describe}`);
  if (cc) log(`cutover-client listening on 127.0.0.1:${ccPort} (pid ${cc.child.proc.pid}): ${cc.describe}`);
  await waitForLog(cmChild, /listening on http:\/\//);
  await waitForPort(cmChild, metricsPort);
  log(`cutover-mirror listening on 127.0.0.1:${cmPort}, metrics 127.0.0.1:${metricsPort} (pid ${cmChild.proc.pid}): ${cm.describe}`);

  // Whole-part RSS of cutover mirror (and of the nginx proxy, for comparison).
  // `row` is the peak of the workload being run through cutover mirror (warmup, run and the settling
  // of its comparisons), when one is.
  const rss = { 'cutover-mirror': { max: treeRss([cmChild.proc.pid]), samples: 0 }, 'nginx-mirror': { max: 0, samples: 0 }, row: null };
  const nmPids = processTree(nmChild.proc.pid);
  const wholeSampler = setInterval(() => {
    const a = treeRss([cmChild.proc.pid]);
    rss['cutover-mirror'].samples++;
    if (a > rss['cutover-mirror'].max) rss['cutover-mirror'].max = a;
    if (rss.row && a > rss.row.max) rss.row.max = a;
    const b = treeRss(nmPids);
    rss['nginx-mirror'].samples++;
    if (b > rss['nginx-mirror'].max) rss['nginx-mirror'].max = b;
  }, RSS_SAMPLE_MS);

  const res = { proxies: [nm, ...(hp ? [hp] : []), ...(hr ? [hr] : []), ...(hrp ? [hrp] : []), ...(hf ? [hf] : []), ...(nx ? [nx] : []), fm, np, ...(tp ? [tp] : []), ...(rf ? [rf] : []), ...(cc ? [cc] : []), cm].map((s) => ({ name: s.name, port: s.port, command: s.describe })), workloads: {}, rss };
  try {
    const c0 = await mirrorCounts(metricsPort);
    await sanityCheck(nm);
    if (nx) await sanityCheck(nx);
    if (hp) await sanityCheck(hp);
    if (hf) await sanityCheck(hf);
    await sanityCheck(fm);
    if (tp) await sanityCheck(tp);
    if (rf) await sanityCheck(rf);
    if (cc) await sanityCheck(cc);
    await sanityCheck(cm);
    res.sanity_accounting = accounting(c0, await mirrorSettle(metricsPort));

    for (const w of selected(ctx)) {
      const r = (res.workloads[w.id] = {});
      const fixedRate = w.kind === 'rate' || w.kind === 'mixed';
      // mirror-256m has no floor: comparing all of 64 concurrent 256 MiB downloads with nothing to
      // pace its shadows, the floor fell to 4 MB/s and stopped answering; the plain proxy still tells
      // what one Node thread in the path reaches.
      const floor = [...(w.floorEvery ? [fm, np] : w.nodeProxy ? [np] : []), ...(w.twoProcesses && tp ? [tp] : []), ...(w.rawFloor && rf ? [rf] : []), ...(w.readerFloor && rd ? [rd] : []), ...(w.compareFloor && cf ? [cf] : [])];
      // The two parts of the row's target (cutover mirror and what it is judged against: old in the
      // fixed-rate rows, nginx's mirror in the saturated ones) run next to each other, the references
      // after them: this machine's speed drifts over a minute (CPU taken by its host), and a ratio of
      // two runs a minute apart carried that drift. Which of the two goes first alternates by round,
      // so that neither always follows the other (see roundOrder).
      const oldT = { ...oldS, name: 'old' };
      const targets = fixedRate
        ? [oldT, cm, ...(w.kind === 'mixed' ? [hp, hr, hrp, hf, nx].filter(Boolean) : []), nm, ...floor, ...(w.kind === 'mixed' && cc ? [cc] : [])]
        : [nm, cm, ...floor, ...(w.clientPath && cc ? [cc] : [])];
      // mirror-mixed: every target once per round, in turn, and each target's latencies pooled over
      // the rounds (see BENCH_MIXED_ROUNDS); the saturated rows: every target once per round, in
      // turn, each target's figure its median round's and the target judged on the median of the
      // rounds' own ratios (see BENCH_SATURATED_ROUNDS). The accounting spans every round.
      const rounds = w.kind === 'mixed' ? ctx.opts.mixedRounds : fixedRate ? 1 : ctx.opts.saturatedRounds;
      const pooling = rounds > 1;
      // mirror-mixed's floors (FLOORS) decide whether the row's target is within any mirror's reach on
      // this machine, and the difference they are judged on is a few milliseconds of a p99 that moves
      // by more than that from one round to the next: old, haproxy and the floors go on alone for
      // more rounds (BENCH_FLOOR_ROUNDS in all), in rotation. The figures and tables of the row stay
      // those of the rounds every target ran; only the hops' differences and intervals over old use
      // every round each ran next to old.
      const floorTargets = w.kind === 'mixed' && hp ? [oldT, hp, hr, hrp, ...(hf ? [hf] : [])] : [];
      const floorOnly = floorTargets.length > 0 ? Math.max(0, ctx.opts.floorRounds - rounds) : 0;
      const runs = {};
      const steadies = [];
      let before = null;
      // New gets a fixed-rate row's load once, straight and unmeasured, before the first round:
      // cutover mirror runs first in it, and would otherwise be the only target whose shadows meet a
      // new that has not served this load yet. (In the saturated rows nginx's mirror, which shadows
      // every request, runs first in the first round.)
      if (fixedRate) await runFixedRate(ctx, { ...newS, name: 'new-warmup' }, w, { rate: w.rate, seconds: mirrorWarmup, warmup: 1, seed });
      for (let k = 0; k < rounds + floorOnly; k++) {
        const first = k === 0;
        const last = k === rounds - 1;
        const tag = pooling ? ` round ${k + 1}/${rounds + floorOnly}` : '';
        const order = k < rounds ? roundOrder(targets, k) : floorTargets.map((_, i) => floorTargets[(i + k) % floorTargets.length]);
        for (const s of order) {
          if (s === cm && first) {
            before = (await mirrorSettle(metricsPort)).counts;
            rss.row = { max: treeRss([cmChild.proc.pid]) };
          }
          // The floor and node-proxy are one process: its share is set before each of their runs.
          const floorBefore = s === fm ? await floorCounts(fmPort, w.floorEvery) : null;
          const proxyBefore = s === np ? await floorCounts(fmPort, NEVER) : null;
          const rawBefore = s === rf ? await floorCounts(rfPort, w.floorEvery) : null;
          const readerBefore = s === rd ? await floorCounts(rdPort, w.floorEvery) : null;
          const compareBefore = s === cf ? await floorCounts(cfPort, w.floorEvery) : null;
          const hashBefore = s === hf ? await floorCounts(hfPort, 1) : null;
          if (fixedRate) {
            const x = await runFixedRate(ctx, s, w, { rate: w.rate, seconds, warmup: mirrorWarmup, seed, raw: pooling, round: pooling ? k + 1 : undefined });
            (runs[s.name] ??= []).push(x);
            const l = x.latency_us ?? {};
            const classes = x.classes ? ` ${classP99s(x)}, ${fmt(x.mb_per_s, 1)} MB/s` : '';
            log(`${w.id}${tag} ${s.name.padEnd(14)} ${w.rate} req/s: p50 ${fmtMs(l.p50)} p99 ${fmtMs(l.p99)} max ${fmtMs(l.max)}${classes} (${x.completed}/${x.scheduled} ok)${x.warnings.length ? '  WARN: ' + x.warnings.join('; ') : ''}`);
            if (last) {
              r[s.name] = pooling ? poolRounds(runs[s.name]) : x;
              if (pooling) {
                const p = r[s.name];
                const pc = p.classes ? ` ${classP99s(p)}` : '';
                log(`${w.id} pooled over ${rounds} rounds ${s.name.padEnd(14)} p50 ${fmtMs(p.latency_us?.p50)} p99 ${fmtMs(p.latency_us?.p99)}${pc}`);
              }
            }
          } else {
            // The cutover mirror's counters in the second half of the run: its steady share.
            const half = ctx.opts.seconds / 2;
            const probes = s === cm ? countsAt(metricsPort, [(ctx.opts.warmup + half) * 1000, (ctx.opts.warmup + ctx.opts.seconds) * 1000 - 200], w.id) : null;
            const a = await measureWrk(ctx, s, w);
            (runs[s.name] ??= []).push(a);
            const got = probes && (await probes);
            if (s === cm) steadies.push(got ? steadyShare(got[0], got[1], ctx.opts.warmup + half, ctx.opts.warmup + ctx.opts.seconds - 0.2) : null);
            log(`${w.id}${tag} ${s.name.padEnd(14)} ${fmt(a.rps).padStart(9)} req/s ${fmt(a.mbs).padStart(7)} MB/s  rss ${fmtMB(a.raw.rss_max_bytes)}${s === cm ? fmtSteady(steadies.at(-1)) : ''}${a.warnings.length ? '  WARN: ' + a.warnings.join('; ') : ''}`);
            if (last) r[s.name] = medianRun(runs[s.name]);
          }
          if (s === np) {
            const c = await floorCounts(fmPort, NEVER);
            if (c.compared !== proxyBefore.compared) throw new Error(`node-proxy compared ${c.compared - proxyBefore.compared} exchanges during ${w.id}; it must compare none`);
          }
          if (s === fm) {
            const d = await floorAccounting(fmPort, floorBefore);
            r.floor = r.floor ? sumFloor(r.floor, d) : d;
            log(`${w.id}${tag} floor-mirror: compared ${d.compared} of ${d.requests} (1 in ${d.every}), differing ${d.differing}, errors ${d.errors}`);
          }
          if (s === rf) {
            const d = await floorAccounting(rfPort, rawBefore);
            r.raw_floor = r.raw_floor ? sumFloor(r.raw_floor, d) : d;
            log(`${w.id}${tag} raw-floor-mirror: compared ${d.compared} of ${d.requests} (1 in ${d.every}), differing ${d.differing}, errors ${d.errors}`);
          }
          if (s === rd) {
            const d = await floorAccounting(rdPort, readerBefore);
            r.reader_floor = r.reader_floor ? sumFloor(r.reader_floor, d) : d;
            log(`${w.id}${tag} reader-floor-mirror: read ${d.compared} of ${d.requests} of new's answers (1 in ${d.every}), errors ${d.errors}`);
          }
          if (s === cf) {
            const d = await floorAccounting(cfPort, compareBefore);
            r.compare_floor = r.compare_floor ? sumFloor(r.compare_floor, d) : d;
            log(`${w.id}${tag} compare-floor-mirror: compared ${d.compared} of ${d.requests} (1 in ${d.every}), differing ${d.differing}, errors ${d.errors}`);
          }
          if (s === hf) {
            const d = await floorAccounting(hfPort, hashBefore);
            r.hash_floor = r.hash_floor ? sumFloor(r.hash_floor, d) : d;
            log(`${w.id}${tag} hash-paced-reader: hashed ${d.compared} of ${d.requests} of old's answers, errors ${d.errors}`);
          }
          if (s === cm && last) {
            const acc = accounting(before, await mirrorSettle(metricsPort));
            r.accounting = acc;
            // Peak over warmup, run and settling (every round's, and what ran between them); the
            // load's own sampling (also every 100 ms) may catch a higher instant.
            const loadPeak = Math.max(...runs[s.name].map((x) => (fixedRate ? x.rss_max_bytes : x.raw?.rss_max_bytes) ?? 0));
            r.rss_max_bytes = Math.max(rss.row.max, loadPeak, treeRss([cmChild.proc.pid]));
            rss.row = null;
            log(`${w.id} cutover-mirror accounting: requests ${acc.requests} = compared ${acc.compared} + abandoned ${acc.abandoned} + dropped ${acc.dropped} + skipped ${acc.skipped} ? ${acc.ok ? 'yes' : 'NO'} (settled in ${acc.settle_ms} ms); ${fmtShare(acc)}${fmtSteady(poolSteady(steadies))}; divergent ${JSON.stringify(acc.divergent)}; peak RSS ${fmtMB(r.rss_max_bytes)}`);
          }
          if (cmChild.exited) throw new Error(`cutover mirror died during ${w.id}: ${JSON.stringify(cmChild.exited)}\n${tailLog(cmChild)}`);
          // Its comparisons still under way (a paced 64 MiB shadow lasts seconds) would load the
          // machine during the next target's run: they end first.
          if (s === cm && !last) await mirrorSettle(metricsPort);
          await sleep(w.id === 'mirror-256m' ? 1000 : 300);
        }
      }
      // The saturated rows' ratios, once every target has run its last round (in every second round,
      // the 2nd, 4th, ..., cutover mirror runs before nginx's mirror, and in every round before the
      // references).
      if (!fixedRate) {
        const st = poolSteady(steadies);
        if (st) r.steady = st;
        const q = pairedRatios(runs[cm.name], runs[nm.name]);
        r.ratio = q.median;
        r.ratio_rounds = q.per_round;
        if (pooling) log(`${w.id} over ${rounds} rounds: cutover-mirror/nginx-mirror per round ${q.per_round.map(fmtRatio).join(', ')}, median ${fmtRatio(q.median)}${fmtSteady(r.steady)}`);
        // Each reference measured in the rounds (cutover's client path alone, the reader
        // floor) against nginx's mirror, and cutover mirror against it, round by round.
        r.against = {};
        for (const x of [cc, rd, cf]) {
          if (x && runs[x.name]) r.against[x.name] = { anchor: pairedRatios(runs[x.name], runs[nm.name]), mirror: pairedRatios(runs[cm.name], runs[x.name]) };
        }
      }
      // mirror-mixed: how sure each hop's small-file p99 over old's is, from its rounds and old's
      // (rounds resampled, each with old's round next to it). A target that ran in fewer rounds than
      // old (every one but the floors) is paired with old's rounds of the same numbers.
      if (w.kind === 'mixed' && runs.old) {
        for (const n of Object.keys(runs)) {
          if (n === 'old' || !r[n]) continue;
          r[n].small_p99_minus_old_ci = pooledDiffInterval(runs[n], runs.old, 'small', { seed });
        }
        if (r.old) r.old.floor_rounds = runs.old.length;
        // A floor's reader's counts over every round it ran (as its interval), not one round's.
        for (const f of [...FLOORS, { name: 'hash-paced-reader' }]) if (r[f.name] && runs[f.name]?.length > 1) r[f.name].reader = { ...runs[f.name][0].reader, ...Object.fromEntries(['scheduled', 'completed', 'failed'].map((k) => [k, runs[f.name].reduce((a, y) => a + (y.reader?.[k] ?? 0), 0)])) };
        const cis = ['haproxy', ...FLOORS.map((f) => f.name), 'hash-paced-reader'].map((n) => [n, r[n]?.small_p99_minus_old_ci]).filter(([, ci]) => ci);
        if (floorOnly > 0 && cis.length > 0) log(`${w.id} small-file p99 - old over ${rounds + floorOnly} rounds: ${cis.map(([n, ci]) => `${n} ${signedMs(ci.diff_us)} (${signedMs(ci.lo_us)} to ${signedMs(ci.hi_us)})`).join(', ')}`);
      }
    }
    res.final_counts = (await mirrorSettle(metricsPort)).counts;
  } finally {
    clearInterval(wholeSampler);
    const t = Date.now();
    await stopChild(ctx, cmChild);
    res.stop = { ms: Date.now() - t, exit: cmChild.exited };
    await stopChild(ctx, nmChild);
    if (nx) await stopChild(ctx, nx.child);
    if (hp) await stopChild(ctx, hp.child);
    if (hf) await stopChild(ctx, hf.child);
    await stopChild(ctx, fmChild);
    if (tpChild) await stopChild(ctx, tpChild);
    if (rfChild) await stopChild(ctx, rfChild);
    if (rdChild) await stopChild(ctx, rdChild);
    if (cfChild) await stopChild(ctx, cfChild);
    if (cc) await stopChild(ctx, cc.child);
  }
  // Summary printed by cutover mirror on SIGTERM.
  const logText = fs.readFileSync(cmChild.logPath, 'utf8');
  const i = logText.lastIndexOf('cutover mirror: stopped');
  res.summary = i >= 0 ? logText.slice(i).trimEnd() : null;
  const m = res.summary?.match(/requests (\d+)\s+compared (\d+)\s+divergent (\d+)\s+noise (\d+)\s+dropped (\d+)\s+abandoned (\d+)\s+skipped (\d+)/);
  if (m) {
    const [requests, compared, divergent, noise, dropped, abandoned, skipped] = m.slice(1).map(Number);
    res.summary_counts = { requests, compared, divergent, noise, dropped, abandoned, skipped, ok: requests === compared + dropped + abandoned + skipped };
  }
  // pino: level 40 warn, 50 error, 60 fatal; anything on stderr that is not JSON is suspicious too.
  res.log_problems = logProblems(cmChild.logPath, /"level":(4|5|6)0|Error|error:|Unhandled|WARNING/);
  res.nginx_mirror_log_problems = logProblems(path.join(OUT, 'nginx-mirror-error.log'), /\[(error|crit|alert|emerg)\]/);
  if (nx) res.nginx_proxy_log_problems = logProblems(path.join(OUT, 'nginx-proxy-error.log'), /\[(error|crit|alert|emerg)\]/);
  if (hp) res.haproxy_log_problems = logProblems(hp.child.logPath, /\[(ALERT|WARNING)\]/);
  return res;
}

/** toJson is the suite's part of results.json (`mirror`): figures, accounting, RSS, stop summary. */
export function toJson(ctx, res) {
  const W = workloads(ctx.opts);
  const list = W.filter((w) => res.workloads[w.id]).map((w) => {
    const r = res.workloads[w.id];
    const fixedRate = w.kind === 'rate' || w.kind === 'mixed';
    const targets = {};
    for (const n of TARGETS) {
      const x = r[n];
      if (!x) continue;
      if (fixedRate) targets[n] = x;
      else {
        const { wrk_stdout, ...raw } = x.raw;
        targets[n] = { req_per_s: x.rps, mb_per_s: x.mbs, value: x.value, valid: x.valid, warnings: x.warnings, ...raw };
      }
    }
    return {
      id: w.id,
      label: w.label,
      rate: w.rate,
      unit: w.kind === 'rate' ? 'latency (us)' : w.kind === 'mixed' ? 'latency (us) per size class' : w.unit,
      target: {
        ...(w.kind === 'rate'
          ? { p50_minus_old_us: MIRROR_P50_TARGET_US, p99_minus_old_us: MIRROR_P99_TARGET_US }
          : w.kind === 'mixed'
            ? { small_p99_minus_old_us: MIXED_SMALL_P99_TARGET_US, compared_share: MIXED_SHARE_TARGET }
            : { cutover_mirror_over_nginx_mirror: w.target, ...(w.shareTarget ? { compared_share_min: w.shareTarget } : {}) }),
        cutover_mirror_rss_max_bytes: MIRROR_RSS_TARGET_BYTES,
      },
      results: targets,
      accounting: r.accounting,
      compared_share: r.accounting ? comparedShare(r.accounting) : null,
      steady_share: r.steady ?? null,
      ...(r.ratio_rounds ? { cutover_mirror_over_nginx_mirror: { median: r.ratio, per_round: r.ratio_rounds } } : {}),
      ...(r.against?.['cutover-client'] ? { cutover_client_over_nginx_mirror: r.against['cutover-client'].anchor, cutover_mirror_over_cutover_client: r.against['cutover-client'].mirror } : {}),
      ...(r.against?.['reader-floor-mirror'] ? { reader_floor_over_nginx_mirror: r.against['reader-floor-mirror'].anchor, cutover_mirror_over_reader_floor: r.against['reader-floor-mirror'].mirror, reader_floor_read: r.reader_floor } : {}),
      ...(r.against?.['compare-floor-mirror'] ? { compare_floor_over_nginx_mirror: r.against['compare-floor-mirror'].anchor, cutover_mirror_over_compare_floor: r.against['compare-floor-mirror'].mirror, compare_floor_compared: r.compare_floor } : {}),
      floor_mirror: r.floor ?? null,
      ...(r.raw_floor ? { raw_floor_mirror: r.raw_floor } : {}),
      cutover_mirror_rss_max_bytes: r.rss_max_bytes ?? null,
    };
  });
  return {
    rate: ctx.opts.mirrorRate,
    mixed_rate: ctx.opts.mixedRate,
    seed: ctx.opts.seed,
    rate_connections: FIXED_RATE_CONNECTIONS,
    rules: MIRROR_RULES,
    proxies: res.proxies,
    workloads: list,
    sanity_accounting: res.sanity_accounting,
    rss_max_bytes: { 'cutover-mirror': res.rss['cutover-mirror'].max, 'nginx-mirror': res.rss['nginx-mirror'].max, samples: res.rss['cutover-mirror'].samples },
    rss_target_bytes: MIRROR_RSS_TARGET_BYTES,
    final_counts: res.final_counts,
    summary: res.summary,
    summary_counts: res.summary_counts,
    stop: res.stop,
    log_problems: res.log_problems,
    nginx_mirror_log_problems: res.nginx_mirror_log_problems,
    ...(res.nginx_proxy_log_problems ? { nginx_proxy_log_problems: res.nginx_proxy_log_problems } : {}),
    ...(res.haproxy_log_problems ? { haproxy_log_problems: res.haproxy_log_problems } : {}),
  };
}

/**
 * floorTable is the table of the rows measured through the Node floor too (null when none was):
 * the floor's figure next to nginx's mirror and cutover's, and whether the floor itself would meet
 * the row's target.
 */
function floorTable(sel, W) {
  const rows = [['workload', 'floor compares', 'figure', 'old (direct)', 'nginx-mirror', 'node-proxy', 'floor-mirror', 'cutover-mirror', 'node-proxy/nginx-m', 'floor/nginx-m', 'cutover-m/floor', 'floor meets the target', 'node-proxy meets it (compares nothing)', 'proxy CPU: node-proxy / floor / cutover (cores)']];
  for (const w of sel.filter((x) => x.floorEvery || x.nodeProxy)) {
    const r = W[w.id];
    if (!r?.['floor-mirror'] && !r?.['node-proxy']) continue;
    const share = r.floor ? `${fmt(r.floor.compared)} of ${fmt(r.floor.requests)} (1 in ${r.floor.every})${r.floor.differing ? `, ${r.floor.differing} differing` : ''}${r.floor.errors ? `, ${r.floor.errors} errors` : ''}` : 'n/a';
    if (w.kind === 'mixed') {
      const v = (n) => r[n]?.classes?.small?.latency_us?.p99;
      const cpu = (n) => fmtCores(r[n]?.server_cpu_cores);
      const over = (n) => (v(n) == null || v('old') == null ? 'n/a' : `p99 - old = ${((v(n) - v('old')) / 1000).toFixed(2)} ms: ${v(n) - v('old') <= MIXED_SMALL_P99_TARGET_US ? 'yes' : 'no'}`);
      rows.push([w.id, share, 'small-file p99', fmtMs(v('old')), fmtMs(v('nginx-mirror')), fmtMs(v('node-proxy')), fmtMs(v('floor-mirror')), fmtMs(v('cutover-mirror')), '', '', '', over('floor-mirror'), over('node-proxy'), `${cpu('node-proxy')} / ${cpu('floor-mirror')} / ${cpu('cutover-mirror')}`]);
    } else {
      const v = (n) => r[n]?.value;
      const q = v('nginx-mirror') && v('floor-mirror') ? v('floor-mirror') / v('nginx-mirror') : null;
      const qc = v('floor-mirror') && v('cutover-mirror') ? v('cutover-mirror') / v('floor-mirror') : null;
      const qp = v('nginx-mirror') && v('node-proxy') ? v('node-proxy') / v('nginx-mirror') : null;
      const cpu = (n) => fmtCores(r[n]?.raw?.server_cpu_cores);
      const meets = (x) => (x === null ? 'n/a' : `>= ${w.target}x nginx-mirror: ${x >= w.target ? 'yes' : 'no'}`);
      rows.push([w.id, share, w.unit, 'n/a', fmt(v('nginx-mirror')), fmt(v('node-proxy')), fmt(v('floor-mirror')), fmt(v('cutover-mirror')), fmtRatio(qp), fmtRatio(q), fmtRatio(qc), meets(q), meets(qp), `${cpu('node-proxy')} / ${cpu('floor-mirror')} / ${cpu('cutover-mirror')}`]);
    }
  }
  return rows.length > 1 ? table(rows, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l', 'r']) : null;
}


/**
 * hopTable is mirror-mixed's table of the proxies in the path (null when fewer than two were
 * measured): each one's small-file p99 over old's, with and without the 64 MiB downloads under way,
 * how long its 64 MiB download took, and whether it is within the row's +2 ms.
 */
function hopTable(mixed) {
  const hops = TARGETS.filter((n) => n !== 'old' && mixed[n]);
  if (hops.length < 2 || !mixed.old) return null;
  const p99 = (n, c) => mixed[n]?.classes?.[c]?.latency_us?.p99;
  const over = (n, c) => (p99(n, c) == null || p99('old', c) == null ? null : p99(n, c) - p99('old', c));
  const ms = (us) => (us == null ? 'n/a' : signedMs(us));
  const rows = [['proxy in the path', 'small p99 - old (rounds)', 'within +2 ms', '95% interval (rounds resampled)', 'small_clear p99 - old', '64m download p99 (old: ' + fmtMs(p99('old', '64m')) + ')']];
  for (const n of hops) {
    // Over every round the hop ran next to old (the floors run in more rounds than the others).
    const ci = mixed[n].small_p99_minus_old_ci;
    const d = ci ? ci.diff_us : over(n, 'small');
    rows.push([n, ci ? `${ms(d)} (${ci.rounds})` : ms(d), d == null ? 'n/a' : d <= MIXED_SMALL_P99_TARGET_US ? 'yes' : 'no', ci ? `${ms(ci.lo_us)} to ${ms(ci.hi_us)}` : 'n/a', ms(over(n, 'small_clear')), fmtMs(p99(n, '64m'))]);
  }
  return table(rows, ['l', 'r', 'l', 'r', 'r', 'r']);
}

/**
 * twoProcessTable is the table of the rows measured through node-proxy-2p too (null when none was):
 * one process against two, throughput over nginx's mirror and peak RSS against the mirror's bound.
 */
function twoProcessTable(sel, W) {
  const rows = [['workload', 'figure', 'nginx-mirror', 'node-proxy', `node-proxy x${TWO_PROCESSES}`, 'cutover-mirror', 'node-proxy/nginx-m', `node-proxy x${TWO_PROCESSES}/nginx-m`, 'node-proxy peak RSS (the floor process, after its own run)', `node-proxy x${TWO_PROCESSES} peak RSS (< 250 MB?)`, 'cutover-mirror peak RSS']];
  for (const w of sel.filter((x) => x.twoProcesses)) {
    const r = W[w.id];
    const x2 = r?.['node-proxy-2p'];
    if (!x2) continue;
    const v = (n) => r[n]?.value;
    const q = (n) => (v('nginx-mirror') && v(n) ? (v(n) / v('nginx-mirror')).toFixed(2) : 'n/a');
    const rssOf = (n) => r[n]?.raw?.rss_max_bytes;
    const b = rssOf('node-proxy-2p');
    rows.push([w.id, w.unit, fmt(v('nginx-mirror')), fmt(v('node-proxy')), fmt(v('node-proxy-2p')), fmt(v('cutover-mirror')), q('node-proxy'), q('node-proxy-2p'), fmtMB(rssOf('node-proxy')), b == null ? 'n/a' : `${fmtMB(b)} (${b < MIRROR_RSS_TARGET_BYTES ? 'yes' : 'no'})`, fmtMB(r.rss_max_bytes)]);
  }
  return rows.length > 1 ? table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']) : null;
}

/**
 * referenceTable is the table of the saturated rows (those with `o.flag`) measured through the
 * reference target `o.ref` too (null when none was): the reference's throughput over nginx's mirror
 * against the row's target, and what share of it cutover mirror keeps while it compares, each the
 * median of per-round ratios (a row's `against[o.ref]`: the reference over nginx's mirror, `anchor`,
 * and cutover mirror over the reference, `mirror`); `o.short` names the reference in the ratio
 * columns, `o.meets` heads the verdict column;
 * `o.lead` and `o.tail` add [header, cell(r)] columns before the figures and after them.
 */
function referenceTable(sel, W, o) {
  const lead = o.lead ?? [];
  const tail = o.tail ?? [];
  const rows = [['workload', ...lead.map(([h]) => h), 'figure', 'nginx-mirror', o.ref, 'cutover-mirror', `${o.short}/nginx-m (per round)`, o.meets, `cutover-m/${o.short} (per round)`, ...tail.map(([h]) => h)]];
  const perRound = (p) => `${fmtRatio(p.median)} (${p.per_round.map(fmtRatio).join(', ')})`;
  for (const w of sel.filter((x) => x[o.flag])) {
    const r = W[w.id];
    const c = r?.against?.[o.ref];
    if (!c) continue;
    const v = (n) => r[n]?.value;
    const m = c.anchor.median;
    rows.push([w.id, ...lead.map(([, f]) => f(r)), w.unit, fmt(v('nginx-mirror')), fmt(v(o.ref)), fmt(v('cutover-mirror')), perRound(c.anchor), m == null ? 'n/a' : `>= ${w.target}x nginx-mirror: ${m >= w.target ? 'yes' : 'no'}`, perRound(c.mirror), ...tail.map(([, f]) => f(r))]);
  }
  return rows.length > 1 ? table(rows, ['l', ...lead.map(() => 'l'), 'l', 'r', 'r', 'r', 'r', 'l', 'r', ...tail.map(() => 'r')]) : null;
}

/**
 * clientPathTable is the table of the saturated rows measured through cutover-client too (null when
 * none was): what cutover's client path reaches alone against nginx's mirror and the row's target,
 * and what share of it cutover mirror keeps while comparing.
 */
function clientPathTable(sel, W) {
  return referenceTable(sel, W, {
    flag: 'clientPath',
    ref: 'cutover-client',
    short: 'cutover-client',
    meets: 'client path alone meets the target',
  });
}

/**
 * readerFloorTable is the table of the rows measured through reader-floor-mirror too (null when none
 * was): the most a mirror built as cutover's (node:http, undici) reaches while it reads the row's
 * share of new's answers and compares nothing, against nginx's mirror and the row's target, and what
 * share of it cutover mirror keeps while it compares (medians of per-round ratios).
 */
function readerFloorTable(sel, W) {
  return floorReferenceTable(sel, W, { flag: 'readerFloor', ref: 'reader-floor-mirror', short: 'reader-floor', counts: 'reader_floor', verb: 'read', meets: 'the ceiling meets the target' });
}

/**
 * compareFloorTable is the table of the rows measured through compare-floor-mirror too (null when
 * none was): what a mirror built as cutover's reaches when it compares the row's share, status and
 * bytes, and does nothing else, against nginx's mirror and the row's target, and what share of it
 * cutover mirror keeps (medians of per-round ratios).
 */
function compareFloorTable(sel, W) {
  return floorReferenceTable(sel, W, { flag: 'compareFloor', ref: 'compare-floor-mirror', short: 'compare-floor', counts: 'compare_floor', verb: 'compared', meets: 'the least comparing meets the target' });
}

/**
 * floorReferenceTable is {@link referenceTable} for a bench/reader-floor-mirror.mjs reference: its
 * counters summed over the rounds (row field `o.counts`, headed `<short> <verb>`) first, its peak RSS
 * last.
 */
function floorReferenceTable(sel, W, o) {
  const counts = (r) => {
    const f = r[o.counts];
    return f ? `${fmt(f.compared)} of ${fmt(f.requests)} (1 in ${f.every})${f.differing ? `, ${f.differing} differing` : ''}${f.errors ? `, ${f.errors} errors` : ''}` : 'n/a';
  };
  return referenceTable(sel, W, {
    flag: o.flag,
    ref: o.ref,
    short: o.short,
    meets: o.meets,
    lead: [[`${o.short} ${o.verb}`, counts]],
    tail: [[`${o.short} peak RSS`, (r) => fmtMB(r[o.ref]?.raw?.rss_max_bytes)]],
  });
}

/**
 * rawFloorTable is the table of the rows measured through raw-floor-mirror too (null when none was):
 * the floor's comparisons with node:http on the client path (floor-mirror) and without it
 * (raw-floor-mirror), next to nginx's mirror and cutover's.
 */
function rawFloorTable(sel, W) {
  const rows = [['workload', 'raw-floor compares', 'figure', 'nginx-mirror', 'node-proxy', 'floor-mirror', 'raw-floor-mirror', 'cutover-mirror', 'floor/nginx-m', 'raw-floor/nginx-m', 'raw-floor meets the target', 'proxy CPU: floor / raw-floor / cutover (cores)', 'raw-floor peak RSS']];
  for (const w of sel.filter((x) => x.rawFloor)) {
    const r = W[w.id];
    if (!r?.['raw-floor-mirror']) continue;
    const v = (n) => r[n]?.value;
    const q = (n) => (v('nginx-mirror') && v(n) ? v(n) / v('nginx-mirror') : null);
    const f = r.raw_floor;
    const share = f ? `${fmt(f.compared)} of ${fmt(f.requests)} (1 in ${f.every})${f.differing ? `, ${f.differing} differing` : ''}${f.errors ? `, ${f.errors} errors` : ''}` : 'n/a';
    const cpu = (n) => fmtCores(r[n]?.raw?.server_cpu_cores);
    const qr = q('raw-floor-mirror');
    rows.push([w.id, share, w.unit, fmt(v('nginx-mirror')), fmt(v('node-proxy')), fmt(v('floor-mirror')), fmt(v('raw-floor-mirror')), fmt(v('cutover-mirror')), fmtRatio(q('floor-mirror')), fmtRatio(qr), qr === null ? 'n/a' : `>= ${w.target}x nginx-mirror: ${qr >= w.target ? 'yes' : 'no'}`, `${cpu('floor-mirror')} / ${cpu('raw-floor-mirror')} / ${cpu('cutover-mirror')}`, fmtMB(r['raw-floor-mirror'].raw?.rss_max_bytes)]);
  }
  return rows.length > 1 ? table(rows, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r']) : null;
}

/** report prints the mirror tables, accounting, summary and the targets line; returns the verdicts. */
export function report(ctx, res, meta) {
  const { connections, seconds, warmup, mirrorRate, mixedRate, mirrorWarmup, mirrorOut, mirrorArgs, seed } = ctx.opts;
  const sel = selected(ctx);
  const W = res.workloads;
  const verdicts = [];
  const out = [''];
  out.push(
    `Mirror (${meta.date}; old = nginx, new = cutover serve, same data; proxies: nginx-mirror = nginx proxy_pass+mirror, ` +
      `cutover-mirror = cutover mirror --rules ${MIRROR_RULES}${mirrorArgs.length ? ` ${mirrorArgs.join(' ')}` : ''}, every request shadowed; wrk -t1 -c${connections} -d${seconds}s, ` +
      `fixed rate ${mirrorRate} req/s (mirror-latency), ${mixedRate} req/s (mirror-mixed, seed ${seed}, ${ctx.opts.mixedRounds} rounds: every target in turn, latencies pooled) x ${seconds}s over ${FIXED_RATE_CONNECTIONS} connections after ${mirrorWarmup}s at that rate; warmup ${warmup}s otherwise; ` +
      `the wrk rows ${ctx.opts.saturatedRounds} rounds: every target in turn, each figure its median round's, cutover-m/nginx-m the median of the rounds' own ratios, peak RSS the highest of every round)`,
  );
  const rows = [['workload', 'unit', 'old (direct)', 'nginx-mirror', 'cutover-mirror', 'cutover-m/nginx-m', 'target', 'cutover-mirror: compared of shadow-eligible (warmup+run; second half of the run)', 'cutover-mirror peak RSS']];
  const shareCell = (w) => fmtShare(W[w.id]?.accounting) + fmtSteady(W[w.id]?.steady);
  const rssCell = (w) => {
    const b = W[w.id]?.rss_max_bytes;
    return b == null ? 'n/a' : `${fmtMB(b)} (< 250 MB ${b < MIRROR_RSS_TARGET_BYTES ? 'PASS' : 'FAIL'})`;
  };
  for (const w of sel) {
    const r = W[w.id];
    if (!r) continue;
    if (w.kind === 'rate') {
      for (const p of ['p50', 'p99']) {
        const limit = p === 'p50' ? MIRROR_P50_TARGET_US : MIRROR_P99_TARGET_US;
        const v = (n) => r[n]?.latency_us?.[p];
        const cell = (n) => (r[n] ? fmtMs(v(n)) + (r[n].valid ? '' : ' (!)') : 'n/a');
        const diff = v('cutover-mirror') - v('old');
        const invalid = !r.old?.valid || !r['cutover-mirror']?.valid;
        const verdict = invalid ? 'INVALID' : diff <= limit ? 'PASS' : 'FAIL';
        verdicts.push({ what: `mirror-latency cutover-mirror ${p} - old <= ${limit / 1000} ms`, verdict, value: diff });
        rows.push([`${w.label}, ${p}`, 'ms', cell('old'), cell('nginx-mirror'), cell('cutover-mirror'), v('nginx-mirror') ? (v('cutover-mirror') / v('nginx-mirror')).toFixed(2) : 'n/a', `${p} - old <= ${limit / 1000} ms: ${signedMs(diff)} ${verdict}`, shareCell(w), rssCell(w)]);
      }
    } else if (w.kind === 'mixed') {
      const v = (n) => r[n]?.classes?.small?.latency_us?.p99;
      const cell = (n) => (r[n] ? fmtMs(v(n)) + (r[n].valid ? '' : ' (!)') : 'n/a');
      const diff = v('cutover-mirror') - v('old');
      const invalid = !r.old?.valid || !r['cutover-mirror']?.valid;
      const verdict = invalid || Number.isNaN(diff) ? 'INVALID' : diff <= MIXED_SMALL_P99_TARGET_US ? 'PASS' : 'FAIL';
      verdicts.push({ what: `mirror-mixed cutover-mirror small-file p99 - old <= ${MIXED_SMALL_P99_TARGET_US / 1000} ms`, verdict, value: diff });
      // Pooled over rounds: each round's own difference too, to show how far one run can be trusted.
      const perRound = roundDiffs(r, 'cutover-mirror');
      const pooledNote = perRound ? ` (pooled over ${perRound.length} rounds; per round ${perRound.map(signedMs).join(', ')})` : '';
      // What cutover's client path alone took in the same run, before any comparison: the part of
      // the difference no change to the comparison can remove.
      const clientNote = v('cutover-client') == null || v('old') == null ? '' : `; cutover-client (--sample 0, compares nothing) ${signedMs(v('cutover-client') - v('old'))}`;
      rows.push([`${w.label}, small-file p99`, 'ms', cell('old'), cell('nginx-mirror'), cell('cutover-mirror'), v('nginx-mirror') ? (v('cutover-mirror') / v('nginx-mirror')).toFixed(2) : 'n/a', `small p99 - old <= ${MIXED_SMALL_P99_TARGET_US / 1000} ms: ${signedMs(diff)} ${verdict}${pooledNote}${clientNote}`, shareCell(w), rssCell(w)]);
      const mb = (n) => (r[n] ? fmt(r[n].mb_per_s, 1) + (r[n].valid ? '' : ' (!)') : 'n/a');
      const sh = r.accounting ? comparedShare(r.accounting).share : null;
      const shV = sh === null ? 'n/a' : sh >= MIXED_SHARE_TARGET ? 'PASS' : 'FAIL';
      verdicts.push({ what: 'mirror-mixed cutover mirror compares 100% of shadow-eligible requests', verdict: shV, value: sh });
      rows.push([`${w.label}, received`, 'MB/s', mb('old'), mb('nginx-mirror'), mb('cutover-mirror'), r['nginx-mirror']?.mb_per_s ? (r['cutover-mirror']?.mb_per_s / r['nginx-mirror'].mb_per_s).toFixed(2) : 'n/a', `compared = 100%: ${shV}`, shareCell(w), rssCell(w)]);
    } else {
      const cell = (n) => (r[n] ? fmt(r[n].value) + (r[n].valid ? '' : ' (!)') : 'n/a');
      const x = r['cutover-mirror'];
      const y = r['nginx-mirror'];
      // The median of the rounds' own ratios (see pairedRatios); a result without rounds, its one ratio.
      const q = r.ratio !== undefined ? r.ratio : x && y && y.value ? x.value / y.value : null;
      let verdict = q === null ? 'n/a' : !x.valid || !y.valid ? 'INVALID' : q >= w.target ? 'PASS' : 'FAIL';
      const perRound = r.ratio_rounds?.length > 1 ? ` (median of ${r.ratio_rounds.length} rounds: ${r.ratio_rounds.map(fmtRatio).join(', ')})` : '';
      let targetCell = `>= ${w.target} ${verdict}${perRound}`;
      if (w.shareTarget !== undefined) {
        // At saturation the mirror may compare less than everything, but at least this share, while
        // keeping the throughput: one target, both parts shown.
        // Judged on the steady share (the run's second half), never on the row's whole share, which
        // includes the unsaturated start, when everything is kept: unread, the share part is n/a.
        const sh = r.steady?.share ?? null;
        const shV = sh === null ? 'n/a' : sh >= w.shareTarget ? 'PASS' : 'FAIL';
        const both = verdict === 'INVALID' ? 'INVALID' : verdict === 'PASS' && shV === 'PASS' ? 'PASS' : verdict === 'n/a' || shV === 'n/a' ? 'n/a' : 'FAIL';
        targetCell = `compared >= 1/3 (${shV}) at >= ${w.target}x nginx-mirror (${verdict}): ${both}${perRound}`;
        verdict = both;
        if (q !== null) verdicts.push({ what: `${w.id} cutover mirror compared >= 1/3 at >= ${w.target}x nginx-mirror`, verdict, value: { ratio: q, compared_share: sh } });
      } else if (q !== null) verdicts.push({ what: `${w.id} cutover-mirror/nginx-mirror >= ${w.target}`, verdict, value: q });
      rows.push([w.label, w.unit, 'n/a', cell('nginx-mirror'), cell('cutover-mirror'), fmtRatio(q), targetCell, shareCell(w), rssCell(w)]);
    }
    if (r.rss_max_bytes != null) {
      verdicts.push({ what: `${w.id} cutover mirror peak RSS < 250 MB`, verdict: r.rss_max_bytes < MIRROR_RSS_TARGET_BYTES ? 'PASS' : 'FAIL', value: r.rss_max_bytes });
    }
  }
  const rssV = res.rss['cutover-mirror'].max < MIRROR_RSS_TARGET_BYTES ? 'PASS' : 'FAIL';
  verdicts.push({ what: 'cutover mirror peak RSS over the mirror part < 250 MB', verdict: rssV, value: res.rss['cutover-mirror'].max });
  rows.push(['peak RSS, whole mirror part (sampled)', 'MB', 'n/a', fmtMB(res.rss['nginx-mirror'].max), fmtMB(res.rss['cutover-mirror'].max), '', `< 250 MB ${rssV}`, '', '']);
  const accs = Object.entries(W).filter(([, r]) => r.accounting);
  const accOk = accs.every(([, r]) => r.accounting.ok) && (!res.summary_counts || res.summary_counts.ok);
  verdicts.push({ what: 'cutover mirror: compared + abandoned + dropped + skipped = requests (every workload)', verdict: accOk ? 'PASS' : 'FAIL', value: null });
  rows.push(['accounting: no comparison silently skipped', '', '', '', accs.map(([id, r]) => (r.accounting.ok ? 'ok' : `${id} MISMATCH`)).join(', '), '', `compared+abandoned+dropped+skipped = requests ${accOk ? 'PASS' : 'FAIL'}`, '', '']);
  out.push(table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'l', 'r']));
  out.push('compared of shadow-eligible = cutover_mirror_compared_total / (requests_total - skipped_total), deltas over the workload (warmup + run, after its comparisons settled); peak RSS = sampled VmRSS of cutover mirror over the same span.');
  out.push('(!) = errors or implausible byte counts in that run, see warnings.');
  // A reference table with the paragraph that says what it measures, when its rows were measured.
  const tableSection = (rows, intro) => {
    if (!rows) return;
    out.push('');
    out.push(intro);
    out.push(rows);
  };
  tableSection(
    floorTable(sel, W),
    'The simplest comparing Node mirror (bench/floor-mirror.mjs: every request forwarded to old with node:http and piped to the client; exactly 1 in N also sent to new with undici at once, ' +
      'both bodies compared byte for byte as they come, nothing hashed (as cutover\'s pair while the bytes agree); one thread, no queue, no limit, no shedding, no records), measured in the same run: a reference for the rows whose targets name a share compared, not a target and not a bound (a mirror that paces its shadows can do better). ' +
      'node-proxy: the same process comparing nothing, a plain Node proxy: what one Node thread between the client and old costs before any comparison.',
  );
  tableSection(
    rawFloorTable(sel, W),
    'The floor without node:http on its client path (bench/raw-floor-mirror.mjs: old\'s answer passed to the client as the bytes old sent, over net sockets, framed by its Content-Length; ' +
      'the same 1 in N sent to new with undici and compared as the floor does), measured in the same run: what the same comparisons cost when Node\'s HTTP client, which copies every body chunk, is not in the path. A reference, not a mirror: GET without a body and Content-Length answers only.',
  );
  tableSection(
    readerFloorTable(sel, W),
    'The ceiling of a mirror built as cutover\'s (bench/reader-floor-mirror.mjs: clients served by node:http, every outgoing request sent with undici\'s dispatch API; old\'s answer written to the client as it comes; ' +
      'exactly 1 in N also sent to new at once and its answer read to the end and thrown away), measured in the same rounds: the I/O that reading the row\'s share of new\'s answers costs such a mirror before it compares a byte, so the most a comparing mirror of that build could reach. Not a mirror: it compares nothing.',
  );
  tableSection(
    compareFloorTable(sel, W),
    'The least comparing a mirror built as cutover\'s does (bench/reader-floor-mirror.mjs in MODE compare: the reader floor above, and the two answers of exactly 1 in N compared as they come, status and bytes, ' +
      'the side ahead holding its bytes until the other reaches them; nothing hashed, no headers compared, no queue, no pacing, no records), measured in the same rounds: what comparing the row\'s share costs such a mirror when it does nothing else. Not a bound (its shadows are unpaced).',
  );
  tableSection(
    twoProcessTable(sel, W),
    `node-proxy on ${TWO_PROCESSES} cores: the same plain Node proxy (compares nothing) as a node:cluster primary, which accepts each connection and hands it to the workers in turn, and ${TWO_PROCESSES} worker processes, ` +
      'measured in the same run: what a Node mirror gains in throughput by using more than one core, and what it costs in memory before any comparison (peak RSS = sampled VmRSS summed over the primary and its workers, as for cutover mirror).',
  );
  tableSection(
    clientPathTable(sel, W),
    `cutover's client path at saturation (cutover-client: the same cutover mirror command with --sample 0, shadowing and comparing nothing), measured in the same rounds: ` +
      'whether the path every request takes reaches the target on its own, and what share of that cutover mirror keeps while it compares (every figure a median of per-round ratios).',
  );

  // Per target of a fixed-rate workload: the whole run (every class together for mirror-mixed).
  const rateTable = (r, withMb) => {
    const lrows = [['fixed rate', 'scheduled', 'ok', 'failed', 'achieved req/s', ...(withMb ? ['MB/s'] : []), 'p50', 'p90', 'p99', 'p99.9', 'max', 'p50 - old', 'p99 - old', 'send lag p50/p99', 'peak RSS', 'target CPU', 'other CPU']];
    for (const n of TARGETS) {
      const x = r[n];
      if (!x) continue;
      const l = x.latency_us ?? {};
      const o = r.old?.latency_us ?? {};
      const d = (k) => (n === 'old' || l[k] == null || o[k] == null ? '' : signedMs(l[k] - o[k]));
      lrows.push([n, fmt(x.scheduled), fmt(x.completed), fmt(x.failed), fmt(x.achieved_rate), ...(withMb ? [fmt(x.mb_per_s, 1)] : []), fmtMs(l.p50), fmtMs(l.p90), fmtMs(l.p99), fmtMs(l.p999), fmtMs(l.max), d('p50'), d('p99'), `${fmtMs(x.send_lag_us.p50)} / ${fmtMs(x.send_lag_us.p99)}`, fmtMB(x.rss_max_bytes), fmtCores(x.server_cpu_cores), fmtCores(x.foreign_cpu_cores)]);
    }
    return table(lrows, ['l', 'r', 'r', 'r', 'r', ...(withMb ? ['r'] : []), 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']);
  };
  const lat = W['mirror-latency'];
  if (lat) {
    out.push('');
    out.push(`Fixed-rate latency (bench/fixed-rate.mjs, GET /small.json, from the scheduled send time to the end of the body; send lag = the generator's own timer lateness, included in every figure)`);
    out.push(rateTable(lat, false));
  }
  const mixed = W['mirror-mixed'];
  if (mixed) {
    out.push('');
    out.push(
      `Mixed fixed rate (bench/fixed-rate.mjs --mix mirror-mixed --seed ${seed}, ${mixedRate} req/s; every ${fmt(MIX_DECK)} requests a shuffled deck of ` +
        `${MIX_CARDS.map((c) => `${c.count} ${c.kind}`).join(', ')} (range1 = one range of 1m.bin, range2 = two ranges, multipart); same sequence for every target; latency from the scheduled send time to the end of the body)`,
    );
    out.push(rateTable(mixed, true));
    const crows = [['per size class', 'class', 'scheduled', 'ok', 'failed', 'p50', 'p90', 'p99', 'max', 'p50 - old', 'p99 - old']];
    for (const n of TARGETS) {
      for (const c of [...MIX_CLASSES, 'small_clear']) {
        const x = mixed[n]?.classes?.[c];
        if (!x) continue;
        const l = x.latency_us ?? {};
        const o = mixed.old?.classes?.[c]?.latency_us ?? {};
        const d = (k) => (n === 'old' || l[k] == null || o[k] == null ? '' : signedMs(l[k] - o[k]));
        crows.push([n, c, fmt(x.scheduled), fmt(x.completed), fmt(x.failed), fmtMs(l.p50), fmtMs(l.p90), fmtMs(l.p99), fmtMs(l.max), d('p50'), d('p99')]);
      }
    }
    out.push(table(crows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
    out.push('(a class with few requests, e.g. 64m: its p99 is its max; small_clear = the small requests that neither started nor ended while a 64 MiB download was under way, not a target: what the large downloads cost the small ones)');
    const nRounds = mixed.old?.per_round?.length ?? 0;
    if (nRounds > 1) {
      const prows = [['small-file p99, per round', ...Array.from({ length: nRounds }, (_, k) => `round ${k + 1}`), 'pooled', 'pooled - old']];
      for (const n of TARGETS) {
        const x = mixed[n];
        if (!x?.per_round) continue;
        const pooled = x.classes?.small?.latency_us?.p99;
        const o = mixed.old?.classes?.small?.latency_us?.p99;
        prows.push([n, ...x.per_round.map((p) => fmtMs(p.classes?.small?.latency_us?.p99)), fmtMs(pooled), n === 'old' || pooled == null || o == null ? '' : signedMs(pooled - o)]);
      }
      out.push(`Each target measured ${nRounds} times in turn (${TARGETS.filter((n) => mixed[n]).join(', ')}, then again), the figures above pooled over every round's requests:`);
      out.push(table(prows, ['l', ...Array.from({ length: nRounds + 2 }, () => 'r')]));
    }
    const hop = hopTable(mixed);
    if (hop) {
      out.push(
        'What a hop costs the small file: every target in the path between the client and old against the +2 ms target ' +
          '(haproxy splices bodies in the kernel and compares nothing, the cheapest proxy measured here; nginx-proxy, node-proxy and cutover-client (cutover mirror with --sample 0) compare nothing; nginx-mirror also sends every request to new; floor-mirror and cutover-mirror also compare). ' +
          "haproxy's row is what this machine allows a proxy; the rows that compare nothing, what a proxy of that kind costs before any mirroring. " +
          `haproxy-reader is haproxy while new is read at nice ${READER_NICE} as a mirror comparing everything must read it (every request sent to new at the same moment, every answer read; nothing compared, no byte of old's handed over); haproxy-paced-reader the same with each answer read as cutover mirror reads its shadows' bodies (past the first 4 MiB, 16 MiB/s): the least that comparing 100% costs on this machine, which runs old and new too, with new read either way. ` +
          "hash-paced-reader is the least a comparing mirror built as cutover's must do: cutover mirror's client path made of its own parts, hashing every answer of old's in blocks as the mirror does (old's bytes pass through the mirror alone), while haproxy-paced-reader's reader reads new. " +
            `old, haproxy and the three floors also run alone for more rounds (BENCH_FLOOR_ROUNDS in all, ${mixed.old?.floor_rounds ?? 'n/a'} in this run): their differences and intervals are over every round they ran next to old, the other rows' over the rounds every target ran.`,
      );
      out.push(hop);
      const fl = mixedFloor(mixed, MIXED_SMALL_P99_TARGET_US);
      if (fl) out.push(fl);
      const bf = buildFloor(mixed);
      if (bf) out.push(bf);
    }
  }
  const drows = [['workload', 'proxy', 'requests', 'req/s', 'MB/s', 'p50', 'p99', 'errors (status/sock/timeout)', 'peak RSS (sampled)', 'proxy CPU', 'old / new / wrk CPU', 'machine CPU (with softirq)', 'machine ms per MB', 'other CPU']];
  for (const w of sel.filter((x) => x.script)) {
    for (const n of TARGETS) {
      const r = W[w.id]?.[n];
      if (!r) continue;
      const e = r.raw.errors;
      const kids = r.raw.children_cpu_cores ?? {};
      const all = r.raw.machine_all_cpu_cores;
      drows.push([w.id, n, fmt(r.raw.requests), fmt(r.rps), fmt(r.mbs), fmtMs(r.raw.latency_us?.p50), fmtMs(r.raw.latency_us?.p99), `${e.status}/${e.connect + e.read + e.write}/${e.timeout}`, fmtMB(r.raw.rss_max_bytes), fmtCores(r.raw.server_cpu_cores), `${fmtCores(kids.nginx)} / ${fmtCores(kids.cutover)} / ${fmtCores(r.raw.load_cpu_cores)}`, fmtCores(all), all !== undefined && r.mbs > 0 ? (1000 * all / r.mbs).toFixed(2) : 'n/a', fmtCores(r.raw.foreign_cpu_cores)]);
    }
  }
  if (drows.length > 1) {
    out.push('');
    out.push('Mirror details (wrk; RSS = VmRSS of the proxy process tree sampled every 100 ms during warmup+run)');
    out.push(table(drows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  }
  out.push('target/proxy CPU = cores used by that process tree during the run (the proxy only, not old/new/load generator); old / new / wrk CPU = the same for old (nginx), new (cutover serve) and the load generator; machine CPU = every core-second not idle (/proc/stat, with irq and softirq, where much of loopback TCP is processed), of the 2 this machine has, and machine ms per MB = that CPU per MB delivered to the clients; other CPU = cores used by processes outside this benchmark (/proc/stat minus ours), > 0.15 is warned about.');
  const arows = [['cutover mirror (warmup+run)', 'requests', 'compared', 'abandoned', 'dropped', 'skipped', 'shed (in dropped/abandoned)', 'settled after', 'divergent (by kind)', 'noise', 'shadow errors', 'proxy errors', 'check']];
  const arow = (id, a) => [id, fmt(a.requests), fmt(a.compared), fmt(a.abandoned), fmt(a.dropped), fmt(a.skipped), fmt(a.shed), a.settled ? `${a.settle_ms} ms` : `NOT (${a.pending} pending)`, Object.keys(a.divergent).length ? Object.entries(a.divergent).map(([k, v]) => `${k} ${v}`).join(', ') : '0', fmt(a.noise), fmt(a.shadow_errors), fmt(a.proxy_errors), a.ok ? 'PASS' : 'FAIL'];
  if (res.sanity_accounting) arows.push(arow('sanity checks', res.sanity_accounting));
  for (const [id, r] of accs) arows.push(arow(id, r.accounting));
  out.push('');
  out.push(`Mirror accounting (deltas of /metrics counters; every request must end compared, abandoned, dropped or skipped${res.final_counts?.has_skipped ? '' : ' (no skipped counter found)'})`);
  out.push(table(arows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'l']));
  if (res.summary_counts) {
    const s = res.summary_counts;
    out.push(`cutover mirror summary on SIGTERM (stopped in ${res.stop.ms} ms, exit ${JSON.stringify(res.stop.exit)}): requests ${s.requests} compared ${s.compared} divergent ${s.divergent} noise ${s.noise} dropped ${s.dropped} abandoned ${s.abandoned} skipped ${s.skipped}: ${s.ok ? 'adds up' : 'DOES NOT ADD UP'}`);
  } else {
    out.push(`WARNING cutover mirror printed no summary on SIGTERM (exit ${JSON.stringify(res.stop.exit)}):\n${tailLog({ logPath: path.join(OUT, 'cutover-mirror.log') }, 8)}`);
  }
  const totalDiv = Object.values(res.final_counts?.divergent ?? {}).reduce((a, b) => a + b, 0);
  out.push(`Divergences found by cutover mirror over the whole part: ${res.summary_counts ? res.summary_counts.divergent : totalDiv} requests (by kind: ${JSON.stringify(res.final_counts?.divergent ?? {})})${mirrorOut ? `; records in ${path.relative(ROOT, path.join(OUT, 'mirror-divergences.jsonl'))}` : ' (BENCH_MIRROR_OUT=1 to record them)'}`);
  if (res.log_problems.count) out.push(`WARNING cutover-mirror.log: ${res.log_problems.count} warning/error lines, e.g.:\n  ${res.log_problems.samples.join('\n  ')}`);
  if (res.nginx_mirror_log_problems.count) out.push(`nginx-mirror-error.log: ${res.nginx_mirror_log_problems.count} error lines, e.g.:\n  ${res.nginx_mirror_log_problems.samples.join('\n  ')}`);
  if (res.nginx_proxy_log_problems?.count) out.push(`nginx-proxy-error.log: ${res.nginx_proxy_log_problems.count} error lines, e.g.:\n  ${res.nginx_proxy_log_problems.samples.join('\n  ')}`);
  if (res.haproxy_log_problems?.count) out.push(`haproxy.log: ${res.haproxy_log_problems.count} alert/warning lines, e.g.:\n  ${res.haproxy_log_problems.samples.join('\n  ')}`);
  const warns = [];
  for (const [id, r] of Object.entries(W)) for (const n of ['old', 'nginx-mirror', 'cutover-mirror']) for (const x of r[n]?.warnings ?? []) warns.push(`WARNING ${n} ${id}: ${x}`);
  if (warns.length) out.push('', ...warns);
  out.push('', targetsLine('Mirror targets', verdicts));
  console.log(out.join('\n'));
  return verdicts;
}

