import { Command, Option } from 'commander'
import { pino, type Logger } from 'pino'
import { fileURLToPath } from 'node:url'
import type { CompiledManifest } from '../manifest/compile-manifest.js'
import { readManifestOffThread } from '../manifest/read-manifest-off-thread.js'
import { ManifestResolver } from '../payload/manifest-resolver.js'
import type { ManifestAccessPolicy } from '../payload/access-policy.js'
import { accessPolicy, addPolicyOptions, type PolicyFlags } from './policy-options.js'
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
import { totalmem } from 'node:os'
import type { MetricsServer } from '../telemetry/metrics-server.js'
import { DEFAULT_PIECE_SIZE } from '../http/serve-content.js'
import { ContentTypeResolver, SNIFF } from '../http/content-type-resolver.js'
import { BufferBudget, DEFAULT_MAX_BUFFER_MEMORY } from '../http/buffer-budget.js'
import { hostPort } from '../core/listen.js'
import { formatBytes, loadMimeTable, parseBytes, parseCount, parseDefaultType, parseDuration, parseListen } from './options.js'
import { parseStoreUrl, type StoreSpec } from './store-url.js'
import { pointsAtSelf } from './points-at-self.js'
import type { RemoteStores } from './serve-stores.js'
import { DEFAULT_S3_REGION, DEFAULT_TIMEOUT_MS } from '../storage/remote-store.js'
import { DEFAULT_RETRIES } from '../storage/retry.js'
import { DEFAULT_STAT_TTL_MS } from '../storage/stat-cache.js'
import { DEFAULT_CHUNK_SIZE } from '../cache/chunk-cache.js'
import { ChunkMemory } from '../cache/chunk-memory.js'

