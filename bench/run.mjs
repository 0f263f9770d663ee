#!/usr/bin/env node
// Benchmark harness: nginx vs Go net/http (ServeContent) vs cutover on the same
// generated data, driven by wrk. Plain Node ESM, no dependencies.
//
//   npm run bench                # builds cutover, then runs this file
//   BENCH_SECONDS=3 node bench/run.mjs
//
// Env: BENCH_SECONDS (5), BENCH_CONNECTIONS (64), BENCH_WARMUP (1, seconds,
// 0 disables), BENCH_SERVERS (nginx,go,cutover,manifest,s3), BENCH_WORKLOADS (all ids,
// comma separated; `mirror` = every mirror-* id, `replay` = every replay-* id, `manifest` = manifest-match),
// BENCH_SEED (ranges, mirror-mixed's sequence), BENCH_STRICT=1
// (exit 1 when a target fails), BENCH_MIRROR_RATE (500), BENCH_MIXED_RATE (200), BENCH_MIXED_ROUNDS (8), BENCH_FLOOR_ROUNDS (24), BENCH_MIRROR_WARMUP (5), BENCH_MIRROR_OUT=1, BENCH_MIRROR_ARGS,
// BENCH_REPLAY_CONCURRENCY (16), BENCH_REPLAY_SMALL_RECORDS (30000),
// BENCH_REPLAY_BIG_CONCURRENCY (4), BENCH_REPLAY_BIG_RECORDS (16),
// BENCH_SLOW_READERS (1000), BENCH_SLOW_HOLD (10, seconds), BENCH_CUTOVER (bin/cutover: the
// launcher to measure, e.g. another build, for before/after figures), BENCH_NODE_ARGS (extra node
// flags for cutover serve, e.g. --max-semi-space-size=2).
// `BENCH_WORKLOADS=memory BENCH_SERVERS=nginx,cutover` runs only the memory rows (idle, slow-readers,
// and 1m / 256m for RSS under load next to nginx).
// See bench/README.md.
//
// This file only reads the options, starts the servers, runs the suites in bench/suites (manifest, serve,
// s3, memory, mirror, replay) and prints and records their results; the library is bench/lib. The state
// of the run (started children, load generators, shutdown) is one context object passed down.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OUT, ROOT, SERVER_NAMES } from './lib/constants.mjs';
import { createContext } from './lib/context.mjs';
import { ensureData } from './lib/data.mjs';
import { log } from './lib/log.mjs';
import { envList, readOptions } from './lib/options.mjs';
import { installCleanup, stopAll } from './lib/processes.mjs';
import { cpuBusy } from './lib/sampling.mjs';
import { sanityCheck } from './lib/sanity.mjs';
import { metricSum, warmS3 } from './lib/s3.mjs';
import { startServers } from './lib/servers.mjs';
import * as manifest from './suites/manifest.mjs';
import * as memory from './suites/memory.mjs';
import * as mirror from './suites/mirror.mjs';
import * as replay from './suites/replay.mjs';
import * as s3suite from './suites/s3.mjs';
import * as serve from './suites/serve.mjs';

// A bad option throws here, before anything is started.
const opts = readOptions(process.env);
const ids = (list) => list.map((w) => w.id);
opts.workloads = envList(process.env, 'BENCH_WORKLOADS', [...ids(serve.workloads(opts)), ...ids(mirror.workloads(opts)), ...ids(replay.workloads(opts)), ...ids(memory.workloads(opts)), ...ids(manifest.workloads(opts)), ...ids(s3suite.workloads(opts))], {
  mirror: ids(mirror.workloads(opts)),
  replay: ids(replay.workloads(opts)),
  memory: memory.alias(opts),
  manifest: ids(manifest.workloads(opts)),
});
opts.servers = envList(process.env, 'BENCH_SERVERS', SERVER_NAMES);

const ctx = createContext(opts);
installCleanup(ctx);

