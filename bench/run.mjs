#!/usr/bin/env node
// Benchmark harness: nginx vs Go net/http (ServeContent) vs cutover on the same
// generated data, driven by wrk. Plain Node ESM, no dependencies.
//
//   npm run bench                # builds cutover, then runs this file
//   BENCH_SECONDS=3 node bench/run.mjs
//
// Env: BENCH_SECONDS (5), BENCH_CONNECTIONS (64), BENCH_WARMUP (1, seconds,
// 0 disables), BENCH_SERVERS (nginx,go,cutover), BENCH_WORKLOADS (all ids,
// comma separated), BENCH_SEED, BENCH_STRICT=1 (exit 1 when a target fails).
// See bench/README.md.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const DATA = path.join(BENCH, 'data');
const WRK_DIR = path.join(BENCH, 'wrk');

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL_SIZE = 1238;
const BIG_SIZE = 256 * MiB;
const RSS_TARGET_BYTES = 200e6; // "200 MB", MB = 10^6 bytes
const RSS_SAMPLE_MS = 100;
// Allowed per-response overhead over the body (status line + headers +
// multipart framing) when checking that the bytes wrk read are plausible.
const PER_RESPONSE_OVERHEAD = 1024;

function envInt(name, def, min = 0) {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || Math.floor(n) !== n) {
    throw new Error(`$${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}
function envList(name, all) {
  const v = process.env[name];
  if (!v) return all;
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const x of list) if (!all.includes(x)) throw new Error(`$${name}: unknown "${x}" (known: ${all.join(', ')})`);
  return list;
}

const SECONDS = envInt('BENCH_SECONDS', 5, 1);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 64, 1);
const WARMUP = envInt('BENCH_WARMUP', 1, 0);
const STRICT = process.env.BENCH_STRICT === '1';

const WORKLOADS = [
  { id: 'small', label: 'small file GET (1,238 B)', unit: 'req/s', path: '/small.json', script: 'get.lua', body: SMALL_SIZE, target: 0.5 },
  { id: '1m', label: '1 MiB GET', unit: 'MB/s', path: '/1m.bin', script: 'get.lua', body: MiB, target: 0.7 },
  { id: '256m', label: '256 MiB GET', unit: 'MB/s', path: '/256m.bin', script: 'get.lua', body: BIG_SIZE, target: 0.7 },
  { id: 'range', label: 'random 1 MiB ranges of 256 MiB', unit: 'MB/s', path: '/256m.bin', script: 'range.lua', body: MiB, env: { BENCH_FILE_SIZE: String(BIG_SIZE), BENCH_SLICE: String(MiB) }, target: 0.7 },
  { id: 'multi', label: '2-range multipart (2x64 KiB)', unit: 'req/s', alsoMBs: true, path: '/256m.bin', script: 'multirange.lua', body: 128 * KiB, env: { BENCH_FILE_SIZE: String(BIG_SIZE), BENCH_SLICE: String(64 * KiB) }, target: 0.7 },
];
const SERVER_NAMES = ['nginx', 'go', 'cutover'];

const selectedWorkloads = envList('BENCH_WORKLOADS', WORKLOADS.map((w) => w.id));
const selectedServers = envList('BENCH_SERVERS', SERVER_NAMES);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error('[bench]', ...a);

// ---------------------------------------------------------------- data

function fileHasSize(p, size) {
  try {
    return fs.statSync(p).size === size;
  } catch {
    return false;
  }
}

function writeAtomically(p, writer) {
  const tmp = `${p}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      writer(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, p);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function makeSmallJson() {
  const doc = {
    name: 'cutover-bench',
    kind: 'manifest',
    version: '1.0.0',
    generated: '2024-06-01T00:00:00.000Z',
    files: Array.from({ length: 6 }, (_, i) => ({
      path: `/releases/v1.${i}.0/cutover-linux-x64.tar.gz`,
      size: 1048576 * (i + 1),
      sha256: crypto.createHash('sha256').update(`file-${i}`).digest('hex'),
    })),
    padding: '',
  };
  const base = Buffer.byteLength(JSON.stringify(doc));
  if (base > SMALL_SIZE) throw new Error(`small.json skeleton too big (${base} B)`);
  doc.padding = 'x'.repeat(SMALL_SIZE - base);
  const buf = Buffer.from(JSON.stringify(doc));
  if (buf.length !== SMALL_SIZE) throw new Error('small.json size mismatch');
  JSON.parse(buf.toString());
  return buf;
}

function ensureData() {
  fs.mkdirSync(DATA, { recursive: true });
  const small = path.join(DATA, 'small.json');
  if (!fileHasSize(small, SMALL_SIZE)) {
    log('generating data/small.json');
    writeAtomically(small, (fd) => fs.writeSync(fd, makeSmallJson()));
  }
  const one = path.join(DATA, '1m.bin');
  if (!fileHasSize(one, MiB)) {
    log('generating data/1m.bin');
    writeAtomically(one, (fd) => fs.writeSync(fd, crypto.randomBytes(MiB)));
  }
  const big = path.join(DATA, '256m.bin');
  if (!fileHasSize(big, BIG_SIZE)) {
    log('generating data/256m.bin (256 MiB random)');
    const chunk = 8 * MiB;
    writeAtomically(big, (fd) => {
      for (let off = 0; off < BIG_SIZE; off += chunk) fs.writeSync(fd, crypto.randomBytes(chunk));
    });
  }
}

// ---------------------------------------------------------------- processes

const children = new Set(); // { name, proc, pids:Set<number> } for cleanup

function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** pid plus all its descendants (scan of /proc; a handful of processes). */
function processTree(rootPid) {
  const parent = new Map();
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const stat = readProc(ent, 'stat');
    if (!stat) continue;
    // comm may contain spaces/parens: fields after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parent.set(Number(ent), Number(rest[1]));
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  }
  return tree.filter((p) => p === rootPid || parent.has(p));
}

function statusKb(pid, field) {
  const s = readProc(pid, 'status');
  if (!s) return null;
  const m = s.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : null;
}

/** Sum of VmRSS (bytes) over the process tree of a server. */
function treeRss(pids) {
  let sum = 0;
  for (const p of pids) sum += (statusKb(p, 'VmRSS') ?? 0) * 1024;
  return sum;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function startServer(name, cmd, args, opts = {}) {
  const logPath = path.join(OUT, `${name}.log`);
  const fd = fs.openSync(logPath, 'w');
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', fd, fd], env: { ...process.env, ...opts.env } });
  fs.closeSync(fd);
  const child = { name, proc, logPath, exited: null, pids: new Set([proc.pid]) };
  proc.on('exit', (code, signal) => {
    child.exited = { code, signal };
  });
  proc.on('error', (e) => {
    child.exited = { error: e };
  });
  children.add(child);
  return child;
}

function tailLog(child, n = 20) {
  try {
    return fs.readFileSync(child.logPath, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitForPort(child, port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exited) {
      throw new Error(`${child.name} exited before listening (${JSON.stringify(child.exited)}):\n${tailLog(child)}`);
    }
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.setTimeout(500, () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${child.name} did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms:\n${tailLog(child)}`);
    await sleep(50);
  }
}

async function stopChild(child) {
  // remember the whole tree first: if the parent dies its children get re-parented
  if (!child.exited) for (const p of processTree(child.proc.pid)) child.pids.add(p);
  for (const p of child.pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {}
  }
  let deadline = Date.now() + 2000;
  while (Date.now() < deadline && [...child.pids].some(isAlive)) await sleep(50);
  // cutover drains downloads for --grace on the first signal; a second one exits at once
  if (isAlive(child.proc.pid)) {
    try {
      process.kill(child.proc.pid, 'SIGTERM');
    } catch {}
    deadline = Date.now() + 1000;
    while (Date.now() < deadline && [...child.pids].some(isAlive)) await sleep(50);
  }
  for (const p of child.pids) {
    if (isAlive(p)) {
      log(`${child.name}: pid ${p} ignored SIGTERM, sending SIGKILL`);
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
    }
  }
  children.delete(child);
}

let shuttingDown = null;
function stopAll() {
  shuttingDown ??= Promise.all([...children].map(stopChild));
  return shuttingDown;
}
// Last resort if we exit without having awaited stopAll (e.g. uncaught error).
process.on('exit', () => {
  for (const c of children) {
    for (const p of c.pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig} received, stopping servers`);
    stopAll().finally(() => process.exit(130));
  });
}

async function freePorts(n) {
  const servers = [];
  const ports = [];
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    await new Promise((res, rej) => s.listen(0, '127.0.0.1', res).once('error', rej));
    servers.push(s);
    ports.push(s.address().port);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---------------------------------------------------------------- servers

function buildGo() {
  const bin = path.join(OUT, 'go-server');
  const env = {
    ...process.env,
    GOCACHE: path.join(OUT, 'go-cache'),
    GOPATH: path.join(OUT, 'gopath'),
    GOFLAGS: '-mod=mod',
    GOPROXY: 'off', // no deps: must build offline
    GO111MODULE: 'on',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
  log('building bench/go-server');
  const r = spawnSync('go', ['build', '-o', bin, '.'], { cwd: path.join(BENCH, 'go-server'), env, encoding: 'utf8' });
  if (r.error) throw new Error(`go build: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`go build failed:\n${r.stdout}${r.stderr}`);
  return bin;
}

function nginxConf(port) {
  const tmp = path.join(OUT, 'nginx-tmp');
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(tmp, d), { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return `# generated by bench/run.mjs -- do not edit
${isRoot ? 'user root;  # workers must be able to read bench/data\n' : ''}worker_processes 1;
daemon off;
master_process on;
pid ${path.join(OUT, 'nginx.pid')};
error_log ${path.join(OUT, 'nginx-error.log')} warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 75s;
    client_body_temp_path ${tmp}/client_body;
    proxy_temp_path ${tmp}/proxy;
    fastcgi_temp_path ${tmp}/fastcgi;
    uwsgi_temp_path ${tmp}/uwsgi;
    scgi_temp_path ${tmp}/scgi;

    types {
        application/json json;
        application/octet-stream bin;
    }
    default_type application/octet-stream;

    server {
        listen 127.0.0.1:${port};
        root ${DATA};
        location / {
        }
    }
}
`;
}

function cutoverCommand() {
  const bin = path.join(ROOT, 'bin', 'cutover');
  if (fs.existsSync(bin)) return { file: bin, rel: 'bin/cutover' };
  const dist = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
  if (fs.existsSync(dist)) return { file: dist, rel: 'dist/src/cli/index.js' };
  return null;
}

async function startServers() {
  const ports = await freePorts(selectedServers.length);
  const servers = [];
  for (const name of selectedServers) {
    const port = ports.shift();
    let child;
    let describe;
    if (name === 'nginx') {
      const confPath = path.join(OUT, 'nginx.conf');
      fs.writeFileSync(confPath, nginxConf(port));
      // -e: early error log (before the config is read) must not go to /var/log
      child = startServer('nginx', 'nginx', ['-p', OUT + '/', '-e', path.join(OUT, 'nginx-error.log'), '-c', confPath]);
      describe = `nginx -c ${path.relative(ROOT, confPath)} (1 worker, sendfile)`;
    } else if (name === 'go') {
      const bin = buildGo();
      child = startServer('go', bin, ['-root', DATA, '-listen', `127.0.0.1:${port}`]);
      describe = `${path.relative(ROOT, bin)} (net/http ServeContent)`;
    } else {
      const cmd = cutoverCommand();
      if (!cmd) {
        log('WARNING: neither bin/cutover nor dist/src/cli/index.js exists; skipping cutover (run `npm run build`)');
        continue;
      }
      child = startServer('cutover', process.execPath, [cmd.file, 'serve', '--root', DATA, '--listen', `127.0.0.1:${port}`]);
      describe = `node ${cmd.rel} serve`;
    }
    servers.push({ name, port, child, describe });
  }
  for (const s of servers) {
    await waitForPort(s.child, s.port);
    log(`${s.name} listening on 127.0.0.1:${s.port} (pid ${s.child.proc.pid}): ${s.describe}`);
  }
  return servers;
}

// ---------------------------------------------------------------- sanity checks

function httpGet(port, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout GET ${urlPath}`)));
    req.on('error', reject);
  });
}

