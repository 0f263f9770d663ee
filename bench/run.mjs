#!/usr/bin/env node
// Benchmark harness: nginx vs Go net/http (ServeContent) vs cutover on the same
// generated data, driven by wrk. Plain Node ESM, no dependencies.
//
//   npm run bench                # builds cutover, then runs this file
//   BENCH_SECONDS=3 node bench/run.mjs
//
// Env: BENCH_SECONDS (5), BENCH_CONNECTIONS (64), BENCH_WARMUP (1, seconds,
// 0 disables), BENCH_SERVERS (nginx,go,cutover), BENCH_WORKLOADS (all ids,
// comma separated; `mirror` = every mirror-* id, `replay` = every replay-* id),
// BENCH_SEED, BENCH_STRICT=1
// (exit 1 when a target fails), BENCH_MIRROR_RATE (500), BENCH_MIRROR_WARMUP (5), BENCH_MIRROR_OUT=1, BENCH_MIRROR_ARGS,
// BENCH_REPLAY_CONCURRENCY (16), BENCH_REPLAY_SMALL_RECORDS (30000),
// BENCH_REPLAY_BIG_CONCURRENCY (4), BENCH_REPLAY_BIG_RECORDS (16),
// BENCH_SLOW_READERS (1000), BENCH_SLOW_HOLD (10, seconds), BENCH_CUTOVER (bin/cutover: the
// launcher to measure, e.g. another build, for before/after figures), BENCH_NODE_ARGS (extra node
// flags for cutover serve, e.g. --max-semi-space-size=2).
// `BENCH_WORKLOADS=memory BENCH_SERVERS=nginx,cutover` runs only the memory rows (idle, slow-readers,
// and 1m / 256m for RSS under load next to nginx).
// See bench/README.md.
//
// The mirror-* workloads put two proxies in front of old = the nginx server and
// new = the cutover serve server: a second nginx configured as proxy_pass +
// mirror (the anchor, compares nothing) and `cutover mirror` (compares every
// request); see runMirrorPart().
//
// The replay-* workloads run `cutover replay` on generated access logs against
// the same old and new; see runReplayPart().

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
const MIRROR_RSS_TARGET_BYTES = 250e6;
const MIRROR_P50_TARGET_US = 1000; // cutover mirror p50 - straight-to-old p50
const MIRROR_P99_TARGET_US = 5000;
const MIRROR_RULES = 'fixtures/rules/nginx-vs-cutover.yaml';
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
function envList(name, all, aliases = {}) {
  const v = process.env[name];
  if (!v) return all;
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((x) => aliases[x] ?? [x]);
  for (const x of list) if (!all.includes(x)) throw new Error(`$${name}: unknown "${x}" (known: ${[...all, ...Object.keys(aliases)].join(', ')})`);
  return list;
}

const SECONDS = envInt('BENCH_SECONDS', 5, 1);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 64, 1);
const WARMUP = envInt('BENCH_WARMUP', 1, 0);
// The fixed-rate latency row measures the steady state of a proxy that runs for hours: a fresh
// Node process is still compiling its hot paths for several seconds (p99 through cutover mirror
// over the 5 s after 1 s of warmup: 5.8-7.6 ms; after 5 s: 3.2-4.6 ms; on a process warm for a
// minute: 1.9-2.5 ms). Every target of that row (old, nginx-mirror, cutover-mirror) gets the same.
const MIRROR_LATENCY_WARMUP = envInt('BENCH_MIRROR_WARMUP', 5, 0);
const STRICT = process.env.BENCH_STRICT === '1';

const WORKLOADS = [
  { id: 'small', label: 'small file GET (1,238 B)', unit: 'req/s', path: '/small.json', script: 'get.lua', body: SMALL_SIZE, target: 0.5 },
  { id: '1m', label: '1 MiB GET', unit: 'MB/s', path: '/1m.bin', script: 'get.lua', body: MiB, target: 0.7 },
  { id: '256m', label: '256 MiB GET', unit: 'MB/s', path: '/256m.bin', script: 'get.lua', body: BIG_SIZE, target: 0.7 },
  { id: 'range', label: 'random 1 MiB ranges of 256 MiB', unit: 'MB/s', path: '/256m.bin', script: 'range.lua', body: MiB, env: { BENCH_FILE_SIZE: String(BIG_SIZE), BENCH_SLICE: String(MiB) }, target: 0.7 },
  { id: 'multi', label: '2-range multipart (2x64 KiB)', unit: 'req/s', alsoMBs: true, path: '/256m.bin', script: 'multirange.lua', body: 128 * KiB, env: { BENCH_FILE_SIZE: String(BIG_SIZE), BENCH_SLICE: String(64 * KiB) }, target: 0.7 },
];
const SERVER_NAMES = ['nginx', 'go', 'cutover'];

// Mirror workloads: old = the nginx server, new = the cutover serve server, each
// load sent through the nginx mirror proxy and through cutover mirror (and, for
// the fixed-rate latency, straight to old too). Targets are cutover-mirror /
// nginx-mirror.
const MIRROR_RATE = envInt('BENCH_MIRROR_RATE', 500, 1);
const MIRROR_RATE_CONNECTIONS = 16; // undici Pool connections of bench/fixed-rate.mjs
const MIRROR_OUT = process.env.BENCH_MIRROR_OUT === '1';
// Extra flags for cutover mirror, e.g. `--shed-above 1` to measure what comparing everything costs.
const MIRROR_ARGS = (process.env.BENCH_MIRROR_ARGS ?? '').split(/\s+/).filter(Boolean);
const MIRROR_WORKLOADS = [
  { id: 'mirror-latency', label: `fixed ${MIRROR_RATE} req/s GET /small.json`, kind: 'rate', path: '/small.json', body: SMALL_SIZE },
  { id: 'mirror-small', label: 'small file GET via proxy (1,238 B)', unit: 'req/s', path: '/small.json', script: 'get.lua', body: SMALL_SIZE, target: 0.5 },
  { id: 'mirror-1m', label: '1 MiB GET via proxy', unit: 'MB/s', path: '/1m.bin', script: 'get.lua', body: MiB, target: 0.7 },
  { id: 'mirror-256m', label: '256 MiB GET via proxy', unit: 'MB/s', path: '/256m.bin', script: 'get.lua', body: BIG_SIZE, target: 0.7 },
];

// Replay workloads (issue 5): `cutover replay` on generated nginx combined logs, old = the nginx
// server, new = the cutover serve server, --rules MIRROR_RULES, --speed asap. Every log line is
// exactly REPLAY_LINE bytes, so a log's size tells whether the cached file is the right one.
const REPLAY_LINE = 100;
const REPLAY_CONCURRENCY = envInt('BENCH_REPLAY_CONCURRENCY', 16, 1);
const REPLAY_BIG_CONCURRENCY = envInt('BENCH_REPLAY_BIG_CONCURRENCY', 4, 1);
const REPLAY_SMALL_RECORDS = envInt('BENCH_REPLAY_SMALL_RECORDS', 30_000, 1);
const REPLAY_BIG_RECORDS = envInt('BENCH_REPLAY_BIG_RECORDS', 16, 1);
const REPLAY_RSS_LINES = 10_000_000; // x 100 B = 10^9 B, the "1 GB log"
const REPLAY_RSS_EVERY = 5_000; // one line in 5,000 is GET /small.json (replayed), the rest are filtered out
const REPLAY_RSS_TARGET_BYTES = 200e6;
const REPLAY_MB_TARGET = 1000; // MB/s of compared body bytes, MB = 10^6 bytes
const REPLAY_WORKLOADS = [
  { id: 'replay-small', label: 'replay GET /small.json (1,238 B)', unit: 'req/s', log: 'replay-small.log', lines: REPLAY_SMALL_RECORDS, path: '/small.json', body: SMALL_SIZE, concurrency: REPLAY_CONCURRENCY },
  { id: 'replay-256m', label: 'replay GET /256m.bin, compared body bytes', unit: 'MB/s', log: 'replay-256m.log', lines: REPLAY_BIG_RECORDS, path: '/256m.bin', body: BIG_SIZE, concurrency: REPLAY_BIG_CONCURRENCY },
  { id: 'replay-rss', label: 'replay peak RSS, 1 GB log', unit: 'MB', log: 'replay-1g.log', lines: REPLAY_RSS_LINES, every: REPLAY_RSS_EVERY, path: '/small.json', body: SMALL_SIZE, concurrency: REPLAY_CONCURRENCY },
];

