import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { get, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import S3rver from 's3rver'
import type { Test } from 'tap'
import { createHash } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { CLI, spawnListening } from './serve.js'

/** S3Target is an S3-compatible service an end-to-end test serves from. */
export interface S3Target {
  readonly name: string
  readonly endpoint: string
  readonly bucket: string
  readonly region: string
  /** The key pair the service takes, or undefined for the AWS standard chain of this process. */
  readonly keys: { accessKeyId: string; secretAccessKey: string } | undefined
}

/**
 * startS3rver runs a real s3rver on a free loopback port with bucket "cutover-e2e", closed at teardown
 * (as test/storage/s3-store.ts does).
 */
export async function startS3rver(t: Test): Promise<S3Target> {
  // A directory of its own, not t.testdir(): the test's own t.testdir() call would empty it.
  const directory = mkdtempSync(join(tmpdir(), 'cutover-s3rver-'))
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: 'cutover-e2e' }] })
  const addr = await server.run()
  t.teardown(async () => {
    await server.close()
    rmSync(directory, { recursive: true, force: true })
  })
  return { name: 's3rver', endpoint: `http://127.0.0.1:${addr.port}`, bucket: 'cutover-e2e', region: 'us-east-1', keys: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }
}

/** envTarget is the service named by CUTOVER_TEST_S3_ENDPOINT and CUTOVER_TEST_S3_BUCKET, if both are set. */
export function envTarget(): S3Target | undefined {
  const endpoint = process.env.CUTOVER_TEST_S3_ENDPOINT
  const bucket = process.env.CUTOVER_TEST_S3_BUCKET
  if (!endpoint || !bucket) return undefined
  return { name: endpoint, endpoint, bucket, region: process.env.CUTOVER_TEST_S3_REGION ?? process.env.AWS_REGION ?? 'us-east-1', keys: undefined }
}

/** Bucket uploads under a prefix of its own and deletes what it wrote at teardown. */
export interface Bucket {
  readonly prefix: string
  put(key: string, body: Uint8Array): Promise<void>
}

/** bucketOf is a {@link Bucket} on `target` (plain PUTs: s3rver knows no aws-chunked bodies). */
export function bucketOf(t: Test, target: S3Target): Bucket {
  const client = new S3Client({
    region: target.region,
    endpoint: target.endpoint,
    forcePathStyle: true,
    ...(target.keys ? { credentials: target.keys } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  // A prefix of its own: on a shared bucket, runs do not meet.
  const prefix = `cutover-e2e-${randomBytes(6).toString('hex')}/`
  const written = new Set<string>()
  t.teardown(async () => {
    for (const key of written) await client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: prefix + key })).catch(() => undefined)
    client.destroy()
  })
  return {
    prefix,
    put: async (key, body) => {
      written.add(key)
      await client.send(new PutObjectCommand({ Bucket: target.bucket, Key: prefix + key, Body: body }))
    },
  }
}

/** manifestFile writes a manifest serving each blob key at `/<key>` and returns its path. */
export function manifestFile(dir: string, keys: readonly string[]): string {
  const path = join(dir, 'payloads.yaml')
  const payloads = keys.map((k, i) => `  - name: p${i}\n    paths: [/${k}]\n    content: { blob: ${k} }\n`).join('')
  writeFileSync(path, `version: 1\npayloads:\n${payloads}`)
  return path
}

/** ServeProcess is a running `cutover serve` child. */
export interface ServeProcess {
  readonly url: string
  readonly metricsUrl: string
  readonly child: ChildProcess
  output(): string
}

/**
 * startS3Serve runs `cutover serve --manifest FILE --store s3://BUCKET/PREFIX` against `endpoint`
 * (the service, or a proxy in front of it), with its keys in the child's environment (the AWS
 * standard chain), metrics on a listener of their own, and `extra` flags.
 */
export async function startS3Serve(
  t: Test,
  o: { manifest: string; target: S3Target; prefix: string; endpoint?: string; extra?: readonly string[]; fallbacks?: readonly string[] },
): Promise<ServeProcess> {
  const env = o.target.keys ? [`AWS_ACCESS_KEY_ID=${o.target.keys.accessKeyId}`, `AWS_SECRET_ACCESS_KEY=${o.target.keys.secretAccessKey}`] : []
  const store = `s3://${o.target.bucket}/${o.prefix}`
  const args = ['--manifest', o.manifest, '--store', store, '--s3-endpoint', o.endpoint ?? o.target.endpoint, '--s3-path-style', '--s3-region', o.target.region]
  for (const f of o.fallbacks ?? []) args.push('--fallback-store', f)
  return startServeArgs(t, [...args, ...(o.extra ?? [])], env)
}

