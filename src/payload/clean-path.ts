import { CutoverError } from '../core/errors.js'

const notFound = (): CutoverError => new CutoverError('ERR_NOT_FOUND', 'hidden name')
const badRequest = (why: string): CutoverError => new CutoverError('ERR_BAD_REQUEST', why)

/**
 * cleanPath turns a request target's path into the relative path of a file under the root, or
 * throws: ERR_BAD_REQUEST for a path that is not origin-form, has a bad percent-escape, a NUL, a
 * backslash, or a `..` segment (raw or encoded: traversal is refused, not normalised away);
 * ERR_NOT_FOUND for a dot-segment name when dotfiles are hidden. Empty and `.` segments are
 * dropped (merged slashes, as nginx does). The result has no leading slash ("" is the root).
 */
export function cleanPath(rawPath: string, dotfiles: boolean): string {
  if (rawPath[0] !== '/') throw badRequest('path is not absolute')
  let decoded = rawPath
  if (rawPath.includes('%')) {
    try {
      decoded = decodeURIComponent(rawPath)
    } catch {
      throw badRequest('bad percent-encoding')
    }
  }
  if (decoded.includes('\0') || decoded.includes('\\')) throw badRequest('forbidden character in path')
  const out: string[] = []
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') throw badRequest('path traversal')
    if (!dotfiles && seg[0] === '.') throw notFound()
    out.push(seg)
  }
  return out.join('/')
}
