// The S3 side of the bench (issue 13): s3rver with the bench files uploaded (bench/s3-server.mjs, a
// child of its own, started once per run and shared by the `s3` column and the s3-* workloads),
// `cutover serve --manifest ... --store s3://bench/` on it, the warm-up that loads the `s3` column's
// data into its chunk cache, and the counters read from serve's /metrics.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { BENCH, DATA, OUT, ROOT } from './constants.mjs';
import { log } from './log.mjs';
import { freePorts, startServer, waitForLog, waitForPort } from './processes.mjs';

/** The bucket the bench files are uploaded to. */
export const S3_BUCKET = 'bench';
/** The bench files uploaded, each under its own name, served by the manifest at /<name>. */
export const S3_BLOBS = ['small.json', '1m.bin', '64m.bin', '256m.bin'];
/** s3rver's fixed key pair, given to cutover serve and the reference loop through the AWS standard chain (environment). */
export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

/**
 * ensureS3rver starts bench/s3-server.mjs (data directory bench/out/s3rver, emptied first; every file
 * of S3_BLOBS uploaded) unless this run already did, and waits for its `ready` line (up to 180 s:
 * the uploads of 320 MiB). Returns { child, endpoint }, kept in ctx.s3rver.
 */
export async function ensureS3rver(ctx) {
  if (ctx.s3rver) return ctx.s3rver;
  const args = [path.join(BENCH, 's3-server.mjs'), '--dir', path.join(OUT, 's3rver'), '--bucket', S3_BUCKET, ...S3_BLOBS.map((b) => `${b}=${path.join(DATA, b)}`)];
  const child = startServer(ctx, 's3rver', process.execPath, args);
  await waitForLog(child, /^ready http:\/\/\S+$/m, 180_000);
  const text = fs.readFileSync(child.logPath, 'utf8');
  const endpoint = /^ready (http:\/\/\S+)$/m.exec(text)[1];
  log(`s3rver listening on ${endpoint} (pid ${child.proc.pid}): ${/^uploaded .*$/m.exec(text)?.[0] ?? ''}`);
  ctx.s3rver = { child, endpoint };
  return ctx.s3rver;
}

/** s3Manifest is the manifest of serve from S3: one payload per file of S3_BLOBS at its own path, blob = its name. */
export function s3Manifest() {
  return { version: 1, payloads: S3_BLOBS.map((b) => ({ name: `bench-${b.replace(/\W/g, '-')}`, paths: [`/${b}`], content: { blob: b } })) };
}

/** writeS3Manifest writes s3Manifest() to bench/out/manifest-s3.json and returns its path. */
export function writeS3Manifest() {
  const file = path.join(OUT, 'manifest-s3.json');
  fs.writeFileSync(file, JSON.stringify(s3Manifest(), null, 1) + '\n');
  return file;
}

/**
 * startS3Serve starts a cutover serve (launcher `cmd` of servers.mjs cutoverCommand) in manifest mode
 * on s3rver, `--cache-size cacheSize` (a string as the flag takes it) and the `extra` flags, with a
 * metrics listener, and waits for its port. Returns { name, port, metricsPort, child, describe, cacheBytes }.
 */
export async function startS3Serve(ctx, cmd, name, cacheSize, cacheBytes, extra = []) {
  const { endpoint } = await ensureS3rver(ctx);
  const manifest = writeS3Manifest();
  const [port, metricsPort] = await freePorts(2);
  const flags = ['--manifest', manifest, '--store', `s3://${S3_BUCKET}/`, '--s3-endpoint', endpoint, '--s3-path-style', '--cache-size', cacheSize, ...extra];
  const child = startServer(ctx, name, process.execPath, [...ctx.opts.nodeArgs, cmd.file, 'serve', ...flags, '--listen', `127.0.0.1:${port}`, '--metrics-listen', `127.0.0.1:${metricsPort}`], { env: S3_ENV });
  child.drainMs = 3000;
  await waitForPort(child, port);
  await waitForPort(child, metricsPort);
  const describe = `node ${[...ctx.opts.nodeArgs, cmd.rel].join(' ')} serve ${flags.map((f) => (f === manifest ? path.relative(ROOT, f) : f)).join(' ')}`;
  return { name, port, metricsPort, child, describe, cacheBytes };
}

/** metricSum fetches http://127.0.0.1:port/metrics and returns the sum of every series of `name` (all labels). */
export function metricSum(port, name) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let sum = 0;
        for (const line of text.split('\n')) {
          const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
          if (m && m[1] === name) sum += Number(m[3]);
        }
        resolve(sum);
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout GET /metrics')));
    req.on('error', reject);
  });
}

/** drainGet GETs urlPath from 127.0.0.1:port, reads and drops the body; resolves { status, bytes }. */
function drainGet(port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes }));
      res.on('error', reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`timeout GET ${urlPath}`)));
    req.on('error', reject);
  });
}

/**
 * warmS3 loads every file the serve workloads ask of the `s3` column into its chunk cache: one whole
 * GET of each, then a second round that must load no chunk (cutover_serve_chunk_loads_total
 * unchanged), so the workloads after it measure serving from the chunk cache.
 * @throws {Error} when an answer is not a whole 200 or the second round loads chunks.
 */
export async function warmS3(s) {
  const files = ['small.json', '1m.bin', '256m.bin'];
  const t0 = Date.now();
  for (const f of files) {
    const size = fs.statSync(path.join(DATA, f)).size;
    const r = await drainGet(s.port, `/${f}`);
    if (r.status !== 200 || r.bytes !== size) throw new Error(`s3 warm-up: GET /${f}: ${r.status}, ${r.bytes} bytes (expected 200, ${size})`);
  }
  const loads = await metricSum(s.metricsPort, 'cutover_serve_chunk_loads_total');
  for (const f of files) await drainGet(s.port, `/${f}`);
  const again = await metricSum(s.metricsPort, 'cutover_serve_chunk_loads_total');
  if (again !== loads) throw new Error(`s3 warm-up: a second GET of every file loaded ${again - loads} chunks: the data does not stay in the chunk cache`);
  log(`s3 warm-up: ${loads} chunk loads in ${((Date.now() - t0) / 1000).toFixed(1)} s, none on a second round: the data is in the chunk cache`);
  return { chunkLoads: loads };
}
