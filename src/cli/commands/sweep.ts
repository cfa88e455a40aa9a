import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { getPreset } from '../../train/presets.ts';
import { runSweep } from '../../train/experiment.ts';
import type { SweepOptions } from '../../train/experiment.ts';
import { LOSS_SETTINGS } from '../../losses/index.ts';
import type { LossSetting } from '../../losses/index.ts';
import { TRAIN_OPTIONS, trainOverrides, requireString, startEngine } from './train.ts';
import { join } from 'node:path';

function list(v: unknown, flag: string): number[] | undefined {
  if (v === undefined) return undefined;
  const vals = String(v).split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (vals.length === 0 || vals.some((x) => !Number.isFinite(x) || x < 0)) throw new HarmoniaError(`--${flag}: expected comma-separated numbers ≥ 0, got "${String(v)}"`);
  return vals;
}

const GRID_FLAGS = { lambdaMask: 'lambda-mask', lambdaUnmask: 'lambda-unmask', l1Weight: 'l1-weight', featureWeight: 'feature-weight', fnMseWeight: 'fn-mse' } as const;

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'train one loss setting over a grid of loss weights and evaluate each → table (md, json)',
  usage: 'harmonia sweep --setting mask --lambda-mask 1,10,100,1000 [--lambda-unmask 100] --config cpu --data <dir> --out <dir>',
  options: {
    ...TRAIN_OPTIONS,
    setting: { type: 'string', default: 'mask', description: `loss setting: ${LOSS_SETTINGS.join(', ')}` },
    weights: { type: 'string', description: 'weights folder for LPIPS' },
  },
  async run({ values }) {
    const preset = getPreset(String(values.config));
    const setting = String(values.setting);
    if (!(LOSS_SETTINGS as readonly string[]).includes(setting)) throw new HarmoniaError(`--setting: must be one of ${LOSS_SETTINGS.join(', ')}, got "${setting}"`);
    const data = requireString(values, 'data');
    const out = requireString(values, 'out');
    // the flags of the grid take lists here; the remaining flags are ordinary overrides
    const grid: SweepOptions['grid'] = {};
    const rest = { ...values };
    for (const [key, flag] of Object.entries(GRID_FLAGS)) {
      const l = list(values[flag], flag);
      if (l && l.length) grid[key as keyof SweepOptions['grid']] = l;
      delete rest[flag];
    }
    const overrides = trainOverrides(rest);
    await startEngine(values);
    const t = await runSweep({
      preset, data, out, setting: setting as LossSetting, grid, overrides, overwrite: Boolean(values.overwrite), quiet: Boolean(values.quiet),
      cacheDir: typeof values.cache === 'string' ? values.cache : undefined, weightsDir: typeof values.weights === 'string' ? values.weights : undefined,
    });
    for (const n of t.notes) console.error(`NOTE: ${n}`);
    for (const r of t.rows) console.log(`${JSON.stringify(r.weights)}  PSNR ${r.summary.psnr.toFixed(2)}  fMSE ${r.summary.fmse === null ? 'n/a' : r.summary.fmse.toFixed(1)}`);
    console.log(`sweep table: ${join(out, 'sweep.md')}, ${join(out, 'sweep.json')}`);
    return 0;
  },
};
