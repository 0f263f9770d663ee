import type { ExchangeRequest } from './exchange.js'

/**
 * Divergence is one difference between the control's and the candidate's answer to the same
 * request: a closed union (Diffy's `Difference`), each kind carrying what an operator needs to act.
 * Offsets are 0-based byte offsets into the (decoded) body, or into a multipart part when `part`
 * is set.
 */
export type Divergence =
  | { readonly kind: 'status'; readonly control: number; readonly candidate: number }
  | { readonly kind: 'header'; readonly name: string; readonly control?: string; readonly candidate?: string }
  | {
      readonly kind: 'body-length'
      readonly control: number
      readonly candidate: number
      /** Set when the bodies are multipart: which part (0-based) differs in length. */
      readonly part?: number
      /**
       * Set when the shorter body may not be a prefix of the longer: the bytes agree up to here, and
       * the block from here to the shorter body's end could not be compared (see body-bytes' `block`).
       */
      readonly equalUpTo?: number
    }
  | {
      readonly kind: 'body-bytes'
      /** First differing byte; when `block` is set, the start of the first differing block. */
      readonly offset: number
      readonly controlLength: number
      readonly candidateLength: number
      /**
       * Each side's SHA-256, hex, when every byte of its body was hashed. Bytes the two sides agreed
       * on while they were read side by side are compared, not hashed (hashing them costs a pass over
       * every compared byte): a body that differs after such a stretch has none.
       */
      readonly controlSha256?: string
      readonly candidateSha256?: string
      /** Set when the bodies are multipart: which part (0-based) the offset is in. */
      readonly part?: number
      /**
       * Up to 32 bytes of each side before and after the first difference, hex-encoded, starting at
       * `from` (same coordinates as `offset`): enough for a hexdump without fetching again.
       */
      readonly context?: { readonly from: number; readonly control: string; readonly candidate: string }
      /**
       * Set when the exact offset is not known: the first difference lies in [from, to), one hashed
       * block, and `why` says why it was not located exactly (no re-request: `--no-zoom`, a weak or
       * missing ETag, the re-request budget; or what the re-request met: a side that changed since).
       */
      readonly block?: { readonly from: number; readonly to: number; readonly why: string }
    }
  | {
      /** A multipart part whose Content-Range or Content-Type differs, or a part count mismatch. */
      readonly kind: 'range-part'
      readonly part: number
      readonly field: 'content-range' | 'content-type' | 'count'
      readonly control?: string
      readonly candidate?: string
    }
  | {
      /** One side failed: no status (connect error, reset) or a body cut short (truncated). */
      readonly kind: 'error'
      readonly side: 'control' | 'candidate'
      readonly code: string
      readonly message: string
    }
  | { readonly kind: 'timeout'; readonly side: 'control' | 'candidate'; readonly afterMs: number }
  | {
      /**
       * The bodies (or the whole exchange) were not compared, for a stated reason: the mirror's byte
       * budget for comparers (`budget`), shedding under load (`shed`), a full shadow queue
       * (`queue-full`), the audit stopping (`shutdown`), or the client leaving before any byte
       * (`client-gone`). Status and header divergences found before are kept next to it. Not a
       * difference between the servers: counted apart, as not compared.
       */
      readonly kind: 'not-compared'
      readonly reason: NotComparedReason
      readonly message: string
    }

/** NotComparedReason is why a comparison was given up (see the `not-compared` divergence). */
export type NotComparedReason = 'budget' | 'shed' | 'queue-full' | 'shutdown' | 'client-gone'

/** NOT_COMPARED_REASONS lists every {@link NotComparedReason}. */
export const NOT_COMPARED_REASONS: readonly NotComparedReason[] = ['budget', 'shed', 'queue-full', 'shutdown', 'client-gone']

/** DivergenceKind is the `kind` of a {@link Divergence}. */
export type DivergenceKind = Divergence['kind']

/** DIVERGENCE_KINDS lists every {@link DivergenceKind}, in the order reports show them. */
export const DIVERGENCE_KINDS: readonly DivergenceKind[] = [
  'status',
  'header',
  'body-length',
  'body-bytes',
  'range-part',
  'error',
  'timeout',
  'not-compared',
]

/**
 * Comparison is the verdict on one exchange (Scientist's `Result`): the divergences that count,
 * those a rule or the noise baseline explains (kept apart, never silently dropped), and the
 * latencies. It is the JSONL record `mirror --out` and `replay --out` write, one per line.
 */
export interface Comparison {
  readonly request: ExchangeRequest
  /**
   * The manifest payload that answered the request in the replayed log (`replay` of cutover JSONL
   * written by `serve --manifest`): reports group by it. Absent when the log does not say.
   */
  readonly payload?: string
  /** When the comparison finished, ISO 8601. */
  readonly time: string
  readonly status: { readonly control?: number; readonly candidate?: number }
  readonly durationsMs: { readonly control?: number; readonly candidate?: number }
  /** Body bytes compared (the shorter side's length when they differ). */
  readonly bytesCompared: number
  readonly divergences: readonly Divergence[]
  /** Explained by a rule: `reason` names the rule. */
  readonly ignored: ReadonlyArray<{ readonly divergence: Divergence; readonly reason: string }>
  /** Also seen between control and the baseline (the same kind on the same header/status): noise. */
  readonly noise: readonly Divergence[]
}

/** divergenceKey identifies "the same divergence" across pairs, for the noise baseline. */
export function divergenceKey(d: Divergence): string {
  switch (d.kind) {
    case 'header':
      return `header:${d.name}`
    case 'range-part':
      return `range-part:${d.field}`
    case 'error':
    case 'timeout':
      return `${d.kind}:${d.side}`
    case 'not-compared':
      return `${d.kind}:${d.reason}`
    default:
      return d.kind
  }
}
/** Kinds of baseline divergences that can explain a divergence of the main comparison as noise. */
const NOISE_KINDS: ReadonlySet<DivergenceKind> = new Set([
  'status',
  'header',
  'body-length',
  'body-bytes',
  'range-part',
])

/**
 * withNoise moves the divergences of `main` (old vs new) that `base` (old vs baseline) also shows,
 * by {@link divergenceKey}, into `noise` (the Diffy idea). Errors and timeouts of the baseline
 * explain nothing: a baseline that is down says nothing about the new server.
 */
export function withNoise(main: Comparison, base: Comparison): Comparison {
  const keys = new Set(base.divergences.filter(d => NOISE_KINDS.has(d.kind)).map(divergenceKey))
  if (keys.size === 0) return main
  const divergences: Divergence[] = []
  const noise: Divergence[] = [...main.noise]
  for (const d of main.divergences) (keys.has(divergenceKey(d)) ? noise : divergences).push(d)
  return { ...main, divergences, noise }
}
