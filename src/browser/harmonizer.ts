/**
 * `createHarmonizer()`: the ready-made object of `harmonia/browser` that harmonizes
 * (background, foreground + mask or cut-out, placement) → image, with a model from the loader
 * (loader.ts: ONNX Runtime Web) or none (the intrinsic stage alone). `preview()` runs the same pipeline
 * on a copy of the scene scaled down to a preview size, fast enough to follow a drag;
 * `harmonize()` gives the full-resolution result; `intermediates()` computes the intrinsic stage's
 * albedo, shading, normals and light only when asked. No TensorFlow.js on any of these paths
 * for ORT-served models; the intrinsic stage's module is fetched the first time it runs.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { fitWithin, resizeImage } from '../image/resize.ts';
import { defaultPlacement, placeForeground, type Placement } from '../pipeline/compose.ts';
import { harmonizeWithAsyncHooks } from '../pipeline/hooks-async.ts';
import { intrinsicRuns, type IntrinsicStage, type RefineOptions, type Stage } from '../pipeline/stages.ts';
import type { SemiHarmonizeResult } from '../intrinsic/index.ts';
import { loadModel, type LoadModelOptions, type LoadedModel } from './loader.ts';

/** What to harmonize: a background and a foreground (RGB + its mask, e.g. a cut-out's alpha) at a placement, or a ready composite and its mask. */
export type HarmonizeRequest =
  | { background: FloatImage; foreground: FloatImage; mask: Mask; placement?: Placement; composite?: undefined }
  | { composite: FloatImage; mask: Mask; background?: undefined; foreground?: undefined; placement?: undefined };

export interface HarmonizeOutput {
  /** The harmonized image, at the size of the background (or composite). */
  image: FloatImage;
  /** The composite and mask it was made from (the placed foreground). */
  composite: FloatImage;
  mask: Mask;
  /** The stages that ran, in order. */
  stages: ('intrinsic' | 'gan')[];
  /** The same in words, for a caption: e.g. 'GAN refinement (model "x") on the raw composite; intrinsic stage skipped'. */
  label: string;
  /** Milliseconds per stage (intrinsic, gan, blend) and in all (total). */
  timings: Record<string, number>;
  notes: string[];
  /** The intrinsic stage's output, when it ran. */
  semiHarmonized?: FloatImage;
}

export interface HarmonizerOptions extends LoadModelOptions {
  /** A model folder URL (default `models/default/`), a model from loadModel(), or null for the intrinsic stage alone. */
  model?: string | LoadedModel | null;
}

export type Intermediates = SemiHarmonizeResult['intermediates'] & { semiHarmonized: FloatImage };

export interface Harmonizer {
  /** The model in use (undefined: intrinsic stage alone). */
  readonly model: LoadedModel | undefined;
  /** Full-resolution harmonization. */
  harmonize(req: HarmonizeRequest, opts?: RefineOptions): Promise<HarmonizeOutput>;
  /**
   * The same pipeline on the scene scaled to a long side of at most `maxSide` (default 512), for live
   * feedback while placing: the scaled background is kept between calls, and a colour-transform
   * generator runs once (flipAverage false) unless the options say otherwise.
   */
  preview(req: HarmonizeRequest, opts?: RefineOptions & { maxSide?: number }): Promise<HarmonizeOutput>;
  /** The intrinsic stage's intermediates (albedo, shading, normals, light, semi-harmonized) of a composite; computed only when called. */
  intermediates(composite: FloatImage, mask: Mask, opts?: { analysisMaxSide?: number }): Promise<Intermediates>;
  /** Frees the model's session. */
  release(): Promise<void>;
}

let intrinsicModule: Promise<IntrinsicStage & typeof import('../intrinsic/index.ts')> | undefined;
/** The intrinsic stage's module, fetched once, the first time it runs. */
export function loadIntrinsicStage(): Promise<IntrinsicStage & typeof import('../intrinsic/index.ts')> {
  intrinsicModule ??= import('../intrinsic/index.ts');
  return intrinsicModule;
}

