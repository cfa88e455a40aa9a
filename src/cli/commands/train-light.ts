/**
 * `harmonia train-light`: trains the learned background-light estimator of the intrinsic stage
 * (src/intrinsic/light-net.ts) on procedural composites with known light and saves it in the TF.js
 * layers format (default models/light/). Training seeds start at --seed0 (default 1,000,000), far
 * from the evaluation seeds (bench: 1000.., tests: 2000..); a --val-fraction of them is held out
 * for model selection. Every scene also contributes its mirror image (x negated). The training itself
 * is trainLightNet (src/intrinsic/light-train.ts); this command parses options and caches features.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { Progress } from '../../util/progress.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { initEngine } from '../../engine/index.ts';
import { saveModel } from '../../models/io.ts';
import { lightTrainingRows, trainLightNet, LIGHT_ROW } from '../../intrinsic/light-train.ts';
import { FLAG_RANGES, numberFlag, requiredNumberFlag } from '../flags.ts';
import { checkOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';

/** Layer names of the light net (src/intrinsic/light-net.ts) all start so: how a folder train-light made is told apart. */
const LIGHT_LAYER_PREFIX = 'light_';

/**
 * What model `dir` holds, from its files: 'none' (no model.json, weights.bin or harmonia.json),
 * 'light' (a model.json whose layers are all the light net's), or a description of another model
 * ("a harmonization generator (harmonia.json)", "a model train-light did not make").
 */
export function lightFolderKind(dir: string): 'none' | 'light' | string {
  const has = (f: string): boolean => { try { return statSync(join(dir, f)).isFile(); } catch { return false; } };
  if (has('harmonia.json')) return 'a harmonization generator (it has harmonia.json)';
  if (!has('model.json')) return has('weights.bin') ? 'a model folder train-light did not make (weights.bin without model.json)' : 'none';
  try {
    if (statSync(join(dir, 'model.json')).size > 16 << 20) return 'a model train-light did not make (model.json over 16 MB)';
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { modelTopology?: { config?: { layers?: { config?: { name?: unknown } }[] } } };
    const layers = json.modelTopology?.config?.layers ?? [];
    const names = layers.map((l) => l.config?.name);
    if (names.length > 0 && names.every((n) => typeof n === 'string' && n.startsWith(LIGHT_LAYER_PREFIX))) return 'light';
    return `a model train-light did not make (layers ${names.slice(0, 3).map(String).join(', ')}${names.length > 3 ? ', …' : ''})`;
  } catch {
    return 'a model train-light did not make (model.json is not a TensorFlow.js model)';
  }
}

/**
 * The output rule for `train-light` (issue 28), before any work: --out gets model.json + weights.bin
 * and is never a folder of a model train-light did not make (a generator: refused even with
 * --overwrite), a dataset or a run; a light model already there (the shipped models/light by default)
 * is replaced only with --overwrite. --features is read when it exists (a regular file) and written
 * otherwise.
 */
export function planTrainLight(values: Record<string, unknown>): { out: string; features?: string; readFeatures: boolean; inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  const out = typeof values.out === 'string' ? values.out : 'models/light';
  if (out === '') throw new HarmoniaError('--out: give a folder');
  const overwrite = Boolean(values.overwrite);
  const features = typeof values.features === 'string' ? values.features : undefined;
  if (features === '') throw new HarmoniaError('--features: give a file');
  let readFeatures = false;
  const inputs: SafetyInput[] = [];
  const rebuilds = { path: out, kinds: ['model'] as const };
  const outputs: SafetyOutput[] = [{ path: out, flag: '--out', kind: 'folder', mkdir: true, rebuilds },
    ...['model.json', 'weights.bin'].map((f): SafetyOutput => ({ path: join(out, f), flag: `--out (${f})`, kind: 'file', mkdir: true, rebuilds }))];
  if (features) {
    const st = (() => { try { return statSync(features); } catch { return undefined; } })();
    if (st && !st.isFile()) throw new HarmoniaError(`--features ${st.isDirectory() ? 'is a folder' : 'is not a regular file (device, FIFO or socket)'}: give a feature cache file`, { file: features });
    if (st) { readFeatures = true; inputs.push({ path: features, what: 'feature cache (--features)' }); } else outputs.push({ path: features, flag: '--features', kind: 'file', mkdir: true });
  }
  checkOutputs(inputs, outputs, { overwrite });
  const kind = lightFolderKind(out);
  if (kind !== 'none' && kind !== 'light') throw new HarmoniaError(`--out is ${kind}; train-light never overwrites it, even with --overwrite (choose another --out)`, { file: out });
  if (kind === 'light' && !overwrite) throw new HarmoniaError(`--out already holds a trained light model; pass --overwrite to replace it (or choose another --out)`, { file: out });
  return { out, features, readFeatures, inputs, outputs };
}

const R = FLAG_RANGES['train-light'];
/** One item of a comma-separated numeric list flag, checked like the flag itself. */
const listItem = (v: string, name: 'render-sizes' | 'hidden'): number => numberFlag({ [name]: v }, name, R[name]) as number;

