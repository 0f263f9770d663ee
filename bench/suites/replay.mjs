// The replay suite: `cutover replay` on generated nginx combined logs (bench/data), old = the nginx
// server, new = the cutover serve server, --rules MIRROR_RULES, --speed asap. Targets: replay's
// req/s against wrk on nginx alone (same concurrency, same run), compared body bytes per second,
// and peak RSS on a 1 GB log.

import fs from 'node:fs';
import path from 'node:path';
import { BIG_SIZE, FOREIGN_CPU_WARN, MIRROR_RULES, ROOT, RSS_SAMPLE_MS, SMALL_SIZE } from '../lib/constants.mjs';
import { REPLAY_LINE, ensureReplayLog } from '../lib/data.mjs';
import { measureWrk } from '../lib/load.mjs';
import { log, sleep } from '../lib/log.mjs';
import { processTree, startServer, tailLog } from '../lib/processes.mjs';
import { fmt, fmtCores, fmtMB, table, targetsLine } from '../lib/report.mjs';
import { cpuSnapshot, foreignCpu, reapedTicks, treeRss, treeTicks } from '../lib/sampling.mjs';
import { cutoverCommand } from '../lib/servers.mjs';

const REPLAY_RSS_LINES = 10_000_000; // x 100 B = 10^9 B, the "1 GB log"
const REPLAY_RSS_EVERY = 5_000; // one line in 5,000 is GET /small.json (replayed), the rest are filtered out
const REPLAY_RSS_TARGET_BYTES = 200e6;
const REPLAY_MB_TARGET = 1000; // MB/s of compared body bytes, MB = 10^6 bytes

/**
 * workloads returns the suite's workloads: record counts and concurrencies come from the options
 * (BENCH_REPLAY_*); every log line is exactly REPLAY_LINE bytes, so a log's size tells whether the
 * cached file is the right one.
 */
export const workloads = (opts) => [
  { id: 'replay-small', label: 'replay GET /small.json (1,238 B)', unit: 'req/s', log: 'replay-small.log', lines: opts.replaySmallRecords, path: '/small.json', body: SMALL_SIZE, concurrency: opts.replayConcurrency },
  { id: 'replay-256m', label: 'replay GET /256m.bin, compared body bytes', unit: 'MB/s', log: 'replay-256m.log', lines: opts.replayBigRecords, path: '/256m.bin', body: BIG_SIZE, concurrency: opts.replayBigConcurrency },
  { id: 'replay-rss', label: 'replay peak RSS, 1 GB log', unit: 'MB', log: 'replay-1g.log', lines: REPLAY_RSS_LINES, every: REPLAY_RSS_EVERY, path: '/small.json', body: SMALL_SIZE, concurrency: opts.replayConcurrency },
];

/** selected returns the suite's workloads that ctx.opts.workloads selects. */
export const selected = (ctx) => workloads(ctx.opts).filter((w) => ctx.opts.workloads.includes(w.id));

/** How many lines of a replay workload's log are replayed (the others are dropped by --filter). */
const replayedLines = (w) => (w.every ? Math.ceil(w.lines / w.every) : w.lines);

/**
 * runReplayOnce runs `cutover replay` on one workload's log (a child process, output in
 * bench/out/<id>.log), samples its VmRSS every RSS_SAMPLE_MS until it exits, and parses the summary
 * it prints. Timing: `secs` is replay's own "done in" figure (reading the log to the last
 * comparison, backends closed; 0.1 s resolution), `wall_s` the harness's spawn-to-exit time
 * (Node start-up included).
 */
