// The one piece of mutable state of a bench run, made once by bench/run.mjs and passed down to the
// library and the suites (no module keeps state of its own).

/**
 * createContext returns the state of one run:
 * - `opts`: the options (lib/options.mjs readOptions), plus `workloads` and `servers`, the selected ids;
 * - `children`: every started process not yet stopped ({ name, proc, logPath, exited, pids, drainMs });
 *   stopAll and the exit handler stop them by PID;
 * - `loads`: the load generators running now (wrk, fixed-rate.mjs, slow-readers.mjs), killed on exit;
 * - `shuttingDown`: the promise of stopAll once it has been called (a second call waits for it);
 * - `s3rver`: the S3 service of the run once started ({ child, endpoint }, lib/s3.mjs ensureS3rver), else null.
 */
export function createContext(opts) {
  return { opts, children: new Set(), loads: new Set(), shuttingDown: null, s3rver: null };
}
