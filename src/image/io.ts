import sharp from 'sharp';
import { promises as fsp } from 'node:fs';
import { extname } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, describeFsError } from './atomic.ts';
import type { FloatImage, Mask } from './types.ts';

/** Largest image (in pixels) decoded by default: 100 megapixels. Guards against decompression bombs. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export interface ReadOptions {
  /** Reject images with more pixels than this (decompression-bomb guard). */
  maxPixels?: number;
  /** 3 = RGB (alpha dropped, grayscale expanded), 4 = RGBA (opaque alpha added if missing). */
  channels?: 3 | 4;
}

export type ImageSource = string | Uint8Array;

function label(src: ImageSource): string {
  return typeof src === 'string' ? src : '<buffer>';
}

async function loadBytes(src: ImageSource): Promise<Uint8Array> {
  if (typeof src !== 'string') return src;
  try {
    const st = await fsp.stat(src);
    if (st.isDirectory()) throw new HarmoniaError('is a folder, not an image file', { file: src });
    if (st.size === 0) throw new HarmoniaError('empty file (0 bytes), not an image', { file: src });
    return await fsp.readFile(src);
  } catch (err) {
    if (err instanceof HarmoniaError) throw err;
    throw new HarmoniaError(`cannot read: ${describeFsError(err)}`, { file: src, cause: err });
  }
}

function decodeError(file: string, err: unknown, maxPixels: number): HarmoniaError {
  const msg = (err as Error)?.message ?? String(err);
  if (/pixel limit/i.test(msg)) {
    return new HarmoniaError(`image is larger than the pixel limit of ${maxPixels.toLocaleString('en-US')} pixels (possible decompression bomb); raise maxPixels if intended`, { file, cause: err });
  }
  if (/unsupported image format/i.test(msg)) {
    return new HarmoniaError('not a supported image (JPEG, PNG, WebP, TIFF, GIF, AVIF)', { file, cause: err });
  }
  return new HarmoniaError(`corrupt or truncated image: ${msg.split('\n')[0]}`, { file, cause: err });
}

interface Decoded { width: number; height: number; channels: number; data: Float32Array; hasAlpha: boolean; bits: 8 | 16 }

/** Decodes to float [0,1] with EXIF orientation applied, all channels as stored (1–4). */
async function decode(src: ImageSource, maxPixels: number): Promise<Decoded> {
  const file = label(src);
  const bytes = await loadBytes(src);
  try {
    const base = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', sequentialRead: true });
    const meta = await base.metadata();
    if (!meta.width || !meta.height) throw new Error('no image dimensions');
    if (meta.width * meta.height > maxPixels) throw new Error('Input image exceeds pixel limit');
    const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
    let pipe = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).rotate();
    if (sixteen) pipe = pipe.toColourspace(meta.channels && meta.channels <= 2 ? 'grey16' : 'rgb16');
    const { data, info } = await pipe.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const n = info.width * info.height * info.channels;
    const out = new Float32Array(n);
    if (sixteen) {
      const u16 = new Uint16Array(data.buffer, data.byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = u16[i] / 65535;
    } else {
      for (let i = 0; i < n; i++) out[i] = data[i] / 255;
    }
    const hasAlpha = info.channels === 2 || info.channels === 4;
    return { width: info.width, height: info.height, channels: info.channels, data: out, hasAlpha, bits: sixteen ? 16 : 8 };
  } catch (err) {
    throw decodeError(file, err, maxPixels);
  }
}

function toChannels(d: Decoded, want: 3 | 4): FloatImage {
  const px = d.width * d.height;
  const out = new Float32Array(px * want);
  const c = d.channels;
  for (let i = 0; i < px; i++) {
    let r: number, g: number, b: number, a = 1;
    if (c === 1 || c === 2) {
      r = g = b = d.data[i * c];
      if (c === 2) a = d.data[i * c + 1];
    } else {
      r = d.data[i * c]; g = d.data[i * c + 1]; b = d.data[i * c + 2];
      if (c === 4) a = d.data[i * c + 3];
    }
    out[i * want] = r; out[i * want + 1] = g; out[i * want + 2] = b;
    if (want === 4) out[i * want + 3] = a;
  }
  return { width: d.width, height: d.height, channels: want, data: out };
}

/**
 * Reads an image file (or encoded bytes) as a float image in [0,1]: JPEG/PNG/WebP/TIFF/GIF/AVIF,
 * 8 or 16 bit, grayscale or colour, EXIF orientation applied. RGB by default; `channels: 4` keeps alpha.
 */
export async function readImage(src: ImageSource, opts: ReadOptions = {}): Promise<FloatImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  return toChannels(await decode(src, maxPixels), opts.channels ?? 3);
}

/**
 * Reads a mask from any image: grayscale, RGB (as iHarmony4 ships), or RGBA/gray+alpha. When the file
 * has a non-opaque alpha channel the alpha is the mask (a cut-out); otherwise the mean of the colour
 * channels is. Values are returned soft in [0,1]; the foreground is value > 127/255 (see hardMask).
 * With `expect`, a size mismatch is an error naming the file.
 */
