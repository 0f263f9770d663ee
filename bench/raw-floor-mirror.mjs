#!/usr/bin/env node
// The floor mirror (bench/floor-mirror.mjs) without node:http on its client path: what the same
// comparisons cost when the primary's response goes to the client as the bytes old sent, over plain
// net sockets. A reference for the 1m row, not a mirror anyone should run: GET requests without a
// body, answers framed by Content-Length (what nginx sends for the bench's files); any other
// request is answered 502, any other answer cuts the client's connection, both counted as errors.
//
// Why it exists: in a CPU profile of node-proxy (node:http to old, piped to the client) at 1 MiB,
// Node's HTTP client (its parser copies every body chunk into a new buffer), the collector and the
// streams took about 800 µs of the thread per request on top of the ~620 µs of socket writes that
// any proxy pays; this one spends about 80 µs on top of the same writes. The comparing part is
// the floor's own: every EVERY-th request is also sent to new through an undici Pool as soon as it
// arrives, and the two bodies are compared as they come (ByteMatch), nothing hashed.
//
// Usage: node bench/raw-floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY (prints `raw-floor-mirror
// listening on http://127.0.0.1:PORT`). `GET /__floor` answers the counters as JSON, as the floor
// does: every, requests, compared, differing, errors; `GET /__floor?every=N` sets EVERY first.
import net from 'node:net';
import { Pool } from 'undici';
import { ByteMatch } from './floor-mirror.mjs';

const [port, oldPort, newPort, every] = process.argv.slice(2).map(Number);
if (!(port >= 0 && oldPort > 0 && newPort > 0 && every >= 1)) throw new Error('usage: raw-floor-mirror.mjs PORT OLD_PORT NEW_PORT EVERY');

const HEAD_END = Buffer.from('\r\n\r\n');
/** The longest request or response head accepted (nginx's default large_client_header_buffers is 8 KiB). */
const MAX_HEAD = 16 * 1024;
const counts = { every, requests: 0, compared: 0, differing: 0, errors: 0 };
const newPool = new Pool(`http://127.0.0.1:${newPort}`, { connections: 256 });
/** Kept-alive connections to old, free for the next request. */
const idle = [];

function oldConnection() {
  for (let s = idle.pop(); s; s = idle.pop()) if (!s.destroyed && s.readable && s.writable) return s;
  const s = net.connect({ host: '127.0.0.1', port: oldPort, noDelay: true });
  // A kept-alive connection old closes while idle is simply not reused.
  s.on('error', () => s.destroy());
  return s;
}

/** new's status for the same request, its body pushed into `match` as side 1; null on a failure. */
async function shadow(path, range, match) {
  try {
    const { statusCode, body } = await newPool.request({ path, method: 'GET', headers: range ? { range } : {} });
    for await (const chunk of body) match.push(1, chunk);
    return statusCode;
  } catch {
    return null;
  }
}

/** field returns the value of header `name` in a head (latin1 text), or undefined. */
function field(head, name) {
  const m = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, 'i').exec(head);
  return m ? m[1].trim() : undefined;
}

function answer(client, status, body, close) {
  client.write(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${close ? 'connection: close\r\n' : ''}\r\n${body}`);
  if (close) client.end();
}

net
  .createServer({ noDelay: true }, (client) => {
    let pending = Buffer.alloc(0);
    let busy = false;
    client.on('error', () => client.destroy());
    const next = () => {
      // After a `Connection: close` request or a refused one, what follows on the connection is not read.
      if (busy || client.destroyed || client.writableEnded) return;
      const end = pending.indexOf(HEAD_END);
      if (end < 0) {
        if (pending.length > MAX_HEAD) client.destroy();
        return;
      }
      const head = pending.subarray(0, end + 4);
      pending = pending.subarray(end + 4);
      const text = head.toString('latin1');
      const [method, path] = text.slice(0, text.indexOf('\r\n')).split(' ');
      const closeAfter = /^close$/i.test(field(text, 'connection') ?? '');
      if (path?.startsWith('/__floor')) {
        const n = Number(new URL(path, 'http://x').searchParams.get('every') ?? counts.every);
        if (Number.isInteger(n) && n >= 1) counts.every = n;
        answer(client, '200 OK', JSON.stringify(counts), closeAfter);
        return next();
      }
      if (method !== 'GET' || field(text, 'content-length') || field(text, 'transfer-encoding')) {
        counts.errors++;
        answer(client, '502 Bad Gateway', '{}', true);
        return;
      }
      busy = true;
      const n = ++counts.requests;
      const match = n % counts.every === 0 ? new ByteMatch() : null;
      const shadowStatus = match ? shadow(path, field(text, 'range'), match) : null;
      const up = oldConnection();
      let got = Buffer.alloc(0);
      let left = -1; // body bytes still to come; -1 until old's head is read
      let status = 0;
      const done = (ok) => {
        up.off('data', onData);
        up.off('close', onClose);
        busy = false;
        if (ok && !closeAfter) idle.push(up);
        else up.destroy();
        if (match) {
          shadowStatus.then((s) => {
            if (s === null) counts.errors++;
            else {
              counts.compared++;
              if (s !== status || !match.same()) counts.differing++;
            }
          });
        }
        if (!ok || closeAfter) client.end();
        else next();
      };
      const onClose = () => {
        // Old closed before the end of its answer: the client sees the connection cut.
        counts.errors++;
        client.destroy();
        done(false);
      };
      const onData = (chunk) => {
        if (left < 0) {
          got = got.length ? Buffer.concat([got, chunk]) : chunk;
          const e = got.indexOf(HEAD_END);
          if (e < 0) {
            if (got.length > MAX_HEAD) onClose();
            return;
          }
          const h = got.toString('latin1', 0, e);
          status = Number(h.slice(9, 12));
          const length = field(h, 'content-length');
          if (length === undefined || field(h, 'transfer-encoding')) return onClose();
          left = Number(length);
          client.write(got.subarray(0, e + 4));
          chunk = got.subarray(e + 4);
        }
        const take = Math.min(chunk.length, left);
        left -= take;
        if (take > 0) {
          const body = take === chunk.length ? chunk : chunk.subarray(0, take);
          match?.push(0, body);
          if (!client.write(body)) {
            up.pause();
            client.once('drain', () => up.resume());
          }
        }
        if (left === 0) done(true);
      };
      up.on('data', onData);
      up.on('close', onClose);
      up.write(head);
    };
    client.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      next();
    });
  })
  .listen(port, '127.0.0.1', function () {
    console.log(`raw-floor-mirror listening on http://127.0.0.1:${this.address().port}`);
  });
