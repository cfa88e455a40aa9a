/**
 * ONNX Runtime Web in the harmonization worker: the execution provider (WebGPU when navigator.gpu
 * exists and an adapter starts, else WebAssembly with SIMD, + threads when the page is cross-origin
 * isolated), and the model folder served at models/default/ loaded from its model.onnx — checked
 * against model.json + weights.bin (the SHA-256 recorded in model.onnx's metadata, as in Node), so a
 * stale export is refused with the command that re-exports it. The runtime's wasm files are served by
 * this app under ort/ (web/vite.config.ts copies them; no CDN).
 */
import * as ort from 'onnxruntime-web';
import { readOnnxSummary } from '../../src/export/onnx-proto.ts';
import { META_SOURCE, ONNX_INPUT, ONNX_OUTPUT, META_GRAPH } from '../../src/export/generator.ts';
import { COLOR_TRANSFORM_GRAPH, ONNX_FIELD, ONNX_THETA } from '../../src/export/color-transform.ts';
import { padGeneratorInput, cropRgb } from '../../src/models/pad.ts';
import type { GeneratorConfig } from '../../src/models/generator.ts';
import type { ModelCard } from '../../src/models/harmonization.ts';
import type { AsyncHarmonizationModel } from '../../src/pipeline/refine.ts';
import type { ColorTransformParams } from '../../src/models/color-transform.ts';
import type { ExecutionProvider } from './protocol.ts';

export const ORT_VERSION: string = ort.env.versions?.web ?? '?';

export interface OrtSetup {
  threads: number;
  isolated: boolean;
}

/** Points ONNX Runtime at the app's own copy of its wasm files and sets the thread count. */
export function configureOrt(base: string): OrtSetup {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const threads = isolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.wasmPaths = new URL('ort/', base).href;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false; // already off the page's thread
  return { threads, isolated };
}

export interface LoadedModel {
  model: AsyncHarmonizationModel;
  name: string;
  weights: number;
  ep: ExecutionProvider;
  /** Why this provider (what was tried before it). */
  reason: string;
}

interface ModelMetaJson {
  format?: string;
  generator?: GeneratorConfig;
  card?: ModelCard;
}

async function fetchBytes(url: string): Promise<Uint8Array | undefined> {
  const res = await fetch(url, { cache: 'no-cache' });
  if (!res.ok) return undefined;
  return new Uint8Array(await res.arrayBuffer());
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** SHA-256 of model.json followed by its weight files (the digest src/export/cache.ts records), and the weight count. */
async function sourceDigest(baseUrl: string): Promise<{ digest: string; weights: number }> {
  const jsonUrl = new URL('model.json', baseUrl).href;
  const json = await fetchBytes(jsonUrl);
  if (!json) throw new Error(`${jsonUrl}: missing; model.onnx is checked against model.json + weights.bin`);
  const manifest = (JSON.parse(new TextDecoder().decode(json)) as { weightsManifest?: { paths?: string[]; weights?: { shape: number[] }[] }[] }).weightsManifest ?? [];
  const parts: Uint8Array[] = [json];
  let weights = 0;
  for (const group of manifest) {
    for (const w of group.weights ?? []) weights += w.shape.reduce((a, b) => a * b, 1);
    for (const p of group.paths ?? []) {
      const url = new URL(p, baseUrl).href;
      const b = await fetchBytes(url);
      if (!b) throw new Error(`${url}: missing`);
      parts.push(b);
    }
  }
  const all = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const b of parts) {
    all.set(b, o);
    o += b.length;
  }
  return { digest: hex(await crypto.subtle.digest('SHA-256', all)), weights };
}

