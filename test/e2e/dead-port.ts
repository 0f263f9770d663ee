import { connect, createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { deadPort, ephemeralLow } from '../helpers/nginx.js'

/**
 * The e2e tests' "backend that is down": a port nothing listens on that a server started on port 0
 * cannot be given. A port from freePort once came back to the mirror under test, which then proxied
 * to itself (431 instead of the dead backend's 502).
 */
t.test('deadPort: below the ephemeral range, refusing connections, never handed to listen(0)', async t => {
  const low = ephemeralLow()
  const rows = [1, 2, 3]
  for (const row of rows) {
    const port = await deadPort()
    t.ok(port >= 1024 && port < low, `try ${row}: ${port} is below the ephemeral range (${low})`)
    const code = await new Promise<string>(resolve => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve('connected')
      })
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    })
    t.equal(code, 'ECONNREFUSED', `try ${row}: port ${port} refuses connections`)
    // What the kernel hands to listen(0) comes from the ephemeral range, so never this port.
    const s = createServer()
    await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
    const given = (s.address() as AddressInfo).port
    await new Promise<void>(resolve => s.close(() => resolve()))
    t.ok(given >= low, `try ${row}: listen(0) got ${given}, in the ephemeral range`)
  }
})