interface ServeFlags extends PolicyFlags {
  root?: string
  manifest?: string
  store?: string
  fallbackStore: string[]
  s3Endpoint?: string
  s3Region: string
  s3PathStyle: boolean
  storeTimeout: number
  storeRetries: number
  statTtl: number
  chunkSize: number
  prefetch: number
  cacheSize: number
  cachePrealloc: boolean
  listen: { host: string; port: number }
  metricsListen?: { host: string; port: number }
  accessLog?: string
  dotfiles: boolean
  grace: number
  idleTimeout: number
  pieceSize: number
  smallFileMax: number
  cacheBytes?: number
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
  const serve = program.command('serve')
  addPolicyOptions(serve)
  serve
    .summary('serve downloads with Go ServeContent semantics')
    .description(
      [
        "Serve the files under --root over HTTP/1.1 with the exact Range, If-Range, ETag and conditional semantics of Go's http.ServeContent (200/206/304/412/416, multipart/byteranges).",
        'ETag (--etag): cutover "<mtime µs hex>-<size hex>" (default), nginx "<mtime s hex>-<size hex>", apache "<size hex>-<mtime µs hex>" (weak within a second of the mtime, as Apache), or none. It changes when a file is written, resized or replaced by one with another mtime. Files up to --small-file-max are kept in memory and revalidated by a stat on every request.',
        'A file changed (ctime) less than --settle-time ago may be mid-write: it gets a weak ETag, its date never satisfies If-Range, and nothing of it is cached. Publish files by writing a temporary file and renaming it over the old one.',
        'Dotfiles are hidden (404), ".." is refused (400), symlinks leading out of the root are refused (404); directories redirect to their slash form and serve their index.html (403 without one; no listings).',
        "Content-Type as Go picks it: by extension (text/* with \"; charset=utf-8\"), else sniffed from the file's first 512 bytes (http.DetectContentType), once per cached file. --mime-types FILE replaces the table with an nginx or Apache mime.types file, used as is; --default-type sets what names it lacks get (\"sniff\", or a type such as application/octet-stream, nginx's default_type).",
        'Manifest mode (--manifest FILE --store URL, instead of --root): the payloads, paths, reveal and expiry times, access rules, headers and caching of a manifest (see `cutover manifest`), their bytes read from the blobs of a store: file:///DIR, s3://BUCKET/PREFIX (--s3-endpoint, --s3-region, --s3-path-style; credentials from the standard AWS chain) or http(s)://ORIGIN/PREFIX, and --fallback-store URL (repeatable) read in order when the ones before fail. An invalid manifest stops serve from starting (every problem listed, exit 2). SIGHUP reloads it: a valid new manifest serves every new request, downloads in flight finish with what they had; an invalid one is logged and the old one keeps serving. Access rules are decided with --trusted-proxies, --geoip, --country-header, --identity-header, --user-type-header and --signing-keys (a rule that needs one of them refuses every request without it); SIGHUP reloads the keys and the country database with the manifest. --etag is directory mode\'s: manifest mode derives its ETags from the blobs\' versions. Both modes keep contents up to --small-file-max (all parts of a payload together) in memory within --cache-size, revalidated by a stat of each blob on every request; larger ones keep only their validators and type, and are read from the store per request.',
        'Remote stores (anything but one file:// store): a stat is trusted for --stat-ttl (how soon a replaced blob is served); blobs are read in --chunk-size chunks through a chunk cache shared by all downloads (one store read per chunk however many downloads want it; --prefetch chunks ahead of a sequential download), all of --cache-size but 1/64; small contents are answered from their cached chunks. Each store request has --store-timeout and --store-retries. A store failure before the response header is a 502 (504 for a timeout); after it the connection is cut, never completed with other bytes.',
        `Memory: --cache-size (default ${formatBytes(DEFAULT_CACHE_SIZE)}) + --max-buffer-memory (default ${formatBytes(DEFAULT_MAX_BUFFER_MEMORY)}) = ${formatBytes(DEFAULT_CACHE_SIZE + DEFAULT_MAX_BUFFER_MEMORY)} by default, on top of the process itself (peak RSS in the benchmark, caches included: 110-160 MB in directory mode, 220-235 MB with a 10,000-payload manifest). --cache-size is one budget: with a directory (--root, or one file:// store) it holds small files whole; with a remote store it is one LRU of chunks (main and hot caches, small contents included: their bytes are held once) less 1/64 for the validators and types of contents.`,
        'SIGINT/SIGTERM: stop accepting, let downloads finish for --grace, then close; the access log is complete when the command exits. A second signal exits at once. SIGHUP/SIGUSR1: reopen the access log (after logrotate moved it). Access-log lines are on disk within 1 s of each response.',
      ].join('\n\n'),
    )
    .option('--root <dir>', 'directory to serve (directory mode)')
    .option('--manifest <file>', 'serve the payloads of this manifest (manifest mode; needs --store)')
    .option('--store <url>', 'where the manifest\'s blob keys point: file:///DIR, s3://BUCKET/PREFIX or http(s)://ORIGIN/PREFIX')
    .addOption(
      new Option('--fallback-store <url>', 'a store read when the ones before it fail (repeatable, in order; same URL kinds as --store)')
        .default([] as string[], 'none')
        .argParser((v: string, prev: string[]) => [...prev, v]),
    )
    .option('--s3-endpoint <url>', 'endpoint of an S3-compatible service (MinIO, Ceph, ...); if unset, AWS for --s3-region')
    .addOption(new Option('--s3-region <region>', 'region S3 requests are signed for').default(DEFAULT_S3_REGION))
    .option('--s3-path-style', 'address buckets as ENDPOINT/BUCKET (most S3-compatible services), not BUCKET.ENDPOINT', false)
    .addOption(new Option('--store-timeout <duration>', 'one request to a remote store, from sending to its last byte').default(DEFAULT_TIMEOUT_MS, '30s').argParser(parseDuration))
    .addOption(new Option('--store-retries <n>', 'retries of a remote store request after a 5xx, reset or timeout (with jittered backoff)').default(DEFAULT_RETRIES).argParser(parseCount(0)))
    .addOption(new Option('--stat-ttl <duration>', 'how long a remote blob\'s stat is trusted: how soon a replaced blob is served').default(DEFAULT_STAT_TTL_MS, '1s').argParser(parseDuration))
    .addOption(new Option('--chunk-size <bytes>', 'unit in which remote blobs are read and cached').default(DEFAULT_CHUNK_SIZE, '2MiB').argParser(parseBytes))
    .addOption(new Option('--prefetch <chunks>', 'chunks a sequential download of a remote blob loads ahead').default(DEFAULT_PREFETCH_CHUNKS).argParser(parseCount(0)))
    .addOption(new Option('--listen <host:port>', 'address to listen on').default(parseListen('127.0.0.1:8080'), '127.0.0.1:8080').argParser(parseListen))
    .option('--metrics-listen <host:port>', 'serve Prometheus metrics at /metrics, and /healthz and /readyz (503 once a drain starts), on this address (a listener of its own, never the public one)', parseListen)
    .option('--access-log <file>', 'append one JSONL record per request (the format `cutover replay` reads)')
    .option('--dotfiles', 'serve files and directories whose name starts with a dot', false)
    .addOption(new Option('--grace <duration>', 'how long downloads in flight may finish on shutdown').default(30_000, '30s').argParser(parseDuration))
    .addOption(new Option('--headers-timeout <duration>', 'a request head must arrive within this long (408 and close otherwise; 0: no limit)').default(DEFAULT_HEADERS_TIMEOUT_MS, '60s').argParser(parseDuration))
    .addOption(new Option('--idle-timeout <duration>', 'close a connection that accepts no bytes for this long (0: never)').default(120_000, '120s').argParser(parseDuration))
    .addOption(new Option('--piece-size <bytes>', 'read/write unit of streamed bodies').default(DEFAULT_PIECE_SIZE, '512k').argParser(parseBytes))
    .addOption(new Option('--small-file-max <bytes>', 'files (payloads) up to this size are cached in memory whole').default(DEFAULT_SMALL_FILE_MAX, '1MiB').argParser(parseBytes))
    .addOption(
      new Option('--cache-size <bytes>', 'memory budget of the caches: small files; with a remote store, one LRU of its chunks, small contents included (1/64 for validators)')
        .default(DEFAULT_CACHE_SIZE, '256MiB')
        .argParser(parseBytes),
    )
    .addOption(new Option('--cache-bytes <bytes>', 'the former name of --cache-size').argParser(parseBytes).hideHelp())
    .option('--cache-prealloc', "with a remote store, bring the chunk cache's whole budget into memory at start-up (RSS at --cache-size from the start), so that no download pays the page faults of memory the process has not used yet", false)
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
        '  cutover serve --root /srv/downloads --mime-types /etc/nginx/mime.types --default-type application/octet-stream   # as nginx types them\n' +
        '  cutover serve --manifest /etc/cutover/payloads.yaml --store file:///srv/blobs   # kill -HUP reloads the manifest',
    )
    .action(async (flags: ServeFlags, cmd: Command) => runServe(flags, cmd))
}

