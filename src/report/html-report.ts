import { createHash } from 'node:crypto'
import type { DivergenceKind } from '../audit/divergence.js'
import { markup, raw, type Html } from './markup.js'
import { describeDivergence } from './render-comparison.js'
import { DIVERGENCE_KINDS } from '../audit/divergence.js'
import { compareCommand, type LatencyStats, type Summary } from './summary.js'
import { NO_PAYLOAD, topKinds } from './payload-groups.js'

/** ReportMeta is what {@link renderHtml} says about the report besides the summary. */
export interface ReportMeta {
  /** The page title. If unset, defaults to "cutover report". */
  readonly title?: string
  /** The input files, as given. */
  readonly files: readonly string[]
  /** When the report was made, ISO 8601 (the caller's clock: rendering is pure). */
  readonly generatedAt: string
  /** The servers, for the compare commands. If unset, the commands say "$OLD" and "$NEW". */
  readonly oldUrl?: string
  readonly newUrl?: string
  /** Input lines that were not comparisons: their count and the first few, `file:line: why`. */
  readonly badLines?: { readonly count: number; readonly first: readonly string[] }
}

/** KIND_COLORS are the chart colours of the kinds (Okabe–Ito palette: readable with colour blindness). */
const KIND_COLORS: Readonly<Record<DivergenceKind, string>> = {
  status: '#D55E00',
  header: '#E69F00',
  'body-length': '#CC79A7',
  'body-bytes': '#0072B2',
  'range-part': '#009E73',
  error: '#444444',
  timeout: '#56B4E9',
  'not-compared': '#BBBBBB',
}
const SIDE_COLORS = { control: '#9AA5B8', candidate: '#0072B2' } as const

/** MAX_BARS is how many bars the timeline chart draws at most: finer buckets are merged for display. */
const MAX_BARS = 120
const CHART_W = 960

const fmt = (n: number): string => n.toLocaleString('en-US')
const fmtMs = (v: number | undefined): string =>
  v === undefined ? '–' : v < 10 ? v.toFixed(1) : fmt(Math.round(v))
const pct = (n: number, of: number): string => (of === 0 ? '0%' : `${((100 * n) / of).toFixed(1)}%`)
/** utc writes an ISO 8601 time as `2024-05-01 10:00:00 UTC` (unparsable text is shown as it is). */
const utc = (iso: string): string => {
  const t = Date.parse(iso)
  return Number.isFinite(t) ? `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC` : iso
}
const num = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1))

