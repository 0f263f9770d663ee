import { AuditStats } from '../audit/audit-stats.js'
import { TeeBudget } from '../audit/body-tee.js'
import { DEFAULT_PAIR_BUDGET } from '../audit/digest-pair.js'
import type { Comparison, Divergence } from '../audit/divergence.js'
import { validatorsFor, type EtagPairs } from '../audit/etag-pairs.js'
import type { ExchangeRequest, Observed } from '../audit/exchange.js'
import { runExperiment, type ExperimentSide } from '../audit/experiment.js'
import type { ZoomBudget } from '../audit/zoom.js'
import type { Backend } from '../audit/http-backend.js'
import type { Rules } from '../audit/rules.js'
import { DEFAULT_SPLIT_LAG_BYTES, splitBody } from '../audit/split-body.js'
import { TaskQueue } from '../audit/task-queue.js'
import { systemClock, type Clock } from '../core/clock.js'
import { chooseProbes, verifySlice, type Probe, type ProbeTarget } from './probes.js'
import type { BadLine, ParsedLine, ReplayRecord } from './record.js'

/** ReplayFilter keeps the records a replay sends; every field that is set must match. */
export interface ReplayFilter {
  readonly methods?: ReadonlySet<string>
  readonly path?: RegExp
  /** Original statuses kept, e.g. 200, 206, 304 (a record without a status passes). */
  readonly statuses?: (status: number) => boolean
  /**
   * Payload names kept (a record's `payload`, from `serve --manifest`'s JSONL log): a record that
   * names no payload, or another one, is filtered out.
   */
  readonly payloads?: ReadonlySet<string>
}

/** ReplayOptions configures {@link runReplay}. Fields say their defaults. */
export interface ReplayOptions {
  readonly old: Backend
  readonly new: Backend
  /** A second old server: divergences old-vs-baseline also shows are noise. */
  readonly baseline?: Backend | undefined
  readonly rules: Rules
  readonly etags: EtagPairs
  /**
   * The budget of re-requests that locate a difference beyond the first block exactly (see
   * ExperimentOptions.zoom). If unset, none is made.
   */
  readonly zoom?: ZoomBudget | undefined
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
  /**
   * Replay records marked as shadow traffic too. If unset, they are skipped and counted in
   * `shadows`: they are copies a mirror made of requests already in the old server's log.
   */
  readonly includeShadows?: boolean
  /** Stop after this many records sent. Unset: all. */
  readonly limit?: number | undefined
  /** Called with every comparison (clean ones too). */
  readonly onComparison: (c: Comparison) => void
  /** Called with every bad log line. */
  readonly onBad: (b: BadLine) => void
  /** Stops reading the log; exchanges in flight finish. */
  readonly signal?: AbortSignal
  /** How pacing waits (a test moves its clock instead). If unset, a timer of `clock`. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Random numbers for probe slices. Defaults to Math.random. */
  readonly random?: () => number
  /** Where the comparisons' times, the pacing and the timeouts come from. If unset, the system clock. */
  readonly clock?: Clock
  /**
   * The counters to update as the replay goes, which a progress display reads while it runs; they
   * are what runReplay resolves with. If unset, a new {@link ReplayStats}.
   */
  readonly stats?: ReplayStats
}

/**
 * ReplayStats count a replay as it goes: the comparison counters of {@link AuditStats} (each
 * counts comparisons, probes included) plus the log's records and the probes.
 */
export class ReplayStats extends AuditStats {
  /** Log records read (bad lines not included). */
  records = 0
  /** Bad log lines, each reported to onBad. */
  bad = 0
  /** Records the filter left out. */
  filtered = 0
  /** Records of shadow traffic (a mirror's copies, logged by `serve`) left out: see ReplayOptions.includeShadows. */
  shadows = 0
  /** Records sent to the servers. */
  sent = 0
  /** Range probes sent. */
  probes = 0
  /** Single-range probes whose slice from new was also checked against old's full body. */
  probesVerified = 0
  /** Single-range probes not verified: the slice ends beyond verifyMaxBytes. */
  probesUnverified = 0
  /**
   * Records sent whose exchange has ended and whose probes, if any, have been chosen (counted in
   * `probesPlanned` first): with `probesSettled`, how many of the requests sent have ended, which is
   * what a progress display counts.
   */
  settled = 0
  /** Range probes chosen so far, sent or still to send: a progress display adds them to its total. */
  probesPlanned = 0
  /** Range probes whose exchange has ended. */
  probesSettled = 0
}

