import { createReadStream, statSync } from 'node:fs'
import { Command, InvalidArgumentError, Option } from 'commander'
import { JsonlFile } from '../telemetry/jsonl-file.js'
import { isCutoverError } from '../core/errors.js'
import type { Comparison } from '../audit/divergence.js'
import { HttpBackend } from '../audit/http-backend.js'
import { gcHint, keepFreedHeap } from './process-tuning.js'
import { EtagPairs } from '../audit/etag-pairs.js'
import { LOG_FORMATS, readRecords } from '../replay/read-records.js'
import type { LogFormat } from '../replay/record.js'
import { ReplayStats, runReplay, type ReplayFilter } from '../replay/replay.js'
import { parseBytes, parseCount, parseDuration, parseUrl, noZoomOption, zoomBudget, zoomRateOption } from './options.js'
import { DEFAULT_MAX_LINE_BYTES } from '../replay/split-lines.js'
import { loadRules } from './load-rules.js'
import { onReopen, onShutdown, signalTarget } from './on-shutdown.js'
import { StatusPrinter } from '../report/status-printer.js'
import { replayProgress } from '../report/replay-progress.js'
import { plural } from '../report/plural.js'
import { printable } from '../report/shell-quote.js'
import { systemClock } from '../core/clock.js'
import { PayloadGroups, payloadLines } from '../report/payload-groups.js'
import { DEFAULT_TOP } from '../report/summary.js'

interface ReplayFlags {
  old: string
  new: string
  baseline?: string
  format: 'auto' | LogFormat
  concurrency: number
  rate?: number
  speed: number | 'asap'
  rangeProbes: number
  filter: string[]
  payload: string[]
  limit?: number
  rules?: string
  out?: string
  timeout: number
  zoom: boolean
  zoomRate: number
  minCompared: number
  includeShadows?: boolean
  maxLineBytes: number
}

/** parseSpeed reads --speed: a positive factor, or `asap`. */
function parseSpeed(s: string): number | 'asap' {
  if (s === 'asap') return 'asap'
  const v = Number(s)
  if (!(v > 0) || !Number.isFinite(v)) throw new InvalidArgumentError(`expected a factor > 0 or "asap", got "${s}"`)
  return v
}

/** parseRate reads --rate: requests per second, `100` or `100/s`. */
function parseRate(s: string): number {
  const v = Number(s.replace(/\/s$/, ''))
  if (!(v > 0) || !Number.isFinite(v)) throw new InvalidArgumentError(`expected a rate like 100/s, got "${s}"`)
  return v
}

/**
 * parseFilters turns --filter values into a ReplayFilter: `method=GET,HEAD`, `path=REGEX`,
 * `status=200,206,3xx` (every given filter must match). Errors name the bad --filter value.
 */
export function parseFilters(values: readonly string[]): ReplayFilter {
  let methods: Set<string> | undefined
  let path: RegExp | undefined
  let statuses: ((s: number) => boolean) | undefined
  for (const v of values) {
    const eq = v.indexOf('=')
    const key = v.slice(0, eq)
    const val = v.slice(eq + 1)
    if (eq <= 0 || val === '') throw new Error(`--filter ${v}: expected method=..., path=... or status=...`)
    if (key === 'method') methods = new Set(val.split(',').map(m => m.trim().toUpperCase()))
    else if (key === 'path') {
      try {
        path = new RegExp(val)
      } catch (err) {
        throw new Error(`--filter ${v}: ${(err as Error).message}`)
      }
    } else if (key === 'status') {
      const tests = val.split(',').map(p => {
        const t = p.trim().toLowerCase()
        if (/^[1-5]xx$/.test(t)) return (s: number) => Math.floor(s / 100) === Number(t[0])
        if (/^\d{3}$/.test(t)) return (s: number) => s === Number(t)
        throw new Error(`--filter ${v}: "${p}" is not a status or a class like 2xx`)
      })
      statuses = s => tests.some(f => f(s))
    } else throw new Error(`--filter ${v}: unknown field "${key}" (method, path, status)`)
  }
  return { ...(methods ? { methods } : {}), ...(path ? { path } : {}), ...(statuses ? { statuses } : {}) }
}

