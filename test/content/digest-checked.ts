import { createHash } from 'node:crypto'
import t from 'tap'
import { bytes } from '../../src/content/bytes.js'
import { digestChecked } from '../../src/content/digest-checked.js'
import { codeOf } from '../../src/core/errors.js'

const DATA = Buffer.from('0123456789abcdefghij')
const RIGHT = createHash('sha256').update(DATA).digest('hex')
const WRONG = createHash('sha256').update('something else').digest('hex')

/** readAll reads [off, off+len) pieces in order and returns what each read did: its byte count or its error code. */
async function reads(sha: string, plan: Array<[off: number, len: number]>): Promise<Array<number | string>> {
  const c = digestChecked(bytes(DATA), sha)
  const out: Array<number | string> = []
  for (const [off, len] of plan) {
    try {
      out.push(await c.readAt(Buffer.alloc(len), off))
    } catch (err) {
      out.push(codeOf(err) ?? 'other')
    }
  }
  return out
}

t.test('digestChecked checks full in-order reads and nothing else', async t => {
  const cases: Array<[what: string, sha: string, plan: Array<[number, number]>, want: Array<number | string>]> = [
    ['one whole read, right digest', RIGHT, [[0, 20]], [20]],
    ['one whole read, wrong digest', WRONG, [[0, 20]], ['ERR_BLOB_CHANGED']],
    ['pieces in order, right digest', RIGHT, [[0, 7], [7, 7], [14, 7]], [7, 7, 6]],
    ['pieces in order, wrong digest: the last read fails', WRONG, [[0, 7], [7, 7], [14, 7]], [7, 7, 'ERR_BLOB_CHANGED']],
    ['upper-case digest', RIGHT.toUpperCase(), [[0, 20]], [20]],
    ['a range: not checked', WRONG, [[5, 15]], [15]],
    ['a suffix after a prefix (multipart): not checked', WRONG, [[0, 3], [10, 10]], [3, 10]],
    ['out of order then everything: not checked', WRONG, [[10, 10], [0, 20]], [10, 20]],
  ]
  for (const [what, sha, plan, want] of cases) t.strictSame(await reads(sha, plan), want, what)
})

t.test('digestChecked stops checking when reads overlap', async t => {
  const c = digestChecked(bytes(DATA), WRONG)
  const [a, b] = await Promise.all([c.readAt(Buffer.alloc(10), 0), c.readAt(Buffer.alloc(10), 10)])
  t.strictSame([a, b], [10, 10], 'two reads at once are not a plain full read')
  t.equal(c.size, 20)
})
