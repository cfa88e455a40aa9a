/**
 * The one inference driver: which engine runs the generator of a harmonize call, decided once per
 * call by resolveInference, in this order — ONNX Runtime for Node on the folder's fresh model.onnx
 * (the shipped model; no TensorFlow.js), onnxruntime-web's WebAssembly build when onnxruntime-node is
 * not installed, else TensorFlow.js (a loaded model, a folder without an ONNX export, HARMONIA_INFERENCE=
 * tfjs or HARMONIA_BACKEND set) — and the stages around it. harmonize()/harmonizeWithReport (the Node
 * API and the CLI), folder batches and the service (src/service/job.ts) all run through it; the web
 * app runs the same stages around ONNX Runtime Web (src/browser/, hooks-async.ts).
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import type { HarmonizationModel, RefineOptions, RefineResult, Stage } from './refine.ts';
import { harmonizeWithHooks, intrinsicRuns, type HookedModel } from './stages.ts';
import { isModelDir, readModelMeta, DEFAULT_MODEL_DIR } from '../models/folder-meta.ts';
import { inferenceMode, onnxAvailable, onnxHookIfReady, withOnnxRunner } from '../models/onnx.ts';
import { readOnnxModel } from '../onnx/file.ts';
import { importOptional } from '../util/optional.ts';
import { harmonizeWithAsyncHooks, type AsyncHookedModel } from './hooks-async.ts';
import { readOnnxMetadata, sessionHooks, type OrtModuleLike, type OrtSessionLike } from './ort-hooks.ts';
import { env } from '../config/index.ts';
import { generatorEntryOf } from '../models/registry.ts';
// TensorFlow.js (the engine, refine.ts, the TF.js model loader) is imported only when it runs

/** A loaded model, a model folder, or undefined for the shipped default; null = no GAN stage. */
export type ModelChoice = HarmonizationModel | string | null | undefined;

/** What runs the generator. */
export type InferenceEngine = 'onnxruntime-node' | 'onnxruntime-web' | 'tensorflow.js' | 'none';

/** A resolved model on its engine: run() harmonizes decoded images with it (any number of times). */
export interface InferenceDriver {
  engine: InferenceEngine;
  /** The model card's name, when there is a model. */
  name?: string;
  run(composite: FloatImage, mask: Mask, opts: RefineOptions): Promise<RefineResult>;
}

const loadIntrinsic = () => importOptional('the intrinsic stage', () => import('../intrinsic/index.ts'));

/** Resolves the model of a harmonize call once, on the first engine that can run it (see the header). */
export async function resolveInference(model: ModelChoice, stage: Stage | undefined): Promise<InferenceDriver> {
  const hooked = await resolveOnnxFirstModel(model, stage);
  if (hooked) {
    // G on ONNX Runtime without TensorFlow.js (the intrinsic stage, when it runs, loads its own modules)
    return {
      engine: 'onnxruntime-node',
      name: hooked.card?.name,
      run: async (c, m, opts) => harmonizeWithHooks(c, m, hooked, opts, intrinsicRuns(hooked, opts) ? await loadIntrinsic() : undefined),
    };
  }
  const wasm = await resolveWasmFallbackModel(model, stage);
  if (wasm) {
    // onnxruntime-node missing: the same stages around onnxruntime-web's WebAssembly build
    return {
      engine: 'onnxruntime-web',
      name: wasm.card?.name,
      run: async (c, m, opts) => harmonizeWithAsyncHooks(c, m, wasm, opts, intrinsicRuns(wasm, opts) ? await loadIntrinsic() : undefined),
    };
  }
  const resolved = await resolveModel(model, stage);
  const { harmonizeImage } = await importOptional('harmonize with TensorFlow.js', () => import('./refine.ts'));
  return { engine: resolved ? 'tensorflow.js' : 'none', name: resolved?.card?.name, run: async (c, m, opts) => harmonizeImage(c, m, resolved, opts) };
}

const modelCache = new Map<string, Promise<HarmonizationModel>>();

/** Loads (once per process) a model folder. */
export function cachedModel(dir: string): Promise<HarmonizationModel> {
  let p = modelCache.get(dir);
  if (!p) {
    p = importOptional(`the TensorFlow.js model folder ${dir}`, () => import('./model.ts')).then((m) => m.loadHarmonizationModel(dir));
    modelCache.set(dir, p);
    p.catch(() => modelCache.delete(dir));
  }
  return p;
}

