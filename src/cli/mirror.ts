import type { AddressInfo } from 'node:net'
import { topNotCompared } from '../audit/audit-stats.js'
import { Command, InvalidArgumentError, Option } from 'commander'
import { pino } from 'pino'
import { onReopen, onShutdown, signalTarget } from './on-shutdown.js'
import { StatusPrinter } from '../report/status-printer.js'
import { logLines } from '../report/log-line.js'
import { plural } from '../report/plural.js'
import { printable } from '../report/shell-quote.js'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { AccessLog } from '../telemetry/access-log.js'
import { JsonlFile } from '../telemetry/jsonl-file.js'
import type { Comparison, DivergenceKind } from '../audit/divergence.js'
import { HttpBackend } from '../audit/http-backend.js'
import { MetricsServer } from '../telemetry/metrics-server.js'
import { DEFAULT_SHADOW_CONCURRENCY, DEFAULT_SHADOW_RATE, DEFAULT_SHED_KEEP, DEFAULT_TEE_BUDGET, Mirror, SHADOWABLE_METHODS, type MirrorStats } from '../audit/mirror.js'
import { DEFAULT_TEE_BYTES } from '../audit/body-tee.js'
import { TaskQueue } from '../audit/task-queue.js'
import { hostPort } from '../core/listen.js'
import { pointsAtSelf } from './points-at-self.js'
import { parseBytes, parseCount, parseDuration, parseFraction, parseListen, parseUrl, noZoomOption, zoomBudget, zoomRateOption } from './options.js'
import { loadRules } from './load-rules.js'
import { systemClock } from '../core/clock.js'
import { tuneForReceiving } from './process-tuning.js'

interface MirrorFlags {
  listen: { host: string; port: number }
  old: string
  new: string
  primary: 'old' | 'new'
  sample: number
  baseline?: string
  out?: string
  capture?: string
  rules?: string
  metricsListen?: { host: string; port: number }
  shadowMethods: string[]
  shadowConcurrency: number
  shadowQueue: number
  maxLag: number
  shadowRate: number | false
  maxBuffered: number
  shedAbove: number
  statusInterval?: number
  hostHeader: 'keep' | 'rewrite'
  timeout: number
  shedKeep: number
  zoom: boolean
  zoomRate: number
  grace: number
  thread: boolean
}

const parseMethods = (s: string): string[] => {
  const methods = s
    .split(',')
    .map(m => m.trim().toUpperCase())
    .filter(Boolean)
  if (methods.length === 0 || methods.some(m => !/^[A-Z]+$/.test(m))) {
    throw new InvalidArgumentError(`expected a list of methods like GET,HEAD, got "${s}"`)
  }
  const refused = methods.filter(m => !SHADOWABLE_METHODS.has(m))
  if (refused.length > 0) {
    throw new InvalidArgumentError(
      `cannot shadow ${refused.join(',')}: shadow requests are sent without the client's body; only ${[...SHADOWABLE_METHODS].join(',')} can be shadowed`,
    )
  }
  return methods
}

