/** Task is one unit of bounded work (a shadow comparison, a replayed exchange). It should not reject. */
export type Task = () => Promise<void>

/** TaskQueueOptions configures a {@link TaskQueue}. */
export interface TaskQueueOptions {
  /** Tasks running at once. If unset, defaults to 16. */
  readonly concurrency?: number
  /**
   * Tasks {@link TaskQueue.offer} may leave waiting for a slot, beyond which offers are dropped. If
   * unset, defaults to 256; 0 means no waiting. {@link TaskQueue.run} is not bounded by it: its
   * callers wait instead.
   */
  readonly maxQueued?: number
}

/** TaskQueueStats are the counters of a {@link TaskQueue}. */
export interface TaskQueueStats {
  /** Tasks that got a slot. */
  started: number
  /** Tasks that settled (fulfilled or rejected). */
  completed: number
  /** Tasks that rejected or threw (a bug in the task: tasks should report their own failures). */
  failed: number
  /** Offers refused because the queue was full. */
  dropped: number
  /** Tasks waiting for a slot now (a gauge). */
  queued: number
  /** Tasks running now (a gauge). */
  running: number
}

interface Entry {
  readonly task: Task
  /** Resolves the caller of run() once the task has its slot. */
  readonly started?: () => void
}

/**
 * TaskQueue runs tasks with bounded concurrency, in arrival order, in one of two ways:
 *
 * - {@link offer} never makes the caller wait (the mirror's shadow path: the client must never
 *   wait for the shadow). It takes the task (running it at once when a slot is free,
 *   else queueing it) or refuses it and counts it as dropped. It is synchronous and starts tasks on
 *   a microtask, so no task code runs inside the caller.
 * - {@link run} waits for a slot (replay: reading the log no faster than exchanges finish). It
 *   resolves once the task has started, not when it ends, so a caller that awaits each run keeps
 *   at most `concurrency` tasks in flight.
 *
 * A task that rejects frees its slot and is counted as failed.
 */
export class TaskQueue {
  readonly stats: TaskQueueStats = {
    started: 0,
    completed: 0,
    failed: 0,
    dropped: 0,
    queued: 0,
    running: 0,
  }
  readonly concurrency: number
  readonly maxQueued: number
  // A ring-less FIFO: an array read from #head, compacted when half of it is consumed.
  #queue: Array<Entry | undefined> = []
  #head = 0
  #idle: Array<() => void> = []

  constructor(o: TaskQueueOptions = {}) {
    const concurrency = o.concurrency ?? 16
    const maxQueued = o.maxQueued ?? 256
    if (!Number.isSafeInteger(concurrency) || concurrency < 1)
      throw new TypeError('concurrency must be a positive integer')
    if (!Number.isSafeInteger(maxQueued) || maxQueued < 0)
      throw new TypeError('maxQueued must be a nonnegative integer')
    this.concurrency = concurrency
    this.maxQueued = maxQueued
  }

  /**
   * offer takes a task or refuses it: true when it runs now or is queued, false (and `dropped`
   * counted) when every slot is busy and the queue is full. Never blocks.
   */
  offer(task: Task): boolean {
    if (this.stats.running < this.concurrency) {
      this.#start({ task })
      return true
    }
    if (this.stats.queued >= this.maxQueued) {
      this.stats.dropped++
      return false
    }
    this.#push({ task })
    return true
  }

  /**
   * run starts `task` once a slot is free (at once when one is) and resolves when it has started.
   * Never drops: the caller's wait is the bound.
   */
  run(task: Task): Promise<void> {
    if (this.stats.running < this.concurrency && this.stats.queued === 0) {
      this.#start({ task })
      return Promise.resolve()
    }
    return new Promise<void>(started => this.#push({ task, started }))
  }

  /**
   * idle resolves once nothing is queued or running (at once if that is already so). Callers bound the wait.
   */
  idle(): Promise<void> {
    if (this.stats.running === 0 && this.stats.queued === 0) return Promise.resolve()
    return new Promise(resolve => this.#idle.push(resolve))
  }

  #push(e: Entry): void {
    this.#queue.push(e)
    this.stats.queued++
  }

  #start(e: Entry): void {
    // The slot is taken now, so that offers in the same tick see it; the task runs on a microtask.
    this.stats.running++
    this.stats.started++
    e.started?.()
    queueMicrotask(() => {
      let p: Promise<void>
      try {
        p = e.task()
      } catch (err) {
        p = Promise.reject(err)
      }
      p.then(
        () => this.#settled(false),
        () => this.#settled(true),
      )
    })
  }

  #settled(failed: boolean): void {
    this.stats.running--
    this.stats.completed++
    if (failed) this.stats.failed++
    const next = this.#shift()
    if (next) this.#start(next)
    else if (this.stats.running === 0) {
      const waiters = this.#idle
      this.#idle = []
      for (const w of waiters) w()
    }
  }

  #shift(): Entry | undefined {
    if (this.#head >= this.#queue.length) return undefined
    const e = this.#queue[this.#head]
    this.#queue[this.#head++] = undefined
    this.stats.queued--
    if (this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    return e
  }
}
