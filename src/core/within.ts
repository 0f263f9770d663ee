import type { Clock } from './clock.js'

/**
 * within resolves true when `p` settles within `ms` (fulfilled or rejected) on `clock`, false
 * otherwise; the timer is cleared either way. For bounded waits such as a shutdown's grace period.
 */
export async function within(p: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  let timer: ReturnType<Clock['setTimeout']> | undefined
  const timeout = new Promise<boolean>(resolve => (timer = clock.setTimeout(() => resolve(false), Math.max(0, ms))))
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ])
  } finally {
    timer?.clear()
  }
}