function checkRequest(req: HarmonizeRequest, fn: string): void {
  if (!req || typeof req !== 'object') throw new HarmoniaError(`${fn}: give { background, foreground, mask, placement? } or { composite, mask }`);
  const img = (x: unknown, what: string) => {
    const i = x as FloatImage | undefined;
    if (!i || !(i.data instanceof Float32Array) || i.channels !== 3 || i.data.length !== i.width * i.height * 3) throw new HarmoniaError(`${fn}: ${what} must be an RGB FloatImage { width, height, channels: 3, data: Float32Array }`);
  };
  const msk = (x: unknown, w: number, h: number, what: string) => {
    const m = x as Mask | undefined;
    if (!m || !(m.data instanceof Float32Array) || m.width !== w || m.height !== h || m.data.length !== w * h) throw new HarmoniaError(`${fn}: ${what} must be a Mask { width: ${w}, height: ${h}, data: Float32Array } (the size of its image)`);
  };
  if (req.composite !== undefined) {
    img(req.composite, 'composite');
    msk(req.mask, req.composite.width, req.composite.height, 'mask');
    return;
  }
  img(req.background, 'background');
  img(req.foreground, 'foreground');
  msk(req.mask, req.foreground.width, req.foreground.height, 'mask');
  const p = req.placement;
  if (p !== undefined && !(p && Number.isFinite(p.x) && Number.isFinite(p.y) && Number.isFinite(p.scale) && p.scale > 0)) {
    throw new HarmoniaError(`${fn}: placement must be { x, y, scale } with finite numbers and scale > 0, got ${JSON.stringify(p)}`);
  }
}

function describe(stages: ('intrinsic' | 'gan')[], model: LoadedModel | undefined): string {
  if (!stages.includes('gan')) return 'intrinsic stage only (no GAN model)';
  const m = `GAN refinement (model "${model?.name ?? 'unnamed'}", ${model?.device === 'webgpu' ? 'WebGPU' : 'WebAssembly'})`;
  return stages.includes('intrinsic') ? `Intrinsic Compositing + ${m}` : `${m} on the raw composite; intrinsic stage skipped`;
}

