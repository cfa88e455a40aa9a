/** Small DOM helpers: element lookup, FloatImage ↔ canvas, file decoding. */
import { imageToRgba, type FloatImage, type Mask } from 'harmonia/browser';

/** The element with `id`; throws naming the id when the page lacks it. */
export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing the element #${id}`);
  return el as T;
}

/** Draws a FloatImage (optionally with a mask as alpha) onto `canvas`, resizing the canvas to fit. */
export function drawImage(canvas: HTMLCanvasElement, img: FloatImage, alpha?: Mask): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('canvas 2D context unavailable');
  ctx.putImageData(new ImageData(imageToRgba(img, alpha), img.width, img.height), 0, 0);
}

/** A new canvas holding the image (and alpha). */
export function imageCanvas(img: FloatImage, alpha?: Mask): HTMLCanvasElement {
  const c = document.createElement('canvas');
  drawImage(c, img, alpha);
  return c;
}

/** Largest image the app decodes (pixels): 16 megapixels keeps the float buffers under ~200 MB each step. */
export const MAX_PIXELS = 16_000_000;

/** Decodes an image file to straight (non-premultiplied) RGBA bytes, EXIF orientation applied. */
export async function decodeFile(file: File): Promise<{ rgba: Uint8ClampedArray; width: number; height: number }> {
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(file, { premultiplyAlpha: 'none', colorSpaceConversion: 'none', imageOrientation: 'from-image' });
  } catch (err) {
    throw new Error(`${file.name}: not an image this browser can decode (${(err as Error).message})`);
  }
  const { width, height } = bmp;
  if (width * height > MAX_PIXELS) {
    bmp.close();
    throw new Error(`${file.name}: ${width}×${height} is ${(width * height / 1e6).toFixed(1)} megapixels; the browser app takes up to ${MAX_PIXELS / 1e6}`);
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('canvas 2D context unavailable');
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  return { rgba: ctx.getImageData(0, 0, width, height).data, width, height };
}

/** Reads a canvas's pixels as RGBA bytes. */
export function canvasPixels(canvas: HTMLCanvasElement): Uint8ClampedArray {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('canvas 2D context unavailable');
  return ctx.getImageData(0, 0, canvas.width, canvas.height).data;
}

/** Lets the browser paint (status text) before the next long synchronous step. */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
