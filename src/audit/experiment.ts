import type { Clock } from '../core/clock.js'
import { compareExchange, judgedEtags, type CompareOptions } from './compare.js'
import { withNoise, type Comparison } from './divergence.js'
import { validatorsFor, type EtagPairs } from './etag-pairs.js'
import type { ExchangeRequest, Observed, Side } from './exchange.js'
import type { Backend, SendOptions } from './http-backend.js'
import { DEFAULT_RULES, type Rules } from './rules.js'
import { splitBody } from './split-body.js'

/**
 * DEFAULT_SPLIT_LAG_BYTES bounds how far one reader of the control's body may run ahead of the
 * other when the body feeds both the main and the baseline comparison: 8 MiB.
 */
export const DEFAULT_SPLIT_LAG_BYTES = 8 * 1024 * 1024

/** CompareFn is the signature of compareExchange, injectable for tests. */
export type CompareFn = (
  request: ExchangeRequest,
  control: Observed,
  candidate: Observed,
  options: CompareOptions,
) => Promise<Comparison>

/**
 * Answered is a side whose answer the caller already has, or is already getting (the mirror's
 * primary, which answers the client; a replay probe whose body is also verified): the experiment
 * sends nothing to it and compares what it is given.
 */
export interface Answered {
  readonly answer: Observed | Promise<Observed>
  /**
   * A second reader of the answer's body, for the baseline comparison when this side is the
   * control (the mirror's second tee of the primary's body). If unset, the body is split
   * (splitBody) between the two comparisons.
   */
  readonly baselineBody?: AsyncIterable<Uint8Array>
}

/** ExperimentSide is a server the experiment sends to, or an answer it is given. */
export type ExperimentSide = Backend | Answered

/** ExperimentSides are the servers of one experiment. */
export interface ExperimentSides {
  /** The old server: the control. */
  readonly control: ExperimentSide
  /** The new server: the candidate. */
  readonly candidate: ExperimentSide
  /**
   * A second instance of the old server: a divergence that control-vs-baseline also shows is
   * noise. Sent the control's request. If unset, no noise filtering.
   */
  readonly baseline?: Backend | undefined
}

/** SideName names a side of an experiment, for {@link ExperimentOptions.onAnswer}. */
export type SideName = 'control' | 'candidate' | 'baseline'

/** ExperimentOptions configure {@link runExperiment}. */
export interface ExperimentOptions {
  /** Comparison rules. If unset, DEFAULT_RULES (everything compared exactly). */
  readonly rules?: Rules
  /**
   * ETag pairs learnt so far: validators are translated with them, and under `etag: consistent`
   * each exchange's pair is judged against them and then learnt. If unset, nothing is translated
   * or learnt, and consistency is judged per exchange.
   */
  readonly etags?: EtagPairs | undefined
  /**
   * Whose ETags the request's validators carry: `control` when the old server answers the
   * client (and for logs of it), `candidate` once the new one does. If unset, `control`.
   */
  readonly validatorsOf?: Side
  /** Where the comparison's time comes from. If unset, the system clock. */
  readonly clock?: Clock
  /** Body comparison time limit. If unset, compareExchange's default (60 s). */
  readonly bodyTimeoutMs?: number | undefined
  /** Lag bound when one body feeds two comparisons. If unset, DEFAULT_SPLIT_LAG_BYTES. */
  readonly splitLagBytes?: number
  /** Options of every send (abort signal, shadow marker, X-Forwarded-For). If unset, none. */
  readonly send?: SendOptions
  /**
   * Called with each answer of a side the experiment sent to (not with {@link Answered} ones),
   * as soon as it arrives: latencies, error counts, the headers for a diff. Must not throw.
   */
  readonly onAnswer?: (side: SideName, answer: Observed) => void
  /** The comparer. If unset, compareExchange. */
  readonly compare?: CompareFn
}

const isBackend = (s: ExperimentSide): s is Backend => 'send' in s

/**
 * runExperiment is one audit experiment, the same for mirror, replay and compare:
 * it translates the request's validators for each side ({@link validatorsFor}), sends to every
 * side that is a Backend at once, and compares control with candidate and, with a baseline,
 * control with baseline (the control's one body feeds both), each comparison starting as soon as
 * its two answers are there; what the baseline comparison also shows moves to noise. ETags are
 * learnt by the experiment, not by the comparison: the main pair is judged against the pairs of
 * earlier exchanges and learnt in one step, just before comparing, so the comparison is a pure
 * function of its inputs. Control-vs-baseline learns nothing: its tags are old's on both sides.
 * Resolves with the {@link Comparison}; never rejects (failures are divergences), and consumes or
 * cancels every body.
 */
export async function runExperiment(
  request: ExchangeRequest,
  sides: ExperimentSides,
  o: ExperimentOptions = {},
): Promise<Comparison> {
  const rules = o.rules ?? DEFAULT_RULES
  const etags = o.etags
  const compare = o.compare ?? compareExchange
  const from = o.validatorsOf ?? 'control'
  const ask = (name: SideName, side: ExperimentSide, to: Side): Promise<Observed> => {
    if (!isBackend(side)) return Promise.resolve(side.answer)
    return side.send(validatorsFor(request, etags, from, to), o.send).then(a => {
      o.onAnswer?.(name, a)
      return a
    })
  }
  // Every send leaves now, before anything is awaited.
  const controlP = ask('control', sides.control, 'control')
  const candidateP = ask('candidate', sides.candidate, 'candidate')
  const baselineP = sides.baseline ? ask('baseline', sides.baseline, 'control') : undefined
  const options: CompareOptions = {
    rules,
    ...(o.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: o.bodyTimeoutMs } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
  }

  const control = await controlP
  let forMain = control
  let forBase = control
  if (baselineP && control.kind === 'response') {
    const spare = isBackend(sides.control) ? undefined : sides.control.baselineBody
    if (spare) forBase = { ...control, body: spare }
    else {
      // The control's one body feeds both comparisons; no client waits on it, so it may apply backpressure.
      const [a, b] = splitBody(control.body, o.splitLagBytes ?? DEFAULT_SPLIT_LAG_BYTES)
      forMain = { ...control, body: a }
      forBase = { ...control, body: b }
    }
  }
  const main = candidateP.then(candidate => {
    // Judged against earlier exchanges and learnt in one step, with nothing awaited in between, so
    // that of two exchanges in flight the later one is judged against the earlier one's pair.
    const pair = etags ? judgedEtags(forMain, candidate, rules) : undefined
    const consistent = pair ? etags!.observe(request.path, pair[0], pair[1]) : undefined
    return compare(request, forMain, candidate, consistent === undefined ? options : { ...options, etagsConsistent: consistent })
  })
  const base = baselineP?.then(b => compare(request, forBase, b, options))
  const [m, b] = await Promise.all([main, base])
  return b ? withNoise(m, b) : m
}
