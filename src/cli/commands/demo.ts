import type { Command } from '../types.ts';
import { runDemo } from '../../pipeline/demo.ts';
import { FLAG_RANGES, requiredNumberFlag } from '../flags.ts';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HarmoniaError } from '../../errors.ts';
import { checkOutputs, firstReadOnlyFile, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';

/**
 * The output rule for `demo` (issue 28), before any work: -o is a report folder (index.html,
 * report.json, images/) never inside an input (--real, --real-photos, --model, or their defaults),
 * never a model, dataset or run, never a file; its files are never devices, FIFOs or, without
 * --overwrite, read-only.
 */
export function planDemo(values: Record<string, unknown>): { inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  const out = typeof values.output === 'string' ? values.output : 'harmonia-out';
  if (out === '') throw new HarmoniaError('-o: give a report folder');
  const inputs: SafetyInput[] = [];
  const folder = (v: unknown, fallback: string | undefined, what: string): void => {
    const p = typeof v === 'string' && v !== '' ? v : fallback;
    if (p && existsSync(p)) inputs.push({ path: p, what, kind: 'folder' });
  };
  if (!values['no-real']) {
    folder(values.real, resolve(process.cwd(), '../shared/data/lalonde-composites'), 'composite folder (--real)');
    folder(values['real-photos'], resolve(process.cwd(), '../shared/data/lalonde-real'), 'photo folder (--real-photos)');
  }
  folder(values.model, undefined, 'model folder (--model)');
  const outputs: SafetyOutput[] = [{ path: out, flag: '-o', kind: 'folder', mkdir: true },
    { path: join(out, 'index.html'), flag: '-o (index.html)', kind: 'file', mkdir: true },
    { path: join(out, 'report.json'), flag: '-o (report.json)', kind: 'file', mkdir: true },
    { path: join(out, 'images'), flag: '-o (images/)', kind: 'folder', mkdir: true }];
  const overwrite = Boolean(values.overwrite);
  checkOutputs(inputs, outputs, { overwrite });
  const ro = overwrite ? undefined : firstReadOnlyFile(join(out, 'images'));
  if (ro) throw new HarmoniaError('-o (images/) holds a read-only file; refusing to replace it (pass --overwrite to replace it; its permissions are kept)', { file: ro });
  return { inputs, outputs };
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the built-in default job (npm start): harmonize procedural scenes and write an HTML report',
  usage: 'harmonia demo [-o harmonia-out] [--count 8] [--size 256] [--seed 1] [--real <composites dir> | --no-real]',
  options: {
    output: { type: 'string', short: 'o', default: 'harmonia-out', description: 'report folder' },
    count: { type: 'string', default: '8', description: 'procedural composites' },
    size: { type: 'string', default: '256', description: 'their size in pixels' },
    seed: { type: 'string', default: '1', description: 'seed' },
    real: { type: 'string', description: 'folder of genuine composites (composite_images/, masks/); default ../shared/data/lalonde-composites when present' },
    'no-real': { type: 'boolean', default: false, description: 'skip genuine composites and real photos' },
    'real-photos': { type: 'string', description: 'real photos + masks whose test split gives scored composites; default ../shared/data/lalonde-real when present' },
    model: { type: 'string', description: 'model folder (default: models/default)' },
    overwrite: { type: 'boolean', default: false, description: 'replace read-only files of an earlier report in -o (their permissions are kept)' },
  },
  async run({ values }) {
    const num = (k: 'count' | 'size' | 'seed'): number => requiredNumberFlag(values, k, FLAG_RANGES.demo[k]);
    const counts = { count: num('count'), size: num('size'), seed: num('seed') };
    planDemo(values);
    const s = await runDemo({
      outDir: values.output as string,
      ...counts,
      realComposites: values['no-real'] ? null : (values.real as string | undefined),
      realPhotos: values['no-real'] ? null : (values['real-photos'] as string | undefined),
      modelDir: values.model as string | undefined,
    });
    console.log(`backend: ${s.backend}; model: ${s.model ?? 'none (intrinsic stage only)'}`);
    for (const [set, means] of [['procedural', s.means], ['real photos', s.realMeans]] as const) {
      for (const [m, v] of Object.entries(means)) {
        console.log(`  ${set.padEnd(12)} ${m.padEnd(10)} MSE ${v.mse.toFixed(2)}  PSNR ${v.psnr.toFixed(2)} dB  fMSE ${v.fmse === null ? 'n/a' : v.fmse.toFixed(1)}`);
      }
    }
    for (const line of s.summary) console.log(`summary: ${line}`);
    console.log(`report: ${s.report}`);
    return 0;
  },
};
