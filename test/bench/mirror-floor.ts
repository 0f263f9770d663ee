import t from 'tap'

/** bench/lib/floor.mjs (plain ESM, no types). */
interface ClassP99 {
  classes?: { small?: { latency_us?: { p99?: number } } }
  reader?: { scheduled: number; completed: number; failed: number }
  small_p99_minus_old_ci?: { diff_us: number; lo_us: number; hi_us: number; rounds: number; resamples: number; level: number }
}
interface FloorModule {
  mixedFloor(mixed: Record<string, ClassP99 | undefined>, targetUs: number): string | null
  buildFloor(mixed: Record<string, ClassP99 | undefined>): string | null
  readerCommand(args: string[], reader: { port: number; nice: number; pace?: { bytesPerSecond: number; after: number } }): { command: string; args: string[] }
}

const floor = (await import(new URL('../../../bench/lib/floor.mjs', import.meta.url).href)) as FloorModule

const ci = (diff: number, lo: number, hi: number): NonNullable<ClassP99['small_p99_minus_old_ci']> => ({ diff_us: diff, lo_us: lo, hi_us: hi, rounds: 16, resamples: 2000, level: 0.95 })
const at = (p99: number, reader?: ClassP99['reader']): ClassP99 => ({ classes: { small: { latency_us: { p99 } } }, ...(reader ? { reader } : {}) })

