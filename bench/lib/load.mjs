// Load generation: wrk (with the Lua scripts in bench/wrk, one JSON summary per run) and the
// fixed-rate client bench/fixed-rate.mjs, each run to its end while the target's process tree is
// sampled (peak RSS, CPU) and the CPU taken by processes outside the benchmark is measured.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH, FOREIGN_CPU_WARN, OUT, PER_RESPONSE_OVERHEAD, ROOT, RSS_SAMPLE_MS, WRK_DIR } from './constants.mjs';
import { readerCommand } from './floor.mjs';
import { processTree, tailLog } from './processes.mjs';
import { childTicks, cpuSnapshot, foreignCpu, processorOf, reapedTicks, statusKb, treeRss, treeTicks } from './sampling.mjs';

/** Connections of the undici Pool of bench/fixed-rate.mjs. */
export const FIXED_RATE_CONNECTIONS = 16;

/**
 * measureLoad runs one load generator to its end while sampling the target's process tree: peak
 * VmRSS (every RSS_SAMPLE_MS, once more after the load), the target's CPU (cores) and the CPU of
 * processes outside the benchmark. The generator is in ctx.loads while it runs, so the exit
 * handler can kill it.
 *
 * `companion` ({ command, args }), if given, is a second process started at the same moment and
 * waited for too, before the CPU is read (a reaped child of the harness, its CPU counts with the
 * load generator's, not as another process's):
 * what a target needs alongside its load (haproxy-reader's reader of new). Its exit code and
 * output come back as `companion`.
 */
