// What the harness reads from /proc: RSS of a process tree, CPU ticks of a tree, of the whole
// machine and of this harness, so every figure can say how much CPU other processes took meanwhile.

import fs from 'node:fs';
import { processTree, readProc } from './processes.mjs';
import { sleep } from './log.mjs';

/** statusKb returns a `kB` field of /proc/<pid>/status (VmRSS, VmHWM), or null. */
export function statusKb(pid, field) {
  const s = readProc(pid, 'status');
  if (!s) return null;
  const m = s.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : null;
}

/** Sum of VmRSS (bytes) over the process tree of a server. */
export function treeRss(pids) {
  let sum = 0;
  for (const p of pids) sum += (statusKb(p, 'VmRSS') ?? 0) * 1024;
  return sum;
}

/**
 * CPU ticks (USER_HZ) used by the whole machine and by us (every started server's
 * process tree in ctx.children, this harness and its reaped children: wrk, fixed-rate.mjs).
 * foreignCpu() turns two snapshots into the CPU other processes used meanwhile:
 * a concurrent test run or build on this 2-core VM skews every figure.
 */
export function cpuSnapshot(ctx) {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user + nice + system: irq/softirq (loopback traffic of our own processes may land there
  // without being charged to them) and steal are left out, so this errs on the low side.
  const busy = f[0] + f[1] + f[2];
  // Everything but idle and iowait: with irq, softirq and steal.
  const busyAll = f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0);
  const ticks = (pid, n) => {
    const st = readProc(pid, 'stat');
    if (!st) return 0;
    const x = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number); // x[0] = field 3
    return x[11] + x[12] + (n === 4 ? x[13] + x[14] : 0); // utime stime (cutime cstime)
  };
  let ours = ticks(process.pid, 4);
  for (const c of ctx.children) for (const p of processTree(c.proc.pid)) ours += ticks(p, 2);
  return { t: Date.now(), busy, busyAll, ours };
}

/** childTicks returns the CPU ticks used so far by each started server's process tree, by name. */
export function childTicks(ctx) {
  const m = new Map();
  for (const c of ctx.children) m.set(c.name, (m.get(c.name) ?? 0) + treeTicks(processTree(c.proc.pid)));
  return m;
}

/** processorOf returns the core a process's main thread last ran on (/proc/<pid>/stat field 39), or null. */
export function processorOf(pid) {
  const st = readProc(pid, 'stat');
  if (!st) return null;
  const x = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const c = Number(x[36]); // x[0] = field 3
  return Number.isInteger(c) ? c : null;
}

/** CPU ticks used so far by a set of pids (a server's tree). */
export function treeTicks(pids) {
  let t = 0;
  for (const pid of pids) {
    const st = readProc(pid, 'stat');
    if (!st) continue;
    const x = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number);
    t += x[11] + x[12];
  }
  return t;
}

/** foreignCpu returns the cores used by processes outside the benchmark between two cpuSnapshots, or null. */
export function foreignCpu(a, b) {
  const secs = (b.t - a.t) / 1000;
  if (secs <= 0) return null;
  return Math.max(0, b.busy - a.busy - (b.ours - a.ours)) / 100 / secs; // cores
}

/** CPU ticks of the harness's reaped children (cutime + cstime): a finished replay's whole CPU. */
export function reapedTicks() {
  const st = readProc('self', 'stat');
  const x = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number);
  return x[13] + x[14];
}

/** Share of CPU time (all cores) used over `ms` before the run, or null: other load skews every figure. */
export async function cpuBusy(ms = 1000) {
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
