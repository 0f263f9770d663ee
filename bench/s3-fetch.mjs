#!/usr/bin/env node
// The clients of the s3-cold and s3-spike workloads, one Node process as cutover serve is, so that both
// sides of s3-cold are the same kind of process. Prints one JSON line: bytes, seconds (first request
// sent to last byte read), MB/s (10^6 bytes), and each download's byte count and sha256 (every byte
// is hashed, on both sides alike, so that a fast wrong answer cannot pass).
//
//   node bench/s3-fetch.mjs http URL [CLIENTS]
//     CLIENTS (default 1) concurrent GETs of URL, each on a connection of its own.
//   node bench/s3-fetch.mjs s3-loop ENDPOINT BUCKET KEY SIZE CHUNK
//     the plain reference: a sequential loop of ranged GetObject requests of CHUNK bytes
//     (`Range: bytes=a-(a+CHUNK-1)`) over the SIZE bytes of KEY, path-style, credentials from the AWS
//     standard chain (the harness sets s3rver's pair in the environment).

import crypto from 'node:crypto';
import http from 'node:http';

const [mode, ...rest] = process.argv.slice(2);

/** httpDownload GETs url on a connection of its own and hashes the body; resolves { status, bytes, sha256 }. */
function httpDownload(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const h = crypto.createHash('sha256');
      let bytes = 0;
      res.on('data', (c) => {
        bytes += c.length;
        h.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, bytes, sha256: h.digest('hex') }));
      res.on('error', reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`timeout GET ${url}`)));
    req.on('error', reject);
  });
}

async function s3Loop(endpoint, bucket, key, size, chunk) {
  const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, responseChecksumValidation: 'WHEN_REQUIRED' });
  const h = crypto.createHash('sha256');
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
  return { mode: 's3-loop', requests, bytes, seconds, mbs: bytes / seconds / 1e6, downloads: [{ status: 206, bytes, sha256: h.digest('hex') }] };
}

let out;
if (mode === 'http') {
  const [url, n = '1'] = rest;
  const t0 = process.hrtime.bigint();
  const downloads = await Promise.all(Array.from({ length: Number(n) }, () => httpDownload(url)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const bytes = downloads.reduce((s, d) => s + d.bytes, 0);
  out = { mode, clients: Number(n), bytes, seconds, mbs: bytes / seconds / 1e6, downloads };
} else if (mode === 's3-loop') {
  const [endpoint, bucket, key, size, chunk] = rest;
  out = await s3Loop(endpoint, bucket, key, Number(size), Number(chunk));
} else {
  throw new Error(`s3-fetch.mjs: unknown mode ${mode} (http | s3-loop)`);
}
console.log(JSON.stringify(out));
