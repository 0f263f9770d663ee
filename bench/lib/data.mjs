// Data fixtures in bench/data: the four served files and the replay logs, generated when missing or
// of the wrong size (a file's size tells whether the cached one is right), written atomically.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BIG_SIZE, DATA, MID_SIZE, MiB, SMALL_SIZE } from './constants.mjs';
import { log } from './log.mjs';
import { fmt, fmtMB } from './report.mjs';

/** Every generated log line is exactly this many bytes, '\n' included. */
export const REPLAY_LINE = 100;

/** fileHasSize tells whether `p` exists with exactly `size` bytes. */
export function fileHasSize(p, size) {
  try {
    return fs.statSync(p).size === size;
  } catch {
    return false;
  }
}

/** writeAtomically calls writer(fd) on a temporary file next to `p`, then renames it to `p`. */
export function writeAtomically(p, writer) {
  const tmp = `${p}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      writer(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, p);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function makeSmallJson() {
  const doc = {
    name: 'cutover-bench',
    kind: 'manifest',
    version: '1.0.0',
    generated: '2024-06-01T00:00:00.000Z',
    files: Array.from({ length: 6 }, (_, i) => ({
      path: `/releases/v1.${i}.0/cutover-linux-x64.tar.gz`,
      size: 1048576 * (i + 1),
      sha256: crypto.createHash('sha256').update(`file-${i}`).digest('hex'),
    })),
    padding: '',
  };
  const base = Buffer.byteLength(JSON.stringify(doc));
  if (base > SMALL_SIZE) throw new Error(`small.json skeleton too big (${base} B)`);
  doc.padding = 'x'.repeat(SMALL_SIZE - base);
  const buf = Buffer.from(JSON.stringify(doc));
  if (buf.length !== SMALL_SIZE) throw new Error('small.json size mismatch');
  JSON.parse(buf.toString());
  return buf;
}

/** ensureData makes bench/data/small.json (1,238 B of JSON), 1m.bin, 64m.bin and 256m.bin (random). */
export function ensureData() {
  fs.mkdirSync(DATA, { recursive: true });
  const small = path.join(DATA, 'small.json');
  if (!fileHasSize(small, SMALL_SIZE)) {
    log('generating data/small.json');
    writeAtomically(small, (fd) => fs.writeSync(fd, makeSmallJson()));
  }
  const one = path.join(DATA, '1m.bin');
  if (!fileHasSize(one, MiB)) {
    log('generating data/1m.bin');
    writeAtomically(one, (fd) => fs.writeSync(fd, crypto.randomBytes(MiB)));
  }
  for (const [name, size] of [['64m.bin', MID_SIZE], ['256m.bin', BIG_SIZE]]) {
    const big = path.join(DATA, name);
    if (fileHasSize(big, size)) continue;
    log(`generating data/${name} (${size / MiB} MiB random)`);
    const chunk = 8 * MiB;
    writeAtomically(big, (fd) => {
      for (let off = 0; off < size; off += chunk) fs.writeSync(fd, crypto.randomBytes(chunk));
    });
  }
}

/**
 * combinedLine is one nginx combined log line of exactly REPLAY_LINE bytes ('\n' included; the user
 * agent is padded), so a generated log's size is lines x REPLAY_LINE and a cached one can be checked.
 */
function combinedLine(i, reqPath, bytes) {
  const head = `10.0.${(i >> 8) & 255}.${i & 255} - - [01/Jun/2024:00:00:00 +0000] "GET ${reqPath} HTTP/1.1" 200 ${bytes} "-" "`;
  const pad = REPLAY_LINE - head.length - 2;
  if (pad < 0) throw new Error(`log line longer than ${REPLAY_LINE} bytes: ${head}`);
  return `${head}${'x'.repeat(pad)}"\n`;
}

/** replayLogLine is line i of a replay workload's log: its path, or (w.every set) a path the --filter drops. */
function replayLogLine(w, i) {
  if (w.every && i % w.every !== 0) return combinedLine(i, `/static/${String(i).padStart(7, '0')}.js`, 4321);
  return combinedLine(i, w.path, w.body);
}

/**
 * ensureReplayLog generates bench/data/<w.log> (w.lines lines; one in w.every is GET w.path, if set)
 * when missing or of the wrong size (1 GB: once, ~10 s). Returns its path.
 */
export function ensureReplayLog(w) {
  const file = path.join(DATA, w.log);
  if (fileHasSize(file, w.lines * REPLAY_LINE)) return file;
  log(`generating data/${w.log} (${fmt(w.lines)} lines, ${fmtMB(w.lines * REPLAY_LINE)})`);
  const batch = 10_000;
  writeAtomically(file, (fd) => {
    for (let i = 0; i < w.lines; i += batch) {
      let text = '';
      for (let j = i; j < Math.min(i + batch, w.lines); j++) text += replayLogLine(w, j);
      fs.writeSync(fd, text);
    }
  });
  if (!fileHasSize(file, w.lines * REPLAY_LINE)) throw new Error(`data/${w.log}: wrong size after generating it`);
  return file;
}
