/**
 * A model.onnx session of ONNX Runtime's JavaScript API (onnxruntime-web in a browser, its WebAssembly
 * build in Node) as the pipeline's asynchronous generator hook (hooks-async.ts), and the model-level
 * metadata of a model.onnx read without protobufjs (what the export wrote: the graph kind, the
 * generator config, the SHA-256 of the TF.js files it came from). Browser-safe: no node:* imports, and
 * the runtime is passed in, so this file loads none.
 */
import { HarmoniaError } from '../errors.ts';
import type { FloatImage, Mask } from '../image/types.ts';
import { COLOR_TRANSFORM_GRAPH, META_GRAPH, ONNX_FIELD, ONNX_INPUT, ONNX_OUTPUT, ONNX_THETA } from '../onnx/meta.ts';
import type { ColorTransformParams } from '../models/color-transform-apply.ts';
import type { GeneratorConfig } from '../models/generator.ts';
import { cropRgb, padGeneratorInput } from '../models/pad.ts';
import type { AsyncHookedModel } from './hooks-async.ts';
import { generatorEntryOf } from '../models/registry.ts';

/** The parts of ONNX Runtime's JavaScript API used here (structural, so neither runtime is imported). */
export interface OrtTensorLike {
  readonly data: unknown;
  readonly dims: readonly number[];
}
export interface OrtSessionLike {
  run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>>;
}
export interface OrtModuleLike {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensorLike;
}

function readVarint(b: Uint8Array, pos: number): [number, number] {
  let v = 0, mul = 1, i = pos;
  for (;;) {
    if (i >= b.length) throw new HarmoniaError('ONNX: truncated varint');
    const byte = b[i++];
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, i];
    mul *= 128;
    if (mul > 2 ** 63) throw new HarmoniaError('ONNX: varint too long');
  }
}

/** Skips one field of wire type `wt` at `pos`; returns the position after it. */
function skipField(b: Uint8Array, wt: number, pos: number): number {
  if (wt === 0) return readVarint(b, pos)[1];
  if (wt === 1) return pos + 8;
  if (wt === 5) return pos + 4;
  if (wt === 2) {
    const [len, p] = readVarint(b, pos);
    return p + len;
  }
  throw new HarmoniaError(`ONNX: unsupported protobuf wire type ${wt}`);
}

/**
 * The metadata_props (ModelProto field 14: key 1, value 2) of ONNX model bytes, read directly from the
 * protobuf wire format: a few kB of code instead of a protobuf library in the browser bundle.
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const text = new TextDecoder();
  let pos = 0;
  while (pos < bytes.length) {
    const [tag, p] = readVarint(bytes, pos);
    const field = Math.floor(tag / 8), wt = tag & 7;
    if (field === 14 && wt === 2) {
      const [len, start] = readVarint(bytes, p);
      const end = start + len;
      if (end > bytes.length) throw new HarmoniaError('ONNX: truncated metadata entry');
      let q = start, key = '', value = '';
      while (q < end) {
        const [t2, q2] = readVarint(bytes, q);
        if ((t2 & 7) !== 2) {
          q = skipField(bytes, t2 & 7, q2);
          continue;
        }
        const [l2, s2] = readVarint(bytes, q2);
        const s = text.decode(bytes.subarray(s2, s2 + l2));
        if (t2 >> 3 === 1) key = s;
        else if (t2 >> 3 === 2) value = s;
        q = s2 + l2;
      }
      if (key) out[key] = value;
      pos = end;
    } else pos = skipField(bytes, wt, p);
    if (pos > bytes.length) throw new HarmoniaError('ONNX: not a valid model file (truncated)');
  }
  return out;
}

function float32(out: Record<string, OrtTensorLike>, name: string): OrtTensorLike & { data: Float32Array } {
  const y = out[name];
  if (!y || !(y.data instanceof Float32Array)) throw new HarmoniaError(`ONNX Runtime: the session returned no float32 "${name}"`);
  return y as OrtTensorLike & { data: Float32Array };
}

/**
 * The generator hook of a session on a Harmonia model.onnx: `transformParams` when the export is a
 * colour-transform parameter network (metadata harmonia.graph), else `run` (G with reflect padding to
 * a multiple of 8 and the mask as a 4th channel when the model takes one, cropped back).
 */
export function sessionHooks(ort: OrtModuleLike, session: OrtSessionLike, config: GeneratorConfig, metadata: Record<string, string>): Pick<AsyncHookedModel, 'run' | 'transformParams'> {
  if ((metadata[META_GRAPH] ?? 'generator') === COLOR_TRANSFORM_GRAPH) {
    return {
      transformParams: async (input: Float32Array, size: number): Promise<ColorTransformParams> => {
        const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', input, [1, size, size, 4]) });
        const theta = new Float32Array(float32(out, ONNX_THETA).data);
        if (!out[ONNX_FIELD]) return { theta };
        const f = float32(out, ONNX_FIELD);
        const [, h, w] = f.dims;
        return { theta, field: { width: w, height: h, data: new Float32Array(f.data) } };
      },
    };
  }
  const entry = generatorEntryOf(config);
  const channels = entry.inputChannels(config);
  return {
    run: async (x: FloatImage, mask: Mask): Promise<FloatImage> => {
      const p = padGeneratorInput(x.data, mask.data, x.height, x.width, channels, 'reflect', entry.stride);
      const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', p.data, [1, p.height, p.width, channels]) });
      const y = float32(out, ONNX_OUTPUT).data;
      const data = p.height === x.height && p.width === x.width ? new Float32Array(y) : cropRgb(y, p.width, p.top, p.left, x.height, x.width);
      return { width: x.width, height: x.height, channels: 3, data };
    },
  };
}
