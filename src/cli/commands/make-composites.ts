import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { Progress } from '../../util/progress.ts';
import { makeComposites, DEFAULT_MIN_FMSE, DEFAULT_MAX_FMSE } from '../../data/composites.ts';
import { makeRelitComposites } from '../../data/relight.ts';
import { TRANSFER_METHODS, type TransferMethod } from '../../data/transfer/index.ts';
import { readIHarmonyDataset } from '../../data/iharmony4.ts';
import { compositeCopyBaseline, contactSheet } from '../../data/report.ts';
import { writeImage, formatFromPath } from '../../image/io.ts';
import { checkOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';
import { checkSubsetReplaceable } from '../../data/atomic-subset.ts';
import { FLAG_RANGES, numberFlag, requiredNumberFlag, describeRange } from '../flags.ts';

const R = FLAG_RANGES['make-composites'];

/**
 * The output rule for `make-composites` (issue 28), before any work: --out (a dataset root it
 * rebuilds: <out>/<subset> and the IHD lists) is never inside --real; <out>/<subset> is one Harmonia
 * built (build.json) or new or empty, and without --overwrite holds no read-only file; --sheet is an
 * image file outside --real and outside any other dataset, model or run.
 */
export function planMakeCompositesPaths(values: Record<string, unknown>, subset: string): { inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  if (typeof values.real !== 'string' || values.real === '') throw new HarmoniaError('--real <dir> is required');
  if (typeof values.out !== 'string' || values.out === '') throw new HarmoniaError('--out <dir> is required');
  const overwrite = Boolean(values.overwrite);
  const outputs: SafetyOutput[] = [{ path: values.out, flag: '--out', kind: 'folder', mkdir: true, rebuilds: { path: values.out, kinds: ['dataset'] } }];
  if (typeof values.sheet === 'string') {
    formatFromPath(values.sheet);
    outputs.push({ path: values.sheet, flag: '--sheet', kind: 'file' });
  }
  const inputs: SafetyInput[] = [{ path: values.real, what: 'source folder (--real)', kind: 'folder' }];
  checkOutputs(inputs, outputs, { overwrite });
  checkSubsetReplaceable(values.out, subset, { overwrite });
  return { inputs, outputs };
}

export const makeCompositesCommand: Command = {
  name: 'make-composites',
  summary: 'synthesise HFlickr-style composites from real photos + masks (iHarmony4 layout out)',
  usage: 'harmonia make-composites --real <dir> --out <dir> [--method reinhard|covariance|histogram|idt|mixed] [--variants N] [--seed S] [--illumination] [--min-fmse A --max-fmse B] [--limit N] [--format png|jpg] [--subset NAME] [--relit]',
  options: {
    real: { type: 'string', description: 'source folder: real_images/, masks/, optional *_train.txt/*_test.txt lists and index.json categories' },
    out: { type: 'string', description: 'output root (gets <subset>/ and IHD_{train,test}.txt)' },
    method: { type: 'string', default: 'mixed', description: `colour transfer: ${TRANSFER_METHODS.join(', ')} or mixed (one drawn per composite)` },
    variants: { type: 'string', default: '1', description: `composites per real image and mask, ${describeRange(R.variants)}` },
    seed: { type: 'string', default: '0', description: 'random seed' },
    illumination: { type: 'boolean', default: false, description: 'also perturb exposure, contrast, gamma and add a shading gradient' },
    'min-fmse': { type: 'string', default: String(DEFAULT_MIN_FMSE), description: 'reject composites whose foreground MSE (0–255) is below this' },
    'max-fmse': { type: 'string', default: String(DEFAULT_MAX_FMSE), description: 'reject composites whose foreground MSE (0–255) is above this' },
    limit: { type: 'string', description: 'at most N real images per split' },
    format: { type: 'string', default: 'png', description: 'png (background pixel-identical to the real image) or jpg (quality 95; re-encoding alters the background)' },
    subset: { type: 'string', description: 'output subset folder name (default Synthetic; Relit with --relit)' },
    relit: { type: 'boolean', default: false, description: 'relighting benchmark: re-shade each real foreground under a foreign light (key + fill, soft shadows; src/data/relight.ts) instead of recolouring it; the real photo is the ground truth (not with --method or --illumination)' },
    report: { type: 'boolean', default: false, description: 'print the composite-copy MSE/PSNR/fMSE of the test split (256×256 protocol)' },
    sheet: { type: 'string', description: 'write a contact sheet PNG (composite | real | mask) of the first --sheet-rows test samples' },
    'sheet-rows': { type: 'string', default: '12', description: `rows in the contact sheet, ${describeRange(R['sheet-rows'])}` },
    overwrite: { type: 'boolean', default: false, description: 'rebuild <out>/<subset> even when it holds read-only files (refused otherwise)' },
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
    const variants = requiredNumberFlag(values, 'variants', R.variants);
    const seed = requiredNumberFlag(values, 'seed', R.seed);
    const minFmse = requiredNumberFlag(values, 'min-fmse', R['min-fmse']);
    const maxFmse = requiredNumberFlag(values, 'max-fmse', R['max-fmse']);
    if (minFmse > maxFmse) throw new HarmoniaError(`--min-fmse (${minFmse}) must not be above --max-fmse (${maxFmse})`);
    const limit = numberFlag(values, 'limit', R.limit);
    const sheetRows = requiredNumberFlag(values, 'sheet-rows', R['sheet-rows']);
    const relit = Boolean(values.relit);
    if (relit && (values.illumination || method !== 'mixed')) throw new HarmoniaError('--relit re-lights the foreground itself: it takes neither --method nor --illumination');
    const subset = String(values.subset ?? (relit ? 'Relit' : 'Synthetic'));
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(subset)) throw new HarmoniaError(`--subset must be a plain folder name (letters, digits, _ . -), got "${subset}"`);
    // every output path before any work: never inside the source folder, the sheet never an input,
    // never a subset folder Harmonia did not build (issue 28)
    planMakeCompositesPaths(values, subset);
    // --out is created by makeComposites itself (and removed again when the run stops on bad input);
    // the subset is built in a staging folder and renamed into place only when complete
    let bar: Progress | undefined;
    let last = 0;
    const onProgress = (done: number, total: number, note: string): void => {
      bar ??= new Progress('make-composites', total, { quiet: Boolean(values.quiet) });
      bar.tick(done - last, note);
      last = done;
    };
    const s = relit
      ? await makeRelitComposites(values.real, values.out, { variants, seed, minFmse, maxFmse, limit, format, subset, overwrite: Boolean(values.overwrite), onProgress })
      : await makeComposites(values.real, values.out, {
      method: method as TransferMethod | 'mixed',
      variants,
      seed,
      illumination: Boolean(values.illumination),
      minFmse,
      maxFmse,
      limit,
      format,
      subset,
      overwrite: Boolean(values.overwrite),
      onProgress,
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
        await writeImage(values.sheet, await contactSheet(test.slice(0, sheetRows)));
        console.log(`contact sheet: ${values.sheet}`);
      }
    }
    return 0;
  },
};
