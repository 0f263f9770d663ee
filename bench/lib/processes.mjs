// Child processes of the harness: start (output to bench/out/<name>.log), wait for a port or a log
// line, stop by PID (the whole process tree, SIGTERM then SIGKILL), and the last-resort cleanup on
// signals and exit. Every started child is tracked in ctx.children (lib/context.mjs); nothing is
// ever stopped by name.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { OUT, ROOT } from './constants.mjs';
import { log, sleep } from './log.mjs';

/** readProc returns /proc/<pid>/<file>, or null when the process (or file) is gone. */
export function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** pid plus all its descendants (scan of /proc; a handful of processes). */
export function processTree(rootPid) {
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

/** isAlive tells whether a process with this pid exists (signal 0). */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * startServer spawns `cmd args` in the repository root, stdout and stderr to bench/out/<name>.log,
 * and adds it to ctx.children. `opts.env` is added to the harness's environment. Returns the child
 * record; `exited` is set when the process exits or fails to start.
 */
export function startServer(ctx, name, cmd, args, opts = {}) {
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
  ctx.children.add(child);
  return child;
}

/** tailLog returns the last `n` lines of a child's log, or '(no log)'. */
export function tailLog(child, n = 20) {
  try {
    return fs.readFileSync(child.logPath, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * waitForPort polls 127.0.0.1:port every 50 ms until it accepts a TCP connection.
 * @throws {Error} when the child exits first or after timeoutMs (with the tail of its log).
 */
export async function waitForPort(child, port, timeoutMs = 10_000) {
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

/**
 * waitForLog polls a child's log every 50 ms until it matches `re`.
 * @throws {Error} when the child exits first or after timeoutMs.
 */
export async function waitForLog(child, re, timeoutMs = 15_000) {
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

/**
 * stopChild stops a child's whole process tree by PID: SIGTERM to every process, up to
 * `child.drainMs` (if unset, defaults to 2000) for them to exit, a second SIGTERM to the child itself
 * (cutover drains on the first one and exits at once on the second), 1 s more, then SIGKILL to what
 * is left. Removes it from ctx.children.
 */
export async function stopChild(ctx, child) {
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
  ctx.children.delete(child);
}

/** stopAll stops every child still in ctx.children, once: later calls return the same promise. */
export function stopAll(ctx) {
  ctx.shuttingDown ??= Promise.all([...ctx.children].map((c) => stopChild(ctx, c)));
  return ctx.shuttingDown;
}

/**
 * installCleanup makes sure no child outlives the harness: on SIGINT, SIGTERM or SIGHUP it stops them
 * all (stopAll) and exits with 130; on exit without that (e.g. an uncaught error) it sends SIGKILL to
 * every known pid of every child and to the running load generators.
 */
export function installCleanup(ctx) {
  // Last resort if we exit without having awaited stopAll (e.g. uncaught error).
  process.on('exit', () => {
    for (const c of ctx.children) {
      for (const p of c.pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {}
      }
    }
    for (const p of ctx.loads) {
      try {
        p.kill('SIGKILL');
      } catch {}
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      log(`${sig} received, stopping servers`);
      stopAll(ctx).finally(() => process.exit(130));
    });
  }
}

/** freePorts returns `n` ports that were free on 127.0.0.1 a moment ago (listen on 0, then close). */
export async function freePorts(n) {
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
