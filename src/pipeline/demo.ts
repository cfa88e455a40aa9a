/**
 * The built-in default job (`npm start`): procedural composites with known ground truth (and, when
 * the project's shared data is present, a few genuine composites), harmonized by the full pipeline,
 * measured against ground truth, written as an HTML report with before/after images.
 */
import { existsSync, readdirSync, mkdirSync } from 'node:fs';
import { join, resolve, extname, basename } from 'node:path';
import { initEngine } from '../engine/index.ts';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, describeMkdirError } from '../util/atomic.ts';
import { readImage, readMask, writeImage, writeMask } from '../image/io.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { makeProceduralComposite } from '../data/procedural.ts';
import { imageMetrics, meanOf, type ImageMetrics } from '../metrics/index.ts';
import { Progress } from '../util/progress.ts';
import { Rng } from '../util/random.ts';
import { CompositeSynthesizer } from '../data/stream.ts';
import { renderDemoPage, type DemoRow } from '../report/demoPage.ts';
import { CHART_PALETTE, type BarChart } from '../util/chart.ts';
import { relativePath, relativizePaths } from '../util/html.ts';
import { damageSummary, type DamageSummary } from '../eval/damage.ts';
import { harmonizeImage, type HarmonizationModel } from './refine.ts';
import { DEFAULT_MODEL_DIR, isModelDir, loadHarmonizationModel } from './model.ts';
import { generatorKind } from '../models/registry.ts';

export interface DemoOptions {
  outDir?: string;
  /** Procedural composites to make (default 8). */
  count?: number;
  /** Their size (default 256). */
  size?: number;
  seed?: number;
  /**
   * Real photos + masks (iHarmony4-style source) whose test split gives composites with ground truth,
   * synthesised here with the project's own generator; default ../shared/data/lalonde-real when
   * present; null = none.
   */
  realPhotos?: string | null;
  /** How many real-photo composites to score (default 24). */
  realPhotoCount?: number;
  /** Folder of genuine composites + masks (iHarmony4-like: composite_images/, masks/); default ../shared/data/lalonde-composites when present. */
  realComposites?: string | null;
  /** How many genuine composites to show (default 6). */
  realCount?: number;
  modelDir?: string;
  quiet?: boolean;
}

/** Mean metrics of one method over one set. */
export interface DemoMeans { mse: number; psnr: number; fmse: number | null; ssim: number | null; worseShare: number | null }

export interface DemoSummary {
  outDir: string;
  report: string;
  backend: string;
  model: string | null;
  procedural: number;
  /** Real-photo composites scored (0 when no real photos were available). */
  realScored: number;
  real: number;
  /** Mean metrics per method over the procedural composites. */
  means: Record<string, DemoMeans>;
  /** Mean metrics per method over the real-photo composites (empty when none). */
  realMeans: Record<string, DemoMeans>;
  /**
   * Do no harm: the model on the real photos themselves (the same test-split photos, unchanged), where every
   * unit of fMSE is damage (null without real photos or without a model).
   */
  damage: DamageSummary | null;
  /** One line per set: the model's fMSE against the composite's, and whether it is lower; then the do-no-harm line. */
  summary: string[];
}

const fmt = (v: number | null, d = 2): string => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));

interface Scene { name: string; title: string; composite: FloatImage; mask: Mask; real: FloatImage }

const LABELS: Record<string, string> = { composite: 'composite (no change)', intrinsic: 'intrinsic stage', full: 'harmonized (default model)' };

