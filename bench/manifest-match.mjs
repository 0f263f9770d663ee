#!/usr/bin/env node
// Micro-benchmark of the manifest's route table (issue 12; target: median match under 2 us).
//
//   npx tsc -p . && node bench/manifest-match.mjs [--payloads 10000] [--lookups 20000] [--seed 12] [--no-overlaps]
//        [--sig-under-dl] [--with-params]
//
// Builds a table of N payloads shaped like a download service's (/dl/<product>/<version>/<file>): about 60% exact
// paths, 30% named-segment patterns, 10% globs, each payload with one or two paths. Then times `match` on a fixed,
// seeded list of request paths (exact hits, named hits, glob hits and misses, shuffled), one call at a time with
// process.hrtime.bigint (its own cost, a few tens of ns, is included in every figure alike), after a warm-up pass.
// Prints the build time, the overlap check time and, per class and overall, the median and p99 in microseconds.
// A match makes the named segments' values (`params`) when they are first read; --with-params reads them inside the
// timed window too (what a caller that expands a blob key pays). Pure CPU, single thread; nothing is asserted. `npm run bench` runs it as its manifest-match row
// (bench/suites/manifest.mjs: three runs with --no-overlaps, PASS/FAIL against the target).

import { parsePattern } from '../dist/src/manifest/url-pattern.js'
import { RouteTable } from '../dist/src/manifest/route-table.js'

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const N = arg('payloads', 10000)
const LOOKUPS = arg('lookups', 20000)
const SEED = arg('seed', 12)
const SIG_UNDER_DL = process.argv.includes('--sig-under-dl')
const WITH_PARAMS = process.argv.includes('--with-params')

