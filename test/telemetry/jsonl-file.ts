import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { DEFAULT_FLUSH_INTERVAL_MS, JsonlFile } from '../../src/telemetry/jsonl-file.js'
import { ManualClock } from '../helpers/manual-clock.js'

/** tmp makes a directory removed when this file's tests end. */
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-jsonl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(l => l !== '') : [])

/** waitLines polls `path` (bounded: 200 polls 10 ms apart) until it holds `n` lines. */
async function waitLines(path: string, n: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const got = lines(path)
    if (got.length >= n) return got
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return lines(path)
}

t.test('lines reach the file within the flush interval, not before', async t => {
  const cases = [
    { name: 'default interval', interval: undefined, expect: DEFAULT_FLUSH_INTERVAL_MS },
    { name: '250 ms', interval: 250, expect: 250 },
  ]
  t.equal(DEFAULT_FLUSH_INTERVAL_MS, 1000, 'the documented default')
  for (const c of cases) {
    const clock = new ManualClock()
    const path = join(tmp(), 'a.jsonl')
    const f = new JsonlFile<{ n: number }>(path, { clock, ...(c.interval === undefined ? {} : { flushIntervalMs: c.interval }) })
    t.teardown(() => f.close())
    f.write({ n: 1 })
    clock.advance(c.expect - 1)
    t.equal(f.buffered, 1, `${c.name}: still buffered ${c.expect - 1} ms later`)
    // The file is created when it opens (asynchronously): once it exists, it must still be empty.
    for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise(resolve => setTimeout(resolve, 10))
    t.ok(existsSync(path), `${c.name}: the file is open`)
    t.strictSame(lines(path), [], `${c.name}: nothing on disk yet`)
    clock.advance(1)
    t.equal(f.buffered, 0, `${c.name}: flushed at ${c.expect} ms`)
    t.strictSame(await waitLines(path, 1), ['{"n":1}'], `${c.name}: on disk`)
    clock.advance(c.expect * 3)
    t.strictSame(lines(path), ['{"n":1}'], `${c.name}: an idle interval writes nothing more`)
  }
})

t.test('a bad flush interval is refused', async t => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => new JsonlFile(join(tmp(), 'x.jsonl'), { flushIntervalMs: bad }), TypeError, String(bad))
  }
})

t.test('close writes everything; later writes are dropped and counted, never thrown', async t => {
  const path = join(tmp(), 'c.jsonl')
  const f = new JsonlFile<number>(path, { clock: new ManualClock() })
  for (let i = 0; i < 3; i++) f.write(i)
  await f.close()
  t.strictSame(lines(path), ['0', '1', '2'])
  f.write(3)
  t.equal(f.dropped, 1)
  await f.flush()
  await f.reopen()
  await f.close()
  t.strictSame(lines(path), ['0', '1', '2'], 'nothing after close')
})

t.test('reopen: lines before it in the moved file, lines after it in a new one', async t => {
  const dir = tmp()
  const path = join(dir, 'r.jsonl')
  const f = new JsonlFile<number>(path, { clock: new ManualClock() })
  t.teardown(() => f.close())
  for (let i = 0; i < 5; i++) f.write(i)
  await f.flush()
  f.write(5) // still buffered when the file is moved: written before the reopen, so in the old file
  renameSync(path, `${path}.1`)
  await f.reopen()
  for (let i = 6; i < 9; i++) f.write(i)
  await f.close()
  t.strictSame(lines(`${path}.1`), ['0', '1', '2', '3', '4', '5'])
  t.strictSame(lines(path), ['6', '7', '8'])
})
