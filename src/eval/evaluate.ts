/**
 * Dataset evaluation with the protocol of docs/METRICS.md § Protocol: per-image metrics for
 * the composite-copy baseline and every method, summaries per subset, per foreground-ratio bin and
 * "All", written as a per-image CSV, a summary JSON and a Markdown table.
 *
 * Methods are functions from a sample's full-resolution composite + mask to a prediction (any size:
 * it is resized to 256×256 like everything else). Two entry points share one scorer and one
 * summary: `evaluateSamples` (dataset files) and `evaluateInMemory` (images already in memory: the
 * Table 1 experiment and the sweep use it); `evaluateDataset` is the file-based shell behind
 * `harmonia evaluate`.
 */
import { damageSummary, DAMAGE_THRESHOLDS, type DamageSummary } from './damage.ts';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { tf } from '../engine/tf.ts';
import { initEngine } from '../engine/index.ts';
import { readImage, readMask } from '../image/io.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { Progress } from '../util/progress.ts';
import { readIHarmonyDataset, type HarmonizationSample, type Split } from '../data/iharmony4.ts';
import {
  imageMetrics, toEvalImage, toEvalMask, fgBin, meanOf, worseThanCompositeShare,
  EVAL_SIZE, FG_BINS, PSNR_CAP_DB, type ImageMetrics, type FgBinName,
} from '../metrics/index.ts';
import { loadLpips, lpipsFiles, isLpipsNet, type Lpips, type LpipsNet } from '../models/lpips.ts';
import { markdownTable, csvTable, formatNumber, formatPercent, type Cell } from '../util/table.ts';

/** The baseline every evaluation includes: the composite itself as the prediction. */
export const COMPOSITE_METHOD = 'composite';
/** What reports print for LPIPS when its weight files are absent. */
export const LPIPS_NO_WEIGHTS = 'n/a (no weights)';

/** The protocol statement of an evaluation at `size`×`size` (256 = the protocol's). */
export function protocolText(size: number = EVAL_SIZE): string {
  return 'Protocol (docs/METRICS.md): composite, prediction and real image resized to ' + `${size}×${size}` + ' (bilinear, ' +
  'anti-aliased), mask resized with nearest and thresholded (foreground = mask > 127); metrics on ' +
  '0–255 floats: MSE over all 3·H·W values, PSNR = 10·log10(255²/MSE) (capped at 100 dB), ' +
  'fMSE = Σ_fg (pred−gt)²/(3·n_fg), fPSNR from fMSE, bMSE on the background only, SSIM (Gaussian ' +
  '11/σ 1.5, K1 .01, K2 .03, per channel averaged), LPIPS v0.1; the ground-truth background is ' +
  'never pasted back. Per-image means per subset; "All" = per-image mean over all images. ' +
  'Empty-foreground images have no fMSE/fPSNR (excluded from those means, counted).';
}

export const PROTOCOL_TEXT = protocolText(EVAL_SIZE);

/** A method under evaluation: full-resolution composite + mask in, prediction (any size) out. */
export type Predictor = (sample: HarmonizationSample, input: { composite: FloatImage; mask: Mask }) => FloatImage | Promise<FloatImage>;

export interface ImageRow extends ImageMetrics {
  id: string;
  subset: string;
  method: string;
  bin: FgBinName;
  lpips: number | null;
}

export interface GroupSummary {
  n: number;
  mse: number | null;
  psnr: number | null;
  fmse: number | null;
  fpsnr: number | null;
  bmse: number | null;
  ssim: number | null;
  lpips: number | null;
  /** Images that had a foreground (fMSE defined) / a background (bMSE defined) / an LPIPS value. */
  fmseCount: number;
  bmseCount: number;
  lpipsCount: number;
  /** Share of images whose fMSE is worse than the composite's (null for the composite itself). */
  worseFmse: { share: number | null; worse: number; count: number } | null;
}

export interface MethodSummary {
  All: GroupSummary;
  subsets: Record<string, GroupSummary>;
  bins: Record<string, GroupSummary>;
}

