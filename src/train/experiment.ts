/**
 * `harmonia experiment`: pre-compute the intrinsic stage (cached), train the three loss settings,
 * evaluate composite / intrinsic / GAN+content / GAN+mask / GAN+feature on the test split and
 * write Table 1 as Markdown, JSON and an HTML page with a Fig. 4-style row of images plus zoomed
 * foreground crops. `runSweep` trains one setting over a grid of loss weights → a table.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { engineInfo } from '../engine/index.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { writeImage } from '../image/io.ts';
import type { FloatImage } from '../image/types.ts';
import { imageMetrics, toEvalImage, toEvalMask } from '../metrics/index.ts';
import type { ImageMetrics } from '../metrics/index.ts';
import { runGenerator, loadModel } from '../models/index.ts';
import { loadLpips, lpipsFiles } from '../models/lpips.ts';
import type { Lpips } from '../models/lpips.ts';
import type { LossSetting } from '../losses/index.ts';
import { lossSetting, lossSettingNames, assertLossSetting, sweepableWeights } from '../losses/index.ts';
import { renderTable1Html } from '../report/html.ts';
import type { FigureRow } from '../report/html.ts';
import { mergeTrainConfig, validateTrainConfig } from './config.ts';
import type { PartialTrainConfig, TrainConfig } from './config.ts';
import { settingConfig } from './presets.ts';
import type { ExperimentPreset } from './presets.ts';
import { prepareSplit, toMemorySamples, toImage, toMask } from './dataset.ts';
import type { PreparedSample } from './dataset.ts';
import { memorySource, makeBatch } from './memory.ts';
import { train } from './trainer.ts';
import { findCheckpoint } from './checkpoint.ts';
import type { TrainResult } from './trainer.ts';
import { resolveFeatureSource } from './features.ts';

/** The columns of Table 1: the two baselines, then one per registered loss setting (its `column`). */
export function methodColumns(): string[] {
  return ['Composite', 'Intrinsic Compositing', ...lossSettingNames().map((n) => lossSetting(n).column)];
}
export type MethodColumn = string;

export const PROTOCOL = 'Protocol: composite, prediction and real image resized to the evaluation size (bilinear; mask nearest, foreground = mask > 0.5); ' +
  'metrics on 0–255 floats: PSNR = 10·log10(255²/MSE) over all 3·H·W values, fMSE over foreground pixels, SSIM, LPIPS v0.1 (alex); ' +
  'per-image means over the whole test split; the ground-truth background is never pasted back.';

export interface Table1Column {
  method: string;
  images: number;
  psnr: number;
  mse: number;
  fmse: number | null;
  fpsnr: number | null;
  ssim: number;
  /** null = LPIPS weights not available. */
  lpips: number | null;
  /** Share of images whose fMSE is worse than the composite's. */
  fmseWorseThanComposite: number | null;
}

export interface RunSummary {
  setting: LossSetting;
  runDir: string;
  status: TrainResult['status'] | 'reused';
  steps: number;
  seconds: number;
  lastLosses: Record<string, number>;
  notes: string[];
}

export interface Table1 {
  preset: string;
  presetDescription: string;
  data: string;
  trainImages: number;
  testImages: number;
  evalSize: number;
  backend: string;
  protocol: string;
  /** Lines every reader must see (random VGG-19 features, missing LPIPS weights, …). */
  notes: string[];
  lpips: string;
  columns: Table1Column[];
  runs: RunSummary[];
  createdAt: string;
}