/** Creates a harmonizer: loads the model (unless one is given, or null) and returns the object that harmonizes. */
export async function createHarmonizer(opts: HarmonizerOptions = {}): Promise<Harmonizer> {
  const model = opts.model === null ? undefined : typeof opts.model === 'object' ? opts.model : await loadModel(opts.model ?? 'models/default/', opts);

  async function run(composite: FloatImage, mask: Mask, o: RefineOptions): Promise<HarmonizeOutput> {
    const t0 = performance.now();
    const intrinsic = intrinsicRuns(model, o) ? await loadIntrinsicStage() : undefined;
    const r = await harmonizeWithAsyncHooks(composite, mask, model, o, intrinsic);
    const stages: ('intrinsic' | 'gan')[] = [];
    if (r.semiHarmonized) stages.push('intrinsic');
    if ((r.stage as Stage) !== 'intrinsic' && r.timings.gan !== undefined) stages.push('gan');
    return { image: r.result, composite, mask, stages, label: describe(stages, model), timings: { ...r.timings, total: performance.now() - t0 }, notes: r.notes, semiHarmonized: r.semiHarmonized };
  }

  /** The background scaled for previews, kept while the same background object comes back. */
  let scaledBg: { src: FloatImage; w: number; h: number; img: FloatImage } | undefined;
  function scaledBackground(bg: FloatImage, w: number, h: number): FloatImage {
    if (!scaledBg || scaledBg.src !== bg || scaledBg.w !== w || scaledBg.h !== h) scaledBg = { src: bg, w, h, img: resizeImage(bg, w, h, 'area') };
    return scaledBg.img;
  }

  /**
   * The foreground shrunk to its size in a preview (premultiplied area resize), kept while the same
   * foreground comes back at the same size: a drag then places a small cut-out instead of resampling
   * the full-size one every frame.
   */
  let shrunkFg: { src: FloatImage; w: number; h: number; image: FloatImage; mask: Mask } | undefined;
  function shrunkForeground(fg: FloatImage, m: Mask, w: number, h: number): { image: FloatImage; mask: Mask } {
    if (shrunkFg && shrunkFg.src === fg && shrunkFg.w === w && shrunkFg.h === h) return shrunkFg;
    const n = fg.width * fg.height;
    const pre = new Float32Array(n * 4);
    for (let p = 0; p < n; p++) {
      const a = m.data[p];
      pre[p * 4] = fg.data[p * 3] * a;
      pre[p * 4 + 1] = fg.data[p * 3 + 1] * a;
      pre[p * 4 + 2] = fg.data[p * 3 + 2] * a;
      pre[p * 4 + 3] = a;
    }
    const small = resizeImage({ width: fg.width, height: fg.height, channels: 4, data: pre }, w, h, 'area').data;
    const image = new Float32Array(w * h * 3), mask = new Float32Array(w * h);
    for (let p = 0; p < w * h; p++) {
      const a = Math.min(1, Math.max(0, small[p * 4 + 3]));
      mask[p] = a;
      if (a > 1e-6) for (let c = 0; c < 3; c++) image[p * 3 + c] = Math.min(1, Math.max(0, small[p * 4 + c] / a));
    }
    shrunkFg = { src: fg, w, h, image: { width: w, height: h, channels: 3, data: image }, mask: { width: w, height: h, data: mask } };
    return shrunkFg;
  }

  function scene(req: HarmonizeRequest, k: number): { composite: FloatImage; mask: Mask } {
    if (req.composite !== undefined) {
      if (k === 1) return { composite: req.composite, mask: req.mask };
      const w = Math.max(1, Math.round(req.composite.width * k)), h = Math.max(1, Math.round(req.composite.height * k));
      const m = resizeImage({ width: req.mask.width, height: req.mask.height, channels: 1, data: req.mask.data }, w, h, 'area');
      return { composite: resizeImage(req.composite, w, h, 'area'), mask: { width: w, height: h, data: m.data } };
    }
    const p = req.placement ?? defaultPlacement(req.background, req.foreground);
    if (k === 1) return placeForeground(req.background, req.foreground, req.mask, p);
    const w = Math.max(1, Math.round(req.background.width * k)), h = Math.max(1, Math.round(req.background.height * k));
    const bg = scaledBackground(req.background, w, h);
    const fw = Math.max(1, Math.round(req.foreground.width * p.scale * k)), fh = Math.max(1, Math.round(req.foreground.height * p.scale * k));
    if (fw < req.foreground.width && fh < req.foreground.height) {
      const small = shrunkForeground(req.foreground, req.mask, fw, fh);
      return placeForeground(bg, small.image, small.mask, { x: p.x * k, y: p.y * k, scale: 1 });
    }
    return placeForeground(bg, req.foreground, req.mask, { x: p.x * k, y: p.y * k, scale: p.scale * k });
  }

  return {
    model,
    async harmonize(req, o = {}) {
      checkRequest(req, 'harmonize');
      const { composite, mask } = scene(req, 1);
      return run(composite, mask, o);
    },
    async preview(req, o = {}) {
      checkRequest(req, 'preview');
      const maxSide = o.maxSide ?? 512;
      if (!Number.isInteger(maxSide) || maxSide < 16) throw new HarmoniaError(`preview: maxSide must be an integer ≥ 16, got ${JSON.stringify(o.maxSide)}`);
      const full = req.composite ?? req.background;
      const fit = fitWithin(full.width, full.height, maxSide);
      const { composite, mask } = scene(req, fit.width === full.width && fit.height === full.height ? 1 : fit.width / full.width);
      return run(composite, mask, { flipAverage: false, ...o });
    },
    async intermediates(composite, mask, o = {}) {
      checkRequest({ composite, mask }, 'intermediates');
      const im = await loadIntrinsicStage();
      const r = im.semiHarmonize(composite, mask, { analysisMaxSide: Math.min(o.analysisMaxSide ?? im.DEFAULT_INTRINSIC_ANALYSIS_SIDE, im.DEFAULT_INTRINSIC_ANALYSIS_SIDE) });
      return { ...r.intermediates, semiHarmonized: r.semiHarmonized };
    },
    async release() {
      await model?.release();
    },
  };
}
