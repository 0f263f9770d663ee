// The floor of comparing everything in mirror-mixed (haproxy-reader): the cheapest hop, haproxy,
// measured while a second generator at the lowest CPU priority sends the same requests straight to
// new and reads every answer, comparing nothing. What runs that reader, and what the report says of
// the floor against the row's target.

import { fmt, signedMs } from './report.mjs';

/** haproxy-reader's reader of new runs at this nice value: the lowest CPU priority. */
export const READER_NICE = 19;

/**
 * readerCommand is the command of a target's reader (haproxy-reader's): `nice -n <reader.nice>`
 * and this Node running bench/fixed-rate.mjs with the load's own arguments `args` (the script
 * first), but its `--url` pointing at 127.0.0.1:<reader.port> and without `--raw` (only the counts
 * of a reader are kept).
 * @throws {Error} when `args` has no `--url` followed by a value.
 */
export function readerCommand(args, reader) {
  const at = args.indexOf('--url');
  if (at < 0 || at + 1 >= args.length) throw new Error('readerCommand: the load has no --url');
  const own = args.map((a, i) => (i === at + 1 ? `http://127.0.0.1:${reader.port}` : a)).filter((a) => a !== '--raw');
  return { command: 'nice', args: ['-n', String(reader.nice), process.execPath, ...own] };
}

/**
 * mixedFloor says, for a mixed row measured through haproxy-reader, whether that floor left the
 * small-file target (`targetUs` over old's p99) any room in this run; null when it was not measured.
 * With the floor's interval over the rounds (`small_p99_minus_old_ci`, see pooledDiffInterval), the
 * verdict is the interval's: wholly over the target, wholly within it, or across it (not decided by
 * this run).
 */
export function mixedFloor(mixed, targetUs) {
  const p99 = (n) => mixed[n]?.classes?.small?.latency_us?.p99;
  if (p99('haproxy-reader') == null || p99('old') == null) return null;
  const floor = p99('haproxy-reader') - p99('old');
  const r = mixed['haproxy-reader'].reader;
  const ci = mixed['haproxy-reader'].small_p99_minus_old_ci;
  const read = r ? `; the reader got ${fmt(r.completed)} of ${fmt(r.scheduled)} answers from new, ${fmt(r.failed)} failed` : '';
  const target = `+${targetUs / 1000} ms target`;
  const noMirror = 'no mirror that sends its shadows as requests come and compares every exchange could meet it';
  const room = `it leaves ${signedMs(targetUs - floor)} for a mirror's own work`;
  let verdict;
  if (ci) {
    const interval = `its ${Math.round(ci.level * 100)}% interval over ${ci.rounds} rounds (resampled ${fmt(ci.resamples)} times) is ${signedMs(ci.lo_us)} to ${signedMs(ci.hi_us)}`;
    verdict =
      ci.lo_us > targetUs
        ? `${interval}, wholly over the ${target}: ${noMirror} on this machine`
        : ci.hi_us <= targetUs
          ? `${interval}, wholly within the ${target}: ${room}`
          : `${interval}, across the ${target}: this run does not decide whether a mirror comparing every exchange could meet it`;
  } else {
    verdict =
      floor > targetUs
        ? `over the ${target}: ${noMirror} in this run`
        : `within the ${target}: ${room}`;
  }
  return `The floor of comparing 100% in this run: haproxy-reader ${signedMs(floor)} over old, ${verdict}${read}.`;
}