/** mulberry32: a small seeded PRNG, so every run measures the same table and the same paths. */
function mulberry32(a) {
  return () => {
    a |= 0
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rnd = mulberry32(SEED)
const pick = xs => xs[Math.floor(rnd() * xs.length)]
const int = n => Math.floor(rnd() * n)

const PRODUCTS = Array.from({ length: 400 }, (_, k) => `product-${k}`)
const OSES = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'windows-x64']
const EXTS = ['zip', 'tar.gz', 'msi', 'dmg']
const version = () => `${int(10)}.${int(20)}.${int(50)}`

const entries = []
const probes = { exact: [], named: [], glob: [], miss: [] }
const compile = text => {
  const r = parsePattern(text)
  if (!r.ok) throw new Error(`bad pattern ${text}: ${r.error.message}`)
  return r.pattern
}
for (let p = 0; p < N; p++) {
  const product = PRODUCTS[p % PRODUCTS.length]
  const roll = rnd()
  const texts = []
  if (roll < 0.6) {
    const v = version()
    const os = pick(OSES)
    const ext = pick(EXTS)
    texts.push(`/dl/${product}/${v}/${product}-${v}-${os}.${ext}`)
    if (rnd() < 0.3) texts.push(`/mirror/${product}/${v}/${product}-${os}.${ext}`)
    probes.exact.push(texts[0])
  } else if (roll < 0.9) {
    const ext = pick(EXTS)
    const shape = int(3)
    const k = p // a distinct literal part, so each pattern is its own payload's
    if (shape === 0) {
      texts.push(`/dl/${product}/:version/tools${k}-:os.${ext}`)
      probes.named.push(`/dl/${product}/${version()}/tools${k}-${pick(OSES)}.${ext}`)
    } else if (shape === 1) {
      texts.push(`/sdk${k % 50}/${product}/:version/:file`)
      probes.named.push(`/sdk${k % 50}/${product}/${version()}/file-${k}.${ext}`)
    } else {
      texts.push(`/:channel/${product}-${k}/latest.${ext}`)
      probes.named.push(`/${pick(['stable', 'beta'])}/${product}-${k}/latest.${ext}`)
    }
  } else {
    const shape = int(3)
    const k = p
    if (shape === 0) {
      texts.push(`/archive/${product}/${k}/**`)
      probes.glob.push(`/archive/${product}/${k}/old/${version()}/x.zip`)
    } else if (shape === 1) {
      texts.push(`/nightly/${product}/build-${k}-*.zip`)
      probes.glob.push(`/nightly/${product}/build-${k}-2026120${int(9)}.zip`)
    } else {
      // Signatures anywhere (overlaps every /sdk*/<product>/:version/:file and /archive/<product>/<k>/** pattern: a
      // stress of the overlap check, about 470,000 pairs), or with --sig-under-dl only under /dl/<product>/ (about 1,300).
      texts.push(SIG_UNDER_DL ? `/dl/${product}/**/${product}-${k}.sig` : `/**/${product}-${k}.sig`)
      probes.glob.push(`/dl/${product}/${version()}/${product}-${k}.sig`)
    }
  }
  texts.forEach((t, path) => entries.push({ pattern: compile(t), payload: p, path }))
}
for (let k = 0; k < 2000; k++) {
  const product = pick(PRODUCTS)
  probes.miss.push(
    pick([
      `/dl/${product}/${version()}/nothing-${k}.zip`,
      `/nope/${product}/${k}`,
      `/sdk3/${product}/${version()}`,
      `/archive/${product}`,
      `/`,
    ]),
  )
}

// A request path comes from the HTTP parser as a flat string; a template literal makes a rope (a V8 ConsString),
// which is flattened on first use but then read through one more indirection on every access. The probes are made
// flat like real request paths (on Node 20 this alone changed named-segment medians by about a third).
const flat = s => Buffer.from(s, 'utf8').toString('utf8')
for (const cls of Object.keys(probes)) probes[cls] = probes[cls].map(flat)

let t0 = process.hrtime.bigint()
const table = new RouteTable(entries)
const buildMs = Number(process.hrtime.bigint() - t0) / 1e6

// --no-overlaps skips the overlap check (manifest check's cost, not the request path's).
let overlaps = []
let overlapMs = 0
if (!process.argv.includes('--no-overlaps')) {
  t0 = process.hrtime.bigint()
  overlaps = table.overlaps()
  overlapMs = Number(process.hrtime.bigint() - t0) / 1e6
}

const plan = []
for (let k = 0; k < LOOKUPS; k++) {
  const cls = pick(['exact', 'exact', 'named', 'glob', 'miss'])
  plan.push([cls, pick(probes[cls])])
}

// Warm-up: let the JIT settle, and check the probes hit what they should.
const wrong = { exact: 0, named: 0, glob: 0, miss: 0 }
for (const [cls, path] of plan) {
  const m = table.match(path)
  const kind = m === undefined ? 'miss' : m.entry.pattern.kind
  if (kind !== cls) wrong[cls]++
}

const times = { exact: [], named: [], glob: [], miss: [], all: [] }
let sink = 0
for (const [cls, path] of plan) {
  const a = process.hrtime.bigint()
  const m = table.match(path)
  const params = WITH_PARAMS ? m?.params : undefined
  const b = process.hrtime.bigint()
  if (params !== undefined && Object.keys(params).length > 0) sink++
  if (m !== undefined) sink++
  const us = Number(b - a) / 1000
  times[cls].push(us)
  times.all.push(us)
}
// The clock's own cost: two hrtime.bigint calls around nothing, included in every per-call figure above.
const empty = []
for (let k = 0; k < LOOKUPS; k++) {
  const a = process.hrtime.bigint()
  const b = process.hrtime.bigint()
  empty.push(Number(b - a) / 1000)
}
// Batches: the mean per call over all the paths of one class, without the clock in the loop.
const batch = {}
for (const cls of ['exact', 'named', 'glob', 'miss']) {
  const paths = plan.filter(([c]) => c === cls).map(([, p]) => p)
  const a = process.hrtime.bigint()
  for (let rep = 0; rep < 5; rep++) for (const p of paths) if (table.match(p) !== undefined) sink++
  batch[cls] = +(Number(process.hrtime.bigint() - a) / 1000 / (5 * paths.length)).toFixed(3)
}
const q = (xs, f) => {
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.min(s.length - 1, Math.floor(f * s.length))]
}
const row = {}
for (const [cls, xs] of Object.entries(times)) {
  row[cls] = { n: xs.length, median_us: +q(xs, 0.5).toFixed(2), p99_us: +q(xs, 0.99).toFixed(2) }
}
row.clock_only = { n: empty.length, median_us: +q(empty, 0.5).toFixed(2), p99_us: +q(empty, 0.99).toFixed(2) }
console.log(
  JSON.stringify(
    {
      payloads: N,
      entries: entries.length,
      kinds: {
        exact: entries.filter(e => e.pattern.kind === 'exact').length,
        named: entries.filter(e => e.pattern.kind === 'named').length,
        glob: entries.filter(e => e.pattern.kind === 'glob').length,
      },
      build_ms: +buildMs.toFixed(1),
      overlaps: overlaps.length,
      overlaps_ms: +overlapMs.toFixed(1),
      probe_class_mismatches: wrong,
      matched: sink,
      match: row,
      batch_mean_us: batch,
    },
    null,
    1,
  ),
)
