/**
 * The model loader of `harmonia/browser`: a Harmonia model folder served over HTTP, run by ONNX Runtime
 * Web (WebGPU when an adapter starts, else WebAssembly with SIMD, + threads when the page is
 * cross-origin isolated). No TensorFlow.js: the folder's harmonia.json (generator config + card) and
 * model.onnx are all it fetches (plus model.json + weights.bin with `verify`).
 *
 * Asset paths (docs/WEB.md):
 *  - the model folder, `modelUrl` (default `models/default/`, relative to the page or worker): copy
 *    `node_modules/harmonia/models/default/harmonia.json` and `model.onnx` there;
 *  - ONNX Runtime Web's runtime, `wasmPaths`: `ort-wasm-simd-threaded.asyncify.mjs` and `.wasm` from
 *    `node_modules/onnxruntime-web/dist/`. Without `wasmPaths`, ONNX Runtime finds them itself (a
 *    bundler such as Vite emits the .wasm as an asset of the build).
 */
import * as ort from 'onnxruntime-web/webgpu';
import { HarmoniaError } from '../errors.ts';
import { META_SOURCE } from '../onnx/meta.ts';
import type { GeneratorConfig } from '../models/generator.ts';
import type { ModelCard } from '../models/harmonization.ts';
import type { AsyncHookedModel } from '../pipeline/hooks-async.ts';
import { readOnnxMetadata, sessionHooks } from '../pipeline/ort-hooks.ts';

export type ExecutionProvider = 'webgpu' | 'wasm';

/** One progress report of loadModel. `fraction` runs from 0 to 1 over the whole load. */
export interface LoadProgress {
  stage: 'download' | 'verify' | 'session' | 'ready';
  /** The file being fetched (download, verify). */
  file?: string;
  loaded: number;
  total?: number;
  fraction: number;
}