/** PAYLOAD_NAME is what a manifest payload may be named (schema/manifest.schema.json): a --payload value that is not cannot match. */
const PAYLOAD_NAME = /^[A-Za-z0-9._-]{1,128}$/

/**
 * collectPayloads is the argument parser of --payload: it adds the names of one value (a name or a
 * comma-separated list) to those of the previous --payload flags. A name no payload can have is a
 * usage error, not a filter that silently keeps nothing.
 */
export function collectPayloads(value: string, previous: readonly string[]): string[] {
  const names = value.split(',').map(n => n.trim())
  for (const n of names) {
    if (!PAYLOAD_NAME.test(n)) throw new InvalidArgumentError(`"${n}" is not a payload name (1 to 128 of A-Z a-z 0-9 . _ -)`)
  }
  return [...previous, ...names]
}

/**
 * countLines counts the non-blank lines of plain files (for the progress total: the reader skips
 * blank lines), a last line without a newline included, or returns undefined for files it cannot
 * count in one cheap pass (gzip, HAR, .gor, over 512 MiB in all).
 */
export async function countLines(files: readonly string[]): Promise<number | undefined> {
  let bytes = 0
  for (const f of files) {
    if (f.endsWith('.gz') || f.endsWith('.har') || f.endsWith('.gor')) return undefined
    bytes += statSync(f).size
  }
  if (bytes > 512 * 1024 * 1024) return undefined // not worth a second pass
  let n = 0
  for (const f of files) {
    let blank = true
    for await (const chunk of createReadStream(f)) {
      for (const b of chunk as Buffer) {
        if (b === 10) {
          if (!blank) n++
          blank = true
        } else if (b !== 32 && b !== 9 && b !== 13 && b !== 11 && b !== 12) blank = false
      }
    }
    if (!blank) n++
  }
  return n
}

/** register adds `cutover replay` to the program. */
export function register(program: Command): void {
  program
    .command('replay')
    .summary('replay captured access logs against old and new, with range probes')
    .description(
      [
        'Replay the requests of captured access logs (nginx/Apache combined or common, cutover JSONL, HAR 1.2, GoReplay .gor; gzip accepted) against --old and --new and compare every answer as the mirror does. Bad log lines are reported with file:line and why, counted, and never stop the replay.',
        '--range-probes N adds, for each distinct path that answers 200 to a GET, up to N requests chosen to hit range edge cases (first byte, last byte, suffix, open-ended, a slice across a 2 MiB chunk boundary, a random slice, two ranges, If-Range with the ETag and with a stale date); each single-range slice from new is also checked against old\'s full body at the same offsets.',
        'Records of cutover JSONL logs written by `serve --manifest` name the payload that answered them: every comparison (and each --out line) carries it as "payload", the summary groups the comparisons by payload (compared, divergent, top divergence kinds; records without one as "(no payload)"), and --payload keeps only the records of the payloads named.',
        'Exit status: 0 no divergence, 1 divergences, 2 usage or input error, 3 fewer comparisons than --min-compared (default 1: nothing compared, as with an empty log, every line bad or a filter or --payload that kept nothing), so a gate never passes on nothing. Ctrl-C stops reading, lets the exchanges in flight finish, and still writes the summary and --out.',
      ].join('\n\n'),
    )
    .argument('<file...>', 'access logs to replay')
    .requiredOption('--old <url>', 'the old server (control)', parseUrl)
    .requiredOption('--new <url>', 'the new server (candidate)', parseUrl)
    .option('--baseline <url>', 'a second old server: divergences old-vs-baseline also shows are noise', parseUrl)
    .addOption(new Option('--format <format>', 'log format').choices(['auto', ...LOG_FORMATS]).default('auto'))
    .addOption(new Option('--concurrency <n>', 'exchanges in flight at once').default(8).argParser(parseCount(1)))
    .option('--rate <r/s>', 'at most this many requests per second', parseRate)
    .addOption(new Option('--speed <factor|asap>', "keep the log's pacing scaled by this factor, or asap").default('asap' as const).argParser(parseSpeed))
    .addOption(new Option('--range-probes <n>', 'range probes per distinct successful GET path').default(0).argParser(parseCount(0)))
    .option('--filter <field=values>', 'keep records matching method=GET,HEAD | path=REGEX | status=2xx,304 (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option(
      '--payload <names>',
      "keep records answered by these manifest payloads (cutover JSONL of serve --manifest, field \"payload\"); a name or a comma list, repeatable",
      collectPayloads,
      [] as string[],
    )
    .option('--limit <n>', 'replay at most n records', parseCount(1))
    .option('--include-shadows', "also replay records of a mirror's shadow traffic (cutover JSONL with \"shadow\": true), skipped by default")
    .option('--rules <file>', 'comparison rules (YAML or JSON)')
    .option('--out <file>', 'append one JSON line per comparison with a divergence, ignored difference or noise')
    .addOption(new Option('--max-line-bytes <size>', 'a longer log line is a bad line, skipped in bounded memory').default(DEFAULT_MAX_LINE_BYTES, '1MiB').argParser(parseBytes))
    .addOption(new Option('--min-compared <n>', 'exit 3 when fewer comparisons than this were made (probes count)').default(1).argParser(parseCount(0)))
    .addOption(new Option('--timeout <duration>', 'a side with no status after this long is a timeout divergence').default(30_000, '30s').argParser(parseDuration))
    .addOption(noZoomOption())
    .addOption(zoomRateOption())
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover replay /var/log/nginx/access.log.1 --old http://old:80 --new http://new:8080 --range-probes 8\n' +
        "  cutover replay traffic.jsonl.gz --old http://old --new http://new --filter method=GET --filter status=2xx --out div.jsonl --rules rules.yaml\n" +
        '  cutover replay access.jsonl --old http://old --new http://new --payload sdk-tools,docs --out div.jsonl',
    )
    .action(async (files: string[], flags: ReplayFlags) => {
      process.exitCode = await runReplayCommand(files, flags)
    })
}