/** An inference session on the wanted provider ('auto': WebGPU when navigator.gpu exists, else wasm). */
async function createSession(bytes: Uint8Array, want: ExecutionProvider | 'auto'): Promise<{ session: ort.InferenceSession; ep: ExecutionProvider; reason: string }> {
  const hasGpu = typeof navigator !== 'undefined' && 'gpu' in navigator && !!(navigator as { gpu?: unknown }).gpu;
  const order: ExecutionProvider[] = want === 'auto' ? (hasGpu ? ['webgpu', 'wasm'] : ['wasm']) : [want];
  const tried: string[] = want === 'auto' && !hasGpu ? ['no navigator.gpu'] : [];
  for (const ep of order) {
    try {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all' });
      return { session, ep, reason: want === 'auto' ? (tried.length ? tried.join('; ') : 'first choice') : 'requested' };
    } catch (err) {
      tried.push(`${ep} unavailable (${String((err as Error).message ?? err).split('\n')[0]})`);
    }
  }
  throw new Error(`ONNX Runtime Web could not start: ${tried.join('; ')}`);
}

/**
 * The model folder at `baseUrl` (harmonia.json + model.onnx, checked against model.json + weights.bin),
 * or undefined when none is served there (no harmonia.json). Throws with the reason when one is served
 * but cannot be used.
 */
export async function loadOnnxModel(baseUrl: string, want: ExecutionProvider | 'auto'): Promise<LoadedModel | undefined> {
  const metaUrl = new URL('harmonia.json', baseUrl).href;
  const metaRes = await fetch(metaUrl, { cache: 'no-cache' });
  if (!metaRes.ok || !(metaRes.headers.get('content-type') ?? '').includes('json')) return undefined;
  let meta: ModelMetaJson;
  try {
    meta = (await metaRes.json()) as ModelMetaJson;
  } catch (err) {
    throw new Error(`${metaUrl}: not valid JSON (${(err as Error).message})`);
  }
  if (meta.format !== 'harmonia-generator' || !meta.generator || !meta.card) throw new Error(`${metaUrl}: not a Harmonia model description (format must be "harmonia-generator")`);
  const onnxUrl = new URL('model.onnx', baseUrl).href;
  const bytes = await fetchBytes(onnxUrl);
  if (!bytes) throw new Error(`${onnxUrl}: missing; export it with \`harmonia export-onnx models/default\``);
  const summary = readOnnxSummary(bytes);
  const { digest, weights } = await sourceDigest(baseUrl);
  if (summary.metadata[META_SOURCE] !== digest) {
    throw new Error(`model.onnx is stale: it was exported from other weights (sha256 ${(summary.metadata[META_SOURCE] ?? '?').slice(0, 12)}…) than model.json + weights.bin (${digest.slice(0, 12)}…); re-export it with \`harmonia export-onnx models/default\``);
  }
  const { session, ep, reason } = await createSession(bytes, want);
  const config = meta.generator;
  const graph = summary.metadata[META_GRAPH] ?? 'generator';
  const model: AsyncHarmonizationModel = { config, card: meta.card };
  if (graph === COLOR_TRANSFORM_GRAPH) {
    model.transformParams = async (input: Float32Array, size: number): Promise<ColorTransformParams> => {
      const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', input, [1, size, size, 4]) });
      const theta = new Float32Array(out[ONNX_THETA].data as Float32Array);
      const f = out[ONNX_FIELD];
      if (!f) return { theta };
      const [, h, w] = f.dims;
      return { theta, field: { width: w, height: h, data: new Float32Array(f.data as Float32Array) } };
    };
  } else {
    const channels: 3 | 4 = config.maskInput || config.residual ? 4 : 3;
    model.run = async (x, mask) => {
      const p = padGeneratorInput(x.data, mask.data, x.height, x.width, channels, 'reflect');
      const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', p.data, [1, p.height, p.width, channels]) });
      const y = out[ONNX_OUTPUT].data as Float32Array;
      const data = p.height === x.height && p.width === x.width ? new Float32Array(y) : cropRgb(y, p.width, p.top, p.left, x.height, x.width);
      return { width: x.width, height: x.height, channels: 3, data };
    };
  }
  return { model, name: meta.card.name, weights, ep, reason };
}
