// The floors of comparing everything in mirror-mixed: the cheapest hop, haproxy, measured while a
// second generator at the lowest CPU priority sends the same requests straight to new and reads every
// answer as it comes (haproxy-reader) or at cutover mirror's shadow pace (haproxy-paced-reader),
// comparing nothing. What runs those readers, and what the report says of the floors against the
// row's target.

import { fmt, signedMs } from './report.mjs';

/** haproxy-reader's reader of new runs at this nice value: the lowest CPU priority. */
export const READER_NICE = 19;

/**
 * READER_PACE is haproxy-paced-reader's pace of reading new: cutover mirror's default shadow pace
 * (`--shadow-rate`, 16 MiB a second) past the same first 4 MiB, the way a mirror that spreads its
 * shadows' reading over time reads a large body.
 */
export const READER_PACE = { bytesPerSecond: 16 * 1024 * 1024, after: 4 * 1024 * 1024 };

/**
 * FLOORS are the two floors of comparing everything, each haproxy with a reader of new at the
 * lowest CPU priority: reading every answer as it comes, or paced as cutover mirror paces its
 * shadows (neither is known to be the cheaper for the small file's p99 beforehand).
 */
export const FLOORS = [
  { name: 'haproxy-reader', how: 'new read as it answers' },
  { name: 'haproxy-paced-reader', how: 'new read paced as cutover mirror paces its shadows' },
];

/**
 * readerCommand is the command of a target's reader (haproxy-reader's, haproxy-paced-reader's):
 * `nice -n <reader.nice>` and this Node running bench/fixed-rate.mjs with the load's own arguments
 * `args` (the script first), but its `--url` pointing at 127.0.0.1:<reader.port>, without `--raw`
 * (only the counts of a reader are kept), and with `--pace` and `--pace-after` when the reader has
 * a `pace` ({ bytesPerSecond, after }).
 * @throws {Error} when `args` has no `--url` followed by a value.
 */
export function readerCommand(args, reader) {
  const at = args.indexOf('--url');
  if (at < 0 || at + 1 >= args.length) throw new Error('readerCommand: the load has no --url');
  const own = args.map((a, i) => (i === at + 1 ? `http://127.0.0.1:${reader.port}` : a)).filter((a) => a !== '--raw');
  const pace = reader.pace ? ['--pace', String(reader.pace.bytesPerSecond), '--pace-after', String(reader.pace.after)] : [];
  return { command: 'nice', args: ['-n', String(reader.nice), process.execPath, ...own, ...pace] };
}

/**
 * mixedFloor says, for a mixed row measured through the floors ({@link FLOORS}), whether they left
 * the small-file target (`targetUs` over old's p99) any room in this run; null when none was
 * measured. A floor's figure is its difference from old over the rounds both ran, with its
 * interval (`small_p99_minus_old_ci`, see pooledDiffInterval) when it has one; its verdict is the
 * interval's: wholly over the target, wholly within it, or across it. Only when every floor measured
 * is over the target could no mirror comparing every exchange meet it; one within leaves room.
 */
export function mixedFloor(mixed, targetUs) {
  const p99 = (n) => mixed[n]?.classes?.small?.latency_us?.p99;
  if (p99('old') == null) return null;
  const measured = FLOORS.filter((f) => p99(f.name) != null);
  if (measured.length === 0) return null;
  const target = `+${targetUs / 1000} ms target`;
  // Each floor: its difference from old (d, µs), its verdict (v: over, within or across) and its sentence.
  const floors = measured.map((f) => {
    const ci = mixed[f.name].small_p99_minus_old_ci;
    const d = ci ? ci.diff_us : p99(f.name) - p99('old');
    const v = ci ? (ci.lo_us > targetUs ? 'over' : ci.hi_us <= targetUs ? 'within' : 'across') : d > targetUs ? 'over' : 'within';
    const word = ci
      ? `its ${Math.round(ci.level * 100)}% interval over ${ci.rounds} rounds (resampled ${fmt(ci.resamples)} times) is ${signedMs(ci.lo_us)} to ${signedMs(ci.hi_us)}, ${v === 'across' ? 'across' : `wholly ${v}`} the ${target}`
      : `${v} the ${target}`;
    const r = mixed[f.name].reader;
    const read = r ? `; its reader got ${fmt(r.completed)} of ${fmt(r.scheduled)} answers from new, ${fmt(r.failed)} failed` : '';
    return { d, v, text: `${f.name} (${f.how}) ${signedMs(d)} over old, ${word}${read}` };
  });
  const decided = measured.every((f) => mixed[f.name].small_p99_minus_old_ci) ? 'on this machine' : 'in this run';
  const within = floors.filter((x) => x.v === 'within');
  const verdict = floors.every((x) => x.v === 'over')
    ? `no mirror that compares every exchange, reading new in ${measured.length === 1 ? 'that way' : 'either way'}, could meet the ${target} ${decided}`
    : within.length > 0
      ? `it leaves ${signedMs(targetUs - Math.min(...within.map((x) => x.d)))} for a mirror's own work`
      : `this run does not decide whether a mirror comparing every exchange could meet the ${target}`;
  return `The floor of comparing 100% in this run: ${floors.map((x) => x.text).join('. ')}. So ${verdict}.`;
}

/**
 * buildFloor says, for a mixed row measured through hash-paced-reader, how cutover mirror's
 * small-file p99 over old compares with the least a comparing mirror of its build must do
 * (bench/hash-floor-mirror.mjs: cutover mirror's client path from its own parts, hashing every answer
 * of old's, while new is read at the lowest priority in a process of its own); null when either was
 * not measured. Each figure is the target's difference from old over the rounds it ran next to
 * old, with its interval (`small_p99_minus_old_ci`) when it has one. With both intervals:
 * cutover mirror is over that floor when its interval lies wholly above the floor's, under it when
 * wholly below, and at it when they overlap; without them, by the differences alone.
 */
export function buildFloor(mixed) {
  const p99 = (n) => mixed[n]?.classes?.small?.latency_us?.p99;
  if (p99('old') == null || p99('hash-paced-reader') == null || p99('cutover-mirror') == null) return null;
  const fig = (n) => {
    const ci = mixed[n].small_p99_minus_old_ci;
    return { d: ci ? ci.diff_us : p99(n) - p99('old'), ci };
  };
  const f = fig('hash-paced-reader');
  const c = fig('cutover-mirror');
  const word = (x) => (x.ci ? `${signedMs(x.d)} over old (${signedMs(x.ci.lo_us)} to ${signedMs(x.ci.hi_us)}, ${x.ci.rounds} rounds)` : `${signedMs(x.d)} over old`);
  const place =
    f.ci && c.ci
      ? c.ci.lo_us > f.ci.hi_us
        ? `over that floor: its interval lies wholly above the floor's, ${signedMs(c.d - f.d)} apart`
        : c.ci.hi_us < f.ci.lo_us
          ? `under that floor: its interval lies wholly below the floor's, ${signedMs(c.d - f.d)} apart`
          : `at that floor: the two intervals overlap (${signedMs(c.d - f.d)} apart)`
      : c.d > f.d
        ? `${signedMs(c.d - f.d)} over that floor (no intervals)`
        : `${signedMs(c.d - f.d)} from that floor (no intervals)`;
  return `The floor of comparing 100% with cutover's own build: hash-paced-reader ${word(f)}; cutover-mirror ${word(c)}, ${place}.`;
}
