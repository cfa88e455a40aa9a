import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.ts';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { checkOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';
import { FLAG_RANGES, requiredNumberFlag, describeRange } from '../flags.ts';
import { evaluateDataset, resultMarkdown, damageMarkdown, COMPOSITE_METHOD } from '../../eval/evaluate.ts';
import { isLpipsNet, type LpipsNet } from '../../models/lpips.ts';
import { markdownTable, formatNumber } from '../../util/table.ts';

/** The files `--out` gets (src/eval/evaluate.ts writeEvalReport). */
export const EVAL_REPORT_FILES = ['per_image.csv', 'summary.json', 'table.md'] as const;
/** The HTML report `--html` adds to --out (src/report/evalPage.ts). */
export const EVAL_HTML_FILE = 'report.html';

/**
 * Validates the output paths of `harmonia evaluate` before any compute: --out and the report files
 * in it are never inside the dataset or the predictions, never the list file, never read-only unless
 * --overwrite. Returns the checked outputs (none without --out).
 */
export function planEvaluatePaths(values: Record<string, unknown>): { inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const data = str(values.data);
  if (!data) throw new HarmoniaError('--data <dir> is required');
  const inputs: SafetyInput[] = [{ path: data, what: 'dataset', kind: 'folder' }];
  const pred = str(values.pred), list = str(values.list), out = str(values.out);
  if (pred) inputs.push({ path: pred, what: 'prediction folder', kind: 'folder' });
  if (list) inputs.push({ path: list, what: 'list file' });
  if (values.html && !out) throw new HarmoniaError(`--html: needs --out <dir> (the HTML report is written there as ${EVAL_HTML_FILE}, beside table.md)`);
  if (!out) return { inputs, outputs: [] };
  const outputs: SafetyOutput[] = [{ path: out, flag: '--out', kind: 'folder', mkdir: true },
    ...EVAL_REPORT_FILES.map((f): SafetyOutput => ({ path: join(out, f), flag: `--out (${f})`, kind: 'file', mkdir: true })),
    ...(values.html ? [{ path: join(out, EVAL_HTML_FILE), flag: `--html (${EVAL_HTML_FILE})`, kind: 'file', mkdir: true } as SafetyOutput] : [])];
  checkOutputs(inputs, outputs, { overwrite: Boolean(values.overwrite) });
  return { inputs, outputs };
}

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'metrics (MSE, PSNR, fMSE, fPSNR, bMSE, SSIM, LPIPS) of predictions vs the composite baseline',
  usage: 'harmonia evaluate --data <dir> [--list <file>] [--pred <dir>] [--out <dir> [--html]] [--lpips alex|vgg|squeeze|none] [--name NAME]',
  options: {
    data: { type: 'string', description: 'dataset root or subset folder (iHarmony4 layout)' },
    list: { type: 'string', description: 'list of composites to evaluate (e.g. HFlickr_test.txt); default: the test lists' },
    pred: { type: 'string', description: 'folder of predictions named like the composites (<base>.png|.jpg|.jpeg|.webp, optionally under <subset>/); without it only the composite baseline is evaluated' },
    name: { type: 'string', default: 'prediction', description: 'name of the predictions in the tables' },
    out: { type: 'string', description: 'write per_image.csv, summary.json and table.md here' },
    html: { type: 'boolean', default: false, description: `also write an HTML report (${EVAL_HTML_FILE}: tables, charts by subset) into --out` },
    lpips: { type: 'string', default: 'alex', description: 'LPIPS backbone: alex, vgg, squeeze or none (no weight files → "n/a (no weights)")' },
    weights: { type: 'string', description: 'weights folder (default $HARMONIA_WEIGHTS or ~/.cache/harmonia/weights)' },
    size: { type: 'string', default: '256', description: `evaluation size, ${describeRange(FLAG_RANGES.evaluate.size)} (the protocol uses 256)` },
    overwrite: { type: 'boolean', default: false, description: 'replace read-only existing report files in --out (their permissions are kept)' },
    full: { type: 'boolean', default: false, description: 'print the per-subset and per-foreground-ratio tables too' },
    identity: { type: 'boolean', default: false, description: 'do no harm: the real photos of the list are the inputs (predictions from `harmonia harmonize --data … --identity`); reports the damage: mean, median, 99th percentile of fMSE and the shares above 100, 300 and 1000' },
    quiet: { type: 'boolean', default: false, description: 'no progress bar' },
  },
  async run({ values }) {
    if (typeof values.data !== 'string' || values.data === '') throw new HarmoniaError('--data <dir> is required');
    const lpips = String(values.lpips);
    if (lpips !== 'none' && !isLpipsNet(lpips)) throw new HarmoniaError(`--lpips must be alex, vgg, squeeze or none, got "${lpips}"`);
    const size = requiredNumberFlag(values, 'size', FLAG_RANGES.evaluate.size);
    if (values.name === COMPOSITE_METHOD) throw new HarmoniaError(`--name cannot be "${COMPOSITE_METHOD}" (that is the baseline)`);
    planEvaluatePaths(values);
    const r = await evaluateDataset({
      data: values.data,
      list: typeof values.list === 'string' ? values.list : undefined,
      identity: Boolean(values.identity),
      pred: typeof values.pred === 'string' ? values.pred : undefined,
      name: String(values.name),
      out: typeof values.out === 'string' ? values.out : undefined,
      lpips: lpips as LpipsNet | 'none',
      weightsDir: typeof values.weights === 'string' ? values.weights : undefined,
      size,
      quiet: Boolean(values.quiet),
    });
    if (r.damage && !values.full) {
      console.log(`do no harm: ${r.images} real photos as inputs (every unit of fMSE is damage)`);
      console.log(damageMarkdown(r.damage));
    }
    if (values.full) {
      console.log(resultMarkdown(r));
    } else {
      const lp = r.lpips.available ? null : (r.lpips.net === 'none' ? 'not computed' : 'n/a (no weights)');
      const rows = r.methods.map((m) => {
        const g = r.summary[m].All;
        const worse = g.worseFmse?.share;
        return [m, formatNumber(g.mse), formatNumber(g.psnr), formatNumber(g.fmse), formatNumber(g.fpsnr), formatNumber(g.bmse),
          formatNumber(g.ssim, 4), lp ?? formatNumber(g.lpips, 4), worse === undefined ? '–' : worse === null ? 'n/a' : `${(worse * 100).toFixed(1)}%`];
      });
      console.log(`${r.images} images, ${r.size}×${r.size} protocol (docs/METRICS.md § Protocol), per-image means; LPIPS: ${r.lpips.note}`);
      console.log(markdownTable(['Method', 'MSE', 'PSNR', 'fMSE', 'fPSNR', 'bMSE', 'SSIM', r.lpips.available ? `LPIPS (${r.lpips.net})` : 'LPIPS', 'fMSE worse'], rows,
        { align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'] }));
    }
    if (r.files) console.log(`wrote ${r.files.csv}, ${r.files.json}, ${r.files.markdown}`);
    if (values.html && typeof values.out === 'string') {
      const { renderEvalPage } = await import('../../report/evalPage.ts');
      const file = join(values.out, EVAL_HTML_FILE);
      await writeFileAtomic(file, renderEvalPage(r, { base: resolve(values.out), data: resolve(values.data), list: typeof values.list === 'string' ? resolve(values.list) : undefined, files: [...EVAL_REPORT_FILES] }), { mkdir: true });
      console.log(`wrote ${file}`);
    }
    console.log(`evaluated in ${r.seconds.toFixed(1)} s`);
    return 0;
  },
};
