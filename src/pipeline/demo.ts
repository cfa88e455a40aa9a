/**
 * The built-in default job (`npm start`): procedural composites with known ground truth (and, when
 * the project's shared data is present, a few genuine composites), harmonized by the full pipeline,
 * measured against ground truth, written as an HTML report with before/after images.
 */
import { existsSync, readdirSync, mkdirSync } from 'node:fs';
import { join, resolve, extname, basename } from 'node:path';
import { initEngine } from '../engine/index.ts';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic } from '../image/atomic.ts';
import { readImage, readMask, writeImage, writeMask } from '../image/io.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { makeProceduralComposite } from '../data/procedural.ts';
import { imageMetrics, meanOf, type ImageMetrics } from '../metrics/index.ts';
import { Progress } from '../util/progress.ts';
import { renderDemoPage, type DemoRow } from '../report/demoPage.ts';
import { harmonizeImage, type HarmonizationModel } from './refine.ts';
import { DEFAULT_MODEL_DIR, isModelDir, loadHarmonizationModel } from './model.ts';

export interface DemoOptions {
  outDir?: string;
  /** Procedural composites to make (default 8). */
  count?: number;
  /** Their size (default 256). */
  size?: number;
  seed?: number;
  /** Folder of genuine composites + masks (iHarmony4-like: composite_images/, masks/); default ../shared/data/lalonde-composites when present. */
  realComposites?: string | null;
  /** How many genuine composites to show (default 6). */
  realCount?: number;
  modelDir?: string;
  quiet?: boolean;
}

export interface DemoSummary {
  outDir: string;
  report: string;
  backend: string;
  model: string | null;
  procedural: number;
  real: number;
  /** Mean metrics per method over the procedural composites. */
  means: Record<string, { mse: number; psnr: number; fmse: number | null }>;
}

const fmt = (v: number | null, d = 2): string => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));

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
  mkdirSync(imgDir, { recursive: true });
  const methods = model ? ['composite', 'intrinsic', 'full'] : ['composite', 'intrinsic'];
  const per: Record<string, ImageMetrics[]> = Object.fromEntries(methods.map((m) => [m, []]));
  const rows: DemoRow[] = [];
  const progress = new Progress('demo', count, { quiet: opts.quiet });
  for (let i = 0; i < count; i++) {
    const pc = makeProceduralComposite({ seed: seed * 1000 + i, width: size, height: size });
    const name = `procedural_${String(i).padStart(2, '0')}`;
    const intrinsic = harmonizeImage(pc.composite, pc.mask, undefined, { stage: 'intrinsic' });
    const outputs: Record<string, FloatImage> = { composite: pc.composite, intrinsic: intrinsic.result };
    if (model) outputs.full = harmonizeImage(pc.composite, pc.mask, model, { stage: 'full' }).result;
    const images = [{ label: 'composite', file: `images/${name}_composite.png` }, { label: 'mask', file: `images/${name}_mask.png` }];
    await writeImage(join(outDir, images[0].file), pc.composite);
    await writeMask(join(outDir, images[1].file), pc.mask);
    const caps: string[] = [];
    for (const m of methods) {
      const metrics = imageMetrics(outputs[m], pc.real, pc.mask);
      per[m].push(metrics);
      caps.push(`${m}: PSNR ${fmt(metrics.psnr)} dB, fMSE ${fmt(metrics.fmse, 1)}`);
      if (m !== 'composite') {
        const file = `images/${name}_${m}.png`;
        await writeImage(join(outDir, file), outputs[m]);
        images.push({ label: m === 'full' ? 'intrinsic + GAN' : 'intrinsic stage', file });
      }
    }
    const realFile = `images/${name}_real.png`;
    await writeImage(join(outDir, realFile), pc.real);
    images.push({ label: 'ground truth', file: realFile });
    rows.push({ title: `${name} (${pc.scene.objectKinds[pc.objectIndex]})`, images, caption: caps.join(' · ') });
    progress.tick();
  }
  progress.finish();
  const means: DemoSummary['means'] = {};
  const tableRows: string[][] = [];
  for (const m of methods) {
    const mse = meanOf(per[m].map((x) => x.mse)).mean ?? NaN;
    const psnr = meanOf(per[m].map((x) => x.psnr)).mean ?? NaN;
    const fm = meanOf(per[m].map((x) => x.fmse)).mean;
    const ss = meanOf(per[m].map((x) => x.ssim)).mean;
    means[m] = { mse, psnr, fmse: fm };
    tableRows.push([m === 'full' ? 'intrinsic + GAN' : m === 'intrinsic' ? 'intrinsic stage' : 'composite (no change)', fmt(mse), fmt(psnr), fmt(fm, 1), fmt(ss, 4)]);
  }
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
      realRows.push({ title: stem, images: [{ label: 'composite', file: a }, { label: model ? 'intrinsic + GAN' : 'intrinsic stage', file: b }] });
    }
  }
  const modelNote = model ? `model: ${model.card?.name ?? modelDir}` : `no GAN model found at ${modelDir}: intrinsic stage only`;
  const html = renderDemoPage({
    title: 'Harmonia demo report',
    intro: [
      `Procedural scenes with known ground truth (${count} composites, ${size}×${size}): one object per scene re-lit and recoloured as if pasted from another scene.`,
      `Backend: ${engine.backend} (${engine.reason}); ${modelNote}.`,
      'Protocol: images compared at their native 256×256 on the 0–255 scale; MSE over all 3·H·W values, PSNR = 10·log10(255²/MSE), fMSE over foreground pixels (mask > 127), SSIM per channel (Gaussian window 11, σ 1.5). Means are per-image means.',
    ],
    table: { header: ['method', 'MSE', 'PSNR (dB)', 'fMSE', 'SSIM'], rows: tableRows },
    sections: [
      { heading: 'Procedural composites', rows },
      ...(realRows.length ? [{ heading: 'Genuine composites (no ground truth)', note: `from ${realDir}`, rows: realRows }] : []),
    ],
    footer: [`Generated by harmonia demo at ${new Date().toISOString()}.`],
  });
  const report = join(outDir, 'index.html');
  await writeFileAtomic(report, html);
  const summary: DemoSummary = { outDir, report, backend: engine.backend, model: model?.card?.name ?? null, procedural: count, real: realRows.length, means };
  await writeFileAtomic(join(outDir, 'report.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
