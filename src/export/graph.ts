/**
 * The ONNX graph under construction, shared by the exporters (paper G: generator.ts; colour-transform
 * parameter networks: color-transform.ts): nodes and initializers, plus the conversions of the tfjs
 * layers both use (Conv2D, Conv2DTranspose, Dense, channel slices). Values are NCHW inside the graph.
 *
 * Weight layouts:
 *   Conv2D          tfjs kernel [kh,kw,in,out]  → ONNX Conv W          [out,in,kh,kw]
 *   Conv2DTranspose tfjs kernel [kh,kw,out,in]  → ONNX ConvTranspose W [in,out,kh,kw]
 *   Dense           tfjs kernel [in,units]      → ONNX MatMul B        [in,units] (as is)
 * (both convolutions are the permutation (3,2,0,1); no spatial flip: both frameworks define the
 * transposed convolution as the adjoint of the forward one). Padding: Conv 'same' → auto_pad
 * SAME_UPPER (TensorFlow puts the odd extra pixel at the end, as SAME_UPPER does); ConvTranspose
 * 'same' → explicit pads begin = ⌊(k−s)/2⌋, end = k−s−begin, output = s·in (k=4, s=2: [1,1,1,1]).
 */
import type { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import type { OnnxInitializer, OnnxNode } from '../onnx/proto.ts';

/** Structural view of tfjs-layers' Node (public fields, not exported as a type by the tf namespace). */
export interface InboundNode {
  inboundLayers: tf.layers.Layer[];
  nodeIndices: number[];
  tensorIndices: number[];
}

/** Permutes a 4-D row-major array with shape `shape` by `perm` (out[i_perm...] = in[i...]). */
export function permute4(data: Float32Array, shape: readonly number[], perm: readonly number[]): { data: Float32Array; shape: number[] } {
  if (shape.length !== 4 || perm.length !== 4) throw new HarmoniaError(`permute4: needs a 4-D shape and permutation, got [${shape.join(',')}] / [${perm.join(',')}]`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new HarmoniaError(`permute4: ${data.length} values for shape [${shape.join(',')}]`);
  const outShape = perm.map((p) => shape[p]);
  const inStride = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const s = perm.map((p) => inStride[p]);
  const out = new Float32Array(n);
  let o = 0;
  for (let a = 0; a < outShape[0]; a++)
    for (let b = 0; b < outShape[1]; b++)
      for (let c = 0; c < outShape[2]; c++) {
        let i = a * s[0] + b * s[1] + c * s[2];
        for (let d = 0; d < outShape[3]; d++, i += s[3]) out[o++] = data[i];
      }
  return { data: out, shape: outShape };
}

/** ONNX pads [top, left, bottom, right] of a 'same' transposed convolution with kernel k and stride s. */
export function convTransposeSamePads(kh: number, kw: number, sh: number, sw: number): number[] {
  const th = Math.max(kh - sh, 0);
  const tw = Math.max(kw - sw, 0);
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}

function pair(v: unknown, what: string, layer: string): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x) && (x as number) > 0)) throw new HarmoniaError(`ONNX export: layer "${layer}": ${what} must be two positive integers, got ${JSON.stringify(v)}`);
  return [a[0] as number, a[1] as number];
}

const ACTIVATIONS: Record<string, string | null> = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', linear: null };

function activationName(cfg: tf.serialization.ConfigDict, layer: string): string | null {
  const a = cfg.activation ?? 'linear';
  const key = typeof a === 'string' ? a : String(a);
  if (!(key in ACTIVATIONS)) throw new HarmoniaError(`ONNX export: layer "${layer}": activation "${key}" is not supported (relu, sigmoid, tanh, linear)`);
  return ACTIVATIONS[key];
}

/** Output side of a convolution along one axis ('same': ⌈n/s⌉, 'valid': ⌊(n−k)/s⌋+1; transposed 'same': n·s). */
export function convOutputSize(n: number, k: number, s: number, padding: string, transposed: boolean): number {
  if (transposed) return padding === 'same' ? n * s : (n - 1) * s + k;
  return padding === 'same' ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
}