/**
 * DEFAULT_CACHE_SIZE is the memory budget of serve's caches (--cache-size): 256 MiB. It is a
 * ceiling, not an allocation: the caches grow to it only with the contents asked for.
 */
export const DEFAULT_CACHE_SIZE = 256 * 1024 * 1024

/**
 * metadataBytes is the part of --cache-size that the manifest resolver keeps for the validators and
 * types of contents when a remote store's chunk cache holds their bytes: 1/64 (4 MiB of 256 MiB,
 * about 16,000 contents at some 256 bytes each).
 */
export function metadataBytes(cacheSize: number): number {
  return Math.max(1, Math.floor(cacheSize / 64))
}

/**
 * DEFAULT_PREFETCH_CHUNKS is how many chunks a sequential download of a remote blob loads ahead:
 * 4 (8 MiB in 2 MiB chunks). With a store answering a chunk in 20 ms, about that many chunks must
 * be in flight for a download to stream faster than one chunk per latency.
 */
export const DEFAULT_PREFETCH_CHUNKS = 4

/** ServeMode is what serve answers from: a directory, or a manifest and its stores in order. */
type ServeMode = { kind: 'root'; root: string } | { kind: 'manifest'; manifest: string; stores: StoreSpec[] }

/** storeAddresses are the URLs serve sends store requests to, each with the flag that gave it. */
function storeAddresses(mode: ServeMode, f: ServeFlags): Array<readonly [string, string]> {
  if (mode.kind !== 'manifest') return []
  return mode.stores.flatMap((s, i): Array<readonly [string, string]> => {
    if (s.kind === 'http') return [[i === 0 ? '--store' : '--fallback-store', s.url]]
    if (s.kind === 's3' && f.s3Endpoint !== undefined) return [['--s3-endpoint', f.s3Endpoint]]
    return []
  })
}

