// The S3 suite (issue 13): cutover serve reading from S3 (s3rver on loopback) with an empty cache.
//   s3-cold:  one 256 MiB download through a fresh serve, against a plain sequential loop of 2 MiB
//             ranged GetObject requests on the same s3rver from a Node process of the same kind;
//             COLD_ROUNDS interleaved rounds, alternating which goes first. Three serves in each round:
//             `cutover` (the defaults: the cache takes its memory as the download fills it),
//             `prealloc` (--cache-prealloc: the cache's budget brought into memory at start-up, as a
//             server that has run a while has it) and `recycled` (--cache-size 32MiB: far smaller than
//             the blob, its chunks are evicted and their memory reused, as the loop reuses its
//             buffers); and once per run bench/first-touch.mjs, what this machine charges for bringing
//             256 MiB of fresh memory into use. Target: cutover/loop >= 0.8, judged on `prealloc`
//             (the memory's first touch is the machine's cost, measured apart; `cutover` shows it).
//   s3-spike: 50 clients at once downloading the same uncached 64 MiB blob through a fresh serve with
//             --cache-size 192MiB: the store must be read once per chunk (single flight), every client
//             must get the right bytes, and peak RSS stay within the cache budget + 100 MB.
// Every client checks every byte (bench/s3-fetch.mjs): s3-spike's hash it (the expected sha256 is computed here
// from bench/data), s3-cold's compare it with the file (cheaper in CPU, see COLD_VERIFY).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH, BIG_SIZE, DATA, MID_SIZE, MiB } from '../lib/constants.mjs';
import { measureLoad } from '../lib/load.mjs';
import { log, sleep } from '../lib/log.mjs';
import { processTree, stopChild } from '../lib/processes.mjs';
import { fmt, fmtCores, fmtMB, median, table, targetsLine } from '../lib/report.mjs';
import { ensureS3rver, metricSum, S3_BUCKET, S3_ENV, startS3Serve } from '../lib/s3.mjs';
import { cutoverCommand } from '../lib/servers.mjs';

/** The chunk size of cutover serve (its default, --chunk-size 2MiB) and of the reference loop's requests. */
const CHUNK = 2 * MiB;
/** Rounds of s3-cold (each: the loop and a fresh serve, alternating which goes first) and of s3-spike. */
const COLD_ROUNDS = 3;
const SPIKE_ROUNDS = 2;
const COLD_TARGET = 0.8;
const SPIKE_CLIENTS = 50;
/** s3-cold's serve runs with the default cache size; s3-spike's with the issue's 192 MiB. */
const COLD_CACHE = { flag: '256MiB', bytes: 256 * MiB };
/** The control's cache: far smaller than the blob, so chunk memory is recycled rather than fresh. */
const RECYCLED_CACHE = { flag: '32MiB', bytes: 32 * MiB };
/** s3-cold's serves: their cache and extra flags. */
const COLD_SERVES = {
  cutover: { cache: COLD_CACHE, extra: [] },
  prealloc: { cache: COLD_CACHE, extra: ['--cache-prealloc'] },
  recycled: { cache: RECYCLED_CACHE, extra: [] },
};
const SPIKE_CACHE = { flag: '192MiB', bytes: 192 * MiB };
const RSS_MARGIN = 100e6;
/**
 * How s3-cold's two clients check the bytes: compared with bench/data/256m.bin rather than hashed. With
 * sha256 the client of the cutover side (a third busy process next to serve and s3rver on 2 cores) took
 * the ratio from about 0.76 to about 0.6 in runs by hand; a comparison checks every byte as well.
 */
const COLD_VERIFY = `compare=${path.join(DATA, '256m.bin')}`;

const WORKLOADS = [
  { id: 's3-cold', label: '256 MiB from S3, empty cache (fresh serve) vs a sequential 2 MiB GetObject loop' },
  { id: 's3-spike', label: `${SPIKE_CLIENTS} clients, same uncached 64 MiB blob, --cache-size 192MiB` },
];

/** workloads returns the suite's workloads (same signature as the other suites). */
export const workloads = (_opts) => WORKLOADS;

/** selected returns the suite's workloads that ctx.opts.workloads selects. */
export const selected = (ctx) => WORKLOADS.filter((w) => ctx.opts.workloads.includes(w.id));

