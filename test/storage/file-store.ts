import { renameSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { clockWith } from '../helpers/manual-clock.js'
import { codeOf } from '../../src/core/errors.js'
import { blobChunks } from '../../src/storage/blob-store.js'
import { FileStore } from '../../src/storage/file-store.js'
import { seededBytes } from '../helpers/random.js'
import { checkReadsIntoAllocated, recordAllocations } from '../helpers/allocations.js'

/** LATER is a clock ten seconds ahead: files written by the test have settled by then. */
const LATER = clockWith(() => Date.now() + 10_000)

/** outcome is a read's bytes as text, or the code it was refused with. */
const outcome = (p: Promise<Uint8Array>): Promise<string> =>
  p.then(
    b => `bytes ${Buffer.from(b).toString('latin1')}`,
    (e: unknown) => String(codeOf(e) ?? e),
  )

/** touchCtime rewrites `path` with `data` and puts its mtime back until its ctime has moved (bounded). */
function rewriteKeepingMtime(path: string, data: Buffer): void {
  const st = statSync(path)
  for (let i = 0; i < 100_000 && statSync(path).ctimeMs === st.ctimeMs; i++) {
    writeFileSync(path, data)
    utimesSync(path, st.atime, st.mtime)
  }
}

t.test('a read of a version that changed since stat fails with ERR_BLOB_CHANGED, never with other bytes', async t => {
  const OLD = Buffer.from(seededBytes(1, 64)).toString('hex').slice(0, 64)
  const NEW = OLD.toUpperCase()
  const rows: Array<{ name: string; change: (path: string, dir: string) => void; want: string }> = [
    { name: 'unchanged', change: () => undefined, want: `bytes ${OLD}` },
    {
      name: 'replaced by rename',
      change: (path, dir) => {
        writeFileSync(`${dir}/tmp`, NEW)
        renameSync(`${dir}/tmp`, path)
      },
      want: 'ERR_BLOB_CHANGED',
    },
    { name: 'rewritten in place, other size', change: path => writeFileSync(path, `${NEW}!`), want: 'ERR_BLOB_CHANGED' },
    {
      name: 'rewritten in place, same size, other mtime',
      change: path => {
        writeFileSync(path, NEW)
        utimesSync(path, 1700000000, 1700000009)
      },
      want: 'ERR_BLOB_CHANGED',
    },
    { name: 'rewritten in place, mtime put back (only ctime tells)', change: path => rewriteKeepingMtime(path, Buffer.from(NEW)), want: 'ERR_BLOB_CHANGED' },
    { name: 'deleted', change: path => unlinkSync(path), want: 'ERR_BLOB_CHANGED' },
  ]
  for (const row of rows) {
    const dir = t.testdir({ 'f.txt': OLD })
    utimesSync(`${dir}/f.txt`, 1700000000, 1700000000)
    const store = new FileStore({ root: dir, clock: LATER })
    const info = await store.stat('f.txt')
    t.equal(info.size, OLD.length, `${row.name}: stat gives the size`)
    row.change(`${dir}/f.txt`, dir)
    t.equal(await outcome(store.read(info, 0, info.size)), row.want, `${row.name}: ${row.want}`)
    t.equal(await outcome(blobChunks(store, info, 16)(1)), row.want === 'ERR_BLOB_CHANGED' ? row.want : `bytes ${OLD.slice(16, 32)}`, `${row.name}: through the chunk loader too`)
  }
})

t.test('a version replaced by rename is still read while a shared descriptor pins it', async t => {
  const dir = t.testdir({ 'f.txt': 'old bytes' })
  const store = new FileStore({ root: dir, clock: LATER })
  const entry = store.peek('f.txt')
  if (entry?.kind !== 'file') throw new Error('expected a file')
  const pinned = await store.open('f.txt', { seen: entry.identity, share: true })
  pinned.content.close() // the store's own reference keeps the descriptor open
  writeFileSync(`${dir}/tmp`, 'new bytes')
  renameSync(`${dir}/tmp`, `${dir}/f.txt`)
  t.equal(await outcome(store.read(pinned.info, 0, 100)), 'bytes old bytes', 'the pinned version, whole')
  t.equal(await outcome(store.read(await store.stat('f.txt'), 4, 5)), 'bytes bytes', 'the new version through its own stat')
  t.equal(await outcome(store.read(pinned.info, 100, 5)), 'bytes ', 'past the end: no bytes')
  t.equal(store.stats.opens, 2, 'the pinned version was not opened again')
})

t.test('keys name files under the root only', async t => {
  const top = t.testdir({ outside: { 'secret.txt': 'secret' }, root: { 'a.txt': 'a', '.env': 'x', sub: { 'b.txt': 'b' }, '.git': { c: 'c' } } })
  const dir = `${top}/root`
  symlinkSync(`${top}/outside/secret.txt`, `${dir}/escape.txt`)
  symlinkSync(`${dir}/a.txt`, `${dir}/inside.txt`)
  const rows: Array<[key: string, dotfiles: boolean, peek: string, stat: string]> = [
    ['a.txt', false, 'file', 'file'],
    ['sub/b.txt', false, 'file', 'file'],
    ['inside.txt', false, 'file', 'file'],
    ['escape.txt', false, 'file', 'ERR_NOT_FOUND'], // peek follows the link; reading through it is refused
    ['', false, 'directory', 'ERR_NOT_FOUND'],
    ['sub', false, 'directory', 'ERR_NOT_FOUND'],
    ['missing', false, 'none', 'ERR_NOT_FOUND'],
    ['a.txt/x', false, 'none', 'ERR_NOT_FOUND'],
    ['.env', false, 'none', 'ERR_NOT_FOUND'],
    ['.git/c', false, 'none', 'ERR_NOT_FOUND'],
    ['.env', true, 'file', 'file'],
    ['.git/c', true, 'file', 'file'],
    ['../outside/secret.txt', true, 'none', 'ERR_NOT_FOUND'],
    ['sub/../a.txt', false, 'none', 'ERR_NOT_FOUND'],
    ['./a.txt', false, 'none', 'ERR_NOT_FOUND'],
    ['sub//b.txt', false, 'none', 'ERR_NOT_FOUND'],
    ['/a.txt', false, 'none', 'ERR_NOT_FOUND'],
    ['a.txt\0', false, 'none', 'ERR_NOT_FOUND'],
  ]
  for (const [key, dotfiles, peek, stat] of rows) {
    const store = new FileStore({ root: dir, dotfiles, clock: LATER })
    t.equal(store.peek(key)?.kind ?? 'none', peek, `peek ${JSON.stringify(key)}${dotfiles ? ' (dotfiles)' : ''}: ${peek}`)
    const got = await store.stat(key).then(
      () => 'file',
      (e: unknown) => codeOf(e),
    )
    t.equal(got, stat, `stat ${JSON.stringify(key)}${dotfiles ? ' (dotfiles)' : ''}: ${stat}`)
    const opened = await store.open(key).then(
      b => {
        b.content.close()
        return 'file'
      },
      (e: unknown) => codeOf(e),
    )
    t.equal(opened, stat, `open ${JSON.stringify(key)}: as stat`)
    if (key === 'escape.txt') t.equal(store.stats.escapes, 2, 'both refusals of the escape are counted')
  }
})

t.test('a settling file has no version and its descriptor is never shared', async t => {
  const dir = t.testdir({ 'a.bin': 'hello' })
  // Just written: its ctime is before this instant (Date.now() counts whole milliseconds, ctime
  // does not: hence the + 1).
  let now = Date.now() + 1
  const store = new FileStore({ root: dir, clock: clockWith(() => now) })
  const seen = store.peek('a.bin')
  if (seen?.kind !== 'file') throw new Error('expected a file')
  t.equal((await store.stat('a.bin')).version, undefined, 'stat: no version while settling')
  for (let i = 0; i < 2; i++) {
    const b = await store.open('a.bin', { seen: seen.identity, share: true })
    t.equal(b.info.version, undefined, `open ${i}: no version while settling`)
    t.equal(b.info.seenAt, now, `open ${i}: judged at the clock's time`)
    b.content.close()
  }
  t.equal(store.stats.opens, 2, 'each open of a settling file opens it')
  now += 1000
  const info = await store.stat('a.bin')
  t.type(info.version, 'string', 'a version once settled')
  t.ok(store.unchanged(info), 'unchanged while nothing happens')
  for (let i = 0; i < 2; i++) {
    const b = await store.open('a.bin', { seen: seen.identity, share: true })
    t.equal(b.info.version, info.version, `open ${i}: the version stat gives`)
    b.content.close()
  }
  t.equal(store.stats.opens, 3, 'a settled file is opened once and shared')
  writeFileSync(`${dir}/a.bin`, 'hello, world')
  t.notOk(store.unchanged(info), 'changed once written')
})

t.test('FileStore refuses bad options', async t => {
  const dir = t.testdir({ 'f.txt': 'x' })
  t.throws(() => new FileStore({ root: `${dir}/f.txt` }), TypeError, 'a root that is a file')
  t.throws(() => new FileStore({ root: `${dir}/missing` }), { code: 'ENOENT' }, 'a missing root')
  t.throws(() => new FileStore({ root: dir, settleMs: -1 }), TypeError, 'a negative settle time')
  const store = new FileStore({ root: dir })
  await t.rejects(store.read((await store.stat('f.txt').catch(() => undefined))!, -1, 1), RangeError, 'a negative offset')
})

t.test('read puts the bytes in the buffer the allocate option gives', async t => {
  const data = seededBytes(5, 1000)
  const dir = t.testdir({ 'f.bin': Buffer.from(data) })
  const a = recordAllocations()
  const store = new FileStore({ root: dir, clock: LATER, allocate: a.allocate })
  await checkReadsIntoAllocated(t, store, a, await store.stat('f.bin'), data)
})
