#!/usr/bin/env node
// Open-loop, fixed-rate HTTP load generator (wrk2-style, coordinated omission avoided).
//
//   node bench/fixed-rate.mjs --url http://127.0.0.1:8080/small.json --rate 500 --duration 5 \
//        [--connections 16] [--warmup 1] [--expect-bytes 1238] [--timeout 10]
//   node bench/fixed-rate.mjs --url http://127.0.0.1:8080 --mix mirror-mixed --seed 20240601 --rate 200 --duration 5
//
// Request k (k = 0, 1, ...) is due at t0 + k/rate, whether or not earlier answers have arrived: a
// timer fires, every request whose due time has passed is handed to an undici Pool of
// --connections keep-alive connections (the Pool queues when all connections are busy). Latency is
// measured from the SCHEDULED send time to the end of the body, so a stall of the server (or of this
// process) shows up in the latency of every request that should have been sent during it instead of
// silently lowering the rate (coordinated omission). The warmup part is sent on the same timetable
// and not recorded.
//
// Prints ONE JSON line on stdout: scheduled/completed/error counts, latency percentiles (us), the
// achieved rate and the generator's own send lag (actual send - scheduled send; its own timer
// granularity, included in every latency figure alike). Exit 0 unless the arguments are bad.
//
// --mix mirror-mixed: instead of GET --url's path every time, request k is the k-th of the seeded
// plan of bench/lib/mix.mjs (small file, 1 MiB, 64 MiB, single and two-range requests of 1m.bin;
// warmup and measured part planned separately, the measured one from --seed). The classes are
// received by different threads, as by different clients: the small file by this one, the 1 MiB and
// range requests by a second and the 64 MiB ones by a third, each thread with a pool of
// --connections of its own (a request for another thread is handed over when it is due; its
// latency includes that hand-over, tens of microseconds). A thread busy reading a 64 MiB body reads
// nothing else meanwhile, so on one thread the small file's latency measured this generator's own
// stall as much as the server's. Every response must
// have the planned status (200 or 206) and byte count (a two-range answer: every part's
// Content-Range and length), and the JSON line also has `classes`: the same figures per size class
// (small, 1m, 64m, range), plus the MB/s received, and `small_clear`: the small requests that
// neither started nor ended while a 64 MiB download was under way (the small file's latency with
// nothing large moving; compared with the whole small class, it shows what the large downloads cost).
//
// --pace BYTES_PER_S [--pace-after BYTES]: every body is read no faster than that past its first
// BYTES (0 unless given), the way cutover mirror reads a shadow's body (--shadow-rate): for a reader
// of new that stands for a mirror's shadows, never for a measured target.
//
// --raw: the JSON line also has `raw_ms`: every measured latency (ms), of the whole run and of each
// class, so that several runs can be pooled into one percentile (bench/lib/latency.mjs).
//
// --dump FILE: also writes one tab-separated line per measured request (index, class, scheduled
// send and end in ms from the first measured send, latency in ms, 1 if ok), after a `#` line giving
// that first send in ms since the epoch: to line the slow requests up with what else was happening.

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Pool } from 'undici';
// --pace reads as cutover mirror does, with its own pacer: the build's (npm run build).
import { systemClock } from '../dist/src/core/clock.js';
import { ReadPacer } from '../dist/src/audit/read-pacer.js';
import { latencyOf, percentile, us } from './lib/latency.mjs';
import { checkMultipart, clearOf, MIX_CLASSES, mixedPlan } from './lib/mix.mjs';

