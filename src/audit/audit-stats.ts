import type { Comparison, DivergenceKind } from './divergence.js'

/**
 * AuditStats are the counters every audit (mirror, replay) keeps of its comparisons, with one
 * meaning each: every counter but `bytesCompared` counts comparisons, never divergences (a
 * comparison with three header divergences is one divergent comparison; the divergences
 * themselves are in the records and in `cutover report`). The terminal summaries, the status line
 * and the Prometheus metrics all read these fields; {@link count} is the one place they change.
 */
export class AuditStats {
  /** Comparisons finished, whatever the verdict (clean ones included). */
  compared = 0
  /** Comparisons with at least one divergence that counts. */
  divergent = 0
  /**
   * Per kind, comparisons with at least one divergence of that kind that counts (a comparison
   * with divergences of two kinds counts once under each). Kinds never seen are absent.
   */
  divergentByKind: Partial<Record<DivergenceKind, number>> = {}
  /** Comparisons with at least one divergence explained by the noise baseline. */
  noise = 0
  /** Body bytes compared, in all (per comparison, the shorter side's length when they differ). */
  bytesCompared = 0

  /** count adds one finished comparison. */
  count(c: Comparison): void {
    this.compared++
    this.bytesCompared += c.bytesCompared
    if (c.divergences.length > 0) {
      this.divergent++
      for (const kind of new Set(c.divergences.map(d => d.kind)))
        this.divergentByKind[kind] = (this.divergentByKind[kind] ?? 0) + 1
    }
    if (c.noise.length > 0) this.noise++
  }
}