/** niceStep returns a round step (1, 2, 2.5 or 5 times a power of ten) for about `ticks` ticks up to `max`. */
function niceStep(max: number, ticks: number, integer: boolean): number {
  const raw = max / ticks
  if (!(raw > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map(m => m * p).find(s => s >= raw)!
  return integer ? Math.max(1, Math.ceil(step)) : step
}

/** yAxis draws horizontal grid lines with labels and returns the scale's top value. */
function yAxis(max: number, integer: boolean, box: Box): { top: number; svg: Html } {
  const step = niceStep(max, 4, integer)
  const top = Math.max(step, Math.ceil(max / step) * step)
  const lines: Html[] = []
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = box.y + box.h - (v / top) * box.h
    lines.push(
      markup`<line x1="${box.x}" x2="${box.x + box.w}" y1="${num(y)}" y2="${num(y)}" class="grid"/><text x="${box.x - 6}" y="${num(y + 4)}" text-anchor="end" class="tick">${fmt(Number(v.toFixed(3)))}</text>`,
    )
  }
  return { top, svg: markup`${lines}` }
}

interface Box {
  x: number
  y: number
  w: number
  h: number
}

const legend = (items: ReadonlyArray<readonly [string, string]>): Html =>
  markup`<ul class="legend">${items.map(
    ([label, color]) =>
      markup`<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" rx="2" fill="${color}"/></svg>${label}</li>`,
  )}</ul>`

/** timeLabel writes a bucket start in UTC: `HH:MM`, with the date when the span is over a day. */
function timeLabel(ms: number, spanMs: number): string {
  const iso = new Date(ms).toISOString()
  return spanMs > 86_400_000 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16)
}

/** ROUND_WIDTHS are the bar widths the timeline prefers, in minutes. */
const ROUND_WIDTHS: readonly number[] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080]

/**
 * slotWidth picks the width of a timeline bar: the smallest round width that is a multiple of the
 * summary's bucket width and draws at most MAX_BARS bars over `spanMs`; else the smallest
 * multiple of the bucket width that does.
 */
function slotWidth(bucketMs: number, spanMs: number): number {
  const min = bucketMs * Math.ceil(spanMs / bucketMs / MAX_BARS)
  const round = ROUND_WIDTHS.map(m => m * 60_000).find(w => w >= min && w % bucketMs === 0)
  return round ?? min
}

/** timelineChart draws divergences by kind over time as stacked bars. */
function timelineChart(s: Summary): Html {
  const { bucketMs, buckets } = s.timeline
  if (buckets.length === 0) return markup`<p class="empty">No divergences to chart.</p>`
  const first = buckets[0]!.start
  const t1 = buckets[buckets.length - 1]!.start + bucketMs
  const slotMs = slotWidth(bucketMs, t1 - first)
  // Slots start on multiples of their width, so that the labels fall on round times.
  const t0 = Math.floor(first / slotMs) * slotMs
  const slots = Math.ceil((t1 - t0) / slotMs)
  const merged = new Map<number, Partial<Record<DivergenceKind, number>>>()
  for (const b of buckets) {
    const i = Math.floor((b.start - t0) / slotMs)
    const m = merged.get(i) ?? {}
    for (const k of DIVERGENCE_KINDS) if (b.counts[k]) m[k] = (m[k] ?? 0) + b.counts[k]!
    merged.set(i, m)
  }
  const total = (m: Partial<Record<DivergenceKind, number>>): number =>
    DIVERGENCE_KINDS.reduce((a, k) => a + (m[k] ?? 0), 0)
  const max = Math.max(...[...merged.values()].map(total))
  const box: Box = { x: 52, y: 12, w: CHART_W - 52 - 32, h: 200 }
  const axis = yAxis(max, true, box)
  const slotW = box.w / slots
  const barW = Math.max(1, slotW * (slots > 40 ? 0.9 : 0.7))
  const bars: Html[] = []
  for (const [i, m] of [...merged].sort(([a], [b]) => a - b)) {
    const x = box.x + i * slotW + (slotW - barW) / 2
    let y = box.y + box.h
    const label = `${timeLabel(t0 + i * slotMs, t1 - t0)} UTC: ${DIVERGENCE_KINDS.filter(k => m[k])
      .map(k => `${k} ${m[k]}`)
      .join(', ')}`
    const rects: Html[] = []
    for (const k of DIVERGENCE_KINDS) {
      const n = m[k] ?? 0
      if (n === 0) continue
      const h = (n / axis.top) * box.h
      y -= h
      rects.push(
        markup`<rect x="${num(x)}" y="${num(y)}" width="${num(barW)}" height="${num(h)}" fill="${KIND_COLORS[k]}"/>`,
      )
    }
    bars.push(markup`<g class="bar" data-bucket="${t0 + i * slotMs}"><title>${label}</title>${rects}</g>`)
  }
  // About six labels, a round time apart when one fits.
  const fewest = Math.max(1, Math.ceil(slots / 6))
  const roundStep = ROUND_WIDTHS.map(m => m * 60_000).find(w => w % slotMs === 0 && w / slotMs >= fewest)
  const every = roundStep === undefined ? fewest : roundStep / slotMs
  const ticks: Html[] = []
  for (let i = 0; i <= slots; i += every) {
    const x = box.x + i * slotW
    // A label near the right edge ends at its tick instead of being cut.
    const anchor = x > box.x + box.w - 40 ? 'end' : 'middle'
    ticks.push(
      markup`<line x1="${num(x)}" x2="${num(x)}" y1="${box.y + box.h}" y2="${box.y + box.h + 4}" class="axis"/><text x="${num(x)}" y="${box.y + box.h + 18}" text-anchor="${anchor}" class="tick">${timeLabel(t0 + i * slotMs, t1 - t0)}</text>`,
    )
  }
  const used = DIVERGENCE_KINDS.filter(k => s.kinds[k].divergences > 0)
  const width =
    slotMs % 86_400_000 === 0
      ? `${slotMs / 86_400_000} d`
      : slotMs % 3_600_000 === 0
        ? `${slotMs / 3_600_000} h`
        : `${slotMs / 60_000} min`
  return markup`<figure>
