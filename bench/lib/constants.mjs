// Fixed paths, sizes and limits shared by the bench library and suites. Constants only: nothing here
// changes while the harness runs (the mutable state lives in the context made by bench/run.mjs).

import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ (this file is bench/lib/constants.mjs). */
export const BENCH = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** The repository root: every child process runs there. */
export const ROOT = path.dirname(BENCH);
/** Generated configs, logs, wrk summaries, results.json (gitignored). */
export const OUT = path.join(BENCH, 'out');
/** Generated test files and replay logs (gitignored). */
export const DATA = path.join(BENCH, 'data');
export const WRK_DIR = path.join(BENCH, 'wrk');

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const SMALL_SIZE = 1238;
export const BIG_SIZE = 256 * MiB;
/** 64m.bin, the large file of the mirror-mixed workload. */
export const MID_SIZE = 64 * MiB;

/** The rules file of cutover mirror and cutover replay (relative to the repository root). */
export const MIRROR_RULES = 'fixtures/rules/nginx-vs-cutover.yaml';
export const RSS_SAMPLE_MS = 100;
// Allowed per-response overhead over the body (status line + headers +
// multipart framing) when checking that the bytes wrk read are plausible.
export const PER_RESPONSE_OVERHEAD = 1024;
/** Cores used by processes outside the benchmark above which a figure is warned about. */
export const FOREIGN_CPU_WARN = 0.15;

/** Every server the plain rows can measure, in the order of the table columns. */
export const SERVER_NAMES = ['nginx', 'go', 'cutover', 'manifest', 's3'];
/** The `s3` column's --cache-size: room for all its data (257 MiB) in the chunk cache (3/4 of it, 576 MiB). */
export const S3_CACHE = { flag: '768MiB', bytes: 768 * MiB };
