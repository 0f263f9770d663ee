/** TopEntry is one key a {@link TopK} tracks, with its estimated weight and the data kept for it. */
export interface TopEntry<D> {
  readonly key: string
  /**
   * The key's weight as counted, an overestimate by at most `error`: when the key was admitted in
   * place of an evicted one, it inherited that one's count (Space-Saving). 0 `error` means exact.
   */
  readonly count: number
  readonly error: number
  /** What the caller keeps for the key: created by `init` when the key was (re)admitted. */
  readonly data: D
}

interface Slot<D> {
  key: string
  count: number
  error: number
  data: D
}

/**
 * TopK finds the heaviest keys of a stream in bounded memory with the Space-Saving algorithm
 * (Metwally, Agrawal, El Abbadi, 2005): at most `capacity` keys are tracked; a new key replaces the
 * lightest one and inherits its count as an error bound. While fewer than `capacity` distinct keys
 * have been seen, every count is exact. Any key whose true weight exceeds total/capacity is
 * guaranteed to be tracked. The lightest key is found with an indexed min-heap, so `add` costs
 * O(log capacity). Not safe for concurrent use (none is needed: JavaScript runs it on one thread).
 */
export class TopK<D> {
  readonly capacity: number
  #heap: Array<Slot<D>> = []
  #index = new Map<string, number>()
  #init: (key: string) => D
  #total = 0
  #evictions = 0

  /** `init` creates the data of a key each time it is admitted (again). */
  constructor(capacity: number, init: (key: string) => D) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new TypeError('capacity must be a positive integer')
    this.capacity = capacity
    this.#init = init
  }

  /** total is the sum of every weight added, tracked or not. */
  get total(): number {
    return this.#total
  }

  /** exact tells whether no key was ever evicted, so that every count is exact. */
  get exact(): boolean {
    return this.#evictions === 0
  }

  /** add counts `weight` (default 1) for `key` and returns the key's data, for the caller to update. */
  add(key: string, weight = 1): D {
    this.#total += weight
    const i = this.#index.get(key)
    if (i !== undefined) {
      const slot = this.#heap[i]!
      slot.count += weight
      this.#down(i)
      return slot.data
    }
    if (this.#heap.length < this.capacity) {
      const slot = { key, count: weight, error: 0, data: this.#init(key) }
      this.#heap.push(slot)
      this.#index.set(key, this.#heap.length - 1)
      this.#up(this.#heap.length - 1)
      return slot.data
    }
    // Full: the lightest key makes room, and the newcomer inherits its count as the error bound.
    const min = this.#heap[0]!
    this.#evictions++
    this.#index.delete(min.key)
    const slot = { key, count: min.count + weight, error: min.count, data: this.#init(key) }
    this.#heap[0] = slot
    this.#index.set(key, 0)
    this.#down(0)
    return slot.data
  }

  /** top returns the `n` heaviest keys, heaviest first, ties in key order. */
  top(n: number): Array<TopEntry<D>> {
    return this.#heap
      .map(({ key, count, error, data }) => ({ key, count, error, data }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, Math.max(0, n))
  }

  /** size is the number of keys tracked. */
  get size(): number {
    return this.#heap.length
  }

  #less(a: number, b: number): boolean {
    return this.#heap[a]!.count < this.#heap[b]!.count
  }

  #swap(a: number, b: number): void {
    const h = this.#heap
    const x = h[a]!
    const y = h[b]!
    h[a] = y
    h[b] = x
    this.#index.set(y.key, a)
    this.#index.set(x.key, b)
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(i, parent)) return
      this.#swap(i, parent)
      i = parent
    }
  }

  #down(i: number): void {
    const n = this.#heap.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && this.#less(l, m)) m = l
      if (r < n && this.#less(r, m)) m = r
      if (m === i) return
      this.#swap(i, m)
      i = m
    }
  }
}
