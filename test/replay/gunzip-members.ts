import { deflateRawSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { gunzipMembers, type GunzipEnd } from '../../src/replay/gunzip-members.js'

const TEXT = Buffer.from(Array.from({ length: 300 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}\n`).join(''))

/** member builds a gzip member by hand (RFC 1952 §2.3), with the optional header fields of `flags`. */
function member(flags: number): Buffer {
  const parts = [Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3])]
  if (flags & 4) parts.push(Buffer.from([3, 0, 1, 2, 3]))
  if (flags & 8) parts.push(Buffer.from('name.log\0'))
  if (flags & 16) parts.push(Buffer.from('a comment\0'))
  if (flags & 2) parts.push(Buffer.from([0, 0]))
  parts.push(deflateRawSync(TEXT), Buffer.alloc(8)) // the trailer is skipped, not checked
  return Buffer.concat(parts)
}

async function gunzip(bytes: Buffer, chunk: number) {
  async function* src() {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk)
  }
  const end: GunzipEnd = {}
  const out: Buffer[] = []
  let error: string | undefined
  try {
    for await (const b of gunzipMembers(src(), end)) out.push(b)
  } catch (e) {
    error = `${(e as { code: string }).code}: ${(e as Error).message}`
  }
  return { text: Buffer.concat(out), end, error }
}

const cases: Array<{ title: string; bytes: Buffer; copies: number; junk?: { offset: number; bytes: number }; error?: RegExp }> = [
  { title: 'one member', bytes: gzipSync(TEXT), copies: 1 },
  { title: 'every optional header field', bytes: member(4 | 8 | 16 | 2), copies: 1 },
  { title: 'two members and zero padding', bytes: Buffer.concat([member(8), Buffer.alloc(3), gzipSync(TEXT), Buffer.alloc(9)]), copies: 2 },
  { title: 'junk after a member', bytes: Buffer.concat([member(8), Buffer.from('\0\0junk')]), copies: 1, junk: { offset: member(8).length + 2, bytes: 4 } },
  { title: 'not gzip at all', bytes: Buffer.from('plain text'), copies: 0, error: /^Z_DATA_ERROR: incorrect header check/ },
  { title: 'not deflate', bytes: Buffer.from([0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3, 1, 2]), copies: 0, error: /^Z_DATA_ERROR: unknown compression method/ },
  { title: 'a header cut in its name', bytes: member(8).subarray(0, 14), copies: 0, error: /^Z_BUF_ERROR: unexpected end of file/ },
  { title: 'a header cut in its fixed part', bytes: member(0).subarray(0, 6), copies: 0, error: /^Z_BUF_ERROR/ },
  { title: 'a corrupt deflate stream', bytes: Buffer.concat([member(0).subarray(0, 10), Buffer.alloc(20, 0xff)]), copies: 0, error: /^Z_DATA_ERROR/ },
]

t.test('gunzipMembers reads members, skips padding, stops at junk, and fails on a broken stream', async t => {
  for (const c of cases) {
    for (const chunk of [1, 7, 64 * 1024]) {
      const got = await gunzip(c.bytes, chunk)
      t.ok(got.text.equals(Buffer.concat(Array.from({ length: c.copies }, () => TEXT))), `${c.title} (chunks of ${chunk}): every byte of every complete member`)
      t.strictSame(got.end, c.junk ? { junk: c.junk } : {}, `${c.title} (chunks of ${chunk}): trailing data`)
      if (c.error) t.match(got.error, c.error, `${c.title} (chunks of ${chunk}): the error`)
      else t.equal(got.error, undefined, `${c.title} (chunks of ${chunk}): no error`)
    }
  }
})
