import { closeSync, fstatSync, openSync, renameSync, utimesSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { FileContent, fileIdentity, sameIdentity } from '../../src/storage/file-content.js'
import { mulberry32, seededBytes } from '../helpers/random.js'

/** read is readAt into a fresh buffer, returning the bytes actually read. */
async function read(c: FileContent, off: number, len: number, signal?: AbortSignal): Promise<Buffer> {
  const buf = Buffer.alloc(len)
  const n = await c.readAt(buf, off, signal)
  return buf.subarray(0, n)
}

/** A moment far from now, so a changed mtime is certainly different from the original. */
const OTHER_TIME = new Date('2001-02-03T04:05:06Z')

t.test('random positional reads equal the file', async t => {
  const data = seededBytes(7, 200_003)
  const dir = t.testdir({ 'blob.bin': data })
  const fc = await FileContent.open(join(dir, 'blob.bin'))
  t.teardown(() => fc.close())
  t.equal(fc.size, data.length, 'size is the file size')
  const rnd = mulberry32(11)
  const got: string[] = []
  const want: string[] = []
  for (let i = 0; i < 300; i++) {
    const off = Math.floor(rnd() * (data.length + 50))
    const len = Math.floor(rnd() * 9000)
    const b = await read(fc, off, len)
    const e = data.subarray(Math.min(off, data.length), Math.min(off + len, data.length))
    got.push(`${off}+${len}:${b.length}:${b.equals(e)}`)
    want.push(`${off}+${len}:${e.length}:true`)
  }
  t.strictSame(got, want, '300 random reads match the file, short only at the end')
})

t.test('reads at the edges of the file give the contract counts', async t => {
  const data = Buffer.from('0123456789')
  const dir = t.testdir({ 'f.txt': data })
  const fc = await FileContent.open(join(dir, 'f.txt'))
  t.teardown(() => fc.close())
  const cases: Array<[number, number, string]> = [
    [0, 10, '0123456789'],
    [0, 4, '0123'],
    [8, 5, '89'],
    [9, 1, '9'],
    [10, 4, ''],
    [100, 4, ''],
    [3, 0, ''],
  ]
  for (const [off, len, text] of cases) {
    t.equal((await read(fc, off, len)).toString(), text, `a ${len}-byte read at ${off} gives "${text}"`)
  }
})

t.test('many concurrent reads of one file all get their own bytes', async t => {
  const data = seededBytes(3, 65_536)
  const dir = t.testdir({ 'c.bin': data })
  const fc = await FileContent.open(join(dir, 'c.bin'))
  t.teardown(() => fc.close())
  const rnd = mulberry32(5)
  const reads = Array.from({ length: 100 }, () => {
    const off = Math.floor(rnd() * data.length)
    return { off, len: 1 + Math.floor(rnd() * 5000) }
  })
  const bufs = await Promise.all(reads.map(r => read(fc, r.off, r.len)))
  const bad = reads.filter((r, i) => !bufs[i]!.equals(data.subarray(r.off, r.off + r.len)))
  t.strictSame(bad, [], 'every one of 100 concurrent reads is right')
})

t.test('a read far into a large sparse file gives the bytes there without reading the rest', async t => {
  const dir = t.testdir({})
  const path = join(dir, 'sparse.bin')
  const size = 2 ** 30 // 1 GiB, almost all hole
  const fd = openSync(path, 'w')
  writeSync(fd, Buffer.from('HEAD'), 0, 4, 0)
  writeSync(fd, Buffer.from('TAIL!'), 0, 5, size - 5)
  closeSync(fd)
  const fc = await FileContent.open(path)
  t.teardown(() => fc.close())
  const rssBefore = process.memoryUsage().rss
  t.equal(fc.size, size, 'size is 1 GiB')
  t.equal((await read(fc, size - 5, 100)).toString(), 'TAIL!', 'the last bytes are read in place')
  t.equal((await read(fc, 0, 4)).toString(), 'HEAD', 'the first bytes are read in place')
  t.ok((await read(fc, 2 ** 29, 16)).equals(Buffer.alloc(16)), 'a hole in the middle reads as zeros')
  t.ok(process.memoryUsage().rss - rssBefore < 256 * 2 ** 20, 'memory did not grow by anything like the file size')
})

t.test('a file written in place after open makes the next read reject with ERR_BLOB_CHANGED', async t => {
  const dir = t.testdir({ 'w.txt': 'hello, world' })
  const path = join(dir, 'w.txt')
  const fc = await FileContent.open(path)
  t.teardown(() => fc.close())
  t.equal((await read(fc, 0, 5)).toString(), 'hello', 'reads the original before the write')
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from('J'), 0, 1, 7)
  closeSync(fd)
  utimesSync(path, OTHER_TIME, OTHER_TIME)
  await t.rejects(read(fc, 0, 5), { code: 'ERR_BLOB_CHANGED' }, 'a read of unchanged bytes rejects too')
  await t.rejects(read(fc, 7, 5), { code: 'ERR_BLOB_CHANGED' }, 'a read of the changed bytes rejects')
})

