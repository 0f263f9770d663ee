#!/usr/bin/env node
// The simplest comparing mirror, a reference for the mirror rows whose targets name a share compared:
// the per-byte work a Node mirror that compares bodies must do, and nothing else. Every request
// goes to old through node:http (as http-proxy sends it) and its response is piped to the client;
// every EVERY-th request (the share compared is exactly 1/EVERY) is also sent to new through an
// undici Pool, as soon as it arrives. Old's body is hashed with SHA-256 as it comes (one hash: when
// the bytes agree it is both sides' digest, as cutover's pair hashes them) and its chunks are kept
// with new's until both have ended, when the bytes are compared. No
// queue, no limit, no shedding, no records, no metrics library, no block digests, no re-requests:
// what is left is receiving, forwarding, comparing and hashing, the per-byte cost any comparing
// mirror built on Node pays. One thread, as cutover mirror's comparer. It is not a bound: with no
// pacing, its shadows compete with its clients for the one thread (a mirror that paces its shadows
// can do better).
//
// Usage: node bench/floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY (PORT 0: any free one, printed as
// `floor-mirror listening on http://127.0.0.1:PORT`). `GET /__floor` answers its
// counters as JSON: every, requests, compared, differing (status or bytes unequal), errors;
// `GET /__floor?every=N` sets EVERY first (the harness compares a third on the saturated rows and
// everything on the mixed one with the same process). Plain Node ESM; its only dependency is undici
// (cutover's own).
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Pool } from 'undici';

const [port, oldPort, newPort, every] = process.argv.slice(2).map(Number);
if (!(port >= 0 && oldPort > 0 && newPort > 0 && every >= 1)) throw new Error('usage: floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY');

const oldAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const newPool = new Pool(`http://127.0.0.1:${newPort}`, { connections: 256 });
const counts = { every, requests: 0, compared: 0, differing: 0, errors: 0 };

/**
 * The new side's answer to the same request: its status and its body's chunks, as received (not
 * copied), or null on a failure.
 */
async function shadowBody(req) {
  try {
    const { statusCode, body } = await newPool.request({ path: req.url, method: req.method, headers: { range: req.headers.range } });
    const chunks = [];
    for await (const chunk of body) chunks.push(chunk);
    return { statusCode, chunks };
  } catch {
    return null;
  }
}

/** sameBytes says whether two lists of chunks hold the same bytes, walking both without a copy. */
function sameBytes(a, b) {
  let i = 0, j = 0, ai = 0, bj = 0;
  for (;;) {
    while (i < a.length && ai === a[i].length) { i++; ai = 0; }
    while (j < b.length && bj === b[j].length) { j++; bj = 0; }
    if (i === a.length || j === b.length) return i === a.length && j === b.length;
    const n = Math.min(a[i].length - ai, b[j].length - bj);
    if (Buffer.compare(a[i].subarray(ai, ai + n), b[j].subarray(bj, bj + n)) !== 0) return false;
    ai += n;
    bj += n;
  }
}

http
  .createServer((req, res) => {
    if (req.url.startsWith('/__floor')) {
      const n = Number(new URL(req.url, 'http://x').searchParams.get('every') ?? counts.every);
      if (Number.isInteger(n) && n >= 1) counts.every = n;
      res.end(JSON.stringify(counts));
      return;
    }
    const n = ++counts.requests;
    const compare = n % counts.every === 0;
    const shadow = compare ? shadowBody(req) : null;
    const up = http.request({ host: '127.0.0.1', port: oldPort, path: req.url, method: req.method, headers: req.headers, agent: oldAgent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      // One SHA-256, of old's body: it is the digest of both when the bytes agree, and a
      // divergence's record needs both digests, which only a pass over the bytes can give. The
      // digest is the work measured; what decides is the bytes.
      const h = compare ? createHash('sha256') : null;
      const mine = compare ? [] : null;
      if (h) r.on('data', (c) => { h.update(c); mine.push(c); });
      r.pipe(res);
      r.on('end', () => {
        if (!h || !shadow) return;
        h.digest();
        shadow.then((theirs) => {
          if (theirs === null) counts.errors++;
          else {
            counts.compared++;
            if (theirs.statusCode !== r.statusCode || !sameBytes(mine, theirs.chunks)) counts.differing++;
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
  })
  .listen(port, '127.0.0.1', function () {
    // Port 0 takes any free port: the line says which (the harness passes its own and waits for it).
    console.log(`floor-mirror listening on http://127.0.0.1:${this.address().port}`);
  });