/** Resolves which model a call uses, honouring `stage`. */
export async function resolveModel(model: ModelChoice, stage: Stage | undefined): Promise<HarmonizationModel | undefined> {
  if (stage === 'intrinsic' || model === null) return undefined;
  if (model && typeof model !== 'string') return model;
  const dir = model ?? DEFAULT_MODEL_DIR;
  if (!model && !stage && !isModelDir(dir)) return undefined; // no shipped model: intrinsic stage alone
  const { initEngine } = await importOptional(`harmonize with model ${dir} (no ONNX Runtime path for it)`, () => import('../engine/index.ts'));
  await initEngine();
  // G on ONNX Runtime when installed, unless HARMONIA_INFERENCE=tfjs (src/models/onnx.ts).
  return withOnnxRunner(dir, await cachedModel(dir));
}

const hookedCache = new Map<string, HookedModel>();

/**
 * The model `resolveModel` would give, when its generator runs on ONNX Runtime, made without
 * TensorFlow.js: the folder's description (harmonia.json) + the ONNX Runtime hook from its fresh
 * model.onnx (once per folder and process, shared with withOnnxRunner). undefined whenever that is not
 * certain — no model or a loaded one, stage intrinsic, HARMONIA_INFERENCE=tfjs, HARMONIA_BACKEND set
 * (initEngine honours and checks it), a kind without an ONNX export, any error, no hook — and the
 * caller then takes resolveModel's path, which behaves (and fails, and reports) exactly as before.
 */
export async function resolveOnnxFirstModel(model: ModelChoice, stage: Stage | undefined): Promise<HookedModel | undefined> {
  if (stage === 'intrinsic' || model === null || (model !== undefined && typeof model !== 'string')) return undefined;
  if (env.backend) return undefined;
  const dir = model ?? DEFAULT_MODEL_DIR;
  try {
    if (!model && !stage && !isModelDir(dir)) return undefined;
    if (inferenceMode() === 'tfjs') return undefined;
    const known = hookedCache.get(dir);
    if (known) return known;
    const meta = await readModelMeta(dir);
    // the registry's description of the kind (no TensorFlow.js); an unknown kind takes the TF.js path
    const entry = generatorEntryOf(meta.generator);
    if (!entry.onnx) return undefined;
    const h = await onnxHookIfReady(dir, entry.family);
    if (!h) return undefined;
    const hooked: HookedModel = h.transformParams
      ? { config: meta.generator, card: meta.card, transformParams: h.transformParams }
      : { config: meta.generator, card: meta.card, runner: h.runner };
    hookedCache.set(dir, hooked);
    return hooked;
  } catch {
    return undefined;
  }
}

let wasmNoted = false;
const wasmModels = new Map<string, Promise<AsyncHookedModel | undefined>>();

/**
 * The generator on onnxruntime-web's WebAssembly build, for a model folder with a fresh model.onnx,
 * when onnxruntime-node is not installed (an offline install whose postinstall failed, or one that left
 * it out). Says so once on stderr, with the command that adds onnxruntime-node. undefined whenever
 * that path does not apply; the caller then takes resolveModel's path as before.
 */
export async function resolveWasmFallbackModel(model: ModelChoice, stage: Stage | undefined): Promise<AsyncHookedModel | undefined> {
  if (stage === 'intrinsic' || model === null || (model !== undefined && typeof model !== 'string')) return undefined;
  if (env.backend || inferenceMode() === 'tfjs') return undefined;
  const dir = model ?? DEFAULT_MODEL_DIR;
  if (!model && !stage && !isModelDir(dir)) return undefined;
  if (await onnxAvailable()) return undefined;
  let p = wasmModels.get(dir);
  if (!p) {
    p = (async () => {
      const file = await readOnnxModel(dir).catch(() => undefined);
      if (!file || file.status !== 'fresh') return undefined;
      let ort: OrtModuleLike & { InferenceSession: { create(bytes: Uint8Array, o: Record<string, unknown>): Promise<OrtSessionLike> }; env: { wasm: { numThreads?: number } } };
      try {
        ort = (await import('onnxruntime-web')) as unknown as typeof ort;
      } catch {
        return undefined;
      }
      if (!wasmNoted) {
        wasmNoted = true;
        process.stderr.write('harmonia: ONNX Runtime for Node (onnxruntime-node) is not installed, so the generator runs on onnxruntime-web\'s WebAssembly build (slower). Add it with: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0\n');
      }
      ort.env.wasm.numThreads = 1; // the network is small (a 128² analysis copy, or G at the working size); no worker threads in Node
      const meta = await readModelMeta(dir);
      const session = await ort.InferenceSession.create(file.bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      return { config: meta.generator, card: meta.card, ...sessionHooks(ort, session, meta.generator, readOnnxMetadata(file.bytes)) };
    })();
    wasmModels.set(dir, p);
    p.catch(() => wasmModels.delete(dir));
  }
  return p;
}
