import t from 'tap'
import { formatHttpDate, parseHttpDate } from '../../src/http/http-date.js'

/** 1994-11-06T08:49:37Z, the example date of RFC 9110 §5.6.7, in Unix seconds. */
const SUN = 784111777
const NOV16 = SUN + 10 * 86400

// Every expectation was checked against Go's http.ParseTime (time.Parse with TimeFormat, RFC850 and
// ANSIC, on a server whose local zone is UTC). undefined means Go returns an error.
const cases: Array<{ title: string; s: string; want: number | undefined }> = [
  // The three formats.
  { title: 'IMF-fixdate is accepted', s: 'Sun, 06 Nov 1994 08:49:37 GMT', want: SUN },
  { title: 'RFC 850 is accepted', s: 'Sunday, 06-Nov-94 08:49:37 GMT', want: SUN },
  { title: 'asctime with a space-padded one-digit day is accepted', s: 'Sun Nov  6 08:49:37 1994', want: SUN },
  { title: 'asctime with a single space before a one-digit day is accepted', s: 'Sun Nov 6 08:49:37 1994', want: SUN },
  { title: 'asctime with a two-digit day is accepted', s: 'Sun Nov 16 08:49:37 1994', want: NOV16 },
  { title: 'asctime with a zero-padded day is accepted', s: 'Sun Nov 06 08:49:37 1994', want: SUN },
  { title: 'asctime with extra spaces before the day is accepted', s: 'Sun Nov   6 08:49:37 1994', want: SUN },
  { title: 'the Go test date is accepted', s: 'Wed, 25 Jun 2014 17:12:18 GMT', want: 1403716338 },
  { title: 'the Unix epoch is accepted', s: 'Thu, 01 Jan 1970 00:00:00 GMT', want: 0 },
  // Go's time.Parse leniencies.
  { title: 'lower-case day and month names are accepted', s: 'sun, 06 nov 1994 08:49:37 GMT', want: SUN },
  { title: 'upper-case day and month names are accepted', s: 'SUN, 06 NOV 1994 08:49:37 GMT', want: SUN },
  { title: 'a weekday that does not match the date is accepted', s: 'Mon, 06 Nov 1994 08:49:37 GMT', want: SUN },
  { title: 'a one-digit hour is accepted', s: 'Sun, 06 Nov 1994 8:49:37 GMT', want: SUN },
  { title: 'a fraction after the seconds is accepted', s: 'Sun, 06 Nov 1994 08:49:37.5 GMT', want: SUN + 0.5 },
  { title: 'a comma fraction is accepted', s: 'Sun, 06 Nov 1994 08:49:37,25 GMT', want: SUN + 0.25 },
  { title: 'a fraction in RFC 850 is accepted', s: 'Sunday, 06-Nov-94 08:49:37.5 GMT', want: SUN + 0.5 },
  { title: 'a fraction of more than nine digits is cut to nanoseconds', s: 'Sun, 06 Nov 1994 08:49:37.1234567891 GMT', want: SUN + 0.123456789 },
  { title: 'a fraction of fourteen digits is cut to nanoseconds', s: 'Sun, 06 Nov 1994 08:49:37.12345678912345 GMT', want: SUN + 0.123456789 },
  { title: 'two spaces where the layout has one are accepted', s: 'Sun,  06 Nov 1994 08:49:37 GMT', want: SUN },
  { title: 'two spaces before GMT are accepted', s: 'Sun, 06 Nov 1994 08:49:37  GMT', want: SUN },
  { title: 'two spaces after the RFC 850 weekday are accepted', s: 'Sunday,  06-Nov-94 08:49:37 GMT', want: SUN },
  { title: 'Feb 29 of a leap year is accepted', s: 'Thu, 29 Feb 2024 00:00:00 GMT', want: 1709164800 },
  // RFC 850 two-digit years and zones.
  { title: 'an RFC 850 year 68 is 2068', s: 'Sunday, 06-Nov-68 08:49:37 GMT', want: 3119417377 },
  { title: 'an RFC 850 year 69 is 1969', s: 'Sunday, 06-Nov-69 08:49:37 GMT', want: -4806623 },
  { title: 'an RFC 850 date in UTC is accepted', s: 'Sunday, 06-Nov-94 08:49:37 UTC', want: SUN },
  { title: 'an RFC 850 date in an unknown zone is read as UTC', s: 'Sunday, 06-Nov-94 08:49:37 PST', want: SUN },
  { title: 'a four-letter zone ending in T is accepted', s: 'Sunday, 06-Nov-94 08:49:37 ABCT', want: SUN },
  { title: 'a five-letter zone ending in T is accepted', s: 'Sunday, 06-Nov-94 08:49:37 ABCDT', want: SUN },
  { title: 'the ChST zone is accepted', s: 'Sunday, 06-Nov-94 08:49:37 ChST', want: SUN },
  // Go names the zone "GMT+2" but does not move the instant: the wall clock is read as UTC.
  { title: 'a GMT+2 zone in RFC 850 keeps the wall clock as UTC', s: 'Sunday, 06-Nov-94 08:49:37 GMT+2', want: SUN },
  { title: 'a GMT-3 zone in RFC 850 keeps the wall clock as UTC', s: 'Sunday, 06-Nov-94 08:49:37 GMT-3', want: SUN },
  { title: 'a GMT+02 zone in RFC 850 keeps the wall clock as UTC', s: 'Sunday, 06-Nov-94 08:49:37 GMT+02', want: SUN },
  { title: 'a signed hour zone in RFC 850 is accepted as UTC', s: 'Sunday, 06-Nov-94 08:49:37 +03', want: SUN },
  { title: 'a GMT offset above 23 is rejected', s: 'Sunday, 06-Nov-94 08:49:37 GMT+24', want: undefined },
  { title: 'a GMT with a bare sign is rejected', s: 'Sunday, 06-Nov-94 08:49:37 GMT+', want: undefined },
  { title: 'a GMT followed by letters is rejected', s: 'Sunday, 06-Nov-94 08:49:37 GMTfoo', want: undefined },
  { title: 'a six-letter zone is rejected', s: 'Sunday, 06-Nov-94 08:49:37 ABCDEF', want: undefined },
  { title: 'a four-letter zone not ending in T is rejected', s: 'Sunday, 06-Nov-94 08:49:37 ABCD', want: undefined },
  { title: 'a two-letter zone is rejected', s: 'Sunday, 06-Nov-94 08:49:37 AB', want: undefined },
  { title: 'a Z zone is rejected', s: 'Sunday, 06-Nov-94 08:49:37 Z', want: undefined },
  { title: 'a four-digit numeric zone is rejected', s: 'Sunday, 06-Nov-94 08:49:37 -0700', want: undefined },
  // Rejections.
  { title: 'the empty string is rejected', s: '', want: undefined },
  { title: 'ISO 8601 is rejected', s: '1994-11-06T08:49:37Z', want: undefined },
  { title: 'Feb 30 is rejected', s: 'Fri, 30 Feb 2024 00:00:00 GMT', want: undefined },
  { title: 'Feb 29 of a common year is rejected', s: 'Thu, 29 Feb 2023 00:00:00 GMT', want: undefined },
  { title: 'day 0 is rejected', s: 'Sun, 00 Nov 1994 00:00:00 GMT', want: undefined },
  { title: 'day 32 is rejected', s: 'Sun, 32 Nov 1994 00:00:00 GMT', want: undefined },
  { title: 'hour 24 is rejected', s: 'Sun, 06 Nov 1994 24:00:00 GMT', want: undefined },
  { title: 'minute 60 is rejected', s: 'Sun, 06 Nov 1994 23:60:00 GMT', want: undefined },
  { title: 'second 60 is rejected', s: 'Sun, 06 Nov 1994 23:59:60 GMT', want: undefined },
  { title: 'a one-digit minute is rejected', s: 'Sun, 06 Nov 1994 08:9:37 GMT', want: undefined },
  { title: 'a one-digit second is rejected', s: 'Sun, 06 Nov 1994 08:49:7 GMT', want: undefined },
  { title: 'a one-digit IMF day is rejected', s: 'Sun, 6 Nov 1994 08:49:37 GMT', want: undefined },
  { title: 'a two-digit IMF year is rejected', s: 'Sun, 06 Nov 94 08:49:37 GMT', want: undefined },
  { title: 'a point without fraction digits is rejected', s: 'Sun, 06 Nov 1994 08:49:37. GMT', want: undefined },
  { title: 'an IMF date without GMT is rejected', s: 'Sun, 06 Nov 1994 08:49:37', want: undefined },
  { title: 'an IMF date in UTC is rejected', s: 'Sun, 06 Nov 1994 08:49:37 UTC', want: undefined },
  { title: 'an IMF date with lower-case gmt is rejected', s: 'Sun, 06 Nov 1994 08:49:37 gmt', want: undefined },
  { title: 'trailing garbage after GMT is rejected', s: 'Sun, 06 Nov 1994 08:49:37 GMTx', want: undefined },
  { title: 'a trailing space is rejected', s: 'Sun, 06 Nov 1994 08:49:37 GMT ', want: undefined },
  { title: 'trailing text after asctime is rejected', s: 'Sun Nov  6 08:49:37 1994 GMT', want: undefined },
  { title: 'a missing space after the comma is rejected', s: 'Sun,06 Nov 1994 08:49:37 GMT', want: undefined },
]

