import t from 'tap'
import { TaskQueue } from '../../src/audit/task-queue.js'
import { gate, type Gate } from '../helpers/gate.js'

/** A task that logs when it starts and ends, and ends when its gate opens. */
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

t.test('offer takes what fits in the slots and the queue, drops the rest, never blocks', async t => {
  const table: Array<{
    name: string
    concurrency: number
    maxQueued: number
    offers: number
    accepted: boolean[]
    running: number
    queued: number
  }> = [
    { name: 'slots and queue both have room', concurrency: 2, maxQueued: 10, offers: 4, accepted: [true, true, true, true], running: 2, queued: 2 },
    { name: 'a full queue drops', concurrency: 1, maxQueued: 1, offers: 3, accepted: [true, true, false], running: 1, queued: 1 },
    { name: 'a queue of 0 runs only what has a slot', concurrency: 1, maxQueued: 0, offers: 2, accepted: [true, false], running: 1, queued: 0 },
    { name: 'every offer has a slot', concurrency: 3, maxQueued: 0, offers: 3, accepted: [true, true, true], running: 3, queued: 0 },
  ]
  for (const c of table) {
    const q = new TaskQueue({ concurrency: c.concurrency, maxQueued: c.maxQueued })
    const log: string[] = []
    const tasks = Array.from({ length: c.offers }, (_, i) => blocked(log, String(i)))
    // offer is synchronous: every result is there before any task has run.
    const results = tasks.map(x => q.offer(x.task))
    const dropped = c.accepted.filter(a => !a).length
    t.strictSame(results, c.accepted, `${c.name}: what is taken`)
    t.match(q.stats, { running: c.running, queued: c.queued, dropped, started: c.running }, `${c.name}: counters`)
    t.strictSame(log, [], `${c.name}: no task code ran inside offer`)
    for (const x of tasks) x.release.open()
    await q.idle()
    const taken = tasks.map((_, i) => String(i)).filter((_, i) => c.accepted[i])
    t.strictSame(
      log.filter(l => l.startsWith('start')),
      taken.map(n => `start ${n}`),
      `${c.name}: the taken tasks ran, in offer order; the dropped never`,
    )
    t.match(q.stats, { started: taken.length, completed: taken.length, running: 0, queued: 0, failed: 0, dropped })
  }
})

t.test('a finished task hands its slot to the next, in offer order', async t => {
  const q = new TaskQueue({ concurrency: 2, maxQueued: 10 })
  const log: string[] = []
  const tasks = ['a', 'b', 'c', 'd'].map(n => blocked(log, n))
  for (const x of tasks) q.offer(x.task)
  await Promise.all([tasks[0]!.started.promise, tasks[1]!.started.promise])
  tasks[1]!.release.open()
  await tasks[2]!.started.promise
  t.match(q.stats, { started: 3, running: 2, queued: 1, completed: 1 })
  tasks[0]!.release.open()
  await tasks[3]!.started.promise
  tasks[2]!.release.open()
  tasks[3]!.release.open()
  await q.idle()
  t.strictSame(log, ['start a', 'start b', 'end b', 'start c', 'end a', 'start d', 'end c', 'end d'])
})

t.test('run waits for a slot: a caller awaiting each run keeps at most `concurrency` in flight', async t => {
  for (const concurrency of [1, 2, 3]) {
    const q = new TaskQueue({ concurrency, maxQueued: 0 })
    const log: string[] = []
    const tasks = ['a', 'b', 'c', 'd', 'e'].map(n => blocked(log, n))
    let submitted = 0
    const progress: Gate[] = tasks.map(() => gate())
    // The caller: one run after the other, as replay reads its log.
    const caller = (async () => {
      for (const x of tasks) {
        await q.run(x.task)
        progress[submitted++]!.open()
      }
    })()
    for (let i = 0; i < concurrency; i++) await progress[i]!.promise
    await tasks[concurrency - 1]!.started.promise
    t.equal(submitted, concurrency, `concurrency ${concurrency}: the caller is held at the next run`)
    t.match(q.stats, { running: concurrency, queued: 1, dropped: 0 }, `concurrency ${concurrency}: one run waits, none dropped`)
    for (let i = 0; i < tasks.length; i++) {
      tasks[i]!.release.open()
      if (i + concurrency < tasks.length) {
        await progress[i + concurrency]!.promise
        t.ok(q.stats.running <= concurrency, `concurrency ${concurrency}: never more than ${concurrency} running`)
      }
    }
    await caller
    await q.idle()
    t.strictSame(
      log.filter(l => l.startsWith('start')),
      ['a', 'b', 'c', 'd', 'e'].map(n => `start ${n}`),
      `concurrency ${concurrency}: in order`,
    )
    t.match(q.stats, { started: 5, completed: 5, running: 0, queued: 0 })
  }
})

t.test('idle resolves at once when empty, and once queued and running work is done', async t => {
  const q = new TaskQueue({ concurrency: 1 })
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
  const table: Array<[string, (q: TaskQueue, task: () => Promise<void>) => unknown]> = [
    ['offer', (q, task) => q.offer(task)],
    ['run', (q, task) => q.run(task)],
  ]
  for (const [how, submit] of table) {
    const q = new TaskQueue({ concurrency: 1, maxQueued: 2 })
    void submit(q, () => Promise.reject(new Error('boom')))
    void submit(q, () => {
      throw new Error('sync boom')
    })
    const ran: Gate = gate()
    void submit(q, async () => ran.open())
    await ran.promise
    await q.idle()
    t.match(q.stats, { started: 3, completed: 3, failed: 2, running: 0 }, how)
  }
})

t.test('bad options are refused at construction', async t => {
  const bad: Array<[string, ConstructorParameters<typeof TaskQueue>[0]]> = [
    ['no slot', { concurrency: 0 }],
    ['a fraction of a slot', { concurrency: 1.5 }],
    ['a negative queue', { maxQueued: -1 }],
  ]
  for (const [name, o] of bad) t.throws(() => new TaskQueue(o), TypeError, name)
  t.match(new TaskQueue(), { concurrency: 16, maxQueued: 256 }, 'defaults')
})
