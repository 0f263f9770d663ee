import t from 'tap'
import { codeOf } from '../../src/core/errors.js'
import { cleanPath } from '../../src/payload/clean-path.js'

const pathCases: Array<{ raw: string; dotfiles?: boolean; want?: string; code?: string }> = [
  { raw: '/', want: '' },
  { raw: '/a.txt', want: 'a.txt' },
  { raw: '//a///b/./c.txt', want: 'a/b/c.txt' },
  { raw: '/some%20thing.txt', want: 'some thing.txt' },
  { raw: '/snow%20%E2%98%83.txt', want: 'snow ☃.txt' },
  { raw: '/do..ts.txt', want: 'do..ts.txt' },
  { raw: '/a/..b/c', code: 'ERR_NOT_FOUND' },
  { raw: '/a/..b/c', dotfiles: true, want: 'a/..b/c' },
  { raw: '/../etc/passwd', code: 'ERR_BAD_REQUEST' },
  { raw: '/a/../b', code: 'ERR_BAD_REQUEST' },
  { raw: '/%2e%2e/x', code: 'ERR_BAD_REQUEST' },
  { raw: '/a/%2E%2E/%2E%2E/etc/passwd', code: 'ERR_BAD_REQUEST' },
  { raw: '/a%2f..%2fb', code: 'ERR_BAD_REQUEST' },
  { raw: '/a%5c..%5cb', code: 'ERR_BAD_REQUEST' },
  { raw: '/a\\b', code: 'ERR_BAD_REQUEST' },
  { raw: '/%zz', code: 'ERR_BAD_REQUEST' },
  { raw: '/%E2%98', code: 'ERR_BAD_REQUEST' },
  { raw: '/a%00.txt', code: 'ERR_BAD_REQUEST' },
  { raw: 'a.txt', code: 'ERR_BAD_REQUEST' },
  { raw: '*', code: 'ERR_BAD_REQUEST' },
  { raw: '/.hidden', code: 'ERR_NOT_FOUND' },
  { raw: '/dir/.git/config', code: 'ERR_NOT_FOUND' },
  { raw: '/%2ehidden', code: 'ERR_NOT_FOUND' },
  { raw: '/.hidden', dotfiles: true, want: '.hidden' },
  { raw: '/.well-known/x', dotfiles: true, want: '.well-known/x' },
  { raw: '/..', dotfiles: true, code: 'ERR_BAD_REQUEST' },
]

t.test('cleanPath maps request paths to relative file paths or refuses them', async t => {
  for (const c of pathCases) {
    const title = `${c.raw}${c.dotfiles ? ' (dotfiles)' : ''}`
    if (c.code) {
      t.equal(
        (() => {
          try {
            cleanPath(c.raw, c.dotfiles ?? false)
            return 'no error'
          } catch (err) {
            return codeOf(err)
          }
        })(),
        c.code,
        `${title} is refused with ${c.code}`,
      )
    } else {
      t.equal(cleanPath(c.raw, c.dotfiles ?? false), c.want, `${title} maps to "${c.want}"`)
    }
  }
})
