/**
 * Path tricks against a real `cutover serve`: traversal, encodings, dotfiles, NUL, backslash,
 * overlong UTF-8, double encoding, `;`, Unicode look-alikes, symlinks out of the root. Invariants:
 * never a byte from outside the root (a marker planted there never comes back), a 200 only with
 * the exact bytes of a file inside the root, only the statuses of a file server (no 5xx), every
 * redirect path-only and never starting with `//` or `/\`, and the process still up at the end.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { header } from '../helpers/e2e.js'
import { exchange, requestBytes } from '../helpers/raw-http.js'
import { startServeProcess } from '../helpers/serve.js'

const MARKER = 'OUTSIDE-THE-ROOT-7f3a9c'
const A = 'hello a\n'
const CAFE = 'cafe nfc\n'

const dir = t.testdir({})
const root = join(dir, 'root')
const outside = join(dir, 'outside')
mkdirSync(root)
mkdirSync(outside)
mkdirSync(join(outside, 'sub'))
writeFileSync(join(outside, 'secret.txt'), `${MARKER}\n`)
writeFileSync(join(outside, 'index.html'), `${MARKER} index\n`)
writeFileSync(join(outside, 'sub', 'index.html'), `${MARKER} sub index\n`)
writeFileSync(join(root, 'a.txt'), A)
writeFileSync(join(root, '.secret'), 'dotfile\n')
writeFileSync(join(root, 'caf\u00e9.txt'), CAFE) // NFC
writeFileSync(join(root, 'semi;colon.txt'), 'semi\n')
mkdirSync(join(root, 'dir'))
writeFileSync(join(root, 'dir', 'index.html'), '<p>index</p>\n')
mkdirSync(join(root, 'dir', '.git'))
writeFileSync(join(root, 'dir', '.git', 'config'), '[core]\n')
mkdirSync(join(root, 'evil.example'))
symlinkSync(join(outside, 'secret.txt'), join(root, 'out-link.txt'))
symlinkSync('../outside/secret.txt', join(root, 'rel-out.txt'))
symlinkSync(outside, join(root, 'out-dir'))
symlinkSync(join(outside, 'sub'), join(root, 'out-sub'))
symlinkSync(join(root, 'a.txt'), join(root, 'in-link.txt'))
symlinkSync('/', join(root, 'slash'))
symlinkSync('/etc/passwd', join(root, 'passwd'))

/** Files inside the root, by every body a 200 may carry. */
const INSIDE = new Set([A, CAFE, 'semi\n', '<p>index</p>\n'])

