// A plain HTTP GET on loopback, and the content check every server and proxy passes before it is
// measured (a fast wrong answer must not count as a figure).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { DATA, KiB, MiB, PER_RESPONSE_OVERHEAD, SMALL_SIZE } from './constants.mjs';
import { log } from './log.mjs';
import { tailLog } from './processes.mjs';

/** httpGet sends GET urlPath to 127.0.0.1:port (no agent, 10 s timeout); resolves { status, headers, body }. */
export function httpGet(port, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout GET ${urlPath}`)));
    req.on('error', reject);
  });
}

function readSlice(file, start, len) {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(len);
    fs.readSync(fd, b, 0, len, start);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * sanityCheck checks a server { name, port, child } on the shapes of request the workloads send:
 * GET /small.json, a one-range 206, a 1 MiB range and a 2-range multipart of 256m.bin, by content.
 * @throws {Error} listing every problem, with the tail of the server's log.
 */
export async function sanityCheck(s) {
  const problems = [];
  const expect = (cond, msg) => {
    if (!cond) problems.push(msg);
  };
  const small = fs.readFileSync(path.join(DATA, 'small.json'));

  const r1 = await httpGet(s.port, '/small.json');
  expect(r1.status === 200, `GET /small.json: status ${r1.status}, expected 200`);
  expect(r1.body.length === SMALL_SIZE, `GET /small.json: ${r1.body.length} bytes, expected ${SMALL_SIZE}`);
  expect(r1.headers['content-length'] === String(SMALL_SIZE), `GET /small.json: Content-Length ${r1.headers['content-length']}`);
  expect(r1.body.equals(small), 'GET /small.json: body differs from the file');

  const r2 = await httpGet(s.port, '/small.json', { Range: 'bytes=0-9' });
  expect(r2.status === 206, `Range bytes=0-9: status ${r2.status}, expected 206`);
  expect(r2.body.length === 10 && r2.body.equals(small.subarray(0, 10)), `Range bytes=0-9: got ${r2.body.length} bytes / wrong content`);
  expect(r2.headers['content-range'] === `bytes 0-9/${SMALL_SIZE}`, `Range bytes=0-9: Content-Range ${r2.headers['content-range']}`);

  // Same shapes of request as the range workloads, checked once for content.
  const big = path.join(DATA, '256m.bin');
  const a = 123_456_789;
  const r3 = await httpGet(s.port, '/256m.bin', { Range: `bytes=${a}-${a + MiB - 1}` });
  expect(r3.status === 206, `1 MiB range of 256m.bin: status ${r3.status}, expected 206`);
  expect(r3.body.equals(readSlice(big, a, MiB)), `1 MiB range of 256m.bin: ${r3.body.length} bytes / wrong content`);

  const [p, q] = [1_000_003, 200_000_001];
  const r4 = await httpGet(s.port, '/256m.bin', { Range: `bytes=${p}-${p + 64 * KiB - 1},${q}-${q + 64 * KiB - 1}` });
  expect(r4.status === 206, `2-range request: status ${r4.status}, expected 206`);
  expect(/^multipart\/byteranges/i.test(r4.headers['content-type'] ?? ''), `2-range request: Content-Type ${r4.headers['content-type']}`);
  const i1 = r4.body.indexOf(readSlice(big, p, 64 * KiB));
  const i2 = r4.body.indexOf(readSlice(big, q, 64 * KiB));
  expect(i1 >= 0 && i2 > i1, '2-range request: parts missing or out of order in the multipart body');
  expect(r4.body.length < 128 * KiB + PER_RESPONSE_OVERHEAD, `2-range request: body ${r4.body.length} bytes, too large`);

  if (problems.length) {
    throw new Error(`sanity check FAILED for ${s.name} (127.0.0.1:${s.port}):\n  - ${problems.join('\n  - ')}\n--- ${s.child.logPath}:\n${tailLog(s.child)}`);
  }
  log(`${s.name}: sanity OK (200 small.json ${SMALL_SIZE} B, 206 bytes=0-9, 206 1 MiB range, 206 multipart 2 ranges)`);
}
