import { Command, Option } from 'commander'
import { pino } from 'pino'
import { AccessLog } from '../telemetry/access-log.js'
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_MAX_HEADER_BYTES, DownloadServer } from '../server/server.js'
import { DEFAULT_CACHE_BYTES, DEFAULT_SMALL_FILE_MAX, DirectoryResolver } from '../payload/directory-resolver.js'
import { ETAG_FORMATS, type EtagFormat } from '../payload/file-etag.js'
import { DEFAULT_SETTLE_MS, FileStore } from '../storage/file-store.js'
import { systemClock } from '../core/clock.js'
import { onReopen, onShutdown } from './on-shutdown.js'
import { gcHint } from './process-tuning.js'
import { plural } from '../report/plural.js'
import type { AddressInfo } from 'node:net'
import type { MetricsServer } from '../telemetry/metrics-server.js'
import { DEFAULT_PIECE_SIZE } from '../http/serve-content.js'
import { ContentTypeResolver, SNIFF } from '../http/content-type-resolver.js'
import { BufferBudget, DEFAULT_MAX_BUFFER_MEMORY } from '../http/buffer-budget.js'
import { hostPort } from '../core/listen.js'
import { loadMimeTable, parseBytes, parseDefaultType, parseDuration, parseListen } from './options.js'

interface ServeFlags {
  root: string
  listen: { host: string; port: number }
  metricsListen?: { host: string; port: number }
  accessLog?: string
  dotfiles: boolean
  grace: number
  idleTimeout: number
  pieceSize: number
  smallFileMax: number
  cacheBytes: number
  etag: EtagFormat
  settleTime: number
  mimeTypes?: string
  defaultType: string
  maxHeaderBytes: number
  headersTimeout: number
  maxBufferMemory: number
}

/** register adds `cutover serve` to the program. */
export function register(program: Command): void {
  program
    .command('serve')
    .summary('serve downloads with Go ServeContent semantics')
    .description(
      [
        "Serve the files under --root over HTTP/1.1 with the exact Range, If-Range, ETag and conditional semantics of Go's http.ServeContent (200/206/304/412/416, multipart/byteranges).",
        'ETag (--etag): cutover "<mtime µs hex>-<size hex>" (default), nginx "<mtime s hex>-<size hex>", apache "<size hex>-<mtime µs hex>" (weak within a second of the mtime, as Apache), or none. It changes when a file is written, resized or replaced by one with another mtime. Files up to --small-file-max are kept in memory and revalidated by a stat on every request.',
        'A file changed (ctime) less than --settle-time ago may be mid-write: it gets a weak ETag, its date never satisfies If-Range, and nothing of it is cached. Publish files by writing a temporary file and renaming it over the old one.',
        'Dotfiles are hidden (404), ".." is refused (400), symlinks leading out of the root are refused (404); directories redirect to their slash form and serve their index.html (403 without one; no listings).',
        "Content-Type as Go picks it: by extension (text/* with \"; charset=utf-8\"), else sniffed from the file's first 512 bytes (http.DetectContentType), once per cached file. --mime-types FILE replaces the table with an nginx or Apache mime.types file, used as is; --default-type sets what names it lacks get (\"sniff\", or a type such as application/octet-stream, nginx's default_type).",
        'SIGINT/SIGTERM: stop accepting, let downloads finish for --grace, then close; the access log is complete when the command exits. A second signal exits at once. SIGHUP/SIGUSR1: reopen the access log (after logrotate moved it). Access-log lines are on disk within 1 s of each response.',
      ].join('\n\n'),
    )
    .requiredOption('--root <dir>', 'directory to serve')
    .addOption(new Option('--listen <host:port>', 'address to listen on').default(parseListen('127.0.0.1:8080'), '127.0.0.1:8080').argParser(parseListen))
    .option('--metrics-listen <host:port>', 'serve Prometheus metrics at /metrics on this address (a listener of its own, never the public one)', parseListen)
    .option('--access-log <file>', 'append one JSONL record per request (the format `cutover replay` reads)')
    .option('--dotfiles', 'serve files and directories whose name starts with a dot', false)
    .addOption(new Option('--grace <duration>', 'how long downloads in flight may finish on shutdown').default(30_000, '30s').argParser(parseDuration))
    .addOption(new Option('--headers-timeout <duration>', 'a request head must arrive within this long (408 and close otherwise; 0: no limit)').default(DEFAULT_HEADERS_TIMEOUT_MS, '60s').argParser(parseDuration))
    .addOption(new Option('--idle-timeout <duration>', 'close a connection that accepts no bytes for this long (0: never)').default(120_000, '120s').argParser(parseDuration))
    .addOption(new Option('--piece-size <bytes>', 'read/write unit of streamed bodies').default(DEFAULT_PIECE_SIZE, '512k').argParser(parseBytes))
    .addOption(new Option('--small-file-max <bytes>', 'files up to this size are cached in memory').default(DEFAULT_SMALL_FILE_MAX, '1MiB').argParser(parseBytes))
    .addOption(new Option('--cache-bytes <bytes>', 'memory budget of the small-file cache').default(DEFAULT_CACHE_BYTES, '64MiB').argParser(parseBytes))
    .addOption(new Option('--etag <format>', 'ETag convention: the old server\'s keeps clients\' validators valid').choices(ETAG_FORMATS).default('cutover'))
    .addOption(new Option('--settle-time <duration>', 'a file changed less than this long ago is served with weak validators and not cached (0: trust at once)').default(DEFAULT_SETTLE_MS, '1s').argParser(parseDuration))
    .option('--mime-types <file>', 'extension table from an nginx or Apache mime.types file, used as is (default: built-in table, text/* with charset=utf-8)')
    .addOption(new Option('--default-type <type|sniff>', 'Content-Type of names the table lacks: "sniff" (as Go) or a media type').default(SNIFF).argParser(parseDefaultType))
    .addOption(
      new Option('--max-header-bytes <bytes>', 'largest request line + headers accepted (431 beyond); each connection may hold this much')
        .default(DEFAULT_MAX_HEADER_BYTES, '1MiB')
        .argParser(parseBytes),
    )
    .addOption(
      new Option('--max-buffer-memory <bytes>', 'read buffers of all downloads in flight; when spent, downloads wait their turn')
        .default(DEFAULT_MAX_BUFFER_MEMORY, '64MiB')
        .argParser(parseBytes),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover serve --root /srv/downloads --listen 0.0.0.0:8080\n' +
        '  cutover serve --root ./fixtures/blobs --listen 127.0.0.1:9000 --access-log /var/log/cutover/access.jsonl\n' +
        '  cutover serve --root /srv/downloads --etag nginx     # after a cut-over from nginx: resumes and caches keep working\n' +
        '  cutover serve --root /srv/downloads --metrics-listen 127.0.0.1:9100   # Prometheus scrapes http://127.0.0.1:9100/metrics\n' +
        '  cutover serve --root /srv/downloads --mime-types /etc/nginx/mime.types --default-type application/octet-stream   # as nginx types them',
    )
    .action(async (flags: ServeFlags) => runServe(flags))
}

