/**
 * What a harmonization model folder is, without loading it: its file names, where the shipped model
 * is, and its description (`harmonia.json`: generator config + model card). No TensorFlow.js here, so
 * the ONNX Runtime path (src/models/onnx.ts, src/pipeline/harmonize.ts) reads a folder without it;
 * folder.ts loads and saves the TF.js generator and re-exports these.
 */
import { existsSync, promises as fsp } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarmoniaError } from '../errors.ts';
import { describeFsError } from '../util/atomic.ts';
import type { GeneratorConfig } from './generator.ts';
import type { ModelCard } from './harmonization.ts';
import { MODEL_JSON } from '../onnx/file.ts';
import { architectureKeys, normalizedGeneratorConfig } from './registry.ts';

/** The TF.js layers-format files (io.ts); MODEL_JSON is named in src/onnx/file.ts, which digests it. */
export { MODEL_JSON };
export const WEIGHTS_BIN = 'weights.bin';
/** The model description. */
export const MODEL_META = 'harmonia.json';

/** The folder of the model shipped with Harmonia. */
export const DEFAULT_MODEL_DIR = resolve(fileURLToPath(new URL('../../models/default', import.meta.url)));

export interface ModelMeta {
  format: 'harmonia-generator';
  version: 1;
  generator: GeneratorConfig;
  card: ModelCard;
}

/** True when `dir` holds a loadable harmonization model. */
export function isModelDir(dir: string): boolean {
  return existsSync(join(dir, MODEL_JSON)) && existsSync(join(dir, MODEL_META));
}

/**
 * A problem found by the model checks (checkModelFiles, checkGeneratorConfigs, checkFiniteOutput, and
 * folder.ts's architecture and smoke checks): one HarmoniaError naming the folder. The ONNX Runtime
 * hook rethrows these instead of falling back to TensorFlow.js.
 */
export class ModelCheckError extends HarmoniaError {
  constructor(dir: string, problem: string, cause?: unknown) {
    super(`not a usable harmonization model: ${problem}`, { file: dir, cause });
    this.name = 'ModelCheckError';
  }
}

/** Model names that TensorFlow.js topologies of Harmonia's discriminators carry (src/models/discriminator.ts). */
const DISCRIMINATOR_NAMES = new Set(['discriminator', 'patch_discriminator']);

interface TopologyJson {
  modelTopology?: { class_name?: string; config?: { name?: string; layers?: { name?: string; config?: { batch_input_shape?: (number | null)[] } }[] } };
  weightsManifest?: { paths?: unknown; weights?: unknown }[];
}

/** What a model.json says it is: the model's name and layer names (empty when it has none). */
function topologyNames(json: TopologyJson): { model?: string; layers: string[] } {
  const cfg = json.modelTopology?.config;
  return { model: typeof cfg?.name === 'string' ? cfg.name : undefined, layers: Array.isArray(cfg?.layers) ? cfg.layers.map((l) => String(l?.name ?? '')) : [] };
}

/** A discriminator's model.json (Harmonia's own: model name or `d_` layers): what to say instead. */
function discriminatorProblem(json: TopologyJson): string | undefined {
  const { model, layers } = topologyNames(json);
  const isD = (model !== undefined && DISCRIMINATOR_NAMES.has(model)) || (layers.length > 0 && layers.every((l) => l.startsWith('d_')));
  if (!isD) return undefined;
  return `model.json holds a discriminator (model "${model ?? '?'}"), not a generator; give the generator folder of the run (<run>/generator)`;
}

async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new HarmoniaError(`cannot read: ${describeFsError(err)}`, { file, cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HarmoniaError(`not valid JSON (${(err as Error).message})`, { file, cause: err });
  }
}