export interface LpipsStatus {
  net: LpipsNet | 'none';
  available: boolean;
  /** e.g. "alex (v0.1)" or "n/a (no weights): missing …" */
  note: string;
}

export interface EvalResult {
  protocol: string;
  size: number;
  images: number;
  methods: string[];
  lpips: LpipsStatus;
  rows: ImageRow[];
  summary: Record<string, MethodSummary>;
  seconds: number;
  /**
   * Do-no-harm mode (`identity`): the inputs were the real photos themselves, and this is each method's
   * damage (the distribution of its per-image fMSE, src/eval/damage.ts).
   */
  damage?: Record<string, DamageSummary | null>;
}

export interface EvaluateOptions {
  /** Evaluation side (default 256, the protocol's). */
  size?: number;
  /** LPIPS backbone, or 'none' (default 'alex'). Missing weight files give LPIPS_NO_WEIGHTS, never a number. */
  lpips?: LpipsNet | 'none';
  /** An LPIPS model already loaded (the caller keeps ownership); overrides `lpips`/`weightsDir`. */
  lpipsModel?: Lpips;
  /** Weights folder (see `harmonia weights`). */
  weightsDir?: string;
  quiet?: boolean;
  progressLabel?: string;
  /** Called with every method's prediction as returned (before the resize to the evaluation size), e.g. for figures. */
  onPrediction?: (id: string, method: string, prediction: FloatImage) => void;
}

/** A sample held in memory (`evaluateInMemory`); any other fields travel to the predictors. */
export interface MemoryEvalSample {
  id: string;
  /** Default "all". */
  subset?: string;
  composite: FloatImage;
  mask: Mask;
  real: FloatImage;
}

/** A method under in-memory evaluation: the sample in, its prediction (any size) out. */
export type MemoryPredictor<S extends MemoryEvalSample = MemoryEvalSample> = (sample: S) => FloatImage | Promise<FloatImage>;

/** One sample as the scorer sees it: images in memory plus what its predictors need. */
interface Loaded { id: string; subset: string; composite: FloatImage; mask: Mask; real: FloatImage; realLabel: string; predict(method: string): FloatImage | Promise<FloatImage> }

async function loadSample(s: HarmonizationSample, predictors: Record<string, Predictor>): Promise<Loaded> {
  const [composite, mask, real] = await Promise.all([readImage(s.composite), readMask(s.mask), readImage(s.real)]);
  if (mask.width !== composite.width || mask.height !== composite.height) {
    throw new HarmoniaError(`mask is ${mask.width}×${mask.height} but composite ${s.composite} is ${composite.width}×${composite.height}`, { file: s.mask });
  }
  if (real.width !== composite.width || real.height !== composite.height) {
    throw new HarmoniaError(`real image is ${real.width}×${real.height} but composite ${s.composite} is ${composite.width}×${composite.height}`, { file: s.real });
  }
  return { id: s.id, subset: s.subset, composite, mask, real, realLabel: s.real, predict: (m) => predictors[m](s, { composite, mask }) };
}

async function resolveLpips(opts: EvaluateOptions): Promise<{ model: Lpips | undefined; owned: boolean; status: LpipsStatus }> {
  if (opts.lpipsModel) {
    return { model: opts.lpipsModel, owned: false, status: { net: opts.lpipsModel.net, available: true, note: `${opts.lpipsModel.net} (v0.1)` } };
  }
  const net = opts.lpips ?? 'alex';
  if (net === 'none') return { model: undefined, owned: false, status: { net, available: false, note: 'not computed (--lpips none)' } };
  if (!isLpipsNet(net)) throw new HarmoniaError(`--lpips must be alex, vgg, squeeze or none, got "${String(net)}"`);
  const files = lpipsFiles(net, { dir: opts.weightsDir });
  if (!files.available) {
    const missing = [files.backbone, files.lin].filter((f) => !existsSync(f));
    return { model: undefined, owned: false, status: { net, available: false, note: `${LPIPS_NO_WEIGHTS}: missing ${missing.join(', ')} (see \`harmonia weights\`)` } };
  }
  await initEngine();
  return { model: await loadLpips(net, { dir: opts.weightsDir }), owned: true, status: { net, available: true, note: `${net} (v0.1)` } };
}