function sha256File(file) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * MiB);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** fetchRun runs bench/s3-fetch.mjs with `args` under measureLoad (sampling `pids`) and returns its JSON with the samples. */
async function fetchRun(ctx, pids, args) {
  const r = await measureLoad(ctx, pids, process.execPath, [path.join(BENCH, 's3-fetch.mjs'), ...args], { ...process.env, ...S3_ENV });
  if (r.code !== 0) throw new Error(`s3-fetch.mjs ${args[0]} exited with ${r.code}:\n${r.stdout}${r.stderr}`);
  const json = JSON.parse(r.stdout.trim().split('\n').pop());
  return { ...json, rss_max_bytes: r.rssMax, foreign_cpu_cores: r.foreign, server_cpu_cores: r.serverCpu, machine_cpu_cores: r.machine };
}

/** counters reads the store and chunk counters of a serve's /metrics. */
async function counters(s) {
  const [reads, loads, stats] = await Promise.all(['cutover_store_reads_total', 'cutover_serve_chunk_loads_total', 'cutover_store_stats_total'].map((n) => metricSum(s.metricsPort, n)));
  return { reads, loads, stats };
}

async function coldServe(ctx, cmd, { cache, extra }) {
  const s = await startS3Serve(ctx, cmd, 's3-cold-serve', cache.flag, cache.bytes, extra);
  try {
    const c0 = await counters(s);
    const r = await fetchRun(ctx, processTree(s.child.proc.pid), ['http', `http://127.0.0.1:${s.port}/256m.bin`, '1', COLD_VERIFY]);
    const c1 = await counters(s);
    const d = r.downloads[0];
    return { ...r, ok: d.status === 200 && d.bytes === BIG_SIZE && d.mismatch === null, reads: c1.reads - c0.reads, loads: c1.loads - c0.loads, describe: s.describe };
  } finally {
    await stopChild(ctx, s.child);
  }
}

/** firstTouch runs bench/first-touch.mjs: the CPU this machine spends bringing 256 MiB of fresh memory into use. */
async function firstTouch(ctx) {
  const r = await measureLoad(ctx, [], process.execPath, [path.join(BENCH, 'first-touch.mjs'), String(BIG_SIZE)], process.env);
  if (r.code !== 0) throw new Error(`first-touch.mjs exited with ${r.code}:\n${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function coldLoop(ctx, endpoint) {
  const r = await fetchRun(ctx, processTree(ctx.s3rver.child.proc.pid), ['s3-loop', endpoint, S3_BUCKET, '256m.bin', String(BIG_SIZE), String(CHUNK), COLD_VERIFY]);
  const d = r.downloads[0];
  return { ...r, ok: d.bytes === BIG_SIZE && d.mismatch === null };
}

async function spike(ctx, cmd, sha) {
  const s = await startS3Serve(ctx, cmd, 's3-spike-serve', SPIKE_CACHE.flag, SPIKE_CACHE.bytes);
  try {
    const c0 = await counters(s);
    const r = await fetchRun(ctx, processTree(s.child.proc.pid), ['http', `http://127.0.0.1:${s.port}/64m.bin`, String(SPIKE_CLIENTS)]);
    const c1 = await counters(s);
    const right = r.downloads.filter((d) => d.status === 200 && d.bytes === MID_SIZE && d.sha256 === sha).length;
    return { ...r, right, reads: c1.reads - c0.reads, loads: c1.loads - c0.loads, stats: c1.stats - c0.stats, chunks: Math.ceil(MID_SIZE / CHUNK), describe: s.describe };
  } finally {
    await stopChild(ctx, s.child);
  }
}