export interface LoadModelOptions {
  /** 'auto' (default): WebGPU when navigator.gpu gives an adapter, else WebAssembly. */
  device?: ExecutionProvider | 'auto';
  /** URL of the folder holding ort-wasm-simd-threaded.asyncify.{mjs,wasm} (see the header); default: ONNX Runtime's own lookup. */
  wasmPaths?: string;
  /** WebAssembly threads; default min(4, hardwareConcurrency) when cross-origin isolated (SharedArrayBuffer), else 1. */
  threads?: number;
  /** Check model.onnx against the folder's model.json + weights.bin (the SHA-256 its export recorded); downloads them. Default false. */
  verify?: boolean;
  onProgress?: (p: LoadProgress) => void;
  /** fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/** A loaded model: the pipeline's asynchronous generator hook plus what the loader found. */
export interface LoadedModel extends AsyncHookedModel {
  name: string;
  /** The folder URL (absolute). */
  url: string;
  device: ExecutionProvider;
  /** WebAssembly threads (1 on WebGPU's CPU fallback ops too). */
  threads: number;
  /** Why not WebGPU, in a few words, when device 'auto' ended on wasm (e.g. "no WebGPU adapter"). */
  fallback?: string;
  /** Bytes of model.onnx. */
  bytes: number;
  /** Frees the session. */
  release(): Promise<void>;
}

interface ModelMetaJson {
  format?: string;
  generator?: GeneratorConfig;
  card?: ModelCard;
}

/** The folder URL: absolute, ending in '/', resolved against the page (or worker) location; a URL of a model.onnx or harmonia.json means its folder. */
export function resolveModelUrl(modelUrl: string, base?: string): string {
  if (typeof modelUrl !== 'string' || modelUrl.trim() === '') throw new HarmoniaError(`loadModel: modelUrl must be a non-empty URL, got ${JSON.stringify(modelUrl)}`);
  const here = base ?? (globalThis as { location?: { href: string } }).location?.href;
  let u: URL;
  try {
    u = here ? new URL(modelUrl, here) : new URL(modelUrl);
  } catch {
    throw new HarmoniaError(`loadModel: "${modelUrl}" is not a URL${here ? '' : ' (no page location to resolve a relative URL against: give an absolute one)'}`);
  }
  if (/\/(model\.onnx|harmonia\.json)$/.test(u.pathname)) u = new URL('./', u);
  else if (!u.pathname.endsWith('/')) u.pathname += '/';
  u.search = '';
  u.hash = '';
  return u.href;
}

/** Summarises an engine error in a few words (no adapter dumps or browser flags). */
export function summarizeEngineError(err: unknown): string {
  const msg = String((err as Error)?.message ?? err);
  if (/adapter/i.test(msg)) return 'no WebGPU adapter';
  if (/navigator\.gpu|webgpu is not supported|not available/i.test(msg)) return 'WebGPU not available';
  const first = msg.split(/\n|\. /)[0].replace(/--[\w-]+/g, '').trim();
  return first.length > 80 ? `${first.slice(0, 77)}…` : first;
}

async function fetchWithProgress(f: typeof fetch, url: string, onBytes: (loaded: number, total: number | undefined) => void): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await f(url);
  } catch (err) {
    throw new HarmoniaError(`loadModel: ${url} could not be fetched (${(err as Error).message})`);
  }
  if (!res.ok) throw new HarmoniaError(`loadModel: ${url} answered ${res.status} ${res.statusText}`.trim());
  const len = Number(res.headers.get('content-length'));
  const total = Number.isFinite(len) && len > 0 ? len : undefined;
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onBytes(b.length, total ?? b.length);
    return b;
  }
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onBytes(loaded, total);
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** SHA-256 of model.json followed by its weight files: the digest the export records in model.onnx (src/models/folder-onnx.ts). */
async function sourceDigest(f: typeof fetch, folder: string, progress: (file: string, loaded: number, total?: number) => void): Promise<string> {
  const jsonUrl = new URL('model.json', folder).href;
  const json = await fetchWithProgress(f, jsonUrl, (l, t) => progress('model.json', l, t));
  const manifest = (JSON.parse(new TextDecoder().decode(json)) as { weightsManifest?: { paths?: string[] }[] }).weightsManifest ?? [];
  const parts: Uint8Array[] = [json];
  for (const group of manifest) {
    for (const p of group.paths ?? []) parts.push(await fetchWithProgress(f, new URL(p, folder).href, (l, t) => progress(p, l, t)));
  }
  const all = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const b of parts) {
    all.set(b, o);
    o += b.length;
  }
  return hex(await crypto.subtle.digest('SHA-256', all));
}

let configured: { wasmPaths?: string; threads: number } | undefined;

function configureRuntime(opts: LoadModelOptions): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency || 1;
  const threads = opts.threads ?? (isolated ? Math.max(1, Math.min(4, cores)) : 1);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new HarmoniaError(`loadModel: threads must be an integer in 1..64, got ${JSON.stringify(opts.threads)}`);
  if (threads > 1 && !isolated) throw new HarmoniaError('loadModel: threads > 1 needs a cross-origin isolated page (serve it with COOP: same-origin and COEP: require-corp)');
  // ONNX Runtime Web reads these once, when its first session starts
  if (!configured) {
    if (opts.wasmPaths !== undefined) ort.env.wasm.wasmPaths = opts.wasmPaths;
    ort.env.wasm.numThreads = threads;
    configured = { wasmPaths: opts.wasmPaths, threads };
  }
  return configured.threads;
}

/**
 * Loads the Harmonia model folder at `modelUrl` (default `models/default/`) into ONNX Runtime Web.
 * Throws a HarmoniaError naming the file and the problem when the folder cannot be used.
 */
