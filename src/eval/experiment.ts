/**
 * `harmonia experiment`: pre-compute the intrinsic stage (cached), train the registered loss settings
 * (the paper's content, mask and feature), evaluate composite / intrinsic / one GAN column per setting
 * on the test split with the evaluator (`evaluateInMemory`, the same scorer as `harmonia evaluate`) and
 * write Table 1 as Markdown, JSON and an HTML page with a Fig. 4-style row of images plus zoomed
 * foreground crops. `runSweep` trains one setting over a grid of loss weights → a table.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { engineInfo } from '../engine/index.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { relativePath, relativizePaths } from '../util/html.ts';
import { writeImage } from '../image/io.ts';
import type { FloatImage } from '../image/types.ts';
import { maskBounds } from '../image/bounds.ts';
import { runGenerator, loadModel } from '../models/index.ts';
import type { LossSetting } from '../losses/index.ts';
import { lossSetting, lossSettingNames, assertLossSetting, sweepableWeights } from '../losses/index.ts';
import { renderTable1Html } from './table1-html.ts';
import type { FigureRow } from './table1-html.ts';
import { mergeTrainConfig, validateTrainConfig } from '../train/config.ts';
import type { PartialTrainConfig, TrainConfig } from '../train/config.ts';
import { settingConfig } from '../train/presets.ts';
import type { ExperimentPreset } from '../train/presets.ts';
import { prepareSplit, toMemorySamples, toImage, toMask } from '../train/dataset.ts';
import type { PreparedSample } from '../train/dataset.ts';
import { memorySource, makeBatch } from '../data/memory.ts';
import { train } from '../train/trainer.ts';
import { findCheckpoint } from '../train/checkpoint.ts';
import { JsonlLog } from '../train/log.ts';
import type { TrainResult } from '../train/trainer.ts';
import { resolveFeatureSource } from '../train/features.ts';
import { evaluateInMemory, COMPOSITE_METHOD } from './evaluate.ts';
import type { EvalResult, GroupSummary, MemoryEvalSample, MemoryPredictor } from './evaluate.ts';

/** The columns of Table 1: the two baselines, then one per registered loss setting (its `column`). */
export function methodColumns(): string[] {
  return ['Composite', 'Intrinsic Compositing', ...lossSettingNames().map((n) => lossSetting(n).column)];
}

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

/** A prepared test sample as the evaluator's in-memory sample (images decoded from bytes when read). */
interface EvalSample extends MemoryEvalSample { prepared: PreparedSample }

function evalSamples(test: readonly PreparedSample[]): EvalSample[] {
  return test.map((s) => ({
    id: s.id,
    prepared: s,
    get composite() { return toImage(s.composite, s.size); },
    get mask() { return toMask(s.mask, s.size); },
    get real() { return toImage(s.real, s.size); },
  }));
}

const INTRINSIC_COLUMN = 'Intrinsic Compositing';

/** Evaluates the composite baseline, the intrinsic stage and `methods` on the test split (the evaluator of eval/evaluate.ts). */
async function evaluateTest(
  test: readonly PreparedSample[], methods: Record<string, MemoryPredictor<EvalSample>>, opts: { evalSize: number; weightsDir?: string; quiet?: boolean; onPrediction?: (id: string, method: string, img: FloatImage) => void },
): Promise<EvalResult> {
  return evaluateInMemory(evalSamples(test), { [INTRINSIC_COLUMN]: (s) => toImage(s.prepared.semi, s.prepared.size), ...methods }, {
    size: opts.evalSize, lpips: 'alex', weightsDir: opts.weightsDir, quiet: opts.quiet, progressLabel: 'evaluate test split', onPrediction: opts.onPrediction,
  });
}

/** One Table 1 column from the evaluator's "All" summary of a method (undefined = not trained: n/a). */
function tableColumn(method: string, g: GroupSummary | undefined): Table1Column {
  if (!g) return { method, images: 0, psnr: NaN, mse: NaN, fmse: null, fpsnr: null, ssim: NaN, lpips: null, fmseWorseThanComposite: null };
  return {
    method, images: g.n, psnr: g.psnr ?? NaN, mse: g.mse ?? NaN, fmse: g.fmse, fpsnr: g.fpsnr, ssim: g.ssim ?? NaN, lpips: g.lpips,
    fmseWorseThanComposite: g.worseFmse ? g.worseFmse.share : null,
  };
}

/** The evaluator's LPIPS status as Table 1 prints it, and the note when it was not computed. */
function lpipsLabel(r: EvalResult): { label: string; note?: string } {
  return r.lpips.available ? { label: `LPIPS v0.1 ${r.lpips.net}` } : { label: r.lpips.note, note: `LPIPS not computed: ${r.lpips.note}` };
}