/** Harmonizes every scene with each method, writes the images, and returns the rows and per-method means. */
async function scoreScenes(scenes: Scene[], methods: string[], model: HarmonizationModel | undefined, outDir: string, progress: Progress): Promise<{ rows: DemoRow[]; means: Record<string, DemoMeans>; tableRows: string[][] }> {
  const per: Record<string, ImageMetrics[]> = Object.fromEntries(methods.map((m) => [m, []]));
  const rows: DemoRow[] = [];
  for (const sc of scenes) {
    const outputs: Record<string, FloatImage> = { composite: sc.composite, intrinsic: harmonizeImage(sc.composite, sc.mask, undefined, { stage: 'intrinsic' }).result };
    if (model) outputs.full = harmonizeImage(sc.composite, sc.mask, model, { stage: 'full' }).result;
    const images = [{ label: 'composite', file: `images/${sc.name}_composite.png` }, { label: 'mask', file: `images/${sc.name}_mask.png` }];
    await writeImage(join(outDir, images[0].file), sc.composite);
    await writeMask(join(outDir, images[1].file), sc.mask);
    const caps: string[] = [];
    for (const m of methods) {
      const metrics = imageMetrics(outputs[m], sc.real, sc.mask);
      per[m].push(metrics);
      caps.push(`${LABELS[m]}: PSNR ${fmt(metrics.psnr)} dB, fMSE ${fmt(metrics.fmse, 1)}`);
      if (m !== 'composite') {
        const file = `images/${sc.name}_${m}.png`;
        await writeImage(join(outDir, file), outputs[m]);
        images.push({ label: LABELS[m], file });
      }
    }
    const realFile = `images/${sc.name}_real.png`;
    await writeImage(join(outDir, realFile), sc.real);
    images.push({ label: 'ground truth', file: realFile });
    rows.push({ title: sc.title, images, caption: caps.join(' · ') });
    progress.tick();
  }
  const means: Record<string, DemoMeans> = {};
  const tableRows: string[][] = [];
  const base = per.composite;
  for (const m of methods) {
    const mse = meanOf(per[m].map((x) => x.mse)).mean ?? NaN;
    const psnr = meanOf(per[m].map((x) => x.psnr)).mean ?? NaN;
    const fm = meanOf(per[m].map((x) => x.fmse)).mean;
    const ss = meanOf(per[m].map((x) => x.ssim)).mean;
    const worse = m === 'composite' ? null : per[m].filter((x, i) => x.fmse !== null && base[i].fmse !== null && x.fmse > (base[i].fmse as number)).length / Math.max(1, per[m].length);
    means[m] = { mse, psnr, fmse: fm, ssim: ss, worseShare: worse };
    tableRows.push([LABELS[m], fmt(mse), fmt(psnr), fmt(fm, 1), fmt(ss, 4), worse === null ? '–' : `${(100 * worse).toFixed(1)} %`]);
  }
  return { rows, means, tableRows };
}

/** The metric charts of the report: one per metric, the sets along x, a bar per method. */
function setCharts(sets: { label: string; means: Record<string, DemoMeans> }[], methods: string[]): BarChart[] {
  const metrics: { title: string; yLabel: string; digits: number; value: (m: DemoMeans) => number | null; vsComposite?: boolean }[] = [
    { title: 'MSE (lower is better)', yLabel: 'MSE (0–255 scale)', digits: 1, value: (m) => m.mse },
    { title: 'PSNR (higher is better)', yLabel: 'PSNR (dB)', digits: 2, value: (m) => m.psnr },
    { title: 'fMSE: MSE of the foreground (lower is better)', yLabel: 'fMSE (0–255 scale)', digits: 1, value: (m) => m.fmse },
    { title: 'SSIM (higher is better)', yLabel: 'SSIM', digits: 4, value: (m) => m.ssim },
    { title: 'Images whose fMSE is worse than the composite\'s (lower is better)', yLabel: 'share of images (%)', digits: 1, value: (m) => (m.worseShare === null ? null : 100 * m.worseShare), vsComposite: true },
  ];
  return metrics.map((mt) => ({
    kind: 'bar', title: mt.title, yLabel: mt.yLabel, xLabel: 'set (number of composites)', digits: mt.digits,
    categories: sets.map((s) => s.label),
    // the composite has no "worse than itself" share: its series is left out of that chart
    series: methods.filter((m) => !(mt.vsComposite && m === 'composite')).map((m) => ({ name: LABELS[m], color: CHART_PALETTE[methods.indexOf(m)], values: sets.map((s) => (s.means[m] ? mt.value(s.means[m]) : null)) })),
  }));
}

/** "procedural (8): fMSE 1523.1 → 950.2 (62 % of the composite's): lower than the composite" */
function summaryLine(set: string, n: number, means: Record<string, DemoMeans>, method: string): string {
  const c = means.composite?.fmse, r = means[method]?.fmse;
  if (c === null || c === undefined || r === null || r === undefined) return `${set} (${n}): fMSE n/a`;
  const verdict = r < c ? 'lower than the composite' : 'NOT lower than the composite';
  return `${set} (${n}): mean fMSE ${c.toFixed(1)} (composite) → ${r.toFixed(1)} (${LABELS[method]}), ${((100 * r) / c).toFixed(0)} % of the composite's: ${verdict}; PSNR ${means.composite.psnr.toFixed(2)} → ${means[method].psnr.toFixed(2)} dB`;
}

