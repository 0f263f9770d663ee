#!/usr/bin/env node
// What it costs this machine to bring fresh memory into use: allocates BYTES (default 256 MiB) in
// 2 MiB buffers, writes every page once and keeps them all, as a chunk cache filling from cold does;
// then rewrites one 2 MiB buffer as many times (memory already in use) for comparison. Prints one
// JSON line: CPU milliseconds (user + system) and wall milliseconds of each. On a VM whose guest
// memory is backed lazily by the host, the first is dominated by page faults, not by the writes.
//
//   node bench/first-touch.mjs [BYTES]

const bytes = Number(process.argv[2] ?? 256 * 1024 * 1024);
const CHUNK = 2 * 1024 * 1024;
const n = Math.ceil(bytes / CHUNK);

function measure(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const c = process.cpuUsage(c0);
  return { cpu_ms: (c.user + c.system) / 1000, user_ms: c.user / 1000, sys_ms: c.system / 1000, wall_ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

const keep = [];
const fresh = measure(() => {
  for (let i = 0; i < n; i++) {
    const b = Buffer.allocUnsafeSlow(CHUNK);
    b.fill(i & 0xff);
    keep.push(b);
  }
});
const reused = measure(() => {
  const b = keep[0];
  for (let i = 0; i < n; i++) b.fill(i & 0xff);
});
console.log(JSON.stringify({ bytes: n * CHUNK, fresh, reused }));