/** serveMode checks the mode flags: exactly one of --root and --manifest, the store flags with --manifest only. */
function serveMode(f: ServeFlags, cmd: Command): ServeMode {
  if (f.root !== undefined && f.manifest !== undefined) cmd.error('error: --root and --manifest exclude each other: serve a directory or a manifest')
  if (f.manifest !== undefined) {
    if (f.store === undefined) cmd.error('error: --manifest needs --store (where its blob keys point: file:///DIR, s3://BUCKET/PREFIX or http(s)://ORIGIN/PREFIX)')
    const stores: StoreSpec[] = []
    for (const [flag, url] of [['--store', f.store] as const, ...f.fallbackStore.map(u => ['--fallback-store', u] as const)]) {
      const r = parseStoreUrl(url, flag)
      if (!r.ok) cmd.error(`error: ${r.error}`)
      stores.push(r.spec)
    }
    return { kind: 'manifest', manifest: f.manifest, stores }
  }
  if (f.store !== undefined) cmd.error('error: --store is for --manifest; directory mode serves --root')
  if (f.fallbackStore.length > 0) cmd.error('error: --fallback-store is for --manifest')
  if (f.root === undefined) cmd.error("error: required option '--root <dir>' or '--manifest <file>' not specified")
  return { kind: 'root', root: f.root }
}