/** True when the last event in runDir's log is `done` (the run finished and saved its final generator). */
function runFinished(runDir: string): boolean {
  const events = new JsonlLog(join(runDir, 'log.jsonl')).read().filter((r) => r.type === 'event');
  return events.length > 0 && events[events.length - 1].event === 'done';
}

/** Trains one setting into runDir, reusing a finished run and resuming a checkpoint unless `overwrite`. */
export async function trainSetting(
  cfg: TrainConfig, runDir: string, trainSet: readonly PreparedSample[], samples: PreparedSample[],
  opts: { overwrite?: boolean; quiet?: boolean; setting: LossSetting; trainedOn?: string },
): Promise<{ generator: tf.LayersModel; run: RunSummary }> {
  validateTrainConfig(cfg);
  const t0 = Date.now();
  // generator/ is also written at every epoch end and when a run stops early: only a run whose log ends
  // with its `done` event (appended after the final generator) is reused; any other is resumed
  if (!opts.overwrite && runFinished(runDir) && existsSync(join(runDir, 'generator', 'harmonia.json')) && existsSync(join(runDir, 'config.json'))) {
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

/** Bounding box of the foreground (mask > 127, i.e. maskBounds), padded by 15% and made square, clamped to the image. */
export function foregroundBox(mask: Uint8Array, size: number): { x: number; y: number; side: number } {
  const b = maskBounds(toMask(mask, size));
  if (!b) return { x: 0, y: 0, side: size };
  const side = Math.min(size, Math.max(8, Math.round(Math.max(b.w, b.h) * 1.3)));
  const cx = b.x + b.w / 2, cy = b.y + b.h / 2;
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

/**
 * Table 1 as Markdown (metrics as rows, methods as columns, like the paper). With `base` (the folder the
 * file is written to), the data and run folders are shown relative to it, not as the machine's absolute paths.
 */
export function table1Markdown(t: Table1, base?: string): string {
  const cols = t.columns;
  const where = (p: string) => (base ? relativePath(p, base) : p);
  const row = (label: string, f: (c: Table1Column) => string) => `| ${label} | ${cols.map(f).join(' | ')} |`;
  const lines = [
    `# Table 1: harmonization results (preset \`${t.preset}\`)`,
    '',
    ...t.notes.flatMap((n) => [`> **Note:** ${n}`, '']),
    `Data: \`${where(t.data)}\`: ${t.trainImages} training and ${t.testImages} test images, evaluated at ${t.evalSize}×${t.evalSize}. Backend: ${t.backend}. Preset: ${t.presetDescription}.`,
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
    ...t.runs.map((r) => `| ${r.setting} | ${r.status} | ${r.steps < 0 ? '(earlier run)' : r.steps} | ${r.seconds.toFixed(0)} | ${Object.entries(r.lastLosses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ') || '–'} | \`${where(r.runDir)}\` |`),
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
  const figureIds = pickFigureSamples(testSet, p.figureCount);
  const figureImages = new Map<string, Partial<Record<string, FloatImage>>>();
  for (const s of testSet) if (figureIds.has(s.id)) figureImages.set(s.id, { Real: toImage(s.real, s.size) });
  const runs: RunSummary[] = [];
  const generators: Record<string, tf.LayersModel> = {};
  try {
    for (const setting of settings) {
      const cfg = settingConfig({ ...p, train: base }, setting, opts.overrides?.epochs);
      const { generator, run } = await trainSetting(cfg, join(out, 'runs', setting), trainSet, trainSet.slice(0, p.train.sampleCount), { overwrite: opts.overwrite, quiet: opts.quiet, setting, trainedOn: resolve(opts.data) });
      generators[lossSetting(setting).column] = generator;
      runs.push(run);
      for (const n of run.notes) if (!notes.includes(n)) notes.push(n);
    }
    const methods: Record<string, MemoryPredictor<EvalSample>> = {};
    for (const [col, g] of Object.entries(generators)) methods[col] = (s) => predictSample(g, s.prepared);
    const r = await evaluateTest(testSet, methods, {
      evalSize: p.evalSize, weightsDir: opts.weightsDir, quiet: opts.quiet,
      onPrediction: (id, method, img) => { const fig = figureImages.get(id); if (fig) fig[method === COMPOSITE_METHOD ? 'Composite' : method] = img; },
    });
    const lp = lpipsLabel(r);
    if (lp.note) notes.push(lp.note);
    const columns = methodColumns().map((col) => tableColumn(col, r.summary[col === 'Composite' ? COMPOSITE_METHOD : col]?.All));
    const table: Table1 = {
      preset: p.name, presetDescription: p.description, data: resolve(opts.data), trainImages: trainSet.length, testImages: testSet.length,
      evalSize: p.evalSize, backend: `${engineInfo()?.backend ?? 'unknown'}, ${base.workers} worker(s)`, protocol: r.protocol, notes,
      lpips: lp.label, columns, runs, createdAt: new Date().toISOString(),
    };
    await writeReport(out, table, testSet, figureImages);
    return table;
  } finally {
    for (const g of Object.values(generators)) g.dispose();
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

async function writeReport(out: string, table: Table1, test: readonly PreparedSample[], figures: Map<string, Partial<Record<string, FloatImage>>>): Promise<void> {
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
  // the pages show paths relative to themselves (or ~/…), never the machine's absolute folders
  const md = relativizePaths(table1Markdown(table, out), out);
  await writeFileAtomic(join(out, 'table1.md'), md, { mkdir: true });
  await writeFileAtomic(join(out, 'table1.json'), JSON.stringify(table, null, 1));
  await writeFileAtomic(join(out, 'table1.html'), renderTable1Html({ preset: table.preset, notes: table.notes.map((n) => relativizePaths(n, out)) }, md, rows));
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

/** The sweep table as Markdown; with `base` (its folder) the data folder is shown relative to it. */
export function sweepMarkdown(t: SweepTable, base?: string): string {
  const keys = t.rows.length ? Object.keys(t.rows[0].weights) : [];
  const line = (label: string, c: Table1Column) => `| ${label} | ${fmt(c.psnr, 2)} | ${c.lpips === null ? 'n/a' : c.lpips.toFixed(4)} | ${fmt(c.mse, 2)} | ${fmt(c.fmse, 1)} | ${fmt(c.ssim, 4)} | ${c.fmseWorseThanComposite === null ? '–' : `${(100 * c.fmseWorseThanComposite).toFixed(1)}%`} |`;
  return [
    `# Loss-weight sweep: setting \`${t.setting}\`, preset \`${t.preset}\``,
    '',
    ...t.notes.flatMap((n) => [`> **Note:** ${n}`, '']),
    `Data: \`${base ? relativePath(t.data, base) : t.data}\`. LPIPS: ${t.lpips}.`,
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
  const generators: Record<string, tf.LayersModel> = {};
  try {
    const trained: { weights: Record<string, number>; method: string; run: RunSummary }[] = [];
    for (const pt of points) {
      const cfg = settingConfig({ ...p, train: base }, opts.setting, opts.overrides?.epochs);
      cfg.loss = { ...cfg.loss, ...pt };
      const tag = Object.entries(pt).map(([k, v]) => `${k}-${v}`).join('_');
      const { generator, run } = await trainSetting(cfg, join(out, 'runs', `${opts.setting}_${tag}`), trainSet, trainSet.slice(0, p.train.sampleCount), { overwrite: opts.overwrite, quiet: opts.quiet, setting: opts.setting, trainedOn: resolve(opts.data) });
      for (const n of run.notes) if (!notes.includes(n)) notes.push(n);
      const method = `${opts.setting} ${tag}`;
      generators[method] = generator;
      trained.push({ weights: pt, method, run });
    }
    const methods: Record<string, MemoryPredictor<EvalSample>> = {};
    for (const [m, g] of Object.entries(generators)) methods[m] = (s) => predictSample(g, s.prepared);
    const r = await evaluateTest(testSet, methods, { evalSize: p.evalSize, weightsDir: opts.weightsDir, quiet: opts.quiet });
    const rows: SweepRow[] = trained.map((t) => ({ weights: t.weights, summary: tableColumn(t.method, r.summary[t.method].All), run: t.run }));
    const table: SweepTable = {
      preset: p.name, setting: opts.setting, data: resolve(opts.data), notes, lpips: lpipsLabel(r).label, protocol: r.protocol, rows,
      baseline: [tableColumn('Composite', r.summary[COMPOSITE_METHOD].All), tableColumn(INTRINSIC_COLUMN, r.summary[INTRINSIC_COLUMN].All)],
    };
    await writeFileAtomic(join(out, 'sweep.md'), sweepMarkdown(table, out), { mkdir: true });
    await writeFileAtomic(join(out, 'sweep.json'), JSON.stringify(table, null, 1));
    return table;
  } finally {
    for (const g of Object.values(generators)) g.dispose();
  }
}
