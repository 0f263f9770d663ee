// The memory suite of cutover serve: idle RSS next to bare Node, and peak RSS with many slow readers
// of a large file, then RSS once they have all gone, next to a floor server; its report also shows
// the serve suite's 1m / 256m RSS when those ran (the `memory` alias selects them).

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BENCH, MiB } from '../lib/constants.mjs';
import { measureLoad } from '../lib/load.mjs';
import { log, sleep } from '../lib/log.mjs';
import { freePorts, startServer, stopChild, tailLog, waitForPort } from '../lib/processes.mjs';
import { fmtCores, fmtMB, table, targetsLine } from '../lib/report.mjs';
import { treeRss } from '../lib/sampling.mjs';
import { startFreshCutover } from '../lib/servers.mjs';
import { SERVE_WORKLOADS } from './serve.mjs';

const SLOW_AFTER_S = 10; // row (b): RSS this long after the last slow reader closed
const IDLE_SETTLE_S = 3; // idle RSS is read this long after the process listens
const MAX_BUFFER_MEMORY = 64 * MiB; // cutover serve's default --max-buffer-memory
const SLOW_PEAK_TARGET_BYTES = MAX_BUFFER_MEMORY + 64e6;

/** workloads returns the suite's workloads; the slow-readers label names opts.slowReaders. */
export const workloads = (opts) => [
  { id: 'idle', label: 'idle RSS (cutover serve vs bare node)' },
  { id: 'slow-readers', label: `${opts.slowReaders} slow readers of /256m.bin` },
];

/** The `memory` alias of BENCH_WORKLOADS: this suite plus the serve rows whose RSS it reports. */
export const alias = (opts) => [...workloads(opts).map((w) => w.id), '1m', '256m'];

/** selected returns the suite's workloads that ctx.opts.workloads selects. */
export const selected = (ctx) => workloads(ctx.opts).filter((w) => ctx.opts.workloads.includes(w.id));

/**
 * slowReadersAgainst runs bench/slow-readers.mjs against 127.0.0.1:port (descriptor limit raised in
 * its shell) while sampling the RSS of `pids`; returns the load figures and the script's JSON line.
 */
async function slowReadersAgainst(ctx, port, pids, need, hard) {
  const script = path.join(BENCH, 'slow-readers.mjs');
  const sh = `ulimit -n ${Math.min(need, hard)} && exec "$0" "$@"`;
  const args = ['-c', sh, process.execPath, script, '--port', String(port), '--connections', String(ctx.opts.slowReaders), '--hold', String(ctx.opts.slowHold)];
  const load = await measureLoad(ctx, pids, 'sh', args, process.env);
  if (load.code !== 0) throw new Error(`slow-readers.mjs exited with ${load.code}:\n${load.stdout}${load.stderr}`);
  return { load, out: JSON.parse(load.stdout.trim().split('\n').pop()) };
}

/** idleRss starts `args` (a process that only waits), reads its VmRSS after IDLE_SETTLE_S, stops it. */
async function idleRssOf(ctx, name, args) {
  const child = startServer(ctx, name, process.execPath, args);
  await sleep(IDLE_SETTLE_S * 1000);
  const rss = treeRss([child.proc.pid]);
  await stopChild(ctx, child);
  return rss;
}

/**
 * run: (c) idle RSS of a fresh cutover serve next to bare Node (`node -e
 * "setInterval(()=>{},1000)"`), both read IDLE_SETTLE_S after start; (a) peak RSS of a fresh cutover
 * serve while bench/slow-readers.mjs holds opts.slowReaders paused downloads of /256m.bin for
 * opts.slowHold seconds, sampled every RSS_SAMPLE_MS; (b) its RSS SLOW_AFTER_S after they all closed.
 * The slow readers run in a child whose descriptor limit is raised with `ulimit -n` (the server's
 * too, when needed).
 * @throws {Error} when the hard descriptor limit is below what the slow readers need.
 */
export async function run(ctx) {
  const { slowReaders } = ctx.opts;
  const sel = selected(ctx);
  const res = {};
  const need = slowReaders + 256;
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || Infinity;
  const soft = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()) || Infinity;
  if (hard < need) throw new Error(`slow readers: ${slowReaders} connections need ${need} descriptors, the hard limit is ${hard} (raise it, or set BENCH_SLOW_READERS)`);
  res.fd_limit = { soft, hard, raised_to: soft < need ? need : null };
  if (sel.some((w) => w.id === 'idle')) {
    const node = await idleRssOf(ctx, 'bare-node', ['-e', 'setInterval(()=>{},1000)']);
    const fresh = await startFreshCutover(ctx, 'cutover-idle');
    await sleep(IDLE_SETTLE_S * 1000);
    const cutover = treeRss([fresh.child.proc.pid]);
    await stopChild(ctx, fresh.child);
    res.idle = { cutover_bytes: cutover, node_bytes: node, command: fresh.describe };
    log(`idle RSS: cutover serve ${fmtMB(cutover)}, bare node ${fmtMB(node)}`);
  }
  if (sel.some((w) => w.id === 'slow-readers')) {
    const s = await startFreshCutover(ctx, 'cutover-slow');
    // The server's own limit, raised like the shell's if it is too low (prlimit on its pid).
    if (soft < need) spawnSync('prlimit', ['--pid', String(s.child.proc.pid), `--nofile=${need}:${hard}`]);
    const pids = [s.child.proc.pid];
    await sleep(IDLE_SETTLE_S * 1000);
    const before = treeRss(pids);
    const { load, out } = await slowReadersAgainst(ctx, s.port, pids, need, hard);
    if (s.child.exited) throw new Error(`cutover died during slow-readers: ${JSON.stringify(s.child.exited)}\n${tailLog(s.child)}`);
    // (b): every connection closed when the reader process exited; RSS each second after that.
    const after = [];
    for (let i = 1; i <= SLOW_AFTER_S; i++) {
      await sleep(1000);
      after.push(treeRss(pids));
    }
    await stopChild(ctx, s.child);
    res.slow = { ...out, rss_before_bytes: before, rss_peak_bytes: load.rssMax, rss_after_bytes: after, server_cpu_cores: load.serverCpu, foreign_cpu_cores: load.foreign, command: s.describe };
    log(`slow readers: ${out.connected}/${out.connections} connected, ${out.responding} had a response started, ${out.errors} errors; RSS ${fmtMB(before)} before, peak ${fmtMB(load.rssMax)}, ${SLOW_AFTER_S} s after close ${fmtMB(after.at(-1))}`);
    // The floor: the same slow readers against a Node HTTP server with cutover's libraries that
    // holds every request and reads nothing (bench/floor-server.mjs).
    const [fport] = await freePorts(1);
    const floor = startServer(ctx, 'floor', process.execPath, [path.join(BENCH, 'floor-server.mjs'), String(fport)]);
    await waitForPort(floor, fport);
    if (soft < need) spawnSync('prlimit', ['--pid', String(floor.proc.pid), `--nofile=${need}:${hard}`]);
    await sleep(IDLE_SETTLE_S * 1000);
    const fl = await slowReadersAgainst(ctx, fport, [floor.proc.pid], need, hard);
    await stopChild(ctx, floor);
    res.slow.floor_peak_bytes = fl.load.rssMax;
    log(`slow readers against the floor server: peak ${fmtMB(fl.load.rssMax)}`);
  }
  return res;
}

