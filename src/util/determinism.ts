/**
 * Determinism helpers: stable fingerprints of images, files and JSON-like values; per-item seeds that do
 * not depend on processing order (so parallel or resumed runs draw the same numbers); locale-independent
 * ordering; and a checker that runs a computation several times and proves the results identical.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { HarmoniaError } from '../errors.ts';
import { describeFsError } from './atomic.ts';
import { hashString } from './random.ts';

/** The shapes of image/types.ts FloatImage and Mask, restated here because util/ sits below image/ (structurally identical). */
interface FloatImage { readonly width: number; readonly height: number; readonly channels: number; readonly data: Float32Array }
interface Mask { readonly width: number; readonly height: number; readonly data: Float32Array }

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a file's bytes, streamed (any size). */
export async function digestFile(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (err) {
    throw new HarmoniaError(`cannot read for hashing: ${describeFsError(err)}`, { file: path, cause: err });
  }
  return h.digest('hex');
}

function isImage(x: FloatImage | Mask): x is FloatImage {
  return typeof (x as FloatImage).channels === 'number';
}

/**
 * Fingerprint of an image or mask: size, channels and pixel values. By default the exact float32 bits
 * (with −0 folded into 0 and every NaN into one NaN, so equal values hash equal); with `quantize: 8`
 * or `16`, the values clamped to [0,1] and rounded to that many bits (what a saved PNG would hold), so
 * results that differ by less than half a quantisation step hash equal.
 */
export function digestImage(img: FloatImage | Mask, opts: { quantize?: 8 | 16 } = {}): string {
  const channels = isImage(img) ? img.channels : 1;
  const n = img.width * img.height * channels;
  if (img.data.length !== n) {
    throw new HarmoniaError(`digestImage: data has ${img.data.length} values, expected ${img.width}×${img.height}×${channels} = ${n}`);
  }
  const h = createHash('sha256');
  h.update(`${isImage(img) ? 'image' : 'mask'}:${img.width}x${img.height}x${channels}:${opts.quantize ?? 'f32'}\n`);
  const block = 65536;
  if (opts.quantize) {
    const max = opts.quantize === 8 ? 255 : 65535;
    const buf = opts.quantize === 8 ? new Uint8Array(Math.min(n, block)) : new Uint16Array(Math.min(n, block));
    for (let s = 0; s < n; s += block) {
      const e = Math.min(n, s + block);
      for (let i = s; i < e; i++) {
        const v = img.data[i];
        buf[i - s] = v >= 1 ? max : v > 0 ? Math.round(v * max) : 0; // NaN → 0
      }
      h.update(new Uint8Array(buf.buffer, 0, (e - s) * buf.BYTES_PER_ELEMENT));
    }
  } else {
    const f = new Float32Array(Math.min(n, block));
    const bits = new Uint32Array(f.buffer);
    for (let s = 0; s < n; s += block) {
      const e = Math.min(n, s + block);
      for (let i = s; i < e; i++) {
        const v = img.data[i];
        f[i - s] = v === 0 ? 0 : v;
        if (Number.isNaN(v)) bits[i - s] = 0x7fc00000;
      }
      h.update(new Uint8Array(f.buffer, 0, (e - s) * 4));
    }
  }
  return h.digest('hex');
}

/**
 * JSON with object keys sorted at every level, so equal values always give equal text (and digests),
 * whatever order their keys were set in. Refuses what JSON would silently change: non-finite numbers,
 * functions, symbols, bigint, undefined inside arrays, and cycles.
 */
export function stableStringify(value: unknown): string {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): string => {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new HarmoniaError(`stableStringify: ${path} is ${v}, which JSON cannot represent`);
      return JSON.stringify(v);
    }
    if (typeof v !== 'object') throw new HarmoniaError(`stableStringify: ${path} is a ${typeof v}, which JSON cannot represent`);
    if (seen.has(v)) throw new HarmoniaError(`stableStringify: ${path} is a circular reference`);
    const withJson = v as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') return walk(withJson.toJSON(), path);
    seen.add(v);
    let out: string;
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const arr = Array.from(v as ArrayLike<unknown>);
      out = `[${arr.map((x, i) => {
        if (x === undefined) throw new HarmoniaError(`stableStringify: ${path}[${i}] is undefined`);
        return walk(x, `${path}[${i}]`);
      }).join(',')}]`;
    } else {
      const keys = Object.keys(v).sort(compareCodeUnits);
      const parts: string[] = [];
      for (const k of keys) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined) continue; // as JSON.stringify does
        parts.push(`${JSON.stringify(k)}:${walk(x, `${path}.${k}`)}`);
      }
      out = `{${parts.join(',')}}`;
    }
    seen.delete(v);
    return out;
  };
  return walk(value, '$');
}

