#!/usr/bin/env node
// Slow readers for the memory rows of bench/run.mjs: opens --connections HTTP/1.1 connections to
// --port, sends `GET --path` on each and reads nothing (the socket is paused), holds them for
// --hold seconds, then closes them all at once and prints one JSON line:
//   { connections, connected, responding, errors, hold_s }
// `responding` counts connections on which the response had started (bytes in the kernel's receive
// queue, from `ss`; null without ss); the others were still waiting for a read buffer of the server. Plain Node ESM, no dependencies.
//
// Run with a descriptor limit above --connections (bench/run.mjs spawns it through `sh -c 'ulimit
// -n ...'`).

import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    port: { type: 'string' },
    path: { type: 'string', default: '/256m.bin' },
    connections: { type: 'string', default: '1000' },
    hold: { type: 'string', default: '10' },
  },
});
const port = Number(o.port);
const n = Number(o.connections);
const holdMs = Number(o.hold) * 1000;
if (!(port > 0) || !(n > 0) || !(holdMs >= 0)) throw new Error('usage: slow-readers.mjs --port P [--path /x] [--connections N] [--hold S]');

const sockets = [];
let connected = 0;
let errors = 0;
const firstError = [];
for (let i = 0; i < n; i++) {
  const s = net.connect(port, '127.0.0.1');
  s.once('connect', () => connected++);
  s.on('error', (e) => {
    errors++;
    if (firstError.length < 3) firstError.push(e.code ?? e.message);
  });
  s.write(`GET ${o.path} HTTP/1.1\r\nHost: bench\r\n\r\n`);
  // Reads nothing: what the kernel's socket buffers cannot hold stays in the server.
  s.pause();
  sockets.push(s);
  // Batches, so the listen backlog is never overrun.
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, holdMs));
// A paused socket reads nothing, so ask the kernel: connections with bytes waiting in their
// receive queue are those whose response has started.
let responding = null;
try {
  const ss = execFileSync('ss', ['-tnH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  responding = ss.split('\n').filter((l) => l.trim() && Number(l.trim().split(/\s+/)[0]) > 0).length;
} catch {
  // no ss: unknown
}
for (const s of sockets) s.destroy();
console.log(JSON.stringify({ connections: n, connected, responding, errors, error_samples: firstError, hold_s: holdMs / 1000 }));
process.exit(0);