/** clockSleep waits `ms` on `clock`, or less if `signal` aborts. */
const clockSleep =
  (clock: Clock) =>
  (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise(resolve => {
      if (ms <= 0 || signal?.aborted) return resolve()
      const timer = clock.setTimeout(done, ms)
      function done(): void {
        timer.clear()
        signal?.removeEventListener('abort', done)
        resolve()
      }
      signal?.addEventListener('abort', done, { once: true })
    })

const headerOf = (o: Observed, name: string): string | undefined =>
  o.kind === 'response' ? o.headers.find(([k]) => k === name)?.[1] : undefined

/** controlFacts are what a probe run needs of old's answer: status, size and ETag. */
function controlFacts(c: Observed): { status?: number; size?: number; etag?: string } {
  const size = headerOf(c, 'content-length')
  const etag = headerOf(c, 'etag')
  return {
    ...(c.kind === 'response' ? { status: c.status } : {}),
    ...(size !== undefined ? { size: Number(size) } : {}),
    ...(etag !== undefined ? { etag } : {}),
  }
}

/**
 * runReplay replays log records against the old and the new server and compares every answer
 * (step 0 of a migration, before any traffic moves): records are filtered, paced (original timing scaled by `speed`, capped by
 * `rate`), sent to both with `concurrency` exchanges in flight, validators translated between the
 * servers' ETags, and compared by the audit engine; each distinct path that answers 200 to a GET
 * then gets `probes` range probes, whose single-range slices are also verified against old's full
 * body. Every comparison, a probe's too, names the payload its record was answered by
 * (`Comparison.payload`) when the log says. Bad log lines are passed to `onBad` and counted, never dropped. It resolves with the stats
 * once every exchange has finished; `signal` stops reading early.
 */
export async function runReplay(lines: AsyncIterable<ParsedLine>, o: ReplayOptions): Promise<ReplayStats> {
  const stats = o.stats ?? new ReplayStats()
  // Bytes the exchanges in flight hold to hash what old and new agree on once (DigestPair).
  const pairBudget = new TeeBudget(DEFAULT_PAIR_BUDGET)
  const clock = o.clock ?? systemClock
  const now = (): number => clock.monotonic()
  const sleep = o.sleep ?? clockSleep(clock)
  // Exchanges in flight: each run waits for a slot, so reading the log stays bounded.
  const slots = new TaskQueue({ concurrency: o.concurrency ?? 8, maxQueued: 0 })
  const probed = new Set<string>()
  const probeRuns = new Set<Promise<void>>()
  const speed = o.speed ?? 'asap'
  const start = now()
  let firstTime: number | undefined
  let paced = 0

  /** record counts and reports a comparison, naming the payload its log record was answered by. */
  const record = (c: Comparison, payload: string | undefined): void => {
    // `payload` right after `request` in the record, so that a reader of the JSONL sees it early.
    const { request, ...rest } = c
    const named = payload === undefined ? c : { request, payload, ...rest }
    stats.count(named)
    o.onComparison(named)
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
    payload: string | undefined,
    verify?: { readonly start: number; readonly end: number },
  ): Promise<{ status?: number; size?: number; etag?: string }> => {
    let seen: { status?: number; size?: number; etag?: string } = {}
    let candidate: ExperimentSide = o.new
    let verified: Promise<Divergence[]> = Promise.resolve([])
    if (verify) {
      // New's one answer feeds both the comparison and the verification against old's whole body,
      // so new is sent to here (with its own validators) and given to the experiment as answered.
      const whole = o.old.send({ ...req, id: `${req.id}:whole`, headers: {} })
      const answer = o.new.send(validatorsFor(req, o.etags, 'control', 'candidate'))
      const split = answer.then(a =>
        a.kind === 'response' ? splitBody(a.body, DEFAULT_SPLIT_LAG_BYTES).map(body => ({ ...a, body })) : [a, a],
      )
      candidate = { answer: split.then(([n]) => n!), backend: o.new }
      verified = Promise.all([whole, split]).then(([w, [, part]]) => verifySlice(w, part!, verify))
    }
    const cmp = await runExperiment(
      req,
      { control: o.old, candidate, baseline: o.baseline },
      {
        rules: o.rules,
        etags: o.etags,
        zoom: o.zoom,
        clock,
        pairBudget,
        onAnswer: (side, a) => {
          if (side === 'control') seen = controlFacts(a)
        },
      },
    )
    const slip = await verified
    if (verify) stats.probesVerified++
    record(slip.length > 0 ? { ...cmp, divergences: [...cmp.divergences, ...slip] } : cmp, payload)
    return seen
  }

  const runProbes = async (target: ProbeTarget, probes: readonly Probe[], base: ReplayRecord): Promise<void> => {
    for (const p of probes) {
      if (o.signal?.aborted) return
      await pace(undefined)
      const req: ExchangeRequest = { id: `${base.file}:${base.line}:probe:${p.name}`, method: 'GET', path: target.path, headers: p.headers }
      stats.probes++
      // A slice ending beyond verifyMaxBytes is not verified: old's whole body up to there would be read.
      const verify = p.verify && p.verify.end < (o.verifyMaxBytes ?? 256 * 1024 * 1024) ? p.verify : undefined
      if (p.verify && !verify) stats.probesUnverified++
      await slots.run(async () => {
        // A probe asks for the same path as its record: the same payload answers it.
        await exchange(req, base.payload, verify)
        stats.probesSettled++
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
    if (r.shadow && !o.includeShadows) {
      // The mirror's copy of a request some client made: the client's own record is in the old
      // server's log; replaying both would count it twice.
      stats.shadows++
      continue
    }
    const f = o.filter
    if (
      (f?.methods && !f.methods.has(r.method)) ||
      (f?.path && !f.path.test(r.path)) ||
      (f?.statuses && r.status !== undefined && !f.statuses(r.status)) ||
      (f?.payloads && (r.payload === undefined || !f.payloads.has(r.payload)))
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
      const seen = await exchange(req, r.payload)
      // A path that answers 200 to a GET gets its probes once, after this first full answer.
      if ((o.probes ?? 0) > 0 && r.method === 'GET' && seen.status === 200 && seen.size !== undefined && !probed.has(r.path)) {
        probed.add(r.path)
        const target = { path: r.path, size: seen.size!, etag: seen.etag }
        const probes = chooseProbes(target, o.probes ?? 0, o.random ?? Math.random)
        // Planned before this record counts as settled, so that a progress total never falls short.
        stats.probesPlanned += probes.length
        // Not inside a slot: each probe takes its own, so a single slot cannot deadlock.
        const run = runProbes(target, probes, r).finally(() => probeRuns.delete(run))
        probeRuns.add(run)
      }
      stats.settled++
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
