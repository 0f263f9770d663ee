import type { Comparison, DivergenceKind, NotComparedReason } from './divergence.js'

/**
 * AuditStats are the counters every audit (mirror, replay) keeps of its comparisons, with one
 * meaning each: every counter but `bytesCompared` counts comparisons, never divergences (a
 * comparison with three header divergences is one divergent comparison; the divergences
 * themselves are in the records and in `cutover report`). The terminal summaries, the status line
 * and the Prometheus metrics all read these fields; {@link count} is the one place they change.
 */
export class AuditStats {
  /** Comparisons finished with their bodies compared, whatever the verdict (clean ones included). */
  compared = 0
  /**
   * Records of exchanges not compared (a `not-compared` divergence: given up for a stated reason);
   * what they found before (status, headers) still counts as divergent.
   */
  notCompared = 0
  /** Per reason, the records not compared. Reasons never seen are absent. */
  notComparedByReason: Partial<Record<NotComparedReason, number>> = {}
  /** Records with at least one divergence that counts (not-compared is not one). */
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

  /** count adds one record: a finished comparison, or an exchange not compared. */
  count(c: Comparison): void {
    this.bytesCompared += c.bytesCompared
    const kinds = new Set<DivergenceKind>()
    let notCompared: NotComparedReason | undefined
    for (const d of c.divergences) {
      if (d.kind === 'not-compared') notCompared ??= d.reason
      else kinds.add(d.kind)
    }
    if (notCompared) {
      this.notCompared++
      this.notComparedByReason[notCompared] = (this.notComparedByReason[notCompared] ?? 0) + 1
    } else {
      this.compared++
    }
    if (kinds.size > 0) {
      this.divergent++
      for (const kind of kinds) this.divergentByKind[kind] = (this.divergentByKind[kind] ?? 0) + 1
    }
    if (c.noise.length > 0) this.noise++
  }
}
