#!/usr/bin/env node
// The ceiling of a mirror built as cutover's is (clients served by node:http, every outgoing
// request sent with undici), for the saturated rows whose target names a share compared: every
// request goes to old with undici's dispatch API (the cheapest way undici reads a response: no
// stream, the body handed over as views of the bytes read from the socket) and its answer is
// written to the client as it comes, held while the client's socket is full; every EVERY-th
// request is also sent to new, the same way, as soon as it arrives, and new's answer is read to
// its end and thrown away. Nothing is compared, hashed, held, queued, paced, recorded or counted
// beyond the counters below: what is left is the I/O that reading that share of new's answers
// costs such a mirror, which any comparing mirror of the same build pays before its first
// comparison. Its throughput is what a comparing mirror of that build could reach at best.
// Requests are forwarded without their body (the row sends GETs only).
//
// Usage: node bench/reader-floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY (PORT 0: any free one,
// printed as `reader-floor-mirror listening on http://127.0.0.1:PORT`). `GET /__floor` answers its
// counters as JSON, in the shape floor-mirror's have: every, requests, compared (here: new's
// answers read to their end; nothing is compared), differing (always 0), errors;
// `GET /__floor?every=N` sets EVERY first. Plain Node ESM; its only dependencies are undici and
// bench/lib/floor-counters.mjs.
import http from 'node:http';
import { Pool } from 'undici';
import { answerCounters } from './lib/floor-counters.mjs';

const [port, oldPort, newPort, every] = process.argv.slice(2).map(Number);
if (!(port >= 0 && oldPort > 0 && newPort > 0 && every >= 1)) {
  throw new Error('usage: reader-floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY');
}

const oldPool = new Pool(`http://127.0.0.1:${oldPort}`, { connections: 256 });
const newPool = new Pool(`http://127.0.0.1:${newPort}`, { connections: 256 });
const counts = { every, requests: 0, compared: 0, differing: 0, errors: 0 };

/** The fields of a client request passed on: all but the hop-by-hop ones (RFC 9110 §7.6.1) and Host (undici sets its own). */
const SKIP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'trailer', 'host']);
function fields(req) {
  const out = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!SKIP.has(req.rawHeaders[i].toLowerCase())) out.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  return out;
}

/** readShadow sends the request to new and reads its answer to the end, throwing the bytes away. */
function readShadow(req, headers) {
  newPool.dispatch(
    { path: req.url, method: req.method, headers },
    {
      onConnect() {},
      onHeaders() {
        return true;
      },
      onData() {
        return true;
      },
      onComplete() {
        counts.compared++;
      },
      onError() {
        counts.errors++;
      },
    },
  );
}

/** forward answers the client from old, through undici's dispatch API. */
function forward(req, res, headers) {
  let resume = null;
  let waiting = false;
  // A client that leaves mid-answer (wrk stopping with requests in flight) is no error of old's.
  let gone = false;
  res.on('drain', () => {
    if (!waiting) return;
    waiting = false;
    resume?.();
  });
  oldPool.dispatch(
    { path: req.url, method: req.method, headers },
    {
      onConnect(abort) {
        res.on('close', () => {
          if (res.writableFinished) return;
          gone = true;
          abort(new Error('the client went away'));
        });
      },
      onHeaders(status, raw, r) {
        if (status < 200) return true;
        resume = r;
        const out = [];
        for (let i = 0; i + 1 < raw.length; i += 2) {
          const name = raw[i].toString('latin1');
          const lower = name.toLowerCase();
          if (lower !== 'connection' && lower !== 'keep-alive' && lower !== 'transfer-encoding') out.push(name, raw[i + 1].toString('latin1'));
        }
        res.writeHead(status, out);
        return true;
      },
      onData(chunk) {
        if (res.write(chunk)) return true;
        waiting = true;
        return false;
      },
      onComplete() {
        res.end();
      },
      onError() {
        if (gone) return;
        counts.errors++;
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      },
    },
  );
}

http
  .createServer((req, res) => {
    if (answerCounters(req, res, counts)) return;
    const n = ++counts.requests;
    const headers = fields(req);
    if (n % counts.every === 0) readShadow(req, headers);
    forward(req, res, headers);
  })
  .listen(port, '127.0.0.1', function () {
    console.log(`reader-floor-mirror listening on http://127.0.0.1:${this.address().port}`);
  });