export class OnnxGraph {
  readonly nodes: OnnxNode[] = [];
  readonly inits: OnnxInitializer[] = [];

  add(op: string, inputs: string[], output: string, attrs?: OnnxNode['attrs']): string {
    this.nodes.push({ op, inputs, outputs: [output], name: output, attrs });
    return output;
  }

  /** A float32 scalar initializer. */
  constant(name: string, value: number): string {
    this.inits.push({ name, dims: [], data: new Float32Array([value]) });
    return name;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    this.inits.push({ name, dims, data });
    return name;
  }

  int64s(name: string, values: number[]): string {
    this.inits.push({ name, dims: [values.length], data: { int64: values } });
    return name;
  }

  /** Channels [begin, end) of an NCHW (or [N,C]) value. */
  sliceChannels(x: string, begin: number, end: number, out: string): string {
    return this.add('Slice', [x, this.int64s(`${out}/starts`, [begin]), this.int64s(`${out}/ends`, [end]), this.int64s(`${out}/axes`, [1])], out);
  }

  /** Sum over H and W of an NCHW value → [N,C] (ReduceSum takes its axes as an input from opset 13). */
  sumHW(x: string, out: string): string {
    return this.add('ReduceSum', [x, this.int64s(`${out}/axes`, [2, 3])], out, { keepdims: 0 });
  }

  private activation(cfgL: tf.serialization.ConfigDict, name: string, linear: string): string {
    const act = activationName(cfgL, name);
    return act ? this.add(act, [linear], name) : linear;
  }

  /**
   * A Conv2D or Conv2DTranspose layer (channelsLast in tfjs, no dilation, 'same' or 'valid') on the
   * NCHW value `x` of spatial size `size` ([h, w], or null when dynamic). Returns the output value and its size.
   */
  conv(layer: tf.layers.Layer, x: string, size: [number, number] | null = null): { out: string; size: [number, number] | null } {
    const cls = layer.getClassName();
    const name = layer.name;
    const cfgL = layer.getConfig();
    if (cfgL.dataFormat !== undefined && cfgL.dataFormat !== 'channelsLast') throw new HarmoniaError(`ONNX export: layer "${name}": only channelsLast is supported, got ${String(cfgL.dataFormat)}`);
    const [dh, dw] = pair(cfgL.dilationRate ?? 1, 'dilationRate', name);
    if (dh !== 1 || dw !== 1) throw new HarmoniaError(`ONNX export: layer "${name}": dilation is not supported`);
    const [kh, kw] = pair(cfgL.kernelSize, 'kernelSize', name);
    const [sh, sw] = pair(cfgL.strides ?? 1, 'strides', name);
    const padding = cfgL.padding ?? 'valid';
    if (padding !== 'same' && padding !== 'valid') throw new HarmoniaError(`ONNX export: layer "${name}": padding "${String(padding)}" is not supported`);
    const weights = layer.getWeights();
    const useBias = cfgL.useBias !== false;
    if (weights.length !== (useBias ? 2 : 1)) throw new HarmoniaError(`ONNX export: layer "${name}" has ${weights.length} weight tensors, expected ${useBias ? 2 : 1}`);
    const k = weights[0];
    const w = permute4(k.dataSync() as Float32Array, k.shape, [3, 2, 0, 1]);
    this.floats(`${name}/W`, w.shape, w.data);
    const convIn = [x, `${name}/W`];
    if (useBias) {
      const b = weights[1];
      this.floats(`${name}/B`, [b.size], new Float32Array(b.dataSync() as Float32Array));
      convIn.push(`${name}/B`);
    }
    const attrs: OnnxNode['attrs'] = { kernel_shape: [kh, kw], strides: [sh, sw], dilations: [1, 1], group: 1 };
    const transposed = cls === 'Conv2DTranspose';
    if (cls === 'Conv2D') {
      if (padding === 'same') attrs.auto_pad = 'SAME_UPPER';
      else attrs.pads = [0, 0, 0, 0];
    } else if (transposed) {
      attrs.pads = padding === 'same' ? convTransposeSamePads(kh, kw, sh, sw) : [0, 0, 0, 0];
    } else {
      throw new HarmoniaError(`ONNX export: layer "${name}" of class ${cls} is not a convolution`);
    }
    const hasAct = activationName(cfgL, name) !== null;
    const linear = this.add(transposed ? 'ConvTranspose' : 'Conv', convIn, hasAct ? `${name}/linear` : name, attrs);
    const out = this.activation(cfgL, name, linear);
    const outSize: [number, number] | null = size ? [convOutputSize(size[0], kh, sh, padding, transposed), convOutputSize(size[1], kw, sw, padding, transposed)] : null;
    return { out, size: outSize };
  }

