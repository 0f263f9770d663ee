#!/usr/bin/env node
// The S3 service of the bench's `s3` column and s3-* workloads: a real s3rver (the devDependency the
// storage tests run against) on 127.0.0.1, its data directory given, one bucket, the files named on
// the command line uploaded once with @aws-sdk/client-s3 (plain PUTs: s3rver knows no aws-chunked
// bodies), then it prints `ready http://127.0.0.1:PORT` and serves until SIGTERM. A process of its
// own, so that its CPU and memory are not counted as the measured server's and the harness stops it
// by PID like every other child.
//
//   node bench/s3-server.mjs --dir bench/out/s3rver --bucket bench KEY=FILE [KEY=FILE ...]
//
// Keys as given; credentials are s3rver's fixed pair (S3RVER / S3RVER).

import fs from 'node:fs';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

const args = process.argv.slice(2);
let dir;
let bucket = 'bench';
let port = 0;
const uploads = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dir') dir = args[++i];
  else if (a === '--bucket') bucket = args[++i];
  else if (a === '--port') port = Number(args[++i]);
  else if (a.includes('=')) {
    const eq = a.indexOf('=');
    uploads.push({ key: a.slice(0, eq), file: a.slice(eq + 1) });
  } else throw new Error(`s3-server.mjs: unknown argument ${a}`);
}
if (!dir) throw new Error('s3-server.mjs: --dir is required');

// A fresh directory every run: no object of an earlier run (or of another data set) is served.
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
const addr = await server.run();
const endpoint = `http://127.0.0.1:${addr.port}`;
const client = new S3Client({
  region: 'us-east-1',
  endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
const t0 = Date.now();
let bytes = 0;
for (const u of uploads) {
  const size = fs.statSync(u.file).size;
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: u.key, Body: fs.createReadStream(u.file), ContentLength: size }));
  bytes += size;
}
client.destroy();
console.log(`uploaded ${uploads.length} objects, ${bytes} bytes, in ${Date.now() - t0} ms`);
console.log(`ready ${endpoint}`);

const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
