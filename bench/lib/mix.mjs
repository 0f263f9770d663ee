// The request mix of the mirror-mixed workload: which request the fixed-rate client sends k-th, drawn
// from a seeded PRNG so that every target (old, nginx-mirror, cutover-mirror) and every run with the
// same seed gets the same sequence. Pure functions, no state outside the returned plan.

import { KiB, MID_SIZE, MiB, SMALL_SIZE } from './constants.mjs';

/**
 * The cards of one deck of MIX_DECK requests, by kind: 90 % small file, 9.9 % of the 1 MiB class
 * (of which 89 whole GETs, 8 single ranges and 2 two-range requests of 1m.bin, i.e. about 10 % of
 * that class turned into ranges), 0.1 % the 64 MiB file. Class = the size class the latency is
 * reported under (both range kinds are `range`).
 */
export const MIX_CARDS = [
  { kind: 'small', cls: 'small', count: 900 },
  { kind: '1m', cls: '1m', count: 89 },
  { kind: 'range1', cls: 'range', count: 8 },
  { kind: 'range2', cls: 'range', count: 2 },
  { kind: '64m', cls: '64m', count: 1 },
];
/** Requests per deck (the sum of MIX_CARDS' counts). */
export const MIX_DECK = MIX_CARDS.reduce((a, c) => a + c.count, 0);
/** The size classes, in report order. */
export const MIX_CLASSES = ['small', '1m', '64m', 'range'];

/**
 * mulberry32 is a small seeded PRNG (32-bit state) returning floats in [0, 1). Not for anything but
 * reproducible load: the same seed gives the same sequence on every machine.
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform integer in [lo, hi]. */
const randInt = (rnd, lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));

/**
 * deckCounts is how many cards of each kind a deck of n requests holds: MIX_CARDS scaled to n and
 * rounded down, every kind at least once (when n allows), the small file taking the rest. A full
 * deck (n = MIX_DECK) is exactly MIX_CARDS; a shorter one (the last deck of a run) still has one
 * 64 MiB request and one range of each kind, so short runs measure every class.
 */
export function deckCounts(n) {
  const counts = {};
  let rest = n;
  for (const c of MIX_CARDS.slice(1)) {
    const x = Math.min(rest, Math.max(1, Math.floor((n * c.count) / MIX_DECK)));
    counts[c.kind] = x;
    rest -= x;
  }
  counts.small = rest;
  return counts;
}

/** request builds the request of one card: path, Range header, expected status and body checks. */
function request(kind, rnd) {
  if (kind === 'small') return { cls: 'small', path: '/small.json', status: 200, bytes: SMALL_SIZE };
  if (kind === '1m') return { cls: '1m', path: '/1m.bin', status: 200, bytes: MiB };
  if (kind === '64m') return { cls: '64m', path: '/64m.bin', status: 200, bytes: MID_SIZE };
  if (kind === 'range1') {
    // One range of 1m.bin, any offset, 1 byte to 1 MiB - 1 long.
    const a = randInt(rnd, 0, MiB - 2);
    const b = randInt(rnd, a, MiB - 2);
    return { cls: 'range', path: '/1m.bin', range: `bytes=${a}-${b}`, ranges: [[a, b]], status: 206, bytes: b - a + 1 };
  }
  // Two ascending ranges of 1m.bin, 1 to 256 KiB each, at least 1 KiB apart (so that no server may
  // merge them): a multipart/byteranges answer, checked part by part.
  const len1 = randInt(rnd, 1, 256 * KiB);
  const len2 = randInt(rnd, 1, 256 * KiB);
  const a = randInt(rnd, 0, MiB - len1 - KiB - len2);
  const c = randInt(rnd, a + len1 + KiB, MiB - len2);
  return { cls: 'range', path: '/1m.bin', range: `bytes=${a}-${a + len1 - 1},${c}-${c + len2 - 1}`, ranges: [[a, a + len1 - 1], [c, c + len2 - 1]], status: 206, bytes: null };
}

/**
 * mixedPlan returns the n requests of a run, in sending order: decks of MIX_DECK requests, each
 * shuffled (Fisher-Yates) with mulberry32(seed); ranges drawn from the same generator. The same
 * (seed, n) always gives the same plan. The warmup and the measured part are planned separately
 * (see fixed-rate.mjs), so the measured part always starts on a fresh deck.
 */
export function mixedPlan(seed, n) {
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`mixedPlan: bad count ${n}`);
  const rnd = mulberry32(seed);
  const plan = [];
  for (let start = 0; start < n; start += MIX_DECK) {
    const counts = deckCounts(Math.min(MIX_DECK, n - start));
    const deck = [];
    for (const c of MIX_CARDS) for (let i = 0; i < counts[c.kind]; i++) deck.push(c.kind);
    for (let i = deck.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [deck[i], deck[j]] = [deck[j], deck[i]];
    }
    for (const kind of deck) plan.push(request(kind, rnd));
  }
  return plan;
}

/**
 * checkMultipart checks a multipart/byteranges body (RFC 9110 section 14.6) against the requested
 * ranges: the boundary from `contentType`, then one part per range, in order, each with the
 * matching `Content-Range: bytes a-b/<total>` and exactly b - a + 1 bytes of payload. Returns null
 * when it fits, else what is wrong. (The payload's content is not compared: random bytes containing
 * the delimiter are possible but unlikely enough for a byte count.)
 */
export function checkMultipart(contentType, body, ranges) {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  if (!m) return `no boundary in Content-Type ${JSON.stringify(contentType)}`;
  const delim = Buffer.from(`--${m[1] ?? m[2]}`);
  let pos = body.indexOf(delim);
  for (let i = 0; i < ranges.length; i++) {
    if (pos < 0 || body.subarray(pos + delim.length, pos + delim.length + 2).toString('latin1') === '--') return `part ${i + 1}: delimiter missing`;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) return `part ${i + 1}: no end of part headers`;
    const head = body.subarray(pos + delim.length, headEnd).toString('latin1');
    const [a, b] = ranges[i];
    const cr = /content-range:\s*bytes\s+(\d+)-(\d+)\//i.exec(head);
    if (!cr || Number(cr[1]) !== a || Number(cr[2]) !== b) return `part ${i + 1}: Content-Range ${cr ? cr[0] : 'missing'}, expected ${a}-${b}`;
    const start = headEnd + 4;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), start);
    if (next < 0) return `part ${i + 1}: no delimiter after the payload`;
    if (next - start !== b - a + 1) return `part ${i + 1}: ${next - start} bytes, expected ${b - a + 1}`;
    pos = next + 2;
  }
  if (pos < 0 || !body.subarray(pos + delim.length, pos + delim.length + 2).equals(Buffer.from('--'))) return 'no closing delimiter after the last part';
  return null;
}

/**
 * clearOf picks, of the requests of class `cls`, those whose life [due, end] overlaps no request of
 * class `big`: plan[i].cls is request i's class, due[i] and end[i] its scheduled send and the end of
 * its body (ms), done[i] 0 while unfinished (left out), 1 ok, 2 failed. Returns the indices.
 */
export function clearOf(plan, due, end, done, cls = 'small', big = '64m') {
  const spans = [];
  for (let i = 0; i < plan.length; i++) if (plan[i].cls === big && done[i] !== 0) spans.push([due[i], end[i]]);
  const out = [];
  for (let i = 0; i < plan.length; i++) {
    if (plan[i].cls !== cls || done[i] === 0) continue;
    if (!spans.some(([a, b]) => due[i] < b && end[i] > a)) out.push(i);
  }
  return out;
}