/** The description of model folder `dir`, checked the way loadHarmonizationModel checks it (same errors). */
export async function readModelMeta(dir: string = DEFAULT_MODEL_DIR): Promise<ModelMeta> {
  const metaPath = join(dir, MODEL_META);
  if (!existsSync(join(dir, MODEL_JSON))) {
    // a training run or its checkpoint folder: name the model folder inside it
    const inner = existsSync(join(dir, 'generator', MODEL_JSON)) ? join(dir, 'generator') : undefined;
    throw new HarmoniaError(`no model here (model.json missing)${inner ? `; the generator is in ${inner}` : ''}${dir === DEFAULT_MODEL_DIR ? '; the default model has not been trained into models/default yet: use --stage intrinsic' : ''}`, { file: dir });
  }
  if (!existsSync(metaPath)) {
    // say what the folder is when it is a discriminator (its checkpoint folder has no harmonia.json either)
    const json = await readJsonFile(join(dir, MODEL_JSON)).catch(() => undefined);
    const d = json && typeof json === 'object' ? discriminatorProblem(json as TopologyJson) : undefined;
    if (d) throw new ModelCheckError(dir, d);
    throw new HarmoniaError(`${MODEL_META} is missing: model.json alone is a TensorFlow.js network without Harmonia's description (generator config and model card); a training run's model folder is <run>/generator`, { file: metaPath });
  }
  let meta: ModelMeta;
  try {
    meta = JSON.parse(await fsp.readFile(metaPath, 'utf8')) as ModelMeta;
  } catch (err) {
    throw new HarmoniaError(`cannot read the model description (${err instanceof SyntaxError ? `not valid JSON: ${err.message}` : describeFsError(err)})`, { file: metaPath, cause: err });
  }
  if (!meta || typeof meta !== 'object' || meta.format !== 'harmonia-generator' || !meta.generator || !meta.card) {
    throw new HarmoniaError('not a Harmonia model description (format must be "harmonia-generator", with "generator" and "card")', { file: metaPath });
  }
  if (typeof meta.generator !== 'object' || Array.isArray(meta.generator) || (meta.generator.kind !== undefined && typeof meta.generator.kind !== 'string')) {
    throw new HarmoniaError('"generator" must be an object whose "kind" is a generator name (paper, global, pct)', { file: metaPath });
  }
  if (typeof meta.card !== 'object' || typeof meta.card.name !== 'string' || (meta.card.input !== 'composite' && meta.card.input !== 'semiHarmonized')) {
    throw new HarmoniaError('"card" must have a "name" and an "input" of "composite" or "semiHarmonized"', { file: metaPath });
  }
  return meta;
}

/** One weight of a model.json manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

/** What checkModelFiles read: model.json's weights in manifest order, and its model and layer names. */
export interface ModelFiles {
  specs: WeightSpec[];
  modelName?: string;
  layers: string[];
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** "NaN", "Infinity" or "-Infinity" for the first non-finite value of `a`, with its index; undefined when all are finite. */
export function firstNonFinite(a: Float32Array): { index: number; value: number } | undefined {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v - v !== 0) return { index: i, value: v };
  }
  return undefined;
}

/**
 * Checks a model folder's TF.js files before use, without TensorFlow.js (the ONNX Runtime path uses it
 * too; model.onnx is tied to these files by their SHA-256): model.json is a TF.js layers model of a
 * generator (not a discriminator) whose weights stay inside the folder, the weight files hold exactly the
 * bytes the manifest describes, and every float32 weight is finite (a diverged run writes NaN). Reads
 * each weight file once. Throws a ModelCheckError naming the folder and the first problem.
 */
