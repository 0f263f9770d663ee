import t from 'tap'
import { evaluatePreconditions, isZeroTime, type ConditionalHeaders, type Validators, type Verdict } from '../../src/http/preconditions.js'

const T = 'Wed, 25 Jun 2014 17:12:18 GMT'
const T_MINUS = 'Wed, 25 Jun 2014 17:12:17 GMT'
const T_PLUS = 'Wed, 25 Jun 2014 17:12:19 GMT'
const MOD = new Date(Date.UTC(2014, 5, 25, 17, 12, 18))
const MOD_NANOS = new Date(MOD.getTime() + 123) // sub-second part, truncated by Last-Modified
const EPOCH = new Date(0)
const EPOCH_HTTP = 'Thu, 01 Jan 1970 00:00:00 GMT'
const R = 'bytes=0-4'

const proceed = (range?: string): Verdict => ({ kind: 'proceed', range })
const NOT_MODIFIED: Verdict = { kind: 'not-modified' }
const FAILED: Verdict = { kind: 'failed' }

const strong: Validators = { etag: '"A"', lastModified: MOD }
const weak: Validators = { etag: 'W/"A"', lastModified: MOD }
const dateOnly: Validators = { lastModified: MOD }
const nothing: Validators = {}

// Every row follows Go 1.23's checkPreconditions (net/http/fs.go).
const cases: Array<{ title: string; method?: string; h: ConditionalHeaders; v: Validators; want: Verdict }> = [
  { title: 'no conditional headers proceed', h: {}, v: strong, want: proceed() },
  { title: 'a range alone survives', h: { range: R }, v: strong, want: proceed(R) },
  { title: 'an empty range is no range', h: { range: '' }, v: strong, want: proceed() },

  // If-Match: strong comparison.
  { title: 'If-Match with the strong etag proceeds', h: { ifMatch: '"A"' }, v: strong, want: proceed() },
  { title: 'If-Match with the etag later in a list proceeds', h: { ifMatch: '"Z", "A"' }, v: strong, want: proceed() },
  { title: 'If-Match "*" proceeds', h: { ifMatch: '*' }, v: strong, want: proceed() },
  { title: 'If-Match "*" proceeds even without an etag', h: { ifMatch: '*' }, v: nothing, want: proceed() },
  { title: 'If-Match with another etag fails', h: { ifMatch: '"B"' }, v: strong, want: FAILED },
  { title: 'If-Match never matches a weak etag', h: { ifMatch: 'W/"A"' }, v: weak, want: FAILED },
  { title: 'If-Match with a weak form of the strong etag fails', h: { ifMatch: 'W/"A"' }, v: strong, want: FAILED },
  { title: 'If-Match fails when the representation has no etag', h: { ifMatch: '"A"' }, v: dateOnly, want: FAILED },
  { title: 'If-Match stops at garbage before a match', h: { ifMatch: '"B", bogus, "A"' }, v: strong, want: FAILED },
  { title: 'If-Match of only commas fails', h: { ifMatch: ',' }, v: strong, want: FAILED },
  { title: 'If-Match compares case-sensitively', h: { ifMatch: '"a"' }, v: strong, want: FAILED },
  { title: 'If-Match applies to POST too', method: 'POST', h: { ifMatch: '"B"' }, v: strong, want: FAILED },

  // If-Unmodified-Since: only without If-Match.
  { title: 'If-Unmodified-Since equal to the second proceeds', h: { ifUnmodifiedSince: T }, v: dateOnly, want: proceed() },
  { title: 'If-Unmodified-Since later proceeds', h: { ifUnmodifiedSince: T_PLUS }, v: dateOnly, want: proceed() },
  { title: 'If-Unmodified-Since earlier fails', h: { ifUnmodifiedSince: T_MINUS }, v: dateOnly, want: FAILED },
  { title: 'If-Unmodified-Since ignores sub-second modification time', h: { ifUnmodifiedSince: T }, v: { lastModified: MOD_NANOS }, want: proceed() },
  { title: 'an unparseable If-Unmodified-Since is ignored', h: { ifUnmodifiedSince: 'yesterday' }, v: dateOnly, want: proceed() },
  { title: 'If-Unmodified-Since is ignored without a modification time', h: { ifUnmodifiedSince: T_MINUS }, v: nothing, want: proceed() },
  { title: 'If-Unmodified-Since is ignored for the Unix epoch', h: { ifUnmodifiedSince: T_MINUS }, v: { lastModified: EPOCH }, want: proceed() },
  { title: 'If-Unmodified-Since is ignored when If-Match matches', h: { ifMatch: '"A"', ifUnmodifiedSince: T_MINUS }, v: strong, want: proceed() },
  { title: 'If-Unmodified-Since does not rescue a failed If-Match', h: { ifMatch: '"B"', ifUnmodifiedSince: T_PLUS }, v: strong, want: FAILED },

  // If-None-Match: weak comparison.
  { title: 'If-None-Match with the etag is not modified', h: { ifNoneMatch: '"A"' }, v: strong, want: NOT_MODIFIED },
  { title: 'If-None-Match compares weakly against a weak etag', h: { ifNoneMatch: '"A"' }, v: weak, want: NOT_MODIFIED },
  { title: 'If-None-Match with a weak tag matches a strong etag', h: { ifNoneMatch: 'W/"A"' }, v: strong, want: NOT_MODIFIED },
  { title: 'If-None-Match finds the etag in a list', h: { ifNoneMatch: '"baz", W/"A"' }, v: weak, want: NOT_MODIFIED },
  { title: 'If-None-Match "*" is not modified', h: { ifNoneMatch: '*' }, v: strong, want: NOT_MODIFIED },
  { title: 'If-None-Match "*" is not modified even without an etag', h: { ifNoneMatch: '*' }, v: nothing, want: NOT_MODIFIED },
  { title: 'If-None-Match with another etag proceeds', h: { ifNoneMatch: '"B"' }, v: strong, want: proceed() },
  { title: 'If-None-Match compares case-sensitively', h: { ifNoneMatch: '"a"' }, v: strong, want: proceed() },
  { title: 'a malformed If-None-Match proceeds', h: { ifNoneMatch: ',' }, v: strong, want: proceed() },
  { title: 'If-None-Match stops at garbage before a match', h: { ifNoneMatch: 'bogus, "A"' }, v: strong, want: proceed() },
  { title: 'If-None-Match without a representation etag proceeds', h: { ifNoneMatch: '"A"' }, v: dateOnly, want: proceed() },
  { title: 'If-None-Match on HEAD is not modified', method: 'HEAD', h: { ifNoneMatch: '"A"' }, v: strong, want: NOT_MODIFIED },
  { title: 'If-None-Match on POST fails', method: 'POST', h: { ifNoneMatch: '"A"' }, v: strong, want: FAILED },
  { title: 'If-None-Match "*" on PUT fails', method: 'PUT', h: { ifNoneMatch: '*' }, v: strong, want: FAILED },
  { title: 'If-Match is checked before If-None-Match', h: { ifMatch: '"B"', ifNoneMatch: '"A"' }, v: strong, want: FAILED },
  { title: 'a passing If-Match still lets If-None-Match answer 304', h: { ifMatch: '"A"', ifNoneMatch: '"A"' }, v: strong, want: NOT_MODIFIED },

  // If-Modified-Since: only without If-None-Match, only GET and HEAD.
  { title: 'If-Modified-Since equal to the second is not modified', h: { ifModifiedSince: T }, v: dateOnly, want: NOT_MODIFIED },
  { title: 'If-Modified-Since later is not modified', h: { ifModifiedSince: T_PLUS }, v: dateOnly, want: NOT_MODIFIED },
  { title: 'If-Modified-Since earlier proceeds', h: { ifModifiedSince: T_MINUS }, v: dateOnly, want: proceed() },
  { title: 'If-Modified-Since truncates a sub-second modification time', h: { ifModifiedSince: T }, v: { lastModified: MOD_NANOS }, want: NOT_MODIFIED },
  { title: 'If-Modified-Since with a fraction before the second proceeds', h: { ifModifiedSince: 'Wed, 25 Jun 2014 17:12:17.9 GMT' }, v: dateOnly, want: proceed() },
  { title: 'If-Modified-Since with a fraction after the second is not modified', h: { ifModifiedSince: 'Wed, 25 Jun 2014 17:12:18.4 GMT' }, v: dateOnly, want: NOT_MODIFIED },
  { title: 'an unparseable If-Modified-Since is ignored', h: { ifModifiedSince: 'garbage' }, v: dateOnly, want: proceed() },
  { title: 'If-Modified-Since is ignored when If-None-Match is present', h: { ifNoneMatch: '"B"', ifModifiedSince: T }, v: strong, want: proceed() },
  { title: 'If-Modified-Since is ignored even when If-None-Match is malformed', h: { ifNoneMatch: ',', ifModifiedSince: T }, v: strong, want: proceed() },
  { title: 'If-Modified-Since is ignored on POST', method: 'POST', h: { ifModifiedSince: T }, v: dateOnly, want: proceed() },
  { title: 'If-Modified-Since works on HEAD', method: 'HEAD', h: { ifModifiedSince: T }, v: dateOnly, want: NOT_MODIFIED },
  { title: 'If-Modified-Since is ignored without a modification time', h: { ifModifiedSince: T }, v: nothing, want: proceed() },
  { title: 'If-Modified-Since is ignored for the Unix epoch', h: { ifModifiedSince: EPOCH_HTTP }, v: { lastModified: EPOCH }, want: proceed() },
  { title: 'If-Modified-Since 304 drops the range', h: { ifModifiedSince: T, range: R }, v: dateOnly, want: NOT_MODIFIED },

  // If-Range: decides whether the Range survives.
  { title: 'If-Range with the strong etag keeps the range', h: { range: R, ifRange: '"A"' }, v: strong, want: proceed(R) },
  { title: 'If-Range with another etag drops the range', h: { range: R, ifRange: '"B"' }, v: strong, want: proceed() },
  { title: 'If-Range with a weak etag drops the range', h: { range: R, ifRange: 'W/"A"' }, v: weak, want: proceed() },
  { title: 'If-Range with a strong tag never matches a weak etag', h: { range: R, ifRange: '"A"' }, v: weak, want: proceed() },
  { title: 'If-Range with an etag drops the range without a representation etag', h: { range: R, ifRange: '"A"' }, v: dateOnly, want: proceed() },
  { title: 'If-Range reads only the first etag', h: { range: R, ifRange: '"A", "B"' }, v: strong, want: proceed(R) },
  { title: 'If-Range with the date to the second keeps the range', h: { range: R, ifRange: T }, v: dateOnly, want: proceed(R) },
  // RFC 9110 §13.1.5: a date validates If-Range only when Last-Modified is strong; a settling file's is not.
  { title: 'If-Range with the date drops the range when the date is a weak validator', h: { range: R, ifRange: T }, v: { lastModified: MOD, lastModifiedWeak: true }, want: proceed() },
  { title: 'a weak date still answers If-Modified-Since', h: { ifModifiedSince: T }, v: { lastModified: MOD, lastModifiedWeak: true }, want: NOT_MODIFIED },
  { title: 'If-Range with the date keeps the range over a sub-second time', h: { range: R, ifRange: T }, v: { lastModified: MOD_NANOS }, want: proceed(R) },
  { title: 'If-Range with a fractional date of the same second keeps the range', h: { range: R, ifRange: 'Wed, 25 Jun 2014 17:12:18.9 GMT' }, v: dateOnly, want: proceed(R) },
  { title: 'If-Range with a later date drops the range', h: { range: R, ifRange: T_PLUS }, v: dateOnly, want: proceed() },
  { title: 'If-Range with an earlier date drops the range', h: { range: R, ifRange: T_MINUS }, v: dateOnly, want: proceed() },
  { title: 'If-Range with an unparseable date drops the range', h: { range: R, ifRange: 'garbage' }, v: dateOnly, want: proceed() },
  { title: 'If-Range with a date drops the range without validators', h: { range: R, ifRange: T }, v: nothing, want: proceed() },
  { title: 'If-Range with an etag drops the range without validators', h: { range: R, ifRange: '"A"' }, v: nothing, want: proceed() },
  { title: 'If-Range still compares the Unix epoch as a date', h: { range: R, ifRange: EPOCH_HTTP }, v: { lastModified: EPOCH }, want: proceed(R) },
  { title: 'If-Range with another date drops the range at the Unix epoch', h: { range: R, ifRange: T }, v: { lastModified: EPOCH }, want: proceed() },
  { title: 'If-Range is ignored on POST', method: 'POST', h: { range: R, ifRange: '"B"' }, v: strong, want: proceed(R) },
  { title: 'If-Range works on HEAD', method: 'HEAD', h: { range: R, ifRange: '"B"' }, v: strong, want: proceed() },
  { title: 'If-Range without a range proceeds without a range', h: { ifRange: '"A"' }, v: strong, want: proceed() },
  { title: 'a failed If-Match wins over If-Range', h: { ifMatch: '"B"', range: R, ifRange: '"A"' }, v: strong, want: FAILED },
  { title: 'If-None-Match 304 wins over If-Range', h: { ifNoneMatch: '"A"', range: R, ifRange: '"A"' }, v: strong, want: NOT_MODIFIED },
  { title: 'a passing If-Match keeps a matching If-Range range', h: { ifMatch: '"A"', range: R, ifRange: '"A"' }, v: strong, want: proceed(R) },
  { title: 'an empty If-Range keeps the range', h: { range: R, ifRange: '' }, v: strong, want: proceed(R) },
]

t.test('evaluatePreconditions follows Go checkPreconditions', async t => {
  for (const c of cases) t.strictSame(evaluatePreconditions(c.method ?? 'GET', c.h, c.v), c.want, c.title)
})

t.test('isZeroTime is true for no time and the Unix epoch only', async t => {
  const cases: Array<[string, Date | undefined, boolean]> = [
    ['undefined', undefined, true],
    ['the Unix epoch', new Date(0), true],
    ['one millisecond after the epoch', new Date(1), false],
    ['one second before the epoch', new Date(-1000), false],
    ['a normal date', MOD, false],
  ]
  for (const [name, d, want] of cases) t.equal(isZeroTime(d), want, `${name} is ${want ? '' : 'not '}zero`)
})
