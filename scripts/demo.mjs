// npm run demo: the whole migration audit on embedded defaults, in under a minute, leaving nothing
// running. An "old" server that is a different real implementation (the `send` package: single
// ranges only, weak ETags, plus a per-instance X-Request-Id as many real servers add), `cutover
// serve` as the new one on the same fixture files, `cutover replay` sending a fixture access log
// (with range probes) to both, the same log through `cutover mirror`, then the report.
//
// `node scripts/demo.mjs --s3` (`npm run demo -- --s3`): the same demo with the new server in
// manifest mode from S3: an s3rver (the devDependency the storage tests use) is started in this
// process, the fixture files are uploaded to it, and `cutover serve --manifest --store s3://demo/`
// serves them, one payload per file at the same path.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import send from 'send'

const repo = fileURLToPath(new URL('..', import.meta.url))
const cli = join(repo, 'bin/cutover')
const blobs = join(repo, 'fixtures/blobs')
const rules = join(repo, 'fixtures/rules/demo-send-vs-cutover.yaml')
const work = mkdtempSync(join(tmpdir(), 'cutover-demo-'))
const children = []
const servers = []
const fromS3 = process.argv.slice(2).includes('--s3')
// s3rver's fixed key pair, handed to cutover serve through the AWS standard chain (environment).
const s3Env = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' }
// Bold only on a terminal: piped into a file, the output carries no escape codes.
const say = s => process.stdout.write(process.stdout.isTTY ? `\n\x1b[1m== ${s}\x1b[0m\n` : `\n== ${s}\n`)

/** oldServer is the "old" implementation: send, with its own quirks. */
function oldServer() {
  const server = createServer((req, res) => {
    res.setHeader('X-Request-Id', randomUUID()) // differs on every answer: noise, not a divergence
    send(req, decodeURIComponent(req.url.split('?')[0]), { root: blobs, dotfiles: 'ignore' })
      .on('error', err => {
        res.statusCode = err.status ?? 500
        res.end(`${res.statusCode}\n`)
      })
      .pipe(res)
  })
  servers.push(server)
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)))
}

/** filesUnder lists the files under dir (relative, '/'-separated), dotfiles left out as directory mode hides them. */
function filesUnder(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true })
    .filter(e => !e.name.startsWith('.'))
    .flatMap(e => (e.isDirectory() ? filesUnder(join(dir, e.name), base) : [relative(base, join(dir, e.name)).split('\\').join('/')]))
}

/**
 * s3Origin starts an s3rver in this process (closed by cleanup), uploads every fixture file to bucket
 * "demo" under its relative path, and writes a manifest serving each at the same path. Resolves with
 * the serve flags of manifest mode from it.
 */
async function s3Origin() {
  const { default: S3rver } = await import('s3rver')
  const { PutObjectCommand, S3Client } = await import('@aws-sdk/client-s3')
  const dir = join(work, 's3rver')
  mkdirSync(dir)
  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'demo' }] })
  const addr = await s3.run()
  servers.push(s3)
  const endpoint = `http://127.0.0.1:${addr.port}`
  // Plain PUTs: s3rver knows no aws-chunked bodies.
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
  const files = filesUnder(blobs)
  for (const f of files) await client.send(new PutObjectCommand({ Bucket: 'demo', Key: f, Body: readFileSync(join(blobs, f)) }))
  client.destroy()
  const manifest = join(work, 'manifest.json')
  const payloads = files.map((f, i) => ({ name: `file-${i}`, paths: [`/${f}`], content: { blob: f } }))
  writeFileSync(manifest, JSON.stringify({ version: 1, payloads }, null, 2))
  say(`s3rver on ${endpoint}: ${files.length} fixture files uploaded to bucket "demo"; the manifest serves each at its path`)
  return ['--manifest', manifest, '--store', 's3://demo/', '--s3-endpoint', endpoint, '--s3-path-style']
}

