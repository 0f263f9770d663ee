import { cancelBody } from '../audit/cancel-body.js'
import { compareStreams, type StreamVerdict } from '../audit/stream-compare.js'
import type { Divergence } from '../audit/divergence.js'
import type { Observed } from '../audit/exchange.js'

/** CHUNK_BOUNDARY is the 2 MiB chunk size of the new server's cache: slices that straddle it matter. */
export const CHUNK_BOUNDARY = 2 * 1024 * 1024

/** A stale date for If-Range: it never equals a file's Last-Modified, so the Range must be ignored. */
export const STALE_DATE = 'Mon, 02 Jan 2006 15:04:05 GMT'

/** ProbeTarget is a path known to answer 200, with what the old server said about it. */
export interface ProbeTarget {
  readonly path: string
  readonly size: number
  readonly etag?: string | undefined
}

/**
 * Probe is one extra request chosen to hit a range edge case. `verify` is the byte range of the full
 * body that a 206 answer must carry (single-range probes only): the new server's slice is then also
 * checked against the old server's full body, so a range both servers get wrong the same way is
 * still caught.
 */
export interface Probe {
  readonly name: string
  readonly headers: Readonly<Record<string, string>>
  readonly verify?: { readonly start: number; readonly end: number }
}

/**
 * chooseProbes picks up to `n` probes for a target, in this order: first byte, last byte, suffix,
 * open-ended, a slice straddling the 2 MiB chunk boundary (or the middle of a smaller file), a random
 * slice (from `random`, injected for reproducibility), two ranges (multipart), If-Range with the
 * ETag, If-Range with a stale date. An empty file gets none.
 */
export function chooseProbes(target: ProbeTarget, n: number, random: () => number): Probe[] {
  const size = target.size
  if (size <= 0 || n <= 0) return []
  const last = size - 1
  const single = (name: string, start: number, end: number, extra: Record<string, string> = {}): Probe => ({
    name,
    headers: { range: `bytes=${start}-${end}`, ...extra },
    verify: { start, end: Math.min(end, last) },
  })
  const suffix = Math.min(100, size)
  const mid = Math.floor(size / 2)
  const straddleAt = size > CHUNK_BOUNDARY + 2 ? CHUNK_BOUNDARY : mid
  const s0 = Math.max(0, straddleAt - 2)
  const r0 = Math.floor(random() * size)
  const r1 = Math.min(last, r0 + Math.floor(random() * Math.min(65_536, size - r0)))
  const probes: Probe[] = [
    single('first-byte', 0, 0),
    { name: 'last-byte', headers: { range: 'bytes=-1' }, verify: { start: last, end: last } },
    { name: 'suffix', headers: { range: `bytes=-${suffix}` }, verify: { start: size - suffix, end: last } },
    { name: 'open-ended', headers: { range: `bytes=${mid}-` }, verify: { start: mid, end: last } },
    single('chunk-straddle', s0, Math.min(last, s0 + 3)),
    single('random-slice', r0, r1),
    { name: 'multipart', headers: { range: size > 1 ? `bytes=0-0,${last}-${last}` : 'bytes=0-0,-1' } },
  ]
  if (target.etag) probes.push(single('if-range-etag', 0, Math.min(9, last), { 'if-range': target.etag }))
  probes.push({ name: 'if-range-stale', headers: { range: `bytes=0-${Math.min(9, last)}`, 'if-range': STALE_DATE } })
  return probes.slice(0, n)
}

/**
 * sliceDivergences turns the verification of a slice into divergences: a truncation of the side that
 * broke, the first differing byte (with both lengths, digests and context), or a length difference;
 * none when the bytes agree.
 */
function sliceDivergences(v: StreamVerdict): Divergence[] {
  if (v.failed) {
    const got = v.failed.side === 'control' ? v.controlLength : v.candidateLength
    const e = v.failed.error
    return [{ kind: 'error', side: v.failed.side, code: 'ERR_TRUNCATED', message: `body broke after ${got} bytes: ${e instanceof Error ? e.message : String(e)}` }]
  }
  if (v.offset !== undefined) {
    return [
      {
        kind: 'body-bytes',
        offset: v.offset,
        controlLength: v.controlLength,
        candidateLength: v.candidateLength,
        controlSha256: v.controlSha256,
        candidateSha256: v.candidateSha256,
        ...(v.context ? { context: v.context } : {}),
      },
    ]
  }
  if (v.controlLength !== v.candidateLength) return [{ kind: 'body-length', control: v.controlLength, candidate: v.candidateLength }]
  return []
}

/** slice yields bytes [start, start+length) of a stream and stops reading (cancels) after them. */
async function* slice(src: AsyncIterable<Uint8Array>, start: number, length: number): AsyncGenerator<Uint8Array> {
  let pos = 0
  const end = start + length
  for await (const chunk of src) {
    const from = Math.max(start, pos)
    const to = Math.min(end, pos + chunk.length)
    if (to > from) yield chunk.subarray(from - pos, to - pos)
    pos += chunk.length
    if (pos >= end) return // leaving the loop cancels the source
  }
}

/**
 * verifySlice checks the new server's answer to a single-range probe (`part`) against the old
 * server's answer to a plain GET (`whole`), at the same offsets: the ground truth that needs no
 * range support, so a slice both servers get wrong alike is still caught. `whole`'s body is read only
 * up to the slice's end. It resolves with the divergences found (none when they agree, or when
 * there is nothing to check: `whole` not a 200, `part` not a 206), on the same terms as
 * compareExchange, and consumes or cancels both bodies.
 */
export async function verifySlice(
  whole: Observed,
  part: Observed,
  range: { readonly start: number; readonly end: number },
): Promise<Divergence[]> {
  if (whole.kind === 'error' || part.kind === 'error') {
    cancelBody(whole)
    cancelBody(part)
    const [side, e] = whole.kind === 'error' ? (['control', whole] as const) : (['candidate', part] as const)
    return [{ kind: 'error', side, code: e.kind === 'error' ? e.code : 'ERR_UPSTREAM', message: 'probe verification' }]
  }
  if (whole.status !== 200 || part.status !== 206) {
    cancelBody(whole)
    cancelBody(part)
    // Only a 206 slice can be checked; the status itself is judged by the probe's own comparison.
    return []
  }
  const length = range.end - range.start + 1
  return sliceDivergences(await compareStreams(slice(whole.body, range.start, length), part.body))
}