export const trainLightCommand: Command = {
  name: 'train-light',
  summary: 'train the learned background-light estimator of the intrinsic stage on procedural scenes',
  usage: 'harmonia train-light [--out models/light --overwrite] [--count 3000] [--seed0 1000000] [--render-sizes 128,256] [--epochs 400] [--hidden 64,64] [--dropout 0] [--l2 0] [--lr 0.001] [--features cache.bin]',
  options: {
    out: { type: 'string', default: 'models/light', description: 'output folder (model.json + weights.bin)' },
    count: { type: 'string', default: '3000', description: 'procedural training scenes (each also mirrored)' },
    seed0: { type: 'string', default: '1000000', description: 'first training seed' },
    epochs: { type: 'string', default: '400', description: 'training epochs' },
    'render-sizes': { type: 'string', default: '128', description: 'scene sizes, used in turn (each analysed on a 128-px copy)' },
    hidden: { type: 'string', default: '64,64', description: 'hidden layer widths' },
    dropout: { type: 'string', default: '0', description: 'dropout rate after each hidden layer (training only)' },
    l2: { type: 'string', default: '0', description: 'L2 penalty on the kernels' },
    lr: { type: 'string', default: '0.001', description: 'Adam learning rate' },
    'val-fraction': { type: 'string', default: '0.1', description: 'share of the training scenes held out for model selection' },
    features: { type: 'string', description: 'feature cache file (read when it exists, else written)' },
    overwrite: { type: 'boolean', default: false, description: 'replace the light model already in --out (e.g. the shipped models/light); a folder of another model is never replaced' },
    quiet: { type: 'boolean', default: false, description: 'no progress bar' },
  },
  async run({ values }) {
    const count = requiredNumberFlag(values, 'count', R.count);
    const sizes = String(values['render-sizes']).split(',').map((v) => listItem(v, 'render-sizes'));
    const seed0 = requiredNumberFlag(values, 'seed0', R.seed0);
    const epochs = requiredNumberFlag(values, 'epochs', R.epochs);
    const hidden = String(values.hidden).split(',').map((v) => listItem(v, 'hidden'));
    const valFraction = Number(values['val-fraction']);
    if (!(valFraction > 0 && valFraction < 0.5)) throw new HarmoniaError(`--val-fraction must be in (0, 0.5), got "${String(values['val-fraction'])}"`);
    const dropout = Number(values.dropout);
    const l2 = Number(values.l2);
    const lr = Number(values.lr);
    if (!(dropout >= 0 && dropout < 1)) throw new HarmoniaError(`--dropout must be in [0, 1), got "${String(values.dropout)}"`);
    if (!(l2 >= 0)) throw new HarmoniaError(`--l2 must be ≥ 0, got "${String(values.l2)}"`);
    if (!(lr > 0)) throw new HarmoniaError(`--lr must be > 0, got "${String(values.lr)}"`);
    // every output path before any work (issue 28)
    const { out, features: cacheFile, readFeatures } = planTrainLight(values);
    let rows: Float32Array;
    const expectLen = count * 2 * LIGHT_ROW;
    if (cacheFile && readFeatures) {
      if (!statSync(cacheFile).isFile()) throw new HarmoniaError('--features must name a feature cache file (or a file to write), not a folder or device', { file: cacheFile });
      const buf = readFileSync(cacheFile);
      if (buf.byteLength !== expectLen * 4) throw new HarmoniaError(`--features: not a feature cache of this run: ${buf.byteLength} bytes, expected ${expectLen * 4} (${count} scenes × 2 × ${LIGHT_ROW} float32 values; --count changed, or a file not written by --features?)`, { file: cacheFile });
      rows = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      if (rows.some((v) => !Number.isFinite(v))) throw new HarmoniaError('--features: the feature cache holds non-finite values (a damaged file; delete it to recompute)', { file: cacheFile });
    } else {
      rows = new Float32Array(expectLen);
      const bar = new Progress('scenes', count, { quiet: Boolean(values.quiet) });
      for (let i = 0; i < count; i++) {
        rows.set(lightTrainingRows(seed0 + i, sizes[i % sizes.length]), i * 2 * LIGHT_ROW);
        bar.tick(1);
      }
      bar.finish();
      if (cacheFile) await writeFileAtomic(cacheFile, new Uint8Array(rows.buffer), { mkdir: true });
    }
    await initEngine({ quiet: true });
    const bar = new Progress('epochs', epochs, { quiet: Boolean(values.quiet) });
    let done = 0;
    const r = await trainLightNet(rows, count, {
      seed: seed0, epochs, hidden, dropout, l2, lr, valFraction,
      onProgress: (p) => {
        bar.tick(p.epochsDone - done, `loss ${p.loss.toFixed(4)} val median ${p.valMedian.toFixed(1)}° (best ${p.best.median.toFixed(1)}° @${p.best.epoch})`);
        done = p.epochsDone;
      },
    });
    bar.finish();
    await saveModel(r.model, out);
    r.model.dispose();
    console.log(`train-light: ${r.trainScenes} training scenes (+ mirrors), ${r.valScenes} held out; best epoch ${r.bestEpoch}: ` +
      `validation median light error ${r.valMedianDeg.toFixed(1)}° (TypeScript forward ${r.tsValMedianDeg.toFixed(1)}°); saved ${out}`);
    return 0;
  },
};