/**
 * Evaluates methods on samples. The composite-copy baseline ("composite") is always computed first,
 * by the same code. Method names must be unique and not "composite".
 */
export async function evaluateSamples(
  samples: readonly HarmonizationSample[],
  methods: Record<string, Predictor>,
  opts: EvaluateOptions = {},
): Promise<EvalResult> {
  const predictors: Record<string, Predictor> = { [COMPOSITE_METHOD]: (_s, input) => input.composite, ...methods };
  return scoreSamples(samples.length, (i) => loadSample(samples[i], predictors), Object.keys(methods), opts);
}

/**
 * The in-memory entry point: the same scorer, baseline and summary as `evaluateSamples`, on samples
 * whose composite, mask and real image are already in memory (any extra fields of a sample reach the
 * predictors). Method names must be unique and not "composite".
 */
export async function evaluateInMemory<S extends MemoryEvalSample>(
  samples: readonly S[],
  methods: Record<string, MemoryPredictor<S>>,
  opts: EvaluateOptions = {},
): Promise<EvalResult> {
  const load = (i: number): Promise<Loaded> => {
    const s = samples[i];
    const composite = s.composite;
    const predict = (m: string) => (m === COMPOSITE_METHOD ? composite : methods[m](s));
    return Promise.resolve({ id: s.id, subset: s.subset ?? 'all', composite, mask: s.mask, real: s.real, realLabel: `real image of ${s.id}`, predict });
  };
  return scoreSamples(samples.length, load, Object.keys(methods), opts);
}

/** The scorer both entry points share: the composite baseline first, then every method, per sample. */
async function scoreSamples(count: number, load: (i: number) => Promise<Loaded>, methods: readonly string[], opts: EvaluateOptions): Promise<EvalResult> {
  const t0 = Date.now();
  const size = opts.size ?? EVAL_SIZE;
  if (count === 0) throw new HarmoniaError('evaluate: no samples to evaluate (empty list?)');
  if (methods.includes(COMPOSITE_METHOD)) throw new HarmoniaError(`evaluate: "${COMPOSITE_METHOD}" is the built-in baseline; name your method differently`);
  const names = [COMPOSITE_METHOD, ...methods];
  const { model: lp, owned, status } = await resolveLpips(opts);
  const rows: ImageRow[] = [];
  const progress = new Progress(opts.progressLabel ?? 'evaluate', count, { quiet: opts.quiet });
  try {
    let next: Promise<Loaded> = load(0);
    for (let i = 0; i < count; i++) {
      const cur = await next;
      if (i + 1 < count) {
        next = load(i + 1);
        next.catch(() => undefined); // surfaced when awaited
      }
      const real = toEvalImage(cur.real, size, cur.realLabel);
      const mask = toEvalMask(cur.mask, size);
      const preds: FloatImage[] = [];
      for (const name of names) {
        const out = await cur.predict(name);
        if (!out || out.channels !== 3) {
          throw new HarmoniaError(`method "${name}" returned ${out ? `${out.channels} channels` : 'nothing'} for ${cur.id}; it must return an RGB image`);
        }
        opts.onPrediction?.(cur.id, name, out);
        preds.push(toEvalImage(out, size, `${name} prediction for ${cur.id}`));
      }
      let lpipsValues: (number | null)[] = names.map(() => null);
      if (lp) lpipsValues = Array.from(await lpipsBatch(lp, real, preds));
      names.forEach((name, k) => {
        const m = imageMetrics(preds[k], real, mask);
        rows.push({ id: cur.id, subset: cur.subset, method: name, bin: fgBin(m.fgRatio), ...m, lpips: lpipsValues[k] });
      });
      progress.tick(1, cur.id);
    }
    progress.finish();
  } finally {
    if (owned && lp) lp.dispose();
  }
  return {
    protocol: protocolText(size),
    size,
    images: count,
    methods: names,
    lpips: status,
    rows,
    summary: summarize(rows, names),
    seconds: (Date.now() - t0) / 1000,
  };
}