t.test('mixedFloor: whether the floors of comparing everything left the +2 ms target room (table)', async t => {
  const read = { scheduled: 8000, completed: 8000, failed: 0 }
  const R = 'haproxy-reader'
  const P = 'haproxy-paced-reader'
  const rows: Array<{ name: string; mixed: Record<string, ClassP99 | undefined>; want: RegExp | null }> = [
    { name: 'not measured', mixed: { old: at(5000), haproxy: at(6000) }, want: null },
    { name: 'no old', mixed: { [R]: at(6000) }, want: null },
    {
      name: 'one floor, over the target',
      mixed: { old: at(5000), [R]: at(9590, read) },
      want: /: haproxy-reader \(new read as it answers\) \+4\.59 ms over old, over the \+2 ms target; its reader got 8,000 of 8,000 answers from new, 0 failed\. So no mirror that compares every exchange, reading new in that way, could meet the \+2 ms target in this run\.$/,
    },
    { name: 'exactly at the target: within', mixed: { old: at(5000), [R]: at(7000) }, want: /\+2\.00 ms over old, within the \+2 ms target\. So it leaves \+0\.00 ms for a mirror's own work\.$/ },
    { name: 'within, room left', mixed: { old: at(5000), [R]: at(6250, read) }, want: /\+1\.25 ms over old, within the \+2 ms target; its reader .* So it leaves \+0\.75 ms for a mirror's own work\.$/ },
    { name: 'faster than old', mixed: { old: at(5000), [R]: at(4500) }, want: /-0\.50 ms over old, within .* leaves \+2\.50 ms/ },
    {
      name: 'interval wholly over',
      mixed: { old: at(5000), [R]: { ...at(9730, read), small_p99_minus_old_ci: ci(4730, 3290, 6210) } },
      want: /\+4\.73 ms over old, its 95% interval over 16 rounds \(resampled 2,000 times\) is \+3\.29 ms to \+6\.21 ms, wholly over the \+2 ms target; its reader got 8,000.* could meet the \+2 ms target on this machine\.$/,
    },
    {
      name: "the interval's difference, not the pooled one (rounds old ran alone)",
      mixed: { old: at(5000), [R]: { ...at(9000), small_p99_minus_old_ci: ci(3100, 2200, 3900) } },
      want: /haproxy-reader \(new read as it answers\) \+3\.10 ms over old/,
    },
    { name: 'interval across the target', mixed: { old: at(5000), [R]: { ...at(6910), small_p99_minus_old_ci: ci(1910, 400, 3100) } }, want: /\+1\.91 ms over old, its 95% interval .* is \+0\.40 ms to \+3\.10 ms, across the \+2 ms target\. So this run does not decide/ },
    { name: 'interval exactly at the target: within', mixed: { old: at(5000), [R]: { ...at(6500), small_p99_minus_old_ci: ci(1500, 1000, 2000) } }, want: /is \+1\.00 ms to \+2\.00 ms, wholly within the \+2 ms target\. So it leaves \+0\.50 ms for a mirror's own work\.$/ },
    {
      name: 'both floors wholly over: decided',
      mixed: { old: at(5000), [R]: { ...at(8000), small_p99_minus_old_ci: ci(3140, 2240, 3900) }, [P]: { ...at(7900), small_p99_minus_old_ci: ci(2900, 2100, 3700) } },
      want: /haproxy-reader \(new read as it answers\) \+3\.14 ms.*wholly over the \+2 ms target\. haproxy-paced-reader \(new read paced as cutover mirror paces its shadows\) \+2\.90 ms .* wholly over the \+2 ms target\. So no mirror that compares every exchange, reading new in either way, could meet the \+2 ms target on this machine\.$/,
    },
    {
      name: 'one floor over, the other across: not decided',
      mixed: { old: at(5000), [R]: { ...at(8000), small_p99_minus_old_ci: ci(3140, 2240, 3900) }, [P]: { ...at(7000), small_p99_minus_old_ci: ci(2000, 1100, 3000) } },
      want: /across the \+2 ms target\. So this run does not decide whether a mirror comparing every exchange could meet the \+2 ms target\.$/,
    },
    {
      name: 'one floor within: the room it leaves',
      mixed: { old: at(5000), [R]: { ...at(8000), small_p99_minus_old_ci: ci(3140, 2240, 3900) }, [P]: { ...at(6500), small_p99_minus_old_ci: ci(1200, 600, 1900) } },
      want: /wholly within the \+2 ms target\. So it leaves \+0\.80 ms for a mirror's own work\.$/,
    },
    {
      name: 'one floor with an interval, one without: not on this machine',
      mixed: { old: at(5000), [R]: { ...at(8000), small_p99_minus_old_ci: ci(3140, 2240, 3900) }, [P]: at(8100) },
      want: /\+3\.10 ms over old, over the \+2 ms target\. So no mirror .* reading new in either way, could meet the \+2 ms target in this run\.$/,
    },
  ]
  for (const r of rows) {
    const got = floor.mixedFloor(r.mixed, 2000)
    if (r.want === null) t.equal(got, null, r.name)
    else t.match(got, r.want, r.name)
  }
})

t.test("buildFloor: cutover mirror against the least a comparing mirror of its build does (table)", async t => {
  const H = 'hash-paced-reader'
  const C = 'cutover-mirror'
  const rows: Array<{ name: string; mixed: Record<string, ClassP99 | undefined>; want: RegExp | null }> = [
    { name: 'no floor measured', mixed: { old: at(5000), [C]: at(9000) }, want: null },
    { name: 'no cutover mirror', mixed: { old: at(5000), [H]: at(9000) }, want: null },
    { name: 'no old', mixed: { [H]: at(9000), [C]: at(9000) }, want: null },
    {
      name: 'intervals overlap: at the floor',
      mixed: { old: at(5000), [H]: { ...at(12000), small_p99_minus_old_ci: ci(6630, 4900, 8200) }, [C]: { ...at(13000), small_p99_minus_old_ci: ci(8340, 6100, 10900) } },
      want: /hash-paced-reader \+6\.63 ms over old \(\+4\.90 ms to \+8\.20 ms, 16 rounds\); cutover-mirror \+8\.34 ms over old \(\+6\.10 ms to \+10\.90 ms, 16 rounds\), at that floor: the two intervals overlap \(\+1\.71 ms apart\)\.$/,
    },
    {
      name: "cutover's interval wholly above: over",
      mixed: { old: at(5000), [H]: { ...at(9000), small_p99_minus_old_ci: ci(4000, 3000, 5000) }, [C]: { ...at(17000), small_p99_minus_old_ci: ci(12000, 9000, 15000) } },
      want: /, over that floor: its interval lies wholly above the floor's, \+8\.00 ms apart\.$/,
    },
    {
      name: "cutover's interval wholly below: under",
      mixed: { old: at(5000), [H]: { ...at(15000), small_p99_minus_old_ci: ci(10000, 9000, 11000) }, [C]: { ...at(9000), small_p99_minus_old_ci: ci(4000, 3000, 5000) } },
      want: /, under that floor: its interval lies wholly below the floor's, -6\.00 ms apart\.$/,
    },
    {
      name: 'the intervals touch: at the floor',
      mixed: { old: at(5000), [H]: { ...at(9000), small_p99_minus_old_ci: ci(4000, 3000, 5000) }, [C]: { ...at(11000), small_p99_minus_old_ci: ci(6000, 5000, 7000) } },
      want: /at that floor: the two intervals overlap \(\+2\.00 ms apart\)\.$/,
    },
    { name: 'no intervals, over', mixed: { old: at(5000), [H]: at(9000), [C]: at(13000) }, want: /hash-paced-reader \+4\.00 ms over old; cutover-mirror \+8\.00 ms over old, \+4\.00 ms over that floor \(no intervals\)\.$/ },
    { name: 'no intervals, under', mixed: { old: at(5000), [H]: at(9000), [C]: at(8000) }, want: /cutover-mirror \+3\.00 ms over old, -1\.00 ms from that floor \(no intervals\)\.$/ },
    {
      name: 'one interval only: by the differences',
      mixed: { old: at(5000), [H]: { ...at(9000), small_p99_minus_old_ci: ci(3500, 2500, 4500) }, [C]: at(10000) },
      want: /hash-paced-reader \+3\.50 ms over old \(\+2\.50 ms to \+4\.50 ms, 16 rounds\); cutover-mirror \+5\.00 ms over old, \+1\.50 ms over that floor \(no intervals\)\.$/,
    },
  ]
  for (const r of rows) {
    const got = floor.buildFloor(r.mixed)
    if (r.want === null) t.equal(got, null, r.name)
    else t.match(got, r.want, r.name)
  }
})

t.test("readerCommand: the load's own arguments, to the reader's port, at its nice value, without --raw (table)", async t => {
  const base = ['/b/fixed-rate.mjs', '--url', 'http://127.0.0.1:41500', '--rate', '200', '--mix', 'mirror-mixed', '--seed', '7']
  const rows: Array<{ name: string; args: string[]; pace?: { bytesPerSecond: number; after: number }; want: string[] | null }> = [
    { name: 'the url replaced', args: base, want: ['-n', '19', process.execPath, '/b/fixed-rate.mjs', '--url', 'http://127.0.0.1:47001', '--rate', '200', '--mix', 'mirror-mixed', '--seed', '7'] },
    { name: '--raw dropped', args: [...base, '--raw'], want: ['-n', '19', process.execPath, '/b/fixed-rate.mjs', '--url', 'http://127.0.0.1:47001', '--rate', '200', '--mix', 'mirror-mixed', '--seed', '7'] },
    {
      name: 'paced: --pace and --pace-after last',
      args: [...base, '--raw'],
      pace: { bytesPerSecond: 16777216, after: 4194304 },
      want: ['-n', '19', process.execPath, '/b/fixed-rate.mjs', '--url', 'http://127.0.0.1:47001', '--rate', '200', '--mix', 'mirror-mixed', '--seed', '7', '--pace', '16777216', '--pace-after', '4194304'],
    },
    { name: 'no --url', args: ['/b/fixed-rate.mjs', '--rate', '200'], want: null },
    { name: '--url without a value', args: ['/b/fixed-rate.mjs', '--url'], want: null },
  ]
  for (const r of rows) {
    if (r.want === null) {
      t.throws(() => floor.readerCommand(r.args, { port: 47001, nice: 19 }), /no --url/, r.name)
      continue
    }
    const got = floor.readerCommand(r.args, { port: 47001, nice: 19, ...(r.pace ? { pace: r.pace } : {}) })
    t.equal(got.command, 'nice', `${r.name}: run under nice`)
    t.strictSame(got.args, r.want, `${r.name}: its arguments`)
  }
})
