import t from 'tap'
import { fileEtag, type EtagFormat } from '../../src/payload/file-etag.js'

const st = { size: 11, mtimeNs: 1700000000_123456789n }
const LATE = 1_700_000_100_000 // well after the mtime
const usHex = (1700000000123456).toString(16) // truncated, as Apache's apr_time_t
const usRoundHex = (1700000000123457).toString(16) // rounded, as cutover's (Go's (ns + 500) / 1000)

const cases: Array<{ format: EtagFormat; now: number; settling?: boolean; stamp?: typeof st; etag: string | undefined; final: boolean; why: string }> = [
  { format: 'cutover', now: LATE, etag: `"${usRoundHex}-b"`, final: true, why: 'mtime µs (rounded) then size' },
  { format: 'nginx', now: LATE, etag: '"6553f100-b"', final: true, why: 'mtime seconds then size, as ngx_http_set_etag' },
  { format: 'apache', now: LATE, etag: `"b-${usHex}"`, final: true, why: 'size then mtime µs (truncated), as ap_make_etag' },
  { format: 'none', now: LATE, etag: undefined, final: true, why: 'no ETag' },
  { format: 'cutover', now: LATE, settling: true, etag: `W/"${usRoundHex}-b"`, final: true, why: 'a settling file gets a weak tag' },
  { format: 'nginx', now: LATE, settling: true, etag: 'W/"6553f100-b"', final: true, why: 'whatever the format' },
  { format: 'none', now: LATE, settling: true, etag: undefined, final: true, why: 'but none stays none' },
  // Apache: strong only when request_time - mtime > 1 s, in microseconds.
  { format: 'apache', stamp: { size: 11, mtimeNs: 1700000000_123000000n }, now: 1700000001_123, etag: `W/"b-${(1700000000123000).toString(16)}"`, final: false, why: 'exactly one second after the mtime: weak' },
  { format: 'apache', stamp: { size: 11, mtimeNs: 1700000000_123000000n }, now: 1700000001_124, etag: `"b-${(1700000000123000).toString(16)}"`, final: true, why: 'one second and a millisecond: strong' },
  { format: 'apache', now: 1690000000_000, etag: `W/"b-${usHex}"`, final: false, why: 'an mtime in the future: weak until it has passed' },
  { format: 'nginx', stamp: { size: 0, mtimeNs: 0n }, now: LATE, etag: '"0-0"', final: true, why: 'the epoch and an empty file' },
]

t.test('fileEtag makes exactly the tag each server sends for a file', async t => {
  for (const c of cases) {
    const got = fileEtag(c.format, c.stamp ?? st, c.now, c.settling ?? false)
    t.same(got, { etag: c.etag, final: c.final }, `${c.format}: ${c.why}`)
  }
})
