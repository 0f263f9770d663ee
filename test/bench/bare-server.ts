import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { spawnListening } from '../helpers/serve.js'

/** bench/bare-server.mjs, the small row's Node ceiling. */
const BARE = fileURLToPath(new URL('../../../bench/bare-server.mjs', import.meta.url))

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
