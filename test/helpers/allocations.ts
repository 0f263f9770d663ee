import type { Test } from 'tap'
import type { BlobInfo, BlobStore } from '../../src/storage/blob-store.js'

/** Allocations is an `allocate` option for a store that records every buffer it hands out. */
export interface Allocations {
  readonly allocate: (length: number) => Uint8Array
  readonly handed: Uint8Array[]
}

/** recordAllocations makes {@link Allocations}: each buffer filled with 0xee, so a byte the store left unwritten shows. */
export function recordAllocations(): Allocations {
  const handed: Uint8Array[] = []
  return {
    handed,
    allocate: length => {
      const b = new Uint8Array(length).fill(0xee)
      handed.push(b)
      return b
    },
  }
}

/**
 * checkReadsIntoAllocated reads `info` (whose bytes are `data`, at least 1,000 of them) through
 * `store`, made with `a.allocate`, at a few offsets and lengths, and checks that each read resolves
 * with the buffer the store took from `a`, every byte of it written with the blob's.
 */
export async function checkReadsIntoAllocated(t: Test, store: BlobStore, a: Allocations, info: BlobInfo, data: Uint8Array): Promise<void> {
  const rows: Array<[number, number]> = [
    [0, 300],
    [123, 456],
    [data.length - 100, 300], // past the end: the 100 that exist, in a buffer of 100
  ]
  for (const [off, len] of rows) {
    const before = a.handed.length
    const got = await store.read(info, off, len)
    const want = data.subarray(off, Math.min(off + len, data.length))
    t.equal(a.handed.length, before + 1, `bytes ${off}+${len}: one buffer taken`)
    t.equal(got.buffer, a.handed.at(-1)!.buffer, `bytes ${off}+${len}: resolved with that buffer`)
    t.equal(Buffer.compare(got, want), 0, `bytes ${off}+${len}: every byte written, the blob's`)
  }
}
