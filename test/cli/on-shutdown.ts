import { EventEmitter } from 'node:events'
import t from 'tap'
import { EXIT_INTERRUPTED, onReopen, onShutdown, type SignalTarget } from '../../src/cli/on-shutdown.js'

/** FakeProcess records what onShutdown does to a process. */
class FakeProcess extends EventEmitter implements SignalTarget {
  readonly exits: number[] = []
  readonly written: string[] = []
  readonly stderr = { write: (s: string) => this.written.push(s) }
  exit(code: number): void {
    this.exits.push(code)
  }
}

t.test('onShutdown drains on the first signal and exits on the second', async t => {
  const cases: Array<{
    name: string
    signals?: NodeJS.Signals[]
    send: NodeJS.Signals[]
    drained: NodeJS.Signals[]
    exits: number[]
    written: string[]
  }> = [
    { name: 'no signal', send: [], drained: [], exits: [], written: [] },
    { name: 'one SIGINT', send: ['SIGINT'], drained: ['SIGINT'], exits: [], written: [] },
    { name: 'one SIGTERM', send: ['SIGTERM'], drained: ['SIGTERM'], exits: [], written: [] },
    {
      name: 'SIGTERM then SIGINT',
      send: ['SIGTERM', 'SIGINT'],
      drained: ['SIGTERM'],
      exits: [EXIT_INTERRUPTED],
      written: ['\ncutover x: SIGINT again, exiting now\n'],
    },
    {
      name: 'three signals: each after the first exits',
      send: ['SIGINT', 'SIGINT', 'SIGTERM'],
      drained: ['SIGINT'],
      exits: [130, 130],
      written: ['\ncutover x: SIGINT again, exiting now\n', '\ncutover x: SIGTERM again, exiting now\n'],
    },
    { name: 'a signal not listened to', signals: ['SIGINT'], send: ['SIGTERM'], drained: [], exits: [], written: [] },
  ]
  for (const c of cases) {
    const p = new FakeProcess()
    const drained: NodeJS.Signals[] = []
    onShutdown({ name: 'cutover x', drain: s => drained.push(s), target: p, ...(c.signals ? { signals: c.signals } : {}) })
    for (const s of c.send) p.emit(s)
    t.strictSame({ drained, exits: p.exits, written: p.written }, { drained: c.drained, exits: c.exits, written: c.written }, c.name)
  }
})

t.test('the returned function removes the handlers', async t => {
  const p = new FakeProcess()
  let drained = 0
  const off = onShutdown({ name: 'cutover x', drain: () => drained++, target: p })
  t.equal(p.listenerCount('SIGINT') + p.listenerCount('SIGTERM'), 2, 'one handler per signal')
  off()
  t.equal(p.listenerCount('SIGINT') + p.listenerCount('SIGTERM'), 0, 'none left')
  p.emit('SIGINT')
  t.equal(drained, 0, 'a signal after removal does nothing')
})

t.test('onReopen reopens on SIGHUP and SIGUSR1, one reopen at a time, and reports failures', async t => {
  const cases: Array<{ name: string; signals?: NodeJS.Signals[]; send: NodeJS.Signals[]; fail?: boolean; files?: number; reopens: number; written: string[] }> = [
    { name: 'no signal', send: [], reopens: 0, written: [] },
    { name: 'SIGHUP', send: ['SIGHUP'], reopens: 1, written: ['cutover x: SIGHUP: reopened 2 log files\n'] },
    { name: 'one file: singular', send: ['SIGHUP'], files: 1, reopens: 1, written: ['cutover x: SIGHUP: reopened 1 log file\n'] },
    { name: 'no file', send: ['SIGHUP'], files: 0, reopens: 1, written: ['cutover x: SIGHUP: reopened 0 log files\n'] },
    {
      name: 'SIGUSR1 then SIGHUP: two reopens, in order',
      send: ['SIGUSR1', 'SIGHUP'],
      reopens: 2,
      written: ['cutover x: SIGUSR1: reopened 2 log files\n', 'cutover x: SIGHUP: reopened 2 log files\n'],
    },
    { name: 'a failure is said, not thrown', send: ['SIGHUP'], fail: true, reopens: 1, written: ['cutover x: SIGHUP: reopening the logs failed: EACCES\n'] },
    { name: 'a signal not listened to', signals: ['SIGUSR2'], send: ['SIGHUP'], reopens: 0, written: [] },
  ]
  for (const c of cases) {
    const p = new FakeProcess()
    let reopens = 0
    let running = 0
    let overlapped = false
    onReopen({
      name: 'cutover x',
      target: p,
      ...(c.signals ? { signals: c.signals } : {}),
      reopen: async () => {
        reopens++
        if (running++ > 0) overlapped = true
        await new Promise(resolve => setImmediate(resolve))
        running--
        if (c.fail) throw new Error('EACCES')
        return c.files ?? 2
      },
    })
    for (const s of c.send) p.emit(s)
    for (let i = 0; i < 20 && p.written.length < c.written.length; i++) await new Promise(resolve => setImmediate(resolve))
    t.strictSame({ reopens, overlapped, written: p.written, exits: p.exits }, { reopens: c.reopens, overlapped: false, written: c.written, exits: [] }, c.name)
  }
})

t.test('onReopen: the returned function removes the handlers', async t => {
  const p = new FakeProcess()
  const off = onReopen({ name: 'cutover x', target: p, reopen: async () => 0 })
  t.equal(p.listenerCount('SIGHUP') + p.listenerCount('SIGUSR1'), 2, 'one handler per signal')
  off()
  t.equal(p.listenerCount('SIGHUP') + p.listenerCount('SIGUSR1'), 0, 'none left')
})
