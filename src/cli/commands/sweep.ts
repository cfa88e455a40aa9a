import type { Command, OptionSpec } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { getPreset } from '../../train/presets.ts';
import { runSweep } from '../../eval/experiment.ts';
import type { SweepOptions } from '../../eval/experiment.ts';
import { lossSettingNames, assertLossSetting, sweepableWeights } from '../../losses/index.ts';
import { trainOptions, trainOverrides, requireString, startEngine } from './train.ts';
import { join } from 'node:path';
import { planStudy } from './experiment.ts';

/** The tables `sweep` writes into --out. */
export const SWEEP_FILES = ['sweep.md', 'sweep.json'] as const;

function list(v: unknown, flag: string): number[] | undefined {
  if (v === undefined) return undefined;
  const vals = String(v).split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (vals.length === 0 || vals.some((x) => !Number.isFinite(x) || x < 0)) throw new HarmoniaError(`--${flag}: expected comma-separated numbers ≥ 0, got "${String(v)}"`);
  return vals;
}


export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'train one loss setting over a grid of loss weights and evaluate each → table (md, json)',
  usage: 'harmonia sweep --setting mask --lambda-mask 1,10,100,1000 [--lambda-unmask 100] --config cpu --data <dir> --out <dir>',
  get options(): Record<string, OptionSpec> {
    return {
      ...trainOptions(),
      setting: { type: 'string', default: 'mask', description: `loss setting: ${lossSettingNames().join(', ')}` },
      weights: { type: 'string', description: 'weights folder for LPIPS' },
    };
  },
  async run({ values }) {
    const preset = getPreset(String(values.config));
    const setting = String(values.setting);
    assertLossSetting(setting, '--setting');
    const data = requireString(values, 'data');
    const out = requireString(values, 'out');
    // the setting's sweepable weights (loss registry) take lists here; the remaining flags are ordinary overrides
    const grid: SweepOptions['grid'] = {};
    const rest = { ...values };
    for (const w of sweepableWeights(setting)) {
      const l = list(values[w.flag], w.flag);
      if (l && l.length) grid[w.key] = l;
      delete rest[w.flag];
    }
    const overrides = trainOverrides(rest);
    planStudy(values, SWEEP_FILES);
    await startEngine(values);
    const t = await runSweep({
      preset, data, out, setting, grid, overrides, overwrite: Boolean(values.overwrite), quiet: Boolean(values.quiet),
      cacheDir: typeof values.cache === 'string' ? values.cache : undefined, weightsDir: typeof values.weights === 'string' ? values.weights : undefined,
    });
    for (const n of t.notes) console.error(`NOTE: ${n}`);
    for (const r of t.rows) console.log(`${JSON.stringify(r.weights)}  PSNR ${r.summary.psnr.toFixed(2)}  fMSE ${r.summary.fmse === null ? 'n/a' : r.summary.fmse.toFixed(1)}`);
    console.log(`sweep table: ${join(out, 'sweep.md')}, ${join(out, 'sweep.json')}`);
    return 0;
  },
};
