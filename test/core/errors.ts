import t from 'tap'
import { abortError, codeOf, CutoverError, isCutoverError, type ErrorCode } from '../../src/core/errors.js'

t.test('CutoverError carries its code, message, name and cause', async t => {
  const codes: ErrorCode[] = [
    'ERR_NOT_FOUND',
    'ERR_FORBIDDEN',
    'ERR_BAD_REQUEST',
    'ERR_BLOB_CHANGED',
    'ERR_SHORT_READ',
    'ERR_ABORTED',
    'ERR_IO',
    'ERR_INVALID_ARGUMENT',
    'ERR_TIMEOUT',
    'ERR_CONNECT',
    'ERR_UPSTREAM',
    'ERR_ABANDONED',
  ]
  const cause = new Error('underlying')
  for (const code of codes) {
    const e = new CutoverError(code, `message for ${code}`, { cause })
    t.strictSame(
      { code: e.code, message: e.message, name: e.name, cause: e.cause, isError: e instanceof Error },
      { code, message: `message for ${code}`, name: 'CutoverError', cause, isError: true },
      `${code} is kept with its message and cause`,
    )
  }
})

t.test('isCutoverError and codeOf tell CutoverErrors apart from anything else', async t => {
  // Another copy of the module would have another class but the same registered brand symbol.
  const foreign = Object.assign(new Error('from another copy'), { code: 'ERR_IO', [Symbol.for('cutover.error')]: true })
  const cases: Array<[string, unknown, boolean, ErrorCode | undefined]> = [
    ['a CutoverError', new CutoverError('ERR_IO', 'x'), true, 'ERR_IO'],
    ['a CutoverError from another copy of the module', foreign, true, 'ERR_IO'],
    ['a plain Error with a code', Object.assign(new Error('x'), { code: 'ERR_IO' }), false, undefined],
    ['a Node fs error', Object.assign(new Error('x'), { code: 'ENOENT' }), false, undefined],
    ['null', null, false, undefined],
    ['undefined', undefined, false, undefined],
    ['a string', 'ERR_IO', false, undefined],
    ['an object claiming the brand is false', { [Symbol.for('cutover.error')]: false }, false, undefined],
  ]
  for (const [name, value, is, code] of cases) {
    t.equal(isCutoverError(value), is, `${name} is ${is ? '' : 'not '}a CutoverError`)
    t.equal(codeOf(value), code, `${name} has code ${code}`)
  }
})

t.test('abortError is ERR_ABORTED with the signal reason as cause', async t => {
  const ac = new AbortController()
  const reason = new Error('client went away')
  ac.abort(reason)
  const cases: Array<[string, AbortSignal | undefined, unknown]> = [
    ['an aborted signal', ac.signal, reason],
    ['no signal', undefined, undefined],
  ]
  for (const [name, signal, cause] of cases) {
    const e = abortError(signal)
    t.equal(e.code, 'ERR_ABORTED', `${name} gives ERR_ABORTED`)
    t.equal(e.cause, cause, `${name} keeps the reason as cause`)
  }
})
