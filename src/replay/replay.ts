import { compareExchange } from '../audit/compare.js'
import type { ExchangeRequest, Observed } from '../audit/exchange.js'
import type { Backend } from '../audit/http-backend.js'
import { withNoise, type Comparison, type Divergence, type DivergenceKind } from '../audit/divergence.js'
import { translateValidators } from '../audit/rules.js'
import { splitBody } from '../audit/split-body.js'
import type { EtagPairs, Rules } from '../audit/rules.js'
import { chooseProbes, verifySlice, type ProbeTarget } from './probes.js'
import type { BadLine, ParsedLine, ReplayRecord } from './record.js'

/** SPLIT_LAG_BYTES bounds how far one reader of old's body may run ahead of the other (baseline). */
const SPLIT_LAG_BYTES = 8 * 1024 * 1024

/** ReplayFilter keeps the records a replay sends; every field that is set must match. */
export interface ReplayFilter {
  readonly methods?: ReadonlySet<string>
  readonly path?: RegExp
  /** Original statuses kept, e.g. 200, 206, 304 (a record without a status passes). */
  readonly statuses?: (status: number) => boolean
}

/** ReplayOptions configures {@link runReplay}. Fields say their defaults. */
export interface ReplayOptions {
  readonly old: Backend
  readonly new: Backend
  /** A second old server: divergences old-vs-baseline also shows are noise. */
  readonly baseline?: Backend | undefined
  readonly rules: Rules
  readonly etags: EtagPairs
  /** Exchanges in flight at once. Defaults to 8. */
  readonly concurrency?: number
  /** Cap on requests sent per second (records and probes). Unset: no cap. */
  readonly rate?: number | undefined
  /** Keep the log's pacing scaled by this factor (2 = twice as fast), or 'asap'. Defaults to 'asap'. */
  readonly speed?: number | 'asap'
  /** Range probes per distinct successful GET path. Defaults to 0. */
  readonly probes?: number
  /** Probe slices ending beyond this offset are not verified against old's full body. Defaults to 256 MiB. */
  readonly verifyMaxBytes?: number
  readonly filter?: ReplayFilter
  /** Stop after this many records sent. Unset: all. */
  readonly limit?: number | undefined
  /** Called with every comparison (clean ones too). */
  readonly onComparison: (c: Comparison) => void
  /** Called with every bad log line. */
  readonly onBad: (b: BadLine) => void
  /** Stops reading the log; exchanges in flight finish. */
  readonly signal?: AbortSignal
  /** Clock and sleep, injected so pacing is testable without waiting. Default: real time. */
  readonly now?: () => number
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Random numbers for probe slices. Defaults to Math.random. */
  readonly random?: () => number
}