export interface ExperimentOptions {
  preset: ExperimentPreset;
  data: string;
  out: string;
  /** Settings to train (default every registered one); the table still lists every column (untrained = n/a). */
  settings?: LossSetting[];
  /** Overrides of the preset's training config (workers, seed, vggWeights, allowRandomFeatures, …). */
  overrides?: PartialTrainConfig;
  /** Start the runs over instead of reusing finished runs / resuming checkpoints. */
  overwrite?: boolean;
  quiet?: boolean;
  /** Cache folder for the intrinsic stage (default <out>/cache). */
  cacheDir?: string;
  /** LPIPS weights folder (default: the weights folder). */
  weightsDir?: string;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

function meanOrNull(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? mean(v) : null;
}

/** G's prediction for one prepared sample (from the semi-harmonized image), as a FloatImage. */
export function predictSample(g: tf.LayersModel, s: PreparedSample): FloatImage {
  const out = tf.tidy(() => {
    const x = tf.tensor4d(toImage(s.semi, s.size).data, [1, s.size, s.size, 3]);
    const m = tf.tensor4d(toMask(s.mask, s.size).data, [1, s.size, s.size, 1]);
    return tf.clipByValue(runGenerator(g, x, m), 0, 1);
  });
  const data = new Float32Array(out.dataSync());
  out.dispose();
  return { width: s.size, height: s.size, channels: 3, data };
}

interface PerImage { metrics: ImageMetrics; lpips: number | null }

async function scoreImage(pred: FloatImage, s: PreparedSample, evalSize: number, lpips: Lpips | undefined): Promise<PerImage> {
  const gt = toEvalImage(toImage(s.real, s.size), evalSize, 'real');
  const p = toEvalImage(pred, evalSize, 'prediction');
  const m = toEvalMask(toMask(s.mask, s.size), evalSize);
  return { metrics: imageMetrics(p, gt, m), lpips: lpips ? await lpips.distance(p, gt) : null };
}

function summarise(method: string, rows: PerImage[], composite?: PerImage[]): Table1Column {
  let worse: number | null = null;
  if (composite) {
    const pairs = rows.map((r, i) => [r.metrics.fmse, composite[i].metrics.fmse] as const).filter(([a, b]) => a !== null && b !== null);
    worse = pairs.length ? pairs.filter(([a, b]) => (a as number) > (b as number)).length / pairs.length : null;
  }
  return {
    method,
    images: rows.length,
    psnr: mean(rows.map((r) => r.metrics.psnr)),
    mse: mean(rows.map((r) => r.metrics.mse)),
    fmse: meanOrNull(rows.map((r) => r.metrics.fmse)),
    fpsnr: meanOrNull(rows.map((r) => r.metrics.fpsnr)),
    ssim: mean(rows.map((r) => r.metrics.ssim)),
    lpips: meanOrNull(rows.map((r) => r.lpips)),
    fmseWorseThanComposite: worse,
  };
}

async function openLpips(weightsDir?: string): Promise<{ lpips?: Lpips; label: string }> {
  const f = lpipsFiles('alex', { dir: weightsDir });
  if (!f.available) return { label: `n/a (no weights: ${f.backbone} and ${f.lin} are needed)` };
  return { lpips: await loadLpips('alex', { dir: weightsDir }), label: 'LPIPS v0.1 alex' };
}

/** Trains one setting into runDir, reusing a finished run and resuming a checkpoint unless `overwrite`. */
export async function trainSetting(
  cfg: TrainConfig, runDir: string, trainSet: readonly PreparedSample[], samples: PreparedSample[],
  opts: { overwrite?: boolean; quiet?: boolean; setting: LossSetting; trainedOn?: string },
): Promise<{ generator: tf.LayersModel; run: RunSummary }> {
  validateTrainConfig(cfg);
  const t0 = Date.now();
  // harmonia.json is the last file of a model folder: a run killed while saving it is resumed, not reused
  if (!opts.overwrite && existsSync(join(runDir, 'generator', 'model.json')) && existsSync(join(runDir, 'generator', 'harmonia.json')) && existsSync(join(runDir, 'config.json'))) {
    const saved = JSON.parse(await (await import('node:fs/promises')).readFile(join(runDir, 'config.json'), 'utf8')) as { config: TrainConfig; notes: string[] };
    if (JSON.stringify({ ...saved.config, workers: 0 }) === JSON.stringify({ ...cfg, workers: 0 })) {
      return {
        generator: await loadModel(join(runDir, 'generator')),
        run: { setting: opts.setting, runDir, status: 'reused', steps: -1, seconds: 0, lastLosses: {}, notes: saved.notes },
      };
    }
  }
  const size = trainSet[0].size;
  const data = memorySource(toMemorySamples(trainSet), { height: size, width: size, batchSize: cfg.batchSize, seed: cfg.seed, flip: cfg.flip, crop: cfg.crop });
  const sampleBatch = makeBatch(toMemorySamples(samples), size, size);
  const resume = !opts.overwrite && findCheckpoint(runDir) !== undefined;
  const r = await train({ config: cfg, runDir, data, samples: sampleBatch, resume, overwrite: opts.overwrite || !resume, quiet: opts.quiet, trainedOn: opts.trainedOn });
  if (r.status !== 'done') {
    r.generator.dispose();
    throw new HarmoniaError(`training ${opts.setting} stopped: ${r.message}`, { exitCode: 3 });
  }
  return {
    generator: r.generator,
    run: { setting: opts.setting, runDir, status: r.status, steps: r.steps, seconds: (Date.now() - t0) / 1000, lastLosses: r.lastLosses, notes: r.notes },
  };
}

/** Bounding box of the foreground (mask > 127), padded by 15% and made square, clamped to the image. */
export function foregroundBox(mask: Uint8Array, size: number): { x: number; y: number; side: number } {
  let x0 = size, y0 = size, x1 = -1, y1 = -1;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    if (mask[y * size + x] > 127) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
  }
  if (x1 < 0) return { x: 0, y: 0, side: size };
  const side = Math.min(size, Math.max(8, Math.round(Math.max(x1 - x0 + 1, y1 - y0 + 1) * 1.3)));
  const cx = (x0 + x1 + 1) / 2, cy = (y0 + y1 + 1) / 2;
  const x = Math.min(size - side, Math.max(0, Math.round(cx - side / 2)));
  const y = Math.min(size - side, Math.max(0, Math.round(cy - side / 2)));
  return { x, y, side };
}