async function lpipsBatch(lp: Lpips, real: FloatImage, preds: FloatImage[]): Promise<Float32Array> {
  const h = real.height, w = real.width;
  const ref = tf.tensor4d(real.data, [1, h, w, 3]);
  const stacked = new Float32Array(preds.length * h * w * 3);
  preds.forEach((p, k) => stacked.set(p.data, k * h * w * 3));
  const cands = tf.tensor4d(stacked, [preds.length, h, w, 3]);
  try {
    const d = lp.distancesToReference(ref, cands);
    const v = (await d.data()) as Float32Array;
    d.dispose();
    return v;
  } finally {
    ref.dispose();
    cands.dispose();
  }
}

function group(rows: readonly ImageRow[], baseline: Map<string, ImageRow> | null): GroupSummary {
  const pick = (k: 'mse' | 'psnr' | 'fmse' | 'fpsnr' | 'bmse' | 'ssim' | 'lpips') => meanOf(rows.map((r) => r[k]));
  const f = pick('fmse'), b = pick('bmse'), l = pick('lpips');
  return {
    n: rows.length,
    mse: pick('mse').mean,
    psnr: pick('psnr').mean,
    fmse: f.mean,
    fpsnr: pick('fpsnr').mean,
    bmse: b.mean,
    ssim: pick('ssim').mean,
    lpips: l.mean,
    fmseCount: f.count,
    bmseCount: b.count,
    lpipsCount: l.count,
    worseFmse: baseline
      ? worseThanCompositeShare(rows.map((r) => r.fmse), rows.map((r) => baseline.get(r.id)?.fmse ?? null))
      : null,
  };
}

/** Per-method summaries: All, per subset, per foreground-ratio bin (per-image means). */
export function summarize(rows: readonly ImageRow[], methods: readonly string[]): Record<string, MethodSummary> {
  const baseline = new Map(rows.filter((r) => r.method === COMPOSITE_METHOD).map((r) => [r.id, r]));
  const out: Record<string, MethodSummary> = {};
  for (const m of methods) {
    const mine = rows.filter((r) => r.method === m);
    const base = m === COMPOSITE_METHOD ? null : baseline;
    const subsets: Record<string, GroupSummary> = {};
    for (const s of [...new Set(mine.map((r) => r.subset))].sort()) subsets[s] = group(mine.filter((r) => r.subset === s), base);
    const bins: Record<string, GroupSummary> = {};
    for (const b of FG_BINS) bins[b.name] = group(mine.filter((r) => r.bin === b.name), base);
    out[m] = { All: group(mine, base), subsets, bins };
  }
  return out;
}

const HEADERS = ['MSE ↓', 'PSNR ↑', 'fMSE ↓', 'fPSNR ↑', 'bMSE ↓', 'SSIM ↑', 'LPIPS ↓', 'fMSE worse than composite'];

function metricCells(g: GroupSummary, lpips: LpipsStatus): Cell[] {
  const lp = !lpips.available ? (lpips.net === 'none' ? 'not computed' : LPIPS_NO_WEIGHTS) : formatNumber(g.lpips, 4);
  return [
    formatNumber(g.mse, 2), formatNumber(g.psnr, 2), formatNumber(g.fmse, 2), formatNumber(g.fpsnr, 2),
    formatNumber(g.bmse, 2), formatNumber(g.ssim, 4), lp,
    g.worseFmse ? (g.worseFmse.share === null ? 'n/a' : `${formatPercent(g.worseFmse.share)} (${g.worseFmse.worse}/${g.worseFmse.count})`) : '–',
  ];
}

/** The result with each method's do-no-harm damage statistics (its per-image fMSE distribution). */
export function withDamage(r: EvalResult): EvalResult {
  const damage: Record<string, DamageSummary | null> = {};
  for (const m of r.methods) damage[m] = damageSummary(r.rows.filter((x) => x.method === m).map((x) => x.fmse));
  return { ...r, damage };
}