function parseArgs(argv) {
  const o = { connections: 16, warmup: 0, timeout: 10, expectBytes: null, mix: null, seed: 20240601 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const num = () => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${a}: bad number ${JSON.stringify(v)}`);
      i++;
      return n;
    };
    if (a === '--url') (o.url = v), i++;
    else if (a === '--rate') o.rate = num();
    else if (a === '--duration') o.duration = num();
    else if (a === '--connections') o.connections = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--timeout') o.timeout = num();
    else if (a === '--expect-bytes') o.expectBytes = num();
    else if (a === '--mix') {
      if (v !== 'mirror-mixed') throw new Error(`--mix: unknown mix ${JSON.stringify(v)} (known: mirror-mixed)`);
      (o.mix = v), i++;
    } else if (a === '--seed') o.seed = num();
    else if (a === '--dump') (o.dump = v), i++;
    else if (a === '--raw') o.raw = true;
    else if (a === '--pace') o.pace = num();
    else if (a === '--pace-after') o.paceAfter = num();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.url || !o.rate || !o.duration) throw new Error('usage: fixed-rate.mjs --url URL --rate N --duration S [--connections N] [--warmup S] [--expect-bytes N] [--timeout S] [--mix mirror-mixed --seed N] [--dump FILE] [--raw] [--pace BYTES_PER_S [--pace-after BYTES]]');
  if (o.paceAfter !== undefined && !o.pace) throw new Error('--pace-after needs --pace');
  return o;
}

/**
 * exchange sends request `q` of the plan through `pool` and reads its whole answer, checking its
 * status, byte count and (two ranges) its parts: { ok, why, n, detail, end }, `end` the end of the
 * body or of the failure in ms since the epoch (so that another thread's answer is timed alike).
 */
async function exchange(pool, q, pace) {
  const done = (ok, why, n, detail) => ({ ok, why, n, detail, end: performance.timeOrigin + performance.now() });
  let res;
  try {
    res = await pool.request({ path: q.path, method: 'GET', headers: q.range ? { range: q.range } : undefined });
  } catch (e) {
    return done(false, 'socket', 0, String(e?.code ?? e?.message));
  }
  let n = 0;
  const parts = q.ranges?.length > 1 ? [] : null; // a multipart answer is kept (2 x <= 256 KiB) to check its parts
  try {
    // --pace: past its first --pace-after bytes, the body is read no faster than --pace bytes a second
    // by cutover mirror's own ReadPacer, as it reads a shadow's body. The wait comes between two
    // reads: the socket's buffer fills and the server is held back, as by any slow reader.
    const pacer = pace ? new ReadPacer({ afterBytes: pace.after, bytesPerSecond: pace.bytesPerSecond }, systemClock) : null;
    for await (const chunk of res.body) {
      n += chunk.length;
      if (parts) parts.push(chunk);
      const wait = pacer?.gate(n);
      if (wait) await wait;
    }
  } catch (e) {
    return done(false, 'socket', n, String(e?.code ?? e?.message));
  }
  const what = q.range ? `${q.path} ${q.range}` : q.path;
  if (res.statusCode !== q.status) return done(false, 'status', n, `${res.statusCode} for ${what}`);
  if (q.bytes !== null && n !== q.bytes) return done(false, 'bytes', n, `${n} B for ${what}, expected ${q.bytes}`);
  if (parts) {
    const bad = checkMultipart(res.headers['content-type'], Buffer.concat(parts), q.ranges);
    if (bad) return done(false, 'bytes', n, `${what}: ${bad}`);
  }
  return done(true, null, n);
}

/** paceOf is --pace and --pace-after as exchange() takes them, or undefined without --pace. */
function paceOf(o) {
  return o.pace ? { bytesPerSecond: o.pace, after: o.paceAfter ?? 0 } : undefined;
}

/** newPool is the keep-alive connection pool each thread sends its requests through. */
function newPool(origin, o) {
  return new Pool(origin, {
    connections: o.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: o.timeout * 1000,
    bodyTimeout: o.timeout * 1000,
  });
}

/**
 * receiverThread is the body of a receiving thread (--mix): it sends every request posted to it
 * through its own pool as soon as it comes, and posts back exchange()'s result with its `k`.
 */
function receiverThread() {
  const pool = newPool(workerData.origin, workerData);
  parentPort.on('message', (m) => {
    if (m === 'close') {
      pool.destroy().catch(() => {}).finally(() => parentPort.close());
      return;
    }
    exchange(pool, m.q, workerData.pace).then((r) => parentPort.postMessage({ k: m.k, ...r }));
  });
}

/**
 * Receiver is a receiving thread as the scheduler sees it: send(q) hands it a request and resolves
 * with exchange()'s result; close() lets its pool go and ends it.
 */
class Receiver {
  #worker;
  #waiting = new Map();
  #next = 0;
  #exited = false;

  constructor(origin, o) {
    this.#worker = new Worker(new URL(import.meta.url), { workerData: { origin, connections: o.connections, timeout: o.timeout, pace: paceOf(o) } });
    this.#worker.on('message', (r) => {
      const resolve = this.#waiting.get(r.k);
      this.#waiting.delete(r.k);
      resolve?.(r);
    });
    // A thread that dies fails what it had, rather than leaving the run waiting for its timeout.
    this.#worker.on('error', (e) => this.#failAll(String(e?.message ?? e)));
    this.#worker.on('exit', () => {
      this.#exited = true;
      this.#failAll('receiving thread exited');
    });
  }

  send(q) {
    if (this.#exited) return Promise.resolve({ ok: false, why: 'socket', n: 0, detail: 'receiving thread exited', end: performance.timeOrigin + performance.now() });
    const k = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(k, resolve);
      this.#worker.postMessage({ k, q });
    });
  }

  #failAll(detail) {
    for (const resolve of this.#waiting.values()) resolve({ ok: false, why: 'socket', n: 0, detail, end: performance.timeOrigin + performance.now() });
    this.#waiting.clear();
  }

  async close() {
    if (this.#exited) return;
    const exited = new Promise((resolve) => this.#worker.once('exit', resolve));
    this.#worker.postMessage('close');
    await exited;
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const url = new URL(o.url);
  const pool = newPool(url.origin, o);
  // --mix: the small file is sent and received by this thread alone; the larger classes by two
  // threads of their own (1 MiB and ranges; 64 MiB), each with its own pool, as separate clients
  // would. On one thread, reading a 64 MiB body held up the reading of every small answer behind it:
  // straight to old, the small file's p99 was 9.7 ms that way and 3.2-3.7 ms with the 64 MiB
  // answers on a thread of their own (by hand, two runs each), a stall of this process that every
  // target shared.
  const receivers = o.mix ? { mid: new Receiver(url.origin, o), large: new Receiver(url.origin, o) } : null;
  const threadOf = (cls) => (cls === 'small' ? null : cls === '64m' ? receivers.large : receivers.mid);
  const reqPath = url.pathname + url.search;
  const interval = 1000 / o.rate; // ms
  const warmupN = Math.round(o.warmup * o.rate);
  const totalN = warmupN + Math.round(o.duration * o.rate);
  const measuredN = totalN - warmupN;
  // What request k sends and expects. Without --mix: GET the URL's path, 200, --expect-bytes.
  const single = { cls: 'all', path: reqPath, status: 200, bytes: o.expectBytes };
  const warmPlan = o.mix ? mixedPlan(o.seed + 1, warmupN) : null;
  const plan = o.mix ? mixedPlan(o.seed, measuredN) : null;
  const planned = (k) => (!o.mix ? single : k < warmupN ? warmPlan[k] : plan[k - warmupN]);

  const latency = new Float64Array(measuredN); // ms, from scheduled send to end of body
  const lag = new Float64Array(measuredN); // ms, actual send - scheduled send
  const done = new Uint8Array(measuredN); // 1 ok, 2 error
  const sizes = new Float64Array(measuredN); // bytes received
  const dueAt = new Float64Array(measuredN); // ms, scheduled send time
  const endAt = new Float64Array(measuredN); // ms, end of the body (or of the failure)
  const errors = { status: 0, bytes: 0, socket: 0 };
  const errorSamples = [];
  let bytes = 0;
  let inflight = 0;
  let maxInflight = 0;

  const t0 = performance.now() + 20; // first request a little in the future
  let next = 0;
  let measureStart = null;
  let lastEnd = 0;

  const fire = (k, due) => {
    const sent = performance.now();
    const m = k - warmupN; // index among measured requests, < 0 during warmup
    if (m === 0) measureStart = due;
    if (m >= 0) lag[m] = sent - due;
    inflight++;
    if (inflight > maxInflight) maxInflight = inflight;
    const finish = (ok, why, n, detail, end) => {
      inflight--;
      if (m < 0) return;
      if (end > lastEnd) lastEnd = end;
      latency[m] = end - due;
      dueAt[m] = due;
      endAt[m] = end;
      done[m] = ok ? 1 : 2;
      sizes[m] = n;
      bytes += n;
      if (!ok) {
        errors[why]++;
        if (errorSamples.length < 5) errorSamples.push(detail ? `${why}: ${detail}` : why);
      }
    };
    const q = planned(k);
    const thread = o.mix ? threadOf(q.cls) : null;
    const answer = thread ? thread.send(q) : exchange(pool, q, paceOf(o));
    answer.then((r) => finish(r.ok, r.why, r.n, r.detail, r.end - performance.timeOrigin));
  };

  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < totalN && t0 + next * interval <= now) {
        fire(next, t0 + next * interval);
        next++;
      }
      if (next >= totalN) return resolve();
      setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });

  // Let the last answers arrive (bounded by the timeouts given to undici).
  const deadline = performance.now() + o.timeout * 1000 + 1000;
  while (inflight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const unfinished = inflight;
  await pool.destroy().catch(() => {});
  if (receivers) await Promise.all([receivers.mid.close(), receivers.large.close()]);

  const ok = [];
  let failed = 0;
  for (let i = 0; i < measuredN; i++) {
    if (done[i] === 1) ok.push(latency[i]);
    else failed++;
  }
  ok.sort((a, b) => a - b);
  const lags = Array.from(lag).sort((a, b) => a - b);
  const scheduleEnd = measureStart + measuredN * interval;
  const elapsedS = (Math.max(lastEnd, scheduleEnd) - measureStart) / 1000;
  // --raw: every latency (ms, to the microsecond), whole run and per class, for pooling runs.
  const raw = o.raw ? { all: ok } : null;
  let classes;
  if (o.mix) {
    classes = {};
    for (const c of MIX_CLASSES) {
      const lat = [];
      let scheduled = 0;
      let failedC = 0;
      let bytesC = 0;
      for (let i = 0; i < measuredN; i++) {
        if (plan[i].cls !== c) continue;
        scheduled++;
        bytesC += sizes[i];
        if (done[i] === 1) lat.push(latency[i]);
        else failedC++;
      }
      lat.sort((a, b) => a - b);
      classes[c] = { scheduled, completed: lat.length, failed: failedC, bytes: bytesC, latency_us: latencyOf(lat) };
      if (raw) raw[c] = lat;
    }
    // The small requests whose whole life [scheduled send, end of body] fell outside every 64 MiB
    // download's: what the small file costs when nothing large is moving through the same machine.
    const clearIdx = clearOf(plan, dueAt, endAt, done);
    const clear = clearIdx.filter((i) => done[i] === 1).map((i) => latency[i]);
    const scheduledClear = clearIdx.length;
    clear.sort((a, b) => a - b);
    classes.small_clear = { scheduled: scheduledClear, completed: clear.length, failed: scheduledClear - clear.length, bytes: null, latency_us: latencyOf(clear) };
    if (raw) raw.small_clear = clear;
  }
  const out = {
    url: o.url,
    rate: o.rate,
    duration_s: o.duration,
    warmup_s: o.warmup,
    connections: o.connections,
    scheduled: measuredN,
    completed: ok.length,
    failed,
    unfinished,
    errors,
    error_samples: errorSamples,
    bytes,
    achieved_rate: ok.length / elapsedS,
    mb_per_s: bytes / elapsedS / 1e6,
    max_inflight: maxInflight,
    latency_us: latencyOf(ok),
    ...(o.mix ? { mix: o.mix, seed: o.seed, classes } : {}),
    send_lag_us: { p50: us(percentile(lags, 50)), p99: us(percentile(lags, 99)), max: us(lags[lags.length - 1]) },
    ...(raw ? { raw_ms: Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Array.from(v, (x) => Math.round(x * 1000) / 1000)])) } : {}),
  };
  if (o.dump) {
    // One line per measured request: index, class, scheduled send and end (ms from the first
    // measured send), latency (ms), ok: to see when the slow ones happened, not only how slow.
    const lines = [];
    for (let i = 0; i < measuredN; i++) {
      lines.push([i, plan ? plan[i].cls : 'get', (dueAt[i] - measureStart).toFixed(3), (endAt[i] - measureStart).toFixed(3), latency[i].toFixed(3), done[i] === 1 ? 1 : 0].join('\t'));
    }
    writeFileSync(o.dump, `# first measured send at ${(performance.timeOrigin + measureStart).toFixed(3)} ms since the epoch\n` + lines.join('\n') + '\n');
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

if (!isMainThread) receiverThread();
else {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(`fixed-rate: ${e.message}`);
      process.exit(2);
    },
  );
}