async function main() {
  const selectedPlain = serve.selected(ctx);
  const selectedMemory = memory.selected(ctx);
  const selectedMirror = mirror.selected(ctx);
  const selectedReplay = replay.selected(ctx);
  const selectedManifest = manifest.selected(ctx);
  const selectedS3 = s3suite.selected(ctx);
  // The mirror and replay parts need old (nginx) and new (cutover) even when BENCH_SERVERS
  // leaves them out; they then only serve as backends.
  const needsOldNew = selectedMirror.length > 0 || selectedReplay.length > 0;
  // The manifest row is a micro-benchmark of the library: alone, it needs no server, tool nor data file.
  const needsServers = selectedPlain.length > 0 || selectedMemory.length > 0 || needsOldNew;
  // s3-cold and s3-spike need the data, wrk's absence does not matter to them, and they start their own servers.
  if (selectedS3.length > 0) ensureData();
  const startedServers = needsServers ? SERVER_NAMES.filter((n) => opts.servers.includes(n) || (needsOldNew && (n === 'nginx' || n === 'cutover'))) : [];

  fs.mkdirSync(OUT, { recursive: true });
  for (const tool of needsServers ? ['wrk', 'nginx', 'go'] : []) {
    if (tool === 'nginx' && !startedServers.includes('nginx')) continue;
    if (tool === 'go' && !startedServers.includes('go')) continue;
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${tool} not found in PATH`);
  }
  const t0 = Date.now();
  const busy = await cpuBusy();
  if (busy !== null && busy > 0.1) log(`WARNING: the machine is busy before the run (${(busy * 100).toFixed(0)} % CPU used by other processes); figures will be skewed`);
  // First, before any server runs: a CPU-bound micro-benchmark in a child of its own.
  const man = selectedManifest.length ? await manifest.run(ctx) : null;
  if (needsServers) ensureData();
  const allServers = needsServers ? await startServers(ctx, startedServers, needsOldNew) : [];
  for (const s of allServers) await sanityCheck(s);
  // The s3 column is measured with its data in the chunk cache: loaded once here, checked to stay.
  const s3Server = allServers.find((s) => s.name === 's3');
  if (s3Server && selectedPlain.length > 0) await warmS3(s3Server);
  // servers measured by the plain workloads (nginx/cutover may run only as mirror backends)
  const servers = allServers.filter((s) => opts.servers.includes(s.name));
  const oldS = allServers.find((s) => s.name === 'nginx');
  const newS = allServers.find((s) => s.name === 'cutover');

  const s3Before = s3Server && selectedPlain.length > 0 ? await metricSum(s3Server.metricsPort, 'cutover_serve_chunk_loads_total') : null;
  const plain = await serve.run(ctx, servers);
  if (s3Before !== null) plain.s3Loads = { before: s3Before, after: await metricSum(s3Server.metricsPort, 'cutover_serve_chunk_loads_total') };
  // s3-cold and s3-spike start serve processes of their own (an empty cache each).
  const s3w = selectedS3.length ? await s3suite.run(ctx) : null;
  const mem = selectedMemory.length ? await memory.run(ctx) : null;
  const mir = selectedMirror.length ? await mirror.run(ctx, oldS, newS) : null;
  const rep = selectedReplay.length ? await replay.run(ctx, oldS, newS) : null;

  const meta = { date: new Date().toISOString(), cpus: os.cpus().length, node: process.version, cpu_busy_before: busy };
  const verdicts = selectedPlain.length ? serve.report(ctx, plain, meta) : [];
  if (man) verdicts.push(...manifest.report(ctx, man, meta));
  if (s3w) verdicts.push(...s3suite.report(ctx, s3w, meta));
  if (mem) verdicts.push(...memory.report(ctx, mem, plain.results, meta));
  if (mir) verdicts.push(...mirror.report(ctx, mir, meta));
  if (rep) verdicts.push(...replay.report(ctx, rep, meta));
  if ([man, s3w, mir, rep, mem, selectedPlain.length > 0].filter(Boolean).length > 1) {
    const failed = verdicts.filter((v) => v.verdict !== 'PASS');
    console.log(failed.length ? `All targets: ${failed.length} of ${verdicts.length} not met` : `All targets: all ${verdicts.length} met`);
  }
  const json = {
    meta: { ...meta, seconds: opts.seconds, connections: opts.connections, warmup: opts.warmup, mb: 1e6, elapsed_s: (Date.now() - t0) / 1000 },
    servers: allServers.map((s) => ({ name: s.name, port: s.port, command: s.describe, measured: opts.servers.includes(s.name) })),
    memory: mem,
    mirror: mir && mirror.toJson(ctx, mir),
    replay: rep && replay.toJson(ctx, rep),
    manifest: man && manifest.toJson(ctx, man),
    s3: s3w && s3suite.toJson(ctx, s3w),
    workloads: serve.toJson(ctx, plain),
    verdicts,
  };
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  log(`wrote ${path.relative(ROOT, path.join(OUT, 'results.json'))} (${json.meta.elapsed_s.toFixed(0)} s)`);
  return verdicts;
}

let exitCode = 0;
try {
  const verdicts = await main();
  if (opts.strict && verdicts.some((v) => v.verdict !== 'PASS')) exitCode = 1;
} catch (e) {
  console.error(`\n[bench] ERROR: ${e.message}`);
  exitCode = 1;
} finally {
  await stopAll(ctx);
}
process.exit(exitCode);
