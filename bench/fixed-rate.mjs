#!/usr/bin/env node
// Open-loop, fixed-rate HTTP load generator (wrk2-style, coordinated omission avoided).
//
//   node bench/fixed-rate.mjs --url http://127.0.0.1:8080/small.json --rate 500 --duration 5 \
//        [--connections 16] [--warmup 1] [--expect-bytes 1238] [--timeout 10]
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

import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

function parseArgs(argv) {
  const o = { connections: 16, warmup: 0, timeout: 10, expectBytes: null };
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
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.url || !o.rate || !o.duration) throw new Error('usage: fixed-rate.mjs --url URL --rate N --duration S [--connections N] [--warmup S] [--expect-bytes N] [--timeout S]');
  return o;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const url = new URL(o.url);
  const pool = new Pool(url.origin, {
    connections: o.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: o.timeout * 1000,
    bodyTimeout: o.timeout * 1000,
  });
  const reqPath = url.pathname + url.search;
  const interval = 1000 / o.rate; // ms
  const warmupN = Math.round(o.warmup * o.rate);
  const totalN = warmupN + Math.round(o.duration * o.rate);
  const measuredN = totalN - warmupN;

  const latency = new Float64Array(measuredN); // ms, from scheduled send to end of body
  const lag = new Float64Array(measuredN); // ms, actual send - scheduled send
  const done = new Uint8Array(measuredN); // 1 ok, 2 error
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
    const finish = (ok, why, n, detail) => {
      inflight--;
      const end = performance.now();
      if (m < 0) return;
      if (end > lastEnd) lastEnd = end;
      latency[m] = end - due;
      done[m] = ok ? 1 : 2;
      bytes += n;
      if (!ok) {
        errors[why]++;
        if (errorSamples.length < 5) errorSamples.push(detail ? `${why}: ${detail}` : why);
      }
    };
    pool.request({ path: reqPath, method: 'GET' }).then(
      async (res) => {
        let n = 0;
        try {
          for await (const chunk of res.body) n += chunk.length;
        } catch (e) {
          return finish(false, 'socket', n, String(e?.code ?? e?.message));
        }
        if (res.statusCode !== 200) return finish(false, 'status', n, String(res.statusCode));
        if (o.expectBytes !== null && n !== o.expectBytes) return finish(false, 'bytes', n, `${n} B`);
        finish(true, null, n);
      },
      (e) => finish(false, 'socket', 0, String(e?.code ?? e?.message)),
    );
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

  const ok = [];
  let failed = 0;
  for (let i = 0; i < measuredN; i++) {
    if (done[i] === 1) ok.push(latency[i]);
    else failed++;
  }
  ok.sort((a, b) => a - b);
  const lags = Array.from(lag).sort((a, b) => a - b);
  const us = (ms) => (ms === null ? null : Math.round(ms * 1000));
  const scheduleEnd = measureStart + measuredN * interval;
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
    achieved_rate: ok.length / ((Math.max(lastEnd, scheduleEnd) - measureStart) / 1000),
    max_inflight: maxInflight,
    latency_us: ok.length
      ? {
          min: us(ok[0]),
          mean: us(ok.reduce((a, b) => a + b, 0) / ok.length),
          p50: us(percentile(ok, 50)),
          p90: us(percentile(ok, 90)),
          p99: us(percentile(ok, 99)),
          p999: us(percentile(ok, 99.9)),
          max: us(ok[ok.length - 1]),
        }
      : null,
    send_lag_us: { p50: us(percentile(lags, 50)), p99: us(percentile(lags, 99)), max: us(lags[lags.length - 1]) },
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`fixed-rate: ${e.message}`);
    process.exit(2);
  },
);