  /** A Dense layer on an [N, in] value: MatMul + Add (+ activation). */
  dense(layer: tf.layers.Layer, x: string): string {
    const name = layer.name;
    const cfgL = layer.getConfig();
    const weights = layer.getWeights();
    const useBias = cfgL.useBias !== false;
    if (weights.length !== (useBias ? 2 : 1)) throw new HarmoniaError(`ONNX export: layer "${name}" has ${weights.length} weight tensors, expected ${useBias ? 2 : 1}`);
    const k = weights[0];
    if (k.shape.length !== 2) throw new HarmoniaError(`ONNX export: layer "${name}": dense kernel must be 2-D, got [${k.shape.join(',')}]`);
    const hasAct = activationName(cfgL, name) !== null;
    let y = this.add('MatMul', [x, this.floats(`${name}/W`, [...k.shape], new Float32Array(k.dataSync() as Float32Array))], useBias || hasAct ? `${name}/matmul` : name);
    if (useBias) {
      const b = weights[1];
      y = this.add('Add', [y, this.floats(`${name}/B`, [b.size], new Float32Array(b.dataSync() as Float32Array))], hasAct ? `${name}/linear` : name);
    }
    return this.activation(cfgL, name, y);
  }
}

/** The ONNX values feeding `layer` (its single inbound node), looked up in `valueOf` (`layer:node:tensor` keys). */
export function inboundValues(layer: tf.layers.Layer, valueOf: Map<string, string>): string[] {
  const nodesIn = layer.inboundNodes as unknown as InboundNode[];
  if (nodesIn.length !== 1) throw new HarmoniaError(`ONNX export: layer "${layer.name}" is used ${nodesIn.length} times; shared layers are not supported`);
  const inbound = nodesIn[0];
  return inbound.inboundLayers.map((l, i) => {
    const key = `${l.name}:${inbound.nodeIndices[i]}:${inbound.tensorIndices[i]}`;
    const v = valueOf.get(key);
    if (v === undefined) throw new HarmoniaError(`ONNX export: layer "${layer.name}" reads "${l.name}" before it was exported (graph not in topological order?)`);
    return v;
  });
}

/**
 * The layer walk both exporters share: every layer of `model` in order, with its inbound ONNX values and
 * config; `visit` adds its nodes to the graph and returns the ONNX value of its output (undefined: the
 * layer is not exported). Returns the map `layer:0:0` → ONNX value.
 */
export function walkLayers(
  model: tf.LayersModel,
  visit: (layer: tf.layers.Layer, ins: string[], cfg: tf.serialization.ConfigDict) => string | undefined,
): Map<string, string> {
  const valueOf = new Map<string, string>();
  for (const layer of model.layers) {
    const out = visit(layer, inboundValues(layer, valueOf), layer.getConfig());
    if (out !== undefined) valueOf.set(`${layer.name}:0:0`, out);
  }
  return valueOf;
}

/** A Keras Concatenate on the channel axis (NHWC −1 or 3) as an ONNX Concat on axis 1 (NCHW). */
export function concatChannels(g: OnnxGraph, layer: tf.layers.Layer, ins: string[], cfg: tf.serialization.ConfigDict): string {
  const axis = cfg.axis ?? -1;
  if (axis !== -1 && axis !== 3) throw new HarmoniaError(`ONNX export: layer "${layer.name}": only channel concatenation (axis -1) is supported, got ${String(axis)}`);
  return g.add('Concat', ins, layer.name, { axis: 1 });
}
