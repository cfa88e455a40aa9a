/** Messages between the page (main.ts) and the harmonization worker (worker.ts). */
import type { FloatImage, Mask, Placement } from 'harmonia/browser';

/** ONNX Runtime Web execution provider: WebGPU, or WebAssembly (SIMD, + threads when cross-origin isolated). */
export type ExecutionProvider = 'webgpu' | 'wasm';

export type ToWorker =
  | { type: 'init'; base: string; ep: ExecutionProvider | 'auto' }
  /** The scene: kept by the worker, so that previews and runs only send a placement. */
  | { type: 'scene'; scene: number; background: FloatImage; foreground: FloatImage; mask: Mask }
  | { type: 'preview'; id: number; scene: number; placement: Placement; maxSide: number }
  | { type: 'run'; id: number; scene: number; placement: Placement }
  | { type: 'intermediates'; id: number; scene: number };

export interface EngineState {
  /** What runs the generator's network: an execution provider, or 'none' when no model is served. */
  backend: ExecutionProvider | 'none';
  /** The header's engine line (a summary: no raw adapter or browser-flag text). */
  text: string;
}

export interface ModelState {
  state: 'ready' | 'none' | 'error';
  /** The header's model line. */
  text: string;
  name?: string;
}

/** A harmonized image as canvas bytes. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8ClampedArray<ArrayBuffer>;
}

export interface RunResult {
  composite: Rgba;
  mask: Rgba;
  result: Rgba;
  /** The stages that ran, in words (e.g. 'GAN refinement (…) on the raw composite; intrinsic stage skipped'). */
  label: string;
  stages: ('intrinsic' | 'gan')[];
  timings: { name: string; label: string; ms: number }[];
  notes: string[];
}

export interface View {
  name: string;
  label: string;
  image: Rgba;
}

export type FromWorker =
  | { type: 'ready'; engine: EngineState; model: ModelState }
  | { type: 'progress'; id: number; fraction: number; text: string }
  /** ms: the preview's time in the worker; gan: the generator's part of it (network + colour transform) */
  | { type: 'preview'; id: number; image: Rgba; ms: number; gan: number }
  | { type: 'result'; id: number; result: RunResult }
  | { type: 'intermediates'; id: number; views: View[]; ms: number }
  | { type: 'error'; id: number; message: string };