export async function checkModelFiles(dir: string): Promise<ModelFiles> {
  const json = (await readJsonFile(join(dir, MODEL_JSON))) as TopologyJson;
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new ModelCheckError(dir, 'model.json is not a TensorFlow.js layers model (it needs modelTopology and weightsManifest)');
  }
  const d = discriminatorProblem(json);
  if (d) throw new ModelCheckError(dir, d);
  const { model, layers } = topologyNames(json);
  const specs: WeightSpec[] = [];
  const chunks: Buffer[] = [];
  for (const group of json.weightsManifest) {
    const weights = Array.isArray(group?.weights) ? (group.weights as Partial<WeightSpec & { quantization?: unknown }>[]) : undefined;
    const paths = Array.isArray(group?.paths) ? (group.paths as unknown[]) : undefined;
    if (!weights || !paths) throw new ModelCheckError(dir, 'model.json: every weightsManifest group needs "paths" and "weights"');
    for (const w of weights) {
      if (typeof w?.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((n) => Number.isInteger(n) && n >= 0) || typeof w.dtype !== 'string') {
        throw new ModelCheckError(dir, `model.json: weight ${JSON.stringify(w?.name ?? null)} needs a name, a shape of non-negative integers and a dtype`);
      }
      if (w.quantization !== undefined || DTYPE_BYTES[w.dtype] === undefined) {
        throw new ModelCheckError(dir, `model.json: weight "${w.name}" has dtype ${w.dtype}${w.quantization !== undefined ? ' (quantized)' : ''}; Harmonia models hold float32 weights`);
      }
      specs.push({ name: w.name, shape: w.shape, dtype: w.dtype });
    }
    for (const p of paths) {
      const rel = String(p);
      const file = resolve(dir, rel);
      if (isAbsolute(rel) || !file.startsWith(resolve(dir) + (resolve(dir).endsWith('/') ? '' : '/'))) {
        throw new ModelCheckError(dir, `model.json names the weight file "${rel}", which is outside the model folder`);
      }
      try {
        chunks.push(await fsp.readFile(file));
      } catch (err) {
        throw new ModelCheckError(dir, `cannot read the weights ${rel} (${describeFsError(err)})`, err);
      }
    }
  }
  const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  const expected = specs.reduce((a, s) => a + DTYPE_BYTES[s.dtype] * s.shape.reduce((x, y) => x * y, 1), 0);
  if (bytes.byteLength !== expected) {
    throw new ModelCheckError(dir, `the weights are ${bytes.byteLength} bytes but model.json describes ${expected} (an incomplete or mismatched ${WEIGHTS_BIN})`);
  }
  // every float32 weight finite (aligned copy: a Buffer may start at any offset)
  const all = new Uint8Array(bytes.byteLength);
  all.set(bytes);
  let off = 0;
  for (const s of specs) {
    const n = s.shape.reduce((x, y) => x * y, 1);
    if (s.dtype === 'float32') {
      const bad = firstNonFinite(new Float32Array(all.buffer, off, n));
      if (bad) {
        throw new ModelCheckError(dir, `weight "${s.name}" holds a non-finite value (${bad.value} at index ${bad.index}): the weights are broken (a diverged training run?), and would harmonize every image to black`);
      }
    }
    off += DTYPE_BYTES[s.dtype] * n;
  }
  return { specs, modelName: model, layers };
}

/**
 * Compares two generator configs field by field: the kind, then the options of its registry entry
 * that change the network (seed only changes the initial weights), each absent one taken at its
 * default: undefined when they agree, else the differences ("kind: "paper" vs "global"").
 */
export function generatorConfigDifference(a: GeneratorConfig, b: GeneratorConfig): string | undefined {
  const na = normalizedGeneratorConfig(a) as Record<string, unknown>;
  const nb = normalizedGeneratorConfig(b) as Record<string, unknown>;
  if (na.kind !== nb.kind) return `kind: ${JSON.stringify(na.kind)} vs ${JSON.stringify(nb.kind)}`;
  const diffs: string[] = [];
  for (const k of architectureKeys(a)) {
    const va = na[k];
    const vb = nb[k];
    if (va !== undefined && vb !== undefined && va !== vb) diffs.push(`${k}: ${JSON.stringify(va)} vs ${JSON.stringify(vb)}`);
  }
  return diffs.length ? diffs.join(', ') : undefined;
}

/** Throws a ModelCheckError when `values` (a smoke run's output `what`) holds a non-finite value. */
export function checkFiniteOutput(dir: string, values: Float32Array, what: string): void {
  const bad = firstNonFinite(values);
  if (bad) throw new ModelCheckError(dir, `${what} is not finite (${bad.value} at value ${bad.index}): the weights are broken and would harmonize every image to black`);
}

/** The smoke input: an S×S image with `channels` channels (the 4th is the mask: its left half foreground), values in [0.2, 0.8]. */
export function smokeInput(size: number, channels: number): Float32Array {
  const x = new Float32Array(size * size * channels);
  for (let i = 0, p = 0; p < size * size; p++) {
    for (let c = 0; c < channels; c++, i++) {
      x[i] = c === 3 ? (p % size < size / 2 ? 1 : 0) : 0.2 + 0.6 * (((p * 37 + c * 11) % 101) / 100);
    }
  }
  return x;
}
