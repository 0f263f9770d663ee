import type { Clock } from '../core/clock.js'
import { CutoverError } from '../core/errors.js'
import { Halt } from '../core/halt.js'
import {
  compareBodies,
  compareHeads,
  comparisonOf,
  digestResponse,
  failedHere,
  Found,
  givenUpReason,
  judgedEtags,
  type CompareOptions,
  type Response,
} from './compare.js'
import type { BodyDigester } from './body-digest.js'
import type { TeeBudget } from './body-tee.js'
import { Needed, type SideBody } from './digest-body.js'
import { DigestPair } from './digest-pair.js'
import { withNoise, type Comparison } from './divergence.js'
import { validatorsFor, type EtagPairs } from './etag-pairs.js'
import type { ExchangeRequest, Observed, Side } from './exchange.js'
import type { Backend, SendOptions } from './http-backend.js'
import type { ReadPace } from './read-pacer.js'
import { DEFAULT_RULES, type Rules } from './rules.js'
import type { ZoomBudget } from './zoom.js'

/**
 * Answered is a side whose answer the caller already has, or is already getting (the mirror's
 * primary, which answers the client; a replay probe whose body is also verified): the experiment
 * sends nothing to it and compares what it is given.
 */
export interface Answered {
  readonly answer: Observed | Promise<Observed>
  /** The server that answered: a differing block is re-requested from it (zoom). If unset, none is. */
  readonly backend?: Backend | undefined
  /**
   * A client reads this body (the mirror's primary): it has no time limit, and a client that
   * leaves early cuts it; what it received is compared (CompareOptions.paced).
   */
  readonly paced?: boolean
  /**
   * The answer's body, already being read and hashed by the caller (the mirror starts as soon as
   * the primary answers, so that a comparison waiting for a shadow slot holds no bytes), and how
   * to stop that. If unset, the experiment reads the answer's body itself.
   */
  readonly digest?:
    | {
        readonly body: Promise<SideBody>
        readonly stop: (reason: unknown) => void
        /**
         * The pair whose side 0 hashes that body: the side it is compared with (the main
         * comparison's other side) is hashed as side 1, so that the bytes they agree on are hashed
         * once. The experiment detaches it when it is done (or the other side has no body).
         */
        readonly pair?: DigestPair | undefined
      }
    | undefined
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
  /** How long a body may send no byte (see CompareOptions.bodyTimeoutMs). If unset, 60 s. */
  readonly bodyTimeoutMs?: number | undefined
  /**
   * Re-requests that locate a difference exactly (one block from both sides, If-Range their strong
   * ETags): the budget they are taken from. If unset, none is made (`--no-zoom`): a difference
   * beyond the first block is located to its block.
   */
  readonly zoom?: ZoomBudget | undefined
  /** Options of every send and re-request (abort signal, shadow marker, X-Forwarded-For). If unset, none. */
  readonly send?: SendOptions
  /**
   * Called with each answer of a side the experiment sent to (not with {@link Answered} ones),
   * as soon as it arrives: latencies, error counts, the headers for a diff. Must not throw.
   */
  readonly onAnswer?: (side: SideName, answer: Observed) => void
  /**
   * Bytes held by the pairs that hash the control's and the candidate's bodies together
   * ({@link DigestPair}), shared by every experiment given the same budget. If unset, each pair
   * only has its own bound (PAIR_HOLD_BYTES).
   */
  readonly pairBudget?: TeeBudget | undefined
  /**
   * How the bodies sent for are read past their first bytes when the other side is client-paced
   * ({@link Answered.paced}, the mirror): no faster than this, so that comparing a large fast
   * download spreads its reading, its hashing and the other server's sending over time instead of
   * taking the CPU from the clients in a burst. The client-paced body is never slowed. If unset, as
   * fast as they come (still no further ahead of the client than the pair may hold).
   */
  readonly shadowPace?: ReadPace | undefined
}

const isBackend = (s: ExperimentSide): s is Backend => 'send' in s

/** stopped is the reason a body no longer needed is stopped with. */
const stopped = (): CutoverError => new CutoverError('ERR_ABORTED', 'not needed: the comparison ended before this body')

/**
 * runExperiment is one audit experiment, the same for mirror, replay and compare. It translates
 * the request's validators for each side ({@link validatorsFor}) and sends to every side that is a
 * Backend at once. Each body is read as soon as its answer is there, on its own, hashed in blocks
 * (never in lockstep with another: O(block) memory whatever the sizes and paces). As soon as both
 * answers of a comparison are there, failures, status and headers are compared and recorded
 * (nothing that happens to the bodies later can lose them); then the bodies' digests are compared,
 * and the first difference located (exactly from the first block or a re-request, `zoom`; or to its
 * block). With a baseline, control-vs-baseline is compared the same way from the same control
 * digest, and what it also shows moves to noise. ETags are learnt by the experiment: the main pair
 * is judged against earlier exchanges' pairs and learnt in one step, just before comparing heads, so
 * the comparison is a pure function of its inputs. Resolves with the {@link Comparison}; never
 * rejects (failures are divergences), and consumes or cancels every body.
 */