// Memory rows of cutover serve: idle RSS next to bare Node, and peak RSS with many slow readers of
// a large file, then RSS once they have all gone; see runMemoryPart().
const SLOW_READERS = envInt('BENCH_SLOW_READERS', 1000, 1);
const SLOW_HOLD_S = envInt('BENCH_SLOW_HOLD', 10, 1);
const SLOW_AFTER_S = 10; // row (b): RSS this long after the last slow reader closed
const IDLE_SETTLE_S = 3; // idle RSS is read this long after the process listens
const MAX_BUFFER_MEMORY = 64 * MiB; // cutover serve's default --max-buffer-memory
const SLOW_PEAK_TARGET_BYTES = MAX_BUFFER_MEMORY + 64e6;
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const MEMORY_WORKLOADS = [
  { id: 'idle', label: 'idle RSS (cutover serve vs bare node)' },
  { id: 'slow-readers', label: `${SLOW_READERS} slow readers of /256m.bin` },
];

const selectedWorkloads = envList('BENCH_WORKLOADS', [...WORKLOADS, ...MIRROR_WORKLOADS, ...REPLAY_WORKLOADS, ...MEMORY_WORKLOADS].map((w) => w.id), {
  mirror: MIRROR_WORKLOADS.map((w) => w.id),
  replay: REPLAY_WORKLOADS.map((w) => w.id),
  memory: [...MEMORY_WORKLOADS.map((w) => w.id), '1m', '256m'],
});
const selectedMemory = MEMORY_WORKLOADS.filter((w) => selectedWorkloads.includes(w.id));
const selectedServers = envList('BENCH_SERVERS', SERVER_NAMES);
const selectedMirror = MIRROR_WORKLOADS.filter((w) => selectedWorkloads.includes(w.id));
const selectedReplay = REPLAY_WORKLOADS.filter((w) => selectedWorkloads.includes(w.id));
const selectedPlain = WORKLOADS.filter((w) => selectedWorkloads.includes(w.id));
// The mirror and replay parts need old (nginx) and new (cutover) even when BENCH_SERVERS
// leaves them out; they then only serve as backends.
const needsOldNew = selectedMirror.length > 0 || selectedReplay.length > 0;
const startedServers = SERVER_NAMES.filter((n) => selectedServers.includes(n) || (needsOldNew && (n === 'nginx' || n === 'cutover')));

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

/**
 * CPU ticks (USER_HZ) used by the whole machine and by us (every started server's
 * process tree, this harness and its reaped children: wrk, fixed-rate.mjs).
 * foreignCpu() turns two snapshots into the CPU other processes used meanwhile:
 * a concurrent test run or build on this 2-core VM skews every figure.
 */
function cpuSnapshot() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user + nice + system: irq/softirq (loopback traffic of our own processes may land there
  // without being charged to them) and steal are left out, so this errs on the low side.
  const busy = f[0] + f[1] + f[2];
  const ticks = (pid, n) => {
    const st = readProc(pid, 'stat');
    if (!st) return 0;
    const x = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number); // x[0] = field 3
    return x[11] + x[12] + (n === 4 ? x[13] + x[14] : 0); // utime stime (cutime cstime)
  };
  let ours = ticks(process.pid, 4);
  for (const c of children) for (const p of processTree(c.proc.pid)) ours += ticks(p, 2);
  return { t: Date.now(), busy, ours };
}
/** CPU ticks used so far by a set of pids (a server's tree). */
function treeTicks(pids) {
  let t = 0;
  for (const pid of pids) {
    const st = readProc(pid, 'stat');
    if (!st) continue;
    const x = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number);
    t += x[11] + x[12];
  }
  return t;
}
function foreignCpu(a, b) {
  const secs = (b.t - a.t) / 1000;
  if (secs <= 0) return null;
  return Math.max(0, b.busy - a.busy - (b.ours - a.ours)) / 100 / secs; // cores
}
const FOREIGN_CPU_WARN = 0.15; // cores

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
  let deadline = Date.now() + (child.drainMs ?? 2000);
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

/**
 * nginxConf wraps an http-block body in the settings both bench nginx instances share: one worker,
 * foreground, no access log, generous keep-alive, and every path (pid, logs, temp dirs) under
 * bench/out/<name>, so nothing in /etc or /var is touched.
 */
