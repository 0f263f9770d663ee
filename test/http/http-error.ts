import t from 'tap'
import type { ErrorCode } from '../../src/core/errors.js'
import { httpErrorOf } from '../../src/http/http-error.js'

t.test('every error code has one answer, and none of them says more than its status', async t => {
  const rows: Array<[code: ErrorCode | undefined, status: number, message: string]> = [
    ['ERR_NOT_FOUND', 404, '404 page not found'],
    ['ERR_FORBIDDEN', 403, '403 Forbidden'],
    ['ERR_BAD_REQUEST', 400, '400 Bad Request'],
    ['ERR_HTTP_VERSION', 505, '505 HTTP Version Not Supported'],
    ['ERR_BLOB_CHANGED', 500, '500 Internal Server Error'],
    ['ERR_UPSTREAM', 502, '502 Bad Gateway'],
    ['ERR_TIMEOUT', 504, '504 Gateway Timeout'],
    ['ERR_IO', 500, '500 Internal Server Error'],
    ['ERR_SHORT_READ', 500, '500 Internal Server Error'],
    [undefined, 500, '500 Internal Server Error'],
  ]
  for (const [code, status, message] of rows) t.same(httpErrorOf(code), { status, message }, String(code))
})
