/**
 * Pure image maths shared by the CLI, the Node API and the browser app (no DOM, no tensors): pixel conversions between canvas RGBA
 * bytes and FloatImage/Mask, placing a foreground cut-out on a background, and carrying a result
 * computed at a working size back to the full-resolution composite without touching the background.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { resizeImage } from '../image/resize.ts';
import { applyCorrection } from './apply.ts';

/** Where the foreground goes: its top-left corner in background pixels, and its scale. */
export interface Placement {
  x: number;
  y: number;
  scale: number;
}

/** RGBA bytes (canvas ImageData layout) to an RGB FloatImage in [0,1]. */
export function rgbaToImage(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): FloatImage {
  if (rgba.length !== width * height * 4) {
    throw new HarmoniaError(`rgbaToImage: expected ${width * height * 4} bytes for ${width}×${height} RGBA, got ${rgba.length}`);
  }
  const data = new Float32Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i] / 255;
    data[j + 1] = rgba[i + 1] / 255;
    data[j + 2] = rgba[i + 2] / 255;
  }
  return { width, height, channels: 3, data };
}

/** True when some pixel of the RGBA bytes is not fully opaque. */
export function hasTransparency(rgba: Uint8ClampedArray | Uint8Array): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] < 255) return true;
  return false;
}

/**
 * A mask from RGBA bytes, with the same rule as the library's readMask: a non-opaque alpha channel
 * is the mask (a cut-out); otherwise the mean of R, G, B is (white = foreground).
 */
export function rgbaToMask(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): Mask {
  if (rgba.length !== width * height * 4) {
    throw new HarmoniaError(`rgbaToMask: expected ${width * height * 4} bytes for ${width}×${height} RGBA, got ${rgba.length}`);
  }
  const alpha = hasTransparency(rgba);
  const data = new Float32Array(width * height);
  for (let p = 0, i = 0; p < data.length; p++, i += 4) {
    data[p] = alpha ? rgba[i + 3] / 255 : (rgba[i] + rgba[i + 1] + rgba[i + 2]) / (3 * 255);
  }
  return { width, height, data };
}

/** FloatImage (1 or 3+ channels, [0,1]) to RGBA bytes; `alpha` (a mask) sets transparency, default opaque. */
export function imageToRgba(img: FloatImage, alpha?: Mask): Uint8ClampedArray<ArrayBuffer> {
  const px = img.width * img.height;
  if (alpha && (alpha.width !== img.width || alpha.height !== img.height)) {
    throw new HarmoniaError(`imageToRgba: alpha is ${alpha.width}×${alpha.height} but the image is ${img.width}×${img.height}`);
  }
  const out = new Uint8ClampedArray(new ArrayBuffer(px * 4));
  const c = img.channels;
  for (let p = 0; p < px; p++) {
    const s = p * c;
    const r = img.data[s];
    const g = c >= 3 ? img.data[s + 1] : r;
    const b = c >= 3 ? img.data[s + 2] : r;
    out[p * 4] = Math.round(r * 255);
    out[p * 4 + 1] = Math.round(g * 255);
    out[p * 4 + 2] = Math.round(b * 255);
    out[p * 4 + 3] = alpha ? Math.round(alpha.data[p] * 255) : 255;
  }
  return out;
}

/**
 * Pastes a foreground (RGB + soft alpha mask) onto the background at `placement`. The foreground is
 * resized (anti-aliased bilinear, premultiplied by alpha so edges carry no dark fringe) to
 * round(scale·size) and placed at the rounded offset; parts outside the background are cut off.
 * Returns the composite (background size) and the mask of the pasted pixels; where the mask is 0 the
 * composite is exactly the background.
 */
export function placeForeground(bg: FloatImage, fg: FloatImage, fgMask: Mask, placement: Placement): { composite: FloatImage; mask: Mask } {
  if (bg.channels !== 3 || fg.channels !== 3) throw new HarmoniaError(`placeForeground: background and foreground must be RGB, got ${bg.channels} and ${fg.channels} channels`);
  if (fgMask.width !== fg.width || fgMask.height !== fg.height) {
    throw new HarmoniaError(`placeForeground: foreground mask is ${fgMask.width}×${fgMask.height} but the foreground is ${fg.width}×${fg.height}`);
  }
  const { x, y, scale } = placement;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new HarmoniaError(`placeForeground: scale must be a positive number, got ${scale}`);
  if (!Number.isFinite(x) || !Number.isFinite(y)) throw new HarmoniaError(`placeForeground: position must be finite, got (${x}, ${y})`);
  const w = Math.max(1, Math.round(fg.width * scale));
  const h = Math.max(1, Math.round(fg.height * scale));
  const premul = new Float32Array(fg.width * fg.height * 4);
  for (let p = 0; p < fg.width * fg.height; p++) {
    const a = fgMask.data[p];
    premul[p * 4] = fg.data[p * 3] * a;
    premul[p * 4 + 1] = fg.data[p * 3 + 1] * a;
    premul[p * 4 + 2] = fg.data[p * 3 + 2] * a;
    premul[p * 4 + 3] = a;
  }
  const small = resizeImage({ width: fg.width, height: fg.height, channels: 4, data: premul }, w, h, 'bilinear');
  const ox = Math.round(x);
  const oy = Math.round(y);
  const comp = new Float32Array(bg.data);
  const mask = new Float32Array(bg.width * bg.height);
  const y0 = Math.max(0, oy), y1 = Math.min(bg.height, oy + h);
  const x0 = Math.max(0, ox), x1 = Math.min(bg.width, ox + w);
  for (let yy = y0; yy < y1; yy++) {
    for (let xx = x0; xx < x1; xx++) {
      const s = ((yy - oy) * w + (xx - ox)) * 4;
      const a = Math.min(1, Math.max(0, small.data[s + 3]));
      if (a <= 0) continue;
      const d = yy * bg.width + xx;
      for (let k = 0; k < 3; k++) {
        // premultiplied over: fg·a + bg·(1 − a)
        comp[d * 3 + k] = Math.min(1, Math.max(0, small.data[s + k] + bg.data[d * 3 + k] * (1 - a)));
      }
      mask[d] = a;
    }
  }
  return { composite: { width: bg.width, height: bg.height, channels: 3, data: comp }, mask: { width: bg.width, height: bg.height, data: mask } };
}