export async function measureLoad(ctx, pids, command, args, env, companion) {
  let rssMax = treeRss(pids);
  // Which core the target's main thread was on at each sample: this VM's two cores are not always
  // equal (a Node server measured 0.55-0.65x as fast on one as on the other, minutes apart), and a
  // single-threaded server gets only the one it is on.
  const cores = {};
  const sample = () => {
    const r = treeRss(pids);
    if (r > rssMax) rssMax = r;
    const c = processorOf(pids[0]);
    if (c !== null) cores[c] = (cores[c] ?? 0) + 1;
  };
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  const cpu0 = cpuSnapshot(ctx);
  const own0 = treeTicks(pids);
  const kids0 = childTicks(ctx);
  const reaped0 = reapedTicks();
  // One process run to its end, in ctx.loads while it runs.
  const run = (cmd, argv) => {
    const out = { code: null, stdout: '', stderr: '' };
    let current = null;
    return new Promise((resolve, reject) => {
      const p = spawn(cmd, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      current = p;
      ctx.loads.add(p);
      p.stdout.on('data', (d) => (out.stdout += d));
      p.stderr.on('data', (d) => (out.stderr += d));
      p.on('error', reject);
      p.on('exit', (c, sig) => resolve(sig ?? c));
    })
      .then((code) => ({ ...out, code }))
      .finally(() => ctx.loads.delete(current));
  };
  const [main, side] = await Promise.all([run(command, args), companion ? run(companion.command, companion.args) : null]).finally(() => clearInterval(sampler));
  const { code, stdout, stderr } = main;
  const cpu1 = cpuSnapshot(ctx);
  const kids1 = childTicks(ctx);
  const secs = Math.max(1e-3, (cpu1.t - cpu0.t) / 1000);
  sample();
  return {
    code,
    stdout,
    stderr,
    rssMax,
    cores,
    foreign: foreignCpu(cpu0, cpu1),
    // Every process's CPU (user + nice + system), in cores: how close the machine was to its limit.
    machine: (cpu1.busy - cpu0.busy) / 100 / secs,
    // The same with irq and softirq: loopback traffic is partly processed there, charged to no process.
    machineAll: (cpu1.busyAll - cpu0.busyAll) / 100 / secs,
    serverCpu: (treeTicks(pids) - own0) / 100 / secs,
    // Where the rest of the machine went: every started server (old, new, the proxies) and the load
    // generator itself (a reaped child of this harness), in cores.
    childrenCpu: Object.fromEntries([...kids1].map(([name, t]) => [name, (t - (kids0.get(name) ?? t)) / 100 / secs])),
    loadCpu: (reapedTicks() - reaped0) / 100 / secs,
    ...(side ? { companion: side } : {}),
  };
}

/**
 * runWrk runs `wrk -t1 -c<w.connections, else the option> -d<seconds>s` with w.script on
 * http://127.0.0.1:<s.port><w.path> (w.env added to the environment); the Lua script writes its JSON
 * summary to bench/out/wrk/<server>-<workload><tag>.json. Returns that summary plus the sampled
 * figures.
 * @throws {Error} when wrk fails, writes no summary, or the server died meanwhile.
 */
export async function runWrk(ctx, s, w, seconds, tag) {
  const outFile = path.join(OUT, 'wrk', `${s.name}-${w.id}${tag}.json`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.rmSync(outFile, { force: true });
  const args = [
    '-t1',
    `-c${w.connections ?? ctx.opts.connections}`, // the replay-small anchor runs with the replay's concurrency
    `-d${seconds}s`,
    '--latency',
    '--timeout',
    '60s', // a 256 MiB response over 64 connections takes seconds; wrk's default 2s would count it as timeout
    '-s',
    path.join(WRK_DIR, w.script),
    `http://127.0.0.1:${s.port}${w.path}`,
  ];
  const pids = processTree(s.child.proc.pid);
  const env = { ...process.env, ...w.env, BENCH_WRK_OUT: outFile };
  const { code, stdout, stderr, rssMax, cores, foreign, serverCpu, childrenCpu, loadCpu, machineAll } = await measureLoad(ctx, pids, 'wrk', args, env);
  if (code !== 0) throw new Error(`wrk exited with ${code} (${s.name}, ${w.id}):\n${stdout}${stderr}`);
  let json;
  try {
    json = JSON.parse(fs.readFileSync(outFile, 'utf8'));
  } catch (e) {
    throw new Error(`wrk produced no JSON summary (${s.name}, ${w.id}): ${e.message}\n${stdout}${stderr}`);
  }
  const hwm = Object.fromEntries(pids.map((p) => [p, (statusKb(p, 'VmHWM') ?? 0) * 1024]));
  if (s.child.exited) throw new Error(`${s.name} died during ${w.id}: ${JSON.stringify(s.child.exited)}\n${tailLog(s.child)}`);
  return { ...json, rss_max_bytes: rssMax, vmhwm_bytes: hwm, foreign_cpu_cores: foreign, server_cpu_cores: serverCpu, main_thread_cores: cores, children_cpu_cores: childrenCpu, load_cpu_cores: loadCpu, machine_all_cpu_cores: machineAll, wrk_stdout: stdout };
}

/**
 * analyse turns a wrk summary into req/s, MB/s, the row's value (by w.unit) and warnings; `valid` is
 * false when responses failed or the bytes read do not fit the expected body size (timeouts and
 * foreign CPU only warn).
 */
export function analyse(ctx, w, raw) {
  const secs = raw.duration_us / 1e6;
  const rps = raw.requests / secs;
  const mbs = raw.bytes / secs / 1e6;
  const e = raw.errors;
  const warnings = [];
  if (e.status > 0) warnings.push(`${e.status} responses with status >= 400`);
  if (e.connect + e.read + e.write > 0) warnings.push(`socket errors connect=${e.connect} read=${e.read} write=${e.write}`);
  if (e.timeout > 0) warnings.push(`${e.timeout} timeouts`);
  // Bytes must be consistent with the expected body size: at least
  // requests*body, at most (requests + in-flight)*(body + overhead).
  // Catches servers answering 200-full-file to Range, empty bodies, 3xx, ...
  const lo = raw.requests * w.body;
  const hi = (raw.requests + (w.connections ?? ctx.opts.connections)) * (w.body + PER_RESPONSE_OVERHEAD);
  if (raw.bytes < lo || raw.bytes > hi) warnings.push(`bytes read (${raw.bytes}) inconsistent with ${raw.requests} responses of ${w.body} B`);
  if (raw.foreign_cpu_cores > FOREIGN_CPU_WARN) warnings.push(`other processes used ${raw.foreign_cpu_cores.toFixed(2)} cores during the run (figure skewed)`);
  if (raw.requests === 0 && !w.id.endsWith('256m')) warnings.push('no request completed'); // 256 MiB x 64 connections: hardly any completes
  return { rps, mbs, value: w.unit === 'req/s' ? rps : mbs, warnings, valid: warnings.filter((x) => !x.includes('timeouts') && !x.includes('other processes')).length === 0 };
}

/**
 * measureWrk is one wrk row of a server: the warmup run (ctx.opts.warmup seconds, discarded; none
 * when 0), the measured run (ctx.opts.seconds), analysed. Returns { ...analyse(), raw }.
 */
export async function measureWrk(ctx, s, w) {
  if (ctx.opts.warmup > 0) await runWrk(ctx, s, w, ctx.opts.warmup, '-warmup');
  const raw = await runWrk(ctx, s, w, ctx.opts.seconds, '');
  return { ...analyse(ctx, w, raw), raw };
}

/**
 * runFixedRate runs bench/fixed-rate.mjs (a separate process) against one target at `rate` req/s for
 * `seconds` after `warmup` seconds, expecting w.body bytes per response, or (w.mix set) sending
 * that seeded mix of requests (`seed`, each response checked against its plan); its JSON line is
 * kept in bench/out/wrk/<server>-<workload>.json (<server>-<workload>-r<round>.json for a `round`).
 * With `raw`, the line also has every latency (`raw_ms`, for poolRounds of bench/lib/latency.mjs).
 * Returns it with the sampled figures, warnings and `valid`.
 * @throws {Error} when the client fails or the target died meanwhile.
 */
export async function runFixedRate(ctx, s, w, { rate, seconds, warmup, seed, raw = false, round }) {
  const args = [
    path.join(BENCH, 'fixed-rate.mjs'),
    '--url',
    `http://127.0.0.1:${s.port}${w.mix ? '' : w.path}`,
    '--rate',
    String(rate),
    '--duration',
    String(seconds),
    '--warmup',
    String(warmup),
    '--connections',
    String(FIXED_RATE_CONNECTIONS),
    ...(w.mix ? ['--mix', w.mix, '--seed', String(seed)] : ['--expect-bytes', String(w.body)]),
    '--timeout',
    '10',
    ...(raw ? ['--raw'] : []),
  ];
  const pids = processTree(s.child.proc.pid);
  // A target with a reader (haproxy-reader): the same requests, at the same moments, also sent
  // straight to the reader's server by a second generator at the lowest CPU priority, which reads
  // every answer and compares nothing. Not --raw: only its counts are kept.
  const companion = s.reader ? readerCommand(args, s.reader) : undefined;
  const { code, stdout, stderr, rssMax, foreign, serverCpu, companion: side } = await measureLoad(ctx, pids, process.execPath, args, process.env, companion);
  if (code !== 0) throw new Error(`fixed-rate.mjs exited with ${code} (${s.name}, ${w.id}):\n${stdout}${stderr}`);
  let reader;
  if (side) {
    if (side.code !== 0) throw new Error(`the reader's fixed-rate.mjs exited with ${side.code} (${s.name}, ${w.id}):\n${side.stdout}${side.stderr}`);
    try {
      const j = JSON.parse(side.stdout.trim().split('\n').pop());
      reader = { port: s.reader.port, nice: s.reader.nice, scheduled: j.scheduled, completed: j.completed, failed: j.failed };
    } catch (e) {
      throw new Error(`the reader's fixed-rate.mjs printed no JSON (${s.name}): ${e.message}\n${side.stdout}${side.stderr}`);
    }
  }
  let json;
  try {
    json = JSON.parse(stdout.trim().split('\n').pop());
  } catch (e) {
    throw new Error(`fixed-rate.mjs printed no JSON (${s.name}): ${e.message}\n${stdout}${stderr}`);
  }
  fs.mkdirSync(path.join(OUT, 'wrk'), { recursive: true });
  fs.writeFileSync(path.join(OUT, 'wrk', `${s.name}-${w.id}${round === undefined ? '' : `-r${round}`}.json`), JSON.stringify(json) + '\n');
  if (s.child.exited) throw new Error(`${s.name} died during ${w.id}: ${JSON.stringify(s.child.exited)}\n${tailLog(s.child)}`);
  const warnings = [];
  if (json.failed > 0) warnings.push(`${json.failed} of ${json.scheduled} requests failed (${JSON.stringify(json.errors)}${json.error_samples.length ? '; ' + json.error_samples.join(', ') : ''})`);
  if (json.achieved_rate < rate * 0.95) warnings.push(`achieved ${json.achieved_rate.toFixed(0)} req/s, below ${rate}`);
  if (foreign > FOREIGN_CPU_WARN) warnings.push(`other processes used ${foreign.toFixed(2)} cores during the run (figure skewed)`);
  if (reader?.failed > 0) warnings.push(`the reader's ${reader.failed} of ${reader.scheduled} requests to new failed`);
  return { ...json, rss_max_bytes: rssMax, foreign_cpu_cores: foreign, server_cpu_cores: serverCpu, ...(reader ? { reader } : {}), warnings, valid: json.failed === 0 && !(reader?.failed > 0) };
}