function readSlice(file, start, len) {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(len);
    fs.readSync(fd, b, 0, len, start);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

async function sanityCheck(s) {
  const problems = [];
  const expect = (cond, msg) => {
    if (!cond) problems.push(msg);
  };
  const small = fs.readFileSync(path.join(DATA, 'small.json'));

  const r1 = await httpGet(s.port, '/small.json');
  expect(r1.status === 200, `GET /small.json: status ${r1.status}, expected 200`);
  expect(r1.body.length === SMALL_SIZE, `GET /small.json: ${r1.body.length} bytes, expected ${SMALL_SIZE}`);
  expect(r1.headers['content-length'] === String(SMALL_SIZE), `GET /small.json: Content-Length ${r1.headers['content-length']}`);
  expect(r1.body.equals(small), 'GET /small.json: body differs from the file');

  const r2 = await httpGet(s.port, '/small.json', { Range: 'bytes=0-9' });
  expect(r2.status === 206, `Range bytes=0-9: status ${r2.status}, expected 206`);
  expect(r2.body.length === 10 && r2.body.equals(small.subarray(0, 10)), `Range bytes=0-9: got ${r2.body.length} bytes / wrong content`);
  expect(r2.headers['content-range'] === `bytes 0-9/${SMALL_SIZE}`, `Range bytes=0-9: Content-Range ${r2.headers['content-range']}`);

  // Same shapes of request as the range workloads, checked once for content.
  const big = path.join(DATA, '256m.bin');
  const a = 123_456_789;
  const r3 = await httpGet(s.port, '/256m.bin', { Range: `bytes=${a}-${a + MiB - 1}` });
  expect(r3.status === 206, `1 MiB range of 256m.bin: status ${r3.status}, expected 206`);
  expect(r3.body.equals(readSlice(big, a, MiB)), `1 MiB range of 256m.bin: ${r3.body.length} bytes / wrong content`);

  const [p, q] = [1_000_003, 200_000_001];
  const r4 = await httpGet(s.port, '/256m.bin', { Range: `bytes=${p}-${p + 64 * KiB - 1},${q}-${q + 64 * KiB - 1}` });
  expect(r4.status === 206, `2-range request: status ${r4.status}, expected 206`);
  expect(/^multipart\/byteranges/i.test(r4.headers['content-type'] ?? ''), `2-range request: Content-Type ${r4.headers['content-type']}`);
  const i1 = r4.body.indexOf(readSlice(big, p, 64 * KiB));
  const i2 = r4.body.indexOf(readSlice(big, q, 64 * KiB));
  expect(i1 >= 0 && i2 > i1, '2-range request: parts missing or out of order in the multipart body');
  expect(r4.body.length < 128 * KiB + PER_RESPONSE_OVERHEAD, `2-range request: body ${r4.body.length} bytes, too large`);

  if (problems.length) {
    throw new Error(`sanity check FAILED for ${s.name} (127.0.0.1:${s.port}):\n  - ${problems.join('\n  - ')}\n--- ${s.child.logPath}:\n${tailLog(s.child)}`);
  }
  log(`${s.name}: sanity OK (200 small.json ${SMALL_SIZE} B, 206 bytes=0-9, 206 1 MiB range, 206 multipart 2 ranges)`);
}

// ---------------------------------------------------------------- wrk

let currentWrk = null;
process.on('exit', () => {
  if (currentWrk) {
    try {
      currentWrk.kill('SIGKILL');
    } catch {}
  }
});

async function runWrk(s, w, seconds, tag) {
  const outFile = path.join(OUT, 'wrk', `${s.name}-${w.id}${tag}.json`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.rmSync(outFile, { force: true });
  const args = [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--latency',
    '--timeout',
    '60s', // a 256 MiB response over 64 connections takes seconds; wrk's default 2s would count it as timeout
    '-s',
    path.join(WRK_DIR, w.script),
    `http://127.0.0.1:${s.port}${w.path}`,
  ];
  const pids = processTree(s.child.proc.pid);
  let rssMax = treeRss(pids);
  const sampler = setInterval(() => {
    const r = treeRss(pids);
    if (r > rssMax) rssMax = r;
  }, RSS_SAMPLE_MS);
  let stdout = '';
  let stderr = '';
  const code = await new Promise((resolve, reject) => {
    const p = spawn('wrk', args, { cwd: ROOT, env: { ...process.env, ...w.env, BENCH_WRK_OUT: outFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    currentWrk = p;
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('exit', (c, sig) => resolve(sig ?? c));
  }).finally(() => {
    currentWrk = null;
    clearInterval(sampler);
  });
  const r = treeRss(pids);
  if (r > rssMax) rssMax = r;
  if (code !== 0) throw new Error(`wrk exited with ${code} (${s.name}, ${w.id}):\n${stdout}${stderr}`);
  let json;
  try {
    json = JSON.parse(fs.readFileSync(outFile, 'utf8'));
  } catch (e) {
    throw new Error(`wrk produced no JSON summary (${s.name}, ${w.id}): ${e.message}\n${stdout}${stderr}`);
  }
  const hwm = Object.fromEntries(pids.map((p) => [p, (statusKb(p, 'VmHWM') ?? 0) * 1024]));
  if (s.child.exited) throw new Error(`${s.name} died during ${w.id}: ${JSON.stringify(s.child.exited)}\n${tailLog(s.child)}`);
  return { ...json, rss_max_bytes: rssMax, vmhwm_bytes: hwm, wrk_stdout: stdout };
}

function analyse(w, raw) {
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
  const hi = (raw.requests + CONNECTIONS) * (w.body + PER_RESPONSE_OVERHEAD);
  if (raw.bytes < lo || raw.bytes > hi) warnings.push(`bytes read (${raw.bytes}) inconsistent with ${raw.requests} responses of ${w.body} B`);
  if (raw.requests === 0 && w.id !== '256m') warnings.push('no request completed');
  return { rps, mbs, value: w.unit === 'req/s' ? rps : mbs, warnings, valid: warnings.filter((x) => !x.includes('timeouts')).length === 0 };
}

// ---------------------------------------------------------------- report

const fmt = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const fmtMB = (b) => (b === undefined || b === null ? 'n/a' : `${(b / 1e6).toFixed(1)} MB`);
const fmtMs = (us) => (us === undefined || us === null ? 'n/a' : `${(us / 1000).toFixed(2)} ms`);

function table(rows, align) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => '| ' + r.map((c, i) => (align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((wd, i) => (align[i] === 'r' ? '-'.repeat(wd + 1) + ':' : '-'.repeat(wd + 2))).join('|') + '|';
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

function ratio(results, w, a, b) {
  const x = results[w.id]?.[a];
  const y = results[w.id]?.[b];
  if (!x || !y || !y.value) return null;
  return x.value / y.value;
}

function report(servers, results, meta) {
  const names = SERVER_NAMES.filter((n) => servers.some((s) => s.name === n));
  const has = (n) => names.includes(n);
  const verdicts = [];
  const rows = [['workload', 'unit', ...names, 'cutover/go', 'cutover/nginx', 'target (cutover/go)']];
  for (const w of WORKLOADS.filter((x) => selectedWorkloads.includes(x.id))) {
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
  out.push(`Results (${meta.date}; wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, warmup ${WARMUP}s; ${meta.cpus} CPUs; MB = 10^6 bytes)`);
  out.push(table(rows, ['l', 'l', ...names.map(() => 'r'), 'r', 'r', 'l']));
  out.push('(!) = errors or implausible byte counts in that run, see warnings; such a row is not a valid measurement.');

  // Details: latency, errors, RSS.
  const drows = [['workload', 'server', 'requests', 'req/s', 'MB/s', 'p50', 'p99', 'errors (status/sock/timeout)', 'peak RSS (sampled)']];
  for (const w of WORKLOADS.filter((x) => selectedWorkloads.includes(x.id))) {
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
    out.push(`cutover peak RSS during 256 MiB GET x${CONNECTIONS} connections: ${fmtMB(rss)} (target < 200 MB) ${v}`);
    const cmp = names.filter((n) => n !== 'cutover').map((n) => `${n} ${fmtMB(results['256m'][n]?.raw.rss_max_bytes)}`);
    if (cmp.length) out.push(`  for comparison: ${cmp.join(', ')}`);
  } else if (!has('cutover')) {
    out.push('');
    out.push('cutover was not run: no ratios, no RSS verdict.');
  }
  const warns = [];
  for (const w of WORKLOADS) for (const n of names) for (const x of results[w.id]?.[n]?.warnings ?? []) warns.push(`WARNING ${n} ${w.id}: ${x}`);
  if (warns.length) out.push('', ...warns);
  if (verdicts.length) {
    const failed = verdicts.filter((v) => v.verdict !== 'PASS');
    out.push('', failed.length ? `Targets: ${failed.length} of ${verdicts.length} not met: ${failed.map((v) => v.what).join('; ')}` : `Targets: all ${verdicts.length} met`);
  }
  console.log(out.join('\n'));
  return verdicts;
}

// ---------------------------------------------------------------- main

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const tool of ['wrk', 'nginx', 'go']) {
    if (tool === 'nginx' && !selectedServers.includes('nginx')) continue;
    if (tool === 'go' && !selectedServers.includes('go')) continue;
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${tool} not found in PATH`);
  }
  const t0 = Date.now();
  ensureData();
  const servers = await startServers();
  for (const s of servers) await sanityCheck(s);

  const results = {};
  for (const w of WORKLOADS.filter((x) => selectedWorkloads.includes(x.id))) {
    results[w.id] = {};
    for (const s of servers) {
      if (WARMUP > 0) await runWrk(s, w, WARMUP, '-warmup');
      const raw = await runWrk(s, w, SECONDS, '');
      const a = analyse(w, raw);
      results[w.id][s.name] = { ...a, raw };
      log(`${w.id.padEnd(5)} ${s.name.padEnd(7)} ${fmt(a.rps).padStart(9)} req/s ${fmt(a.mbs).padStart(7)} MB/s  rss ${fmtMB(raw.rss_max_bytes)}${a.warnings.length ? '  WARN: ' + a.warnings.join('; ') : ''}`);
      await sleep(300); // let the server settle (aborted in-flight responses)
    }
  }

  const meta = { date: new Date().toISOString(), cpus: (await import('node:os')).cpus().length, node: process.version };
  const verdicts = report(servers, results, meta);
  const json = {
    meta: { ...meta, seconds: SECONDS, connections: CONNECTIONS, warmup: WARMUP, mb: 1e6, elapsed_s: (Date.now() - t0) / 1000 },
    servers: servers.map((s) => ({ name: s.name, port: s.port, command: s.describe })),
    workloads: WORKLOADS.filter((x) => selectedWorkloads.includes(x.id)).map((w) => ({
      id: w.id,
      label: w.label,
      unit: w.unit,
      target_cutover_over_go: w.target,
      results: Object.fromEntries(
        Object.entries(results[w.id]).map(([n, r]) => {
          const { wrk_stdout, ...raw } = r.raw;
          return [n, { req_per_s: r.rps, mb_per_s: r.mbs, value: r.value, valid: r.valid, warnings: r.warnings, ...raw }];
        }),
      ),
    })),
    verdicts,
  };
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  log(`wrote ${path.relative(ROOT, path.join(OUT, 'results.json'))} (${json.meta.elapsed_s.toFixed(0)} s)`);
  return verdicts;
}

let exitCode = 0;
try {
  const verdicts = await main();
  if (STRICT && verdicts.some((v) => v.verdict !== 'PASS')) exitCode = 1;
} catch (e) {
  console.error(`\n[bench] ERROR: ${e.message}`);
  exitCode = 1;
} finally {
  await stopAll();
}
process.exit(exitCode);