/** Test-split composites from real photos, synthesised with the project's generator (fixed seed). */
async function realPhotoScenes(root: string, count: number, size: number, seed: number): Promise<Scene[]> {
  const syn = await CompositeSynthesizer.load({ real: root, split: 'test', size, batchSize: 1, seed, minCrop: 1, flip: false, illumination: 0, prefetch: 0 });
  const scenes: Scene[] = [];
  for (let i = 0; i < Math.min(count, syn.photoCount); i++) {
    const smp = syn.sample(i, new Rng(seed).fork(`demo-real:${i}`));
    const name = `photo_${String(i).padStart(2, '0')}`;
    scenes.push({ name, title: `${name} (${smp.id})`, composite: smp.input, mask: smp.mask, real: smp.real });
  }
  return scenes;
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoSummary> {
  const outDir = resolve(opts.outDir ?? 'harmonia-out');
  const count = opts.count ?? 8;
  const size = opts.size ?? 256;
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new HarmoniaError(`demo: count must be a positive integer, got ${count}`);
  const engine = await initEngine();
  const modelDir = opts.modelDir ?? DEFAULT_MODEL_DIR;
  let model: HarmonizationModel | undefined;
  if (isModelDir(modelDir)) model = await loadHarmonizationModel(modelDir);
  const imgDir = join(outDir, 'images');
  try {
    mkdirSync(imgDir, { recursive: true });
  } catch (err) {
    throw new HarmoniaError(`cannot create the report folder (${describeMkdirError(imgDir, err)})`, { file: outDir, cause: err });
  }
  const methods = model ? ['composite', 'intrinsic', 'full'] : ['composite', 'intrinsic'];
  const procScenes: Scene[] = [];
  for (let i = 0; i < count; i++) {
    const pc = makeProceduralComposite({ seed: seed * 1000 + i, width: size, height: size });
    const name = `procedural_${String(i).padStart(2, '0')}`;
    procScenes.push({ name, title: `${name} (${pc.scene.objectKinds[pc.objectIndex]})`, composite: pc.composite, mask: pc.mask, real: pc.real });
  }
  const photoRoot = opts.realPhotos === null ? undefined : opts.realPhotos ?? resolve(process.cwd(), '../shared/data/lalonde-real');
  // the report shows paths relative to itself, never the machine's absolute folders
  const rel = (p: string) => relativePath(resolve(p), outDir);
  const photoScenes = photoRoot && existsSync(join(photoRoot, 'real_images')) ? await realPhotoScenes(photoRoot, opts.realPhotoCount ?? 24, size, seed) : [];
  const progress = new Progress('demo', procScenes.length + photoScenes.length, { quiet: opts.quiet });
  const proc = await scoreScenes(procScenes, methods, model, outDir, progress);
  const photo = photoScenes.length ? await scoreScenes(photoScenes, methods, model, outDir, progress) : undefined;
  progress.finish();
  const best = model ? 'full' : 'intrinsic';
  const summary = [summaryLine('procedural scenes', procScenes.length, proc.means, best)];
  if (photo) summary.push(summaryLine('real photos (test split, synthesised composites)', photoScenes.length, photo.means, best));
  else summary.push(`real photos: none (no real-photo source at ${photoRoot ? rel(photoRoot) : '(disabled)'}; give one with --real-photos <dir>)`);
  // do no harm: the same photos, unchanged, as inputs; any change the model makes is damage
  let damage: DamageSummary | null = null;
  if (model && photoScenes.length) {
    damage = damageSummary(photoScenes.map((sc) => imageMetrics(harmonizeImage(sc.real, sc.mask, model, { stage: 'full' }).result, sc.real, sc.mask).fmse));
    if (damage) summary.push(`do no harm: ${LABELS.full} on the ${damage.n} real photos themselves (nothing to fix): mean fMSE ${damage.mean.toFixed(1)}, median ${damage.median.toFixed(1)}, 99th percentile ${damage.p99.toFixed(1)}; above 1000 (a visible recolour): ${(100 * damage.above[2].share).toFixed(1)} %`);
  }
  const means = proc.means;
  const tableRows = [...proc.tableRows.map((r) => [`procedural: ${r[0]}`, ...r.slice(1)]), ...(photo ? photo.tableRows.map((r) => [`real photos: ${r[0]}`, ...r.slice(1)]) : [])];
  if (damage) tableRows.push([`do no harm (the ${damage.n} real photos unchanged): ${LABELS.full}`, '–', '–', `${fmt(damage.mean, 1)} (median ${fmt(damage.median, 1)}, p99 ${fmt(damage.p99, 1)})`, '–', `${(100 * damage.above[2].share).toFixed(1)} % above 1000`]);
  const rows = proc.rows;
  // Genuine composites (no ground truth): visual check only.
  const realRows: DemoRow[] = [];
  const realDir = opts.realComposites === null ? undefined : opts.realComposites ?? resolve(process.cwd(), '../shared/data/lalonde-composites');
  if (realDir && existsSync(join(realDir, 'composite_images'))) {
    const files = readdirSync(join(realDir, 'composite_images')).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, opts.realCount ?? 6);
    for (const f of files) {
      const stem = basename(f, extname(f));
      const maskPath = join(realDir, 'masks', `${stem}.png`);
      if (!existsSync(maskPath)) continue;
      const comp = await readImage(join(realDir, 'composite_images', f));
      const mask: Mask = await readMask(maskPath, { expect: comp });
      const r = harmonizeImage(comp, mask, model, { stage: model ? 'full' : 'intrinsic' });
      const a = `images/real_${stem}_composite.png`;
      const b = `images/real_${stem}_result.png`;
      await writeImage(join(outDir, a), comp);
      await writeImage(join(outDir, b), r.result);
      realRows.push({ title: stem, images: [{ label: 'composite', file: a }, { label: model ? LABELS.full : LABELS.intrinsic, file: b }] });
    }
  }
  const modelNote = model ? `model: ${model.card?.name ?? rel(modelDir)} (${generatorKind(model.config)} generator, trained on ${model.card?.input === 'composite' ? 'raw composites' : 'semi-harmonized input'})` : `no GAN model found at ${rel(modelDir)}: intrinsic stage only`;
  const sets = [{ label: `procedural (${procScenes.length})`, means: proc.means }, ...(photo ? [{ label: `real photos (${photoScenes.length})`, means: photo.means }] : [])];
  const html = renderDemoPage({
    title: 'Harmonia demo report',
    warnings: model ? [] : [`No GAN model at ${rel(modelDir)}: only the intrinsic stage ran.`],
    metricCharts: setCharts(sets, methods),
    intro: [
      ...summary.map((l) => `Summary: ${l}.`),
      `Procedural scenes with known ground truth (${count} composites, ${size}×${size}): one object per scene re-lit and recoloured as if pasted from another scene.`,
      photo ? `Real photos with known ground truth (${photoScenes.length}, ${size}×${size}): test-split photos of ${rel(photoRoot as string)}, their object recoloured from another object of the same category with an HFlickr transfer method (Reinhard, covariance, histogram, IDT), seed ${seed}; none of these photos was used in training.` : 'Real photos with ground truth: not available on this machine.',
      relativizePaths(`Backend: ${engine.backend} (${engine.reason}); ${modelNote}.`, outDir),
      `Protocol: images compared at their native ${size}×${size} on the 0–255 scale; MSE over all 3·H·W values, PSNR = 10·log10(255²/MSE), fMSE over foreground pixels (mask > 127), SSIM per channel (Gaussian window 11, σ 1.5). Means are per-image means.`,
    ],
    table: { header: ['set: method', 'MSE', 'PSNR (dB)', 'fMSE', 'SSIM', 'worse than composite'], rows: tableRows },
    sections: [
      { heading: 'Procedural composites', rows },
      ...(photo ? [{ heading: 'Real photos (synthesised composites, ground truth known)', rows: photo.rows }] : []),
      ...(realRows.length ? [{ heading: 'Genuine composites (no ground truth)', note: `from ${rel(realDir as string)}`, rows: realRows }] : []),
    ],
    footer: [`Generated by harmonia demo at ${new Date().toISOString()}.`],
  });
  const report = join(outDir, 'index.html');
  await writeFileAtomic(report, html);
  const result: DemoSummary = { outDir, report, backend: engine.backend, model: model?.card?.name ?? null, procedural: count, realScored: photoScenes.length, real: realRows.length, means, realMeans: photo?.means ?? {}, damage, summary };
  // report.json sits beside the report: its paths are relative to it too
  await writeFileAtomic(join(outDir, 'report.json'), JSON.stringify({ ...result, outDir: '.', report: 'index.html' }, null, 2) + '\n');
  return result;
}