<svg data-testid="chart-timeline" class="chart" viewBox="0 0 ${CHART_W} ${box.y + box.h + 28}" role="img" aria-label="divergences by kind over time">
${axis.svg}${bars}${ticks}
<line x1="${box.x}" x2="${box.x + box.w}" y1="${box.y + box.h}" y2="${box.y + box.h}" class="axis"/>
</svg>
<figcaption>Divergences per ${width} (UTC), stacked by kind. ${legend(used.map(k => [k, KIND_COLORS[k]] as const))}</figcaption>
</figure>`
}

/** pathsChart draws the top paths as horizontal bars stacked by kind. */
function pathsChart(s: Summary): Html {
  if (s.paths.length === 0)
    return s.pathsExact
      ? markup`<p class="empty">No divergent paths.</p>`
      : markup`<p class="empty" data-testid="paths-none">No path stands out among more than ${fmt(s.pathsTracked)} distinct paths.</p>`
  const rowH = 26
  const labelW = 380
  const box: Box = { x: labelW + 12, y: 8, w: CHART_W - labelW - 12 - 70, h: s.paths.length * rowH }
  const max = Math.max(...s.paths.map(p => p.divergences))
  const rows = s.paths.map((p, i) => {
    const y = box.y + i * rowH
    const label = p.path.length > 52 ? `${p.path.slice(0, 51)}…` : p.path
    let x = box.x
    const rects: Html[] = []
    for (const k of DIVERGENCE_KINDS) {
      const n = p.kinds[k] ?? 0
      if (n === 0) continue
      const w = (n / max) * box.w
      rects.push(
        markup`<rect x="${num(x)}" y="${y + 4}" width="${num(w)}" height="${rowH - 8}" fill="${KIND_COLORS[k]}"/>`,
      )
      x += w
    }
    const kinds = DIVERGENCE_KINDS.filter(k => p.kinds[k])
      .map(k => `${k} ${p.kinds[k]}`)
      .join(', ')
    return markup`<g class="path-row" data-testid="path-row"><title>${p.path}: ${fmt(p.divergences)} divergences in ${fmt(p.comparisons)} requests (${kinds})</title>
<text x="${labelW}" y="${y + rowH / 2 + 4}" text-anchor="end" class="path">${label}</text>${rects}
<text x="${num(x + 6)}" y="${y + rowH / 2 + 4}" class="value">${fmt(p.divergences)}${p.error > 0 ? ` ±${fmt(p.error)}` : ''}</text></g>`
  })
  const used = DIVERGENCE_KINDS.filter(k => s.paths.some(p => p.kinds[k]))
  return markup`<figure>
<svg data-testid="chart-paths" class="chart" viewBox="0 0 ${CHART_W} ${box.h + 16}" role="img" aria-label="divergences by path">
${rows}
<line x1="${box.x}" x2="${box.x}" y1="${box.y}" y2="${box.y + box.h}" class="axis"/>
</svg>
<figcaption>Divergences on the ${s.paths.length} paths with the most${s.pathsExact ? '' : ` (estimated over more than ${fmt(s.pathsTracked)} distinct paths: ± is the bound)`}. ${legend(used.map(k => [k, KIND_COLORS[k]] as const))}</figcaption>
</figure>`
}

const LATENCY_POINTS = ['p50', 'p90', 'p99'] as const

/** latencyChart draws old's and new's p50, p90 and p99 as grouped bars. */
function latencyChart(s: Summary): Html {
  const { control, candidate } = s.latency
  if (control.count === 0 && candidate.count === 0) return markup`<p class="empty">No durations recorded.</p>`
  const box: Box = { x: 60, y: 16, w: CHART_W - 60 - 16, h: 200 }
  const values = [control, candidate].flatMap(l => LATENCY_POINTS.map(p => l[p] ?? 0))
  const axis = yAxis(Math.max(...values), false, box)
  const groupW = box.w / LATENCY_POINTS.length
  const barW = Math.min(90, groupW * 0.3)
  const groups = LATENCY_POINTS.map((p, gi) => {
    const bars = (['control', 'candidate'] as const).map((side, si) => {
      const v = s.latency[side][p]
      if (v === undefined) return markup``
      const h = (v / axis.top) * box.h
      const x = box.x + gi * groupW + groupW / 2 - barW - 2 + si * (barW + 4)
      const name = side === 'control' ? 'old' : 'new'
      return markup`<g data-testid="latency-${name}-${p}"><title>${name} ${p}: ${fmtMs(v)} ms</title>