/** register adds `cutover mirror` to the program. */
export function register(program: Command): void {
  program
    .command('mirror')
    .summary('audit mode: answer from one server, shadow to the other, compare byte for byte')
    .description(
      [
        'A proxy for the migration. Every client is answered by the primary server (--primary: old during the audit, new after the cut-over), untouched: status, headers, body, trailers. Sampled GET and HEAD requests are also sent to the other server in the background and the two answers are compared: status, headers (hop-by-hop and Date ignored, --rules for the rest) and bodies byte for byte, ranges and multipart parts included. The old server is always the control and the new one the candidate.',
        'Clients never wait for the shadow: shadow requests run with bounded concurrency and a bounded queue, and overflow is dropped and counted; while the mirror\'s event loop is saturated (--shed-above), new shadows are taken for --shed-keep of the requests and the rest shed (dropped, counted), and comparisons in progress beyond that share of the clients in flight are given up, newest first (abandoned, counted as shed). Every request ends compared, abandoned, dropped or skipped (not sampled, or a method not shadowed).',
        '--out gets one JSON line per comparison that has at least one divergence, ignored difference or noise entry; clean comparisons are only counted. With --baseline (a second old instance), divergences that old-vs-baseline also shows are recorded as noise, apart.',
        'A status line shows the counts (rewritten in place on a terminal, every 10 s otherwise). SIGINT/SIGTERM: stop accepting, let responses and comparisons finish for --grace, print a summary and exit 0 (divergences are data, not failures). A second signal exits at once. --out and --capture lines are on disk within 1 s, and complete when the command exits; SIGHUP/SIGUSR1 reopen them (after logrotate moved them).',
      ].join('\n\n'),
    )
    .requiredOption('--listen <host:port>', 'address clients connect to', parseListen)
    .requiredOption('--old <url>', 'the old server (control)', parseUrl)
    .requiredOption('--new <url>', 'the new server (candidate)', parseUrl)
    .addOption(
      new Option('--primary <server>', 'which server answers clients').choices(['old', 'new']).default('old'),
    )
    .addOption(
      new Option('--sample <fraction>', 'fraction of requests shadowed, 0..1')
        .default(1)
        .argParser(parseFraction),
    )
    .option(
      '--baseline <url>',
      'a second old server: divergences old-vs-baseline also shows are noise',
      parseUrl,
    )
    .option(
      '--out <file>',
      'append one JSON line per comparison with a divergence, ignored difference or noise',
    )
    .option(
      '--capture <file>',
      'append one JSONL access record per request (the format `cutover replay` reads)',
    )
    .option('--rules <file>', 'comparison rules, YAML or JSON (ignoreHeaders, dateTolerance, etag, ...)')
    .option(
      '--metrics-listen <host:port>',
      'serve Prometheus metrics at /metrics, and /healthz and /readyz (503 once a drain starts), on this address',
      parseListen,
    )
    .addOption(
      new Option('--shadow-methods <list>', 'methods that are shadowed')
        .default(['GET', 'HEAD'], 'GET,HEAD')
        .argParser(parseMethods),
    )
    .addOption(
      new Option('--shadow-concurrency <n>', 'shadow exchanges running at once')
        .default(DEFAULT_SHADOW_CONCURRENCY)
        .argParser(parseCount(1)),
    )
    .addOption(
      new Option('--shadow-queue <n>', 'shadow exchanges waiting; beyond, they are dropped')
        .default(256)
        .argParser(parseCount(0)),
    )
    .addOption(
      new Option('--max-lag <bytes>', 'how far one comparison may fall behind its client before it is abandoned')
        .default(DEFAULT_TEE_BYTES, '8MiB')
        .argParser(parseBytes),
    )
    .addOption(
      new Option('--max-buffered <bytes>', "primary body bytes held for all comparisons together; past it, they are abandoned")
        .default(DEFAULT_TEE_BUDGET, '32MiB')
        .argParser(parseBytes),
    )
    .addOption(
      new Option('--shadow-rate <bytes>', 'past its first 4 MiB, each shadow body is read no faster than this a second')
        .default(DEFAULT_SHADOW_RATE, '16MiB')
        .argParser(parseBytes),
    )
    .addOption(new Option('--no-shadow-rate', "read each shadow body as fast as the primary's client reads its body"))
    .addOption(
      new Option(
        '--shed-above <fraction>',
        'while the event loop is busier than this (0..1; on average, or for a whole second with shadows queued), shed shadow work, keeping --shed-keep of it (1: never)',
      )
        .default(0.9)
        .argParser(parseFraction),
    )
    .addOption(
      new Option('--shed-keep <fraction>', 'while shedding, the share of requests still compared, and of client responses in flight with a comparison in progress (0..1)')
        .default(DEFAULT_SHED_KEEP)
        .argParser(parseFraction),
    )
    .addOption(
      new Option(
        '--host-header <mode>',
        "Host sent upstream: rewrite (the server's host:port) or keep (the client's)",
      )
        .choices(['keep', 'rewrite'])
        .default('rewrite'),
    )
    .addOption(
      new Option('--timeout <duration>', 'a shadow with no status after this long is a timeout divergence')
        .default(30_000, '30s')
        .argParser(parseDuration),
    )
    .addOption(noZoomOption())
    .addOption(zoomRateOption())
    .addOption(
      new Option(
        '--status-interval <duration>',
        'how often the status line is written to stderr (default: 250ms on a terminal, where it is redrawn in place; 10s otherwise)',
      ).argParser(parseDuration),
    )
    .addOption(
      new Option(
        '--thread',
        'compare in a thread of its own (a second core): the other server is read, and both bodies compared, there, and the clients keep this thread; more memory (see the README)',
      ).default(false),
    )
    .addOption(
      new Option('--grace <duration>', 'how long responses and comparisons in flight may finish on shutdown')
        .default(30_000, '30s')
        .argParser(parseDuration),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover mirror --listen 0.0.0.0:8080 --old http://10.0.0.1 --new http://10.0.0.2 --out divergences.jsonl\n' +
        '  cutover mirror --listen :8080 --old http://old:80 --new http://new:8080 --primary new --sample 0.1 \\\n' +
        '      --baseline http://old2:80 --rules rules.yaml --metrics-listen 127.0.0.1:9090',
    )
    .action(async (flags: MirrorFlags) => runMirror(flags))
}



