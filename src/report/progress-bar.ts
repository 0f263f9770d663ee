/**
 * progressBar draws `done` of `total` as a bar `width` characters wide followed by the percentage,
 * e.g. `████████░░░░░░░░ 50%`. The fraction is clamped to 0..1 (a total of 0 is shown as done),
 * and the bar is full, and the percentage 100%, only when `done` reaches `total`: 99.9% is shown as
 * 99%, never rounded up to a finished bar. If unset, `width` defaults to 20. Pure.
 */
export function progressBar(done: number, total: number, width = 20): string {
  if (!Number.isInteger(width) || width < 1) throw new TypeError(`progressBar: width must be a positive integer, got ${width}`)
  const f = total <= 0 ? 1 : Math.min(Math.max(done / total, 0), 1)
  const filled = Math.floor(f * width)
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${Math.floor(f * 100)}%`
}