async function runServe(f: ServeFlags, cmd: Command): Promise<void> {
  const mode = serveMode(f, cmd)
  let compiled: CompiledManifest | undefined
  if (mode.kind === 'manifest') {
    // Checked before anything starts: a server must never come up on a manifest that half loads.
    // Parsed in a worker as reloads are: the parser's garbage (hundreds of MB for a large manifest)
    // then never enters the server's heap, which would keep the memory and scan it in every GC.
    const r = await readManifestOffThread(mode.manifest)
    if (!r.ok) {
      for (const line of r.lines) process.stderr.write(`${line}\n`)
      process.stderr.write(`${mode.manifest}: ${plural(r.lines.length, 'problem')}; the manifest was not loaded\n`)
      process.exitCode = 2
      return
    }
    compiled = r.compiled
  }
  // Read before anything is opened: a bad key file or database stops serve with the flag named.
  const policy = compiled === undefined ? undefined : await accessPolicy(f)
  const logger = pino({ name: 'cutover', base: undefined }, pino.destination({ dest: 2, sync: false }))
  const contentTypes = new ContentTypeResolver({
    table: f.mimeTypes === undefined ? undefined : loadMimeTable(f.mimeTypes),
    defaultType: f.defaultType,
  })
  const cacheSize = f.cacheBytes ?? f.cacheSize
  // One local directory is read straight from its files (shared descriptors, a stat per request),
  // its small contents kept by the resolver within the whole budget. Anything else is read through
  // the stat cache and the chunk cache, which then holds every byte kept, small contents included
  // (one LRU, one copy): the resolver keeps only validators and types, within 1/64 of the budget.
  const fileRoot = mode.kind === 'root' ? mode.root : mode.stores.length === 1 && mode.stores[0]!.kind === 'file' ? mode.stores[0]!.root : undefined
  let store: FileStore | undefined
  let remote: RemoteStores | undefined
  const smallCacheBytes = fileRoot !== undefined ? cacheSize : metadataBytes(cacheSize)
  const chunkBytes = cacheSize - smallCacheBytes
  let memory: ChunkMemory | undefined
  let memoryMs = 0
  if (f.cachePrealloc) {
    if (fileRoot !== undefined) throw new Error('--cache-prealloc is for a remote store (the chunk cache); with a directory, small files are cached whole as they are read')
    // Before the stores, which fill the chunks from it. performance.now, not the clock: a duration
    // for the start line, not a time any behaviour depends on.
    const chunks = Math.floor(chunkBytes / f.chunkSize)
    // Touching more than the machine has would not fail cleanly: it would swap, or be killed.
    if (chunks * f.chunkSize > totalmem()) {
      throw new Error(`--cache-prealloc: the chunk cache (${formatBytes(chunks * f.chunkSize)} of --cache-size) is more than this machine's memory (${formatBytes(totalmem())})`)
    }
    const t0 = performance.now()
    try {
      memory = await ChunkMemory.prepare({ chunkSize: f.chunkSize, chunks })
    } catch (err) {
      throw new Error(`--cache-prealloc: ${formatBytes(chunks * f.chunkSize)} could not be brought into memory (${(err as Error).message})`)
    }
    memoryMs = Math.round(performance.now() - t0)
  }
  try {
    if (fileRoot !== undefined) store = new FileStore({ root: fileRoot, dotfiles: f.dotfiles, settleMs: f.settleTime, clock: systemClock })
    else if (mode.kind === 'manifest') {
      // Loaded only for remote stores: the AWS SDK alone takes 1.4-2.3 s to import on a busy 2-core machine.
      const { remoteStores } = await import('./serve-stores.js')
      remote = await remoteStores(mode.stores, f, chunkBytes, systemClock, memory?.allocate)
    }
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message
    throw new Error(`${mode.kind === 'root' ? `--root ${mode.root}` : `--store ${f.store}`}: ${why}`)
  }
  if (f.maxBufferMemory < f.pieceSize) {
    throw new Error(`--max-buffer-memory ${f.maxBufferMemory} is smaller than one piece (--piece-size ${f.pieceSize})`)
  }
  const budget = new BufferBudget({ bytes: f.maxBufferMemory, pieceSize: f.pieceSize, gc: gcHint(), clock: systemClock })
  const accessLog = f.accessLog ? new AccessLog(f.accessLog, { clock: systemClock }) : undefined
  const resolver =
    compiled === undefined
      ? new DirectoryResolver({
          store: store!,
          smallFileMax: f.smallFileMax,
          cacheBytes: smallCacheBytes,
          etag: f.etag,
          contentTypes,
        })
      : new ManifestResolver({
          manifest: compiled,
          store: store ?? remote!.source,
          clock: systemClock,
          contentTypes,
          logger,
          policy,
          smallFileMax: f.smallFileMax,
          cacheBytes: smallCacheBytes,
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
  // Readiness (/readyz on the metrics listener) turns false when a drain starts.
  let draining = false
  const metrics = f.metricsListen ? await startMetrics(f.metricsListen, server, resolver, () => !draining, remote, memory) : undefined
  /** release closes what serve opened besides its listener: the access log, metrics, the store. */
  const release = (): Promise<unknown> => Promise.all([accessLog?.close(), metrics?.server.close(), remote?.close()])
  let addr
  try {
    addr = await server.listen(f.listen.port, f.listen.host)
  } catch (err) {
    await release()
    throw new Error(`cannot listen on ${f.listen.host}:${f.listen.port}: ${(err as Error).message}`)
  }
  // A store that is this server sends each read back to itself: a request for a payload was seen held
  // until its client gave up. Refused at start, naming the flag.
  const self = storeAddresses(mode, f).find(([, url]) => pointsAtSelf(addr, url))
  if (self) {
    await server.close(0)
    await release()
    throw new Error(`${self[0]} ${self[1]} is this server's own address (listening on ${hostPort(addr)}): every read from the store would come back to it`)
  }
  process.stdout.write(
    `cutover serve: listening on http://${hostPort(addr)} (${resolver instanceof ManifestResolver ? 'store' : 'root'} ${remote ? remote.describe : store!.root}` +
      `${remote ? `, chunk cache ${formatBytes(remote.cache.maxBytes)} in ${formatBytes(remote.cache.chunkSize)} chunks` : ''}` +
      `${memory ? `, ${formatBytes(memory.prepared * memory.chunkSize)} of them brought into memory at start in ${memoryMs} ms` : ''}` +
      `${resolver instanceof ManifestResolver ? `, manifest ${resolver.manifest.file} sha256 ${resolver.manifest.hash}` : ''}` +
      `${metrics ? `, metrics http://${hostPort(metrics.addr)}/metrics` : ''})\n`,
  )

  onReopen({
    name: 'cutover serve',
    reopen: async () => {
      if (resolver instanceof ManifestResolver) await reloadManifest(resolver, logger, f)
      return accessLog ? (await accessLog.reopen(), 1) : 0
    },
  })
  onShutdown({
    name: 'cutover serve',
    drain: signal => {
      draining = true
      // Close the listener first, so that once this line is printed no new connection gets in.
      const closing = server.close(f.grace)
      process.stdout.write(`cutover serve: ${signal}: draining ${plural(server.stats.active, 'response')}, up to ${f.grace} ms\n`)
      void closing.then(async ({ forced }) => {
        await release()
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
 * reloadManifest reads the manifest file again (SIGHUP): a valid one replaces the one in use for
 * every new request at once (one assignment: no request sees half of each); an invalid or unreadable
 * one is logged with every problem and counted, and the old one keeps serving. Never throws.
 */
async function reloadManifest(resolver: ManifestResolver, logger: Logger, f: ServeFlags): Promise<void> {
  const file = resolver.manifest.file
  // Parsed and checked off the event loop: downloads go on while a large manifest is read.
  const r = await readManifestOffThread(file)
  if (!r.ok) {
    resolver.stats.reloadFailures++
    logger.error({ manifest: file, problems: r.lines, sha256: resolver.manifest.hash }, 'manifest reload failed; the old manifest keeps serving')
    return
  }
  let policy: ManifestAccessPolicy
  try {
    policy = await accessPolicy(f)
  } catch (err) {
    resolver.stats.reloadFailures++
    logger.error({ manifest: file, err: (err as Error).message }, 'manifest reload failed (signing keys or country database); the old manifest keeps serving')
    return
  }
  const before = resolver.manifest.hash
  resolver.replace(r.compiled, policy)
  logger.info({ manifest: file, sha256: r.compiled.hash, previous: before, reloads: resolver.stats.reloads }, 'manifest reloaded')
}

/**
 * startMetrics serves the server's Prometheus metrics, /healthz and /readyz (false once `ready` is)
 * on a listener of its own. prom-client is loaded only here, so a server without metrics does not
 * carry it.
 */
async function startMetrics(
  at: { host: string; port: number },
  server: DownloadServer,
  resolver: DirectoryResolver | ManifestResolver,
  ready: () => boolean,
  remote: RemoteStores | undefined,
  memory: ChunkMemory | undefined,
): Promise<{ server: MetricsServer; addr: AddressInfo }> {
  const [{ Registry, collectDefaultMetrics }, { Metrics }, { MetricsServer }, { serveMetrics, chunkCacheMetrics }, { storeCounters, storeLatency }] = await Promise.all([
    import('prom-client'),
    import('../telemetry/metrics.js'),
    import('../telemetry/metrics-server.js'),
    import('../server/serve-metrics.js'),
    import('../telemetry/store-metrics.js'),
  ])
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const m = new Metrics(registry)
  if (resolver instanceof DirectoryResolver) serveMetrics(m, server, resolver.stats)
  else serveMetrics(m, server, resolver.stats, resolver)
  if (remote) {
    chunkCacheMetrics(m, remote.cache, memory)
    const latency = storeLatency(m)
    remote.latency.target = name => latency.forStore(name)
    storeCounters(m, { stores: remote.stores, ...(remote.chain ? { fallback: remote.chain.stats } : {}) })
  }
  const metricsServer = new MetricsServer(registry, { ready })
  try {
    return { server: metricsServer, addr: await metricsServer.listen(at.port, at.host) }
  } catch (err) {
    throw new Error(`--metrics-listen: cannot listen on ${at.host}:${at.port}: ${(err as Error).message}`)
  }
}