export async function readMask(
  src: ImageSource,
  opts: { maxPixels?: number; expect?: { width: number; height: number; what?: string } } = {},
): Promise<Mask> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const d = await decode(src, maxPixels);
  if (opts.expect && (opts.expect.width !== d.width || opts.expect.height !== d.height)) {
    throw new HarmoniaError(
      `mask is ${d.width}×${d.height} but ${opts.expect.what ?? 'the image'} is ${opts.expect.width}×${opts.expect.height}`,
      { file: label(src) },
    );
  }
  return maskFromDecoded(d);
}

function maskFromDecoded(d: Decoded): Mask {
  const px = d.width * d.height;
  const c = d.channels;
  const out = new Float32Array(px);
  let alphaVaries = false;
  if (d.hasAlpha) {
    for (let i = 0; i < px; i++) if (d.data[i * c + c - 1] < 1) { alphaVaries = true; break; }
  }
  const colour = d.hasAlpha ? c - 1 : c;
  for (let i = 0; i < px; i++) {
    if (alphaVaries) out[i] = d.data[i * c + c - 1];
    else {
      let s = 0;
      for (let k = 0; k < colour; k++) s += d.data[i * c + k];
      out[i] = s / colour;
    }
  }
  return { width: d.width, height: d.height, data: out };
}

/** Splits an RGBA cut-out into its RGB image and its alpha as a mask. */
export async function readCutout(src: ImageSource, opts: { maxPixels?: number } = {}): Promise<{ image: FloatImage; mask: Mask }> {
  const d = await decode(src, opts.maxPixels ?? DEFAULT_MAX_PIXELS);
  if (!d.hasAlpha) {
    throw new HarmoniaError('foreground cut-out has no alpha channel; give an RGBA PNG/WebP, or an image plus --mask', { file: label(src) });
  }
  const image = toChannels(d, 3);
  const px = d.width * d.height;
  const m = new Float32Array(px);
  for (let i = 0; i < px; i++) m[i] = d.data[i * d.channels + d.channels - 1];
  return { image, mask: { width: d.width, height: d.height, data: m } };
}

export type OutputFormat = 'png' | 'jpeg' | 'webp' | 'tiff';

export function formatFromPath(path: string): OutputFormat {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.png': return 'png';
    case '.jpg': case '.jpeg': return 'jpeg';
    case '.webp': return 'webp';
    case '.tif': case '.tiff': return 'tiff';
    default:
      throw new HarmoniaError(`unknown output format "${ext || '(none)'}": use .png, .jpg, .webp or .tif`, { file: path });
  }
}

/** Quantises a float image (clamped to [0,1], rounded) to 8-bit interleaved bytes. */
export function toUint8(img: FloatImage): Uint8Array {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = img.data[i];
    out[i] = v >= 1 ? 255 : v > 0 ? Math.round(v * 255) : 0;
  }
  return out;
}

/** Encodes a float image (1, 3 or 4 channels) to PNG/JPEG/WebP/TIFF bytes, 8 bit. */
export async function encodeImage(img: FloatImage, format: OutputFormat, opts: { quality?: number } = {}): Promise<Buffer> {
  if (img.channels === 2) throw new HarmoniaError('encodeImage: 2-channel images cannot be encoded');
  const bytes = toUint8(img);
  let pipe = sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 | 4 },
  });
  switch (format) {
    case 'png': pipe = pipe.png({ compressionLevel: 6 }); break;
    case 'jpeg': pipe = pipe.jpeg({ quality: opts.quality ?? 95, chromaSubsampling: '4:4:4' }); break;
    case 'webp': pipe = pipe.webp({ quality: opts.quality ?? 95 }); break;
    case 'tiff': pipe = pipe.tiff(); break;
  }
  return pipe.toBuffer();
}

/** Writes an image atomically (temp file + rename); the format follows the extension. */
export async function writeImage(path: string, img: FloatImage, opts: { quality?: number; mkdir?: boolean } = {}): Promise<void> {
  const buf = await encodeImage(img, formatFromPath(path), opts);
  await writeFileAtomic(path, buf, { mkdir: opts.mkdir });
}

/** Writes a mask as an 8-bit grayscale PNG (0/255 for hard masks), atomically. */
export async function writeMask(path: string, m: Mask, opts: { mkdir?: boolean } = {}): Promise<void> {
  await writeImage(path, { width: m.width, height: m.height, channels: 1, data: m.data }, opts);
}

/** Reads only the header: width, height, channels, and whether the file is 16-bit. */
export async function probeImage(src: ImageSource): Promise<{ width: number; height: number; channels: number; format: string }> {
  const bytes = await loadBytes(src);
  try {
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    let { width = 0, height = 0 } = meta;
    if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
    return { width, height, channels: meta.channels ?? 0, format: meta.format ?? 'unknown' };
  } catch (err) {
    throw decodeError(label(src), err, DEFAULT_MAX_PIXELS);
  }
}
