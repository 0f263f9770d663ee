import fs from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { spawnListening } from '../helpers/serve.js'

/** bench/bare-server.mjs, the small row's Node ceiling, and the sampling helper that names a process's core. */
const BARE = fileURLToPath(new URL('../../../bench/bare-server.mjs', import.meta.url))
const SAMPLING = new URL('../../../bench/lib/sampling.mjs', import.meta.url).href

t.test('bare-server answers every request with the file and a static server’s headers', async t => {
  const dir = t.testdir({ 'small.json': '{"a":1}\n' })
  const file = `${dir}/small.json`
  const { url } = await spawnListening(t, process.execPath, [BARE, '0', file], 'bare-server')
  const rows = [
    { method: 'GET', path: '/small.json', body: '{"a":1}\n' },
    { method: 'GET', path: '/anything/else', body: '{"a":1}\n' },
    { method: 'HEAD', path: '/small.json', body: '' },
  ] as const
  for (const row of rows) {
    const r = await request(`${url}${row.path}`, { method: row.method })
    const body = await r.body.text()
    t.equal(r.statusCode, 200, `${row.method} ${row.path}: status`)
    t.equal(body, row.body, `${row.method} ${row.path}: body`)
    t.equal(r.headers['content-length'], String(fs.statSync(file).size), `${row.method} ${row.path}: content-length`)
    t.equal(r.headers['content-type'], 'application/json', `${row.method} ${row.path}: content-type`)
    t.equal(r.headers['last-modified'], fs.statSync(file).mtime.toUTCString(), `${row.method} ${row.path}: last-modified`)
    t.equal(r.headers['accept-ranges'], 'bytes', `${row.method} ${row.path}: accept-ranges`)
  }
})

t.test('processorOf names a core of this machine for a live process and null for a gone one', async t => {
  const { processorOf } = (await import(SAMPLING)) as { processorOf: (pid: number | string) => number | null }
  const c = processorOf(process.pid)
  t.ok(Number.isInteger(c) && c! >= 0 && c! < os.cpus().length, `core ${c} of ${os.cpus().length}`)
  t.equal(processorOf(2 ** 22 + 1), null, 'no such process')
})