t.test('a file that shrinks after open makes a read past the new end reject with ERR_BLOB_CHANGED', async t => {
  const dir = t.testdir({ 's.txt': '0123456789' })
  const path = join(dir, 's.txt')
  const fc = await FileContent.open(path)
  t.teardown(() => fc.close())
  writeFileSync(path, '0123') // truncates in place: same inode
  await t.rejects(read(fc, 6, 4), { code: 'ERR_BLOB_CHANGED' }, 'the read rejects instead of returning short')
})

t.test('a file replaced by rename keeps serving the old bytes', async t => {
  const dir = t.testdir({ 'r.txt': 'old version', 'new.txt': 'NEW VERSION, longer' })
  const path = join(dir, 'r.txt')
  const fc = await FileContent.open(path)
  t.teardown(() => fc.close())
  renameSync(join(dir, 'new.txt'), path)
  t.equal(fc.size, 11, 'size stays the old size')
  t.equal((await read(fc, 0, 100)).toString(), 'old version', 'the old bytes are served whole')
  t.equal((await read(fc, 4, 3)).toString(), 'ver', 'and in part')
  const fresh = await FileContent.open(path)
  t.teardown(() => fresh.close())
  t.equal((await read(fresh, 0, 100)).toString(), 'NEW VERSION, longer', 'a fresh open sees the new version')
  t.notOk(sameIdentity(fc.identity, fresh.identity), 'the two versions have different identities')
})

t.test('close with a read pending lets that read finish and refuses later reads', async t => {
  const data = seededBytes(9, 1 << 20)
  const dir = t.testdir({ 'p.bin': data })
  const fc = await FileContent.open(join(dir, 'p.bin'))
  const fd = fc.fd
  const pending = read(fc, 1000, data.length - 1000)
  fc.close()
  fc.close() // idempotent
  const got = await pending
  t.ok(got.equals(data.subarray(1000)), 'the pending read returns the right bytes')
  await t.rejects(read(fc, 0, 10), { code: 'ERR_IO' }, 'a read after close rejects with ERR_IO')
  // The descriptor is closed once the pending read settled (close is asynchronous: bounded wait).
  let closed = false
  for (let i = 0; i < 1000 && !closed; i++) {
    try {
      fstatSync(fd)
      await new Promise<void>(resolve => setImmediate(resolve))
    } catch (err) {
      closed = (err as NodeJS.ErrnoException).code === 'EBADF'
      if (!closed) throw err
    }
  }
  t.ok(closed, 'the descriptor is released after the pending read')
})

t.test('an aborted signal makes a read reject with ERR_ABORTED', async t => {
  const dir = t.testdir({ 'a.txt': 'abcdef' })
  const fc = await FileContent.open(join(dir, 'a.txt'))
  t.teardown(() => fc.close())
  const ac = new AbortController()
  ac.abort()
  await t.rejects(read(fc, 0, 3, ac.signal), { code: 'ERR_ABORTED' }, 'the read rejects with ERR_ABORTED')
  t.equal((await read(fc, 0, 3)).toString(), 'abc', 'a later read without the signal works')
})

t.test('opening a missing file rejects with the fs error', async t => {
  const dir = t.testdir({})
  await t.rejects(FileContent.open(join(dir, 'nope')), { code: 'ENOENT' }, 'ENOENT')
})

t.test('the identity of an open file matches its fs.Stats', async t => {
  const dir = t.testdir({ 'i.txt': 'identity' })
  const fc = await FileContent.open(join(dir, 'i.txt'))
  t.teardown(() => fc.close())
  t.ok(sameIdentity(fc.identity, fileIdentity(fstatSync(fc.fd))), 'identity equals fstat of the descriptor')
  t.equal(fc.identity.size, 8, 'identity carries the size')
})
