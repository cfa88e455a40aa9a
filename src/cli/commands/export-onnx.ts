/**
 * `harmonia export-onnx <model-dir>` (or `--model <model-dir>`): writes the ONNX export of a model
 * folder (model.onnx beside model.json, or --out) from its TF.js files — the one command to run after
 * replacing weights.bin / model.json by hand — and optionally checks it against TensorFlow.js with
 * ONNX Runtime (G for paper generators; θ and the full harmonized image for colour-transform ones).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { initEngine } from '../../engine/index.ts';
import { tf } from '../../engine/tf.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { loadHarmonizationModel } from '../../pipeline/model.ts';
import { runGenerator } from '../../models/generator.ts';
import { analysisSizeOf, generatorEntryOf } from '../../models/registry.ts';
import { createOnnxGenerator, createOnnxColorTransform, onnxAvailable } from '../../models/onnx.ts';
import { predictColorTransform } from '../../models/color-transform.ts';
import { Rng } from '../../util/random.ts';
import { ensureOnnxModel } from '../../models/folder-onnx.ts';
import { readOnnxSummary } from '../../onnx/proto.ts';
import { canonicalPath, checkOutputs, type SafetyInput, type SafetyOutput } from '../../util/output-safety.ts';

/** The files of a model folder that export-onnx reads: never an output. */
const MODEL_FILES = ['model.json', 'weights.bin', 'harmonia.json'] as const;

/**
 * What `harmonia export-onnx` reads and writes, validated before the model is loaded (issue 28): one
 * model folder; the target (--out, else <model>/model.onnx) ends in .onnx, is never a file of the model
 * (model.json, weights.bin, harmonia.json) nor of another model, dataset or run, never a device or FIFO,
 * and never a read-only file without --overwrite.
 */
export function planExportOnnx(values: Record<string, unknown>, positionals: readonly string[]): { dir: string; target: string; explicitOut: boolean; inputs: SafetyInput[]; outputs: SafetyOutput[] } {
  const folders = [...positionals, ...(typeof values.model === 'string' ? [values.model] : [])];
  if (folders.length !== 1) throw new HarmoniaError('export-onnx: give exactly one model folder (positional or --model)');
  const dir = resolve(folders[0]);
  if (!existsSync(join(dir, 'model.json'))) throw new HarmoniaError('no model here (model.json missing)', { file: folders[0] });
  const explicitOut = typeof values.out === 'string';
  if (explicitOut && values.out === '') throw new HarmoniaError('--out: give a file name ending in .onnx');
  const target = explicitOut ? resolve(values.out as string) : join(dir, 'model.onnx');
  const inputs: SafetyInput[] = MODEL_FILES.map((f) => join(dir, f)).filter((f) => existsSync(f)).map((f) => ({ path: f, what: `model file` }));
  const own = canonicalPath(target) === canonicalPath(join(dir, 'model.onnx'));
  const outputs: SafetyOutput[] = [{
    path: explicitOut ? (values.out as string) : target, flag: explicitOut ? '--out' : 'model.onnx', kind: 'file',
    ext: { list: ['.onnx'], format: 'ONNX' }, ...(own ? { rebuilds: { path: dir, kinds: ['model'] } } : {}),
  }];
  checkOutputs(inputs, outputs, { overwrite: Boolean(values.overwrite) });
  return { dir, target, explicitOut, inputs, outputs };
}

/** Max |ORT − tfjs| of the generator on a seeded random h×w image with a soft mask. */
export async function checkOnnxAgainstTfjs(bytes: Uint8Array, generator: tf.LayersModel, h = 67, w = 45, seed = 1): Promise<number> {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: h * w * 3 }, () => rng.next());
  const m = Float32Array.from({ length: h * w }, (_, p) => Math.min(1, Math.max(0, 1.5 - Math.hypot((p % w) - w / 2, Math.floor(p / w) - h / 2) / (Math.min(h, w) / 4))));
  const g = await createOnnxGenerator(bytes, { threads: 1 });
  try {
    const y = g.runSync(x, m, h, w);
    const ref = tf.tidy(() => runGenerator(generator, tf.tensor4d(x, [1, h, w, 3]), tf.tensor4d(m, [1, h, w, 1]), g.config).dataSync() as Float32Array);
    let d = 0;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(y[i] - ref[i]));
    return d;
  } finally {
    g.dispose();
  }
}