/** start runs a cutover command that prints "listening on URL" and resolves with the URL. */
function start(args, env = process.env) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  children.push(child)
  let out = ''
  child.stdout.setEncoding('utf8').on('data', d => (out += d))
  child.stderr.setEncoding('utf8').on('data', d => (out += d))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${out}`)), 10_000)
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ url: m[1], child, output: () => out })
      }
    })
    child.once('exit', code => reject(new Error(`${args[0]} exited with ${code}: ${out}`)))
  })
}

/** run runs a cutover command to its end, streaming its output (or not), and resolves with its exit code. */
function run(args, output = 'inherit') {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', output, output] })
  children.push(child)
  return new Promise(resolve => child.once('exit', code => resolve(code)))
}

async function main() {
  const old = await oldServer()
  const baseline = await oldServer()
  const nw = fromS3 ? await start(['serve', ...(await s3Origin()), '--listen', '127.0.0.1:0'], s3Env) : await start(['serve', '--root', blobs, '--listen', '127.0.0.1:0'])
  const mirrorOut = join(work, 'mirror.jsonl')
  // --shed-above 1: the replay below sends its records as fast as it can, which keeps a freshly
  // started mirror's event loop saturated for about a second; by default the mirror would then
  // shed part of the shadow work (counted), and the demo is meant to show every exchange audited.
  const mirror = await start(['mirror', '--listen', '127.0.0.1:0', '--old', old, '--new', nw.url, '--baseline', baseline, '--out', mirrorOut, '--rules', rules, '--grace', '10s', '--shed-above', '1'])
  say(`old = send (${old}), baseline = a second send (${baseline}), new = cutover serve${fromS3 ? ' --manifest from S3' : ''} (${nw.url}), mirror = ${mirror.url}`)

  const logs = readdirSync(join(repo, 'fixtures/logs')).filter(f => /combined/.test(f) && !f.endsWith('.gz'))
  const log = join(repo, 'fixtures/logs', logs[0] ?? 'nginx-combined.log')
  const replayOut = join(work, 'replay.jsonl')
  // The replay talks to old and new directly, so that both sides' latencies are measured alike; the
  // same log then goes through the mirror, which audits it on the way (what it would do in
  // production, in front of real clients).
  say(`cutover replay ${log.slice(repo.length)} against old and new directly, with 8 range probes per file and the rules in ${rules.slice(repo.length)}`)
  const code = await run(['replay', log, '--old', old, '--new', nw.url, '--baseline', baseline, '--range-probes', '8', '--rules', rules, '--out', replayOut])
  say('the same log through cutover mirror: old answers each client, new is compared on the side')
  await run(['replay', log, '--old', mirror.url, '--new', nw.url, '--range-probes', '8', '--rules', rules], 'ignore')
  mirror.child.kill('SIGTERM')
  await new Promise(resolve => mirror.child.once('exit', resolve))
  process.stdout.write(mirror.output().split('\n').filter(l => !l.includes('listening on')).join('\n'))
  say('cutover report of the replay')
  // No --old/--new: the servers stop with the demo, so the compare commands name $OLD and $NEW.
  await run(['report', replayOut, '--top', '5'])
  say(`replay exit status ${code}: ${code === 1 ? 'divergences found' : code === 0 ? 'no divergence' : 'error'}`)
  process.stdout.write(
    [
      'What the demo shows:',
      '- real divergences: `send` answers a request for several ranges with the whole file (200), where',
      '  Go ServeContent, and so cutover, answers 206 multipart/byteranges: a download manager sees the',
      '  difference, so the audit reports it (exit status 1 gates the cut-over);',
      '- explained differences: weak vs strong ETags, Cache-Control, charset, error pages: the rules file',
      '  says they are expected; they are kept in the records as "ignored", with the rule;',
      '- noise: X-Request-Id differs between two instances of the old server too (the baseline), so it',
      '  is reported apart, as noise, not as a divergence;',
      '- bad log lines are reported with file:line and why, and never stop the replay.',
      ...(fromS3
        ? [
            '- from S3 (--s3): Last-Modified is the time of the upload (S3 keeps no file mtime), not the',
            "  file's, so every answer's date differs from the old server's: a real divergence for clients",
            '  that revalidate or resume by date (If-Modified-Since, If-Range with a date); the report',
            '  names the rules that would accept it, if the migration decides it may.',
          ]
        : []),
      '',
      'The servers stopped with the demo. To run an example\'s compare command, start an old and a new',
      'server and set OLD and NEW, e.g.:',
      '  npx cutover serve --root fixtures/blobs --listen 127.0.0.1:8081 &   # stands in for old here',
      '  npx cutover serve --root fixtures/blobs --listen 127.0.0.1:8082 &',
      '  export OLD=http://127.0.0.1:8081 NEW=http://127.0.0.1:8082',
      '',
    ].join('\n'),
  )
}

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const s of servers) s.close()
  rmSync(work, { recursive: true, force: true })
}

try {
  await main()
} catch (err) {
  process.stderr.write(`demo failed: ${err.stack ?? err}\n`)
  process.exitCode = 1
} finally {
  cleanup()
}
