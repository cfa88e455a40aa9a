import type { Command } from '../types.ts';
import { runDemo } from '../../pipeline/demo.ts';
import { FLAG_RANGES, requiredNumberFlag } from '../flags.ts';

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
  },
  async run({ values }) {
    const num = (k: 'count' | 'size' | 'seed'): number => requiredNumberFlag(values, k, FLAG_RANGES.demo[k]);
    const s = await runDemo({
      outDir: values.output as string,
      count: num('count'),
      size: num('size'),
      seed: num('seed'),
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
