/**
 * `harmonia export-onnx <model-dir>`: writes the ONNX export of a model folder (model.onnx beside
 * model.json, or --out), optionally checks it against TensorFlow.js with ONNX Runtime.
 */
import { resolve } from 'node:path';
import type { Command } from '../types.ts';
import { HarmoniaError } from '../../errors.ts';
import { initEngine } from '../../engine/index.ts';
import { tf } from '../../engine/tf.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { loadHarmonizationModel } from '../../pipeline/model.ts';
import { runGenerator } from '../../models/generator.ts';
import { createOnnxGenerator, onnxAvailable } from '../../models/onnx.ts';
import { Rng } from '../../util/random.ts';
import { ensureOnnxModel } from '../../export/cache.ts';
import { readOnnxSummary } from '../../export/onnx-proto.ts';

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

export const exportOnnxCommand: Command = {
  name: 'export-onnx',
  summary: 'export a model folder’s generator to ONNX (model.onnx), optionally checked against TensorFlow.js',
  usage: 'harmonia export-onnx <model-dir> [--out <file.onnx>] [--check]',
  options: {
    out: { type: 'string', short: 'o', description: 'write here instead of <model-dir>/model.onnx' },
    check: { type: 'boolean', default: false, description: 'run the export with ONNX Runtime and compare with TensorFlow.js (max abs diff must be ≤ 1e-4)' },
  },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new HarmoniaError('export-onnx: give exactly one model folder');
    const dir = resolve(positionals[0]);
    await initEngine();
    const model = await loadHarmonizationModel(dir);
    const art = await ensureOnnxModel(dir, { model, write: typeof values.out !== 'string' });
    let where = art.path;
    if (typeof values.out === 'string') {
      where = resolve(values.out);
      await writeFileAtomic(where, art.bytes);
    }
    const s = readOnnxSummary(art.bytes);
    console.log(`${where ?? '(not written: ' + (art.note ?? 'folder not writable') + ')'}`);
    console.log(`  ${(art.bytes.length / 1e6).toFixed(2)} MB, ONNX IR ${s.irVersion}, opset ${s.opset}, ${s.ops.length} nodes, ${s.initializers.length} initializers; input NHWC [N,H,W,${model.generator.inputs[0].shape[3]}] (H, W multiples of 8)`);
    console.log(`  source sha256 ${art.digest.slice(0, 16)}…, ${art.regenerated ? `exported${art.note ? ` (${art.note})` : ''}` : 'cached copy is fresh'}`);
    if (values.check) {
      if (!(await onnxAvailable())) throw new HarmoniaError('export-onnx --check needs onnxruntime-node (optional dependency)');
      const d = await checkOnnxAgainstTfjs(art.bytes, model.generator);
      console.log(`  check: max |ONNX Runtime − TensorFlow.js| = ${d.toExponential(2)} on a 67×45 image`);
      if (!(d <= 1e-4)) {
        console.error('export-onnx: the export does not match TensorFlow.js (max abs diff > 1e-4)');
        return 1;
      }
    }
    return 0;
  },
};
