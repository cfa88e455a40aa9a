import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { Progress } from '../../util/progress.ts';
import { makeComposites, DEFAULT_MIN_FMSE, DEFAULT_MAX_FMSE } from '../../data/composites.ts';
import { TRANSFER_METHODS, type TransferMethod } from '../../data/transfer/index.ts';
import { readIHarmonyDataset } from '../../data/iharmony4.ts';
import { compositeCopyBaseline, contactSheet } from '../../data/report.ts';
import { writeImage } from '../../image/io.ts';

function num(v: unknown, name: string, opts: { int?: boolean; min?: number } = {}): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    throw new HarmoniaError(`--${name} must be ${opts.int ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}, got "${String(v)}"`);
  }
  return n;
}

export const makeCompositesCommand: Command = {
  name: 'make-composites',
  summary: 'synthesise HFlickr-style composites from real photos + masks (iHarmony4 layout out)',
  usage: 'harmonia make-composites --real <dir> --out <dir> [--method reinhard|covariance|histogram|idt|mixed] [--variants N] [--seed S] [--illumination] [--min-fmse A --max-fmse B] [--limit N] [--format png|jpg] [--subset NAME]',
  options: {
    real: { type: 'string', description: 'source folder: real_images/, masks/, optional *_train.txt/*_test.txt lists and index.json categories' },
    out: { type: 'string', description: 'output root (gets <subset>/ and IHD_{train,test}.txt)' },
    method: { type: 'string', default: 'mixed', description: `colour transfer: ${TRANSFER_METHODS.join(', ')} or mixed (one drawn per composite)` },
    variants: { type: 'string', default: '1', description: 'composites per real image and mask' },
    seed: { type: 'string', default: '0', description: 'random seed' },
    illumination: { type: 'boolean', default: false, description: 'also perturb exposure, contrast, gamma and add a shading gradient' },
    'min-fmse': { type: 'string', default: String(DEFAULT_MIN_FMSE), description: 'reject composites whose foreground MSE (0–255) is below this' },
    'max-fmse': { type: 'string', default: String(DEFAULT_MAX_FMSE), description: 'reject composites whose foreground MSE (0–255) is above this' },
    limit: { type: 'string', description: 'at most N real images per split' },
    format: { type: 'string', default: 'png', description: 'png (background pixel-identical to the real image) or jpg (quality 95; re-encoding alters the background)' },
    subset: { type: 'string', default: 'Synthetic', description: 'output subset folder name' },
    report: { type: 'boolean', default: false, description: 'print the composite-copy MSE/PSNR/fMSE of the test split (256×256 protocol)' },
    sheet: { type: 'string', description: 'write a contact sheet PNG (composite | real | mask) of the first --sheet-rows test samples' },
    'sheet-rows': { type: 'string', default: '12', description: 'rows in the contact sheet' },
    quiet: { type: 'boolean', default: false, description: 'no progress bar' },
  },
  async run({ values }) {
    if (typeof values.real !== 'string' || values.real === '') throw new HarmoniaError('--real <dir> is required');
    if (typeof values.out !== 'string' || values.out === '') throw new HarmoniaError('--out <dir> is required');
    const method = String(values.method);
    if (method !== 'mixed' && !(TRANSFER_METHODS as readonly string[]).includes(method)) {
      throw new HarmoniaError(`--method must be ${TRANSFER_METHODS.join(', ')} or mixed, got "${method}"`);
    }
    const format = String(values.format);
    if (format !== 'png' && format !== 'jpg') throw new HarmoniaError(`--format must be png or jpg, got "${format}"`);
    let bar: Progress | undefined;
    let last = 0;
    const s = await makeComposites(values.real, values.out, {
      method: method as TransferMethod | 'mixed',
      variants: num(values.variants, 'variants', { int: true, min: 1 }),
      seed: num(values.seed, 'seed', { int: true, min: 0 }),
      illumination: Boolean(values.illumination),
      minFmse: num(values['min-fmse'], 'min-fmse', { min: 0 }),
      maxFmse: num(values['max-fmse'], 'max-fmse', { min: 0 }),
      limit: values.limit === undefined ? undefined : num(values.limit, 'limit', { int: true, min: 1 }),
      format,
      subset: String(values.subset),
      onProgress: (done, total, note) => {
        bar ??= new Progress('make-composites', total, { quiet: Boolean(values.quiet) });
        bar.tick(done - last, note);
        last = done;
      },
    });
    bar?.finish();
    const methods = Object.entries(s.byMethod).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`wrote ${s.train} train + ${s.test} test composites to ${values.out}/${s.subset} (${methods || 'none'}); ${s.rejected} variants rejected by the fMSE bounds; ${s.skippedExisting} already present`);
    if (values.report || values.sheet) {
      const test = await readIHarmonyDataset(values.out, { split: 'test', subsets: [s.subset] });
      if (values.report) {
        const b = await compositeCopyBaseline(test);
        console.log(`test split composite-copy (${b.count} images, 256×256, per-image means): MSE ${b.mse.toFixed(2)}, PSNR ${b.psnr.toFixed(2)} dB, fMSE ${b.fmse.toFixed(1)} (median ${b.fmseMedian.toFixed(1)})`);
      }
      if (typeof values.sheet === 'string') {
        const rows = num(values['sheet-rows'], 'sheet-rows', { int: true, min: 1 });
        await writeImage(values.sheet, await contactSheet(test.slice(0, rows)));
        console.log(`contact sheet: ${values.sheet}`);
      }
    }
    return 0;
  },
};
