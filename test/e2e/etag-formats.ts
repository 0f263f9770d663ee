/**
 * `serve --etag nginx|apache` against the real servers: for the same files, cutover sends exactly
 * the ETag (and Last-Modified) that Debian's nginx and Apache httpd 2.4 send, and answers the
 * validators clients took from the old server (If-Range resumes, If-None-Match revalidations,
 * If-Match) with the same status as the old server itself. Apache weakens its tag while the mtime
 * is less than a second old (or in the future); that case is checked with a future mtime, so it
 * does not depend on how fast the test runs.
 */
import t from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { APACHE, startApache } from '../helpers/apache.js'
import { startNginx } from '../helpers/nginx.js'
import { hasTool, requireTool, startServeProcess } from '../helpers/serve.js'

const FILES = [
  { name: 'nums11.txt', data: Buffer.from('0123456789\n'), mtime: 1_700_000_000.123456 },
  { name: 'big.bin', data: Buffer.alloc(3 * 1024 * 1024 + 5, 0x5a), mtime: 1_600_000_123.5 },
  { name: 'whole-second.bin', data: Buffer.from('whole second mtime'), mtime: 1_700_000_000 },
  // Apache: weak while request_time - mtime <= 1 s, so an mtime an hour ahead is weak throughout.
  { name: 'future.txt', data: Buffer.from('written in the future'), mtime: Math.floor(Date.now() / 1000) + 3600 },
]

interface Seen {
  status: number
  etag: string | undefined
  lastModified: string | undefined
  contentRange: string | undefined
  length: number
}

async function fetchSeen(dispatcher: Agent, url: string, headers: Record<string, string> = {}): Promise<Seen> {
  const res = await request(url, { dispatcher, headers, headersTimeout: 10_000, bodyTimeout: 10_000 })
  const body = Buffer.from(await res.body.arrayBuffer())
  const h = (n: string): string | undefined => {
    const v = res.headers[n]
    return Array.isArray(v) ? v.join(', ') : v
  }
  return { status: res.statusCode, etag: h('etag'), lastModified: h('last-modified'), contentRange: h('content-range'), length: body.length }
}

/** rowsFor builds the validator requests a client holding `old`'s answer would send. */
function rowsFor(seen: Seen): Array<{ what: string; headers: Record<string, string> }> {
  const rows = [{ what: 'a plain GET', headers: {} }]
  if (seen.etag) {
    rows.push(
      { what: 'a resume with If-Range on its ETag', headers: { 'If-Range': seen.etag, Range: 'bytes=5-9' } },
      { what: 'a revalidation with If-None-Match', headers: { 'If-None-Match': seen.etag } },
      { what: 'If-Match with its ETag', headers: { 'If-Match': seen.etag } },
    )
  }
  if (seen.lastModified) rows.push({ what: 'a resume with If-Range on its date', headers: { 'If-Range': seen.lastModified, Range: 'bytes=5-9' } })
  return rows
}

const servers = [
  { format: 'nginx', tool: 'nginx', start: startNginx },
  { format: 'apache', tool: APACHE, start: startApache },
] as const

// Apache's workers run as nobody when the test runs as root: the files and Apache's work dir live
// in a world-readable directory under the system temp dir, not under the checkout (which may sit
// in a private home directory).
const dir = mkdtempSync(join(tmpdir(), 'cutover-etag-'))
chmodSync(dir, 0o755)
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const root = join(dir, 'root')
mkdirSync(root, { mode: 0o755 })
for (const f of FILES) {
  writeFileSync(join(root, f.name), f.data)
  utimesSync(join(root, f.name), f.mtime, f.mtime)
}
const dispatcher = new Agent({ connections: 4 })
t.teardown(() => dispatcher.destroy())

for (const s of servers) {
  t.test(`cutover serve --etag ${s.format} looks like ${s.format}`, async t => {
    if (s.tool === APACHE ? !hasTool(APACHE) && !requireTool(t, 'apache2') : !requireTool(t, s.tool)) return
    const old = await s.start(t, root, join(dir, `${s.format}-work`))
    // The fixtures were written just now: trust them at once (the settle time has tests of its own).
    const cut = await startServeProcess(t, root, ['--etag', s.format, '--settle-time', '0'])
    for (const f of FILES) {
      const fromOld = await fetchSeen(dispatcher, `${old.url}/${f.name}`)
      const fromCut = await fetchSeen(dispatcher, `${cut.url}/${f.name}`)
      t.ok(fromOld.etag, `${s.format} sends an ETag for ${f.name}`)
      t.equal(fromCut.etag, fromOld.etag, `${f.name}: the same ETag as ${s.format} (${fromOld.etag})`)
      t.equal(fromCut.lastModified, fromOld.lastModified, `${f.name}: the same Last-Modified`)
      // A client that downloaded from the old server comes back to the new one with its validators.
      for (const row of rowsFor(fromOld)) {
        const a = await fetchSeen(dispatcher, `${old.url}/${f.name}`, row.headers)
        const b = await fetchSeen(dispatcher, `${cut.url}/${f.name}`, row.headers)
        t.same(
          { status: b.status, contentRange: b.contentRange, length: b.length },
          { status: a.status, contentRange: a.contentRange, length: a.length },
          `${f.name}, ${row.what}: cutover answers ${a.status} as ${s.format} does`,
        )
      }
    }
  })
}
