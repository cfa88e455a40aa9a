import type { Command, OptionSpec } from '../types.ts';
import { getPreset } from '../../train/presets.ts';
import { runExperiment } from '../../eval/experiment.ts';
import { lossSettingNames, assertLossSetting } from '../../losses/index.ts';
import { trainOptions, trainOverrides, requireString, startEngine } from './train.ts';
import { join } from 'node:path';
import { HarmoniaError } from '../../errors.ts';
import { checkOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';

/**
 * The output rule for `experiment` and `sweep` (issue 28), before any work: --out gets the tables
 * (`files`) and runs/<setting>/ (training run folders, each locked while it trains); it is never inside
 * --data or --weights, never a model folder or a dataset; --cache (an output folder, the intrinsic
 * cache) neither; the tables are never devices, FIFOs or, without --overwrite, read-only files.
 */
export function planStudy(values: Record<string, unknown>, files: readonly string[]): { inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' && values[k] !== '' ? values[k] as string : undefined);
  const data = str('data'), out = str('out');
  if (!data) throw new HarmoniaError('--data is required');
  if (!out) throw new HarmoniaError('--out is required');
  const inputs: SafetyInput[] = [{ path: data, what: 'data folder', kind: 'folder' }];
  const weights = str('weights');
  if (weights) inputs.push({ path: weights, what: 'weights folder (--weights)', kind: 'folder' });
  const rebuilds = { path: out, kinds: [] }; // its runs/<setting>/ are training runs it (re)builds
  const outputs: SafetyOutput[] = [{ path: out, flag: '--out', kind: 'folder', mkdir: true, rebuilds },
    ...files.map((f): SafetyOutput => ({ path: join(out, f), flag: `--out (${f})`, kind: 'file', mkdir: true, rebuilds }))];
  const cache = str('cache');
  if (cache) outputs.push({ path: cache, flag: '--cache', kind: 'folder', mkdir: true });
  checkOutputs(inputs, outputs, { overwrite: Boolean(values.overwrite) });
  return { inputs, outputs };
}

/** The tables `experiment` writes into --out. */
export const EXPERIMENT_FILES = ['table1.md', 'table1.json', 'table1.html'] as const;

export const experimentCommand: Command = {
  name: 'experiment',
  summary: 'the paper experiment: intrinsic stage, train content/mask/feature, evaluate all five methods → Table 1 (md, json, html)',
  get usage(): string {
    return `harmonia experiment --config paper|cpu|smoke --data <dir> --out <dir> [--settings ${lossSettingNames().join(',')}] [options]`;
  },
  get options(): Record<string, OptionSpec> {
    return {
      ...trainOptions(),
      settings: { type: 'string', default: lossSettingNames().join(','), description: 'settings to train (the table always has a column per setting)' },
      weights: { type: 'string', description: 'weights folder for LPIPS (default $HARMONIA_WEIGHTS or ~/.cache/harmonia/weights)' },
    };
  },
  async run({ values }) {
    const preset = getPreset(String(values.config));
    const data = requireString(values, 'data');
    const out = requireString(values, 'out');
    const settings = String(values.settings).split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of settings) assertLossSetting(s, '--settings');
    const overrides = trainOverrides(values);
    planStudy(values, EXPERIMENT_FILES);
    await startEngine(values);
    const t = await runExperiment({
      preset, data, out, settings, overrides, overwrite: Boolean(values.overwrite), quiet: Boolean(values.quiet),
      cacheDir: typeof values.cache === 'string' ? values.cache : undefined, weightsDir: typeof values.weights === 'string' ? values.weights : undefined,
    });
    for (const n of t.notes) console.error(`NOTE: ${n}`);
    const fmt = (v: number | null, d: number) => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));
    for (const c of t.columns) console.log(`${c.method.padEnd(22)} PSNR ${fmt(c.images ? c.psnr : null, 2)}  fMSE ${fmt(c.fmse, 1)}  LPIPS ${c.lpips === null ? 'n/a' : c.lpips.toFixed(4)}`);
    console.log(`Table 1: ${join(out, 'table1.md')}, ${join(out, 'table1.json')}, ${join(out, 'table1.html')}`);
    return 0;
  },
};