export async function runExperiment(
  request: ExchangeRequest,
  sides: ExperimentSides,
  o: ExperimentOptions = {},
): Promise<Comparison> {
  const rules = o.rules ?? DEFAULT_RULES
  const etags = o.etags
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
  const serverOf = (s: ExperimentSide): Backend | undefined => (isBackend(s) ? s : s.backend)
  const pacedSide = (s: ExperimentSide): boolean => !isBackend(s) && s.paced === true
  const options: CompareOptions = {
    rules,
    bodyTimeoutMs: o.bodyTimeoutMs,
    ...(o.clock ? { clock: o.clock } : {}),
    paced: pacedSide(sides.control) ? 'control' : pacedSide(sides.candidate) ? 'candidate' : undefined,
    shadowPace: o.shadowPace,
    zoom: o.zoom && { budget: o.zoom, control: serverOf(sides.control), candidate: serverOf(sides.candidate), send: o.send },
  }
  // Control-vs-baseline only needs kinds, for noise: no re-request is made for it.
  // The baseline is sent to, never client-paced.
  const baseOptions: CompareOptions = { ...options, zoom: undefined, paced: options.paced === 'control' ? 'control' : undefined }

  // Each body is read from the moment its answer is there, whatever the other sides do. The
  // control's and the candidate's are digested as a pair: what they agree on is compared, not hashed.
  const givenPair = (s: ExperimentSide): DigestPair | undefined => (isBackend(s) ? undefined : s.digest?.pair)
  let pair = givenPair(sides.control) ?? givenPair(sides.candidate)
  let controlDigester: BodyDigester | undefined
  let candidateDigester: BodyDigester | undefined
  if (pair) {
    // The answered side hashes as the given pair's side 0; the other as its side 1.
    if (givenPair(sides.control) === pair) candidateDigester = pair.side(1)
    else controlDigester = pair.side(1)
  } else if (isBackend(sides.control) && isBackend(sides.candidate)) {
    // The control's digest is compared with the baseline's too: agreed bytes must then be hashed.
    pair = new DigestPair(undefined, o.pairBudget, [], sides.baseline !== undefined)
    controlDigester = pair.side(0)
    candidateDigester = pair.side(1)
  }
  const stop = { control: new Halt(), candidate: new Halt(), baseline: new Halt() }
  // How much of each body read here is needed: all of it, unless the client-paced body it is
  // compared with was cut by its client, which then compares no further.
  const needed = { control: new Needed(), candidate: new Needed(), baseline: new Needed() }
  const read = (
    p: Promise<Observed>,
    side: Side,
    halt: Halt,
    co: CompareOptions,
    given: ExperimentSide | undefined,
    digester?: BodyDigester,
    need?: Needed,
  ): Promise<SideBody | undefined> => {
    const digest = given && !isBackend(given) ? given.digest : undefined
    if (digest) halt.addEventListener('abort', () => digest.stop(halt.reason))
    return p.then(a => {
      if (a.kind === 'response') return digest ? digest.body : digestResponse(a, side, co, halt, digester, need)
      // No body on this side: its partner must not wait for it.
      if (digester) pair?.detach()
      return undefined
    })
  }
  // A body the comparisons no longer need is stopped: the control's once neither comparison needs it.
  let controlUsers = baselineP ? 2 : 1
  let controlRead = false
  const release = (): void => {
    // A body read to its end has nothing left to stop (and the reason would cost a stack trace).
    if (--controlUsers === 0 && !controlRead) stop.control.abort(stopped())
  }
  /** cutBy: a client-paced body its client cut is compared up to there: no other body is needed further. */
  const cutBy = (b: SideBody | undefined, others: readonly Needed[]): void => {
    if (b?.failure?.code === 'ERR_CLIENT_GONE' && b.parts === undefined) for (const n of others) n.cut(b.digest.length)
  }
  const controlBody = read(controlP, 'control', stop.control, options, sides.control, controlDigester, needed.control).then(b => {
    controlRead = true
    // A control that failed or was given up leaves nothing to compare the others with.
    if (b && (failedHere(b) || givenUpReason(b))) {
      stop.candidate.abort(stopped())
      stop.baseline.abort(stopped())
    }
    if (options.paced === 'control') cutBy(b, [needed.candidate, needed.baseline])
    return b
  })
  const candidateBody = read(candidateP, 'candidate', stop.candidate, options, sides.candidate, candidateDigester, needed.candidate).then(b => {
    if (options.paced === 'candidate') {
      // A client-paced candidate (new answering clients) given up leaves nothing to compare with.
      if (b && givenUpReason(b)) stop.control.abort(stopped())
      cutBy(b, [needed.control])
    }
    return b
  })
  const baselineBody = baselineP && read(baselineP, 'candidate', stop.baseline, baseOptions, undefined, undefined, needed.baseline)

  /** compareWith compares the control with one other side: heads at once, then bodies. */
  const compareWith = async (
    otherP: Promise<Observed>,
    otherBody: Promise<SideBody | undefined>,
    otherStop: Halt,
    co: CompareOptions,
    learn: boolean,
  ): Promise<Comparison> => {
    const [control, other] = await Promise.all([controlP, otherP])
    const found = new Found()
    let c = co
    if (learn && etags) {
      // Judged against earlier exchanges and learnt in one step, with nothing awaited in between,
      // so that of two exchanges in flight the later one is judged against the earlier one's pair.
      const pair = judgedEtags(control, other, rules)
      if (pair) c = { ...co, etagsConsistent: etags.observe(request.path, pair[0], pair[1]) }
    }
    let bytes = 0
    if (compareHeads(control, other, c, found)) {
      const [cb, ob] = await Promise.all([controlBody, otherBody])
      release()
      bytes = await compareBodies(request, control as Response, other as Response, cb!, ob!, c, found)
    } else {
      otherStop.abort(stopped())
      release()
      await otherBody
    }
    return comparisonOf(request, control, other, found, bytes, o.clock)
  }

  try {
    const main = compareWith(candidateP, candidateBody, stop.candidate, options, true)
    const base = baselineP && compareWith(baselineP, baselineBody!, stop.baseline, baseOptions, false)
    const [m, b] = await Promise.all([main, base])
    // Every body has been read or stopped by now.
    await controlBody
    return b ? withNoise(m, b) : m
  } finally {
    pair?.detach()
  }
}