<rect x="${num(x)}" y="${num(box.y + box.h - h)}" width="${num(barW)}" height="${num(h)}" fill="${SIDE_COLORS[side]}"/>
<text x="${num(x + barW / 2)}" y="${num(box.y + box.h - h - 5)}" text-anchor="middle" class="value">${fmtMs(v)}</text></g>`
    })
    return markup`${bars}<text x="${num(box.x + gi * groupW + groupW / 2)}" y="${box.y + box.h + 18}" text-anchor="middle" class="tick">${p}</text>`
  })
  const sides = legend([
    ['old', SIDE_COLORS.control],
    ['new', SIDE_COLORS.candidate],
  ])
  return markup`<figure>
<svg data-testid="chart-latency" class="chart" viewBox="0 0 ${CHART_W} ${box.y + box.h + 28}" role="img" aria-label="latency of old and new">
${axis.svg}${groups}
<line x1="${box.x}" x2="${box.x + box.w}" y1="${box.y + box.h}" y2="${box.y + box.h}" class="axis"/>
<text x="14" y="${box.y + box.h / 2}" transform="rotate(-90 14 ${box.y + box.h / 2})" text-anchor="middle" class="tick">ms</text>
</svg>
<figcaption>Time to the status line, in ms, of the comparisons in the log${control.sampled || candidate.sampled ? ' (percentiles from a uniform sample)' : ''}. ${sides}</figcaption>
</figure>`
}

function latencyTable(s: Summary): Html {
  const row = (name: string, l: LatencyStats): Html =>
    markup`<tr><th scope="row">${name}</th><td>${fmt(l.count)}</td><td>${fmtMs(l.min)}</td><td>${fmtMs(l.mean)}</td><td>${fmtMs(l.p50)}</td><td>${fmtMs(l.p90)}</td><td>${fmtMs(l.p99)}</td><td>${fmtMs(l.max)}</td></tr>`
  return markup`<table class="num latency" data-testid="latency-table"><thead><tr><th></th><th>count</th><th>min</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead>
<tbody>${row('old', s.latency.control)}${row('new', s.latency.candidate)}</tbody></table>`
}

/** byCount lists every kind, most divergences first (ties in DIVERGENCE_KINDS order). */
const byCount = (s: Summary): DivergenceKind[] =>
  [...DIVERGENCE_KINDS].sort((a, b) => s.kinds[b].divergences - s.kinds[a].divergences)

function kindsTable(s: Summary): Html {
  const max = Math.max(1, ...DIVERGENCE_KINDS.map(k => s.kinds[k].divergences))
  const rows = byCount(s).map(k => {
    const { divergences, comparisons } = s.kinds[k]
    const w = (divergences / max) * 200
    return markup`<tr data-testid="kind-${k}"${raw(divergences === 0 ? ' class="zero"' : '')}>
<th scope="row"><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${KIND_COLORS[k]}"/></svg> ${k}</th>
<td data-testid="kind-${k}-divergences">${fmt(divergences)}</td><td data-testid="kind-${k}-requests">${fmt(comparisons)}</td>
<td class="bar"><svg width="200" height="12" aria-hidden="true"><rect width="${num(w)}" height="12" rx="2" fill="${KIND_COLORS[k]}"/></svg></td></tr>`
  })
  return markup`<table class="num kinds" data-testid="kinds-table"><thead><tr><th>kind</th><th>divergences</th><th>requests</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>`
}

/**
 * payloadsSection is the table of comparisons per payload (compared, divergent, the top divergence
 * kinds), or nothing when no comparison names a payload: a directory-mode log has none to show.
 */
function payloadsSection(s: Summary): Html {
  const p = s.payloads
  if (p.named === 0) return markup``
  const rows = p.rows.map(r => {
    const kinds = topKinds(r.kinds).map(
      ([k, n]) =>
        markup`<span class="kind"><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${KIND_COLORS[k]}"/></svg> ${k} ${fmt(n)}</span> `,
    )
    const name = r.payload === undefined ? markup`<em>${NO_PAYLOAD}</em>` : markup`<code>${r.payload}</code>`
    return markup`<tr data-testid="payload-row" data-payload="${r.payload ?? ''}"><th scope="row">${name}</th><td data-testid="payload-compared">${fmt(r.compared)}${r.error > 0 ? ` ±${fmt(r.error)}` : ''}</td><td data-testid="payload-divergent">${fmt(r.divergent)}</td><td class="desc" data-testid="payload-kinds">${kinds}</td></tr>`
  })
  const shown = p.rows.filter(r => r.payload !== undefined).length
  const more = p.tracked - shown
  return markup`<section id="payloads"><h2>By payload <span class="count" data-testid="payloads-named">${fmt(p.named)}</span></h2>
<table class="num payloads" data-testid="payloads-table"><thead><tr><th>payload</th><th>compared</th><th>divergent</th><th class="kinds">top divergence kinds (requests)</th></tr></thead>
<tbody>${rows}</tbody></table>${more > 0 ? markup`<p class="note">${fmt(more)} more ${more === 1 ? 'payload' : 'payloads'} not listed${p.exact ? '' : ' (counts estimated: ± is the bound)'}.</p>` : ''}</section>`
}

