import type { Comparison, DivergenceKind, NotComparedReason } from './divergence.js'

/** MAX_NOT_COMPARED_PATHS bounds the distinct paths {@link AuditStats.notComparedPaths} keeps: 1000. */
export const MAX_NOT_COMPARED_PATHS = 1000

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
  /**
   * Per path, the records not compared and the last reason, for the first MAX_NOT_COMPARED_PATHS
   * distinct paths (bounded: a scan of unique paths cannot grow it); later paths count in `otherNotCompared`.
   */
  readonly notComparedPaths = new Map<string, { count: number; reason: NotComparedReason }>()
  /** Records not compared whose path came after the table was full. */
  otherNotCompared = 0
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
      const p = this.notComparedPaths.get(c.request.path)
      if (p) {
        p.count++
        p.reason = notCompared
      } else if (this.notComparedPaths.size < MAX_NOT_COMPARED_PATHS) {
        this.notComparedPaths.set(c.request.path, { count: 1, reason: notCompared })
      } else this.otherNotCompared++
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

/**
 * topNotCompared lists the `n` paths most often not compared, most first (ties by path), from
 * {@link AuditStats.notComparedPaths}.
 */
export function topNotCompared(s: AuditStats, n: number): Array<{ path: string; count: number; reason: NotComparedReason }> {
  return [...s.notComparedPaths]
    .map(([path, v]) => ({ path, ...v }))
    .sort((a, b) => b.count - a.count || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .slice(0, n)
}
