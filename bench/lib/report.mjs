// Formatting of the printed results: numbers, Markdown tables, ratios and the target summary lines.
// A verdict is { what, verdict: 'PASS' | 'FAIL' | 'INVALID' | 'n/a', value }.

/** fmt formats a number with `d` decimals and thousands separators; 'n/a' when missing. */
export const fmt = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
/** fmtMB formats bytes as MB (10^6 bytes, one decimal). */
export const fmtMB = (b) => (b === undefined || b === null ? 'n/a' : `${(b / 1e6).toFixed(1)} MB`);
/** fmtCores formats a CPU figure in cores (two decimals). */
export const fmtCores = (c) => (c === undefined || c === null ? 'n/a' : c.toFixed(2));
/** fmtRatio formats a ratio of two figures (two decimals); 'n/a' when missing. */
export const fmtRatio = (q) => (q === undefined || q === null ? 'n/a' : q.toFixed(2));
/** fmtMs formats microseconds as milliseconds (two decimals). */
export const fmtMs = (us) => (us === undefined || us === null ? 'n/a' : `${(us / 1000).toFixed(2)} ms`);
/** signedMs prints a difference in µs as signed milliseconds: `+1.72 ms`. */
export const signedMs = (us) => `${us >= 0 ? '+' : ''}${(us / 1000).toFixed(2)} ms`;

/** table renders rows (the first is the header) as a Markdown table; align[i] 'r' pads column i left. */
export function table(rows, align) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => '| ' + r.map((c, i) => (align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((wd, i) => (align[i] === 'r' ? '-'.repeat(wd + 1) + ':' : '-'.repeat(wd + 2))).join('|') + '|';
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

/** median is the middle value of a list of numbers (the mean of the two middle ones for an even count), null for none. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** ratio returns results[w.id][a].value / results[w.id][b].value, or null when either is missing or zero. */
export function ratio(results, w, a, b) {
  const x = results[w.id]?.[a];
  const y = results[w.id]?.[b];
  if (!x || !y || !y.value) return null;
  return x.value / y.value;
}

/** targetsLine is a part's closing line: `<prefix>: all N met` or `<prefix>: F of N not met: <what>; ...`. */
export function targetsLine(prefix, verdicts) {
  const failed = verdicts.filter((v) => v.verdict !== 'PASS');
  return failed.length ? `${prefix}: ${failed.length} of ${verdicts.length} not met: ${failed.map((v) => v.what).join('; ')}` : `${prefix}: all ${verdicts.length} met`;
}
