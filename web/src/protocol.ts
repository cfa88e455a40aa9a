/** Messages between the page (main.ts) and the harmonization worker (worker.ts). */
import type { FloatImage, Mask } from '../../src/image/types.ts';
import type { PipelineResult } from './pipeline.ts';

/** ONNX Runtime Web execution provider: WebGPU, or WebAssembly (SIMD, + threads when cross-origin isolated). */
export type ExecutionProvider = 'webgpu' | 'wasm';

export type ToWorker =
  | { type: 'init'; base: string; ep: ExecutionProvider | 'auto' }
  | { type: 'run'; id: number; composite: FloatImage; mask: Mask; workingSize: number };

export interface EngineState {
  /** What runs the generator's network: an execution provider, or 'none' when no model is served. */
  backend: ExecutionProvider | 'none';
  /** The header's engine line. */
  text: string;
}

export interface ModelState {
  state: 'ready' | 'none' | 'error';
  /** The header's model line. */
  text: string;
  name?: string;
}

export type FromWorker =
  | { type: 'ready'; engine: EngineState; model: ModelState }
  | { type: 'progress'; id: number; label: string; step: number; steps: number }
  | { type: 'result'; id: number; result: PipelineResult }
  | { type: 'error'; id: number; message: string };

/** ArrayBuffers of a result, to transfer them to the page instead of copying. */
export function transferables(r: PipelineResult): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const img of [r.composite, r.mask, r.result, ...r.views.map((v) => v.image)]) set.add(img.data.buffer as ArrayBuffer);
  return [...set];
}