async function runServe(f: ServeFlags): Promise<void> {
  const logger = pino({ name: 'cutover', base: undefined }, pino.destination({ dest: 2, sync: false }))
  const contentTypes = new ContentTypeResolver({
    table: f.mimeTypes === undefined ? undefined : loadMimeTable(f.mimeTypes),
    defaultType: f.defaultType,
  })
  let store: FileStore
  try {
    store = new FileStore({ root: f.root, dotfiles: f.dotfiles, settleMs: f.settleTime, clock: systemClock })
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message
    throw new Error(`--root ${f.root}: ${why}`)
  }
  if (f.maxBufferMemory < f.pieceSize) {
    throw new Error(`--max-buffer-memory ${f.maxBufferMemory} is smaller than one piece (--piece-size ${f.pieceSize})`)
  }
  const budget = new BufferBudget({ bytes: f.maxBufferMemory, pieceSize: f.pieceSize, gc: gcHint(), clock: systemClock })
  const accessLog = f.accessLog ? new AccessLog(f.accessLog, { clock: systemClock }) : undefined
  const resolver = new DirectoryResolver({
    store,
    smallFileMax: f.smallFileMax,
    cacheBytes: f.cacheBytes,
    etag: f.etag,
    contentTypes,
  })
  const server = new DownloadServer({
    resolver,
    clock: systemClock,
    logger,
    accessLog,
    pieceSize: f.pieceSize,
    budget,
    idleTimeoutMs: f.idleTimeout,
    maxHeaderBytes: f.maxHeaderBytes,
    headersTimeoutMs: f.headersTimeout,
  })
  const metrics = f.metricsListen ? await startMetrics(f.metricsListen, server, resolver) : undefined
  let addr
  try {
    addr = await server.listen(f.listen.port, f.listen.host)
  } catch (err) {
    await Promise.all([accessLog?.close(), metrics?.server.close()])
    throw new Error(`cannot listen on ${f.listen.host}:${f.listen.port}: ${(err as Error).message}`)
  }
  process.stdout.write(
    `cutover serve: listening on http://${hostPort(addr)} (root ${store.root}` +
      `${metrics ? `, metrics http://${hostPort(metrics.addr)}/metrics` : ''})\n`,
  )

  onReopen({ name: 'cutover serve', reopen: async () => (accessLog ? (await accessLog.reopen(), 1) : 0) })
  onShutdown({
    name: 'cutover serve',
    drain: signal => {
      // Close the listener first, so that once this line is printed no new connection gets in.
      const closing = server.close(f.grace)
      process.stdout.write(`cutover serve: ${signal}: draining ${plural(server.stats.active, 'response')}, up to ${f.grace} ms\n`)
      void closing.then(async ({ forced }) => {
        await Promise.all([accessLog?.close(), metrics?.server.close()])
        process.stdout.write(
          `cutover serve: stopped${forced ? ' (grace period over, connections closed)' : ''}; ` +
            `${plural(server.stats.requests, 'request')}, ${plural(server.stats.bytes, 'body byte')}, ${server.stats.aborted} aborted\n`,
        )
        logger.flush()
        process.exitCode = 0
      })
    },
  })
}

/**
 * startMetrics serves the server's Prometheus metrics on a listener of its own. prom-client is
 * loaded only here, so a server without metrics does not carry it.
 */
async function startMetrics(
  at: { host: string; port: number },
  server: DownloadServer,
  resolver: DirectoryResolver,
): Promise<{ server: MetricsServer; addr: AddressInfo }> {
  const [{ Registry, collectDefaultMetrics }, { Metrics }, { MetricsServer }, { serveMetrics }] = await Promise.all([
    import('prom-client'),
    import('../telemetry/metrics.js'),
    import('../telemetry/metrics-server.js'),
    import('../server/serve-metrics.js'),
  ])
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  serveMetrics(new Metrics(registry), server, resolver.stats)
  const metricsServer = new MetricsServer(registry)
  try {
    return { server: metricsServer, addr: await metricsServer.listen(at.port, at.host) }
  } catch (err) {
    throw new Error(`--metrics-listen: cannot listen on ${at.host}:${at.port}: ${(err as Error).message}`)
  }
}