/**
 * Carries a harmonization computed at a working size back to full resolution: the change
 * (result − composite, both at the working size) is upsampled (resizeImage's bilinear) and added to
 * the full composite, clipped to [0,1], and blended by the mask: out = m·clip(full + up(result − work))
 * + (1 − m)·full. The same maths as the Node pipeline (applyCorrection in apply.ts, which this calls),
 * so the web app and `harmonize` agree; before, soft mask edges were blended before the clip
 * (clip(full + m·up(δ))), which differs where the clip bites. Fine foreground detail of the original
 * survives, and every pixel with mask 0 is bit-identical to the full composite.
 */
export function applyChangeAtFullResolution(full: FloatImage, mask: Mask, work: FloatImage, result: FloatImage): FloatImage {
  if (mask.width !== full.width || mask.height !== full.height) {
    throw new HarmoniaError(`applyChangeAtFullResolution: mask is ${mask.width}×${mask.height} but the composite is ${full.width}×${full.height}`);
  }
  if (work.width !== result.width || work.height !== result.height || work.channels !== 3 || result.channels !== 3 || full.channels !== 3) {
    throw new HarmoniaError(`applyChangeAtFullResolution: working composite ${work.width}×${work.height}×${work.channels} and result ${result.width}×${result.height}×${result.channels} must be RGB of one size`);
  }
  const delta = new Float32Array(work.data.length);
  for (let i = 0; i < delta.length; i++) delta[i] = result.data[i] - work.data[i];
  const deltaImg: FloatImage = { width: work.width, height: work.height, channels: 3, data: delta };
  // applyCorrection upsamples; a working size larger than the image (not the app's case) is shrunk first
  const d = work.width > full.width || work.height > full.height ? resizeImage(deltaImg, full.width, full.height, 'bilinear') : deltaImg;
  return applyCorrection(full, d, { composite: full, mask });
}

export { maskBounds } from '../image/bounds.ts';

/** How much of a placed cut-out's foreground (alpha > 0.5) is on the background. */
export interface PlacedShare {
  /** Foreground pixels of the cut-out at its own size. */
  cutoutArea: number;
  /** Foreground pixels the cut-out would have at `placement.scale` (cutoutArea · scale²). */
  scaledArea: number;
  /** Foreground pixels of the placed mask (on the background). */
  placedArea: number;
  /** placedArea / scaledArea, in [0, 1] (0 when the cut-out has no foreground). */
  share: number;
}

/**
 * Measures a placement done by placeForeground (`placed` is the mask it returned), so callers can
 * refuse one that does nothing useful — a fully transparent cut-out, or one placed entirely off the
 * background — and warn when part of it is cut off. Placement itself never refuses (the web app
 * drags objects across the edge).
 */
export function placedShare(fgMask: Mask, placement: Placement, placed: Mask): PlacedShare {
  let cutoutArea = 0;
  for (let i = 0; i < fgMask.data.length; i++) if (fgMask.data[i] > 0.5) cutoutArea++;
  let placedArea = 0;
  for (let i = 0; i < placed.data.length; i++) if (placed.data[i] > 0.5) placedArea++;
  const scaledArea = cutoutArea * placement.scale * placement.scale;
  return { cutoutArea, scaledArea, placedArea, share: scaledArea > 0 ? Math.min(1, placedArea / scaledArea) : 0 };
}

/** Initial placement: the foreground scaled to about `share` of the background's short side, centred low. */
export function defaultPlacement(bg: { width: number; height: number }, fg: { width: number; height: number }, share = 0.45): Placement {
  const scale = (share * Math.min(bg.width, bg.height)) / Math.max(fg.width, fg.height);
  return {
    x: (bg.width - fg.width * scale) / 2,
    y: Math.max(0, bg.height * 0.92 - fg.height * scale),
    scale,
  };
}