/**
 * Orders strings by UTF-16 code units: the same on every machine and locale (unlike localeCompare),
 * so file lists sorted with it give the same sample order everywhere.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A sorted copy of `names` by code units (readdir order differs between file systems). */
export function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort(compareCodeUnits);
}

/**
 * A 32-bit seed for one item, from the run's seed and the item's keys (e.g. a sample id and an epoch).
 * It depends only on those values, never on how many numbers were drawn before, so items processed in
 * another order, in parallel, or after a resume get the same random stream.
 */
export function deriveSeed(seed: number | string, ...keys: (string | number)[]): number {
  for (const k of keys) {
    if (typeof k === 'number' && !Number.isFinite(k)) throw new HarmoniaError(`deriveSeed: key ${k} is not finite`);
  }
  return hashString(JSON.stringify([typeof seed === 'number' ? seed >>> 0 : seed, ...keys]));
}

/** First index where two arrays differ (NaN equals NaN), or undefined when they are identical. */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): { index: number; a: number; b: number } | undefined {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return { index: i, a: a[i], b: b[i] };
  }
  if (a.length !== b.length) return { index: n, a: a[n] ?? NaN, b: b[n] ?? NaN };
  return undefined;
}

/** Something checkDeterministic can fingerprint without a custom digest. */
export type Digestible = Uint8Array | string | FloatImage | Mask | Float32Array | Float64Array | number[] | Record<string, unknown>;

/** Default fingerprint: bytes and strings hashed as is, images/masks with digestImage, the rest via stableStringify. */
export function digestValue(v: Digestible): string {
  if (typeof v === 'string') return sha256Hex(`s:${v}`);
  if (v instanceof Uint8Array) return sha256Hex(Buffer.concat([Buffer.from('b:'), v]));
  if (v instanceof Float32Array || v instanceof Float64Array) return sha256Hex(`a:${stableStringify(Array.from(v, (x) => (Number.isNaN(x) ? 'NaN' : x === 0 ? 0 : x)))}`);
  const o = v as Partial<FloatImage>;
  if (typeof o.width === 'number' && typeof o.height === 'number' && o.data instanceof Float32Array) return digestImage(v as FloatImage | Mask);
  return sha256Hex(`j:${stableStringify(v)}`);
}

/**
 * Runs `run` `runs` times (default 2, one after another) and returns the common digest of its results.
 * Throws a HarmoniaError naming `what` and the first run that differed (and, for images and arrays,
 * the first differing value) when they are not identical.
 */
export async function checkDeterministic<T>(
  run: (attempt: number) => T | Promise<T>,
  opts: { runs?: number; digest?: (value: T) => string; what?: string } = {},
): Promise<string> {
  const runs = opts.runs ?? 2;
  if (!Number.isInteger(runs) || runs < 2) throw new HarmoniaError(`checkDeterministic: runs must be an integer ≥ 2, got ${runs}`);
  const digest = opts.digest ?? ((v: T) => digestValue(v as unknown as Digestible));
  const what = opts.what ?? 'computation';
  const first = await run(0);
  const d0 = digest(first);
  for (let i = 1; i < runs; i++) {
    const value = await run(i);
    const di = digest(value);
    if (di !== d0) {
      let detail = '';
      const a = (first as { data?: unknown }).data ?? first;
      const b = (value as { data?: unknown }).data ?? value;
      if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && !(a instanceof DataView) && !(b instanceof DataView)) {
        const diff = firstDifference(a as unknown as ArrayLike<number>, b as unknown as ArrayLike<number>);
        if (diff) detail = `; first difference at index ${diff.index}: ${diff.a} vs ${diff.b}`;
      }
      throw new HarmoniaError(`${what} is not deterministic: run ${i + 1} of ${runs} differs from run 1 (digest ${di.slice(0, 12)} vs ${d0.slice(0, 12)})${detail}`);
    }
  }
  return d0;
}