async function runReplayOnce(ctx, w, file, oldS, newS) {
  const cmd = cutoverCommand(ctx);
  const args = [
    cmd.file,
    'replay',
    file,
    '--format',
    'combined',
    '--old',
    `http://127.0.0.1:${oldS.port}`,
    '--new',
    `http://127.0.0.1:${newS.port}`,
    '--rules',
    MIRROR_RULES,
    '--speed',
    'asap',
    '--concurrency',
    String(w.concurrency),
    ...(w.every ? ['--filter', `path=^${w.path.replaceAll('.', '\\.')}$`] : []),
  ];
  const describe = `node ${cmd.rel} ${args.slice(1).join(' ').replaceAll(ROOT + '/', '')}`;
  const oldPids = processTree(oldS.child.proc.pid);
  const newPids = processTree(newS.child.proc.pid);
  const cpu0 = cpuSnapshot(ctx);
  const reaped0 = reapedTicks();
  const old0 = treeTicks(oldPids);
  const new0 = treeTicks(newPids);
  const t0 = performance.now();
  const child = startServer(ctx, w.id, process.execPath, args);
  const exited = new Promise((resolve) => {
    child.proc.once('exit', resolve);
    child.proc.once('error', resolve);
  });
  let rssMax = 0;
  let samples = 0;
  const sample = () => {
    const r = treeRss([child.proc.pid]);
    samples++;
    if (r > rssMax) rssMax = r;
  };
  sample();
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  await exited.finally(() => clearInterval(sampler));
  const wall = (performance.now() - t0) / 1000;
  ctx.children.delete(child); // reaped: its CPU is in our cutime from here on
  const cpu1 = cpuSnapshot(ctx);
  const secsCpu = (cpu1.t - cpu0.t) / 1000;
  for (const s of [oldS, newS]) if (s.child.exited) throw new Error(`${s.name} died during ${w.id}: ${JSON.stringify(s.child.exited)}\n${tailLog(s.child)}`);

  const text = fs.readFileSync(child.logPath, 'utf8');
  const res = {
    command: describe,
    exit: child.exited,
    wall_s: wall,
    rss_max_bytes: rssMax,
    rss_samples: samples,
    replay_cpu_cores: (reapedTicks() - reaped0) / 100 / wall,
    old_cpu_cores: (treeTicks(oldPids) - old0) / 100 / secsCpu,
    new_cpu_cores: (treeTicks(newPids) - new0) / 100 / secsCpu,
    foreign_cpu_cores: foreignCpu(cpu0, cpu1),
    warnings: [],
  };
  const m = text.match(/cutover replay: (done|interrupted) in ([\d.]+) s\n\s+records (\d+)\s+bad lines (\d+)\s+filtered (\d+)\s+sent (\d+)\s+probes (\d+).*\n\s+compared (\d+)\s+divergent (\d+)\s+noise (\d+)\s+bytes compared (\d+)\n\s+(?:divergences|divergent comparisons) by kind: (.*)/);
  const invalid = (why) => res.warnings.push(why);
  if (!m) {
    invalid(`no summary in its output:\n${tailLog(child, 8)}`);
  } else {
    const [state, secs, records, bad, filtered, sent, probes, compared, divergent, noise, bytes] = m.slice(1, 12);
    Object.assign(res, { state, secs: Number(secs), records: Number(records), bad: Number(bad), filtered: Number(filtered), sent: Number(sent), probes: Number(probes), compared: Number(compared), divergent: Number(divergent), noise: Number(noise), bytes_compared: Number(bytes), divergences_by_kind: m[12] });
    const want = replayedLines(w);
    if (state !== 'done') invalid(`replay says "${state}"`);
    if (res.records !== w.lines) invalid(`read ${res.records} records, the log has ${w.lines} lines`);
    if (res.bad !== 0) invalid(`${res.bad} bad lines`);
    if (res.filtered !== w.lines - want || res.sent !== want) invalid(`filtered ${res.filtered} / sent ${res.sent}, expected ${w.lines - want} / ${want}`);
    if (res.compared !== res.sent) invalid(`compared ${res.compared} of ${res.sent} sent (exchanges lost)`);
    if (res.divergent !== 0) invalid(`${res.divergent} divergent comparisons (${res.divergences_by_kind}) between identical files`);
    if (res.bytes_compared !== want * w.body) invalid(`bytes compared ${res.bytes_compared}, expected ${want} x ${w.body} = ${want * w.body}`);
    if (!(res.secs > 0)) invalid(`"done in ${secs} s": too short to time, use a longer log`);
    res.secs_used = res.secs > 0 ? res.secs : wall;
    res.req_per_s = res.sent / res.secs_used;
    res.mb_per_s = res.bytes_compared / res.secs_used / 1e6;
    res.lines_per_s = (res.records + res.bad) / res.secs_used;
  }
  // Anything else replay wrote: bad-line reports (file:line: reason), errors, warnings.
  const extra = text.split('\n').filter((l) => l && !/^cutover replay: \d+ compared, \d+ divergent, \d+ bad lines?$/.test(l) && !/^(cutover replay: (done|interrupted) in|\s)/.test(l));
  if (extra.length) invalid(`unexpected output: ${extra.slice(0, 3).join(' | ')}`);
  if (child.exited?.code !== 0) invalid(`exit ${JSON.stringify(child.exited)}`);
  res.valid = res.warnings.length === 0;
  if (res.foreign_cpu_cores > FOREIGN_CPU_WARN) res.warnings.push(`other processes used ${res.foreign_cpu_cores.toFixed(2)} cores during the run (figure skewed)`);
  return res;
}