/** run measures the selected workloads; returns { cold: { rounds }, spike: { rounds } } (either null when not selected). */
export async function run(ctx) {
  const cmd = cutoverCommand(ctx);
  if (!cmd) throw new Error('the s3 workloads need cutover: run `npm run build`');
  const ids = selected(ctx).map((w) => w.id);
  const { endpoint } = await ensureS3rver(ctx);
  const out = { cold: null, spike: null };
  if (ids.includes('s3-cold')) {
    const rounds = [];
    const touch = await firstTouch(ctx);
    log(`s3-cold  first touch of ${fmtMB(touch.bytes)}: ${touch.fresh.cpu_ms.toFixed(0)} ms CPU (user ${touch.fresh.user_ms.toFixed(0)}, system ${touch.fresh.sys_ms.toFixed(0)}); the same bytes rewritten in memory already in use: ${touch.reused.cpu_ms.toFixed(0)} ms`);
    for (let i = 0; i < COLD_ROUNDS; i++) {
      const order = i % 2 === 0 ? ['loop', 'prealloc', 'cutover', 'recycled'] : ['recycled', 'cutover', 'prealloc', 'loop'];
      const round = {};
      for (const which of order) {
        round[which] = which === 'loop' ? await coldLoop(ctx, endpoint) : await coldServe(ctx, cmd, COLD_SERVES[which]);
        const r = round[which];
        log(`s3-cold  ${which.padEnd(8)} ${fmt(r.mbs, 1).padStart(7)} MB/s  ${r.seconds.toFixed(2)} s  ${r.ok ? 'bytes OK' : 'WRONG BYTES'}${which !== 'loop' ? `  store reads ${r.reads}, chunk loads ${r.loads}, serve rss ${fmtMB(r.rss_max_bytes)}, serve CPU ${fmtCores(r.server_cpu_cores)}` : ''}  machine CPU ${fmtCores(r.machine_cpu_cores)}  other CPU ${fmtCores(r.foreign_cpu_cores)}`);
        await sleep(300);
      }
      round.ratio = round.cutover.mbs / round.loop.mbs;
      round.preallocRatio = round.prealloc.mbs / round.loop.mbs;
      round.recycledRatio = round.recycled.mbs / round.loop.mbs;
      round.order = order;
      rounds.push(round);
    }
    out.cold = { rounds, touch, describe: rounds[0].cutover.describe, describePrealloc: rounds[0].prealloc.describe };
  }
  if (ids.includes('s3-spike')) {
    const sha = sha256File(path.join(DATA, '64m.bin'));
    const rounds = [];
    for (let i = 0; i < SPIKE_ROUNDS; i++) {
      const r = await spike(ctx, cmd, sha);
      log(`s3-spike round ${i + 1}: ${r.right}/${SPIKE_CLIENTS} right, store reads ${r.reads}, chunk loads ${r.loads} (chunks ${r.chunks}), stats ${r.stats}, ${fmt(r.mbs, 1)} MB/s in ${r.seconds.toFixed(2)} s, peak RSS ${fmtMB(r.rss_max_bytes)}  other CPU ${fmtCores(r.foreign_cpu_cores)}`);
      rounds.push(r);
      await sleep(300);
    }
    out.spike = { rounds, describe: rounds[0].describe };
  }
  return out;
}

