/** ShadowTask is one unit of shadow work: send, compare, report. It should not reject. */
export type ShadowTask = () => Promise<void>

/** ShadowQueueOptions configures a {@link ShadowQueue}. */
export interface ShadowQueueOptions {
  /** Tasks running at once. If unset, defaults to 16. */
  readonly concurrency?: number
  /**
   * Tasks waiting for a slot, beyond which offers are dropped. If unset, defaults to 256; 0 means no waiting.
   */
  readonly maxQueued?: number
}

/** ShadowQueueStats are the counters of a {@link ShadowQueue}. */
export interface ShadowQueueStats {
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

/**
 * ShadowQueue runs shadow work with bounded concurrency and a bounded queue, and never makes the
 * caller wait (design.md §7: the client path must never wait for the shadow). {@link offer} either
 * takes the task (running it at once when a slot is free, else queueing it) or refuses it and
 * counts it as dropped; it is synchronous and starts tasks on a microtask, so no task code runs
 * inside the caller. Tasks start in offer order.
 */
export class ShadowQueue {
  readonly stats: ShadowQueueStats = {
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
  #queue: Array<ShadowTask | undefined> = []
  #head = 0
  #idle: Array<() => void> = []

  constructor(o: ShadowQueueOptions = {}) {
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
  offer(task: ShadowTask): boolean {
    if (this.stats.running < this.concurrency) {
      this.#start(task)
      return true
    }
    if (this.stats.queued >= this.maxQueued) {
      this.stats.dropped++
      return false
    }
    this.#queue.push(task)
    this.stats.queued++
    return true
  }

  /**
   * idle resolves once nothing is queued or running (at once if that is already so). Callers bound the wait.
   */
  idle(): Promise<void> {
    if (this.stats.running === 0 && this.stats.queued === 0) return Promise.resolve()
    return new Promise(resolve => this.#idle.push(resolve))
  }

  #start(task: ShadowTask): void {
    // The slot is taken now, so that offers in the same tick see it; the task runs on a microtask.
    this.stats.running++
    this.stats.started++
    queueMicrotask(() => {
      let p: Promise<void>
      try {
        p = task()
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

  #shift(): ShadowTask | undefined {
    if (this.#head >= this.#queue.length) return undefined
    const task = this.#queue[this.#head]
    this.#queue[this.#head++] = undefined
    this.stats.queued--
    if (this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    return task
  }
}
