#!/usr/bin/env node
// The ceiling of a mirror built as cutover's is (clients served by node:http, every outgoing
// request sent with undici), for the saturated rows whose target names a share compared: every
// request goes to old with undici's dispatch API (the cheapest way undici reads a response: no
// stream, the body handed over as views of the bytes read from the socket) and its answer is
// written to the client as it comes, held while the client's socket is full; every EVERY-th
// request is also sent to new, the same way, as soon as it arrives, and new's answer is read to
// its end.
//
// MODE `read` (the default): new's answer is thrown away. Nothing is compared, hashed, held,
// queued, paced, recorded or counted beyond the counters below: what is left is the I/O that
// reading that share of new's answers costs such a mirror, which any comparing mirror of the same
// build pays before its first comparison. Its throughput is what a comparing mirror of that build
// could reach at best.
//
// MODE `compare`: the same, and the two answers of every EVERY-th request are compared, status and
// body bytes, as they come (ByteMatch, floor-mirror's: the side ahead holds its bytes, not copied,
// until the other reaches them; nothing hashed). The least work a mirror of that build does to
// compare that share: no queue, no pacing, no shedding, no records, no headers compared, no
// re-requests. Not a bound either (it sends its shadows unpaced), but what a comparing mirror of
// the build reaches when it does nothing else.
//
// Requests are forwarded without their body (the row sends GETs only).
//
// Usage: node bench/reader-floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY [MODE] (PORT 0: any free
// one, printed as `reader-floor-mirror listening on http://127.0.0.1:PORT`). `GET /__floor`
// answers its counters as JSON, in the shape floor-mirror's have: every, requests, compared (MODE
// read: new's answers read to their end; MODE compare: pairs of answers both read to their end and
// compared), differing (MODE read: always 0), errors; `GET /__floor?every=N` sets EVERY first.
// Plain Node ESM; its only dependencies are undici, bench/lib/floor-counters.mjs,
// bench/lib/floor-fields.mjs and ByteMatch from bench/floor-mirror.mjs.
import http from 'node:http';
import { Pool } from 'undici';
import { answerCounters } from './lib/floor-counters.mjs';
import { answerFields, requestFields } from './lib/floor-fields.mjs';
import { ByteMatch } from './floor-mirror.mjs';

const [port, oldPort, newPort, every] = process.argv.slice(2, 6).map(Number);
const mode = process.argv[6] ?? 'read';
if (!(port >= 0 && oldPort > 0 && newPort > 0 && every >= 1 && (mode === 'read' || mode === 'compare'))) {
  throw new Error('usage: reader-floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY [read|compare]');
}

const oldPool = new Pool(`http://127.0.0.1:${oldPort}`, { connections: 256 });
const newPool = new Pool(`http://127.0.0.1:${newPort}`, { connections: 256 });
const counts = { every, requests: 0, compared: 0, differing: 0, errors: 0 };


/**
 * Pair is one compared request's two answers (MODE compare): side 0 old's, side 1 new's. Counted as
 * compared once both have ended, differing if their statuses or bytes do; a pair one of whose
 * answers failed is never counted as compared (new's failure is counted as an error).
 */
class Pair extends ByteMatch {
  status = [0, 0];
  ended = 0;

  end(side, status) {
    this.status[side] = status;
    if (++this.ended < 2) return;
    counts.compared++;
    if (this.status[0] !== this.status[1] || !this.same()) counts.differing++;
  }
}

/**
 * readShadow sends the request to new and reads its answer to the end: into `pair` as side 1 when
 * there is one, else throwing the bytes away.
 */
function readShadow(req, headers, pair) {
  let status = 0;
  newPool.dispatch(
    { path: req.url, method: req.method, headers },
    {
      onConnect() {},
      onHeaders(s) {
        if (s >= 200) status = s;
        return true;
      },
      onData(chunk) {
        pair?.push(1, chunk);
        return true;
      },
      onComplete() {
        if (pair) pair.end(1, status);
        else counts.compared++;
      },
      onError() {
        counts.errors++;
      },
    },
  );
}

/** forward answers the client from old, through undici's dispatch API, old's answer pushed into `pair` as side 0 when there is one. */
function forward(req, res, headers, pair) {
  let status = 0;
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
      onHeaders(s, raw, r) {
        if (s < 200) return true;
        status = s;
        resume = r;
        res.writeHead(s, answerFields(raw));
        return true;
      },
      onData(chunk) {
        // The pair holds the view as it is: undici hands over views of buffers it does not reuse.
        pair?.push(0, chunk);
        if (res.write(chunk)) return true;
        waiting = true;
        return false;
      },
      onComplete() {
        pair?.end(0, status);
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
    const headers = requestFields(req.rawHeaders);
    const shadowed = n % counts.every === 0;
    const pair = shadowed && mode === 'compare' ? new Pair() : null;
    if (shadowed) readShadow(req, headers, pair);
    forward(req, res, headers, pair);
  })
  .listen(port, '127.0.0.1', function () {
    console.log(`reader-floor-mirror listening on http://127.0.0.1:${this.address().port}`);
  });