/** report prints the s3-cold and s3-spike tables and returns their verdicts. */
export function report(ctx, { cold, spike }, meta) {
  const verdicts = [];
  const out = [''];
  if (cold) {
    const ratios = cold.rounds.map((r) => r.preallocRatio);
    const m = median(ratios);
    const ok = cold.rounds.every((r) => r.prealloc.ok && r.loop.ok);
    const v = !ok ? 'INVALID' : m >= COLD_TARGET ? 'PASS' : 'FAIL';
    verdicts.push({ what: `s3-cold cutover/loop >= ${COLD_TARGET} (serve --cache-prealloc)`, verdict: v, value: m });
    out.push(
      `s3-cold (${meta.date}): 256 MiB through a fresh \`${cold.describePrealloc}\` (prealloc), the same without --cache-prealloc (cutover: its cache takes fresh memory as the download fills it) and with --cache-size ${RECYCLED_CACHE.flag} (recycled), one GET each, against a sequential loop of 2 MiB ranged GetObject requests ` +
        `(@aws-sdk/client-s3, one Node process), same s3rver, every client comparing every byte with bench/data/256m.bin; ${COLD_ROUNDS} rounds alternating which goes first; MB = 10^6 bytes`,
    );
    const rows = [['round', 'first', 'loop MB/s', 'prealloc MB/s', 'prealloc/loop', 'store reads', 'chunk loads', 'serve peak RSS', 'cutover MB/s', 'cutover/loop', `recycled MB/s`, 'recycled/loop', 'serve CPU (prealloc / cutover / recycled)', 'bytes right', 'other CPU (loop / prealloc)']];
    cold.rounds.forEach((r, i) =>
      rows.push([
        String(i + 1),
        r.order[0],
        fmt(r.loop.mbs, 1),
        fmt(r.prealloc.mbs, 1),
        r.preallocRatio.toFixed(2),
        fmt(r.prealloc.reads),
        fmt(r.prealloc.loads),
        fmtMB(r.prealloc.rss_max_bytes),
        fmt(r.cutover.mbs, 1),
        r.ratio.toFixed(2),
        fmt(r.recycled.mbs, 1),
        r.recycledRatio.toFixed(2),
        `${fmtCores(r.prealloc.server_cpu_cores)} / ${fmtCores(r.cutover.server_cpu_cores)} / ${fmtCores(r.recycled.server_cpu_cores)}`,
        r.prealloc.ok && r.cutover.ok && r.loop.ok && r.recycled.ok ? 'yes' : 'NO',
        `${fmtCores(r.loop.foreign_cpu_cores)} / ${fmtCores(r.prealloc.foreign_cpu_cores)}`,
      ]),
    );
    out.push(table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l']));
    out.push(`prealloc/loop, median of ${ratios.length}: ${m.toFixed(2)} (spread ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}; target >= ${COLD_TARGET}) ${v}`);
    const plain = cold.rounds.map((r) => r.ratio);
    const rec = cold.rounds.map((r) => r.recycledRatio);
    out.push(
      `without --cache-prealloc (the defaults): median ${median(plain).toFixed(2)} of the loop (${Math.min(...plain).toFixed(2)}-${Math.max(...plain).toFixed(2)}); recycling its chunk memory (--cache-size ${RECYCLED_CACHE.flag}): median ${median(rec).toFixed(2)} (${Math.min(...rec).toFixed(2)}-${Math.max(...rec).toFixed(2)}). ` +
        `This machine charges ${cold.touch.fresh.cpu_ms.toFixed(0)} ms of CPU to bring ${fmtMB(cold.touch.bytes)} of fresh memory into use (${cold.touch.reused.cpu_ms.toFixed(0)} ms to rewrite memory already in use): a cache that keeps the blob in memory taken during the download pays it there, a loop that keeps nothing does not, --cache-prealloc pays it at start-up.`,
    );
  }
  if (spike) {
    const budget = SPIKE_CACHE.bytes + RSS_MARGIN;
    out.push('');
    out.push(`s3-spike: ${SPIKE_CLIENTS} clients at once GET /64m.bin (uncached) through a fresh \`${spike.describe}\`; store reads and chunk loads are deltas of its /metrics; RSS sampled every 100 ms`);
    const rows = [['round', 'chunks', 'store reads', 'chunk loads', 'stats', 'clients right', 'MB/s (all clients)', 'seconds', 'peak RSS', 'other CPU']];
    spike.rounds.forEach((r, i) => rows.push([String(i + 1), fmt(r.chunks), fmt(r.reads), fmt(r.loads), fmt(r.stats), `${r.right}/${SPIKE_CLIENTS}`, fmt(r.mbs, 1), r.seconds.toFixed(2), fmtMB(r.rss_max_bytes), fmtCores(r.foreign_cpu_cores)]));
    out.push(table(rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
    const once = spike.rounds.every((r) => r.reads === r.chunks && r.loads === r.chunks);
    const right = spike.rounds.every((r) => r.right === SPIKE_CLIENTS);
    const rss = Math.max(...spike.rounds.map((r) => r.rss_max_bytes));
    verdicts.push({ what: 's3-spike store reads = chunk loads = chunks', verdict: once ? 'PASS' : 'FAIL', value: spike.rounds.map((r) => r.reads) });
    verdicts.push({ what: `s3-spike all ${SPIKE_CLIENTS} clients' sha256 right`, verdict: right ? 'PASS' : 'FAIL', value: spike.rounds.map((r) => r.right) });
    verdicts.push({ what: `s3-spike peak RSS <= 192 MiB + 100 MB (${fmtMB(budget)})`, verdict: rss <= budget ? 'PASS' : 'FAIL', value: rss });
    out.push(`peak RSS (highest round) ${fmtMB(rss)}, target <= ${fmtMB(budget)}`);
  }
  out.push('', targetsLine('S3 targets', verdicts));
  console.log(out.join('\n'));
  return verdicts;
}

/** toJson is the suite's part of results.json. */
export function toJson(_ctx, { cold, spike }) {
  return {
    ...(cold
      ? {
          's3-cold': {
            command: cold.describe,
            target_prealloc_over_loop: COLD_TARGET,
            first_touch: cold.touch,
            command_prealloc: cold.describePrealloc,
            rounds: cold.rounds.map((r) => ({ first: r.order[0], prealloc_ratio: r.preallocRatio, ratio: r.ratio, recycled_ratio: r.recycledRatio, loop: r.loop, prealloc: r.prealloc, cutover: r.cutover, recycled: r.recycled })),
          },
        }
      : {}),
    ...(spike ? { 's3-spike': { command: spike.describe, clients: SPIKE_CLIENTS, cache_bytes: SPIKE_CACHE.bytes, rounds: spike.rounds } } : {}),
  };
}
