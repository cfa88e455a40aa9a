/**
 * Is a side-by-side benchmark run fit to quote? Pure functions (no I/O), unit-tested in
 * test/bench/contamination.test.ts; bench/native.ts feeds them and prints the verdict.
 *
 * A run is CONTAMINATED when any of:
 *  - the 1-minute load average at start is above `maxLoad` (default 1.5): something else was
 *    already running, so every configuration shared its cores with it;
 *  - for any workload and configuration, the spread of its per-round medians is above `maxSpread`
 *    (default 0.30), with spread = max/min − 1 over the round medians (each round's median over its
 *    reps): the load changed during the run, so the medians do not describe one machine state;
 *  - PyTorch loaded the reference (netlib) BLAS: its ConvTranspose2d and convolution
 *    weight-gradients go through BLAS, and the reference BLAS makes the PyTorch GAN step about 3×
 *    slower (measured 1.38 s vs 0.41 s per step with OpenBLAS), so the ratio would flatter us.
 */

export const DEFAULT_MAX_LOAD = 1.5;
export const DEFAULT_MAX_SPREAD = 0.3;
/** How the spread is defined (printed with the verdict). */
export const SPREAD_DEFINITION = 'max/min − 1 over the per-round medians';

/** The BLAS a PyTorch process has mapped, from the library paths in its /proc/self/maps. */
export type BlasKind = 'openblas' | 'mkl' | 'reference' | 'blis' | 'unknown' | 'none';

/**
 * Classifies a PyTorch process's BLAS. `sgemm` is the file that provides sgemm_ as libtorch resolves
 * it (what really runs); without it, the libraries mapped into the process (/proc/self/maps), the
 * reference BLAS winning when mapped at all (it comes first in libtorch's dependency order).
 */
export function classifyBlas(paths: readonly string[], sgemm?: string): BlasKind {
  const from = sgemm ? [sgemm] : paths;
  // Debian's reference (netlib) BLAS: /usr/lib/<triplet>/blas/libblas.so.3[.x] (the libblas3 package)
  if (from.some((p) => /\/blas\/libblas\.so/.test(p))) return 'reference';
  if (from.some((p) => /mkl/i.test(p))) return 'mkl';
  if (from.some((p) => /openblas/i.test(p))) return 'openblas';
  if (from.some((p) => /blis/i.test(p))) return 'blis';
  if (from.some((p) => /libblas|libcblas/.test(p))) return 'unknown';
  return 'none';
}

/** max/min − 1 over a list of round medians (0 for fewer than two rounds). */
export function roundSpread(roundMedians: readonly number[]): number {
  if (roundMedians.length < 2) return 0;
  const lo = Math.min(...roundMedians), hi = Math.max(...roundMedians);
  return lo > 0 ? hi / lo - 1 : Infinity;
}

export function median(a: readonly number[]): number {
  if (a.length === 0) return NaN;
  const b = [...a].sort((x, y) => x - y);
  const m = b.length >> 1;
  return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2;
}

export interface RunSeries {
  workload: string;
  config: string;
  /** One median per round (seconds or any unit: only ratios matter). */
  roundMedians: number[];
}

export interface ContaminationInput {
  /** 1-minute load average when the run started (before any server was spawned). */
  loadStart: number;
  series: readonly RunSeries[];
  /** The BLAS each PyTorch configuration loaded (config name → kind and paths). */
  blas?: Record<string, { kind: BlasKind; paths?: readonly string[]; sgemm?: string }>;
  maxLoad?: number;
  maxSpread?: number;
}

export interface ContaminationVerdict {
  contaminated: boolean;
  /** One line per reason, each starting with "contaminated: ". */
  reasons: string[];
  /** The spread of every series, for the report. */
  spreads: { workload: string; config: string; spread: number }[];
  maxLoad: number;
  maxSpread: number;
  spreadDefinition: string;
}

const pct = (x: number) => `${(x * 100).toFixed(0)} %`;

/** The verdict for one run. */
export function checkContamination(input: ContaminationInput): ContaminationVerdict {
  const maxLoad = input.maxLoad ?? DEFAULT_MAX_LOAD;
  const maxSpread = input.maxSpread ?? DEFAULT_MAX_SPREAD;
  const reasons: string[] = [];
  if (!(input.loadStart <= maxLoad)) reasons.push(`contaminated: load ${input.loadStart.toFixed(2)} > ${maxLoad} at start`);
  const spreads = input.series.map((s) => ({ workload: s.workload, config: s.config, spread: roundSpread(s.roundMedians) }));
  for (const s of spreads) {
    if (!(s.spread <= maxSpread)) reasons.push(`contaminated: ${s.workload} ${s.config} rounds spread ${pct(s.spread)} > ${pct(maxSpread)} (${SPREAD_DEFINITION})`);
  }
  for (const [config, b] of Object.entries(input.blas ?? {})) {
    if (b.kind === 'reference') {
      const where = b.sgemm ?? b.paths?.find((p) => /\/blas\/libblas\.so/.test(p)) ?? 'libblas.so.3';
      reasons.push(`contaminated: ${config} runs on the reference BLAS (${where}): PyTorch's transposed convolutions and weight gradients are ~3× slower on it`);
    }
  }
  return { contaminated: reasons.length > 0, reasons, spreads, maxLoad, maxSpread, spreadDefinition: SPREAD_DEFINITION };
}
