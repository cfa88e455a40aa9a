/**
 * Do-no-harm statistics: the foreground MSE (0–255 scale) a method leaves on inputs that needed no
 * change (the real photos themselves, `--identity`), where every unit of fMSE is damage. Pure maths.
 */

/** The thresholds whose exceedance shares are reported (0–255² fMSE; 1000 is a visible recolour). */
export const DAMAGE_THRESHOLDS = [100, 300, 1000] as const;

export interface DamageSummary {
  /** Images with a foreground (fMSE defined). */
  n: number;
  mean: number;
  median: number;
  /** 99th percentile (nearest rank). */
  p99: number;
  max: number;
  /** Share of images whose fMSE is above each threshold of DAMAGE_THRESHOLDS, in that order. */
  above: { threshold: number; share: number; count: number }[];
}

/** The value at quantile q of ascending-sorted values (nearest rank: the ⌈q·n⌉-th smallest). */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const k = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[k - 1];
}

/** Damage statistics of per-image fMSE values (null = no foreground, skipped). Null when none is defined. */
export function damageSummary(fmse: readonly (number | null)[]): DamageSummary | null {
  const v = fmse.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const n = v.length;
  const median = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {
    n,
    mean: v.reduce((s, x) => s + x, 0) / n,
    median,
    p99: nearestRank(v, 0.99),
    max: v[n - 1],
    above: DAMAGE_THRESHOLDS.map((threshold) => {
      const count = v.filter((x) => x > threshold).length;
      return { threshold, share: count / n, count };
    }),
  };
}