/** The do-no-harm table: per method, mean / median / 99th percentile of the fMSE on real photos, shares above the thresholds. */
export function damageMarkdown(damage: Record<string, DamageSummary | null>): string {
  const rows = Object.entries(damage).map(([m, d]) => (d
    ? [m, d.n, formatNumber(d.mean, 1), formatNumber(d.median, 1), formatNumber(d.p99, 1), ...d.above.map((a) => `${formatPercent(a.share)} (${a.count})`)]
    : [m, 0, '–', '–', '–', ...DAMAGE_THRESHOLDS.map(() => '–')]));
  return markdownTable(['Method', 'N', 'mean fMSE ↓', 'median ↓', 'p99 ↓', ...DAMAGE_THRESHOLDS.map((t) => `> ${t} ↓`)], rows,
    { align: ['l', 'r', 'r', 'r', 'r', ...DAMAGE_THRESHOLDS.map(() => 'r' as const)] });
}

/** The Markdown report: protocol statement, All, per subset, per foreground-ratio bin. */
export function resultMarkdown(r: EvalResult, title = 'Evaluation'): string {
  const lpipsHead = r.lpips.available ? `LPIPS (${r.lpips.net}) ↓` : 'LPIPS ↓';
  const headers = HEADERS.map((h) => (h === 'LPIPS ↓' ? lpipsHead : h));
  const all = r.methods.map((m) => [m, ...metricCells(r.summary[m].All, r.lpips)]);
  const parts: string[] = [`# ${title}`, '', r.protocol, ''];
  const base = r.summary[COMPOSITE_METHOD].All;
  if (r.damage) {
    parts.push(`## Do no harm (${r.images} real photos as inputs: every unit of fMSE is damage)`, '', damageMarkdown(r.damage), '');
  }
  parts.push(`## All (${r.images} images)`, '', markdownTable(['Method', ...headers], all, { align: ['l', ...headers.map(() => 'r' as const)] }));
  const notes: string[] = [];
  if (base.fmseCount < r.images) notes.push(`${r.images - base.fmseCount} image(s) have an empty foreground: no fMSE/fPSNR, excluded from those means`);
  if (base.bmseCount < r.images) notes.push(`${r.images - base.bmseCount} image(s) are all foreground: no bMSE`);
  notes.push(`LPIPS: ${r.lpips.note}`);
  notes.push(`PSNR is capped at ${PSNR_CAP_DB} dB (identical images)`);
  parts.push(...notes.map((n) => `- ${n}`), '');
  const subsets = Object.keys(r.summary[COMPOSITE_METHOD].subsets);
  parts.push('## By subset', '');
  const subRows: Cell[][] = [];
  for (const s of subsets) for (const m of r.methods) subRows.push([s, m, r.summary[m].subsets[s].n, ...metricCells(r.summary[m].subsets[s], r.lpips)]);
  parts.push(markdownTable(['Subset', 'Method', 'N', ...headers], subRows, { align: ['l', 'l', 'r', ...headers.map(() => 'r' as const)] }));
  parts.push('', '## By foreground ratio', '');
  const binRows: Cell[][] = [];
  for (const b of FG_BINS) for (const m of r.methods) binRows.push([b.name, m, r.summary[m].bins[b.name].n, ...metricCells(r.summary[m].bins[b.name], r.lpips)]);
  parts.push(markdownTable(['Foreground', 'Method', 'N', ...headers], binRows, { align: ['l', 'l', 'r', ...headers.map(() => 'r' as const)] }));
  return parts.join('\n');
}

export const CSV_HEADERS = ['id', 'subset', 'method', 'fg_ratio', 'fg_bin', 'mse', 'psnr', 'fmse', 'fpsnr', 'bmse', 'ssim', 'lpips'];

/** Per-image rows as CSV (empty field where a metric is undefined). */
export function resultCsv(r: EvalResult): string {
  return csvTable(CSV_HEADERS, r.rows.map((x) => [x.id, x.subset, x.method, x.fgRatio, x.bin, x.mse, x.psnr, x.fmse, x.fpsnr, x.bmse, x.ssim, x.lpips]));
}

export interface EvalFiles { csv: string; json: string; markdown: string }

