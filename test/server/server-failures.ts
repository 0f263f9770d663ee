// A throw while answering costs that request a 500 (or a cut connection), never the process.
import t from 'tap'
import { pino } from 'pino'
import { DownloadServer } from '../../src/server/server.js'
import { pending, type Resolution, type Resolver } from '../../src/payload/resolver.js'
import { exchange, requestBytes } from '../helpers/raw-http.js'

/** fakeResolver answers every request with `r`. */
const fakeResolver = (r: () => Promise<Resolution>): Resolver => ({ resolve: () => pending(r()) })

t.test('a Location Node refuses gives a 500 and the server stays up', async t => {
  const rows: [string, string][] = [
    ['CR LF', '/a\r\nSet-Cookie: x=1/'],
    ['NUL', '/a\0b/'],
    ['non-Latin-1', '/\u2603/'],
  ]
  for (const [name, location] of rows) {
    const server = new DownloadServer({ resolver: fakeResolver(async () => ({ kind: 'redirect', location })), logger: pino({ level: 'silent' }) })
    const { port } = await server.listen(0, '127.0.0.1')
    t.teardown(() => server.close(0))
    const url = `http://127.0.0.1:${port}`
    for (const method of ['GET', 'HEAD']) {
      const r = await exchange(url, requestBytes(method, '/dir'), 10_000, method === 'HEAD')
      t.equal(r.responses[0]?.status, 500, `${name} ${method}: 500`)
      t.notOk(r.raw.toString('latin1').includes('Set-Cookie'), `${name} ${method}: no injected header`)
    }
    t.equal(server.stats.errors, 2, `${name}: counted as errors`)
    t.equal(server.stats.active, 0, `${name}: nothing left active`)
    t.ok(server.server.listening, `${name}: still listening`)
  }
})