/** report prints the memory rows and their verdicts; `results` has the serve suite's 1m/256m rows if run. */
export function report(ctx, mem, results, meta) {
  const verdicts = [];
  const rows = [['row', 'cutover serve', 'reference', 'target', 'verdict']];
  const idle = mem.idle;
  if (idle) rows.push(['(c) idle RSS, 3 s after start', fmtMB(idle.cutover_bytes), `bare node ${fmtMB(idle.node_bytes)}`, '', '']);
  const slow = mem.slow;
  if (slow) {
    const pv = slow.rss_peak_bytes <= SLOW_PEAK_TARGET_BYTES ? 'PASS' : 'FAIL';
    verdicts.push({ what: `slow-readers peak RSS <= budget + 64 MB`, verdict: pv, value: slow.rss_peak_bytes });
    rows.push([`(a) peak RSS, ${slow.connected} slow readers of 256 MiB for ${slow.hold_s} s`, fmtMB(slow.rss_peak_bytes), `before: ${fmtMB(slow.rss_before_bytes)}`, `<= 64 MiB + 64 MB = ${fmtMB(SLOW_PEAK_TARGET_BYTES)}`, pv]);
    const base = idle?.cutover_bytes ?? slow.rss_before_bytes;
    const last = slow.rss_after_bytes.at(-1);
    const av = last < 2 * base ? 'PASS' : 'FAIL';
    verdicts.push({ what: `slow-readers RSS ${SLOW_AFTER_S} s after close < 2x idle`, verdict: av, value: last });
    rows.push([`(b) RSS ${SLOW_AFTER_S} s after they all closed`, fmtMB(last), `idle ${fmtMB(base)}`, `< 2x idle = ${fmtMB(2 * base)}`, av]);
    if (slow.floor_peak_bytes !== undefined) {
      const floorPlus = slow.floor_peak_bytes + MAX_BUFFER_MEMORY;
      rows.push([
        `(a0) floor: a Node http server with cutover's libraries holding the ${slow.connected} requests`,
        fmtMB(slow.floor_peak_bytes),
        `+ 64 MiB budget = ${fmtMB(floorPlus)}`,
        `${floorPlus > SLOW_PEAK_TARGET_BYTES ? 'above' : 'under'} the (a) target`,
        '',
      ]);
    }
  }
  for (const id of ['1m', '256m']) {
    const r = results[id];
    if (!r?.cutover) continue;
    rows.push([`(d) peak RSS under wrk -c${ctx.opts.connections}, ${SERVE_WORKLOADS.find((w) => w.id === id).label}`, fmtMB(r.cutover.raw.rss_max_bytes), r.nginx ? `nginx ${fmtMB(r.nginx.raw.rss_max_bytes)} (x${(r.cutover.raw.rss_max_bytes / r.nginx.raw.rss_max_bytes).toFixed(1)})` : 'n/a', '', '']);
  }
  const out = [''];
  out.push(`Memory of cutover serve (${meta.date}; ${mem.slow?.command ?? mem.idle?.command ?? ''}; RSS = VmRSS, MB = 10^6 bytes; descriptors: soft ${mem.fd_limit.soft}, hard ${mem.fd_limit.hard}${mem.fd_limit.raised_to ? `, raised to ${mem.fd_limit.raised_to} for the slow readers` : ''})`);
  out.push(table(rows, ['l', 'r', 'l', 'l', 'l']));
  if (slow) {
    out.push(`slow readers: ${slow.connected} of ${slow.connections} connected, ${slow.responding} had a response started when they closed, ${slow.errors} errors${slow.errors ? ` (${slow.error_samples.join(', ')})` : ''}; server CPU ${fmtCores(slow.server_cpu_cores)}, other CPU ${fmtCores(slow.foreign_cpu_cores)}`);
    out.push(`RSS each second after they closed: ${slow.rss_after_bytes.map((b) => (b / 1e6).toFixed(1)).join(', ')} MB`);
  }
  if (verdicts.length) out.push('', targetsLine('Memory targets', verdicts));
  console.log(out.join('\n'));
  return verdicts;
}