/** Targets with the status they must get (`undefined`: any safe status). */
const TARGETS: [string, number?][] = [
  // traversal, raw and encoded
  ['/../outside/secret.txt', 400],
  ['/../../../../../../etc/passwd', 400],
  ['/dir/../../outside/secret.txt', 400],
  ['/./../outside/secret.txt', 400],
  ['/..%2foutside%2fsecret.txt', 400],
  ['/%2e%2e/outside/secret.txt', 400],
  ['/%2E%2E%2Foutside%2Fsecret.txt', 400],
  ['/.%2e/outside/secret.txt', 400],
  ['/%2e./outside/secret.txt', 400],
  ['/dir/%2e%2e/%2e%2e/outside/secret.txt', 400],
  ['/....//outside/secret.txt', 404],
  ['/.../outside/secret.txt', 404],
  ['/..;/outside/secret.txt', 404],
  // double encoding: decoded once, so `%2e` stays a name
  ['/%252e%252e/outside/secret.txt', 404],
  ['/%252e%252e%252foutside%252fsecret.txt', 404],
  ['/%25%32%65%25%32%65/outside/secret.txt', 404],
  // overlong and invalid UTF-8 for `.` and `/`
  ['/%c0%ae%c0%ae/outside/secret.txt', 400],
  ['/%c0%af..%c0%afoutside/secret.txt', 400],
  ['/%e0%80%ae%e0%80%ae/outside/secret.txt', 400],
  ['/%c1%9c', 400],
  ['/%ff', 400],
  // backslash
  ['/..\\outside\\secret.txt', 400],
  ['/%5c..%5coutside%5csecret.txt', 400],
  ['/dir\\..\\..\\outside', 400],
  // NUL
  ['/a.txt%00', 400],
  ['/a.txt%00.png', 400],
  ['/%00../outside', 400],
  // `;` is part of a name, not a parameter
  ['/a.txt;.png', 404],
  ['/dir;/index.html', 404],
  ['/semi;colon.txt', 200],
  ['/semi%3bcolon.txt', 200],
  // dotfiles
  ['/.secret', 404],
  ['/%2esecret', 404],
  ['/dir/.git/config', 404],
  ['/dir/%2Egit/config', 404],
  ['/./.secret', 404],
  // Unicode: the NFC name is served, look-alikes and the NFD spelling are other names
  ['/caf%C3%A9.txt', 200],
  ['/cafe%CC%81.txt', 404],
  ['/%EF%BC%8E%EF%BC%8E/outside/secret.txt', 404],
  ['/%E2%80%A5/outside/secret.txt', 404],
  ['/%E2%88%95outside', 404],
  // symlinks out of the root
  ['/out-link.txt', 404],
  ['/rel-out.txt', 404],
  ['/out-dir/secret.txt', 404],
  ['/out-dir/', 404],
  ['/out-dir/sub/', 404],
  ['/out-sub/', 404],
  ['/slash/etc/passwd', 404],
  ['/passwd', 404],
  ['/in-link.txt', 200],
  // long names and deep paths
  [`/${'a'.repeat(300)}`, 404],
  [`/${'a'.repeat(5000)}`, 404],
  [`/${'a/'.repeat(2000)}a.txt`, 404],
  [`/${'./'.repeat(2000)}a.txt`, 200],
  [`/${'/'.repeat(2000)}a.txt`, 200],
  // directory redirects must stay on the site
  ['//evil.example'],
  ['///evil.example'],
  ['/%2fevil.example'],
  ['/%2F%2Fevil.example'],
  ['/./evil.example'],
  ['/.//evil.example'],
  ['//evil.example?next=//x'],
  ['//.'],
  ['/.'],
  ['//dir'],
  ['//out-dir'],
  ['//out-sub'],
  ['/%5cevil.example', 400],
  ['/\\evil.example', 400],
  // absolute-form with the same tricks
  ['http://x/../outside/secret.txt', 400],
  ['http://x/%2e%2e/outside/secret.txt', 400],
  ['http://x//evil.example'],
  ['http://evil.example//evil.example'],
  ['http://x/out-link.txt', 404],
  ['http://x/a.txt', 200],
]

const SAFE = new Set([200, 301, 400, 403, 404])

const { url, child } = await startServeProcess(t, root)

t.test('path tricks: no byte from outside the root, no redirect off the site', async t => {
  let outsideBytes = 0
  let offSite = 0
  for (const [target, want] of TARGETS) {
    for (const method of ['GET', 'HEAD']) {
      const ex = await exchange(url, requestBytes(method, target), 10_000, method === 'HEAD')
      const r = ex.responses[0]
      const name = `${method} ${target.length > 60 ? `${target.slice(0, 60)}…` : target}`
      if (!r) {
        t.fail(`${name}: no response`)
        continue
      }
      if (ex.raw.includes(MARKER)) outsideBytes++
      t.ok(SAFE.has(r.status), `${name}: ${r.status} is a file server's status`)
      if (want !== undefined) t.equal(r.status, want, `${name}: ${want}`)
      if (r.status === 200 && method === 'GET') t.ok(INSIDE.has(r.body.toString('utf8')), `${name}: a file inside the root`)
      if (r.status === 301) {
        const loc = header(r, 'location') ?? ''
        const ok = loc.startsWith('/') && !loc.startsWith('//') && !loc.startsWith('/\\') && !/[^\x21-\x7e]/.test(loc)
        if (!ok) offSite++
        t.ok(ok, `${name}: Location ${JSON.stringify(loc)} is path-only`)
        // The redirect leads somewhere that is itself safe.
        const next = await exchange(url, requestBytes('GET', loc))
        t.ok(next.responses[0] && [200, 403, 404].includes(next.responses[0].status), `${name}: following it gives 200/403/404`)
        if (next.raw.includes(MARKER)) outsideBytes++
      }
    }
  }
  t.equal(outsideBytes, 0, 'no byte from outside the root')
  t.equal(offSite, 0, 'no redirect off the site')
})

t.test('the server is still up and answers correctly', async t => {
  t.equal(child.exitCode, null, 'cutover serve is still running')
  const r = await exchange(url, requestBytes('GET', '/a.txt'))
  t.equal(r.responses[0]?.status, 200)
  t.equal(r.responses[0]?.body.toString(), A)
})
