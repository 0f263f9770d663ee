import t from 'tap'
import { ShadowQueue } from '../../src/audit/shadow-queue.js'
import { gate, type Gate } from '../helpers/gate.js'

/** A task that reports when it starts and finishes when its gate opens. */
function blocked(log: string[], name: string) {
  const started = gate()
  const release = gate()
  return {
    started,
    release,
    task: async () => {
      log.push(`start ${name}`)
      started.open()
      await release.promise
      log.push(`end ${name}`)
    },
  }
}

t.test('runs at most `concurrency` tasks at once, in offer order', async t => {
  const q = new ShadowQueue({ concurrency: 2, maxQueued: 10 })
  const log: string[] = []
  const tasks = ['a', 'b', 'c', 'd'].map(n => blocked(log, n))
  for (const x of tasks) t.equal(q.offer(x.task), true)
  t.match(q.stats, { started: 2, running: 2, queued: 2, dropped: 0 }, 'two slots taken at once, two waiting')
  await Promise.all([tasks[0]!.started.promise, tasks[1]!.started.promise])
  t.strictSame(log, ['start a', 'start b'])

  tasks[1]!.release.open()
  await tasks[2]!.started.promise
  t.match(
    q.stats,
    { started: 3, running: 2, queued: 1, completed: 1 },
    'a finished task hands its slot to the next',
  )
  tasks[0]!.release.open()
  await tasks[3]!.started.promise
  tasks[2]!.release.open()
  tasks[3]!.release.open()
  await q.idle()
  t.strictSame(log, ['start a', 'start b', 'end b', 'start c', 'end a', 'start d', 'end c', 'end d'])
  t.match(q.stats, { started: 4, completed: 4, running: 0, queued: 0, failed: 0 })
})

t.test(
  'refuses and counts offers when every slot is busy and the queue is full, without blocking',
  async t => {
    const q = new ShadowQueue({ concurrency: 1, maxQueued: 1 })
    const log: string[] = []
    const a = blocked(log, 'a')
    const b = blocked(log, 'b')
    const c = blocked(log, 'c')
    // offer is synchronous: the three results are there before any task has run.
    const results = [q.offer(a.task), q.offer(b.task), q.offer(c.task)]
    t.strictSame(results, [true, true, false])
    t.match(q.stats, { dropped: 1, running: 1, queued: 1 })
    t.strictSame(log, [], 'no task code ran inside offer')
    a.release.open()
    b.release.open()
    await q.idle()
    t.strictSame(log, ['start a', 'end a', 'start b', 'end b'], 'the dropped task never runs')
    t.match(q.stats, { started: 2, completed: 2, dropped: 1 })
  },
)

t.test('a queue of 0 runs only what has a free slot', async t => {
  const q = new ShadowQueue({ concurrency: 1, maxQueued: 0 })
  const log: string[] = []
  const a = blocked(log, 'a')
  t.equal(q.offer(a.task), true)
  t.equal(
    q.offer(async () => undefined),
    false,
  )
  t.equal(q.stats.dropped, 1)
  a.release.open()
  await q.idle()
  t.equal(
    q.offer(async () => undefined),
    true,
    'the freed slot takes the next offer',
  )
  await q.idle()
  t.match(q.stats, { started: 2, completed: 2, dropped: 1 })
})

t.test('idle resolves at once when empty, and once queued and running work is done', async t => {
  const q = new ShadowQueue({ concurrency: 1 })
  await q.idle()
  const log: string[] = []
  const tasks = [blocked(log, 'a'), blocked(log, 'b')]
  for (const x of tasks) q.offer(x.task)
  let idle = false
  const waiting = q.idle().then(() => (idle = true))
  tasks[0]!.release.open()
  await tasks[1]!.started.promise
  t.equal(idle, false, 'not idle while the second task runs')
  tasks[1]!.release.open()
  await waiting
  t.equal(idle, true)
})

t.test('a task that rejects or throws is counted as failed and frees its slot', async t => {
  const q = new ShadowQueue({ concurrency: 1, maxQueued: 2 })
  q.offer(() => Promise.reject(new Error('boom')))
  q.offer(() => {
    throw new Error('sync boom')
  })
  const ran: Gate = gate()
  q.offer(async () => ran.open())
  await ran.promise
  await q.idle()
  t.match(q.stats, { started: 3, completed: 3, failed: 2, running: 0 })
})

t.test('bad options are refused at construction', async t => {
  t.throws(() => new ShadowQueue({ concurrency: 0 }), TypeError)
  t.throws(() => new ShadowQueue({ concurrency: 1.5 }), TypeError)
  t.throws(() => new ShadowQueue({ maxQueued: -1 }), TypeError)
  t.match(new ShadowQueue(), { concurrency: 16, maxQueued: 256 }, 'defaults')
})
