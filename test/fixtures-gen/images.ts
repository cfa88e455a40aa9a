/**
 * Generates good and bad image fixtures at test time (nothing binary is committed): valid encodings
 * with known pixel values made with sharp, hand-built PNGs (CRC-correct chunks, decompression bombs),
 * and mutations of valid files (truncation, bit flips, chunk duplication, header field changes).
 */
import sharp from 'sharp';
import { deflateSync } from 'node:zlib';
import type { Rng } from '../../src/util/random.ts';

/** Deterministic RGB test pattern: value at (x, y, k) = (x·40 + y·17 + k·85) mod 256. */
export function patternRgb(width: number, height: number): Buffer {
  const b = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) b[(y * width + x) * 3 + k] = (x * 40 + y * 17 + k * 85) % 256;
    }
  }
  return b;
}

export function rawToPng(raw: Uint8Array | Uint16Array, width: number, height: number, channels: 1 | 2 | 3 | 4): Promise<Buffer> {
  let pipe = sharp(raw, { raw: { width, height, channels } });
  if (raw instanceof Uint16Array) pipe = pipe.toColourspace(channels <= 2 ? 'grey16' : 'rgb16');
  return pipe.png().toBuffer();
}

export function rawToJpeg(raw: Uint8Array, width: number, height: number, channels: 1 | 3, opts: { orientation?: number; quality?: number } = {}): Promise<Buffer> {
  let pipe = sharp(raw, { raw: { width, height, channels } });
  if (channels === 1) pipe = pipe.toColourspace('b-w'); // a true 1-component JPEG
  pipe = pipe.jpeg({ quality: opts.quality ?? 95, chromaSubsampling: '4:4:4' });
  if (opts.orientation) pipe = pipe.withMetadata({ orientation: opts.orientation });
  return pipe.toBuffer();
}

export function rawToWebp(raw: Uint8Array, width: number, height: number, channels: 3 | 4, lossless = true): Promise<Buffer> {
  return sharp(raw, { raw: { width, height, channels } }).webp({ lossless }).toBuffer();
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data, CRC over type + data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const body = Buffer.concat([head.subarray(4), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([head.subarray(0, 4), body, crc]);
}

export function ihdr(width: number, height: number, bitDepth: number, colourType: number): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d[8] = bitDepth;
  d[9] = colourType;
  return pngChunk('IHDR', d);
}

/**
 * A decompression bomb: a valid 1-bit grayscale PNG of width × height black pixels whose file is tiny
 * (20000×20000 → about 50 KB on disk for 400 megapixels).
 */
export function bombPng(width: number, height: number): Buffer {
  const rowBytes = 1 + Math.ceil(width / 8);
  const idat = deflateSync(Buffer.alloc(rowBytes * height), { level: 9 });
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 1, 0), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

export interface PngChunkInfo { type: string; start: number; end: number }

/** Chunk boundaries of a PNG (stops at the first inconsistent length). */
export function pngChunks(png: Uint8Array): PngChunkInfo[] {
  const out: PngChunkInfo[] = [];
  const view = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  let p = 8;
  while (p + 12 <= view.length) {
    const len = view.readUInt32BE(p);
    const end = p + 12 + len;
    if (end > view.length) break;
    out.push({ type: view.toString('latin1', p + 4, p + 8), start: p, end });
    p = end;
  }
  return out;
}

/** Rewrites the CRC of every complete chunk (so header-field mutations get past CRC checks). */
export function fixPngCrcs(png: Uint8Array): Buffer {
  const out = Buffer.from(png);
  for (const c of pngChunks(out)) out.writeUInt32BE(crc32(out.subarray(c.start + 4, c.end - 4)), c.end - 4);
  return out;
}

export type Mutation = 'bitflip' | 'byteset' | 'truncate' | 'duplicate' | 'delete' | 'header' | 'splice';
export const MUTATIONS: readonly Mutation[] = ['bitflip', 'byteset', 'truncate', 'duplicate', 'delete', 'header', 'splice'];

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x10, 0x40];

/**
 * One random mutation of a valid file. 'header' rewrites a header field: PNG IHDR width/height/bit
 * depth/colour type (CRC fixed half the time), JPEG SOF dimensions/components, WebP RIFF size and VP8
 * dimensions, or a byte near the start for other formats. 'duplicate' copies a PNG chunk (or a random
 * slice) in place; 'splice' inserts bytes of another file.
 */
