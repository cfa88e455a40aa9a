import sharp from 'sharp';
import { promises as fsp } from 'node:fs';
import { extname } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, describeFsError } from '../util/atomic.ts';
import { assertNotSamePath } from '../util/paths.ts';
import type { FloatImage, Mask } from './types.ts';

/** Largest image (in pixels) decoded by default: 100 megapixels. Guards against decompression bombs. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/**
 * Threads libvips may use per image operation (decode, resize, encode); default one per core. A process
 * that is one of several doing the same work (`harmonia worker`) sets 1, so the processes scale instead
 * of competing for the same cores.
 */
export function setImageThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new HarmoniaError(`image threads must be an integer in 1..256, got ${n}`);
  sharp.concurrency(n);
}

export interface ReadOptions {
  /** Reject images with more pixels than this (decompression-bomb guard). */
  maxPixels?: number;
  /** 3 = RGB (alpha dropped, grayscale expanded), 4 = RGBA (opaque alpha added if missing). */
  channels?: 3 | 4;
}

export type ImageSource = string | Uint8Array;

/** Input formats decoded (sharp's names; AVIF reports as 'heif'). Vector and document formats are refused. */
export const SUPPORTED_INPUT_FORMATS: readonly string[] = ['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif'];

function label(src: ImageSource): string {
  return typeof src === 'string' ? src : '<buffer>';
}

function checkMaxPixels(maxPixels: number): number {
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new HarmoniaError(`maxPixels must be a positive integer, got ${maxPixels}`);
  }
  return maxPixels;
}

/**
 * Checks the source before sharp sees it: a path must name an existing, non-empty regular file (a folder,
 * a device such as /dev/zero or a FIFO would otherwise hang or fail obscurely); bytes must be non-empty.
 * Returns what to hand to sharp (the path itself, so large files are not read twice into memory).
 */
async function checkSource(src: ImageSource): Promise<string | Uint8Array> {
  if (typeof src !== 'string') {
    if (!(src instanceof Uint8Array)) throw new HarmoniaError('image source must be a file path or a Uint8Array of encoded bytes');
    if (src.byteLength === 0) throw new HarmoniaError('empty buffer (0 bytes), not an image', { file: label(src) });
    return src;
  }
  if (src === '' || src.includes('\0')) throw new HarmoniaError(`invalid image path ${JSON.stringify(src)}`);
  let st;
  try {
    st = await fsp.stat(src);
  } catch (err) {
    throw new HarmoniaError(`cannot read: ${describeFsError(err)}`, { file: src, cause: err });
  }
  if (st.isDirectory()) throw new HarmoniaError('is a folder, not an image file', { file: src });
  if (!st.isFile()) throw new HarmoniaError('is not a regular file (device, FIFO or socket), not an image', { file: src });
  if (st.size === 0) throw new HarmoniaError('empty file (0 bytes), not an image', { file: src });
  return src;
}

function decodeError(file: string, err: unknown, maxPixels: number): HarmoniaError {
  if (err instanceof HarmoniaError) return err;
  const msg = (err as Error)?.message ?? String(err);
  if (/pixel limit/i.test(msg)) {
    return new HarmoniaError(`image is larger than the pixel limit of ${maxPixels.toLocaleString('en-US')} pixels (possible decompression bomb); raise maxPixels if intended`, { file, cause: err });
  }
  if (/unsupported image format/i.test(msg)) {
    return new HarmoniaError('not a supported image (JPEG, PNG, WebP, TIFF, GIF, AVIF)', { file, cause: err });
  }
  if (/ENOENT|no such file/i.test(msg)) {
    return new HarmoniaError('cannot read: no such file or folder', { file, cause: err });
  }
  return new HarmoniaError(`corrupt or truncated image: ${(msg.split('\n')[0] || 'decoder failed').trim()}`, { file, cause: err });
}

interface Decoded { width: number; height: number; channels: number; data: Float32Array; hasAlpha: boolean; bits: 8 | 16 }

const GRAY_SPACES = new Set(['b-w', 'grey16']);