function nginxConfWith(name, httpBody) {
  const tmp = path.join(OUT, `${name}-tmp`);
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(tmp, d), { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return `# generated by bench/run.mjs -- do not edit
${isRoot ? 'user root;  # workers must be able to read bench/data\n' : ''}worker_processes 1;
daemon off;
master_process on;
pid ${path.join(OUT, `${name}.pid`)};
error_log ${path.join(OUT, `${name}-error.log`)} warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 75s;
    client_body_temp_path ${tmp}/client_body;
    proxy_temp_path ${tmp}/proxy;
    fastcgi_temp_path ${tmp}/fastcgi;
    uwsgi_temp_path ${tmp}/uwsgi;
    scgi_temp_path ${tmp}/scgi;
${httpBody}
}
`;
}

/** nginxConf is the reference static server: sendfile on, the bench's two types. */
function nginxConf(port) {
  return nginxConfWith('nginx', `
    sendfile on;
    tcp_nopush on;
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
    }`);
}

/** The anchor: a second nginx as proxy_pass to old + mirror to new (it compares nothing). */
function nginxMirrorConf(port, oldPort, newPort) {
  return nginxConfWith('nginx-mirror', `
    upstream old {
        server 127.0.0.1:${oldPort};
        keepalive 64;
    }
    upstream new {
        server 127.0.0.1:${newPort};
        keepalive 64;
    }

    server {
        listen 127.0.0.1:${port};
        # proxy_buffering on (the default)
        location / {
            proxy_pass http://old;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            mirror /__mirror;
            mirror_request_body off;
        }
        location = /__mirror {
            internal;
            proxy_pass http://new$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }`);
}

function cutoverCommand() {
  if (process.env.BENCH_CUTOVER) {
    const file = path.resolve(process.env.BENCH_CUTOVER);
    if (!fs.existsSync(file)) throw new Error(`$BENCH_CUTOVER: ${file} does not exist`);
    return { file, rel: path.relative(ROOT, file) };
  }
  const bin = path.join(ROOT, 'bin', 'cutover');
  if (fs.existsSync(bin)) return { file: bin, rel: 'bin/cutover' };
  const dist = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
  if (fs.existsSync(dist)) return { file: dist, rel: 'dist/src/cli/index.js' };
  return null;
}

async function startServers() {
  const ports = await freePorts(startedServers.length);
  const servers = [];
  for (const name of startedServers) {
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
        if (needsOldNew) throw new Error('the mirror and replay workloads need cutover: neither bin/cutover nor dist/src/cli/index.js exists (run `npm run build`)');
        log('WARNING: neither bin/cutover nor dist/src/cli/index.js exists; skipping cutover (run `npm run build`)');
        continue;
      }
      child = startServer('cutover', process.execPath, [...NODE_ARGS, cmd.file, 'serve', '--root', DATA, '--listen', `127.0.0.1:${port}`]);
      describe = `node ${[...NODE_ARGS, cmd.rel].join(' ')} serve`;
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
    `-c${w.connections ?? CONNECTIONS}`, // the replay-small anchor runs with the replay's concurrency
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
  const { code, stdout, stderr, rssMax, foreign, serverCpu } = await measureLoad(pids, 'wrk', args, env, (p) => (currentWrk = p));
  if (code !== 0) throw new Error(`wrk exited with ${code} (${s.name}, ${w.id}):\n${stdout}${stderr}`);
  let json;
  try {
    json = JSON.parse(fs.readFileSync(outFile, 'utf8'));
  } catch (e) {
    throw new Error(`wrk produced no JSON summary (${s.name}, ${w.id}): ${e.message}\n${stdout}${stderr}`);
  }
  const hwm = Object.fromEntries(pids.map((p) => [p, (statusKb(p, 'VmHWM') ?? 0) * 1024]));
  if (s.child.exited) throw new Error(`${s.name} died during ${w.id}: ${JSON.stringify(s.child.exited)}\n${tailLog(s.child)}`);
  return { ...json, rss_max_bytes: rssMax, vmhwm_bytes: hwm, foreign_cpu_cores: foreign, server_cpu_cores: serverCpu, wrk_stdout: stdout };
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
  const hi = (raw.requests + (w.connections ?? CONNECTIONS)) * (w.body + PER_RESPONSE_OVERHEAD);
  if (raw.bytes < lo || raw.bytes > hi) warnings.push(`bytes read (${raw.bytes}) inconsistent with ${raw.requests} responses of ${w.body} B`);
  if (raw.foreign_cpu_cores > FOREIGN_CPU_WARN) warnings.push(`other processes used ${raw.foreign_cpu_cores.toFixed(2)} cores during the run (figure skewed)`);
  if (raw.requests === 0 && !w.id.endsWith('256m')) warnings.push('no request completed'); // 256 MiB x 64 connections: hardly any completes
  return { rps, mbs, value: w.unit === 'req/s' ? rps : mbs, warnings, valid: warnings.filter((x) => !x.includes('timeouts') && !x.includes('other processes')).length === 0 };
}

// ---------------------------------------------------------------- report

const fmt = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const fmtMB = (b) => (b === undefined || b === null ? 'n/a' : `${(b / 1e6).toFixed(1)} MB`);
const fmtCores = (c) => (c === undefined || c === null ? 'n/a' : c.toFixed(2));
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

// ---------------------------------------------------------------- mirror

async function waitForLog(child, re, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = fs.readFileSync(child.logPath, 'utf8');
    } catch {}
    if (re.test(text)) return;
    if (child.exited) throw new Error(`${child.name} exited before ${re} (${JSON.stringify(child.exited)}):\n${tailLog(child)}`);
    if (Date.now() > deadline) throw new Error(`${child.name}: no ${re} in its output within ${timeoutMs} ms:\n${tailLog(child)}`);
    await sleep(50);
  }
}

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

const MIRROR_COUNTERS = ['requests', 'compared', 'abandoned', 'dropped', 'skipped', 'noise', 'shadow_errors', 'proxy_errors'];