/** ReplayStats counts a replay as it goes; `divergent` counts comparisons with a divergence. */
export interface ReplayStats {
  records: number
  bad: number
  filtered: number
  sent: number
  probes: number
  probesVerified: number
  probesUnverified: number
  compared: number
  divergent: number
  noise: number
  divergentByKind: Partial<Record<DivergenceKind, number>>
  bytesCompared: number
}

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise(resolve => {
    if (ms <= 0 || signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })

/** Slots bounds the exchanges in flight: acquire() waits for a free slot, so reading stays bounded. */
class Slots {
  #free: number
  readonly #waiters: Array<() => void> = []
  readonly #all = new Set<Promise<void>>()
  constructor(n: number) {
    this.#free = n
  }
  async run(task: () => Promise<void>): Promise<void> {
    while (this.#free === 0) await new Promise<void>(resolve => this.#waiters.push(resolve))
    this.#free--
    const p = task()
      .catch(() => undefined)
      .finally(() => {
        this.#free++
        this.#all.delete(p)
        this.#waiters.shift()?.()
      })
    this.#all.add(p)
  }
  async idle(): Promise<void> {
    while (this.#all.size > 0) await Promise.all([...this.#all])
  }
}

const headerOf = (o: Observed, name: string): string | undefined =>
  o.kind === 'response' ? o.headers.find(([k]) => k === name)?.[1] : undefined

/**
 * runReplay replays log records against the old and the new server and compares every answer
 * (design.md §1 step 0): records are filtered, paced (original timing scaled by `speed`, capped by
 * `rate`), sent to both with `concurrency` exchanges in flight, validators translated between the
 * servers' ETags, and compared by the audit engine; each distinct path that answers 200 to a GET
 * then gets `probes` range probes, whose single-range slices are also verified against old's full
 * body. Bad log lines are passed to `onBad` and counted, never dropped. It resolves with the stats
 * once every exchange has finished; `signal` stops reading early.
 */
export async function runReplay(lines: AsyncIterable<ParsedLine>, o: ReplayOptions): Promise<ReplayStats> {
  const stats: ReplayStats = {
    records: 0,
    bad: 0,
    filtered: 0,
    sent: 0,
    probes: 0,
    probesVerified: 0,
    probesUnverified: 0,
    compared: 0,
    divergent: 0,
    noise: 0,
    divergentByKind: {},
    bytesCompared: 0,
  }
  const now = o.now ?? (() => performance.now())
  const sleep = o.sleep ?? realSleep
  const slots = new Slots(o.concurrency ?? 8)
  const probed = new Set<string>()
  const probeRuns = new Set<Promise<void>>()
  const speed = o.speed ?? 'asap'
  const start = now()
  let firstTime: number | undefined
  let paced = 0

  const record = (c: Comparison): void => {
    stats.compared++
    stats.bytesCompared += c.bytesCompared
    stats.noise += c.noise.length
    if (c.divergences.length > 0) stats.divergent++
    for (const d of c.divergences) stats.divergentByKind[d.kind] = (stats.divergentByKind[d.kind] ?? 0) + 1
    o.onComparison(c)
  }

  /** pace waits until this send is due: the log's own timing scaled, and the rate cap. */
  const pace = async (time: Date | undefined): Promise<void> => {
    let due = start
    if (speed !== 'asap' && time) {
      firstTime ??= time.getTime()
      due = start + (time.getTime() - firstTime) / speed
    }
    if (o.rate) due = Math.max(due, start + (paced * 1000) / o.rate)
    paced++
    const wait = due - now()
    if (wait > 0) await sleep(wait, o.signal)
  }

  /**
   * exchange sends one request to every server, compares, and returns old's answer headers. With
   * `verify` (a single-range probe), new's one answer is also checked against a plain GET to old at
   * the same offsets, and what that finds joins the probe's comparison.
   */
  const exchange = async (
    req: ExchangeRequest,
    verify?: { readonly start: number; readonly end: number },
  ): Promise<{ status?: number; size?: number; etag?: string }> => {
    const forNew = translateValidators(req, tag => o.etags.translate(req.path, tag))
    const [c, answer, b, whole] = await Promise.all([
      o.old.send(req),
      o.new.send(forNew),
      o.baseline ? o.baseline.send(req) : undefined,
      verify ? o.old.send({ ...req, id: `${req.id}:whole`, headers: {} }) : undefined,
    ])
    // New's one body feeds both the comparison and the verification.
    const [n, part] =
      whole && answer.kind === 'response'
        ? splitBody(answer.body, SPLIT_LAG_BYTES).map(body => ({ ...answer, body }))
        : [answer, answer]
    const verified: Promise<Divergence[]> = whole && verify ? verifySlice(whole, part!, verify) : Promise.resolve([])
    const seen = {
      ...(c.kind === 'response' ? { status: c.status } : {}),
      ...(headerOf(c, 'content-length') !== undefined ? { size: Number(headerOf(c, 'content-length')) } : {}),
      ...(headerOf(c, 'etag') !== undefined ? { etag: headerOf(c, 'etag')! } : {}),
    }
    let cmp: Comparison
    if (b) {
      // Old's one answer feeds both comparisons (as in the mirror): no second request to old.
      const [c1, c2] =
        c.kind === 'response' ? splitBody(c.body, SPLIT_LAG_BYTES).map(body => ({ ...c, body })) : [c, c]
      const [main, base] = await Promise.all([
        compareExchange(req, c1!, n!, { rules: o.rules, etags: o.etags }),
        compareExchange(req, c2!, b, { rules: o.rules }),
      ])
      cmp = withNoise(main, base)
    } else {
      cmp = await compareExchange(req, c, n!, { rules: o.rules, etags: o.etags })
    }
    const slip = await verified
    if (verify && whole) stats.probesVerified++
    record(slip.length > 0 ? { ...cmp, divergences: [...cmp.divergences, ...slip] } : cmp)
    return seen
  }

  const runProbes = async (target: ProbeTarget, base: ReplayRecord): Promise<void> => {
    for (const p of chooseProbes(target, o.probes ?? 0, o.random ?? Math.random)) {
      if (o.signal?.aborted) return
      await pace(undefined)
      const req: ExchangeRequest = { id: `${base.file}:${base.line}:probe:${p.name}`, method: 'GET', path: target.path, headers: p.headers }
      stats.probes++
      // A slice ending beyond verifyMaxBytes is not verified: old's whole body up to there would be read.
      const verify = p.verify && p.verify.end < (o.verifyMaxBytes ?? 256 * 1024 * 1024) ? p.verify : undefined
      if (p.verify && !verify) stats.probesUnverified++
      await slots.run(async () => {
        await exchange(req, verify)
      })
    }
  }

  for await (const line of lines) {
    if (o.signal?.aborted) break
    if (line.kind === 'bad') {
      stats.bad++
      o.onBad(line.bad)
      continue
    }
    const r = line.record
    stats.records++
    const f = o.filter
    if (
      (f?.methods && !f.methods.has(r.method)) ||
      (f?.path && !f.path.test(r.path)) ||
      (f?.statuses && r.status !== undefined && !f.statuses(r.status))
    ) {
      stats.filtered++
      continue
    }
    if (o.limit !== undefined && stats.sent >= o.limit) break
    await pace(r.time)
    if (o.signal?.aborted) break
    stats.sent++
    const req: ExchangeRequest = { id: `${r.file}:${r.line}`, method: r.method, path: r.path, headers: { ...r.headers } }
    await slots.run(async () => {
      const seen = await exchange(req)
      // A path that answers 200 to a GET gets its probes once, after this first full answer.
      if ((o.probes ?? 0) > 0 && r.method === 'GET' && seen.status === 200 && seen.size !== undefined && !probed.has(r.path)) {
        probed.add(r.path)
        // Not inside a slot: each probe takes its own, so a single slot cannot deadlock.
        const run = runProbes({ path: r.path, size: seen.size!, etag: seen.etag }, r).finally(() => probeRuns.delete(run))
        probeRuns.add(run)
      }
    })
  }
  // Exchanges may start probe runs as they finish, and probe runs start exchanges: wait for both.
  for (;;) {
    await slots.idle()
    if (probeRuns.size === 0) break
    await Promise.all([...probeRuns])
  }
  return stats
}
