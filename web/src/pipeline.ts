/**
 * The app's harmonization run (inside the worker, web/src/worker.ts), a thin shell over the library's
 * browser-safe `harmonizeImageAsync` (src/pipeline/refine.ts): Intrinsic Compositing (analysis at the
 * working size, recomposition at full resolution) then, when a model is loaded, the generator's
 * network on ONNX Runtime Web (web/src/ort.ts) — a colour transform applied at full resolution, or the
 * paper G's correction at the working size carried back to full resolution; background pixels
 * (mask = 0) are copied bit-exactly. This module adds display-ready intermediates and timings.
 */
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { fitWithin } from '../../src/image/resize.ts';
import { renderLightSphere } from '../../src/intrinsic/light.ts';
import { harmonizeImageAsync, type AsyncHarmonizationModel } from '../../src/pipeline/refine.ts';

export interface PipelineOptions {
  /** Long side the harmonization runs at (never upscaled); 0 = the composite's own size. */
  workingSize: number;
  /** The GAN model; without it only the intrinsic stage runs. */
  model?: AsyncHarmonizationModel;
  /** Called as each step starts with a human-readable label, its index and the number of steps (the UI shows progress). */
  onStage?: (label: string, step: number, steps: number) => void;
}

export interface View {
  name: string;
  label: string;
  image: FloatImage;
}

export interface Timing {
  name: string;
  label: string;
  ms: number;
}

export interface PipelineResult {
  composite: FloatImage;
  mask: Mask;
  /** Full-resolution result; equal to `composite` wherever the mask is 0. */
  result: FloatImage;
  workSize: { width: number; height: number };
  stage: 'intrinsic' | 'intrinsic+gan';
  stageLabel: string;
  /** Why a stage was skipped, if one was (from the intrinsic stage). */
  notes: string[];
  views: View[];
  timings: Timing[];
}

/** Grey image from one value per pixel, scaled so the 99th percentile maps to 1, gamma-encoded. */
export function visualizeScalar(values: Float32Array, width: number, height: number, gamma = 1 / 2.2): FloatImage {
  const sorted = Float32Array.from(values).filter(Number.isFinite).sort();
  const hi = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] : 1;
  const scale = hi > 0 ? 1 / hi : 1;
  const data = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const v = Math.min(1, Math.max(0, values[p] * scale)) ** gamma;
    data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = v;
  }
  return { width, height, channels: 3, data };
}

/** Unit normals (x right, y up, z toward the camera, interleaved) as the usual (n + 1)/2 colour image. */
export function visualizeNormals(normals: Float32Array, width: number, height: number): FloatImage {
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, (normals[i] + 1) / 2));
  return { width, height, channels: 3, data };
}

/** Clamps an image to [0,1] for display (albedo may exceed 1). */
export function clampImage(img: FloatImage): FloatImage {
  const data = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, img.data[i]));
  return { width: img.width, height: img.height, channels: img.channels, data };
}

function maskView(m: Mask): FloatImage {
  const data = new Float32Array(m.width * m.height * 3);
  for (let p = 0; p < m.data.length; p++) data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = m.data[p];
  return { width: m.width, height: m.height, channels: 3, data };
}

export { MIN_COVERAGE, snapCoverage } from './composite.ts';

export async function harmonizeComposite(composite: FloatImage, mask: Mask, opts: PipelineOptions): Promise<PipelineResult> {
  const t0 = performance.now();
  const long = Math.max(composite.width, composite.height);
  const maxSide = Math.max(16, opts.workingSize > 0 ? opts.workingSize : long);
  const rawInput = opts.model?.card?.input === 'composite';
  // steps: no model: intrinsic, blend; paper G: intrinsic, network, blend; a model on raw composites:
  // network (+ transform), then the intrinsic stage on the side for the intermediates
  const steps = opts.model && !rawInput ? 3 : 2;
  let step = 0;
  const labels: Record<string, string> = {
    intrinsic: 'intrinsic stage (decomposition, albedo, light, re-shading)',
    gan: `generator network (ONNX Runtime Web)${rawInput ? ', colour transform at full resolution' : ''}`,
    blend: 'background-exact blend',
  };
  const r = await harmonizeImageAsync(composite, mask, opts.model, {
    analysisMaxSide: maxSide,
    onStage: (st) => opts.onStage?.(labels[st] ?? st, Math.min(step++, steps - 1), steps),
  });
  const total = performance.now() - t0;
  const timings: Timing[] = [];
  const timingLabels: Record<string, string> = { intrinsic: 'intrinsic stage', gan: 'GAN refinement', blend: 'background-exact blend' };
  for (const [name, ms] of Object.entries(r.timings)) timings.push({ name, label: timingLabels[name] ?? name, ms });
  timings.push({ name: 'total', label: 'total', ms: total });

  const views: View[] = [{ name: 'mask', label: 'mask (full resolution)', image: maskView(mask) }];
  // a generator trained on raw composites skips the intrinsic stage: run it on the side so its
  // intermediates (albedo, shading, light, semi-harmonized) can still be looked at
  if (!r.intrinsic) opts.onStage?.('intrinsic stage on the side, for the intermediates', steps - 1, steps);
  const shown = r.intrinsic ? r : await harmonizeImageAsync(composite, mask, undefined, { stage: 'intrinsic', analysisMaxSide: maxSide });
  const im = shown.intrinsic;
  let workSize = fitWithin(composite.width, composite.height, maxSide);
  if (im) {
    const { width: w, height: h } = im.analysisSize;
    workSize = { width: w, height: h, scale: w / composite.width };
    const l = im.light;
    views.push(
      { name: 'albedo', label: 'albedo', image: clampImage(im.albedo) },
      { name: 'harmonized-albedo', label: 'harmonized albedo', image: clampImage(im.harmonizedAlbedo) },
      { name: 'shading', label: 'shading (original)', image: visualizeScalar(im.shading.data, w, h) },
      { name: 'reshading', label: 'shading (re-shaded)', image: visualizeScalar(im.reshading.data, w, h) },
      { name: 'normals', label: 'normals (foreground inflated)', image: visualizeNormals(im.normals.data, w, h) },
      {
        name: 'light',
        label: `background light (${l.method}): direction (${l.direction.map((v) => v.toFixed(2)).join(', ')}), ambient ${l.ambient.toFixed(2)}`,
        image: renderLightSphere(l.coeffs, 128),
      },
    );
  }
  if (shown.semiHarmonized) views.push({ name: 'semi', label: r.semiHarmonized ? 'semi-harmonized (intrinsic stage)' : 'semi-harmonized (intrinsic stage alone; the model ran on the composite)', image: shown.semiHarmonized });
  const gan = r.stage === 'full' || r.stage === 'gan';
  return {
    composite,
    mask,
    result: r.result,
    workSize: { width: workSize.width, height: workSize.height },
    stage: gan ? 'intrinsic+gan' : 'intrinsic',
    stageLabel: gan ? `Intrinsic Compositing + GAN refinement (model "${opts.model?.card?.name ?? 'unnamed'}")` : 'intrinsic stage only (no GAN model)',
    notes: r.notes,
    views,
    timings,
  };
}
