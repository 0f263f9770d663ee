#!/usr/bin/env node
// The least a comparing mirror built as cutover's must do on its client path, for mirror-mixed:
// cutover mirror's own client path, made of its own parts from the build (old asked with undici's
// dispatch API through PrimaryAnswer, a large body read at most READ_TURN_BYTES a turn and written
// to the client a turn at a time through TurnWrites, the process tuned as cutover mirror's is), and
// every EVERY-th answer of old's hashed as it streams by cutover's BlockDigester, as cutover mirror
// hashes a primary's body. Old's bytes pass through this process only, so a mirror that compares
// them must hash them here, whatever it does with new. Nothing is sent to new: in the bench, a
// second generator at the lowest CPU priority reads new as the mirror's shadows would
// (haproxy-paced-reader's reader), so that new's side costs the least it can. No queue, no records,
// no metrics, no header comparison, no pair of bodies.
//
// Usage: node bench/hash-floor-mirror.mjs PORT OLD_PORT EVERY (PORT 0: any free one, printed as
// `hash-floor-mirror listening on http://127.0.0.1:PORT`). `GET /__floor` answers its counters as
// JSON, in the shape floor-mirror's have: every, requests, compared (answers hashed to their end),
// differing (always 0), errors; `GET /__floor?every=N` sets EVERY first. Needs the build (npm run
// build).
import http from 'node:http';
import { Pool } from 'undici';
import { BlockDigester } from '../dist/src/audit/body-digest.js';
import { READ_TURN_BYTES } from '../dist/src/audit/bound-read-turns.js';
import { PrimaryAnswer } from '../dist/src/audit/primary-answer.js';
import { tuneForReceiving } from '../dist/src/cli/process-tuning.js';
import { TurnWrites } from '../dist/src/audit/turn-writes.js';
import { answerCounters } from './lib/floor-counters.mjs';
import { answerFields, requestFields } from './lib/floor-fields.mjs';

const [port, oldPort, every] = process.argv.slice(2, 5).map(Number);
if (!(port >= 0 && oldPort > 0 && every >= 1)) throw new Error('usage: hash-floor-mirror.mjs PORT OLD_PORT EVERY');

// Tuned as cutover mirror tunes its process before any traffic: its collector and the C heap.
tuneForReceiving();

// As cutover mirror's pool to the primary: no timeouts of its own.
const oldPool = new Pool(`http://127.0.0.1:${oldPort}`, { headersTimeout: 0, bodyTimeout: 0 });
const turnWrites = new TurnWrites();
const counts = { every, requests: 0, compared: 0, differing: 0, errors: 0 };


/** forward answers the client from old as cutover mirror's #dispatch does, hashing old's body when `hashed`. */
function forward(req, res, hashed) {
  const answer = new PrimaryAnswer(READ_TURN_BYTES);
  const digester = hashed ? new BlockDigester() : null;
  // A client that leaves mid-answer (the load stopping with requests in flight) is no error of old's.
  let gone = false;
  res.on('close', () => {
    if (res.writableFinished) return;
    gone = true;
    answer.destroy(new Error('the client went away'));
  });
  answer.on('response', () => {
    res.writeHead(answer.statusCode, answer.statusMessage || undefined, answerFields(answer.rawHeaders));
    res.on('drain', () => answer.release('drain'));
    const write = answer.bounded ? turnWrites.writer(res) : (chunk) => res.write(chunk);
    answer.on('data', (chunk) => {
      digester?.update(chunk);
      if (!write(chunk)) answer.hold('drain');
    });
    answer.on('end', () => {
      if (digester) {
        digester.finish();
        counts.compared++;
      }
      res.end();
    });
  });
  answer.on('error', () => {
    if (gone) return;
    counts.errors++;
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  oldPool.dispatch({ path: req.url, method: req.method, headers: requestFields(req.rawHeaders) }, answer);
}

http
  .createServer((req, res) => {
    if (answerCounters(req, res, counts)) return;
    const n = ++counts.requests;
    forward(req, res, n % counts.every === 0);
  })
  .listen(port, '127.0.0.1', function () {
    console.log(`hash-floor-mirror listening on http://127.0.0.1:${this.address().port}`);
  });