function headersTable(s: Summary): Html {
  if (s.headers.length === 0) return markup`<p class="empty">No header divergences.</p>`
  const rows = s.headers.map(h => {
    const d = describeDivergence({ kind: 'header', name: h.name, ...h.example })
    return markup`<tr data-testid="header-row"><td class="n">${fmt(h.count)}${h.error > 0 ? ` ±${fmt(h.error)}` : ''}</td><td><code>${h.name}</code></td><td class="desc">${d.slice(d.indexOf(': ') + 2)}</td><td class="fix" data-testid="header-fix">${h.fix ?? ''}</td></tr>`
  })
  return markup`<table data-testid="headers-table"><thead><tr><th class="n">count</th><th>header</th><th>first example</th><th>what removes it</th></tr></thead><tbody>${rows}</tbody></table>`
}

function examplesSection(s: Summary, meta: ReportMeta): Html {
  if (s.examples.length === 0) return markup`<p class="empty">No divergences.</p>`
  const hint =
    meta.oldUrl === undefined || meta.newUrl === undefined
      ? markup`<p class="note">Set <code>OLD</code> and <code>NEW</code> to the servers before running the commands (or give <code>cutover report</code> <code>--old</code> and <code>--new</code>).</p>`
      : markup``
  const kinds = s.examples.map(({ kind, items }) => {
    const cards = items.map(e => {
      const cmd = compareCommand(e.request, meta)
      const st = (v: number | undefined): string => (v === undefined ? 'no response' : String(v))
      const headers = Object.entries(e.request.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return markup`<article class="example" data-testid="example" data-kind="${kind}">
<p class="req"><code>${e.request.method} ${e.request.path}</code> <span class="meta">${utc(e.time)} · old ${st(e.status.control)}, new ${st(e.status.candidate)}${e.others > 0 ? ` · ${e.others} more divergence${e.others === 1 ? '' : 's'}` : ''}</span></p>
<p class="desc">${describeDivergence(e.divergence)}</p>
${
  cmd === undefined
    ? markup`<p class="note">No compare command: compare sends GET and HEAD only.</p>`
    : markup`<pre class="cmd"><code data-testid="compare-command">${cmd}</code></pre>`
}
${headers.length > 0 ? markup`<details><summary>request headers (${headers.length})</summary><pre class="headers">${headers.map(([k, v]) => `${k}: ${v}\n`)}</pre></details>` : ''}
</article>`
    })
    return markup`<h3><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" rx="2" fill="${KIND_COLORS[kind]}"/></svg> ${kind} <span class="count">${fmt(s.kinds[kind].divergences)}</span></h3><div class="group">${cards}</div>`
  })
  return markup`${hint}${kinds}`
}

function explainedSection(s: Summary): Html {
  const rules =
    s.rules.length === 0
      ? markup`<p class="empty">No divergence was explained by a rule.</p>`
      : markup`<table data-testid="rules-table"><thead><tr><th class="n">count</th><th>rule</th><th>first example</th></tr></thead><tbody>${s.rules.map(
          r =>
            markup`<tr><td class="n">${fmt(r.count)}${r.error > 0 ? ` ±${fmt(r.error)}` : ''}</td><td><code>${r.reason}</code></td><td class="desc">${describeDivergence(r.example)}</td></tr>`,
        )}</tbody></table>`
  const noise =
    s.noiseKeys.length === 0
      ? markup`<p class="empty">No noise (no baseline, or it agreed with old).</p>`
      : markup`<table data-testid="noise-table"><thead><tr><th class="n">count</th><th>key</th><th>first example</th></tr></thead><tbody>${s.noiseKeys.map(
          n =>
            markup`<tr><td class="n">${fmt(n.count)}${n.error > 0 ? ` ±${fmt(n.error)}` : ''}</td><td><code>${n.key}</code></td><td class="desc">${describeDivergence(n.example)}</td></tr>`,
        )}</tbody></table>`
  return markup`<h3>Ignored by rules <span class="count" data-testid="ignored-count">${fmt(s.ignored)}</span></h3>${rules}
<h3>Noise, also between old and the baseline <span class="count" data-testid="noise-count">${fmt(s.noise)}</span></h3>${noise}`
}

function badLinesSection(meta: ReportMeta): Html {
  const b = meta.badLines
  if (!b || b.count === 0) return markup``
  const more = b.count - b.first.length
  return markup`<section id="bad-lines"><h2>Input lines that are not comparisons <span class="count">${fmt(b.count)}</span></h2>
<ul class="bad" data-testid="bad-lines">${b.first.map(l => markup`<li><code>${l}</code></li>`)}</ul>${more > 0 ? markup`<p class="note">… and ${fmt(more)} more.</p>` : ''}</section>`
}

const CSS = `
:root { --fg: #1d2330; --muted: #5d6679; --line: #e3e6ec; --bg: #ffffff; --panel: #f6f7f9; --bad: #b42318; --ok: #067647; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 32px 48px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 2px 0; color: var(--muted); }
h2 { font-size: 18px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
h3 svg, th svg { vertical-align: -1px; }
code, pre { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; margin-top: 20px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 12px; }
.card.bad .value { color: var(--bad); }
.card.ok .value { color: var(--ok); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
table.num td, td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.num td.bar { text-align: left; width: 220px; }
table.kinds, table.latency { width: auto; min-width: 560px; }
table.num thead th { text-align: right; }
table.num thead th:first-child { text-align: left; }
table.payloads td.desc, table.payloads th.kinds { text-align: left; white-space: normal; }
table.payloads .kind { white-space: nowrap; margin-right: 8px; }
tr.zero { color: #a0a7b4; }
td.desc { overflow-wrap: anywhere; }
figure { margin: 8px 0 20px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font-size: 12px; fill: var(--muted); }
svg.chart text.path { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; fill: var(--fg); }
svg.chart text.value { fill: var(--fg); font-variant-numeric: tabular-nums; }
svg.chart .grid { stroke: var(--line); }
svg.chart .axis { stroke: #9aa3b2; }
svg.chart g.bar:hover rect, svg.chart g.path-row:hover rect { opacity: .8; }
.legend { display: inline-flex; flex-wrap: wrap; gap: 4px 14px; list-style: none; margin: 0 0 0 8px; padding: 0; }
.legend li { display: inline-flex; align-items: center; gap: 5px; }
.group { border: 1px solid var(--line); border-radius: 8px; padding: 0 14px; margin: 6px 0 16px; }
.example { padding: 10px 0; }
.example + .example { border-top: 1px solid var(--line); }
.example p { margin: 2px 0; }
.example .req code { font-size: 13px; font-weight: 600; overflow-wrap: anywhere; }
.example .meta { color: var(--muted); font-size: 12.5px; margin-left: 8px; }
.example .desc { overflow-wrap: anywhere; }
.cmdwrap { position: relative; }
pre.cmd { background: #1f2430; color: #e8ecf3; border-radius: 6px; padding: 8px 64px 8px 12px; margin: 6px 0 4px; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.cmd::before { content: "$ "; color: #8f9bb3; }
pre.headers { background: var(--panel); border-radius: 6px; padding: 8px 12px; white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0; }
button.copy { position: absolute; top: 5px; right: 6px; font: 12px system-ui, sans-serif; color: #e8ecf3; background: #3a4254; border: 0; border-radius: 4px; padding: 3px 8px; cursor: pointer; }
details summary { cursor: pointer; color: var(--muted); font-size: 12.5px; }
.empty, .note { color: var(--muted); }
.count { color: var(--muted); font-weight: 400; margin-left: 6px; }
ul.bad { padding-left: 20px; }
ul.bad code { overflow-wrap: anywhere; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
`

// Progressive enhancement only: a copy button on each command. The page reads the same without it.
const SCRIPT = `
document.querySelectorAll('pre.cmd').forEach(function (pre) {
  var wrap = document.createElement('div')
  wrap.className = 'cmdwrap'
  pre.parentNode.insertBefore(wrap, pre)
  wrap.appendChild(pre)
  var b = document.createElement('button')
  b.type = 'button'
  b.className = 'copy'
  b.textContent = 'copy'
  b.addEventListener('click', function () {
    var text = pre.textContent
    var done = function () { b.textContent = 'copied'; setTimeout(function () { b.textContent = 'copy' }, 1500) }
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, function () {})
  })
  wrap.appendChild(b)
})
`

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64')

/**
 * renderHtml renders a {@link Summary} as one self-contained HTML page: totals, counts by kind,
 * the comparisons per payload when any names one, inline SVG charts (divergences by kind over
 * time, by path, latency of old and new), the top
 * differing headers, examples with their `cutover compare` commands, what rules and noise explain,
 * and the bad input lines. It loads nothing: CSS and a small optional script are inline, and a
 * Content-Security-Policy allows only those two (by hash), so the page makes no request even if
 * something in it tried to. Every string from the data is HTML-escaped. Elements tests look for
 * carry `data-testid` (e.g. `total-divergent`, `kind-header-divergences`, `chart-timeline`). Pure.
 */
export function renderHtml(s: Summary, meta: ReportMeta): string {
  const title = meta.title ?? 'cutover report'
  const csp = [
    "default-src 'none'",
    `style-src 'sha256-${sha256(CSS)}'`,
    `script-src 'sha256-${sha256(SCRIPT)}'`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ')
  const card = (id: string, label: string, value: number, sub = '', cls = ''): Html =>
    markup`<div class="card ${cls}"><div class="label">${label}</div><div class="value" data-testid="${id}">${fmt(value)}</div><div class="sub">${sub}</div></div>`
  const span = s.firstTime === undefined ? 'no comparisons' : `${utc(s.firstTime)} to ${utc(s.lastTime!)}`
  const servers =
    meta.oldUrl !== undefined || meta.newUrl !== undefined
      ? markup`<p>old <code>${meta.oldUrl ?? '$OLD'}</code> · new <code>${meta.newUrl ?? '$NEW'}</code></p>`
      : markup``
  const page = markup`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${title}</title>
<style>${raw(CSS)}</style>
</head>
<body>
<main>
<header>
<h1>${title}</h1>
<p data-testid="files">${meta.files.join(', ')}</p>
<p>${span} · generated ${utc(meta.generatedAt)}</p>
${servers}
</header>
<section class="cards" id="totals">
${card('total-comparisons', 'comparisons', s.comparisons)}
${card('total-divergent', 'divergent', s.divergent, `${pct(s.divergent, s.comparisons)} of comparisons`, s.divergent > 0 ? 'bad' : 'ok')}
${card('total-divergences', 'divergences', s.divergences)}
${card('total-ignored', 'ignored by rules', s.ignored)}
${card('total-noise', 'noise', s.noise)}
${card('total-bad-lines', 'bad input lines', meta.badLines?.count ?? 0, '', (meta.badLines?.count ?? 0) > 0 ? 'bad' : '')}
</section>
<section id="kinds"><h2>Divergences by kind</h2>${kindsTable(s)}</section>
${payloadsSection(s)}
<section id="timeline"><h2>Over time</h2>${timelineChart(s)}</section>
<section id="paths"><h2>Top paths</h2>${pathsChart(s)}</section>
<section id="headers"><h2>Top differing headers</h2>${headersTable(s)}</section>
<section id="latency"><h2>Latency, old vs new</h2>${latencyChart(s)}${latencyTable(s)}</section>
<section id="examples"><h2>Examples</h2>${examplesSection(s, meta)}</section>
<section id="explained"><h2>Explained differences</h2>${explainedSection(s)}</section>
${badLinesSection(meta)}
<footer>cutover report · self-contained: this page loads nothing from the network.</footer>
</main>
<script>${raw(SCRIPT)}</script>
</body>
</html>
`
  return page.value
}