/** Max |ORT − tfjs| of a colour-transform parameter network (θ, and the field) on a seeded random analysis copy. */
export async function checkColorTransformAgainstTfjs(bytes: Uint8Array, generator: tf.LayersModel, seed = 1): Promise<number> {
  const c = await createOnnxColorTransform(bytes, { threads: 1 });
  try {
    const s = c.size;
    const rng = new Rng(seed);
    const x = Float32Array.from({ length: s * s * 4 }, (_, i) => (i % 4 === 3 ? (Math.hypot((Math.floor(i / 4) % s) - s / 2, Math.floor(i / 4 / s) - s / 2) < s / 4 ? 1 : 0) : rng.next()));
    const got = await c.predict(x);
    const t = tf.tensor4d(x, [1, s, s, 4]);
    const ref = predictColorTransform(generator, t);
    t.dispose();
    let d = 0;
    for (let i = 0; i < ref.theta.length; i++) d = Math.max(d, Math.abs(got.theta[i] - ref.theta[i]));
    if (ref.field && got.field) for (let i = 0; i < ref.field.data.length; i++) d = Math.max(d, Math.abs(got.field.data[i] - ref.field.data[i]));
    return d;
  } finally {
    c.dispose();
  }
}

/** The two comparisons --check runs (an object, so a test can stand in a failing one). */
export const onnxChecks = { generator: checkOnnxAgainstTfjs, colorTransform: checkColorTransformAgainstTfjs };

export const exportOnnxCommand: Command = {
  name: 'export-onnx',
  summary: 'export a model folder’s generator to ONNX (model.onnx), optionally checked against TensorFlow.js',
  usage: 'harmonia export-onnx <model-dir> | --model <model-dir> [--out <file.onnx>] [--check] [--overwrite]',
  options: {
    model: { type: 'string', description: 'the model folder (instead of the positional argument)' },
    out: { type: 'string', short: 'o', description: 'write here (a .onnx file, never a file of a model, dataset or run) instead of <model-dir>/model.onnx' },
    check: { type: 'boolean', default: false, description: 'run the export with ONNX Runtime and compare with TensorFlow.js (max abs diff must be ≤ 1e-4); nothing is written when it fails' },
    overwrite: { type: 'boolean', default: false, description: 'replace a read-only existing output (its permissions are kept); a device or FIFO is never replaced' },
  },
  async run({ values, positionals }) {
    // every path before the model is loaded: the output rule (issue 28)
    const { dir, target, explicitOut } = planExportOnnx(values, positionals);
    await initEngine();
    const model = await loadHarmonizationModel(dir);
    const entry = generatorEntryOf(model.config);
    if (!entry.onnx) throw new HarmoniaError(`export-onnx: generator "${entry.name}" has no ONNX export`, { file: dir });
    // exported in memory; written (and so tagged fresh) only after --check passed
    const art = await ensureOnnxModel(dir, model, { write: false });
    const write = explicitOut || art.regenerated;
    const where = write ? target : art.path;
    const s = readOnnxSummary(art.bytes);
    const analysis = entry.family === 'analysis-apply';
    const io = analysis
      ? `input NHWC [N,${analysisSizeOf(model.config)},${analysisSizeOf(model.config)},4] (analysis copy) → ${s.outputs.join(' + ')} (the transform is applied in JavaScript)`
      : `input NHWC [N,H,W,${model.generator.inputs[0].shape[3]}]${entry.stride > 1 ? ` (H, W multiples of ${entry.stride})` : ''}`;
    if (values.check) {
      if (!(await onnxAvailable())) throw new HarmoniaError('export-onnx --check needs onnxruntime-node (optional dependency)');
      const d = analysis ? await onnxChecks.colorTransform(art.bytes, model.generator) : await onnxChecks.generator(art.bytes, model.generator);
      console.log(`  check: max |ONNX Runtime − TensorFlow.js| = ${d.toExponential(2)} ${analysis ? 'on θ of a random analysis copy' : 'on a 67×45 image'}`);
      if (!(d <= 1e-4)) {
        console.error(`export-onnx: the export does not match TensorFlow.js (max abs diff > 1e-4); nothing written${write ? ` (${target} left as it was)` : ''}`);
        return 1;
      }
    }
    if (write) await writeFileAtomic(target, art.bytes);
    console.log(`${where ?? '(not written)'}`);
    console.log(`  ${(art.bytes.length / 1e6).toFixed(2)} MB, ONNX IR ${s.irVersion}, opset ${s.opset}, ${s.ops.length} nodes, ${s.initializers.length} initializers; ${io}`);
    console.log(`  source sha256 ${art.digest.slice(0, 16)}…, ${art.regenerated ? `exported${art.note ? ` (${art.note})` : ''}` : 'model.onnx is fresh (its SHA-256 tag matches model.json + weights.bin): nothing to do'}`);
    return 0;
  },
};