/** Writes per_image.csv, summary.json and table.md into `outDir` (atomically). */
export async function writeEvalReport(r: EvalResult, outDir: string, title?: string): Promise<EvalFiles> {
  const files = { csv: join(outDir, 'per_image.csv'), json: join(outDir, 'summary.json'), markdown: join(outDir, 'table.md') };
  const { rows: _rows, ...summary } = r;
  await writeFileAtomic(files.csv, resultCsv(r), { mkdir: true });
  await writeFileAtomic(files.json, JSON.stringify(summary, null, 2) + '\n');
  await writeFileAtomic(files.markdown, resultMarkdown(r, title));
  return files;
}

/** Extensions tried, in order, when looking up a prediction file. */
export const PREDICTION_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;

/**
 * Where the prediction for a sample is: `<pred>/<subset>/<base>.<ext>`, then `<pred>/<base>.<ext>`,
 * with <base> the composite's file name without extension and <ext> in PREDICTION_EXTENSIONS order.
 */
export function predictionCandidates(predDir: string, s: HarmonizationSample): string[] {
  const base = s.id.slice(s.id.lastIndexOf('/') + 1);
  const out: string[] = [];
  for (const dir of [join(predDir, s.subset), predDir]) for (const ext of PREDICTION_EXTENSIONS) out.push(join(dir, base + ext));
  return out;
}

/** A Predictor that reads prediction files from a folder (errors list the paths tried). */
export function predictionsFromFolder(predDir: string): Predictor {
  return async (s, input) => {
    const c = predictionCandidates(predDir, s);
    const found = c.find((p) => existsSync(p));
    if (!found) {
      const base = s.id.slice(s.id.lastIndexOf('/') + 1);
      throw new HarmoniaError(`no prediction for ${s.id}: tried ${join(predDir, `{${s.subset}/,}${base}.{${PREDICTION_EXTENSIONS.map((e) => e.slice(1)).join(',')}}`)}`, { file: predDir });
    }
    const pred = await readImage(found);
    // a prediction file must be at its composite's size: resizing it silently would score something else (issue 17)
    const comp = input.composite;
    if (pred.width !== comp.width || pred.height !== comp.height) {
      throw new HarmoniaError(`prediction is ${pred.width}×${pred.height} but its composite ${s.composite} is ${comp.width}×${comp.height}; refusing to resize it (write predictions at the composite's size)`, { file: found });
    }
    return pred;
  };
}

export interface EvaluateDatasetOptions extends EvaluateOptions {
  /** Dataset root or subset folder (iHarmony4 layout). */
  data: string;
  /** List file (e.g. HFlickr_test.txt); default: the dataset's test lists. */
  list?: string;
  split?: Split;
  /** Folder of predictions; without it only the composite baseline is evaluated. */
  pred?: string;
  /** Method name for the predictions in the tables (default "prediction"). */
  name?: string;
  /** Where to write per_image.csv, summary.json and table.md (nothing written when absent). */
  out?: string;
  /**
   * Do no harm: the real photos of the list are the inputs (the predictions are of the real photos, named
   * like the list's composites) and the result carries each method's damage statistics.
   */
  identity?: boolean;
}

/** `harmonia evaluate` as an API: reads the dataset, evaluates, writes the report when `out` is given. */
export async function evaluateDataset(o: EvaluateDatasetOptions): Promise<EvalResult & { files?: EvalFiles }> {
  const samples = await readIHarmonyDataset(o.data, { list: o.list, split: o.list ? o.split : (o.split ?? 'test'), identity: o.identity });
  const methods: Record<string, Predictor> = {};
  if (o.pred) {
    const pred = resolve(o.pred);
    if (!existsSync(pred)) throw new HarmoniaError('prediction folder does not exist', { file: pred });
    methods[o.name ?? 'prediction'] = predictionsFromFolder(pred);
  }
  let r = await evaluateSamples(samples, methods, o);
  if (o.identity) r = withDamage(r);
  if (!o.out) return r;
  return { ...r, files: await writeEvalReport(r, o.out) };
}