/** The cutover mirror counters we account with, read from its /metrics. */
async function mirrorCounts(metricsPort) {
  const r = await httpGet(metricsPort, '/metrics');
  if (r.status !== 200) throw new Error(`cutover mirror /metrics: status ${r.status}`);
  const m = parseProm(r.body.toString('utf8'));
  const c = {};
  for (const k of MIRROR_COUNTERS) {
    const v = m[`cutover_mirror_${k}_total`];
    if (v === undefined && k !== 'noise' && k !== 'shadow_errors' && k !== 'proxy_errors' && k !== 'skipped') {
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

let currentLoad = null;
process.on('exit', () => {
  if (currentLoad) {
    try {
      currentLoad.kill('SIGKILL');
    } catch {}
  }
});

/** Runs bench/fixed-rate.mjs (a separate process) against one target. */
/**
 * measureLoad runs one load generator to its end while sampling the target's process tree: peak
 * VmRSS (every RSS_SAMPLE_MS, once more after the load), the target's CPU (cores) and the CPU of
 * processes outside the benchmark. `setCurrent` gets the child (and null after) so a signal can
 * kill it.
 */
async function measureLoad(pids, command, args, env, setCurrent) {
  let rssMax = treeRss(pids);
  const sample = () => {
    const r = treeRss(pids);
    if (r > rssMax) rssMax = r;
  };
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  let stdout = '';
  let stderr = '';
  const cpu0 = cpuSnapshot();
  const own0 = treeTicks(pids);
  const code = await new Promise((resolve, reject) => {
    const p = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    setCurrent(p);
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('exit', (c, sig) => resolve(sig ?? c));
  }).finally(() => {
    setCurrent(null);
    clearInterval(sampler);
  });
  const cpu1 = cpuSnapshot();
  sample();
  return {
    code,
    stdout,
    stderr,
    rssMax,
    foreign: foreignCpu(cpu0, cpu1),
    serverCpu: (treeTicks(pids) - own0) / 100 / ((cpu1.t - cpu0.t) / 1000),
  };
}

async function runFixedRate(s, w, seconds, warmup) {
  const args = [
    path.join(BENCH, 'fixed-rate.mjs'),
    '--url',
    `http://127.0.0.1:${s.port}${w.path}`,
    '--rate',
    String(MIRROR_RATE),
    '--duration',
    String(seconds),
    '--warmup',
    String(warmup),
    '--connections',
    String(MIRROR_RATE_CONNECTIONS),
    '--expect-bytes',
    String(w.body),
    '--timeout',
    '10',
  ];
  const pids = processTree(s.child.proc.pid);
  const { code, stdout, stderr, rssMax, foreign, serverCpu } = await measureLoad(pids, process.execPath, args, process.env, (p) => (currentLoad = p));
  if (code !== 0) throw new Error(`fixed-rate.mjs exited with ${code} (${s.name}, ${w.id}):\n${stdout}${stderr}`);
  let json;
  try {
    json = JSON.parse(stdout.trim().split('\n').pop());
  } catch (e) {
    throw new Error(`fixed-rate.mjs printed no JSON (${s.name}): ${e.message}\n${stdout}${stderr}`);
  }
  fs.mkdirSync(path.join(OUT, 'wrk'), { recursive: true });
  fs.writeFileSync(path.join(OUT, 'wrk', `${s.name}-${w.id}.json`), JSON.stringify(json) + '\n');
  if (s.child.exited) throw new Error(`${s.name} died during ${w.id}: ${JSON.stringify(s.child.exited)}\n${tailLog(s.child)}`);
  const warnings = [];
  if (json.failed > 0) warnings.push(`${json.failed} of ${json.scheduled} requests failed (${JSON.stringify(json.errors)}${json.error_samples.length ? '; ' + json.error_samples.join(', ') : ''})`);
  if (json.achieved_rate < MIRROR_RATE * 0.95) warnings.push(`achieved ${json.achieved_rate.toFixed(0)} req/s, below ${MIRROR_RATE}`);
  if (foreign > FOREIGN_CPU_WARN) warnings.push(`other processes used ${foreign.toFixed(2)} cores during the run (figure skewed)`);
  return { ...json, rss_max_bytes: rssMax, foreign_cpu_cores: foreign, server_cpu_cores: serverCpu, warnings, valid: json.failed === 0 };
}

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
 * The mirror part: starts the nginx mirror proxy and cutover mirror in front of
 * old (nginx) and new (cutover serve), runs the selected mirror workloads one
 * target at a time, accounts every cutover-mirror workload through /metrics,
 * samples cutover mirror's RSS for the whole part, then stops both proxies
 * (cutover mirror by SIGTERM: drain, summary).
 */
async function runMirrorPart(oldS, newS) {
  const [nmPort, cmPort, metricsPort] = await freePorts(3);
  const confPath = path.join(OUT, 'nginx-mirror.conf');
  fs.writeFileSync(confPath, nginxMirrorConf(nmPort, oldS.port, newS.port));
  fs.rmSync(path.join(OUT, 'nginx-mirror-error.log'), { force: true });
  const nmChild = startServer('nginx-mirror', 'nginx', ['-p', OUT + '/', '-e', path.join(OUT, 'nginx-mirror-error.log'), '-c', confPath]);
  const nm = { name: 'nginx-mirror', port: nmPort, child: nmChild, describe: `nginx -c ${path.relative(ROOT, confPath)} (proxy_pass old + mirror to new, 1 worker)` };

  const cmd = cutoverCommand();
  const outFile = path.join(OUT, 'mirror-divergences.jsonl');
  fs.rmSync(outFile, { force: true });
  const cmArgs = [
    cmd.file,
    'mirror',
    '--listen',
    `127.0.0.1:${cmPort}`,
    '--old',
    `http://127.0.0.1:${oldS.port}`,
    '--new',
    `http://127.0.0.1:${newS.port}`,
    '--grace',
    '2s',
    '--metrics-listen',
    `127.0.0.1:${metricsPort}`,
    '--rules',
    MIRROR_RULES,
    ...(MIRROR_OUT ? ['--out', outFile] : []),
    ...MIRROR_ARGS,
  ];
  const cmChild = startServer('cutover-mirror', process.execPath, cmArgs);
  cmChild.drainMs = 2000 + 3000; // --grace 2s, then the summary
  const cm = { name: 'cutover-mirror', port: cmPort, child: cmChild, describe: `node ${cmd.rel} ${cmArgs.slice(1).join(' ').replaceAll(ROOT + '/', '')}` };

  await waitForPort(nmChild, nmPort);
  log(`nginx-mirror listening on 127.0.0.1:${nmPort} (pid ${nmChild.proc.pid}): ${nm.describe}`);
  await waitForLog(cmChild, /listening on http:\/\//);
  await waitForPort(cmChild, metricsPort);
  log(`cutover-mirror listening on 127.0.0.1:${cmPort}, metrics 127.0.0.1:${metricsPort} (pid ${cmChild.proc.pid}): ${cm.describe}`);

  // Whole-part RSS of cutover mirror (and of the nginx proxy, for comparison).
  const rss = { 'cutover-mirror': { max: treeRss([cmChild.proc.pid]), samples: 0 }, 'nginx-mirror': { max: 0, samples: 0 } };
  const nmPids = processTree(nmChild.proc.pid);
  const wholeSampler = setInterval(() => {
    const a = treeRss([cmChild.proc.pid]);
    rss['cutover-mirror'].samples++;
    if (a > rss['cutover-mirror'].max) rss['cutover-mirror'].max = a;
    const b = treeRss(nmPids);
    rss['nginx-mirror'].samples++;
    if (b > rss['nginx-mirror'].max) rss['nginx-mirror'].max = b;
  }, RSS_SAMPLE_MS);

  const res = { proxies: [nm, cm].map((s) => ({ name: s.name, port: s.port, command: s.describe })), workloads: {}, rss };
  try {
    const c0 = await mirrorCounts(metricsPort);
    await sanityCheck(nm);
    await sanityCheck(cm);
    res.sanity_accounting = accounting(c0, await mirrorSettle(metricsPort));

    for (const w of selectedMirror) {
      const r = (res.workloads[w.id] = {});
      const targets = w.kind === 'rate' ? [{ ...oldS, name: 'old' }, nm, cm] : [nm, cm];
      for (const s of targets) {
        const before = s === cm ? (await mirrorSettle(metricsPort)).counts : null;
        if (w.kind === 'rate') {
          const x = await runFixedRate(s, w, SECONDS, MIRROR_LATENCY_WARMUP);
          r[s.name] = x;
          const l = x.latency_us ?? {};
          log(`${w.id} ${s.name.padEnd(14)} ${MIRROR_RATE} req/s: p50 ${fmtMs(l.p50)} p99 ${fmtMs(l.p99)} max ${fmtMs(l.max)} (${x.completed}/${x.scheduled} ok)${x.warnings.length ? '  WARN: ' + x.warnings.join('; ') : ''}`);
        } else {
          if (WARMUP > 0) await runWrk(s, w, WARMUP, '-warmup');
          const raw = await runWrk(s, w, SECONDS, '');
          const a = analyse(w, raw);
          r[s.name] = { ...a, raw };
          log(`${w.id} ${s.name.padEnd(14)} ${fmt(a.rps).padStart(9)} req/s ${fmt(a.mbs).padStart(7)} MB/s  rss ${fmtMB(raw.rss_max_bytes)}${a.warnings.length ? '  WARN: ' + a.warnings.join('; ') : ''}`);
        }
        if (s === cm) {
          const acc = accounting(before, await mirrorSettle(metricsPort));
          r.accounting = acc;
          log(`${w.id} cutover-mirror accounting: requests ${acc.requests} = compared ${acc.compared} + abandoned ${acc.abandoned} + dropped ${acc.dropped} + skipped ${acc.skipped} ? ${acc.ok ? 'yes' : 'NO'} (settled in ${acc.settle_ms} ms); divergent ${JSON.stringify(acc.divergent)}`);
        }
        if (cmChild.exited) throw new Error(`cutover mirror died during ${w.id}: ${JSON.stringify(cmChild.exited)}\n${tailLog(cmChild)}`);
        await sleep(w.id === 'mirror-256m' ? 1000 : 300);
      }
    }
    res.final_counts = (await mirrorSettle(metricsPort)).counts;
  } finally {
    clearInterval(wholeSampler);
    const t = Date.now();
    await stopChild(cmChild);
    res.stop = { ms: Date.now() - t, exit: cmChild.exited };
    await stopChild(nmChild);
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
  return res;
}

function mirrorJson(res) {
  const workloads = MIRROR_WORKLOADS.filter((w) => res.workloads[w.id]).map((w) => {
    const r = res.workloads[w.id];
    const targets = {};
    for (const n of ['old', 'nginx-mirror', 'cutover-mirror']) {
      const x = r[n];
      if (!x) continue;
      if (w.kind === 'rate') targets[n] = x;
      else {
        const { wrk_stdout, ...raw } = x.raw;
        targets[n] = { req_per_s: x.rps, mb_per_s: x.mbs, value: x.value, valid: x.valid, warnings: x.warnings, ...raw };
      }
    }
    return {
      id: w.id,
      label: w.label,
      unit: w.kind === 'rate' ? 'latency (us)' : w.unit,
      target: w.kind === 'rate' ? { p50_minus_old_us: MIRROR_P50_TARGET_US, p99_minus_old_us: MIRROR_P99_TARGET_US } : { cutover_mirror_over_nginx_mirror: w.target },
      results: targets,
      accounting: r.accounting,
    };
  });
  return {
    rate: MIRROR_RATE,
    rate_connections: MIRROR_RATE_CONNECTIONS,
    rules: MIRROR_RULES,
    proxies: res.proxies,
    workloads,
    sanity_accounting: res.sanity_accounting,
    rss_max_bytes: { 'cutover-mirror': res.rss['cutover-mirror'].max, 'nginx-mirror': res.rss['nginx-mirror'].max, samples: res.rss['cutover-mirror'].samples },
    rss_target_bytes: MIRROR_RSS_TARGET_BYTES,
    final_counts: res.final_counts,
    summary: res.summary,
    summary_counts: res.summary_counts,
    stop: res.stop,
    log_problems: res.log_problems,
    nginx_mirror_log_problems: res.nginx_mirror_log_problems,
  };
}

function reportMirror(res, meta) {
  const W = res.workloads;
  const verdicts = [];
  const out = [''];
  out.push(
    `Mirror (${meta.date}; old = nginx, new = cutover serve, same data; proxies: nginx-mirror = nginx proxy_pass+mirror, ` +
      `cutover-mirror = cutover mirror --rules ${MIRROR_RULES}${MIRROR_ARGS.length ? ` ${MIRROR_ARGS.join(' ')}` : ''}, every request shadowed; wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ` +
      `fixed rate ${MIRROR_RATE} req/s x ${SECONDS}s over ${MIRROR_RATE_CONNECTIONS} connections after ${MIRROR_LATENCY_WARMUP}s at that rate; warmup ${WARMUP}s otherwise)`,
  );
  const rows = [['workload', 'unit', 'old (direct)', 'nginx-mirror', 'cutover-mirror', 'cutover-m/nginx-m', 'target']];
  const lat = W['mirror-latency'];
  if (lat) {
    for (const p of ['p50', 'p99']) {
      const limit = p === 'p50' ? MIRROR_P50_TARGET_US : MIRROR_P99_TARGET_US;
      const v = (n) => lat[n]?.latency_us?.[p];
      const cell = (n) => (lat[n] ? fmtMs(v(n)) + (lat[n].valid ? '' : ' (!)') : 'n/a');
      const diff = v('cutover-mirror') - v('old');
      const invalid = !lat.old?.valid || !lat['cutover-mirror']?.valid;
      const verdict = invalid ? 'INVALID' : diff <= limit ? 'PASS' : 'FAIL';
      verdicts.push({ what: `mirror-latency cutover-mirror ${p} - old <= ${limit / 1000} ms`, verdict, value: diff });
      rows.push([
        `${MIRROR_WORKLOADS[0].label}, ${p}`,
        'ms',
        cell('old'),
        cell('nginx-mirror'),
        cell('cutover-mirror'),
        v('nginx-mirror') ? (v('cutover-mirror') / v('nginx-mirror')).toFixed(2) : 'n/a',
        `${p} - old <= ${limit / 1000} ms: ${diff >= 0 ? '+' : ''}${(diff / 1000).toFixed(2)} ms ${verdict}`,
      ]);
    }
  }
  for (const w of selectedMirror.filter((x) => x.kind !== 'rate')) {
    const r = W[w.id];
    if (!r) continue;
    const cell = (n) => (r[n] ? fmt(r[n].value) + (r[n].valid ? '' : ' (!)') : 'n/a');
    const x = r['cutover-mirror'];
    const y = r['nginx-mirror'];
    const q = x && y && y.value ? x.value / y.value : null;
    const verdict = q === null ? 'n/a' : !x.valid || !y.valid ? 'INVALID' : q >= w.target ? 'PASS' : 'FAIL';
    if (q !== null) verdicts.push({ what: `${w.id} cutover-mirror/nginx-mirror >= ${w.target}`, verdict, value: q });
    rows.push([w.label, w.unit, 'n/a', cell('nginx-mirror'), cell('cutover-mirror'), q === null ? 'n/a' : q.toFixed(2), `>= ${w.target} ${verdict}`]);
  }
  const rssV = res.rss['cutover-mirror'].max < MIRROR_RSS_TARGET_BYTES ? 'PASS' : 'FAIL';
  verdicts.push({ what: 'cutover mirror peak RSS over the mirror part < 250 MB', verdict: rssV, value: res.rss['cutover-mirror'].max });
  rows.push(['peak RSS, whole mirror part (sampled)', 'MB', 'n/a', fmtMB(res.rss['nginx-mirror'].max), fmtMB(res.rss['cutover-mirror'].max), '', `< 250 MB ${rssV}`]);
  const accs = Object.entries(W).filter(([, r]) => r.accounting);
  const accOk = accs.every(([, r]) => r.accounting.ok) && (!res.summary_counts || res.summary_counts.ok);
  verdicts.push({ what: 'cutover mirror: compared + abandoned + dropped + skipped = requests (every workload)', verdict: accOk ? 'PASS' : 'FAIL', value: null });
  rows.push(['accounting: no comparison silently skipped', '', '', '', accs.map(([id, r]) => (r.accounting.ok ? 'ok' : `${id} MISMATCH`)).join(', '), '', `compared+abandoned+dropped+skipped = requests ${accOk ? 'PASS' : 'FAIL'}`]);
  out.push(table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'l']));
  out.push('(!) = errors or implausible byte counts in that run, see warnings.');

  if (lat) {
    const lrows = [['fixed rate', 'scheduled', 'ok', 'failed', 'achieved req/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'p50 - old', 'p99 - old', 'send lag p50/p99', 'peak RSS', 'target CPU', 'other CPU']];
    for (const n of ['old', 'nginx-mirror', 'cutover-mirror']) {
      const x = lat[n];
      if (!x) continue;
      const l = x.latency_us ?? {};
      const o = lat.old?.latency_us ?? {};
      const d = (k) => (n === 'old' || l[k] == null || o[k] == null ? '' : `${l[k] - o[k] >= 0 ? '+' : ''}${((l[k] - o[k]) / 1000).toFixed(2)} ms`);
      lrows.push([n, fmt(x.scheduled), fmt(x.completed), fmt(x.failed), fmt(x.achieved_rate), fmtMs(l.p50), fmtMs(l.p90), fmtMs(l.p99), fmtMs(l.p999), fmtMs(l.max), d('p50'), d('p99'), `${fmtMs(x.send_lag_us.p50)} / ${fmtMs(x.send_lag_us.p99)}`, fmtMB(x.rss_max_bytes), fmtCores(x.server_cpu_cores), fmtCores(x.foreign_cpu_cores)]);
    }
    out.push('');
    out.push(`Fixed-rate latency (bench/fixed-rate.mjs, GET /small.json, from the scheduled send time to the end of the body; send lag = the generator's own timer lateness, included in every figure)`);
    out.push(table(lrows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  }
  const drows = [['workload', 'proxy', 'requests', 'req/s', 'MB/s', 'p50', 'p99', 'errors (status/sock/timeout)', 'peak RSS (sampled)', 'proxy CPU', 'other CPU']];
  for (const w of selectedMirror.filter((x) => x.kind !== 'rate')) {
    for (const n of ['nginx-mirror', 'cutover-mirror']) {
      const r = W[w.id]?.[n];
      if (!r) continue;
      const e = r.raw.errors;
      drows.push([w.id, n, fmt(r.raw.requests), fmt(r.rps), fmt(r.mbs), fmtMs(r.raw.latency_us?.p50), fmtMs(r.raw.latency_us?.p99), `${e.status}/${e.connect + e.read + e.write}/${e.timeout}`, fmtMB(r.raw.rss_max_bytes), fmtCores(r.raw.server_cpu_cores), fmtCores(r.raw.foreign_cpu_cores)]);
    }
  }
  if (drows.length > 1) {
    out.push('');
    out.push('Mirror details (wrk; RSS = VmRSS of the proxy process tree sampled every 100 ms during warmup+run)');
    out.push(table(drows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  }
  out.push('target/proxy CPU = cores used by that process tree during the run (the proxy only, not old/new/load generator); other CPU = cores used by processes outside this benchmark (/proc/stat minus ours), > 0.15 is warned about.');
  const arows = [['cutover mirror (warmup+run)', 'requests', 'compared', 'abandoned', 'dropped', 'skipped', 'settled after', 'divergent (by kind)', 'noise', 'shadow errors', 'proxy errors', 'check']];
  const arow = (id, a) => [id, fmt(a.requests), fmt(a.compared), fmt(a.abandoned), fmt(a.dropped), fmt(a.skipped), a.settled ? `${a.settle_ms} ms` : `NOT (${a.pending} pending)`, Object.keys(a.divergent).length ? Object.entries(a.divergent).map(([k, v]) => `${k} ${v}`).join(', ') : '0', fmt(a.noise), fmt(a.shadow_errors), fmt(a.proxy_errors), a.ok ? 'PASS' : 'FAIL'];
  if (res.sanity_accounting) arows.push(arow('sanity checks', res.sanity_accounting));
  for (const [id, r] of accs) arows.push(arow(id, r.accounting));
  out.push('');
  out.push(`Mirror accounting (deltas of /metrics counters; every request must end compared, abandoned, dropped or skipped${res.final_counts?.has_skipped ? '' : ' (no skipped counter found)'})`);
  out.push(table(arows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'l']));
  if (res.summary_counts) {
    const s = res.summary_counts;
    out.push(`cutover mirror summary on SIGTERM (stopped in ${res.stop.ms} ms, exit ${JSON.stringify(res.stop.exit)}): requests ${s.requests} compared ${s.compared} divergent ${s.divergent} noise ${s.noise} dropped ${s.dropped} abandoned ${s.abandoned} skipped ${s.skipped}: ${s.ok ? 'adds up' : 'DOES NOT ADD UP'}`);
  } else {
    out.push(`WARNING cutover mirror printed no summary on SIGTERM (exit ${JSON.stringify(res.stop.exit)}):\n${tailLog({ logPath: path.join(OUT, 'cutover-mirror.log') }, 8)}`);
  }
  const totalDiv = Object.values(res.final_counts?.divergent ?? {}).reduce((a, b) => a + b, 0);
  out.push(`Divergences found by cutover mirror over the whole part: ${res.summary_counts ? res.summary_counts.divergent : totalDiv} requests (by kind: ${JSON.stringify(res.final_counts?.divergent ?? {})})${MIRROR_OUT ? `; records in ${path.relative(ROOT, path.join(OUT, 'mirror-divergences.jsonl'))}` : ' (BENCH_MIRROR_OUT=1 to record them)'}`);
  if (res.log_problems.count) out.push(`WARNING cutover-mirror.log: ${res.log_problems.count} warning/error lines, e.g.:\n  ${res.log_problems.samples.join('\n  ')}`);
  if (res.nginx_mirror_log_problems.count) out.push(`nginx-mirror-error.log: ${res.nginx_mirror_log_problems.count} error lines, e.g.:\n  ${res.nginx_mirror_log_problems.samples.join('\n  ')}`);
  const warns = [];
  for (const [id, r] of Object.entries(W)) for (const n of ['old', 'nginx-mirror', 'cutover-mirror']) for (const x of r[n]?.warnings ?? []) warns.push(`WARNING ${n} ${id}: ${x}`);
  if (warns.length) out.push('', ...warns);
  const failed = verdicts.filter((v) => v.verdict !== 'PASS');
  out.push('', failed.length ? `Mirror targets: ${failed.length} of ${verdicts.length} not met: ${failed.map((v) => v.what).join('; ')}` : `Mirror targets: all ${verdicts.length} met`);
  console.log(out.join('\n'));
  return verdicts;
}

// ---------------------------------------------------------------- replay

/**
 * combinedLine is one nginx combined log line of exactly REPLAY_LINE bytes ('\n' included; the user
 * agent is padded), so a generated log's size is lines x REPLAY_LINE and a cached one can be checked.
 */
function combinedLine(i, reqPath, bytes) {
  const head = `10.0.${(i >> 8) & 255}.${i & 255} - - [01/Jun/2024:00:00:00 +0000] "GET ${reqPath} HTTP/1.1" 200 ${bytes} "-" "`;
  const pad = REPLAY_LINE - head.length - 2;
  if (pad < 0) throw new Error(`log line longer than ${REPLAY_LINE} bytes: ${head}`);
  return `${head}${'x'.repeat(pad)}"\n`;
}

/** replayLogLine is line i of a replay workload's log: its path, or (replay-rss) a path the --filter drops. */
function replayLogLine(w, i) {
  if (w.every && i % w.every !== 0) return combinedLine(i, `/static/${String(i).padStart(7, '0')}.js`, 4321);
  return combinedLine(i, w.path, w.body);
}

/** ensureReplayLog generates bench/data/<log> when missing or of the wrong size (1 GB: once, ~10 s). */
function ensureReplayLog(w) {
  const file = path.join(DATA, w.log);
  if (fileHasSize(file, w.lines * REPLAY_LINE)) return file;
  log(`generating data/${w.log} (${fmt(w.lines)} lines, ${fmtMB(w.lines * REPLAY_LINE)})`);
  const batch = 10_000;
  writeAtomically(file, (fd) => {
    for (let i = 0; i < w.lines; i += batch) {
      let text = '';
      for (let j = i; j < Math.min(i + batch, w.lines); j++) text += replayLogLine(w, j);
      fs.writeSync(fd, text);
    }
  });
  if (!fileHasSize(file, w.lines * REPLAY_LINE)) throw new Error(`data/${w.log}: wrong size after generating it`);
  return file;
}

/** How many lines of a replay workload's log are replayed (the others are dropped by --filter). */
const replayedLines = (w) => (w.every ? Math.ceil(w.lines / w.every) : w.lines);

/** CPU ticks of the harness's reaped children (cutime + cstime): a finished replay's whole CPU. */
function reapedTicks() {
  const st = readProc('self', 'stat');
  const x = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number);
  return x[13] + x[14];
}

/**
 * runReplayOnce runs `cutover replay` on one workload's log (a child process, output in
 * bench/out/<id>.log), samples its VmRSS every RSS_SAMPLE_MS until it exits, and parses the summary
 * it prints. Timing: `secs` is replay's own "done in" figure (reading the log to the last
 * comparison, backends closed; 0.1 s resolution), `wall_s` the harness's spawn-to-exit time
 * (Node start-up included).
 */
async function runReplayOnce(w, file, oldS, newS) {
  const cmd = cutoverCommand();
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
  const cpu0 = cpuSnapshot();
  const reaped0 = reapedTicks();
  const old0 = treeTicks(oldPids);
  const new0 = treeTicks(newPids);
  const t0 = performance.now();
  const child = startServer(w.id, process.execPath, args);
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
  children.delete(child); // reaped: its CPU is in our cutime from here on
  const cpu1 = cpuSnapshot();
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
  const m = text.match(/cutover replay: (done|interrupted) in ([\d.]+) s\n\s+records (\d+)\s+bad lines (\d+)\s+filtered (\d+)\s+sent (\d+)\s+probes (\d+).*\n\s+compared (\d+)\s+divergent (\d+)\s+noise (\d+)\s+bytes compared (\d+)\n\s+divergences by kind: (.*)/);
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
  const extra = text.split('\n').filter((l) => l && !/^cutover replay: \d+ compared, \d+ divergent, \d+ bad lines$/.test(l) && !/^(cutover replay: (done|interrupted) in|\s)/.test(l));
  if (extra.length) invalid(`unexpected output: ${extra.slice(0, 3).join(' | ')}`);
  if (child.exited?.code !== 0) invalid(`exit ${JSON.stringify(child.exited)}`);
  res.valid = res.warnings.length === 0;
  if (res.foreign_cpu_cores > FOREIGN_CPU_WARN) res.warnings.push(`other processes used ${res.foreign_cpu_cores.toFixed(2)} cores during the run (figure skewed)`);
  return res;
}

/**
 * The replay part (issue 5): for each selected replay workload, generates (or reuses) its log in
 * bench/data and runs `cutover replay` on it against old (nginx) and new (cutover serve). replay-small
 * is anchored by wrk -t1 -c<concurrency> on GET /small.json against nginx alone, in the same run.
 */
async function runReplayPart(oldS, newS) {
  const res = { workloads: {} };
  for (const w of selectedReplay) {
    const file = ensureReplayLog(w);
    const r = (res.workloads[w.id] = { log: path.relative(ROOT, file), log_bytes: fs.statSync(file).size, lines: w.lines, replayed: replayedLines(w), concurrency: w.concurrency });
    if (w.id === 'replay-small') {
      const ww = { id: 'replay-small', unit: 'req/s', path: w.path, script: 'get.lua', body: w.body, connections: w.concurrency };
      if (WARMUP > 0) await runWrk(oldS, ww, WARMUP, '-warmup');
      const raw = await runWrk(oldS, ww, SECONDS, '');
      const a = analyse(ww, raw);
      r.wrk_nginx = { ...a, raw };
      log(`${w.id} wrk -c${w.concurrency} nginx ${fmt(a.rps).padStart(9)} req/s${a.warnings.length ? '  WARN: ' + a.warnings.join('; ') : ''}`);
      await sleep(300);
    }
    const x = await runReplayOnce(w, file, oldS, newS);
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

function replayJson(res) {
  return {
    rules: MIRROR_RULES,
    line_bytes: REPLAY_LINE,
    workloads: REPLAY_WORKLOADS.filter((w) => res.workloads[w.id]).map((w) => {
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

function reportReplay(res, meta) {
  const { rows, verdicts } = replayRows(res);
  const out = [''];
  out.push(`Replay (${meta.date}; cutover replay --format combined --speed asap --rules ${MIRROR_RULES}, old = nginx, new = cutover serve, same data; logs in bench/data; MB = 10^6 bytes)`);
  out.push(table([['workload', 'unit', 'cutover replay', 'reference', 'replay/target', 'target'], ...rows], ['l', 'l', 'r', 'l', 'r', 'l']));
  out.push('(!) = errors, divergences or implausible counts in that run, see warnings.');
  const drows = [['workload', 'log', 'records', 'filtered', 'sent = compared', 'bytes compared', 'done in', 'wall', 'req/s', 'MB/s', 'peak RSS', 'RSS samples', 'replay CPU', 'old CPU', 'new CPU', 'other CPU']];
  for (const w of REPLAY_WORKLOADS) {
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
  const failed = verdicts.filter((v) => v.verdict !== 'PASS');
  out.push('', failed.length ? `Replay targets: ${failed.length} of ${verdicts.length} not met: ${failed.map((v) => v.what).join('; ')}` : `Replay targets: all ${verdicts.length} met`);
  console.log(out.join('\n'));
  return verdicts;
}

// ---------------------------------------------------------------- memory

/** startFreshCutover starts a cutover serve of its own (no traffic yet) and waits for its port. */
async function startFreshCutover(name) {
  const cmd = cutoverCommand();
  if (!cmd) throw new Error('the memory rows need cutover: run `npm run build`');
  const [port] = await freePorts(1);
  const child = startServer(name, process.execPath, [...NODE_ARGS, cmd.file, 'serve', '--root', DATA, '--listen', `127.0.0.1:${port}`]);
  child.drainMs = 3000;
  await waitForPort(child, port);
  return { name, port, child, describe: `node ${[...NODE_ARGS, cmd.rel].join(' ')} serve` };
}

/**
 * slowReadersAgainst runs bench/slow-readers.mjs against 127.0.0.1:port (descriptor limit raised in
 * its shell) while sampling the RSS of `pids`; returns the load figures and the script's JSON line.
 */
async function slowReadersAgainst(port, pids, need, hard) {
  const script = path.join(BENCH, 'slow-readers.mjs');
  const sh = `ulimit -n ${Math.min(need, hard)} && exec "$0" "$@"`;
  const args = ['-c', sh, process.execPath, script, '--port', String(port), '--connections', String(SLOW_READERS), '--hold', String(SLOW_HOLD_S)];
  const load = await measureLoad(pids, 'sh', args, process.env, (p) => (currentLoad = p));
  if (load.code !== 0) throw new Error(`slow-readers.mjs exited with ${load.code}:\n${load.stdout}${load.stderr}`);
  return { load, out: JSON.parse(load.stdout.trim().split('\n').pop()) };
}

/** idleRss starts `args` (a process that only waits), reads its VmRSS after IDLE_SETTLE_S, stops it. */
async function idleRssOf(name, args) {
  const child = startServer(name, process.execPath, args);
  await sleep(IDLE_SETTLE_S * 1000);
  const rss = treeRss([child.proc.pid]);
  await stopChild(child);
  return rss;
}

/**
 * The memory part: (c) idle RSS of a fresh cutover serve next to bare Node (`node -e
 * "setInterval(()=>{},1000)"`), both read IDLE_SETTLE_S after start; (a) peak RSS of a fresh cutover
 * serve while bench/slow-readers.mjs holds SLOW_READERS paused downloads of /256m.bin for
 * SLOW_HOLD_S, sampled every RSS_SAMPLE_MS; (b) its RSS SLOW_AFTER_S after they all closed. The
 * slow readers run in a child whose descriptor limit is raised with `ulimit -n` (the server's too,
 * when needed).
 */
async function runMemoryPart() {
  const res = {};
  const need = SLOW_READERS + 256;
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || Infinity;
  const soft = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()) || Infinity;
  if (hard < need) throw new Error(`slow readers: ${SLOW_READERS} connections need ${need} descriptors, the hard limit is ${hard} (raise it, or set BENCH_SLOW_READERS)`);
  res.fd_limit = { soft, hard, raised_to: soft < need ? need : null };
  if (selectedMemory.some((w) => w.id === 'idle')) {
    const node = await idleRssOf('bare-node', ['-e', 'setInterval(()=>{},1000)']);
    const fresh = await startFreshCutover('cutover-idle');
    await sleep(IDLE_SETTLE_S * 1000);
    const cutover = treeRss([fresh.child.proc.pid]);
    await stopChild(fresh.child);
    res.idle = { cutover_bytes: cutover, node_bytes: node, command: fresh.describe };
    log(`idle RSS: cutover serve ${fmtMB(cutover)}, bare node ${fmtMB(node)}`);
  }
  if (selectedMemory.some((w) => w.id === 'slow-readers')) {
    const s = await startFreshCutover('cutover-slow');
    // The server's own limit, raised like the shell's if it is too low (prlimit on its pid).
    if (soft < need) spawnSync('prlimit', ['--pid', String(s.child.proc.pid), `--nofile=${need}:${hard}`]);
    const pids = [s.child.proc.pid];
    await sleep(IDLE_SETTLE_S * 1000);
    const before = treeRss(pids);
    const { load, out } = await slowReadersAgainst(s.port, pids, need, hard);
    if (s.child.exited) throw new Error(`cutover died during slow-readers: ${JSON.stringify(s.child.exited)}\n${tailLog(s.child)}`);
    // (b): every connection closed when the reader process exited; RSS each second after that.
    const after = [];
    for (let i = 1; i <= SLOW_AFTER_S; i++) {
      await sleep(1000);
      after.push(treeRss(pids));
    }
    await stopChild(s.child);
    res.slow = { ...out, rss_before_bytes: before, rss_peak_bytes: load.rssMax, rss_after_bytes: after, server_cpu_cores: load.serverCpu, foreign_cpu_cores: load.foreign, command: s.describe };
    log(`slow readers: ${out.connected}/${out.connections} connected, ${out.responding} had a response started, ${out.errors} errors; RSS ${fmtMB(before)} before, peak ${fmtMB(load.rssMax)}, ${SLOW_AFTER_S} s after close ${fmtMB(after.at(-1))}`);
    // The floor: the same slow readers against a Node HTTP server with cutover's libraries that
    // holds every request and reads nothing (bench/floor-server.mjs).
    const [fport] = await freePorts(1);
    const floor = startServer('floor', process.execPath, [path.join(BENCH, 'floor-server.mjs'), String(fport)]);
    await waitForPort(floor, fport);
    if (soft < need) spawnSync('prlimit', ['--pid', String(floor.proc.pid), `--nofile=${need}:${hard}`]);
    await sleep(IDLE_SETTLE_S * 1000);
    const fl = await slowReadersAgainst(fport, [floor.proc.pid], need, hard);
    await stopChild(floor);
    res.slow.floor_peak_bytes = fl.load.rssMax;
    log(`slow readers against the floor server: peak ${fmtMB(fl.load.rssMax)}`);
  }
  return res;
}

/** reportMemory prints the memory rows and their verdicts; `results` has the 1m/256m rows if run. */
function reportMemory(mem, results, meta) {
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
    rows.push([`(d) peak RSS under wrk -c${CONNECTIONS}, ${WORKLOADS.find((w) => w.id === id).label}`, fmtMB(r.cutover.raw.rss_max_bytes), r.nginx ? `nginx ${fmtMB(r.nginx.raw.rss_max_bytes)} (x${(r.cutover.raw.rss_max_bytes / r.nginx.raw.rss_max_bytes).toFixed(1)})` : 'n/a', '', '']);
  }
  const out = [''];
  out.push(`Memory of cutover serve (${meta.date}; ${mem.slow?.command ?? mem.idle?.command ?? ''}; RSS = VmRSS, MB = 10^6 bytes; descriptors: soft ${mem.fd_limit.soft}, hard ${mem.fd_limit.hard}${mem.fd_limit.raised_to ? `, raised to ${mem.fd_limit.raised_to} for the slow readers` : ''})`);
  out.push(table(rows, ['l', 'r', 'l', 'l', 'l']));
  if (slow) {
    out.push(`slow readers: ${slow.connected} of ${slow.connections} connected, ${slow.responding} had a response started when they closed, ${slow.errors} errors${slow.errors ? ` (${slow.error_samples.join(', ')})` : ''}; server CPU ${fmtCores(slow.server_cpu_cores)}, other CPU ${fmtCores(slow.foreign_cpu_cores)}`);
    out.push(`RSS each second after they closed: ${slow.rss_after_bytes.map((b) => (b / 1e6).toFixed(1)).join(', ')} MB`);
  }
  const failed = verdicts.filter((v) => v.verdict !== 'PASS');
  if (verdicts.length) out.push('', failed.length ? `Memory targets: ${failed.length} of ${verdicts.length} not met: ${failed.map((v) => v.what).join('; ')}` : `Memory targets: all ${verdicts.length} met`);
  console.log(out.join('\n'));
  return verdicts;
}

// ---------------------------------------------------------------- main

/** Share of CPU time (all cores) used over `ms` before the run: other load skews every figure. */
async function cpuBusy(ms = 1000) {
  const read = () => {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = read();
    await sleep(ms);
    const b = read();
    return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : null;
  } catch {
    return null;
  }
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const tool of ['wrk', 'nginx', 'go']) {
    if (tool === 'nginx' && !startedServers.includes('nginx')) continue;
    if (tool === 'go' && !startedServers.includes('go')) continue;
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${tool} not found in PATH`);
  }
  const t0 = Date.now();
  const busy = await cpuBusy();
  if (busy !== null && busy > 0.1) log(`WARNING: the machine is busy before the run (${(busy * 100).toFixed(0)} % CPU used by other processes); figures will be skewed`);
  ensureData();
  const allServers = await startServers();
  for (const s of allServers) await sanityCheck(s);
  // servers measured by the plain workloads (nginx/cutover may run only as mirror backends)
  const servers = allServers.filter((s) => selectedServers.includes(s.name));

  const results = {};
  for (const w of selectedPlain) {
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

  let memory = null;
  if (selectedMemory.length) memory = await runMemoryPart();

  let mirror = null;
  if (selectedMirror.length) {
    const oldS = allServers.find((s) => s.name === 'nginx');
    const newS = allServers.find((s) => s.name === 'cutover');
    mirror = await runMirrorPart(oldS, newS);
  }
  let replay = null;
  if (selectedReplay.length) {
    replay = await runReplayPart(
      allServers.find((s) => s.name === 'nginx'),
      allServers.find((s) => s.name === 'cutover'),
    );
  }

  const meta = { date: new Date().toISOString(), cpus: (await import('node:os')).cpus().length, node: process.version, cpu_busy_before: busy };
  const verdicts = selectedPlain.length ? report(servers, results, meta) : [];
  if (memory) verdicts.push(...reportMemory(memory, results, meta));
  if (mirror) verdicts.push(...reportMirror(mirror, meta));
  if (replay) verdicts.push(...reportReplay(replay, meta));
  if ([mirror, replay, memory, selectedPlain.length > 0].filter(Boolean).length > 1) {
    const failed = verdicts.filter((v) => v.verdict !== 'PASS');
    console.log(failed.length ? `All targets: ${failed.length} of ${verdicts.length} not met` : `All targets: all ${verdicts.length} met`);
  }
  const json = {
    meta: { ...meta, seconds: SECONDS, connections: CONNECTIONS, warmup: WARMUP, mb: 1e6, elapsed_s: (Date.now() - t0) / 1000 },
    servers: allServers.map((s) => ({ name: s.name, port: s.port, command: s.describe, measured: selectedServers.includes(s.name) })),
    memory,
    mirror: mirror && mirrorJson(mirror),
    replay: replay && replayJson(replay),
    workloads: selectedPlain.map((w) => ({
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
