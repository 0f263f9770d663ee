/**
 * plural writes `n noun` with the noun agreeing with the count: `noun` for exactly 1, `many` for
 * any other count (0 included). If `many` is unset, it defaults to `noun` with an `s`:
 * `plural(1, 'comparison')` is `1 comparison`, `plural(2, 'bad line')` is `2 bad lines`,
 * `plural(3, 'body byte')` is `3 body bytes`. Pure.
 */
export function plural(n: number, noun: string, many = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : many}`
}
