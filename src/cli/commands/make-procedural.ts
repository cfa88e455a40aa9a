import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { Progress } from '../../util/progress.ts';
import { writeProceduralDataset, PROCEDURAL_SUBSET, PROCEDURAL_TRAINING_SEED0 } from '../../data/procedural.ts';
import { checkSubsetReplaceable } from '../../data/atomic-subset.ts';
import { checkOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';
import { FLAG_RANGES, requiredNumberFlag, numberFlag, describeRange, type FlagRange } from '../flags.ts';

const R = FLAG_RANGES['make-procedural'];
/** --scene-seed0: held-out scene seeds, below the training seeds (the end, seed0 + count, is checked by writeProceduralDataset). */
const SCENE_SEED0: FlagRange = { min: 0, max: PROCEDURAL_TRAINING_SEED0 - 1, integer: true, why: 'held-out scenes stay below the training seeds' };

/**
 * The output rule for `make-procedural` (issue 28), before any work: --out is a dataset root it
 * rebuilds (never a model folder or a run); <out>/Procedural is one Harmonia built (build.json) or new
 * or empty, and without --overwrite holds no read-only file.
 */
export function planMakeProcedural(values: Record<string, unknown>): { inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  if (typeof values.out !== 'string' || values.out === '') throw new HarmoniaError('--out <dir> is required');
  const overwrite = Boolean(values.overwrite);
  const outputs: SafetyOutput[] = [{ path: values.out, flag: '--out', kind: 'folder', mkdir: true, rebuilds: { path: values.out, kinds: ['dataset'] } }];
  checkOutputs([], outputs, { overwrite });
  checkSubsetReplaceable(values.out, PROCEDURAL_SUBSET, { overwrite });
  return { inputs: [], outputs };
}

export const makeProcedural: Command = {
  name: 'make-procedural',
  summary: 'render a procedural composite dataset with intrinsic ground truth (iHarmony4 layout)',
  usage: 'harmonia make-procedural --out <dir> [--count N] [--seed S] [--size 256] [--test-fraction 0.1] [--scene-seed0 N]',
  options: {
    out: { type: 'string', description: 'output root (gets Procedural/ and IHD_{train,test}.txt)' },
    count: { type: 'string', default: '100', description: 'number of composites (one per rendered scene)' },
    seed: { type: 'string', default: '0', description: 'random seed' },
    size: { type: 'string', default: '256', description: 'image width and height in pixels' },
    'test-fraction': { type: 'string', default: '0.1', description: 'share of scenes in the test split' },
    'scene-seed0': { type: 'string', description: `held-out benchmark scenes: scene i is the procedural composite of seed N+i (named proc<N+i>; bench/intrinsic.ts procedural renders the same), ${describeRange(SCENE_SEED0)}; e.g. --scene-seed0 1000 --count 200 --test-fraction 1 (default: seeds hashed from --seed)` },
    overwrite: { type: 'boolean', default: false, description: 'rebuild <out>/Procedural even when it holds read-only files (refused otherwise)' },
    quiet: { type: 'boolean', default: false, description: 'no progress bar' },
  },
  async run({ values }) {
    if (typeof values.out !== 'string' || values.out === '') throw new HarmoniaError('--out <dir> is required');
    const count = requiredNumberFlag(values, 'count', R.count);
    const seed = requiredNumberFlag(values, 'seed', R.seed);
    const size = requiredNumberFlag(values, 'size', R.size);
    const testFraction = requiredNumberFlag(values, 'test-fraction', R['test-fraction']);
    const sceneSeed0 = numberFlag(values, 'scene-seed0', SCENE_SEED0);
    if (sceneSeed0 !== undefined && sceneSeed0 + count > PROCEDURAL_TRAINING_SEED0) throw new HarmoniaError(`--scene-seed0 ${sceneSeed0} with --count ${count} reaches the training seeds (≥ ${PROCEDURAL_TRAINING_SEED0})`);
    planMakeProcedural(values);
    const bar = new Progress('make-procedural', count, { quiet: Boolean(values.quiet) });
    let last = 0;
    const r = await writeProceduralDataset(values.out, {
      count, seed, width: size, height: size, testFraction, overwrite: Boolean(values.overwrite), sceneSeed0,
      onProgress: (done) => { bar.tick(done - last); last = done; },
    });
    bar.finish();
    console.log(`wrote ${r.train} train + ${r.test} test composites to ${values.out}`);
    return 0;
  },
};
