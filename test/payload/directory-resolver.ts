import { statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { clockWith } from '../helpers/manual-clock.js'
import { codeOf } from '../../src/core/errors.js'
import { ContentTypeResolver } from '../../src/http/content-type-resolver.js'
import { DirectoryResolver } from '../../src/payload/directory-resolver.js'
import { fileEtag } from '../../src/payload/file-etag.js'
import type { Resolution } from '../../src/payload/resolver.js'
import { FileStore } from '../../src/storage/file-store.js'
import { directoryResolver } from '../helpers/serve.js'

/** LATER is a clock ten seconds ahead: files written by the test have settled by then. */
const LATER = clockWith(() => Date.now() + 10_000)

/** resolve asks `r` for a path, waiting for a pending answer. */
async function resolve(r: DirectoryResolver, path: string, query = ''): Promise<Resolution> {
  const got = r.resolve({ method: 'GET', path, query, headers: {}, remote: '127.0.0.1' })
  return got.kind === 'pending' ? got.pending : got
}

/** entity is the entity a path resolves to; anything else fails the test. */
async function entity(r: DirectoryResolver, path: string): Promise<Extract<Resolution, { kind: 'entity' }>> {
  const got = await resolve(r, path)
  if (got.kind !== 'entity') throw new Error(`expected an entity for ${path}, got ${got.kind}`)
  return got
}

t.test('DirectoryResolver resolves files, revalidates the cache and refuses escapes', async t => {
  const top = t.testdir({
    outside: { 'secret.txt': 'secret' },
    root: { 'a.txt': 'hello', sub: { 'index.html': '<p>hi</p>' }, empty: {} },
  })
  const outside = `${top}/outside`
  const dir = `${top}/root`
  symlinkSync(`${outside}/secret.txt`, `${dir}/escape.txt`)
  symlinkSync(`${dir}/a.txt`, `${dir}/inside.txt`)
  const root = directoryResolver(dir, { clock: LATER })
  /** read is the bytes a path resolves to, or what else it resolves to. */
  const read = async (p: string): Promise<string> => {
    const r = await resolve(root, p)
    if (r.kind === 'redirect') return `redirect ${r.location}`
    if (r.kind !== 'entity') return r.kind
    const buf = Buffer.alloc(r.entity.content.size)
    await r.entity.content.readAt(buf, 0)
    r.release()
    return buf.toString()
  }
  /** code is what a path resolves to when it is no entity: miss, deny (visible or not), or an error code. */
  const code = async (p: string): Promise<string | undefined> => {
    try {
      const r = await resolve(root, p)
      return r.kind === 'deny' ? `deny${r.visible ? ' visible' : ''}` : r.kind
    } catch (err) {
      return codeOf(err)
    }
  }
  t.equal(await read('/a.txt'), 'hello')
  t.equal(await read('/a.txt'), 'hello', 'a second request is served from the cache')
  t.equal(root.stats.hits, 1)
  t.equal(await read('/inside.txt'), 'hello', 'a symlink inside the root is followed')
  t.equal(await code('/escape.txt'), 'deny', 'a symlink leading out of the root is denied (404, as a miss)')
  t.equal(root.store.stats.escapes, 1)
  t.equal(await read('/sub'), 'redirect /sub/')
  t.equal(await read('/sub/'), '<p>hi</p>', 'a directory serves its index')
  t.equal(await code('/empty/'), 'deny visible', 'a directory without index is denied visibly (403)')
  t.equal(await code('/a.txt/'), 'miss', 'a file named as a directory is a miss (404)')
  t.equal(await code('/missing'), 'miss')
  t.equal(await code('/.hidden'), 'deny', 'a hidden name is denied (404, as a miss)')
  t.equal(await code('/../a.txt'), 'ERR_BAD_REQUEST', 'traversal is a bad request')

  writeFileSync(`${dir}/a.txt`, 'changed!')
  utimesSync(`${dir}/a.txt`, 1700000000, 1700000001)
  t.equal(await read('/a.txt'), 'changed!', 'a changed file is read again')
  const r = await resolve(root, '/a.txt')
  t.equal(r.kind === 'entity' && r.entity.etag, fileEtag('cutover', { size: 8, mtimeNs: 1700000001_000_000_000n }, 0, false).etag)
})

t.test('DirectoryResolver refuses a root that is not a directory, and bad options', async t => {
  const dir = t.testdir({ 'f.txt': 'x' })
  t.throws(() => directoryResolver(`${dir}/f.txt`), TypeError)
  t.throws(() => directoryResolver(`${dir}/missing`))
  const store = new FileStore({ root: dir })
  for (const index of ['', '.', '..', 'a/b', 'a\0b', '.index']) {
    t.throws(() => new DirectoryResolver({ store, index }), TypeError, `index ${JSON.stringify(index)}`)
  }
  t.doesNotThrow(() => new DirectoryResolver({ store: new FileStore({ root: dir, dotfiles: true }), index: '.index' }), 'a hidden index where dotfiles are served')
  for (const cacheBytes of [0, -1, 1.5]) t.throws(() => new DirectoryResolver({ store, cacheBytes }), TypeError, `cacheBytes ${cacheBytes}`)
})

t.test('DirectoryResolver shares one descriptor between requests for a large file until it changes', async t => {
  const dir = t.testdir({ 'big.bin': Buffer.alloc(4096, 7) })
  const root = directoryResolver(dir, { smallFileMax: 1024, clock: LATER })
  const a = await resolve(root, '/big.bin')
  const b = await resolve(root, '/big.bin')
  t.equal(root.store.stats.opens, 1, 'the second request reuses the open file')
  const buf = Buffer.alloc(16)
  if (a.kind !== 'entity' || b.kind !== 'entity') throw new Error('expected entities')
  a.release()
  t.equal(await b.entity.content.readAt(buf, 100), 16, 'a release by one request does not close the file for the other')
  b.release()
  writeFileSync(`${dir}/big.bin`, Buffer.alloc(4096, 8))
  utimesSync(`${dir}/big.bin`, 1700000000, 1700000002)
  const c = await resolve(root, '/big.bin')
  t.equal(root.store.stats.opens, 2, 'a changed file is opened again')
  if (c.kind !== 'entity') throw new Error('expected an entity')
  await c.entity.content.readAt(buf, 0)
  t.equal(buf[0], 8, 'and serves the new bytes')
  c.release()
})

t.test('DirectoryResolver keeps one descriptor per file, whatever path names it', async t => {
  const dir = t.testdir({ 'big.bin': Buffer.alloc(4096, 7) })
  const root = directoryResolver(dir, { smallFileMax: 1024, clock: LATER })
  // Aliases of one file: merged slashes and percent-escapes are each a cache key of their own.
  const aliases = ['/big.bin', '//big.bin', '///big.bin', '/%62ig.bin', '/./big.bin']
  const held = []
  for (const path of aliases) {
    const r = await resolve(root, path)
    if (r.kind !== 'entity') throw new Error('expected an entity')
    held.push(r)
  }
  t.equal(root.store.stats.opens, 1, 'every alias reads through the one open file')
  t.equal(root.stats.misses, aliases.length, 'each alias is still resolved (cleaned, stat-ed) once')
  for (const r of held) r.release()
  const again = await resolve(root, '//big.bin')
  t.equal(root.store.stats.opens, 1, 'and later requests do not open it either')
  if (again.kind === 'entity') again.release()
})

t.test('DirectoryResolver serves a file that changed less than settleMs ago as settling: weak validators, nothing cached', async t => {
  const dir = t.testdir({ 'a.txt': 'hello', 'big.bin': Buffer.alloc(4096, 1) })
  // The files were written just now: their ctime is before this instant (Date.now() counts whole
  // milliseconds, ctime does not: hence the + 1).
  let now = Date.now() + 1
  const root = directoryResolver(dir, { smallFileMax: 1024, clock: clockWith(() => now) })
  const look = async (p: string): Promise<{ etag: string | undefined; weakDate: boolean | undefined }> => {
    const r = await resolve(root, p)
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
  t.equal(root.store.stats.opens, 4, 'every request opens the file again')
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

t.test('DirectoryResolver reads again a file rewritten in place whose mtime was put back (touch -d)', async t => {
  const dir = t.testdir({ 'a.txt': 'hello' })
  const root = directoryResolver(dir, { clock: LATER })
  utimesSync(`${dir}/a.txt`, 1700000000, 1700000000)
  const read = async (): Promise<string> => {
    const r = await resolve(root, '/a.txt')
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

t.test('DirectoryResolver sniffs the type of files the resolver cannot name, once per cached file', async t => {
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
  const root = directoryResolver(dir, { smallFileMax: 1024, contentTypes: types, clock: LATER })
  for (const f of files) {
    const before = types.heads.length
    // The second alias of a large file is served through the descriptor the first one opened.
    for (const path of [`/${f.name}`, `/${f.name}`, `//${f.name}`, `//${f.name}`, `/${f.name}`]) {
      const r = await resolve(root, path)
      if (r.kind !== 'entity') throw new Error('expected an entity')
      t.equal(r.entity.contentType, f.type, `${path}: ${f.type}`)
      r.release()
    }
    const sniffs = types.heads.slice(before)
    if (f.head < 0) t.same(sniffs, [], `${f.name}: the name decides, nothing is read for the type`)
    else t.same(sniffs, [f.head, f.head], `${f.name}: sniffed once per cache entry (2 paths), from ${f.head} bytes`)
  }
})

t.test('DirectoryResolver with a fixed default type never sniffs', async t => {
  const dir = t.testdir({ small: Buffer.from('<html>'), big: Buffer.alloc(4096, 'x') })
  const types = new CountingResolver({ defaultType: 'application/x-default' })
  const root = directoryResolver(dir, { smallFileMax: 1024, contentTypes: types, clock: LATER })
  for (const path of ['/small', '/big']) {
    const r = await resolve(root, path)
    if (r.kind !== 'entity') throw new Error('expected an entity')
    t.equal(r.entity.contentType, 'application/x-default', path)
    r.release()
  }
  t.same(types.heads, [], 'no sniff')
})