t.test('parseHttpDate accepts and rejects exactly what Go http.ParseTime does', async t => {
  for (const c of cases) {
    const got = parseHttpDate(c.s)
    if (c.want === undefined || got === undefined) t.equal(got, c.want, `${c.title}: ${JSON.stringify(c.s)}`)
    else t.ok(Math.abs(got - c.want) < 1e-6, `${c.title}: ${JSON.stringify(c.s)} (got ${got}, want ${c.want})`)
  }
})

t.test('formatHttpDate writes IMF-fixdate truncated to the second', async t => {
  const cases: Array<[Date, string]> = [
    [new Date(SUN * 1000), 'Sun, 06 Nov 1994 08:49:37 GMT'],
    [new Date(SUN * 1000 + 999), 'Sun, 06 Nov 1994 08:49:37 GMT'],
    [new Date(0), 'Thu, 01 Jan 1970 00:00:00 GMT'],
    [new Date(Date.UTC(2024, 1, 29, 23, 59, 59)), 'Thu, 29 Feb 2024 23:59:59 GMT'],
  ]
  for (const [d, want] of cases) t.equal(formatHttpDate(d), want, `${d.toISOString()} formats as ${want}`)
})

t.test('a formatted date parses back to the same second', async t => {
  for (const ms of [0, 1000, SUN * 1000, 1403716338000, 4102444800000]) {
    t.equal(parseHttpDate(formatHttpDate(new Date(ms))), ms / 1000, `${new Date(ms).toISOString()} round-trips`)
  }
})