async function runReplayCommand(files: string[], f: ReplayFlags): Promise<number> {
  const payloads = new Set(f.payload)
  const filter: ReplayFilter = { ...parseFilters(f.filter), ...(payloads.size > 0 ? { payloads } : {}) }
  const rules = loadRules(f.rules)
  for (const file of files) {
    try {
      statSync(file)
    } catch {
      throw new Error(`${file}: no such file`)
    }
  }
  const clock = systemClock
  keepFreedHeap(gcHint())
  const old = new HttpBackend({ name: 'old', base: f.old, timeoutMs: f.timeout, clock })
  const nw = new HttpBackend({ name: 'new', base: f.new, timeoutMs: f.timeout, clock })
  const baseline = f.baseline ? new HttpBackend({ name: 'baseline', base: f.baseline, timeoutMs: f.timeout, clock }) : undefined
  const out = f.out ? new JsonlFile<Comparison>(f.out, { clock }) : undefined
  const ac = new AbortController()
  // Every line of the terminal goes through one printer, so that nothing lands on the progress line.
  const printer = new StatusPrinter({ out: process.stdout, err: process.stderr })
  const target = signalTarget(printer)
  let interrupted = false
  const offSignals = onShutdown({
    name: 'cutover replay',
    target,
    drain: () => {
      interrupted = true
      printer.log('cutover replay: stopping: letting the exchanges in flight finish (Ctrl-C again to quit now)')
      ac.abort()
    },
  })
  const offReopen = onReopen({ name: 'cutover replay', target, reopen: async () => (out ? (await out.reopen(), 1) : 0) })

  const lines = printer.tty ? await countLines(files) : undefined
  const started = clock.monotonic()
  const reader = readRecords(files, { format: f.format, maxLineBytes: f.maxLineBytes })
  const live = new ReplayStats()
  // Every comparison, clean ones too, so that a payload's row counts all its requests.
  const groups = new PayloadGroups()
  const progress = (final = false): string =>
    replayProgress({ stats: live, skipped: reader.summary.skipped, lines, limit: f.limit, elapsedMs: clock.monotonic() - started, final })
  // The progress line only on a terminal; otherwise a plain line every 10 s.
  const ticker = printer.tty
    ? setInterval(() => printer.status(progress()), 250)
    : setInterval(
        () =>
          printer.log(`cutover replay: ${live.compared} compared, ${live.divergent} divergent, ${plural(live.bad, 'bad line')}`),
        10_000,
      )
  ticker.unref()
  printer.status(progress())
  let stats: ReplayStats
  let ended = false
  try {
    stats = await runReplay(reader, {
      clock,
      old,
      new: nw,
      baseline,
      rules,
      etags: new EtagPairs(),
      zoom: zoomBudget(f, clock),
      concurrency: f.concurrency,
      rate: f.rate,
      speed: f.speed,
      probes: f.rangeProbes,
      filter,
      includeShadows: f.includeShadows === true,
      limit: f.limit,
      signal: ac.signal,
      stats: live,
      onComparison: c => {
        groups.add(c)
        if (out && (c.divergences.length > 0 || c.ignored.length > 0 || c.noise.length > 0)) out.write(c)
      },
      onBad: b => {
        // Bad lines are reported where they are found, never dropped silently.
        printer.log(`${b.file}:${b.line}: ${printable(b.reason)}`)
        // Redrawn at once with this line counted, rather than as it was until the next tick.
        printer.status(progress())
      },
    })
    ended = true
  } catch (err) {
    if (isCutoverError(err)) throw new Error(err.message)
    throw err
  } finally {
    clearInterval(ticker)
    // The last state stays on the screen, above the summary: full when the replay ran to its end.
    printer.status(progress(ended && !interrupted))
    printer.keep()
    await Promise.all([old.close(), nw.close(), baseline?.close(), out?.close()])
    offSignals()
    offReopen()
  }
  const secs = (clock.monotonic() - started) / 1000
  const byPayload = groups.table(DEFAULT_TOP)
  const kinds = Object.entries(stats.divergentByKind)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
    .map(([k, n]) => `${k} ${n}`)
  printer.print(
    `cutover replay: ${interrupted ? 'interrupted' : 'done'} in ${secs.toFixed(1)} s\n` +
      `  records ${stats.records}  bad lines ${stats.bad}  filtered ${stats.filtered}  sent ${stats.sent}  probes ${stats.probes}` +
      ` (verified ${stats.probesVerified}, unverified ${stats.probesUnverified})\n` +
      `  compared ${stats.compared}  divergent ${stats.divergent}  noise ${stats.noise}  bytes compared ${stats.bytesCompared}\n` +
      `  divergent comparisons by kind: ${kinds.length ? kinds.join(', ') : 'none'}\n` +
      (stats.shadows > 0
        ? `  shadow records skipped ${stats.shadows} (a mirror's copies of requests in the old server's log; --include-shadows replays them)\n`
        : '') +
      // Only a log that names payloads (serve --manifest's) has anything to group by.
      (byPayload.named > 0 ? `  by payload:\n${payloadLines(byPayload, { indent: '    ' }).join('\n')}\n` : ''),
  )
  for (const file of reader.summary.files) {
    // nginx's default combined format has no Range field: a 206 line then replays as a full GET,
    // which compares, but not the ranges the clients asked for.
    if (file.rangeless206 > 0) {
      printer.log(
        `cutover replay: warning: ${file.file}: ${file.rangeless206} ${file.rangeless206 === 1 ? 'line' : 'lines'} answered 206 but the log has no Range field; ` +
          'they were replayed as full GETs (log "$http_range" or "%{Range}i" as a last quoted field, see the README)\n',
      )
    }
  }
  if (stats.divergent > 0) return 1
  if (stats.compared < f.minCompared) {
    // A gate must not pass on nothing: no divergence among zero comparisons proves nothing.
    const why = stats.compared === 0 ? 'nothing was compared' : `only ${stats.compared} compared, fewer than --min-compared ${f.minCompared}`
    const detail =
      stats.compared === 0
        ? ` (${plural(stats.records, 'record')}, ${plural(stats.bad, 'bad line')}, ${stats.filtered} filtered, ${plural(stats.shadows, 'shadow record')})`
        : ''
    printer.log(`cutover replay: ${why}${detail}: exit 3`)
    return 3
  }
  return 0
}