/**
 * run: for each selected replay workload, generates (or reuses) its log in
 * bench/data and runs `cutover replay` on it against old (nginx) and new (cutover serve). replay-small
 * is anchored by wrk -t1 -c<concurrency> on GET /small.json against nginx alone, in the same run.
 */
export async function run(ctx, oldS, newS) {
  const res = { workloads: {} };
  for (const w of selected(ctx)) {
    const file = ensureReplayLog(w);
    const r = (res.workloads[w.id] = { log: path.relative(ROOT, file), log_bytes: fs.statSync(file).size, lines: w.lines, replayed: replayedLines(w), concurrency: w.concurrency });
    if (w.id === 'replay-small') {
      const ww = { id: 'replay-small', unit: 'req/s', path: w.path, script: 'get.lua', body: w.body, connections: w.concurrency };
      const a = await measureWrk(ctx, oldS, ww);
      r.wrk_nginx = a;
      log(`${w.id} wrk -c${w.concurrency} nginx ${fmt(a.rps).padStart(9)} req/s${a.warnings.length ? '  WARN: ' + a.warnings.join('; ') : ''}`);
      await sleep(300);
    }
    const x = await runReplayOnce(ctx, w, file, oldS, newS);
    r.replay = x;
    log(`${w.id} replay: ${fmt(x.sent)} sent in ${x.secs?.toFixed(1) ?? 'n/a'} s (wall ${x.wall_s.toFixed(2)} s): ${fmt(x.req_per_s)} req/s, ${fmt(x.mb_per_s)} MB/s compared, ${fmt(x.lines_per_s)} lines/s, peak RSS ${fmtMB(x.rss_max_bytes)}, replay CPU ${fmtCores(x.replay_cpu_cores)}${x.warnings.length ? '  WARN: ' + x.warnings.join('; ') : ''}`);
    await sleep(w.id === 'replay-256m' ? 1000 : 300);
  }
  return res;
}

/** replayRows turns the replay part into the rows of its table, and verdicts. */
function replayRows(res) {
  const W = res.workloads;
  const rows = [];
  const verdicts = [];
  const cell = (x, v, d = 0) => fmt(v, d) + (x.valid ? '' : ' (!)');
  const s = W['replay-small'];
  if (s) {
    const x = s.replay;
    const anchor = s.wrk_nginx.rps / 3;
    const verdict = !x.valid || !s.wrk_nginx.valid ? 'INVALID' : x.req_per_s >= anchor ? 'PASS' : 'FAIL';
    verdicts.push({ what: `replay-small replay req/s >= wrk -c${s.concurrency} nginx req/s / 3`, verdict, value: x.req_per_s / anchor });
    rows.push([`replay GET /small.json, --concurrency ${s.concurrency}`, 'req/s', cell(x, x.req_per_s), `wrk -c${s.concurrency} nginx ${fmt(s.wrk_nginx.rps)}${s.wrk_nginx.valid ? '' : ' (!)'}, / 3 = ${fmt(anchor)}`, (x.req_per_s / anchor).toFixed(2), `>= wrk nginx / 3 ${verdict}`]);
  }
  const b = W['replay-256m'];
  if (b) {
    const x = b.replay;
    const verdict = !x.valid ? 'INVALID' : x.mb_per_s >= REPLAY_MB_TARGET ? 'PASS' : 'FAIL';
    verdicts.push({ what: `replay-256m compared body MB/s >= ${REPLAY_MB_TARGET}`, verdict, value: x.mb_per_s });
    rows.push([`replay GET /256m.bin, --concurrency ${b.concurrency}, compared body bytes`, 'MB/s', cell(x, x.mb_per_s), '1 GB/s', (x.mb_per_s / REPLAY_MB_TARGET).toFixed(2), `>= 1,000 MB/s ${verdict}`]);
  }
  const g = W['replay-rss'];
  if (g) {
    const x = g.replay;
    const verdict = !x.valid ? 'INVALID' : x.rss_max_bytes < REPLAY_RSS_TARGET_BYTES ? 'PASS' : 'FAIL';
    verdicts.push({ what: 'replay-rss peak RSS on a 1 GB log < 200 MB', verdict, value: x.rss_max_bytes });
    rows.push([`replay peak RSS, ${fmtMB(g.log_bytes)} log (${fmt(g.lines)} lines, ${fmt(g.replayed)} replayed)`, 'MB', fmtMB(x.rss_max_bytes).replace(' MB', '') + (x.valid ? '' : ' (!)'), '200 MB', (x.rss_max_bytes / REPLAY_RSS_TARGET_BYTES).toFixed(2), `< 200 MB ${verdict}`]);
    rows.push([`  (same run: log read and parsed)`, 'lines/s', cell(x, x.lines_per_s), `${fmt(g.log_bytes / x.secs_used / 1e6)} MB/s of log`, '', '']);
  }
  return { rows, verdicts };
}

