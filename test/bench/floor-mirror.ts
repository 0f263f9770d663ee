import { fileURLToPath } from 'node:url'
import t from 'tap'
import { fetchBody } from '../helpers/s3-serve.js'
import { answersAndCompares, floorServer as server, settledCounts as settled } from '../helpers/floor.js'
import { spawnListening } from '../helpers/serve.js'

/** bench/floor-mirror.mjs, the mirror rows' Node reference. */
const FLOOR = fileURLToPath(new URL('../../../bench/floor-mirror.mjs', import.meta.url))

/** The part of bench/floor-mirror.mjs (plain ESM, no types) these tests use: imported, it starts nothing. */
interface ByteMatchLike {
  push(side: 0 | 1, chunk: Buffer): void
  same(): boolean
}
const { ByteMatch } = (await import(new URL('../../../bench/floor-mirror.mjs', import.meta.url).href)) as {
  ByteMatch: new () => ByteMatchLike
}

t.test('ByteMatch: the two bodies compared as they come, whatever the order and the chunking', async t => {
  const cases: Array<{ name: string; pushes: Array<[0 | 1, string]>; same: boolean }> = [
    { name: 'both empty', pushes: [], same: true },
    { name: 'one side first, chunked differently', pushes: [[0, 'ab'], [0, 'cdef'], [1, 'abc'], [1, 'def']], same: true },
    { name: 'interleaved, each side ahead in turn', pushes: [[0, 'ab'], [1, 'abcd'], [0, 'cdef'], [1, 'ef']], same: true },
    { name: 'one byte differs', pushes: [[0, 'abcdef'], [1, 'abXdef']], same: false },
    { name: 'differs inside a held chunk after a partial match', pushes: [[0, 'abcdef'], [1, 'ab'], [1, 'cX']], same: false },
    { name: 'differs, then more bytes that agree', pushes: [[1, 'aX'], [0, 'ab'], [0, 'cd'], [1, 'cd']], same: false },
    { name: 'old a prefix of new', pushes: [[0, 'abc'], [1, 'abcd']], same: false },
    { name: 'new a prefix of old', pushes: [[1, 'ab'], [0, 'a'], [0, 'bc']], same: false },
    { name: 'one side empty', pushes: [[1, 'a']], same: false },
  ]
  for (const c of cases) {
    const m = new ByteMatch()
    for (const [side, text] of c.pushes) m.push(side, Buffer.from(text))
    t.equal(m.same(), c.same, c.name)
  }
})

t.test('floor-mirror answers from old and compares exactly 1 in EVERY with new', async t => {
  const url = await answersAndCompares(t, FLOOR, 'floor-mirror')

  // As the mirror rows' node-proxy: EVERY 2^31, a plain proxy that compares nothing.
  await settled(url, 2 ** 31, 6, 'floor-mirror')
  const proxied = []
  for (let i = 0; i < 3; i++) proxied.push((await fetchBody(`${url}/diff`)).body.toString('utf8'))
  t.strictSame(proxied, ['abc', 'abc', 'abc'], "as node-proxy, clients still get old's answer")
  t.strictSame(await settled(url, 2 ** 31, 6, 'floor-mirror'), { every: 2 ** 31, requests: 13, compared: 6, differing: 3, errors: 0 }, 'as node-proxy, nothing compared')
})

t.test('floor-mirror with PROCESSES 2: workers behind one port, all stopped by SIGTERM to the primary', async t => {
  const old = await server(t, { '/same': 'abc' })
  const nw = await server(t, { '/same': 'abc' })
  const { url, child, output } = await spawnListening(t, process.execPath, [FLOOR, '0', String(old), String(nw), '1', '2'], 'floor-mirror')
  const m = /\(2 processes: pids (\d+), (\d+)\)/.exec(output())
  t.ok(m, `the listening line names both workers: ${output()}`)
  const workers = [Number(m?.[1]), Number(m?.[2])]
  t.notOk(workers.includes(child.pid ?? -1), 'the workers are not the primary')
  const got = []
  for (let i = 0; i < 4; i++) got.push((await fetchBody(`${url}/same`)).body.toString('utf8'))
  t.strictSame(got, ['abc', 'abc', 'abc', 'abc'], "every client gets old's answer")

  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'the primary exits 0 once its workers have')
  // The primary exits after both workers' exit events, so they are reaped by then.
  const alive = workers.filter(pid => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  })
  t.strictSame(alive, [], 'no worker outlives the primary')
})
