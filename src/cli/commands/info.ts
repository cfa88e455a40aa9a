import { createRequire } from 'node:module';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Command } from '../types.ts';
import { choiceFlag } from '../usage.ts';
import { initEngine } from '../../engine/index.ts';
import { tf } from '../../engine/tf.ts';
import { createOnnxGenerator, createOnnxColorTransform, inferenceMode, ortThreads } from '../../models/onnx.ts';
import { readOnnxModel } from '../../onnx/file.ts';
import { DEFAULT_MODEL_DIR, loadHarmonizationModel } from '../../pipeline/model.ts';
import { generatorEntryOf } from '../../models/registry.ts';
import { BACKEND_REQUESTS, listWords } from '../../config/index.ts';

const ORT_PACKAGE = 'onnxruntime-node';

export interface InferenceEngineInfo {
  /** What runs the generator G of `harmonize`. */
  engine: 'ONNX Runtime' | 'TensorFlow.js';
  /** onnxruntime-node's version when it is installed. */
  ortVersion?: string;
  /** Why this engine: the setting, or what was missing. */
  reason: string;
}

/** The installed onnxruntime-node version, or undefined when the package is absent. */
function ortVersion(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    return (req(`${ORT_PACKAGE}/package.json`) as { version?: string }).version ?? '?';
  } catch {
    return undefined;
  }
}

/**
 * Which engine `harmonize` runs G of the model folder `modelDir` on, and why, decided the way the
 * pipeline decides (HARMONIA_INFERENCE, whether onnxruntime-node loads, whether the generator has an
 * ONNX export, whether the folder's model.onnx matches its TF.js files, whether a synchronous session
 * opens). Side-effect free: nothing is exported or written. Needs an initialised TensorFlow.js backend.
 */
export async function inferenceEngineInfo(modelDir: string = DEFAULT_MODEL_DIR): Promise<InferenceEngineInfo> {
  const mode = inferenceMode();
  const tfjs = (reason: string, version?: string): InferenceEngineInfo => ({ engine: 'TensorFlow.js', ortVersion: version, reason });
  if (mode === 'tfjs') return tfjs('HARMONIA_INFERENCE=tfjs');
  const version = ortVersion();
  if (version === undefined) {
    return tfjs(`${ORT_PACKAGE} (optional dependency) is not installed; add it with \`ONNXRUNTIME_NODE_INSTALL=skip npm install ${ORT_PACKAGE}\` (the variable keeps its install script from downloading CUDA libraries, which fails offline)`);
  }
  try {
    const spec: string = ORT_PACKAGE;
    await import(spec);
  } catch (err) {
    return tfjs(`${ORT_PACKAGE} ${version} is installed but cannot be loaded (${(err as Error).message.split('\n')[0]})`, version);
  }
  const how = mode === 'onnx' ? 'HARMONIA_INFERENCE=onnx' : `${ORT_PACKAGE} is installed (HARMONIA_INFERENCE unset or auto)`;
  if (!existsSync(join(modelDir, 'model.json'))) {
    return { engine: 'ONNX Runtime', ortVersion: version, reason: `${how}; not checked against a model (${modelDir} has no model.json)` };
  }
  let model;
  try {
    model = await loadHarmonizationModel(modelDir);
    const entry = generatorEntryOf(model.config);
    const kind = entry.name;
    if (!entry.onnx) return tfjs(`the "${kind}" generator of ${modelDir} has no ONNX export`, version);
    const file = await readOnnxModel(modelDir);
    if (file.status !== 'fresh') {
      if (mode === 'onnx') throw new Error(file.reason);
      return tfjs(file.reason, version);
    }
    if (entry.family === 'analysis-apply') {
      const c = await createOnnxColorTransform(file.bytes, { threads: ortThreads() }, file.path);
      const { syncAvailable, threads, size } = c;
      c.dispose();
      if (!syncAvailable) return tfjs(`${ORT_PACKAGE} ${version} has no synchronous native session, which the pipeline needs`, version);
      return { engine: 'ONNX Runtime', ortVersion: version, reason: `${how}; CPU provider, ${threads} threads, runs the "${kind}" generator's network (${size}² analysis copy → colour transform; the transform is applied in JavaScript at full resolution) from ${file.path}, whose SHA-256 tag matches model.json + weights.bin` };
    }
    const g = await createOnnxGenerator(file.bytes, { threads: ortThreads() }, file.path);
    const { syncAvailable, threads } = g;
    g.dispose();
    if (!syncAvailable) return tfjs(`${ORT_PACKAGE} ${version} has no synchronous native session, which the pipeline needs`, version);
    return { engine: 'ONNX Runtime', ortVersion: version, reason: `${how}; CPU provider, ${threads} threads, runs ${file.path}, whose SHA-256 tag matches model.json + weights.bin` };
  } catch (err) {
    if (mode === 'onnx') throw err;
    return tfjs(`ONNX Runtime cannot run ${modelDir} (${(err as Error).message})`, version);
  } finally {
    model?.generator.dispose();
  }
}

export const info: Command = {
  name: 'info',
  summary: 'show the TensorFlow.js backend and the inference engine of the generator Harmonia picks, and why',
  usage: `harmonia info [--backend ${BACKEND_REQUESTS.join('|')}] [--model <folder>] [--json]`,
  options: {
    backend: { type: 'string', default: 'auto', description: `TensorFlow.js backend to initialise: ${listWords(BACKEND_REQUESTS)}` },
    model: { type: 'string', description: 'model folder whose generator is checked (default: the shipped model)' },
    json: { type: 'boolean', default: false, description: 'print the same facts as one JSON document' },
  },
  async run({ values }) {
    const backend = choiceFlag(values, 'backend', BACKEND_REQUESTS) ?? 'auto';
    const e = await initEngine({ backend, quiet: true });
    const inf = await inferenceEngineInfo(typeof values.model === 'string' ? values.model : DEFAULT_MODEL_DIR);
    if (values.json) {
      console.log(JSON.stringify({
        backend: e.backend, backendReason: e.reason, threadsPerOp: e.threads, projectKernels: e.kernels,
        inference: inf, tfjs: tf.version.tfjs, onnxruntimeNode: inf.ortVersion ?? null, node: process.version,
      }));
      return 0;
    }
    console.log(`backend: ${e.backend} (${e.reason})`);
    console.log(`threads per op: ${e.threads}`);
    if (e.kernels.length) console.log(`project kernels: ${e.kernels.join(', ')}`);
    console.log(`inference engine (generator): ${inf.engine}${inf.engine === 'ONNX Runtime' ? ` ${inf.ortVersion}` : ''} (${inf.reason})`);
    console.log(`tfjs: ${tf.version.tfjs}`);
    if (inf.ortVersion) console.log(`onnxruntime-node: ${inf.ortVersion}`);
    console.log(`node: ${process.version}`);
    return 0;
  },
};
