// The harness's progress lines go to stderr, prefixed, so stdout holds only the result tables.

/** log writes one progress line to stderr, prefixed with `[bench]`. */
export const log = (...a) => console.error('[bench]', ...a);

/** sleep resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