export function mutate(src: Uint8Array, kind: Mutation, rng: Rng, other?: Uint8Array): Buffer {
  const b = Buffer.from(src);
  const pos = (): number => rng.int(0, Math.max(0, b.length - 1));
  switch (kind) {
    case 'bitflip': {
      const n = rng.int(1, 8);
      for (let i = 0; i < n; i++) b[pos()] ^= 1 << rng.int(0, 7);
      return b;
    }
    case 'byteset': {
      const n = rng.int(1, 4);
      for (let i = 0; i < n; i++) b[pos()] = rng.pick(INTERESTING);
      return b;
    }
    case 'truncate':
      return b.subarray(0, rng.int(0, b.length - 1));
    case 'delete': {
      const at = pos();
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 64)))]);
    }
    case 'duplicate': {
      const chunks = isPng(b) ? pngChunks(b) : [];
      if (chunks.length > 0 && rng.next() < 0.7) {
        const c = rng.pick(chunks);
        return Buffer.concat([b.subarray(0, c.end), b.subarray(c.start, c.end), b.subarray(c.end)]);
      }
      const at = pos();
      const len = rng.int(1, Math.min(256, b.length - at));
      return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
    }
    case 'splice': {
      const o = other ?? src;
      const from = rng.int(0, Math.max(0, o.length - 1));
      const piece = o.subarray(from, from + rng.int(1, 128));
      const at = pos();
      return Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
    }
    case 'header':
      return mutateHeader(b, rng);
  }
}

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && Buffer.from(b.subarray(0, 8)).equals(PNG_SIGNATURE);
}

function interestingDim(rng: Rng): number {
  return rng.pick([0, 1, 2, 3, 7, 255, 256, 4096, 65535, 65536, 1 << 24, 0x7fffffff, 0x80000000, 0xffffffff, rng.int(0, 100000)]);
}

function mutateHeader(b: Buffer, rng: Rng): Buffer {
  if (isPng(b) && b.length >= 33) {
    const field = rng.int(0, 5);
    if (field === 0) b.writeUInt32BE(interestingDim(rng), 16);
    else if (field === 1) b.writeUInt32BE(interestingDim(rng), 20);
    else if (field === 2) b[24] = rng.pick([0, 1, 2, 4, 8, 16, 32, 255]);
    else if (field === 3) b[25] = rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 255]);
    else if (field === 4) b[26 + rng.int(0, 2)] = rng.int(0, 255); // compression / filter / interlace
    else b.writeUInt32BE(interestingDim(rng), 8); // IHDR length
    return rng.next() < 0.5 ? fixPngCrcs(b) : b;
  }
  if (b.length > 4 && b[0] === 0xff && b[1] === 0xd8) {
    // JPEG: find a SOF marker (C0..C3) and change its precision / height / width / component count
    for (let i = 2; i + 9 < b.length; i++) {
      if (b[i] === 0xff && b[i + 1] >= 0xc0 && b[i + 1] <= 0xc3) {
        const field = rng.int(0, 3);
        if (field === 0) b[i + 4] = rng.pick([0, 8, 12, 16, 255]);
        else if (field === 1) b.writeUInt16BE(rng.pick([0, 1, 65535, rng.int(0, 65535)]), i + 5);
        else if (field === 2) b.writeUInt16BE(rng.pick([0, 1, 65535, rng.int(0, 65535)]), i + 7);
        else b[i + 9] = rng.pick([0, 1, 2, 3, 4, 255]);
        return b;
      }
    }
  }
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF') {
    const field = rng.int(0, 2);
    if (field === 0) b.writeUInt32LE(interestingDim(rng), 4);
    else if (field === 1) b.writeUInt32LE(interestingDim(rng), 16);
    else b.writeUInt16LE(rng.int(0, 65535), rng.pick([26, 28]));
    return b;
  }
  if (b.length > 0) b[rng.int(0, Math.min(b.length - 1, 31))] = rng.int(0, 255);
  return b;
}

/** Random bytes, optionally starting with a real format signature so the format sniffers accept them. */
export function randomBytes(rng: Rng, maxLen: number): Buffer {
  const len = rng.int(0, maxLen);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = rng.int(0, 255);
  const magic = rng.pick<Uint8Array | null>([
    null,
    PNG_SIGNATURE,
    Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
    Buffer.from('RIFF\0\0\0\0WEBPVP8 ', 'latin1'),
    Buffer.from('GIF89a', 'latin1'),
    Buffer.from([0x49, 0x49, 0x2a, 0x00]),
    Buffer.from('<svg', 'latin1'),
  ]);
  return magic ? Buffer.concat([magic, b]) : b;
}