/** statusLine is the one-line view of the counters. */
export function statusLine(s: MirrorStats): string {
  const kinds = Object.entries(s.divergentByKind)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
  return (
    `requests ${s.requests}  compared ${s.compared}  divergent ${s.divergent}${kinds.length ? ` (${kinds.join(', ')})` : ''}` +
    `  noise ${s.noise}  dropped ${s.dropped}  abandoned ${s.abandoned}${s.shed > 0 ? `  shed ${s.shed}` : ''}`
  )
}

async function runMirror(f: MirrorFlags): Promise<void> {
  tuneForReceiving()
  const rules = loadRules(f.rules)
  // Every line of the terminal goes through one printer, so that nothing lands on the status line.
  const printer = new StatusPrinter({ out: process.stdout, err: process.stderr })
  // On a terminal the log is one readable line per event, printed around the status line; what
  // reads stderr otherwise (a journal, a collector) gets pino's JSON lines, written asynchronously.
  const logger = pino(
    { name: 'cutover', base: undefined },
    printer.tty ? logLines(line => printer.log(line), 'cutover mirror') : pino.destination({ dest: 2, sync: false }),
  )
  const backend = (name: string, base: string): HttpBackend =>
    new HttpBackend({ name, base, timeoutMs: f.timeout, hostHeader: f.hostHeader, clock: systemClock })
  const old = backend('old', f.old)
  const neu = backend('new', f.new)
  const baseline = f.baseline ? backend('baseline', f.baseline) : undefined
  const out = f.out ? new JsonlFile<Comparison>(f.out, { clock: systemClock }) : undefined
  const capture = f.capture ? new AccessLog(f.capture, { clock: systemClock }) : undefined
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const mirror = new Mirror({
    clock: systemClock,
    primary: f.primary,
    old,
    new: neu,
    ...(baseline ? { baseline } : {}),
    sample: f.sample,
    shadowMethods: f.shadowMethods,
    rules,
    queue: new TaskQueue({ concurrency: f.shadowConcurrency, maxQueued: f.shadowQueue }),
    teeBytes: f.maxLag,
    shadowRate: f.shadowRate === false ? undefined : f.shadowRate,
    teeBudgetBytes: f.maxBuffered,
    shedAbove: f.shedAbove,
    shedKeep: f.shedKeep,
    zoom: zoomBudget(f, systemClock),
    onComparison: c => {
      if (c.divergences.length > 0 || c.ignored.length > 0 || c.noise.length > 0) out?.write(c)
    },
    ...(capture ? { capture } : {}),
    registry,
    logger,
    hostHeader: f.hostHeader,
    thread: f.thread,
  })
  // Readiness (/readyz) turns false when a drain starts, before the grace period ends.
  let draining = false
  const metricsServer = f.metricsListen ? new MetricsServer(registry, { ready: () => !draining }) : undefined
  const release = async (): Promise<void> => {
    await Promise.all([
      old.close(),
      neu.close(),
      baseline?.close(),
      out?.close(),
      capture?.close(),
      metricsServer?.close(),
    ])
  }

  let addr: AddressInfo
  let metricsAddr: AddressInfo | undefined
  try {
    addr = await mirror.listen(f.listen.port, f.listen.host)
  } catch (err) {
    await release()
    throw new Error(`cannot listen on ${f.listen.host}:${f.listen.port}: ${(err as Error).message}`)
  }
  if (metricsServer && f.metricsListen) {
    try {
      metricsAddr = await metricsServer.listen(f.metricsListen.port, f.metricsListen.host)
    } catch (err) {
      await mirror.close(0)
      await release()
      throw new Error(
        `--metrics-listen: cannot listen on ${f.metricsListen.host}:${f.metricsListen.port}: ${(err as Error).message}`,
      )
    }
  }
  // A backend that is this mirror would send every request round until it fails: refuse it here.
  const self = (
    [
      ['--old', f.old],
      ['--new', f.new],
      ['--baseline', f.baseline],
    ] as const
  ).find(([, url]) => url !== undefined && pointsAtSelf(addr, url))
  if (self) {
    await mirror.close(0)
    await release()
    throw new Error(`${self[0]} ${self[1]} is this mirror's own address (listening on ${hostPort(addr)}): every request would come back to it`)
  }
  const [primary, shadow] = f.primary === 'old' ? [old, neu] : [neu, old]
  printer.print(
    `cutover mirror: listening on http://${hostPort(addr)} (primary ${primary.name} ${primary.base}, shadow ${shadow.name} ${shadow.base}` +
      `${baseline ? `, baseline ${baseline.base}` : ''}${metricsAddr ? `, metrics http://${hostPort(metricsAddr)}/metrics` : ''})`,
  )

  // The live status goes to stderr so that stdout keeps only the start line and the summary: drawn
  // in place on a terminal, a plain line every 10 s otherwise. It goes on while the mirror drains.
  const ticker = setInterval(
    () => (printer.tty ? printer.status(statusLine(mirror.stats)) : printer.log(`cutover mirror: ${statusLine(mirror.stats)}`)),
    f.statusInterval ?? (printer.tty ? 250 : 10_000),
  )
  ticker.unref()

  const target = signalTarget(printer)
  onReopen({
    name: 'cutover mirror',
    target,
    reopen: async () => {
      const files = [out, capture].filter(x => x !== undefined)
      await Promise.all(files.map(x => x.reopen()))
      return files.length
    },
  })
  onShutdown({
    name: 'cutover mirror',
    target,
    drain: signal => {
      draining = true
      const closing = mirror.close(f.grace)
      printer.print(
        `cutover mirror: ${signal}: draining, up to ${f.grace} ms (${plural(mirror.stats.pending, 'comparison')} pending)`,
      )
      void closing.then(async ({ forced }) => {
        clearInterval(ticker)
        await release()
        // The status line is erased first: the summary comes below the drain message, never over it.
        printer.clear()
        printer.print(summary(mirror.stats, forced))
        logger.flush()
        process.exitCode = 0
      })
    },
  })
}

