// npm run demo: starts `cutover serve` on fixtures/blobs, sends it a battery of real requests and
// prints what a client gets back, then stops the server. No configuration; leaves nothing running.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { get } from 'node:http'

const repo = fileURLToPath(new URL('..', import.meta.url))
const root = `${repo}fixtures/blobs`
const child = spawn(process.execPath, [`${repo}bin/cutover`, 'serve', '--root', root, '--listen', '127.0.0.1:0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
let out = ''
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('cutover serve did not start within 10 s')), 10_000)
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', d => {
    out += d
    const m = /listening on (http:\/\/\S+)/.exec(out)
    if (m) {
      clearTimeout(timer)
      resolve(m[1])
    }
  })
  child.once('exit', code => reject(new Error(`cutover serve exited with ${code}`)))
})
process.stdout.write(out)

const file = '/nums11.txt' // "0123456789\n"
/** fetchRaw sends the target exactly as written (clients such as undici normalise %2e%2e away). */
function fetchRaw(path, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base)
    const req = get({ hostname, port, path, method, headers }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ statusCode: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer for ${path}`)))
  })
}
const etag = (await fetchRaw(file, {}, 'HEAD')).headers.etag
const battery = [
  ['whole file', file, {}],
  ['single range', file, { range: 'bytes=2-5' }],
  ['suffix range', file, { range: 'bytes=-3' }],
  ['open-ended range', file, { range: 'bytes=8-' }],
  ['two ranges (multipart)', file, { range: 'bytes=0-1,5-8' }],
  ['unsatisfiable range', file, { range: 'bytes=11-' }],
  ['malformed range', file, { range: 'bytes=5-1' }],
  ['If-None-Match (revalidate)', file, { 'if-none-match': etag }],
  ['If-Match wrong ETag', file, { 'if-match': '"nope"' }],
  ['If-Range current ETag', file, { range: 'bytes=0-3', 'if-range': etag }],
  ['If-Range stale date', file, { range: 'bytes=0-3', 'if-range': 'Mon, 02 Jan 2006 15:04:05 GMT' }],
  ['name with a space', '/some%20thing.txt', {}],
  ['dotfile', '/.hidden', {}],
  ['traversal', '/%2e%2e/package.json', {}],
  ['missing', '/nope.bin', {}],
]
const rows = []
for (const [what, path, headers] of battery) {
  const res = await fetchRaw(path, headers)
  const body = res.body
  const h = res.headers
  const shown = String(h['content-type'] ?? '').startsWith('multipart/')
    ? `${body.length} bytes multipart (${(body.toString('latin1').match(/Content-Range: [^\r]+/g) ?? []).join(', ')})`
    : JSON.stringify(body.toString('utf8'))
  rows.push([what, path, JSON.stringify(headers).replaceAll(etag.slice(1, -1), 'ETAG'), String(res.statusCode), String(h['content-range'] ?? ''), shown])
}
const cols = ['request', 'path', 'headers', 'status', 'content-range', 'body']
const width = cols.map((c, i) => Math.min(48, Math.max(c.length, ...rows.map(r => r[i].length))))
const line = r => r.map((v, i) => (v.length > width[i] ? v.slice(0, width[i] - 1) + '…' : v.padEnd(width[i]))).join(' | ')
console.log(`\nETag of ${file}: ${etag}\n`)
console.log(line(cols))
console.log(width.map(w => '-'.repeat(w)).join('-|-'))
for (const r of rows) console.log(line(r))
child.kill('SIGTERM')
await new Promise(resolve => child.once('exit', resolve))
console.log(`\n${out.split('\n').filter(l => l.includes('stopped')).join('\n')}`)
