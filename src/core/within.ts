/**
 * within resolves true when `p` settles within `ms` (fulfilled or rejected), false otherwise; the
 * timer is cleared either way. For bounded waits such as a shutdown's grace period.
 */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>(resolve => (timer = setTimeout(() => resolve(false), Math.max(0, ms))))
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}
