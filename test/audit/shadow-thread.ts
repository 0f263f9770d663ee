// ShadowThread and ThreadFeed: the primary's body handed to the comparison thread in blocks, within
// the same bounds as a tee; the comparison made there; a thread that fails. The other server is a
// real loopback server; the primary's body is pushed by the test as the client path would.
import type { IncomingMessage, ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { DEFAULT_TEE_BUDGET, Mirror } from '../../src/audit/mirror.js'
import { EtagPairs } from '../../src/audit/etag-pairs.js'
import { HttpBackend } from '../../src/audit/http-backend.js'
import type { Observed } from '../../src/audit/exchange.js'
import { SLOT_BYTES, ShadowThread, type ShadowThreadConfig, type ThreadFeed } from '../../src/audit/shadow-thread.js'
import { listen } from '../helpers/gate.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { prngBytes } from '../helpers/e2e.js'

const CHUNK = 64 * 1024

/** serving answers every request with `body` (200, Content-Length). */
const serving =
  (body: Buffer) =>
  (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
    res.end(body)
  }

/** startThread starts a comparison thread with `new` at newUrl (old, the primary, is never asked unless to zoom). */
function startThread(t: Test, newUrl: string, o: Partial<ShadowThreadConfig> = {}, onFailure?: (err: Error) => void): ShadowThread {
  const thread = new ShadowThread({
    config: {
      primaryIsOld: true,
      old: { name: 'old', base: 'http://127.0.0.1:9' },
      new: { name: 'new', base: newUrl },
      teeBytes: 8 * 1024 * 1024,
      budgetBytes: DEFAULT_TEE_BUDGET,
      ...o,
    },
    ...(onFailure ? { onFailure } : {}),
  })
  t.teardown(() => thread.close())
  return thread
}

/** primaryOf is the primary's answer as the client path observed it. */
const primaryOf = (length: number): Observed => ({
  kind: 'response',
  status: 200,
  headers: [
    ['content-type', 'application/octet-stream'],
    ['content-length', String(length)],
  ],
  body: { [Symbol.asyncIterator]: async function* () {} },
  durationMs: 1,
})

/** feedAll pushes `body` in network-sized chunks, then ends it. */
function feedAll(feed: ThreadFeed, body: Buffer): void {
  for (let at = 0; at < body.length; at += CHUNK) feed.push(body.subarray(at, at + CHUNK))
  feed.end()
}

const req = (id: string) => ({ id, method: 'GET', path: '/f', headers: { host: 'h' } })

t.test('bodies go over in blocks and are compared there: equal, and differing at an exact offset', async t => {
  const body = prngBytes(3 * SLOT_BYTES + 12_345, 7)
  const other = Buffer.from(body)
  const at = 2 * SLOT_BYTES + 100
  other[at] = other[at]! ^ 0xff
  const same = await listen(t, serving(body))
  const differs = await listen(t, serving(other))
  const table: Array<[string, string, (c: unknown) => void]> = [
    ['equal bodies', same.url, c => t.match(c, { divergences: [], bytesCompared: body.length }, 'equal bodies: clean, every byte compared')],
    ['a byte differs past the second block', differs.url, c => t.match(c, { divergences: [{ kind: 'body-bytes' }] }, 'the difference is found')],
  ]
  for (const [name, url, check] of table) {
    const thread = startThread(t, url)
    const feed = thread.feed()
    feed.begin(undefined)
    const run = thread.run(feed, req(name), primaryOf(body.length), '127.0.0.1')
    feedAll(feed, body)
    const out = await run
    t.equal(out.failure, undefined, `${name}: no failure`)
    check(out.comparison)
    t.equal(out.answers.length, 1, `${name}: one answer from new`)
    t.equal(thread.held, 0, `${name}: nothing held once compared`)
  }
})

t.test('a body past its tee bound or the budget is given up as budget; an abandoned one with its reason', async t => {
  const body = prngBytes(4 * CHUNK, 3)
  const srv = await listen(t, serving(body))
  const table: Array<[string, Partial<ShadowThreadConfig>, (f: ThreadFeed) => void, string]> = [
    ['a chunk past the tee bound', { teeBytes: CHUNK - 1 }, f => feedAll(f, body), 'budget'],
    ['past the budget', { budgetBytes: 2 * CHUNK }, f => feedAll(f, body), 'budget'],
    ['shed', {}, f => f.abandon('ERR_SHED'), 'shed'],
    ['cut at shutdown', {}, f => f.abandon('ERR_SHUTDOWN'), 'shutdown'],
  ]
  for (const [name, o, feedIt, reason] of table) {
    const thread = startThread(t, srv.url, o)
    const feed = thread.feed()
    feed.begin(undefined)
    feedIt(feed)
    const out = await thread.run(feed, req(name), primaryOf(body.length), '127.0.0.1')
    t.match(out.comparison, { divergences: [{ kind: 'not-compared', reason }] }, name)
    t.equal(thread.held, 0, `${name}: nothing held afterwards`)
  }
})

t.test('a body whose comparison never runs is stopped: nothing stays held', async t => {
  const body = prngBytes(2 * SLOT_BYTES, 5)
  const srv = await listen(t, serving(body))
  const thread = startThread(t, srv.url)
  const feed = thread.feed()
  feed.begin(undefined)
  feedAll(feed, body)
  thread.stop(feed)
  // The thread received and dropped it by the time it answers the next comparison.
  const next = thread.feed()
  next.begin(undefined)
  const run = thread.run(next, req('next'), primaryOf(body.length), '127.0.0.1')
  feedAll(next, body)
  t.match((await run).comparison, { divergences: [] })
  t.equal(thread.held, 0, 'nothing held')
})

t.test('a thread that fails gives up the comparisons in flight and later ones, and says so once', async t => {
  const failures: Error[] = []
  // The thread cannot make its backend from this base: it fails as it starts.
  const thread = startThread(t, 'not a url', {}, err => failures.push(err))
  const feed = thread.feed()
  feed.begin(undefined)
  const first = await thread.run(feed, req('a'), primaryOf(0), '127.0.0.1')
  t.match(first, { failure: /the comparison thread failed: .*base must be a URL/, threadFailed: true })
  const later = thread.feed()
  t.match(await thread.run(later, req('b'), primaryOf(0), '127.0.0.1'), { failure: /base must be a URL/ })
  t.equal(failures.length, 1, 'reported once')
})

t.test('a thread asked to close exits without being reported as failed; a feed made after is closed at once', async t => {
  const failures: Error[] = []
  const thread = startThread(t, 'http://127.0.0.1:9', {}, err => failures.push(err))
  await thread.ready
  await thread.close()
  t.same(failures, [], 'no failure reported')
  const feed = thread.feed()
  feed.begin(undefined)
  feed.push(Buffer.alloc(10))
  t.equal(thread.held, 0, 'nothing taken for a thread that is gone')
  t.match(await thread.run(feed, req('late'), primaryOf(10), '127.0.0.1'), { threadFailed: true })
})

t.test('a mirror compares in a thread only with what can go there', async t => {
  const ok = new HttpBackend({ name: 'old', base: 'http://127.0.0.1:9' })
  const nw = new HttpBackend({ name: 'new', base: 'http://127.0.0.1:9' })
  t.teardown(() => Promise.all([ok.close(), nw.close()]))
  const fake = { name: 'new', base: 'http://x', send: () => Promise.reject(new Error('unused')), close: async () => {} }
  const clocked = new HttpBackend({ name: 'new', base: 'http://127.0.0.1:9', clock: new ManualClock() })
  t.teardown(() => clocked.close())
  const table: Array<[string, ConstructorParameters<typeof Mirror>[0], RegExp]> = [
    ['a backend that is no HttpBackend', { old: ok, new: fake, thread: true }, /the new backend must be an HttpBackend/],
    ['a backend with a clock of its own', { old: ok, new: clocked, thread: true }, /the new backend must be an HttpBackend/],
    ['a clock of its own', { old: ok, new: nw, thread: true, clock: new ManualClock() }, /system clock/],
    ['ETag pairs of its own', { old: ok, new: nw, thread: true, etags: new EtagPairs() }, /learns its own ETag pairs/],
  ]
  for (const [name, o, message] of table) t.throws(() => new Mirror(o), { name: 'TypeError', message }, name)
})