/**
 * startServeArgs runs `cutover serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 ARGS`, through
 * env(1) when `env` has assignments (it execs: the PID is serve's own). A start (loading the AWS
 * SDK) takes seconds of CPU: with the suite's other files running on the same cores, it is given
 * {@link SERVE_START_MS}.
 */
export async function startServeArgs(t: Test, args: readonly string[], env: readonly string[] = []): Promise<ServeProcess> {
  const all = [CLI, 'serve', '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--settle-time', '0', ...args]
  const { url, child, output } =
    env.length > 0
      ? await spawnListening(t, 'env', [...env, process.execPath, ...all], 'cutover serve', SERVE_START_MS)
      : await spawnListening(t, process.execPath, all, 'cutover serve', SERVE_START_MS)
  const m = /metrics (http:\/\/\S+\/metrics)\)/.exec(output())
  if (!m) throw new Error(`no metrics address in: ${output()}`)
  return { url, metricsUrl: m[1]!, child, output }
}

/** SERVE_START_MS bounds a serve's start: 45 s. */
export const SERVE_START_MS = 45_000

/** Fetched is one response as a client saw it: status, header, the body bytes that came, and whether it ended cleanly. */
export interface Fetched {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** The body ended with its framing complete (false: the connection was cut). */
  readonly complete: boolean
}

/**
 * fetchBody sends one GET (or HEAD) on a fresh connection and resolves with what came, a cut
 * connection included (complete false). Bounded by `timeoutMs`.
 */
export function fetchBody(url: string, o: { method?: string; headers?: Record<string, string>; timeoutMs?: number; hash?: boolean } = {}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = get(url, { method: o.method ?? 'GET', headers: o.headers, agent: false }, res => {
      const chunks: Buffer[] = []
      let done = false
      const finish = (complete: boolean): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete })
      }
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => finish(res.complete))
      res.on('aborted', () => finish(false))
      res.on('error', () => finish(false))
      res.on('close', () => finish(res.complete))
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`${url}: no complete response in ${o.timeoutMs ?? 15_000} ms`))
    }, o.timeoutMs ?? 15_000)
    req.on('error', err => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/**
 * hashBody downloads `url` and hashes the body as it streams (nothing kept), resolving with the
 * status, the byte count and the sha256. Bounded by `timeoutMs`.
 */
export function hashBody(url: string, timeoutMs: number): Promise<{ status: number; bytes: number; sha256: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, res => {
      const h = createHash('sha256')
      let bytes = 0
      res.on('data', (d: Buffer) => {
        bytes += d.length
        h.update(d)
      })
      res.on('close', () => {
        clearTimeout(timer)
        resolve({ status: res.statusCode ?? 0, bytes, sha256: h.digest('hex'), complete: res.complete })
      })
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`${url}: no complete response in ${timeoutMs} ms`))
    }, timeoutMs)
    req.on('error', err => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/** scrape reads the metrics exposition once. */
export async function scrape(metricsUrl: string): Promise<string> {
  const r = await fetchBody(metricsUrl)
  if (r.status !== 200) throw new Error(`scrape: ${r.status}`)
  return r.body.toString()
}

/** sample reads one sample of a Prometheus text exposition (`name{labels}` exactly as exposed); 0 when absent. */
export function sample(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    if (line.slice(0, space) === name) return Number(line.slice(space + 1))
  }
  return 0
}

/**
 * settled scrapes until no request is active on the server (a response is counted when it closes
 * on the server, which may come just after the client has its last byte); bounded to 200 scrapes.
 */
export async function settled(metricsUrl: string): Promise<string> {
  let text = ''
  for (let i = 0; i < 200; i++) {
    text = await scrape(metricsUrl)
    if (sample(text, 'cutover_serve_active_requests') === 0) return text
  }
  throw new Error(`requests still active after 200 scrapes:\n${text}`)
}

/** peakRssBytes is the peak resident set of process `pid` (VmHWM of /proc/<pid>/status). */
export function peakRssBytes(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no VmHWM for ${pid}`)
  return Number(m[1]) * 1024
}
