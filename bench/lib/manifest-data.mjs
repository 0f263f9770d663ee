// The manifest of the serve suite's `manifest` column (issue 12's target): 10,000 payloads shaped like a download
// service's (/dl/<product>/<version>/<file>, mixed exact paths, named-segment patterns and globs, ACLs on a third),
// of which three answer the serve workloads' paths on the bench data, each through a different kind of match:
//   /small.json  by the named pattern /:name.json (blob {name}.json), with a network ACL (the policy runs),
//   /1m.bin      by its exact path, with a network ACL,
//   /256m.bin    by the glob /2*.bin (no ACL).
// The other payloads name blobs that do not exist: they are never requested, they only fill the route table.
// Written as JSON (valid YAML), seeded, so every run serves the same manifest.

import fs from 'node:fs';
import path from 'node:path';
import { OUT } from './constants.mjs';

/** The number of payloads in the bench manifest. */
export const MANIFEST_PAYLOADS = 10_000;

/** mulberry32: a small seeded PRNG (the same as bench/manifest-match.mjs). */
function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** benchManifest returns the manifest object (see above). */
export function benchManifest(n = MANIFEST_PAYLOADS, seed = 12) {
  const rnd = mulberry32(seed);
  const int = (k) => Math.floor(rnd() * k);
  const pick = (xs) => xs[int(xs.length)];
  const OSES = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'windows-x64'];
  const EXTS = ['zip', 'tar.gz', 'msi', 'dmg'];
  const loopback = { networks: { allow: ['127.0.0.0/8', '::1/128'] } };
  const payloads = [
    { name: 'bench-small', paths: ['/:name.json'], content: { blob: '{name}.json' }, acl: loopback },
    { name: 'bench-1m', paths: ['/1m.bin'], content: { blob: '1m.bin' }, acl: loopback },
    { name: 'bench-256m', paths: ['/2*.bin'], content: { blob: '256m.bin' } },
  ];
  for (let p = payloads.length; p < n; p++) {
    const product = `product-${p % 400}`;
    const roll = rnd();
    const v = `${int(10)}.${int(20)}.${int(50)}`;
    const ext = pick(EXTS);
    let paths;
    let blob;
    if (roll < 0.6) {
      const os = pick(OSES);
      paths = [`/dl/${product}/${v}/${product}-${v}-${os}.${ext}`];
      if (rnd() < 0.3) paths.push(`/mirror/${product}/${v}/${product}-${os}.${ext}`);
      blob = `dl/${product}/${v}/${os}.${ext}`;
    } else if (roll < 0.9) {
      paths = [`/dl/${product}/:version/tools${p}-:os.${ext}`];
      blob = `dl/${product}/{version}/tools${p}-{os}.${ext}`;
    } else {
      paths = [`/nightly/${product}/build-${p}-*.zip`];
      blob = '{path}';
    }
    const payload = { name: `payload-${p}`, paths, content: { blob } };
    if (p % 3 === 0) payload.acl = { networks: { deny: ['192.0.2.0/24', '2001:db8::/32'] } };
    payloads.push(payload);
  }
  return { version: 1, payloads };
}

/** writeBenchManifest writes the manifest to bench/out/manifest-10k.json (once per run) and returns its path. */
export function writeBenchManifest() {
  const file = path.join(OUT, 'manifest-10k.json');
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(benchManifest(), null, 1) + '\n');
  return file;
}