export async function loadModel(modelUrl = 'models/default/', opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const device = opts.device ?? 'auto';
  if (!['auto', 'webgpu', 'wasm'].includes(device)) throw new HarmoniaError(`loadModel: device must be auto, webgpu or wasm, got ${JSON.stringify(device)}`);
  const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const folder = resolveModelUrl(modelUrl);
  const report = (p: Omit<LoadProgress, 'fraction'>, fraction: number) => opts.onProgress?.({ ...p, fraction: Math.min(1, Math.max(0, fraction)) });
  const threads = configureRuntime(opts);

  const metaUrl = new URL('harmonia.json', folder).href;
  const metaBytes = await fetchWithProgress(f, metaUrl, (loaded, total) => report({ stage: 'download', file: 'harmonia.json', loaded, total }, 0));
  let meta: ModelMetaJson;
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes)) as ModelMetaJson;
  } catch (err) {
    throw new HarmoniaError(`loadModel: ${metaUrl} is not valid JSON (${(err as Error).message})`);
  }
  if (meta.format !== 'harmonia-generator' || !meta.generator || !meta.card) throw new HarmoniaError(`loadModel: ${metaUrl} is not a Harmonia model description (format must be "harmonia-generator")`);

  const onnxUrl = new URL('model.onnx', folder).href;
  const downloadShare = opts.verify ? 0.6 : 0.9;
  const bytes = await fetchWithProgress(f, onnxUrl, (loaded, total) => report({ stage: 'download', file: 'model.onnx', loaded, total }, total ? (loaded / total) * downloadShare : 0));
  let metadata: Record<string, string>;
  try {
    metadata = readOnnxMetadata(bytes);
  } catch (err) {
    throw new HarmoniaError(`loadModel: ${onnxUrl} is not an ONNX model (${(err as Error).message})`);
  }
  if (opts.verify) {
    const digest = await sourceDigest(f, folder, (file, loaded, total) => report({ stage: 'verify', file, loaded, total }, downloadShare + (total ? (loaded / total) * 0.3 : 0)));
    if (metadata[META_SOURCE] !== digest) {
      throw new HarmoniaError(`loadModel: ${onnxUrl} is stale: it was exported from other weights (sha256 ${(metadata[META_SOURCE] ?? '?').slice(0, 12)}…) than model.json + weights.bin (${digest.slice(0, 12)}…); re-export it with \`harmonia export-onnx <model folder>\``);
    }
  }

  report({ stage: 'session', loaded: bytes.length, total: bytes.length }, 0.92);
  const gpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
  const order: ExecutionProvider[] = device === 'auto' ? (gpu ? ['webgpu', 'wasm'] : ['wasm']) : [device];
  let fallback: string | undefined = device === 'auto' && !gpu ? 'WebGPU not available' : undefined;
  let session: ort.InferenceSession | undefined;
  let used: ExecutionProvider = 'wasm';
  const errors: string[] = [];
  for (const ep of order) {
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all' });
      used = ep;
      break;
    } catch (err) {
      // the full text goes to the console; the caller gets a summary (no adapter dumps or browser flags)
      console.warn(`harmonia: ONNX Runtime Web on ${ep} failed:`, err);
      errors.push(`${ep}: ${summarizeEngineError(err)}`);
      if (ep === 'webgpu') fallback = summarizeEngineError(err);
    }
  }
  if (!session) throw new HarmoniaError(`loadModel: ONNX Runtime Web could not start (${errors.join('; ')})`);
  const s = session;
  const hooks = sessionHooks(ort, s, meta.generator, metadata);
  report({ stage: 'ready', loaded: bytes.length, total: bytes.length }, 1);
  return {
    config: meta.generator,
    card: meta.card,
    ...hooks,
    name: meta.card.name,
    url: folder,
    device: used,
    threads,
    fallback: used === 'wasm' ? fallback : undefined,
    bytes: bytes.length,
    release: () => s.release(),
  };
}

/** ONNX Runtime Web's version (e.g. "1.30.0"). */
export const ORT_WEB_VERSION: string = ort.env.versions?.web ?? 'unknown';
