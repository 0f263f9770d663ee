import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { compareExchange } from '../../src/audit/compare.js'
import { HttpBackend } from '../../src/audit/http-backend.js'
import { ZoomBudget } from '../../src/audit/zoom.js'
import { DEFAULT_RULES } from '../../src/audit/rules.js'
import { prngBytes, writeLargeFile } from '../helpers/e2e.js'
import { startFaulty } from '../helpers/faulty.js'
import { deadPort } from '../helpers/nginx.js'
import { startServe } from '../helpers/serve.js'

const MiB = 1024 * 1024

t.test('each injected fault in the new server is caught and described exactly', async t => {
  const dir = t.testdir({})
  writeLargeFile(join(dir, 'big.bin'), 100) // 100 MiB
  writeFileSync(join(dir, 'one.bin'), prngBytes(MiB, 9))
  const real = await startServe(t, dir)
  const faulty = await startFaulty(t, real.url, {
    '/big.bin': { flipByte: 52_428_801 },
    '/one.bin': { truncateAt: 1000 },
  })
  // The same server behind three more fault configurations, one per path family.
  const dropped = await startFaulty(t, real.url, { '/one.bin': { dropHeader: 'last-modified' } })
  const badRange = await startFaulty(t, real.url, { '/one.bin': { setHeader: ['content-range', 'bytes 0-99/1048577'] } })
  const err500 = await startFaulty(t, real.url, { '/one.bin': { status: 500 } })
  const down = `http://127.0.0.1:${await deadPort()}`

  const old = new HttpBackend({ name: 'old', base: real.url })
  t.teardown(() => old.close())
  const check = async (newBase: string, path: string, headers: Record<string, string> = {}) => {
    const nw = new HttpBackend({ name: 'new', base: newBase })
    const req = { id: path, method: 'GET', path, headers }
    const [c, n] = await Promise.all([old.send(req), nw.send(req)])
    const cmp = await compareExchange(req, c, n, { rules: DEFAULT_RULES, zoom: { budget: new ZoomBudget(), control: old, candidate: nw } })
    await nw.close()
    return cmp.divergences
  }

  t.match(
    await check(faulty.url, '/big.bin'),
    [{ kind: 'body-bytes', offset: 52_428_801, controlLength: 100 * MiB, candidateLength: 100 * MiB }],
    'one byte changed in a 100 MiB file: the exact offset',
  )
  const trunc = await check(faulty.url, '/one.bin')
  t.match(trunc, [{ kind: 'error', side: 'candidate', code: 'ERR_TRUNCATED' }], 'a truncated body')
  t.equal(trunc.length, 1)
  t.same(
    await check(dropped.url, '/one.bin'),
    [{ kind: 'header', name: 'last-modified', control: (await old.send({ id: 'lm', method: 'HEAD', path: '/one.bin', headers: {} }).then(o => (o.kind === 'response' ? o.headers.find(([k]) => k === 'last-modified')?.[1] : undefined)))! }],
    'a missing header',
  )
  t.same(
    await check(badRange.url, '/one.bin', { range: 'bytes=0-99' }),
    [{ kind: 'header', name: 'content-range', control: 'bytes 0-99/1048576', candidate: 'bytes 0-99/1048577' }],
    'a wrong Content-Range',
  )
  t.same(await check(err500.url, '/one.bin'), [{ kind: 'status', control: 200, candidate: 500 }], 'a 500 from new')
  t.match(await check(down, '/one.bin'), [{ kind: 'error', side: 'candidate', code: /ERR_(CONNECT|UPSTREAM)/ }], 'new down')
})
