import { statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { codeOf } from '../../src/core/errors.js'
import { ContentTypeResolver } from '../../src/http/content-type-resolver.js'
import { cleanPath, StaticRoot } from '../../src/server/static-root.js'
import { fileEtag } from '../../src/server/file-etag.js'

/** LATER is a clock ten seconds ahead: files written by the test have settled by then. */
const LATER = { now: () => Date.now() + 10_000 }

const pathCases: Array<{ raw: string; dotfiles?: boolean; want?: string; code?: string }> = [
  { raw: '/', want: '' },
  { raw: '/a.txt', want: 'a.txt' },
  { raw: '//a///b/./c.txt', want: 'a/b/c.txt' },
  { raw: '/some%20thing.txt', want: 'some thing.txt' },
  { raw: '/snow%20%E2%98%83.txt', want: 'snow ☃.txt' },
  { raw: '/do..ts.txt', want: 'do..ts.txt' },
  { raw: '/a/..b/c', code: 'ERR_NOT_FOUND' },
  { raw: '/a/..b/c', dotfiles: true, want: 'a/..b/c' },
  { raw: '/../etc/passwd', code: 'ERR_BAD_REQUEST' },
  { raw: '/a/../b', code: 'ERR_BAD_REQUEST' },
  { raw: '/%2e%2e/x', code: 'ERR_BAD_REQUEST' },
  { raw: '/a/%2E%2E/%2E%2E/etc/passwd', code: 'ERR_BAD_REQUEST' },
  { raw: '/a%2f..%2fb', code: 'ERR_BAD_REQUEST' },
  { raw: '/a%5c..%5cb', code: 'ERR_BAD_REQUEST' },
  { raw: '/a\\b', code: 'ERR_BAD_REQUEST' },
  { raw: '/%zz', code: 'ERR_BAD_REQUEST' },
  { raw: '/%E2%98', code: 'ERR_BAD_REQUEST' },
  { raw: '/a%00.txt', code: 'ERR_BAD_REQUEST' },
  { raw: 'a.txt', code: 'ERR_BAD_REQUEST' },
  { raw: '*', code: 'ERR_BAD_REQUEST' },
  { raw: '/.hidden', code: 'ERR_NOT_FOUND' },
  { raw: '/dir/.git/config', code: 'ERR_NOT_FOUND' },
  { raw: '/%2ehidden', code: 'ERR_NOT_FOUND' },
  { raw: '/.hidden', dotfiles: true, want: '.hidden' },
  { raw: '/.well-known/x', dotfiles: true, want: '.well-known/x' },
  { raw: '/..', dotfiles: true, code: 'ERR_BAD_REQUEST' },
]

t.test('cleanPath maps request paths to relative file paths or refuses them', async t => {
  for (const c of pathCases) {
    const title = `${c.raw}${c.dotfiles ? ' (dotfiles)' : ''}`
    if (c.code) {
      t.equal(
        (() => {
          try {
            cleanPath(c.raw, c.dotfiles ?? false)
            return 'no error'
          } catch (err) {
            return codeOf(err)
          }
        })(),
        c.code,
        `${title} is refused with ${c.code}`,
      )
    } else {
      t.equal(cleanPath(c.raw, c.dotfiles ?? false), c.want, `${title} maps to "${c.want}"`)
    }
  }
})

t.test('StaticRoot resolves files, revalidates the cache and refuses escapes', async t => {
  const top = t.testdir({
    outside: { 'secret.txt': 'secret' },
    root: { 'a.txt': 'hello', sub: { 'index.html': '<p>hi</p>' }, empty: {} },
  })
  const outside = `${top}/outside`
  const dir = `${top}/root`
  symlinkSync(`${outside}/secret.txt`, `${dir}/escape.txt`)
  symlinkSync(`${dir}/a.txt`, `${dir}/inside.txt`)
  const root = new StaticRoot({ root: dir, clock: LATER })
  const read = async (p: string): Promise<string> => {
    const r = await root.resolve(p)
    if (r.kind !== 'entity') return `redirect ${r.location}`
    const buf = Buffer.alloc(r.entity.content.size)
    await r.entity.content.readAt(buf, 0)
    r.release()
    return buf.toString()
  }
  const code = async (p: string): Promise<string | undefined> => {
    try {
      await root.resolve(p)
      return 'resolved'
    } catch (err) {
      return codeOf(err)
    }
  }
  t.equal(await read('/a.txt'), 'hello')
  t.equal(await read('/a.txt'), 'hello', 'a second request is served from the cache')
  t.equal(root.stats.hits, 1)
  t.equal(await read('/inside.txt'), 'hello', 'a symlink inside the root is followed')
  t.equal(await code('/escape.txt'), 'ERR_NOT_FOUND', 'a symlink leading out of the root is 404')
  t.equal(root.stats.escapes, 1)
  t.equal(await read('/sub'), 'redirect /sub/')
  t.equal(await read('/sub/'), '<p>hi</p>', 'a directory serves its index')
  t.equal(await code('/empty/'), 'ERR_FORBIDDEN', 'a directory without index is 403')
  t.equal(await code('/a.txt/'), 'ERR_NOT_FOUND', 'a file named as a directory is 404')
  t.equal(await code('/missing'), 'ERR_NOT_FOUND')

  writeFileSync(`${dir}/a.txt`, 'changed!')
  utimesSync(`${dir}/a.txt`, 1700000000, 1700000001)
  t.equal(await read('/a.txt'), 'changed!', 'a changed file is read again')
  const r = await root.resolve('/a.txt')
  t.equal(r.kind === 'entity' && r.entity.etag, fileEtag('cutover', { size: 8, mtimeNs: 1700000001_000_000_000n }, 0, false).etag)
})

t.test('StaticRoot refuses a root that is not a directory', async t => {
  const dir = t.testdir({ 'f.txt': 'x' })
  t.throws(() => new StaticRoot({ root: `${dir}/f.txt` }), TypeError)
  t.throws(() => new StaticRoot({ root: `${dir}/missing` }))
})

t.test('StaticRoot shares one descriptor between requests for a large file until it changes', async t => {
  const dir = t.testdir({ 'big.bin': Buffer.alloc(4096, 7) })
  const root = new StaticRoot({ root: dir, smallFileMax: 1024, clock: LATER })
  const a = await root.resolve('/big.bin')
  const b = await root.resolve('/big.bin')
  t.equal(root.stats.opens, 1, 'the second request reuses the open file')
  const buf = Buffer.alloc(16)
  if (a.kind !== 'entity' || b.kind !== 'entity') throw new Error('expected entities')
  a.release()
  t.equal(await b.entity.content.readAt(buf, 100), 16, 'a release by one request does not close the file for the other')
  b.release()
  writeFileSync(`${dir}/big.bin`, Buffer.alloc(4096, 8))
  utimesSync(`${dir}/big.bin`, 1700000000, 1700000002)
  const c = await root.resolve('/big.bin')
  t.equal(root.stats.opens, 2, 'a changed file is opened again')
  if (c.kind !== 'entity') throw new Error('expected an entity')
  await c.entity.content.readAt(buf, 0)
  t.equal(buf[0], 8, 'and serves the new bytes')
  c.release()
})

t.test('StaticRoot keeps one descriptor per file, whatever path names it', async t => {
  const dir = t.testdir({ 'big.bin': Buffer.alloc(4096, 7) })
  const root = new StaticRoot({ root: dir, smallFileMax: 1024, clock: LATER })
  // Aliases of one file: merged slashes and percent-escapes are each a cache key of their own.
  const aliases = ['/big.bin', '//big.bin', '///big.bin', '/%62ig.bin', '/./big.bin']
  const held = []
  for (const path of aliases) {
    const r = await root.resolve(path)
    if (r.kind !== 'entity') throw new Error('expected an entity')
    held.push(r)
  }
  t.equal(root.stats.opens, 1, 'every alias reads through the one open file')
  t.equal(root.stats.misses, aliases.length, 'each alias is still resolved (cleaned, stat-ed) once')
  for (const r of held) r.release()
  const again = await root.resolve('//big.bin')
  t.equal(root.stats.opens, 1, 'and later requests do not open it either')
  if (again.kind === 'entity') again.release()
})

t.test('StaticRoot serves a file that changed less than settleMs ago as settling: weak validators, nothing cached', async t => {
  const dir = t.testdir({ 'a.txt': 'hello', 'big.bin': Buffer.alloc(4096, 1) })
  // The files were written just now: their ctime is before this instant (Date.now() counts whole
  // milliseconds, ctime does not: hence the + 1).
  let now = Date.now() + 1
  const root = new StaticRoot({ root: dir, smallFileMax: 1024, clock: { now: () => now } })
  const look = async (p: string): Promise<{ etag: string | undefined; weakDate: boolean | undefined }> => {
    const r = await root.resolve(p)
    if (r.kind !== 'entity') throw new Error('expected an entity')
    r.release()
    return { etag: r.entity.etag, weakDate: r.entity.lastModifiedWeak }
  }
  for (const p of ['/a.txt', '/big.bin', '/a.txt', '/big.bin']) {
    const e = await look(p)
    t.match(e.etag, /^W\/"/, `${p}: weak ETag while settling`)
    t.equal(e.weakDate, true, `${p}: its date does not satisfy If-Range`)
  }
  t.equal(root.stats.hits, 0, 'nothing read while settling is served from the cache')
  t.equal(root.stats.opens, 4, 'every request opens the file again')
  now += 1000
  for (const p of ['/a.txt', '/big.bin']) {
    const e = await look(p)
    t.match(e.etag, /^"/, `${p}: strong once settled`)
    t.equal(e.weakDate, undefined, `${p}: its date is a strong validator again`)
  }
  await look('/a.txt')
  await look('/big.bin')
  t.equal(root.stats.hits, 2, 'and cached from then on')
})

t.test('StaticRoot reads again a file rewritten in place whose mtime was put back (touch -d)', async t => {
  const dir = t.testdir({ 'a.txt': 'hello' })
  const root = new StaticRoot({ root: dir, clock: LATER })
  utimesSync(`${dir}/a.txt`, 1700000000, 1700000000)
  const read = async (): Promise<string> => {
    const r = await root.resolve('/a.txt')
    if (r.kind !== 'entity') throw new Error('expected an entity')
    const buf = Buffer.alloc(r.entity.content.size)
    await r.entity.content.readAt(buf, 0)
    return buf.toString()
  }
  t.equal(await read(), 'hello')
  t.equal(await read(), 'hello')
  t.equal(root.stats.hits, 1, 'cached')
  // Same size, same mtime: only the ctime, which the kernel sets on every change, tells. The
  // rewrite is repeated until the ctime tick has moved (bounded) so that it can tell.
  const before = statSync(`${dir}/a.txt`).ctimeMs
  for (let i = 0; i < 100_000 && statSync(`${dir}/a.txt`).ctimeMs === before; i++) {
    writeFileSync(`${dir}/a.txt`, 'HELLO')
    utimesSync(`${dir}/a.txt`, 1700000000, 1700000000)
  }
  t.equal(await read(), 'HELLO', 'the new bytes, not the cached ones')
})

/** CountingResolver records each sniff: how many and how many bytes each one saw. */
class CountingResolver extends ContentTypeResolver {
  readonly heads: number[] = []
  override sniff(head: Uint8Array): string {
    this.heads.push(head.length)
    return super.sniff(head)
  }
}

t.test('StaticRoot sniffs the type of files the resolver cannot name, once per cached file', async t => {
  const text600 = Buffer.concat([Buffer.alloc(512, 'a'), Buffer.from([0, 1, 2]), Buffer.alloc(85, 'b')])
  const files: Array<{ name: string; data: Buffer; type: string; head: number }> = [
    { name: 'file', data: Buffer.from('Hello, world\n'), type: 'text/plain; charset=utf-8', head: 13 },
    { name: 'page', data: Buffer.from('\n  <html><body>hi</body></html>'), type: 'text/html; charset=utf-8', head: 31 },
    { name: 'image', data: Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1'), type: 'image/png', head: 16 },
    { name: 'blob', data: Buffer.from([0, 1, 2, 3]), type: 'application/octet-stream', head: 4 },
    { name: 'empty', data: Buffer.alloc(0), type: 'text/plain; charset=utf-8', head: 0 },
    { name: 'text600', data: text600, type: 'text/plain; charset=utf-8', head: 512 },
    { name: 'a.unknownext', data: Buffer.from([0xff, 0xd8, 0xff, 0xe0]), type: 'image/jpeg', head: 4 },
    { name: 'a.txt', data: Buffer.from([0, 0, 0]), type: 'text/plain; charset=utf-8', head: -1 }, // named: never sniffed
    // Large (over smallFileMax below): sniffed from one read of the first 512 bytes.
    { name: 'big', data: Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.alloc(4090, 0)]), type: 'image/gif', head: 512 },
    { name: 'bigtext', data: Buffer.concat([Buffer.alloc(512, 'x'), Buffer.alloc(3584, 0)]), type: 'text/plain; charset=utf-8', head: 512 },
  ]
  const dir = t.testdir(Object.fromEntries(files.map(f => [f.name, f.data])))
  const types = new CountingResolver()
  const root = new StaticRoot({ root: dir, smallFileMax: 1024, contentTypes: types, clock: LATER })
  for (const f of files) {
    const before = types.heads.length
    // The second alias of a large file is served through the descriptor the first one opened.
    for (const path of [`/${f.name}`, `/${f.name}`, `//${f.name}`, `//${f.name}`, `/${f.name}`]) {
      const r = await root.resolve(path)
      if (r.kind !== 'entity') throw new Error('expected an entity')
      t.equal(r.entity.contentType, f.type, `${path}: ${f.type}`)
      r.release()
    }
    const sniffs = types.heads.slice(before)
    if (f.head < 0) t.same(sniffs, [], `${f.name}: the name decides, nothing is read for the type`)
    else t.same(sniffs, [f.head, f.head], `${f.name}: sniffed once per cache entry (2 paths), from ${f.head} bytes`)
  }
})

t.test('StaticRoot with a fixed default type never sniffs', async t => {
  const dir = t.testdir({ small: Buffer.from('<html>'), big: Buffer.alloc(4096, 'x') })
  const types = new CountingResolver({ defaultType: 'application/x-default' })
  const root = new StaticRoot({ root: dir, smallFileMax: 1024, contentTypes: types, clock: LATER })
  for (const path of ['/small', '/big']) {
    const r = await root.resolve(path)
    if (r.kind !== 'entity') throw new Error('expected an entity')
    t.equal(r.entity.contentType, 'application/x-default', path)
    r.release()
  }
  t.same(types.heads, [], 'no sniff')
})
