#!/usr/bin/env node
// The simplest comparing mirror, a reference for the mirror rows whose targets name a share compared:
// the per-byte work a Node mirror that compares bodies must do, and nothing else. Every request
// goes to old through node:http (as http-proxy sends it) and its response is piped to the client;
// every EVERY-th request (the share compared is exactly 1/EVERY) is also sent to new through an
// undici Pool, as soon as it arrives. The two bodies are compared as they come, the side ahead
// holding its bytes until the other reaches them; nothing is hashed (cutover's pair hashes nothing
// either while the bytes agree). No queue, no limit, no shedding, no records, no metrics library,
// no block digests, no re-requests:
// what is left is receiving, forwarding and comparing, the per-byte cost any comparing
// mirror built on Node pays. One thread, as cutover mirror's comparer. It is not a bound: with no
// pacing, its shadows compete with its clients for the one thread (a mirror that paces its shadows
// can do better).
//
// Usage: node bench/floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY [PROCESSES] (PORT 0: any free one,
// printed as `floor-mirror listening on http://127.0.0.1:PORT`). `GET /__floor` answers its
// counters as JSON: every, requests, compared, differing (status or bytes unequal), errors;
// `GET /__floor?every=N` sets EVERY first (the harness compares a third on the saturated rows and
// everything on the mixed one with the same process). Plain Node ESM; its only dependencies are undici
// (cutover's own) and bench/lib/floor-counters.mjs.
//
// PROCESSES (default 1) runs it as that many worker processes behind one port (node:cluster: the
// primary accepts each connection and hands it to the workers in turn), what a Node mirror must do
// to use more than one core; the listening line then names the workers' pids. `/__floor` then
// answers for whichever worker gets the connection. SIGTERM or SIGINT to the primary stops the
// workers; it exits once they have.
//
// Imported rather than run (a test), it starts nothing and exports ByteMatch.
import cluster from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { answerCounters } from './lib/floor-counters.mjs';

/** Run as a script (by the harness, or as a cluster worker), not imported. */
const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;

const [port, oldPort, newPort, every, processes = 1] = isMain ? process.argv.slice(2).map(Number) : [];
if (isMain && !(port >= 0 && oldPort > 0 && newPort > 0 && every >= 1 && Number.isInteger(processes) && processes >= 1)) {
  throw new Error('usage: floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY [PROCESSES]');
}

/** This process answers clients: run as a script, and not the primary of PROCESSES > 1 workers. */
const serves = isMain && !(processes > 1 && cluster.isPrimary);
const oldAgent = serves ? new http.Agent({ keepAlive: true, maxSockets: Infinity }) : null;
const newPool = serves ? new Pool(`http://127.0.0.1:${newPort}`, { connections: 256 }) : null;
const counts = { every, requests: 0, compared: 0, differing: 0, errors: 0 };

/**
 * ByteMatch compares two bodies as they arrive, each side pushed chunk by chunk: the side that is
 * ahead holds its bytes (not copied) until the other reaches them, then they are compared and
 * dropped, so it holds no more than the distance between the two sides, as cutover's pair does.
 */
export class ByteMatch {
  held = [[], []];
  offset = [0, 0];
  differ = false;

  push(side, chunk) {
    if (this.differ) return;
    const other = this.held[1 - side];
    let at = 0;
    while (at < chunk.length && other.length > 0) {
      const head = other[0];
      const o = this.offset[1 - side];
      const n = Math.min(head.length - o, chunk.length - at);
      if (Buffer.compare(chunk.subarray(at, at + n), head.subarray(o, o + n)) !== 0) {
        this.differ = true;
        this.held = [[], []];
        return;
      }
      at += n;
      if (o + n === head.length) {
        other.shift();
        this.offset[1 - side] = 0;
      } else this.offset[1 - side] = o + n;
    }
    if (at < chunk.length) this.held[side].push(at === 0 ? chunk : chunk.subarray(at));
  }

  /** same says, once both bodies have ended, whether they held the same bytes. */
  same() {
    return !this.differ && this.held[0].length === 0 && this.held[1].length === 0;
  }
}

/** The new side's status for the same request, its body pushed into `match` as side 1; null on a failure. */
async function shadowBody(req, match) {
  try {
    const { statusCode, body } = await newPool.request({ path: req.url, method: req.method, headers: { range: req.headers.range } });
    for await (const chunk of body) match.push(1, chunk);
    return statusCode;
  } catch {
    return null;
  }
}

/** mirrorRequest answers one client request from old, comparing 1 in EVERY with new. */
function mirrorRequest(req, res) {
  if (answerCounters(req, res, counts)) return;
  const n = ++counts.requests;
  const compare = n % counts.every === 0;
  const match = compare ? new ByteMatch() : null;
  const shadow = compare ? shadowBody(req, match) : null;
  const up = http.request({ host: '127.0.0.1', port: oldPort, path: req.url, method: req.method, headers: req.headers, agent: oldAgent }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    if (match) r.on('data', (c) => match.push(0, c));
    r.pipe(res);
    r.on('end', () => {
      if (!shadow) return;
      shadow.then((theirs) => {
        if (theirs === null) counts.errors++;
        else {
          counts.compared++;
          if (theirs !== r.statusCode || !match.same()) counts.differing++;
        }
      });
    });
    r.on('error', () => res.destroy());
  });
  up.on('error', () => {
    counts.errors++;
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  req.pipe(up);
}

if (serves) serve();
else if (isMain) startWorkers();

/** startWorkers forks the PROCESSES workers, which run this script again with the same arguments: they serve, this process accepts. */
function startWorkers() {
  let listening = 0;
  // Counted here: cluster.workers may still hold a worker when its 'exit' event fires.
  let alive = processes;
  let stopping = false;
  cluster.on('listening', (w, address) => {
    if (++listening === processes) {
      const pids = Object.values(cluster.workers).map((x) => x.process.pid);
      console.log(`floor-mirror listening on http://127.0.0.1:${address.port} (${processes} processes: pids ${pids.join(', ')})`);
    }
  });
  cluster.on('exit', (w, code, signal) => {
    if (!stopping) {
      console.error(`floor-mirror: worker ${w.process.pid} exited (${signal ?? code})`);
      process.exitCode = 1;
      stopping = true;
      for (const x of Object.values(cluster.workers)) if (x !== w) x.process.kill('SIGTERM');
    }
    if (--alive === 0) process.exit();
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      stopping = true;
      for (const x of Object.values(cluster.workers)) x.process.kill('SIGTERM');
    });
  }
  for (let i = 0; i < processes; i++) cluster.fork();
}

/** serve runs the mirror in this process (the only one, or one of the workers). */
function serve() {
  http.createServer(mirrorRequest).listen(port, '127.0.0.1', function () {
    // Port 0 takes any free port: the line says which (the harness passes its own and waits for
    // it). With workers, the primary prints it once every worker listens.
    if (cluster.isPrimary) console.log(`floor-mirror listening on http://127.0.0.1:${this.address().port}`);
  });
}