/** A square crop of an image, scaled (nearest) to `out` pixels. */
export function zoomCrop(img: FloatImage, box: { x: number; y: number; side: number }, out: number): FloatImage {
  const data = new Float32Array(out * out * 3);
  for (let y = 0; y < out; y++) for (let x = 0; x < out; x++) {
    const sx = box.x + Math.min(box.side - 1, Math.floor((x * box.side) / out));
    const sy = box.y + Math.min(box.side - 1, Math.floor((y * box.side) / out));
    for (let c = 0; c < 3; c++) data[(y * out + x) * 3 + c] = img.data[(sy * img.width + sx) * 3 + c];
  }
  return { width: out, height: out, channels: 3, data };
}

function fmt(v: number | null, digits: number): string {
  return v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
}

/** Table 1 as Markdown (metrics as rows, methods as columns, like the paper). */
export function table1Markdown(t: Table1): string {
  const cols = t.columns;
  const row = (label: string, f: (c: Table1Column) => string) => `| ${label} | ${cols.map(f).join(' | ')} |`;
  const lines = [
    `# Table 1: harmonization results (preset \`${t.preset}\`)`,
    '',
    ...t.notes.flatMap((n) => [`> **Note:** ${n}`, '']),
    `Data: \`${t.data}\`: ${t.trainImages} training and ${t.testImages} test images, evaluated at ${t.evalSize}×${t.evalSize}. Backend: ${t.backend}. Preset: ${t.presetDescription}.`,
    '',
    `| Metric | ${cols.map((c) => c.method).join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
    row('PSNR (dB) ↑', (c) => fmt(c.images ? c.psnr : null, 2)),
    row('LPIPS ↓', (c) => (c.images === 0 ? 'n/a' : c.lpips === null ? 'n/a (no weights)' : c.lpips.toFixed(4))),
    row('MSE ↓', (c) => fmt(c.images ? c.mse : null, 2)),
    row('fMSE ↓', (c) => fmt(c.images ? c.fmse : null, 1)),
    row('fPSNR (dB) ↑', (c) => fmt(c.images ? c.fpsnr : null, 2)),
    row('SSIM ↑', (c) => fmt(c.images ? c.ssim : null, 4)),
    row('fMSE worse than composite ↓', (c) => (c.fmseWorseThanComposite === null ? '–' : `${(100 * c.fmseWorseThanComposite).toFixed(1)}%`)),
    '',
    `LPIPS: ${t.lpips}.`,
    '',
    t.protocol,
    '',
    '## Training runs',
    '',
    '| Setting | Status | Steps | Time (s) | Final epoch mean losses | Run folder |',
    '|---|---|---|---|---|---|',
    ...t.runs.map((r) => `| ${r.setting} | ${r.status} | ${r.steps < 0 ? '(earlier run)' : r.steps} | ${r.seconds.toFixed(0)} | ${Object.entries(r.lastLosses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ') || '–'} | \`${r.runDir}\` |`),
    '',
  ];
  return lines.join('\n');
}

/** Runs the whole experiment; returns Table 1 (also written to <out>/table1.{md,json,html}). */
export async function runExperiment(opts: ExperimentOptions): Promise<Table1> {
  const p = opts.preset;
  const out = resolve(opts.out);
  const settings = opts.settings ?? lossSettingNames();
  for (const s of settings) assertLossSetting(s, '--settings');
  const base = mergeTrainConfig(p.train, opts.overrides ?? {});
  if (base.size !== p.evalSize) throw new HarmoniaError(`preset ${p.name}: train.size ${base.size} must equal evalSize ${p.evalSize}`);
  const notes: string[] = [];
  if (settings.some((s) => lossSetting(s).needsFeatures)) {
    // fail before any long work when the feature setting cannot run
    const src = resolveFeatureSource({ vggWeights: base.vggWeights, allowRandom: base.allowRandomFeatures, layers: base.loss.featureLayers, seed: base.seed });
    if (src.note) notes.push(src.note);
  }
  const cacheRoot = opts.cacheDir ?? join(out, 'cache');
  const trainSet = await prepareSplit(opts.data, 'train', { size: p.evalSize, cacheRoot, intrinsic: p.intrinsic, limit: p.trainLimit, quiet: opts.quiet });
  const testSet = await prepareSplit(opts.data, 'test', { size: p.evalSize, cacheRoot, intrinsic: p.intrinsic, limit: p.testLimit, quiet: opts.quiet });
  if (trainSet.length < base.batchSize) throw new HarmoniaError(`${opts.data}: ${trainSet.length} training images is fewer than one batch of ${base.batchSize}`);
  const { lpips, label: lpipsLabel } = await openLpips(opts.weightsDir);
  if (!lpips) notes.push(`LPIPS not computed: ${lpipsLabel}`);

  const scores: Partial<Record<MethodColumn, PerImage[]>> = {};
  const figureIds = pickFigureSamples(testSet, p.figureCount);
  const figureImages = new Map<string, Partial<Record<MethodColumn | 'Real', FloatImage>>>();
  for (const s of testSet) if (figureIds.has(s.id)) figureImages.set(s.id, { Real: toImage(s.real, s.size) });
  const score = async (col: MethodColumn, predict: (s: PreparedSample) => FloatImage) => {
    const rows: PerImage[] = [];
    for (const s of testSet) {
      const pred = predict(s);
      rows.push(await scoreImage(pred, s, p.evalSize, lpips));
      const fig = figureImages.get(s.id);
      if (fig) fig[col] = pred;
    }
    scores[col] = rows;
  };
  try {
    await score('Composite', (s) => toImage(s.composite, s.size));
    await score('Intrinsic Compositing', (s) => toImage(s.semi, s.size));
    const runs: RunSummary[] = [];
    for (const setting of settings) {
      const cfg = settingConfig({ ...p, train: base }, setting, opts.overrides?.epochs);
      const { generator, run } = await trainSetting(cfg, join(out, 'runs', setting), trainSet, trainSet.slice(0, p.train.sampleCount), { overwrite: opts.overwrite, quiet: opts.quiet, setting, trainedOn: resolve(opts.data) });
      runs.push(run);
      for (const n of run.notes) if (!notes.includes(n)) notes.push(n);
      try {
        await score(lossSetting(setting).column, (s) => predictSample(generator, s));
      } finally {
        generator.dispose();
      }
    }
    const comp = scores.Composite!;
    const columns = methodColumns().map((col) => {
      const rows = scores[col];
      if (!rows) return { method: col, images: 0, psnr: NaN, mse: NaN, fmse: null, fpsnr: null, ssim: NaN, lpips: null, fmseWorseThanComposite: null };
      return summarise(col, rows, col === 'Composite' ? undefined : comp);
    });
    const table: Table1 = {
      preset: p.name, presetDescription: p.description, data: resolve(opts.data), trainImages: trainSet.length, testImages: testSet.length,
      evalSize: p.evalSize, backend: `${engineInfo()?.backend ?? 'unknown'}, ${base.workers} worker(s)`, protocol: PROTOCOL, notes,
      lpips: lpipsLabel, columns, runs, createdAt: new Date().toISOString(),
    };
    await writeReport(out, table, testSet, figureImages);
    return table;
  } finally {
    lpips?.dispose();
  }
}

/** The `count` test samples with the largest composite foreground error (the most visible cases). */
function pickFigureSamples(test: readonly PreparedSample[], count: number): Set<string> {
  const err = test.map((s) => {
    let e = 0, n = 0;
    for (let i = 0; i < s.mask.length; i++) {
      if (s.mask[i] > 127) { for (let c = 0; c < 3; c++) e += (s.composite[i * 3 + c] - s.real[i * 3 + c]) ** 2; n++; }
    }
    return { id: s.id, e: n ? e / n : 0 };
  });
  err.sort((a, b) => b.e - a.e);
  return new Set(err.slice(0, count).map((x) => x.id));
}

async function writeReport(out: string, table: Table1, test: readonly PreparedSample[], figures: Map<string, Partial<Record<MethodColumn | 'Real', FloatImage>>>): Promise<void> {
  const rows: FigureRow[] = [];
  let k = 0;
  for (const s of test) {
    const imgs = figures.get(s.id);
    if (!imgs) continue;
    const box = foregroundBox(s.mask, s.size);
    const cells: FigureRow['cells'] = [];
    for (const col of [...methodColumns(), 'Real']) {
      const img = imgs[col];
      if (!img) { cells.push({ label: col }); continue; }
      const slug = col.toLowerCase().replace(/[^a-z]+/g, '-');
      const full = `figures/${k}-${slug}.png`, zoom = `figures/${k}-${slug}-zoom.png`;
      await writeImage(join(out, full), img, { mkdir: true });
      await writeImage(join(out, zoom), zoomCrop(img, box, Math.max(96, Math.min(256, s.size))), { mkdir: true });
      cells.push({ label: col, image: full, zoom });
    }
    rows.push({ id: s.id, cells });
    k++;
  }
  await writeFileAtomic(join(out, 'table1.md'), table1Markdown(table), { mkdir: true });
  await writeFileAtomic(join(out, 'table1.json'), JSON.stringify(table, null, 1));
  await writeFileAtomic(join(out, 'table1.html'), renderTable1Html(table, table1Markdown(table), rows));
}

export interface SweepOptions {
  preset: ExperimentPreset;
  data: string;
  out: string;
  setting: LossSetting;
  /**
   * Values to try per loss weight, by LossConfig key (the grid is their product); the keys are the
   * setting's sweepable weights and the add-on terms' (`sweepableWeights`); unnamed weights keep the preset's value.
   */
  grid: Partial<Record<string, number[]>>;
  overrides?: PartialTrainConfig;
  overwrite?: boolean;
  quiet?: boolean;
  cacheDir?: string;
  weightsDir?: string;
}

export interface SweepRow { weights: Record<string, number>; summary: Table1Column; run: RunSummary }
export interface SweepTable { preset: string; setting: LossSetting; data: string; notes: string[]; lpips: string; baseline: Table1Column[]; rows: SweepRow[]; protocol: string }

export function sweepMarkdown(t: SweepTable): string {
  const keys = t.rows.length ? Object.keys(t.rows[0].weights) : [];
  const line = (label: string, c: Table1Column) => `| ${label} | ${fmt(c.psnr, 2)} | ${c.lpips === null ? 'n/a' : c.lpips.toFixed(4)} | ${fmt(c.mse, 2)} | ${fmt(c.fmse, 1)} | ${fmt(c.ssim, 4)} | ${c.fmseWorseThanComposite === null ? '–' : `${(100 * c.fmseWorseThanComposite).toFixed(1)}%`} |`;
  return [
    `# Loss-weight sweep: setting \`${t.setting}\`, preset \`${t.preset}\``,
    '',
    ...t.notes.flatMap((n) => [`> **Note:** ${n}`, '']),
    `Data: \`${t.data}\`. LPIPS: ${t.lpips}.`,
    '',
    '| Weights | PSNR ↑ | LPIPS ↓ | MSE ↓ | fMSE ↓ | SSIM ↑ | fMSE worse than composite ↓ |',
    '|---|---|---|---|---|---|---|',
    ...t.baseline.map((b) => line(b.method, b)),
    ...t.rows.map((r) => line(keys.map((k) => `${k}=${r.weights[k]}`).join(', '), r.summary)),
    '',
    t.protocol,
    '',
  ].join('\n');
}

/** Trains `setting` once per point of the weight grid and evaluates each on the test split. */
export async function runSweep(opts: SweepOptions): Promise<SweepTable> {
  const p = opts.preset;
  const out = resolve(opts.out);
  const base = mergeTrainConfig(p.train, opts.overrides ?? {});
  assertLossSetting(opts.setting, 'sweep: setting');
  const names = Object.keys(opts.grid).filter((k) => opts.grid[k]?.length);
  const sweepable = sweepableWeights(opts.setting).map((w) => w.key);
  for (const k of names) if (!sweepable.includes(k)) throw new HarmoniaError(`sweep: ${k} is not a weight of the ${opts.setting} setting (sweepable: ${sweepable.join(', ')})`);
  if (names.length === 0) throw new HarmoniaError('sweep: give at least one list of loss weights (e.g. --lambda-mask 1,10,100)');
  let points: Record<string, number>[] = [{}];
  for (const k of names) points = points.flatMap((pt) => opts.grid[k]!.map((v) => ({ ...pt, [k]: v })));
  const notes: string[] = [];
  if (lossSetting(opts.setting).needsFeatures) {
    const src = resolveFeatureSource({ vggWeights: base.vggWeights, allowRandom: base.allowRandomFeatures, layers: base.loss.featureLayers, seed: base.seed });
    if (src.note) notes.push(src.note);
  }
  const cacheRoot = opts.cacheDir ?? join(out, 'cache');
  const trainSet = await prepareSplit(opts.data, 'train', { size: p.evalSize, cacheRoot, intrinsic: p.intrinsic, limit: p.trainLimit, quiet: opts.quiet });
  const testSet = await prepareSplit(opts.data, 'test', { size: p.evalSize, cacheRoot, intrinsic: p.intrinsic, limit: p.testLimit, quiet: opts.quiet });
  const { lpips, label } = await openLpips(opts.weightsDir);
  try {
    const scoreAll = async (predict: (s: PreparedSample) => FloatImage) => {
      const rows: PerImage[] = [];
      for (const s of testSet) rows.push(await scoreImage(predict(s), s, p.evalSize, lpips));
      return rows;
    };
    const comp = await scoreAll((s) => toImage(s.composite, s.size));
    const semi = await scoreAll((s) => toImage(s.semi, s.size));
    const rows: SweepRow[] = [];
    for (const pt of points) {
      const cfg = settingConfig({ ...p, train: base }, opts.setting, opts.overrides?.epochs);
      cfg.loss = { ...cfg.loss, ...pt };
      const tag = Object.entries(pt).map(([k, v]) => `${k}-${v}`).join('_');
      const { generator, run } = await trainSetting(cfg, join(out, 'runs', `${opts.setting}_${tag}`), trainSet, trainSet.slice(0, p.train.sampleCount), { overwrite: opts.overwrite, quiet: opts.quiet, setting: opts.setting, trainedOn: resolve(opts.data) });
      for (const n of run.notes) if (!notes.includes(n)) notes.push(n);
      try {
        rows.push({ weights: pt, summary: summarise(`${opts.setting} ${tag}`, await scoreAll((s) => predictSample(generator, s)), comp), run });
      } finally {
        generator.dispose();
      }
    }
    const table: SweepTable = {
      preset: p.name, setting: opts.setting, data: resolve(opts.data), notes, lpips: label, protocol: PROTOCOL, rows,
      baseline: [summarise('Composite', comp), summarise('Intrinsic Compositing', semi, comp)],
    };
    await writeFileAtomic(join(out, 'sweep.md'), sweepMarkdown(table), { mkdir: true });
    await writeFileAtomic(join(out, 'sweep.json'), JSON.stringify(table, null, 1));
    return table;
  } finally {
    lpips?.dispose();
  }
}