/**
 * Decodes to float [0,1] with EXIF orientation applied, all channels as stored after conversion to
 * sRGB (CMYK, Lab, ICC-tagged images) or grayscale: 1 = gray, 2 = gray+alpha, 3 = RGB, 4 = RGBA.
 * 8- and 16-bit integer samples only; other sample formats (float, 32-bit) are refused.
 */
async function decode(src: ImageSource, maxPixels: number): Promise<Decoded> {
  checkMaxPixels(maxPixels);
  const file = label(src);
  const input = await checkSource(src);
  try {
    const options = { limitInputPixels: maxPixels, failOn: 'error' as const };
    const meta = await sharp(input, { ...options, sequentialRead: true }).metadata();
    if (!meta.format || !SUPPORTED_INPUT_FORMATS.includes(meta.format)) {
      throw new HarmoniaError(`not a supported image (JPEG, PNG, WebP, TIFF, GIF, AVIF)${meta.format ? `: ${meta.format.toUpperCase()} input is refused` : ''}`, { file });
    }
    if (!meta.width || !meta.height) throw new HarmoniaError('corrupt image: no width/height in the header', { file });
    if (meta.width * meta.height > maxPixels) throw new Error('Input image exceeds pixel limit');
    // an animated GIF/WebP would silently be read as its first frame: refused (issue 17)
    if ((meta.format === 'gif' || meta.format === 'webp') && (meta.pages ?? 1) > 1) {
      throw new HarmoniaError(`animated ${meta.format.toUpperCase()} with ${meta.pages} frames: only still images are read (save the frame you want as a PNG)`, { file });
    }
    const depth = meta.depth ?? 'uchar';
    const sixteen = depth === 'ushort' || depth === 'short';
    if (!sixteen && depth !== 'uchar' && depth !== 'char') {
      throw new HarmoniaError(`unsupported sample format "${depth}": only 8- and 16-bit integer images are read; convert it to an 8/16-bit PNG`, { file });
    }
    // 8-bit grey + alpha (a grey+alpha PNG, or grey made transparent by tRNS) loses its alpha in
    // libvips' 'b-w' conversion: decode it as sRGB + alpha instead (issue 17: tRNS cut-outs)
    const gray = GRAY_SPACES.has(meta.space ?? '') && !(meta.hasAlpha && !sixteen);
    const space = sixteen ? (gray ? 'grey16' : 'rgb16') : (gray ? 'b-w' : 'srgb');
    const { data, info } = await sharp(input, options)
      .rotate()
      .toColourspace(space)
      .raw({ depth: sixteen ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const n = info.width * info.height * info.channels;
    const bytesPer = sixteen ? 2 : 1;
    if (info.channels < 1 || info.channels > 4 || data.byteLength !== n * bytesPer || info.width < 1 || info.height < 1) {
      throw new HarmoniaError(`decoder returned an inconsistent buffer (${info.width}×${info.height}×${info.channels}, ${data.byteLength} bytes)`, { file });
    }
    if (info.width * info.height > maxPixels) throw new Error('Input image exceeds pixel limit');
    const out = new Float32Array(n);
    if (sixteen) {
      // copy: the Buffer may not be 2-byte aligned
      const u16 = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + n * 2));
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

/**
 * Where read-time announcements go — what a read changes about an input that the caller may not
 * expect: a 16-bit input (read at full precision, but results are written with 8 bits per channel),
 * transparency dropped when an RGBA image is read as RGB. Default: stderr, once per kind per process
 * (no silent lossy conversion, issue 28). `setImageNotices(fn)` redirects them, `null` silences them.
 */
let noticeHandler: ((message: string) => void) | null = (m) => console.error(`harmonia: warning: ${m}`);
const noticed = new Set<string>();

/** Redirects (or with null silences) the read-time announcements; each kind is announced again once after a call. */
export function setImageNotices(handler: ((message: string) => void) | null): void {
  noticeHandler = handler;
  noticed.clear();
}

function notice(kind: string, message: string): void {
  if (noticed.has(kind)) return;
  noticed.add(kind);
  noticeHandler?.(message);
}

function alphaVaries(d: Decoded): boolean {
  if (!d.hasAlpha) return false;
  const px = d.width * d.height;
  for (let i = 0; i < px; i++) if (d.data[i * d.channels + d.channels - 1] < 1) return true;
  return false;
}

/** Announces what reading `d` as `want` channels loses (16-bit output precision; transparency for RGB). */
function announceLoss(src: ImageSource, d: Decoded, want: 3 | 4): void {
  const what = typeof src === 'string' ? src : 'an input image';
  if (d.bits === 16) notice('16-bit', `${what} has 16 bits per channel: it is read at full precision, but results are written with 8 bits per channel`);
  if (want === 3 && alphaVaries(d)) {
    notice('alpha', `${what} has transparent pixels: its alpha channel is dropped and it is read as opaque RGB (to place a cut-out, give it as the foreground)`);
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
 * A 16-bit input, or transparency dropped for RGB, is announced once (setImageNotices).
 */
export async function readImage(src: ImageSource, opts: ReadOptions = {}): Promise<FloatImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const d = await decode(src, maxPixels);
  const want = opts.channels ?? 3;
  announceLoss(src, d, want);
  return toChannels(d, want);
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
  if (opts.expect && (!Number.isInteger(opts.expect.width) || !Number.isInteger(opts.expect.height))) {
    throw new HarmoniaError(`readMask: expect must give integer width and height, got ${opts.expect.width}×${opts.expect.height}`);
  }
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
  announceLoss(src, d, 4); // the alpha becomes the mask: only the bit depth is announced
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

/** Largest width/height each output format can store. */
export const MAX_OUTPUT_SIDE: Readonly<Record<OutputFormat, number>> = { png: 2_147_483_647, jpeg: 65_535, webp: 16_383, tiff: 4_294_967_295 };

/** Throws a HarmoniaError when `img` is not a well-formed FloatImage (dims, channels, data length). */
export function assertValidImage(img: FloatImage, what = 'image', file?: string): void {
  const ok = !!img && Number.isInteger(img.width) && Number.isInteger(img.height) && img.width >= 1 && img.height >= 1;
  if (!ok) throw new HarmoniaError(`${what}: width and height must be positive integers, got ${img?.width}×${img?.height}`, { file });
  if (!Number.isInteger(img.channels) || img.channels < 1 || img.channels > 4) {
    throw new HarmoniaError(`${what}: channels must be 1..4, got ${img.channels}`, { file });
  }
  if (!(img.data instanceof Float32Array) || img.data.length !== img.width * img.height * img.channels) {
    throw new HarmoniaError(`${what}: data must be a Float32Array of ${img.width}×${img.height}×${img.channels} = ${img.width * img.height * img.channels} values, got ${img.data?.length}`, { file });
  }
}

/** Encodes a float image (1, 3 or 4 channels) to PNG/JPEG/WebP/TIFF bytes, 8 bit. JPEG drops alpha. */
export async function encodeImage(img: FloatImage, format: OutputFormat, opts: { quality?: number } = {}): Promise<Buffer> {
  assertValidImage(img, 'encodeImage');
  if (img.channels === 2) throw new HarmoniaError('encodeImage: 2-channel images cannot be encoded');
  const maxSide = MAX_OUTPUT_SIDE[format];
  if (img.width > maxSide || img.height > maxSide) {
    throw new HarmoniaError(`encodeImage: ${img.width}×${img.height} is too large for ${format.toUpperCase()} (at most ${maxSide} px a side); use PNG or TIFF`);
  }
  const q = opts.quality ?? 95;
  if (!Number.isInteger(q) || q < 1 || q > 100) throw new HarmoniaError(`encodeImage: quality must be an integer 1..100, got ${q}`);
  const bytes = toUint8(img);
  try {
    let pipe = sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 | 4 },
      limitInputPixels: false,
    });
    switch (format) {
      case 'png': pipe = pipe.png({ compressionLevel: 6 }); break;
      case 'jpeg': pipe = pipe.jpeg({ quality: q, chromaSubsampling: '4:4:4' }); break;
      case 'webp': pipe = pipe.webp({ quality: q }); break;
      case 'tiff': pipe = pipe.tiff(); break;
    }
    return await pipe.toBuffer();
  } catch (err) {
    throw new HarmoniaError(`encodeImage: cannot encode ${img.width}×${img.height}×${img.channels} as ${format.toUpperCase()}: ${((err as Error)?.message ?? String(err)).split('\n')[0]}`, { cause: err });
  }
}

export interface WriteOptions {
  /** JPEG/WebP quality 1..100 (default 95). */
  quality?: number;
  /** Create the output folder if missing. */
  mkdir?: boolean;
  /** Input paths this output must never overwrite (checked with assertNotSamePath before encoding). */
  inputs?: readonly string[];
}

/**
 * Writes an image atomically (temp file + rename); the format follows the extension. Nothing is
 * written unless encoding succeeded, and an existing file is replaced only by a complete new one.
 */
export async function writeImage(path: string, img: FloatImage, opts: WriteOptions = {}): Promise<void> {
  const format = formatFromPath(path);
  if (opts.inputs) assertNotSamePath(opts.inputs, path);
  let buf: Buffer;
  try {
    buf = await encodeImage(img, format, opts);
  } catch (err) {
    const msg = err instanceof HarmoniaError ? err.message : String(err);
    throw new HarmoniaError(`not written: ${msg}`, { file: path, cause: err });
  }
  await writeFileAtomic(path, buf, { mkdir: opts.mkdir });
}

/** Writes a mask as an 8-bit grayscale PNG (0/255 for hard masks), atomically. */
export async function writeMask(path: string, m: Mask, opts: Omit<WriteOptions, 'quality'> = {}): Promise<void> {
  await writeImage(path, { width: m.width, height: m.height, channels: 1, data: m.data }, opts);
}

/**
 * Reads only the header: width, height (EXIF orientation applied), channels as stored, and the format.
 * No pixel limit applies (nothing is decoded); unsupported formats are refused like readImage does.
 */
export async function probeImage(src: ImageSource): Promise<{ width: number; height: number; channels: number; format: string }> {
  const input = await checkSource(src);
  const file = label(src);
  try {
    const meta = await sharp(input, { limitInputPixels: false }).metadata();
    if (!meta.format || !SUPPORTED_INPUT_FORMATS.includes(meta.format)) {
      throw new HarmoniaError(`not a supported image (JPEG, PNG, WebP, TIFF, GIF, AVIF)${meta.format ? `: ${meta.format.toUpperCase()} input is refused` : ''}`, { file });
    }
    let { width = 0, height = 0 } = meta;
    if (!width || !height) throw new HarmoniaError('corrupt image: no width/height in the header', { file });
    if ((meta.format === 'gif' || meta.format === 'webp') && (meta.pages ?? 1) > 1) {
      throw new HarmoniaError(`animated ${meta.format.toUpperCase()} with ${meta.pages} frames: only still images are read (save the frame you want as a PNG)`, { file });
    }
    if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
    return { width, height, channels: meta.channels ?? 0, format: meta.format };
  } catch (err) {
    throw decodeError(file, err, DEFAULT_MAX_PIXELS);
  }
}

/** Foreground statistics of a mask (foreground = value > 0.5, as hardMask). */
export interface MaskCoverage {
  /** Foreground pixels. */
  area: number;
  /** Foreground share of all pixels, in [0, 1]. */
  fraction: number;
  /** Pixels strictly between 0 and 1 (anti-aliased edge or feathering). */
  softPixels: number;
}

export function maskCoverage(m: Mask): MaskCoverage {
  let area = 0;
  let soft = 0;
  for (let i = 0; i < m.data.length; i++) {
    const v = m.data[i];
    if (v > 0.5) area++;
    if (v > 0 && v < 1) soft++;
  }
  return { area, fraction: m.data.length ? area / m.data.length : 0, softPixels: soft };
}

/**
 * Throws a HarmoniaError naming `file` when a mask cannot drive harmonization: no foreground pixel
 * (all black: nothing to harmonize) or no background pixel (all white: nothing to harmonize to).
 * Soft masks are fine. Returns the coverage.
 */
export function assertUsableMask(m: Mask, file?: string): MaskCoverage {
  const c = maskCoverage(m);
  if (c.area === 0) {
    throw new HarmoniaError(`mask has no foreground (no pixel above 127/255; all black?): nothing to harmonize`, { file });
  }
  if (c.area === m.data.length) {
    throw new HarmoniaError(`mask is foreground everywhere (all white): no background to harmonize to`, { file });
  }
  return c;
}