/** summary is what `mirror` prints when it stops. */
function summary(s: MirrorStats, forced: boolean): string {
  const top = (Object.entries(s.divergentByKind) as Array<[DivergenceKind, number]>)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
  const reasons = Object.entries(s.notComparedByReason)
    .sort(([, a], [, b]) => b - a)
    .map(([r, n]) => `${r} ${n}`)
  const paths = topNotCompared(s, 10)
  const w = Math.max(0, ...paths.map(p => String(p.count).length))
  return (
    `cutover mirror: stopped${forced ? ' (grace period over: the rest was cut and counted abandoned)' : ''}\n` +
    `  requests ${s.requests}  compared ${s.compared}  divergent ${s.divergent}  noise ${s.noise}` +
    `  dropped ${s.dropped}  abandoned ${s.abandoned}  skipped ${s.skipped}\n` +
    `  shed ${s.shed} (dropped or abandoned: the mirror was saturated)  shadow errors ${s.shadowErrors}  proxy errors ${s.proxyErrors}\n` +
    `  divergent comparisons by kind: ${top.length ? top.map(([k, n]) => `${k} ${n}`).join(', ') : 'none'}\n` +
    (s.notCompared > 0
      ? `  not compared: ${plural(s.notCompared, 'request')} (${reasons.join(', ')}); most often:\n` +
        paths.map(p => `    ${String(p.count).padStart(w)}  ${printable(p.path)}  ${p.reason}\n`).join('') +
        '    (--out has a line for every one)\n'
      : '')
  )
}
