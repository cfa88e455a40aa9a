/**
 * The app's harmonization run, a thin shell over the library's browser-safe `harmonizeImage`
 * (src/pipeline/refine.ts): Intrinsic Compositing (analysis at the working size, recomposition at
 * full resolution) then, when a model is loaded, the GAN correction at the working size carried
 * back to full resolution; background pixels (mask = 0) are copied bit-exactly. This module adds
 * what the page needs: the browser model loader, display-ready intermediates and timings.
 */
import { tf } from '../../src/engine/tf.ts';
import '../../src/models/layers.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { fitWithin } from '../../src/image/resize.ts';
import { renderLightSphere } from '../../src/intrinsic/light.ts';
import { harmonizeImage, type HarmonizationModel, type ModelCard } from '../../src/pipeline/refine.ts';
import type { GeneratorConfig } from '../../src/models/generator.ts';

export interface PipelineOptions {
  /** Long side the harmonization runs at (never upscaled); 0 = the composite's own size. */
  workingSize: number;
  /** The GAN model; without it only the intrinsic stage runs. */
  model?: HarmonizationModel;
  /** Called before each stage with a human-readable label (the UI shows it). */
  onStage?: (label: string) => Promise<void> | void;
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

/** Coverage below half an 8-bit step: invisible in any 8-bit output, so treated as none. */
export const MIN_COVERAGE = 0.5 / 255;

/**
 * Snaps mask values below MIN_COVERAGE to 0 and restores the background there, so that every pixel
 * whose 8-bit mask reads 0 is, and stays, exactly the background. Returns new images.
 */
export function snapCoverage(composite: FloatImage, mask: Mask, background: FloatImage): { composite: FloatImage; mask: Mask } {
  const m = new Float32Array(mask.data);
  const c = new Float32Array(composite.data);
  for (let p = 0; p < m.length; p++) {
    if (m[p] > 0 && m[p] < MIN_COVERAGE) {
      m[p] = 0;
      c[p * 3] = background.data[p * 3];
      c[p * 3 + 1] = background.data[p * 3 + 1];
      c[p * 3 + 2] = background.data[p * 3 + 2];
    }
  }
  return { composite: { ...composite, data: c }, mask: { ...mask, data: m } };
}

interface ModelMetaJson {
  format?: string;
  generator?: GeneratorConfig;
  card?: ModelCard;
}

/**
 * Loads a model folder served at `baseUrl` (model.json + weights.bin + harmonia.json, the format of
 * src/pipeline/model.ts). Resolves to undefined when no model is served there (404, or an HTML
 * fallback page); throws naming the file when one is served but broken.
 */
export async function loadBrowserModel(baseUrl: string): Promise<HarmonizationModel | undefined> {
  const modelUrl = new URL('model.json', baseUrl).href;
  const metaUrl = new URL('harmonia.json', baseUrl).href;
  const probe = await fetch(modelUrl, { cache: 'no-cache' });
  if (!probe.ok || !(probe.headers.get('content-type') ?? '').includes('json')) return undefined;
  const metaRes = await fetch(metaUrl, { cache: 'no-cache' });
  if (!metaRes.ok) throw new Error(`${metaUrl}: missing (HTTP ${metaRes.status}); a model folder needs harmonia.json next to model.json`);
  let meta: ModelMetaJson;
  try {
    meta = (await metaRes.json()) as ModelMetaJson;
  } catch (err) {
    throw new Error(`${metaUrl}: not valid JSON (${(err as Error).message})`);
  }
  if (meta.format !== 'harmonia-generator' || !meta.generator || !meta.card) {
    throw new Error(`${metaUrl}: not a Harmonia model description (format must be "harmonia-generator")`);
  }
  const generator = await tf.loadLayersModel(modelUrl);
  return { generator, config: meta.generator, card: meta.card };
}

export async function harmonizeComposite(composite: FloatImage, mask: Mask, opts: PipelineOptions): Promise<PipelineResult> {
  const t0 = performance.now();
  const long = Math.max(composite.width, composite.height);
  const maxSide = Math.max(16, opts.workingSize > 0 ? opts.workingSize : long);
  await opts.onStage?.(opts.model ? 'Harmonizing: intrinsic stage, then GAN refinement' : 'Harmonizing: intrinsic stage (decomposition, albedo, light, re-shading)');
  const r = harmonizeImage(composite, mask, opts.model, { analysisMaxSide: maxSide });
  const total = performance.now() - t0;
  const timings: Timing[] = [];
  const labels: Record<string, string> = { intrinsic: 'intrinsic stage', gan: 'GAN refinement', blend: 'background-exact blend' };
  for (const [name, ms] of Object.entries(r.timings)) timings.push({ name, label: labels[name] ?? name, ms });
  timings.push({ name: 'total', label: 'total', ms: total });

  const views: View[] = [{ name: 'mask', label: 'mask (full resolution)', image: maskView(mask) }];
  // a generator trained on raw composites skips the intrinsic stage: run it on the side so its
  // intermediates (albedo, shading, light, semi-harmonized) can still be looked at
  const shown = r.intrinsic ? r : harmonizeImage(composite, mask, undefined, { stage: 'intrinsic', analysisMaxSide: maxSide });
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
