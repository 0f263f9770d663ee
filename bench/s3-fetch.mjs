#!/usr/bin/env node
// The clients of the s3-cold and s3-spike workloads, one Node process as cutover serve is, so that both
// sides of s3-cold are the same kind of process. Prints one JSON line: bytes, seconds (first request
// sent to last byte read), MB/s (10^6 bytes), and each download's byte count and check, so that a fast
// wrong answer cannot pass. VERIFY says how every byte is checked:
//   sha256       (default) hashed; the download's sha256 is printed (the harness compares it);
//   compare=FILE compared with FILE's bytes at the same offsets (Buffer.equals); `mismatch` is the first
//                offset that differs, or null. About five times cheaper in CPU than sha256 (it reads the
//                file from the page cache and compares), which matters on 2 cores where the client
//                competes with the servers: s3-cold uses it on both sides.
//
//   node bench/s3-fetch.mjs http URL [CLIENTS] [VERIFY]
//     CLIENTS (default 1) concurrent GETs of URL, each on a connection of its own.
//   node bench/s3-fetch.mjs s3-loop ENDPOINT BUCKET KEY SIZE CHUNK [VERIFY]
//     the plain reference: a sequential loop of ranged GetObject requests of CHUNK bytes
//     (`Range: bytes=a-(a+CHUNK-1)`) over the SIZE bytes of KEY, path-style, credentials from the AWS
//     standard chain (the harness sets s3rver's pair in the environment).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const [mode, ...rest] = process.argv.slice(2);

/**
 * checker returns the check of one download by VERIFY: update(chunk) for every chunk in order, then
 * result() = { sha256 } or { mismatch } (see above).
 */
function checker(verify = 'sha256') {
  if (verify === 'sha256') {
    const h = crypto.createHash('sha256');
    return { update: (c) => h.update(c), result: () => ({ sha256: h.digest('hex') }) };
  }
  if (!verify.startsWith('compare=')) throw new Error(`s3-fetch.mjs: unknown check ${verify} (sha256 | compare=FILE)`);
  const fd = fs.openSync(verify.slice('compare='.length), 'r');
  let off = 0;
  let mismatch = null;
  let want = Buffer.alloc(0);
  return {
    update(c) {
      if (want.length < c.length) want = Buffer.allocUnsafe(Math.max(c.length, 64 * 1024));
      const n = fs.readSync(fd, want, 0, c.length, off);
      if (mismatch === null && (n !== c.length || !want.subarray(0, n).equals(c))) mismatch = off;
      off += c.length;
    },
    result() {
      fs.closeSync(fd);
      return { mismatch };
    },
  };
}

/** httpDownload GETs url on a connection of its own and checks the body; resolves { status, bytes, ...check }. */
function httpDownload(url, verify) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const h = checker(verify);
      let bytes = 0;
      res.on('data', (c) => {
        bytes += c.length;
        h.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, bytes, ...h.result() }));
      res.on('error', reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`timeout GET ${url}`)));
    req.on('error', reject);
  });
}

async function s3Loop(endpoint, bucket, key, size, chunk, verify) {
  const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, responseChecksumValidation: 'WHEN_REQUIRED' });
  const h = checker(verify);
  let bytes = 0;
  let requests = 0;
  const t0 = process.hrtime.bigint();
  for (let a = 0; a < size; a += chunk) {
    const b = Math.min(size, a + chunk) - 1;
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${a}-${b}` }));
    requests++;
    let got = 0;
    for await (const c of r.Body) {
      got += c.length;
      h.update(c);
    }
    if (got !== b - a + 1) throw new Error(`GetObject ${key} bytes=${a}-${b}: ${got} bytes`);
    bytes += got;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  client.destroy();
  return { mode: 's3-loop', requests, bytes, seconds, mbs: bytes / seconds / 1e6, downloads: [{ status: 206, bytes, ...h.result() }] };
}

let out;
if (mode === 'http') {
  const [url, n = '1', verify] = rest;
  const t0 = process.hrtime.bigint();
  const downloads = await Promise.all(Array.from({ length: Number(n) }, () => httpDownload(url, verify)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const bytes = downloads.reduce((s, d) => s + d.bytes, 0);
  out = { mode, clients: Number(n), bytes, seconds, mbs: bytes / seconds / 1e6, downloads };
} else if (mode === 's3-loop') {
  const [endpoint, bucket, key, size, chunk, verify] = rest;
  out = await s3Loop(endpoint, bucket, key, Number(size), Number(chunk), verify);
} else {
  throw new Error(`s3-fetch.mjs: unknown mode ${mode} (http | s3-loop)`);
}
console.log(JSON.stringify(out));
