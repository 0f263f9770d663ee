import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { pointsAtSelf } from '../../src/cli/points-at-self.js'
import { deadPort } from '../helpers/nginx.js'
import { CLI, exited } from '../helpers/serve.js'

const at = (address: string, port: number): AddressInfo => ({ address, port, family: address.includes(':') ? 'IPv6' : 'IPv4' })
/** This machine's addresses, for the rows: one LAN address. */
const own = (): Set<string> => new Set(['127.0.0.1', '::1', '10.1.2.3'])

t.test('pointsAtSelf: which backend URLs reach the mirror itself (table)', async t => {
  const rows: Array<[addr: AddressInfo, url: string, self: boolean, why: string]> = [
    [at('127.0.0.1', 8080), 'http://127.0.0.1:8080', true, 'the very address'],
    [at('127.0.0.1', 8080), 'http://localhost:8080/prefix', true, 'localhost is loopback'],
    [at('127.0.0.1', 8080), 'http://127.0.0.2:8080', true, 'all of 127/8 is loopback'],
    [at('127.0.0.1', 8080), 'http://127.0.0.1:8081', false, 'another port'],
    [at('127.0.0.1', 80), 'http://127.0.0.1', true, 'the default port of http'],
    [at('127.0.0.1', 443), 'https://localhost', true, 'the default port of https'],
    [at('127.0.0.1', 80), 'https://localhost', false, 'https is 443, not 80'],
    [at('127.0.0.1', 8080), 'http://10.1.2.3:8080', false, 'a LAN address does not reach a loopback listener'],
    [at('0.0.0.0', 8080), 'http://10.1.2.3:8080', true, 'every address: a LAN address of this machine'],
    [at('0.0.0.0', 8080), 'http://localhost:8080', true, 'every address: loopback too'],
    [at('0.0.0.0', 8080), 'http://10.9.9.9:8080', false, 'every address: another machine'],
    [at('::', 8080), 'http://[::1]:8080', true, 'IPv6 every address: ::1'],
    [at('::1', 8080), 'http://[::1]:8080', true, 'IPv6 loopback, the very address'],
    [at('::ffff:127.0.0.1', 8080), 'http://127.0.0.1:8080', true, 'an IPv4-mapped address'],
    [at('10.1.2.3', 8080), 'http://127.0.0.1:8080', false, 'loopback does not reach a LAN listener'],
    [at('0.0.0.0', 8080), 'http://old.example:8080', false, 'names other than localhost are not resolved'],
  ]
  for (const [addr, url, self, why] of rows) t.equal(pointsAtSelf(addr, url, own), self, `${addr.address}:${addr.port} and ${url}: ${why}`)
})

t.test('cutover mirror refuses an --old that is its own address, exit 2, naming the flag', async t => {
  const port = await deadPort()
  const child = spawn(process.execPath, [CLI, 'mirror', '--listen', `127.0.0.1:${port}`, '--old', `http://localhost:${port}`, '--new', 'http://127.0.0.1:9'], { stdio: ['ignore', 'pipe', 'pipe'] })
  // Without the check the mirror would listen for good: stop it by its PID whatever happens.
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  t.equal(await exited(child), 2, 'exit 2')
  t.match(err, new RegExp(`--old http://localhost:${port} is this mirror's own address \\(listening on 127\\.0\\.0\\.1:${port}\\)`), err)
})

t.test('cutover serve refuses a store that is its own address, exit 2, naming the flag', async t => {
  const manifest = new URL('../../../fixtures/manifests/serve.yaml', import.meta.url).pathname
  const store = new URL('../../../fixtures/store', import.meta.url).href
  // [the store flags, with PORT for serve's own port; the flag and URL the error names]
  const rows: ReadonlyArray<[string[], string]> = [
    [['--store', 'http://127.0.0.1:PORT/blobs/'], '--store http://127.0.0.1:PORT/blobs/'],
    [['--store', store, '--fallback-store', 'http://localhost:PORT/'], '--fallback-store http://localhost:PORT/'],
    [['--store', 's3://bucket/prefix', '--s3-endpoint', 'http://127.0.0.1:PORT'], '--s3-endpoint http://127.0.0.1:PORT'],
  ]
  for (const [flags, named] of rows) {
    const port = await deadPort()
    const args = flags.map(a => a.replace('PORT', String(port)))
    const child = spawn(process.execPath, [CLI, 'serve', '--manifest', manifest, ...args, '--listen', `127.0.0.1:${port}`, '--settle-time', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    // Without the check serve would listen for good: stop it by its PID whatever happens.
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    t.equal(await exited(child), 2, `${named}: exit 2`)
    const want = named.replace('PORT', String(port)).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
    t.match(err, new RegExp(`${want} is this server's own address \\(listening on 127\\.0\\.0\\.1:${port}\\)`), err)
  }
})