/** toJson is the suite's part of results.json (`replay`): per workload its log, the parsed summary, rates, RSS, CPU, the wrk anchor. */
export function toJson(ctx, res) {
  return {
    rules: MIRROR_RULES,
    line_bytes: REPLAY_LINE,
    workloads: workloads(ctx.opts).filter((w) => res.workloads[w.id]).map((w) => {
      const r = res.workloads[w.id];
      const out = { id: w.id, label: w.label, unit: w.unit, ...r };
      if (r.wrk_nginx) {
        const { wrk_stdout, ...raw } = r.wrk_nginx.raw;
        out.wrk_nginx = { req_per_s: r.wrk_nginx.rps, mb_per_s: r.wrk_nginx.mbs, valid: r.wrk_nginx.valid, warnings: r.wrk_nginx.warnings, ...raw };
        out.target = { replay_req_per_s_at_least: r.wrk_nginx.rps / 3 };
      } else if (w.id === 'replay-256m') out.target = { compared_mb_per_s_at_least: REPLAY_MB_TARGET };
      else out.target = { rss_max_bytes_below: REPLAY_RSS_TARGET_BYTES };
      return out;
    }),
  };
}

/** report prints the replay tables and the targets line; returns the verdicts. */
export function report(ctx, res, meta) {
  const { rows, verdicts } = replayRows(res);
  const out = [''];
  out.push(`Replay (${meta.date}; cutover replay --format combined --speed asap --rules ${MIRROR_RULES}, old = nginx, new = cutover serve, same data; logs in bench/data; MB = 10^6 bytes)`);
  out.push(table([['workload', 'unit', 'cutover replay', 'reference', 'replay/target', 'target'], ...rows], ['l', 'l', 'r', 'l', 'r', 'l']));
  out.push('(!) = errors, divergences or implausible counts in that run, see warnings.');
  const drows = [['workload', 'log', 'records', 'filtered', 'sent = compared', 'bytes compared', 'done in', 'wall', 'req/s', 'MB/s', 'peak RSS', 'RSS samples', 'replay CPU', 'old CPU', 'new CPU', 'other CPU']];
  for (const w of workloads(ctx.opts)) {
    const r = res.workloads[w.id];
    if (!r) continue;
    const x = r.replay;
    drows.push([w.id, `${r.log} (${fmt(r.lines)} lines, ${fmtMB(r.log_bytes)})`, fmt(x.records), fmt(x.filtered), `${fmt(x.sent)} = ${fmt(x.compared)}`, fmt(x.bytes_compared), `${x.secs?.toFixed(1) ?? 'n/a'} s`, `${x.wall_s.toFixed(2)} s`, fmt(x.req_per_s), fmt(x.mb_per_s), fmtMB(x.rss_max_bytes), fmt(x.rss_samples), fmtCores(x.replay_cpu_cores), fmtCores(x.old_cpu_cores), fmtCores(x.new_cpu_cores), fmtCores(x.foreign_cpu_cores)]);
  }
  out.push('');
  out.push('Replay details (figures from the summary cutover replay prints; req/s and MB/s = sent / "done in" and bytes compared / "done in"; wall = spawn to exit; RSS = VmRSS of the replay process every 100 ms; CPU in cores)');
  out.push(table(drows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  const warns = [];
  for (const [id, r] of Object.entries(res.workloads)) {
    for (const x of r.replay.warnings) warns.push(`WARNING ${id} replay: ${x}`);
    for (const x of r.wrk_nginx?.warnings ?? []) warns.push(`WARNING ${id} wrk nginx: ${x}`);
  }
  if (warns.length) out.push('', ...warns);
  out.push('', targetsLine('Replay targets', verdicts));
  console.log(out.join('\n'));
  return verdicts;
}
