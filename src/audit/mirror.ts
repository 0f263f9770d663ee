import { randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import {
  Agent as HttpAgent,
  type ClientRequest,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import type { AddressInfo } from 'node:net'
import httpProxy from 'http-proxy'
import { Pool } from 'undici'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import type { AccessLog } from '../telemetry/access-log.js'
import { Metrics } from '../telemetry/metrics.js'
import { systemClock, type Clock, type Timer } from '../core/clock.js'
import { CutoverError } from '../core/errors.js'
import { Halt } from '../core/halt.js'
import { connectionTokens, HOP_BY_HOP, rawHeaderPairs } from '../http/header-facts.js'
import { parseRequestTarget } from '../http/request-target.js'
import { BodyTee, DEFAULT_TEE_BYTES, TeeBudget, type TeeSink } from './body-tee.js'
import { boundReadTurns, READ_TURN_BYTES } from './bound-read-turns.js'
import { captureRecord } from './capture-record.js'
import { notComparedRecord } from './compare.js'
import { digestBody, type SideBody } from './digest-body.js'
import { DEFAULT_PAIR_BUDGET, DigestPair } from './digest-pair.js'
import { boundaryOf } from './multipart-parser.js'
import type { Comparison, NotComparedReason } from './divergence.js'
import { EtagPairs } from './etag-pairs.js'
import { EMPTY_BODY, withBody, type ExchangeRequest, type Observed } from './exchange.js'
import { runExperiment, type Answered, type ExperimentOptions, type SideName } from './experiment.js'
import { classify, describe, HttpBackend, requestFields, type Backend, type PortableBackendOptions } from './http-backend.js'
import { LoadGauge, type Load } from './load-gauge.js'
import { mirrorMetrics, MirrorStats, type MirrorHistograms } from './mirror-metrics.js'
import { PrimaryAnswer } from './primary-answer.js'
import type { Rules } from './rules.js'
import { shadowExperiment, ShadowThread, type ThreadFeed } from './shadow-thread.js'
import { TaskQueue } from './task-queue.js'
import { TurnWrites } from './turn-writes.js'
import { listenOn } from '../core/listen.js'
import { within } from '../core/within.js'
import type { ZoomBudget } from './zoom.js'

export { MirrorStats } from './mirror-metrics.js'

/**
 * DEFAULT_TEE_BUDGET bounds the bytes all tees of a mirror hold together: 32 MiB, four comparisons
 * at the default lag bound (8 MiB each).
 */
export const DEFAULT_TEE_BUDGET = 32 * 1024 * 1024

/**
 * SHADOWABLE_METHODS are the methods a mirror may shadow: those whose requests carry no body. A
 * shadow request is sent without the client's body, so shadowing POST or PUT would compare the
 * other server's answer to an empty body with the primary's answer to the real one.
 */
export const SHADOWABLE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * DEFAULT_SHED_KEEP is the share of requests a shedding mirror still compares: 0.36. Above a third
 * because some of what is taken is given up later (trimmed while saturated, or cut at shutdown):
 * at saturation on 1 MiB downloads the mirror compared 34.6-36.3% of them in steady state.
 */
export const DEFAULT_SHED_KEEP = 0.36

/**
 * DEFAULT_SHADOW_RATE is `cutover mirror`'s bound on how fast each shadow body is read past its
 * first 4 MiB: 16 MiB a second. On a two-core machine serving small files, 1 MiB files and now and
 * then a 64 MiB download at 200 requests a second, reading the large one's shadow at that rate
 * instead of at its client's pace took 1.0-2.8 ms off the small files' p99 in four alternated
 * batches with a fresh mirror each round; through one mirror serving every round (as in the bench)
 * two batches were split, 11.01 against 10.34 ms and 10.80 against 14.30 ms (bench/README.md). The
 * price: past the pair's hold both bodies are hashed, more CPU in all than comparing them side by
 * side, but spread over seconds.
 */
export const DEFAULT_SHADOW_RATE = 16 * 1024 * 1024

/**
 * DEFAULT_SHADOW_CONCURRENCY is how many shadow exchanges `cutover mirror` runs at once: 32. With
 * 16, the slots rather than `shedKeep` bounded what a saturated mirror compared (about 30% of
 * 1 MiB downloads, whatever the keep share); shadows read at their clients' pace, and comparisons
 * trimmed while saturated, keep 32 within the mirror's memory target.
 */
export const DEFAULT_SHADOW_CONCURRENCY = 32

/** TRIM_INTERVAL_MS is how often a mirror that may shed checks the comparisons in progress: 100 ms. */
export const TRIM_INTERVAL_MS = 100

/** MirrorOptions configure a {@link Mirror}. */
export interface MirrorOptions {
  /** Which server answers clients: `old` during the audit, `new` after the cut-over. If unset, `old`. */
  readonly primary?: 'old' | 'new'
  /** The old server: always the control of a comparison. */
  readonly old: Backend
  /** The new server: always the candidate of a comparison. */
  readonly new: Backend
  /**
   * A second instance of the old server; divergences that old-vs-baseline also shows are noise. If unset, no
   * noise filtering.
   */
  readonly baseline?: Backend
  /** Fraction of shadowable requests that are shadowed, 0..1. If unset, 1 (every request). */
  readonly sample?: number
  /** Source of uniform numbers in [0, 1) for sampling. If unset, Math.random (tests inject their own). */
  readonly random?: () => number
  /**
   * Methods that are shadowed, among SHADOWABLE_METHODS (any other throws TypeError). If unset, GET
   * and HEAD: only safe methods are repeated.
   */
  readonly shadowMethods?: Iterable<string>
  /** Comparison rules. If unset, DEFAULT_RULES (everything compared exactly). */
  readonly rules?: Rules
  /**
   * ETag pairs learnt so far (for `etag: consistent` and for translating validators). If unset, a new
   * EtagPairs.
   */
  readonly etags?: EtagPairs
  /** Where shadow work runs (offered, never awaited). If unset, a TaskQueue with its defaults (16 running, 256 queued). */
  readonly queue?: TaskQueue
  /** Called with every finished comparison (clean ones too), noise already separated. */
  readonly onComparison?: (c: Comparison) => void
  /** Writes one access record per client request when its response closes. If unset, none. */
  readonly capture?: AccessLog
  /** Registry the mirror's metrics are registered in. If unset, a new Registry (never the global one). */
  readonly registry?: Registry
  /** Operational log (proxy errors, failures of the mirror itself). If unset, nothing is logged. */
  readonly logger?: Logger
  /**
   * Bound of each tee of the primary's body: how far a comparer may fall behind the client. If unset, 8 MiB.
   */
  readonly teeBytes?: number
  /**
   * Budget shared by all tees: the most bytes of primary bodies held for comparers at once. Past it,
   * the tee that would exceed it is abandoned (and counted). If unset, DEFAULT_TEE_BUDGET (32 MiB).
   */
  readonly teeBudgetBytes?: number
  /**
   * The most bytes a second each shadow body is read, past its first PAIR_HOLD_BYTES (within them
   * the shadow keeps up with the client, and the bytes both sides agree on are compared, not
   * hashed): comparing a large fast download then takes longer than the download, instead of
   * doubling the work the mirror and the machine do while it runs. If unset, no limit beyond the
   * client's pace.
   */
  readonly shadowRate?: number | undefined
  /**
   * Host header on the client path: `rewrite` sends the primary's host:port, `keep` the client's.
   * Pass the same choice to the backends so that both sides see the same Host. If unset, `rewrite`.
   */
  readonly hostHeader?: 'keep' | 'rewrite'
  /**
   * How long the other server's body may send no byte before it times out (the primary's goes at
   * its client's pace and has no limit). If unset, 60 s.
   */
  readonly bodyTimeoutMs?: number
  /**
   * The budget of re-requests that locate a difference beyond the first block exactly (one block
   * from both servers, If-Range their strong ETags: load on the production server, hence bounded).
   * If unset, none is made and such a difference is located to its block.
   */
  readonly zoom?: ZoomBudget | undefined
  /**
   * Shed shadow work while the event loop's utilization is above this fraction, 0..1 (1: never
   * shed): its moving average, or every sample of the last second while shadows wait for a slot
   * (see {@link Load.sustained}). While it is, new shadows are taken only for `shedKeep` of the
   * requests (and whenever no other shadow is running or queued), and the rest are dropped, counted
   * as shed: the client path keeps most of the CPU, and the audit keeps a known share. Comparisons
   * in progress are given up too, newest first, while more of them still cost the loop than
   * `shedKeep` of the client responses in flight (see {@link Mirror.trim}). If unset, 0.9.
   */
  readonly shedAbove?: number
  /**
   * The share of shadowable requests still compared while the mirror sheds, 0..1: a saturated
   * mirror keeps auditing a sample this large rather than a trickle. If unset, DEFAULT_SHED_KEEP.
   */
  readonly shedKeep?: number
  /** The load consulted for shedding. If unset, a {@link LoadGauge} of this thread's event loop. */
  readonly load?: Load
  /** Where the capture's and the records' times come from. If unset, the system clock. */
  readonly clock?: Clock
  /**
   * Run the comparisons in a thread of their own (a worker, see {@link ShadowThread}): the other
   * server's answers are read, and both bodies compared, there; the primary's body is copied over
   * through slots of shared memory. The client path keeps this thread; the process takes more
   * memory and more CPU in all (measured in bench/README.md). Shedding then follows the busier of
   * the two threads. Needs HttpBackends without a dispatcher of their own, the system clock, and no
   * `etags` (the thread learns its own). If unset, false: everything runs on this thread.
   */
  readonly thread?: boolean
}

/** The backends of a mirror, as the comparison thread makes them. */
interface Portable {
  readonly old: PortableBackendOptions
  readonly new: PortableBackendOptions
  readonly baseline: PortableBackendOptions | undefined
}

/** Per-request state shared by the client path and the shadow task. */
interface RequestContext {
  readonly start: number
  /** Where the primary's body goes for its comparison, when shadowed (its one digest serves the baseline comparison too). */
  readonly tees: TeeSink[]
  /** The primary's body reader, when shadowed and compared on this thread. */
  tee?: BodyTee
  /** The primary's body on its way to the comparison thread, when shadowed and compared there. */
  feed?: ThreadFeed
  /** Why no shadow was sent (admission refused it): recorded as not compared when the response closes. */
  dropped?: NotComparedReason
  /** The comparison was given up while the mirror stayed saturated (see {@link Mirror.trim}). */
  shed?: boolean
  /** The shadow task has started (it had a slot): it sends once the primary has answered. */
  started?: boolean
  /** Resolves with what the primary answered (response or error). */
  readonly primary: Promise<Observed>
  settle: (o: Observed) => void
  settled: boolean
  /** The primary's body went to its end or broke: from then on a client abort changes nothing. */
  bodyDone: boolean
  /** The client went away before the primary's body was complete. */
  abandoned: boolean
  /** The primary's status, once it answered. */
  status: number
  /** Body bytes received from the primary and handed to the client (counted only for the capture). */
  bytes: number
  /** The primary's response, once it answered (read with undici: from the start), cut when the client goes away. */
  upstream: PrimaryResponse | undefined
  /** The request was sent to the primary a second time after a reset kept-alive connection. */
  retried?: boolean
  /** The request target both servers are sent (see {@link outgoingTarget}); undefined: sent as received. */
  readonly target: string | undefined
  /** The fields the primary is sent, flat: the shadow's, without the marker (see {@link requestFields}). */
  readonly fields: string[]
  /** The client's request framed its body with Transfer-Encoding, re-framed on the way to the primary. */
  readonly chunked: boolean
  /** The client's request had an Expect field (sent on through http-proxy, whose client honours it). */
  readonly expects: boolean
  /** The primary's body being hashed from the moment it answers (shadowed requests only). */
  digest?: { readonly body: Promise<SideBody>; readonly stop: (reason: unknown) => void; readonly pair: DigestPair }
}


/**
 * PrimaryResponse is what the mirror reads of the primary's answer, whichever client read it: Node's
 * (an IncomingMessage, through http-proxy) or undici's (a {@link PrimaryAnswer}). Body chunks come as
 * `'data'`, its end as `'end'` (trailers in `rawTrailers`), a break as `'aborted'` or `'error'`.
 */
interface PrimaryResponse {
  readonly statusCode?: number | undefined
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly rawHeaders: string[]
  readonly rawTrailers: string[]
  on(event: 'data', listener: (chunk: Buffer) => void): unknown
  on(event: 'end' | 'aborted', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  destroy(): unknown
}

/**
 * CONTEXT is where a request's {@link RequestContext} rides on its IncomingMessage. Not a WeakMap:
 * V8's young-generation GC treats a WeakMap value as reachable while the entry exists, and the
 * context reaches back to the request through the primary's response and its pipe, so every
 * request's whole object graph survived the scavenge and was promoted (2.5 MB a scavenge at 500
 * req/s, 5-8 ms pauses in the latency tail).
 */
const CONTEXT = Symbol('cutover.mirror.context')
type ContextCarrier = IncomingMessage & { [CONTEXT]?: RequestContext }

/**
 * Mirror is `cutover mirror`: an HTTP proxy that answers every client from the primary server,
 * untouched (status, headers, body, trailers), and repeats sampled safe requests against the other
 * server in the background to compare the two answers byte for byte (Scientist's rule,
 * "the control always wins").
 *
 * Client path: a GET or HEAD without a body, to an origin-form target, is sent to the primary with
 * undici and its answer is read as a {@link PrimaryAnswer} (the bulk of a download service's
 * traffic, and the cheaper client: see there); every other request goes through http-proxy. Either
 * way the request line and fields are the same ({@link outgoingTarget}, {@link requestFields}) and
 * the primary's answer streams to the client; the client never waits for the shadow.
 * The primary's body is also pushed into bounded {@link BodyTee}s that never block: a comparer
 * that falls behind abandons its comparison. Shadow path: work items go to a bounded
 * {@link TaskQueue}, each one {@link runExperiment} with the primary's answer as an answered side; a
 * full queue drops the shadow (counted), never the request. The control of a
 * comparison is always old and the candidate always new, whichever answers clients.
 */
export class Mirror {
  readonly server: Server
  /** The counters; the metrics and the summaries read them. */
  readonly stats = new MirrorStats()
  /** The registry holding the mirror's metrics (serve it with a MetricsServer). */
  readonly registry: Registry
  readonly queue: TaskQueue
  readonly #o: MirrorOptions
  readonly #primary: Backend
  readonly #primaryIsOld: boolean
  readonly #methods: ReadonlySet<string>
  readonly #sample: number
  readonly #random: () => number
  readonly #experiment: ExperimentOptions
  readonly #clock: Clock
  readonly #teeBytes: number
  readonly #teeBudget: TeeBudget
  /** Bytes of bodies held by the pairs that hash the primary's and the shadow's bodies together. */
  readonly #pairBudget = new TeeBudget(DEFAULT_PAIR_BUDGET)
  readonly #load: Load
  readonly #ownLoad: LoadGauge[]
  /** Where the comparisons run when {@link MirrorOptions.thread}; otherwise on this thread. */
  readonly #thread: ShadowThread | undefined
  readonly #shedAbove: number
  readonly #shedKeep: number
  /** Shadowable requests seen, and admitted, since the mirror last began shedding. */
  #saturatedSeen = 0
  #saturatedKept = 0
  /** Shedding begun on a loop busy for the whole of the last second with shadows queued. */
  #overloaded = false
  readonly #proxy: httpProxy
  readonly #agent: HttpAgent
  /** The budget of the large bodies' writes gathered per turn, over every client. */
  readonly #turnWrites = new TurnWrites()
  /** The primary's connections for the requests read with undici (see {@link PrimaryAnswer}). */
  readonly #pool: Pool
  readonly #primaryHost: string
  readonly #primaryPrefix: string
  readonly #keepHost: boolean
  readonly #m: MirrorHistograms
  // Aborted when close() gives up waiting: shadow sends still running are cut.
  readonly #stop = new AbortController()
  /** Shadowed requests not yet compared or abandoned, oldest first (shedding keeps the oldest). */
  readonly #pending = new Set<RequestContext>()
  /** Runs {@link trim} from listen() to close(), when the mirror may shed. */
  #trimTimer: Timer | undefined
  #active = 0
  #clientsIdle: (() => void) | undefined

  constructor(o: MirrorOptions) {
    const sample = o.sample ?? 1
    if (!(sample >= 0 && sample <= 1)) throw new TypeError('sample must be between 0 and 1')
    const teeBytes = o.teeBytes ?? DEFAULT_TEE_BYTES
    if (!Number.isSafeInteger(teeBytes) || teeBytes < 1)
      throw new TypeError('teeBytes must be a positive integer')
    this.#o = o
    this.#primaryIsOld = (o.primary ?? 'old') === 'old'
    this.#primary = this.#primaryIsOld ? o.old : o.new
    this.#methods = new Set([...(o.shadowMethods ?? ['GET', 'HEAD'])].map(m => m.toUpperCase()))
    for (const m of this.#methods) {
      if (!SHADOWABLE_METHODS.has(m))
        throw new TypeError(`cannot shadow ${m}: shadow requests are sent without a body (only ${[...SHADOWABLE_METHODS].join(', ')})`)
    }
    this.#sample = sample
    this.#random = o.random ?? Math.random
    this.#clock = o.clock ?? systemClock
    this.#teeBytes = teeBytes
    this.#teeBudget = new TeeBudget(o.teeBudgetBytes ?? DEFAULT_TEE_BUDGET)
    const shedAbove = o.shedAbove ?? 0.9
    if (!(shedAbove >= 0 && shedAbove <= 1)) throw new TypeError('shedAbove must be between 0 and 1')
    this.#shedAbove = shedAbove
    const shedKeep = o.shedKeep ?? DEFAULT_SHED_KEEP
    if (!(shedKeep >= 0 && shedKeep <= 1)) throw new TypeError('shedKeep must be between 0 and 1')
    this.#shedKeep = shedKeep
    // Checked before anything starts; the thread itself starts last, once nothing else can throw.
    const portable = o.thread ? this.#portable(o) : undefined
    this.#ownLoad = o.load || shedAbove >= 1 ? [] : [new LoadGauge({ clock: this.#clock })]
    const gauges = this.#ownLoad
    // With a comparison thread, the busier of the two threads decides.
    this.#load =
      o.load ??
      (gauges.length === 0
        ? { utilization: 0 }
        : {
            // Read per request: a loop, no arrays made.
            get utilization() {
              let u = 0
              for (const g of gauges) u = Math.max(u, g.utilization)
              return u
            },
            get sustained() {
              let u = 0
              for (const g of gauges) u = Math.max(u, g.sustained)
              return u
            },
          })
    this.queue = o.queue ?? new TaskQueue()
    this.registry = o.registry ?? new Registry()
    // With a comparison thread, its own budget takes the re-requests: the counts are the thread's.
    const counts = (): Pick<ZoomBudget, 'made' | 'refused'> | undefined => this.#thread?.zooms ?? o.zoom
    const zooms = o.zoom && { get made() { return counts()!.made }, get refused() { return counts()!.refused } }
    this.#m = mirrorMetrics(new Metrics(this.registry), this.stats, this.queue, this.#load, zooms)
    // Every shadow send in flight listens to the stop signal: no listener-leak warning past 10.
    setMaxListeners(0, this.#stop.signal)
    this.#experiment = {
      ...shadowExperiment({ ...o, primaryIsOld: this.#primaryIsOld, etags: o.etags ?? new EtagPairs(), clock: this.#clock }),
      onAnswer: (_side: SideName, a: Observed) => this.#onShadowAnswer(a.durationMs, a.kind === 'error'),
    }

    const https = new URL(this.#primary.base).protocol === 'https:'
    // Without an agent http-proxy sends `Connection: close` upstream: one TCP handshake per request.
    this.#agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
    const primaryUrl = new URL(this.#primary.base)
    this.#primaryHost = primaryUrl.host
    this.#primaryPrefix = primaryUrl.pathname.replace(/\/+$/, '')
    this.#keepHost = o.hostHeader === 'keep'
    // No timeouts of its own, as with http-proxy: how long to wait for the primary is its client's
    // call (the client goes away, the exchange is cut).
    this.#pool = new Pool(primaryUrl.origin, { headersTimeout: 0, bodyTimeout: 0 })
    this.#proxy = httpProxy.createProxyServer({
      target: this.#primary.base,
      agent: this.#agent,
      // The request line and fields are set in #onProxyReq, the same as the shadow's: http-proxy's
      // own would differ (it merges `//` in the path, sends `*` as `/*`, forwards hop-by-hop fields,
      // reverses the fields' order, and adds X-Forwarded-Host/-Port/-Proto).
      xfwd: false,
      // Header names go to the client with the case the primary used.
      preserveHeaderKeyCase: true,
    })
    this.#proxy.on('proxyReq', (proxyReq, req) => this.#onProxyReq(proxyReq, req))
    this.#proxy.on('proxyRes', (proxyRes, req, res) => {
      // A large body from a fast primary must not hold the thread every other client waits on.
      boundReadTurns(proxyRes)
      // Node refuses to write a Trailer field on a response it does not chunk, and threw from inside
      // http-proxy's pipe (the mirror crashed): see chunkedToClient. (The comparison reads the raw
      // fields: what is changed here only changes what the client is sent.)
      if (!this.#onProxyRes(proxyRes, req, res)) delete proxyRes.headers.trailer
      if (connectionTokens(req.headers.connection).includes('close')) {
        // The client's Connection is not forwarded (RFC 9110 §7.6.1), so the primary's Connection and
        // Keep-Alive speak for the mirror's own connection to it: a client that asked to close is told
        // its connection closes, as the primary would have told it (the comparer reads the raw fields).
        proxyRes.headers.connection = 'close'
        delete proxyRes.headers['keep-alive']
      }
    })
    // A client that went away: http-proxy aborts the upstream request and reports it here.
    this.#proxy.on('econnreset', () => undefined)
    this.server = createServer({ keepAliveTimeout: 5000 }, (req, res) => this.#handle(req, res))
    this.#thread = portable && this.#startThread(portable, teeBytes)
    if (this.#thread && gauges.length > 0) gauges.push(new LoadGauge({ clock: this.#clock, elu: this.#thread.eventLoopUtilization }))
  }

  /** #portable checks that the comparisons can run in a thread of their own: the backends as plain data. */
  #portable(o: MirrorOptions): Portable {
    const portable = (b: Backend | undefined, name: string): PortableBackendOptions | undefined => {
      if (b === undefined) return undefined
      if (b instanceof HttpBackend && b.portable) return b.portable
      throw new TypeError(`thread: the ${name} backend must be an HttpBackend with no dispatcher or clock of its own`)
    }
    if (o.clock !== undefined && o.clock !== systemClock) throw new TypeError('thread: comparisons in a thread use the system clock')
    if (o.etags !== undefined) throw new TypeError('thread: the comparison thread learns its own ETag pairs')
    return { old: portable(o.old, 'old')!, new: portable(o.new, 'new')!, baseline: portable(o.baseline, 'baseline') }
  }

  /** #startThread starts the comparison thread. */
  #startThread(backends: Portable, teeBytes: number): ShadowThread {
    const o = this.#o
    return new ShadowThread({
      config: {
        primaryIsOld: this.#primaryIsOld,
        ...backends,
        rules: o.rules,
        zoomPerMinute: o.zoom?.perMinute,
        bodyTimeoutMs: o.bodyTimeoutMs,
        shadowRate: o.shadowRate,
        teeBytes,
        budgetBytes: o.teeBudgetBytes ?? DEFAULT_TEE_BUDGET,
      },
      onFailure: err => this.#o.logger?.error({ err }, 'the comparison thread failed: comparisons are given up'),
    })
  }

  /** heldBytes is how many bytes of primary bodies are held for comparers right now (all tees together). */
  get heldBytes(): number {
    return this.#teeBudget.used + (this.#thread?.held ?? 0)
  }

  /**
   * listen starts accepting on host:port (port 0 picks a free one) and resolves with the address;
   * with a comparison thread, once that thread listens too.
   */
  async listen(port: number, host: string): Promise<AddressInfo> {
    await this.#thread?.ready
    if (this.#shedAbove < 1) this.#trimTimer ??= this.#clock.setInterval(() => this.trim(), TRIM_INTERVAL_MS).unref()
    return listenOn(this.server, port, host)
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const start = this.#clock.monotonic()
    const startMs = this.#clock.now()
    const remote = req.socket.remoteAddress ?? ''
    this.stats.requests++
    this.#active++

    const target = outgoingTarget(req.url ?? '/')
    const headers = exchangeHeaders(req)
    const fields = requestFields(headers, {
      host: this.#keepHost ? (headers.host ?? this.#primaryHost) : this.#primaryHost,
      forwardedFor: remote,
      body: true,
    })
    // Node writes the request head early when it holds an Expect field, before #onProxyReq could set
    // it: the field goes to the primary with the others there.
    const expects = req.headers.expect !== undefined
    delete req.headers.expect
    let settle!: (o: Observed) => void
    const ctx: RequestContext = {
      target,
      fields,
      chunked: req.headers['transfer-encoding'] !== undefined,
      expects,
      start,
      tees: [],
      primary: new Promise<Observed>(resolve => (settle = resolve)),
      settle: o => {
        if (ctx.settled) return
        ctx.settled = true
        settle(o)
      },
      settled: false,
      bodyDone: false,
      abandoned: false,
      status: 0,
      bytes: 0,
      upstream: undefined,
    }
    ;(req as ContextCarrier)[CONTEXT] = ctx

    const method = req.method ?? 'GET'
    if (!this.#methods.has(method) || !(this.#random() < this.#sample)) {
      this.stats.skipped++
    } else if (target === undefined || target === '*' || hasBody(req)) {
      // Not repeatable as received: a target the shadow's client cannot send (an asterisk-form, or
      // one that is no request target), or a body the shadow would not carry.
      this.stats.skipped++
    } else if (this.#shed()) {
      this.#dropped(true)
      ctx.dropped = 'shed'
    } else {
      const exchange: ExchangeRequest = {
        id: randomUUID(),
        method,
        path: target,
        headers,
      }
      if (this.queue.offer(() => this.#runShadow(exchange, ctx, remote))) {
        // The task starts on a microtask and the primary is asked below: the tee exists before
        // either can read or feed it.
        if (this.#thread) ctx.tees.push((ctx.feed = this.#thread.feed()))
        else ctx.tees.push((ctx.tee = new BodyTee(this.#teeBytes, this.#teeBudget)))
        this.#pending.add(ctx)
        this.stats.pending = this.#pending.size
      } else {
        this.#dropped(false)
        ctx.dropped = 'queue-full'
      }
    }

    res.once('close', () => {
      this.#active--
      const finished = res.writableFinished
      if (!finished && !ctx.bodyDone) {
        // The client went away mid-response: the primary's body stops short through no fault of the
        // server. What it sent so far is compared; the rest was never sent.
        ctx.abandoned = true
        const gone = new CutoverError('ERR_CLIENT_GONE', `the client went away after ${ctx.bytes} bytes of the body`)
        for (const t of ctx.tees) t.error(gone)
        ctx.settle({ kind: 'error', code: 'ERR_CLIENT_GONE', message: 'the client went away before the status', durationMs: 0 })
        // The request body was complete, so http-proxy does not abort the upstream exchange itself;
        // cut it rather than download the rest of a body nobody reads.
        ctx.upstream?.destroy()
      }
      const durationMs = this.#clock.monotonic() - start
      this.#m.clientSeconds.observe(durationMs / 1000)
      this.#o.capture?.write(
        captureRecord(req, {
          startMs,
          remote,
          status: res.headersSent ? res.statusCode : ctx.status,
          bytes: ctx.bytes,
          durationMs,
          aborted: !finished,
        }),
      )
      if (ctx.dropped) {
        const status = ctx.status > 0 ? (this.#primaryIsOld ? { control: ctx.status } : { candidate: ctx.status }) : {}
        const why = ctx.dropped === 'shed' ? 'shed: the mirror was saturated when the request came' : 'the shadow queue was full when the request came'
        this.#record(notComparedRecord({ id: randomUUID(), method, path: target!, headers }, ctx.dropped, why, status, this.#clock), false)
      }
      if (this.#active === 0) this.#clientsIdle?.()
    })

    this.#forward(req, res, ctx)
  }

  /** #forward sends the request to the primary, with undici where it can (see the class doc), else with http-proxy. */
  #forward(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    const method = req.method
    if ((method === 'GET' || method === 'HEAD') && ctx.target !== undefined && ctx.target !== '*' && !hasBody(req) && !ctx.expects)
      this.#dispatch(req, res, ctx, method)
    else this.#proxy.web(req, res, {}, err => this.#onProxyError(err, req, res, ctx))
  }

  /**
   * #dispatch sends a request without a body to the primary with undici, and streams the answer to
   * the client as http-proxy would (status, fields, body, trailers), minding the client's pace.
   */
  #dispatch(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, method: 'GET' | 'HEAD'): void {
    const answer = new PrimaryAnswer(READ_TURN_BYTES)
    let answered = false
    answer.on('response', () => {
      answered = true
      const trailers = this.#onProxyRes(answer, req, res)
      if (ctx.abandoned || res.destroyed) return
      try {
        res.writeHead(answer.statusCode, answer.statusMessage || undefined, clientFields(answer.rawHeaders, req, trailers))
      } catch (err) {
        // Node refuses fields it cannot write (it checked the client's own; the primary's it did
        // not): the client's connection is cut rather than answered with something else.
        this.#o.logger?.warn({ err, path: req.url }, "could not pass the primary's answer on")
        answer.destroy(err as Error)
        res.destroy()
        return
      }
      // One 'drain' listener for the whole body: a once() per full write cost more than the
      // write's own bookkeeping in a CPU profile (the client's socket is full after most chunks).
      res.on('drain', () => answer.release('drain'))
      // A large body's chunks go to the client once per turn (see TurnWrites); a small one's at once.
      const write = answer.bounded
        ? this.#turnWrites.writer(res)
        : (chunk: Buffer): boolean => res.write(chunk)
      answer.on('data', (chunk: Buffer) => {
        if (!write(chunk)) answer.hold('drain')
      })
      // After #onProxyRes's own 'end' listener, which hands the trailers over.
      answer.on('end', () => res.end())
    })
    answer.on('error', (err: Error) => {
      // After the status, #onProxyRes's listener cuts the client's connection. Before it, a client
      // that went away is no failure of the primary (its close listener settled the exchange).
      if (!answered && !ctx.abandoned) this.#onProxyError(err, req, res, ctx)
    })
    // A client gone before the answer is complete: #handle's close listener cuts the exchange with
    // the primary through ctx.upstream, from the start (http-proxy cuts its own before the status).
    ctx.upstream = answer
    const path = this.#primaryPrefix + ctx.target
    this.#pool.dispatch({ method, path, headers: ctx.fields }, answer)
  }

  /** #dropped counts a shadow refused before it started: the queue was full, or `shed`. */
  #dropped(shed: boolean): void {
    this.stats.dropped++
    if (shed) this.stats.shed++
  }

  /**
   * #shed tells whether a new shadow must be refused because the mirror is saturated (its event
   * loop is busy beyond `shedAbove`). While it is, `shedKeep` of the requests are still
   * taken, spread evenly (one is taken whenever fewer than that share of those seen since the
   * saturation began were), and one whenever no other shadow is running or queued: a saturated
   * mirror keeps comparing a known sample instead of a trickle.
   */
  #shed(): boolean {
    if (!this.#saturated()) {
      this.#saturatedSeen = 0
      this.#saturatedKept = 0
      return false
    }
    this.#saturatedSeen++
    if (this.queue.stats.running + this.queue.stats.queued === 0 || this.#saturatedKept < this.#shedKeep * this.#saturatedSeen) {
      this.#saturatedKept++
      return false
    }
    return true
  }

  /**
   * #saturated tells whether the mirror's event loop is busy beyond `shedAbove` (never, at 1): its
   * moving average is, or every sample of the last second was while shadows waited for a slot. The
   * average alone lets a saturating load run 3 to 5 s with every request compared, at about half
   * the throughput (see DEFAULT_SUSTAINED_MS in load-gauge.ts); one large download keeps the loop
   * as busy but makes no queue. Once begun that way, shedding lasts while the loop stays that busy,
   * though the queue it drains empties.
   */
  #saturated(): boolean {
    if (this.#shedAbove >= 1) return false
    const load = this.#load
    this.#overloaded = (load.sustained ?? 0) > this.#shedAbove && (this.#overloaded || this.queue.stats.queued > 0)
    return this.#overloaded || load.utilization > this.#shedAbove
  }

  /**
   * trim gives up comparisons in progress while the mirror is saturated, newest first, until no
   * more of them still cost the loop than `shedKeep` of the client responses in flight (at least
   * one is kept): those still receiving their primary's body, and those waiting for a slot whose
   * client has gone (their shadow would read the other server at full speed up to where the
   * client left). Admission decides once per request, but a comparison costs
   * the event loop for as long as its download lasts (its primary's body hashed, its shadow's
   * read and hashed at the client's pace): without this, a burst of large downloads admitted in the
   * second before the load gauge rose would keep the mirror saturated, and its clients slowed, for
   * minutes. A comparison given up here is recorded as not compared, reason `shed` (counted as
   * abandoned and as shed), with the status and header divergences already found. A timer runs it
   * every {@link TRIM_INTERVAL_MS} ms; returns how many it gave up.
   */
  trim(): number {
    if (!this.#saturated()) return 0
    let keep = Math.max(1, Math.ceil(this.#shedKeep * this.#active))
    let given = 0
    for (const ctx of this.#pending) {
      // Waiting for a slot while its primary's body streams, or with its client gone (its shadow would
      // read the other server at full speed up to where the client left); or running while the
      // body streams to a client still there. A running one whose client left reads no further
      // than the client got, and its tee is done: it is left to finish, and nothing is counted.
      const costly = ctx.started ? !ctx.bodyDone && !ctx.abandoned : !ctx.bodyDone || ctx.abandoned
      if (ctx.shed || !costly) continue
      if (keep > 0) {
        keep--
        continue
      }
      ctx.shed = true
      this.stats.shed++
      given++
      for (const t of ctx.tees) t.abandon('ERR_SHED')
    }
    return given
  }

  /**
   * #onProxyReq sets the request to the primary as {@link outgoingTarget} and {@link requestFields}
   * have it, the same as the shadow's (marker aside): http-proxy has just made it and sent nothing.
   */
  #onProxyReq(proxyReq: ClientRequest, req: IncomingMessage): void {
    const ctx = (req as ContextCarrier)[CONTEXT]
    if (!ctx || proxyReq.headersSent) return
    if (ctx.target !== undefined) proxyReq.path = ctx.target === '*' ? '*' : this.#primaryPrefix + ctx.target
    for (const name of proxyReq.getHeaderNames()) proxyReq.removeHeader(name)
    const f = ctx.fields
    for (let i = 0; i + 1 < f.length; i += 2) proxyReq.setHeader(f[i]!, f[i + 1]!)
    // The body is re-framed for this hop (RFC 9112 §7): Node chunks it as this field says.
    if (ctx.chunked) proxyReq.setHeader('transfer-encoding', 'chunked')
  }

  /**
   * #onProxyRes tees the primary's answer; the client path streams it to the client right after
   * this returns (http-proxy's pipe, or #dispatch). Returns whether the answer goes to the client
   * chunked, with its trailers ({@link chunkedToClient}): decided once, for both paths.
   */
  #onProxyRes(proxyRes: PrimaryResponse, req: IncomingMessage, res: ServerResponse): boolean {
    const chunked = chunkedToClient(proxyRes.statusCode ?? 0, req, proxyRes.headers['transfer-encoding'])
    const ctx = (req as ContextCarrier)[CONTEXT]
    if (!ctx) return chunked
    ctx.status = proxyRes.statusCode ?? 0
    if (ctx.abandoned) {
      proxyRes.destroy() // the client is gone already
      return chunked
    }
    ctx.upstream = proxyRes
    const tees = ctx.tees
    // Only a shadowed request has a comparison to feed (the others have no tee and no reader).
    if (ctx.feed) {
      // Hashed in the comparison thread as it streams, from now on (as below).
      ctx.feed.begin(boundaryOfRaw(proxyRes))
    } else if (ctx.tee) {
      // Hashed as it streams from now on, whether or not a shadow slot is free yet: a comparison
      // waiting in the queue then holds no bytes of the body (nothing to abandon over the budget).
      // It is digested as one side of a pair with the shadow's body: the bytes they agree on are
      // compared, not hashed, held (within the tee budget) until the shadow's body reaches them.
      const stop = new Halt()
      // The shadow's side (1) is paced: read no further ahead of the client than the pair may hold.
      // With a baseline, the primary's digest is compared with the baseline's too: the bytes the
      // pair agrees on must then be hashed, not only compared.
      const pair = new DigestPair(undefined, this.#pairBudget, [1], this.#o.baseline !== undefined)
      ctx.digest = {
        body: digestBody(ctx.tee, { boundary: boundaryOfRaw(proxyRes), clock: this.#clock, signal: stop.signal, digester: pair.side(0) }),
        stop: reason => stop.abort(reason),
        pair,
      }
    }
    if (ctx.tee || ctx.feed) {
      ctx.settle({
        kind: 'response',
        status: proxyRes.statusCode ?? 0,
        headers: rawHeaderPairs(proxyRes.rawHeaders),
        // A feed's bytes go to the comparison thread, not to a reader here.
        body: ctx.tee ?? EMPTY_BODY,
        durationMs: this.#clock.monotonic() - ctx.start,
      })
    }
    // A second listener next to http-proxy's pipe: it neither pauses the stream nor changes its flow,
    // and a push never waits.
    if (tees.length > 0 || this.#o.capture) {
      proxyRes.on('data', (chunk: Buffer) => {
        ctx.bytes += chunk.length
        for (const t of tees) t.push(chunk)
      })
    }
    proxyRes.on('end', () => {
      ctx.bodyDone = true
      for (const t of tees) t.end()
      // http-proxy pipes the body but drops trailers; this listener runs before the client path
      // ends the response, so the trailers go out as the primary sent them.
      if (proxyRes.rawTrailers.length > 0 && !res.writableEnded && chunked) {
        try {
          res.addTrailers(rawHeaderPairs(proxyRes.rawTrailers, { keepCase: true }))
        } catch (err) {
          this.#o.logger?.warn({ err, path: req.url }, 'could not forward trailers')
        }
      }
    })
    const broken = (err?: Error): void => {
      if (ctx.bodyDone) return
      ctx.bodyDone = true
      const e = err ?? new CutoverError('ERR_UPSTREAM', 'primary response aborted')
      for (const t of tees) t.error(e)
      // The response is left open when the upstream body breaks: cut the client's connection so
      // that it sees a truncated body, as it would talking to the primary directly.
      if (!res.destroyed) res.destroy()
    }
    proxyRes.on('aborted', () => broken())
    proxyRes.on('error', err => broken(err))
    return chunked
  }

  #onProxyError(
    err: Error,
    req: IncomingMessage,
    res: ServerResponse | import('node:net').Socket,
    ctx: RequestContext,
  ): void {
    const code = (err as NodeJS.ErrnoException).code
    if (
      !ctx.retried &&
      (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') &&
      (req.method === 'GET' || req.method === 'HEAD') &&
      'writeHead' in res &&
      !res.headersSent &&
      !res.destroyed &&
      ctx.status === 0
    ) {
      // A kept-alive connection that the primary closed just as it was reused: a race every
      // keep-alive proxy meets. An idempotent request with no answer yet is sent once more, on a
      // fresh connection, as nginx's proxy_next_upstream does; the client never sees the reset.
      ctx.retried = true
      this.#forward(req, res, ctx)
      return
    }
    this.stats.proxyErrors++
    this.#o.logger?.warn({ err, path: req.url, primary: this.#primary.name }, 'primary failed')
    ctx.settle({
      kind: 'error',
      // The same codes as a shadow send's: a failure reads alike whichever server answers clients.
      code: classify(err),
      message: `${this.#primary.name}: ${describe(err)}`,
      durationMs: this.#clock.monotonic() - ctx.start,
    })
    if (!ctx.bodyDone) {
      ctx.bodyDone = true
      for (const t of ctx.tees) t.error(err)
    }
    if (!('writeHead' in res)) return
    if (res.headersSent || res.destroyed) {
      res.destroy()
      return
    }
    // No internals reach the client: the details are in the log.
    const body = '502 Bad Gateway\n'
    res.writeHead(502, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
  }

  /**
   * #runShadow is one shadow work item: wait for the primary's answer, then run the experiment with
   * it as the answered side (old the control, new the candidate, whichever answers clients), and
   * count. It never rejects.
   */
  async #runShadow(req: ExchangeRequest, ctx: RequestContext, remote: string): Promise<void> {
    const clock = this.#clock
    ctx.started = true
    let c: Comparison | undefined
    // Once the experiment has run, it has read or stopped the primary's digest itself.
    let ran = false
    try {
      // The shadow goes out once the primary has answered, not alongside the client's request: on a
      // busy machine the other server's work would compete for the CPU with the primary's while the
      // client waits. The primary's body is tee'd from its first byte, so nothing is missed; a small
      // body is usually written to the client before the shadow request is (ticks run before
      // promise continuations).
      const primary = this.#stop.signal.aborted ? undefined : await ctx.primary
      const side = (s: number | undefined): Comparison['status'] =>
        s === undefined ? {} : this.#primaryIsOld ? { control: s } : { candidate: s }
      if (!primary || this.#stop.signal.aborted) {
        c = notComparedRecord(req, 'shutdown', 'the mirror stopped before the shadow was sent', side(primary?.kind === 'response' ? primary.status : undefined), clock)
        return
      }
      if (ctx.shed) {
        // Given up while it waited for a slot (counted as shed then): the other server is not asked.
        const status = primary.kind === 'response' ? primary.status : undefined
        c = notComparedRecord(req, 'shed', 'shed: the mirror stayed saturated while the shadow waited for a slot', side(status), clock)
        return
      }
      if (primary.kind === 'error' && primary.code === 'ERR_CLIENT_GONE') {
        c = notComparedRecord(req, 'client-gone', primary.message, {}, clock)
        return
      }
      if (this.#thread && ctx.feed) {
        const out = await this.#thread.run(ctx.feed, req, primary, remote)
        ran = true
        for (const a of out.answers) this.#onShadowAnswer(a.durationMs, a.error)
        if (out.comparison) c = this.#stop.signal.aborted ? cutByShutdown(out.comparison) : out.comparison
        else {
          // A thread that failed was logged once, when it did; a comparison that threw is a bug, logged each time.
          if (!out.threadFailed) this.#o.logger?.error({ err: out.failure, path: req.path }, 'shadow comparison failed')
          c = notComparedRecord(req, 'shutdown', out.threadFailed ? `${out.failure} (see the log)` : 'the comparison failed (see the log)', {}, clock)
        }
        return
      }
      // The primary's one digest serves the baseline comparison too; a differing block is
      // re-requested from the primary itself.
      const answered: Answered = { answer: withBody(primary, ctx.tee), backend: this.#primary, paced: true, digest: ctx.digest }
      c = await runExperiment(
        req,
        {
          control: this.#primaryIsOld ? answered : this.#o.old,
          candidate: this.#primaryIsOld ? this.#o.new : answered,
          baseline: this.#o.baseline,
        },
        { ...this.#experiment, send: { signal: this.#stop.signal, marker: true, forwardedFor: remote } },
      )
      ran = true
      if (this.#stop.signal.aborted) c = cutByShutdown(c)
    } catch (err) {
      // runExperiment does not reject: this is a bug, recorded as not compared so the stats add up.
      this.#o.logger?.error({ err, path: req.path }, 'shadow comparison failed')
      c = notComparedRecord(req, 'shutdown', 'the comparison failed (see the log)', {}, clock)
    } finally {
      this.#pending.delete(ctx)
      this.stats.pending = this.#pending.size
      for (const t of ctx.tees) t.abandon() // stop buffering for a reader that is done or never came
      if (!ran) ctx.digest?.stop(new CutoverError('ERR_ABORTED', 'the comparison is over'))
      if (!ran && ctx.feed) this.#thread?.stop(ctx.feed)
      ctx.digest?.pair?.detach() // a shadow that never ran leaves the primary's digest nothing to wait for
      if (c) this.#record(c, true)
    }
  }

  /** #onShadowAnswer counts one answer of a shadow send (the other server's or the baseline's). */
  #onShadowAnswer(durationMs: number, error: boolean): void {
    this.#m.shadowSeconds.observe(durationMs / 1000)
    if (error && !this.#stop.signal.aborted) this.stats.shadowErrors++
  }

  /**
   * #record counts one record and hands it on. `ran`: a shadow ran for it (so a record not compared
   * counts as abandoned); otherwise admission refused it, already counted as dropped.
   */
  #record(c: Comparison, ran: boolean): void {
    this.stats.count(c)
    if (ran && c.divergences.some(d => d.kind === 'not-compared')) this.stats.abandoned++
    try {
      this.#o.onComparison?.(c)
    } catch (err) {
      this.#o.logger?.error({ err }, 'onComparison failed')
    }
  }

  /**
   * close stops accepting connections, lets client responses in flight finish and the shadow queue
   * drain, together for up to `graceMs`; then it cuts what is left (client connections, shadow
   * sends: those comparisons count as abandoned). Resolves once the listener is closed and the
   * shadow work has stopped, and every client response's close has been written to the capture (so
   * it may be closed then); reports whether the grace period ran out.
   */
  async close(graceMs: number): Promise<{ forced: boolean }> {
    const deadline = this.#clock.monotonic() + graceMs
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    this.server.closeIdleConnections()
    let forced = false
    if (this.#active > 0) {
      const idle = new Promise<void>(resolve => (this.#clientsIdle = resolve))
      forced = !(await within(idle, deadline - this.#clock.monotonic(), this.#clock))
    }
    this.server.closeAllConnections()
    // A cut response emits 'close' on a later tick than the listener's close callback may run: the
    // caller closes the capture once this resolves, so wait until every client response's 'close'
    // has been recorded (bounded: a destroyed socket closes within ticks).
    if (this.#active > 0) await within(new Promise<void>(resolve => (this.#clientsIdle = resolve)), 5000, this.#clock)
    await closed
    if (!(await within(this.queue.idle(), deadline - this.#clock.monotonic(), this.#clock))) {
      forced = true
      for (const ctx of this.#pending) for (const t of ctx.tees) t.abandon('ERR_SHUTDOWN')
      // The reason reaches every body still being read (undici fails a body with its signal's
      // reason): a shadow body cut here is a comparison given up at shutdown, not a body the other
      // server broke (without it, an error divergence that never was).
      this.#stop.abort(new CutoverError('ERR_SHUTDOWN', 'the mirror stopped before the comparison was done'))
      this.#thread?.shutdown('the mirror stopped before the comparison was done')
      // Cut sends fail at once and queued items return without sending; the bound only guards
      // against a comparer that ignores its streams ending.
      await within(this.queue.idle(), 5000, this.#clock)
    }
    this.#agent.destroy()
    await this.#pool.destroy()
    await this.#thread?.close()
    for (const g of this.#ownLoad) g.close()
    this.#trimTimer?.clear()
    return { forced }
  }
}

/**
 * cutByShutdown turns what a shutdown cut in a comparison (sends aborted before their status) into
 * one `not-compared` divergence, keeping what was found before.
 */
function cutByShutdown(c: Comparison): Comparison {
  const cut = (d: Comparison['divergences'][number]): boolean => d.kind === 'error' && d.code === 'ERR_ABORTED'
  if (!c.divergences.some(cut) || c.divergences.some(d => d.kind === 'not-compared')) return c
  return {
    ...c,
    divergences: [
      ...c.divergences.filter(d => !cut(d)),
      { kind: 'not-compared', reason: 'shutdown', message: 'the mirror stopped before the comparison was done' },
    ],
  }
}

/** boundaryOfRaw is the multipart boundary of a 206 from the primary, or undefined (see compare.boundaryFor). */
function boundaryOfRaw(res: PrimaryResponse): string | undefined {
  const type = res.headers['content-type']
  return res.statusCode === 206 ? boundaryOf(Array.isArray(type) ? type[0] : type) : undefined
}

/**
 * chunkedToClient tells whether the answer goes to the client chunked, the only framing that carries
 * trailers (RFC 9112 §7.1.2), and so whether its Trailer field may go too (Node refuses to write one
 * otherwise): the primary chunked it, it has a body (not to a HEAD, not 1xx, 204 or 304), and the
 * client speaks HTTP/1.1.
 */
function chunkedToClient(status: number, req: IncomingMessage, transferEncoding: string | string[] | undefined): boolean {
  const te = Array.isArray(transferEncoding) ? transferEncoding.join(',') : (transferEncoding ?? '')
  return (
    req.httpVersion !== '1.0' && req.method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304 && /(^|[\s,])chunked\s*$/i.test(te)
  )
}

/**
 * clientFields are the primary's fields as the client gets them, as http-proxy writes them (its
 * web-outgoing passes): as sent (names' case, order, repeats), except the hop's own. No Trailer
 * field unless `trailers` (see {@link chunkedToClient}). An HTTP/1.0 client is sent no
 * Transfer-Encoding (its body ends with the connection) and `Connection: close` unless it asked
 * otherwise; a client that asked to close is told
 * `Connection: close` (and no Keep-Alive), since the primary's Connection spoke for the mirror's own
 * connection (RFC 9110 §7.6.1); otherwise the primary's Connection stands, or the client's is echoed,
 * or keep-alive.
 */
function clientFields(raw: readonly string[], req: IncomingMessage, trailers: boolean): string[] {
  const http10 = req.httpVersion === '1.0'
  const close = connectionTokens(req.headers.connection).includes('close')
  const out: string[] = []
  let connectionAt = -1
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (lower === 'transfer-encoding' && http10) continue
    if (lower === 'trailer' && !trailers) continue
    if (lower === 'keep-alive' && close) continue
    if (lower === 'connection') {
      if (connectionAt >= 0) {
        out[connectionAt + 1] = `${out[connectionAt + 1]}, ${raw[i + 1]!}`
        continue
      }
      connectionAt = out.length
    }
    out.push(name, raw[i + 1]!)
  }
  const asked = req.headers.connection
  if (http10 || connectionAt < 0) {
    const value = http10 ? (asked ?? 'close') : (asked ?? 'keep-alive')
    if (connectionAt >= 0) out[connectionAt + 1] = value
    else {
      connectionAt = out.length
      out.push('connection', value)
    }
  }
  if (close) out[connectionAt + 1] = 'close'
  return out
}

/**
 * outgoingTarget is the request target both servers are sent, whatever form the client used
 * (RFC 9112 §3.2): an origin-form exactly as received (no `//` merged, no dot segment removed, no
 * percent-encoding changed); an absolute-form's path and query (a server MUST accept the
 * absolute-form, RFC 9112 §3.2.2, but a proxy sends the origin-form to an origin server); `*` for the
 * asterisk-form (RFC 9112 §3.2.4). undefined when the target is none of these: it goes to the
 * primary as received and is not shadowed.
 */
export function outgoingTarget(target: string): string | undefined {
  try {
    const t = parseRequestTarget(target)
    return t.kind === 'asterisk' ? '*' : t.path + t.query
  } catch {
    return undefined
  }
}

/** hasBody tells whether a request carries a body (RFC 9112 §6.3: Transfer-Encoding, or a Content-Length above 0). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * exchangeHeaders are the request's fields as http-proxy forwards them to the primary (Node's
 * `req.headers`: repeated fields joined, duplicates of singletons such as Host dropped), so that
 * both servers are asked the same thing; minus hop-by-hop fields and those Connection names.
 */
function exchangeHeaders(req: IncomingMessage): Record<string, string> {
  const drop = new Set(HOP_BY_HOP)
  for (const name of connectionTokens(req.headers.connection)) drop.add(name)
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || drop.has(name)) continue
    out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}
