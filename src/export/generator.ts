/**
 * TensorFlow.js generator (tf.LayersModel from buildGenerator, or loaded from a model folder) →
 * ONNX ModelProto bytes (IR 7, opset 13), written directly with the small protobuf writer.
 *
 * The graph is read from the model itself (layers in topological order, inbound nodes), so the
 * tfjs model folder stays the single source of truth. Supported layers: InputLayer, Conv2D,
 * Conv2DTranspose (channelsLast, no dilation; 'same' or 'valid'), Concatenate (channel axis),
 * HarmoniaChannelSlice and HarmoniaResidualBlend; activations relu, sigmoid, tanh, linear.
 * Anything else is refused with a HarmoniaError naming the layer.
 *
 * Layout: the ONNX model takes and returns NHWC float32 (input "input" [N,H,W,C], output "output"
 * [N,H,W,3]) with dynamic N, H, W, exactly like the tfjs model, so callers pass the same buffers.
 * Internally the graph is NCHW (ONNX Conv's layout): one Transpose after the input, one before
 * the output. Weight layouts:
 *   Conv2D          tfjs kernel [kh,kw,in,out]  → ONNX Conv W          [out,in,kh,kw]
 *   Conv2DTranspose tfjs kernel [kh,kw,out,in]  → ONNX ConvTranspose W [in,out,kh,kw]
 * (both are the permutation (3,2,0,1); no spatial flip: both frameworks define the transposed
 * convolution as the adjoint of the forward one). Padding: Conv 'same' → auto_pad SAME_UPPER
 * (TensorFlow puts the odd extra pixel at the end, as SAME_UPPER does); ConvTranspose 'same' →
 * explicit pads begin = ⌊(k−s)/2⌋, end = k−s−begin, output = s·in (for k=4, s=2: [1,1,1,1]).
 * Like the tfjs model, the exported graph needs H and W multiples of 8 (runOnnxGenerator pads).
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { generatorInputChannels, modelInputChannels, type GeneratorConfig } from '../models/generator.ts';
import { DT_FLOAT, ONNX_OPSET, encodeOnnxModel, type OnnxInitializer, type OnnxNode } from './onnx-proto.ts';

/** Bumped whenever the exporter's output for the same model changes (part of the cache key). */
export const ONNX_EXPORTER_VERSION = '1';
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';

/** Metadata keys written into the ModelProto. */
export const META_EXPORTER = 'harmonia.exporter';
export const META_CONFIG = 'harmonia.generator';
export const META_LAYOUT = 'harmonia.layout';
export const META_SOURCE = 'harmonia.source_sha256';

export interface ExportOptions {
  /** Extra metadata_props (e.g. the source digest written by the cache). */
  metadata?: Record<string, string>;
  /** Graph / doc name. Default: the model's name. */
  name?: string;
}

/** Structural view of tfjs-layers' Node (public fields, not exported as a type by the tf namespace). */
interface InboundNode {
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

/**
 * Exports a generator LayersModel to ONNX ModelProto bytes. `cfg` is the config it was built with
 * (recorded in the metadata and checked against the model's input channels).
 */
export function exportGeneratorToOnnx(model: tf.LayersModel, cfg: GeneratorConfig, opts: ExportOptions = {}): Uint8Array {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new HarmoniaError(`ONNX export: model "${model.name}" must have one input and one output, has ${model.inputs.length} and ${model.outputs.length}`);
  const inC = modelInputChannels(model);
  const cfgC = generatorInputChannels(cfg);
  if (cfgC !== inC) throw new HarmoniaError(`ONNX export: config implies ${cfgC} input channels but model "${model.name}" takes ${inC}`);

  const nodes: OnnxNode[] = [];
  const inits: OnnxInitializer[] = [];
  const valueOf = new Map<string, string>(); // `${layer}:${nodeIndex}:${tensorIndex}` → ONNX value name
  const add = (op: string, inputs: string[], output: string, attrs?: OnnxNode['attrs']): string => {
    nodes.push({ op, inputs, outputs: [output], name: output, attrs });
    return output;
  };
  const constant = (name: string, value: number): string => {
    inits.push({ name, dims: [], data: new Float32Array([value]) });
    return name;
  };
  const int64s = (name: string, values: number[]): string => {
    inits.push({ name, dims: [values.length], data: { int64: values } });
    return name;
  };
  const sliceChannels = (x: string, begin: number, end: number, out: string): string =>
    add('Slice', [x, int64s(`${out}/starts`, [begin]), int64s(`${out}/ends`, [end]), int64s(`${out}/axes`, [1])], out);

  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const name = layer.name;
    const nodesIn = layer.inboundNodes as unknown as InboundNode[];
    if (nodesIn.length !== 1) throw new HarmoniaError(`ONNX export: layer "${name}" is used ${nodesIn.length} times; shared layers are not supported`);
    const inbound = nodesIn[0];
    const ins = inbound.inboundLayers.map((l, i) => {
      const key = `${l.name}:${inbound.nodeIndices[i]}:${inbound.tensorIndices[i]}`;
      const v = valueOf.get(key);
      if (v === undefined) throw new HarmoniaError(`ONNX export: layer "${name}" reads "${l.name}" before it was exported (graph not in topological order?)`);
      return v;
    });
    const cfgL = layer.getConfig();
    let out: string;
    switch (cls) {
      case 'InputLayer':
        out = add('Transpose', [ONNX_INPUT], `${name}/nchw`, { perm: [0, 3, 1, 2] });
        break;
      case 'Conv2D':
      case 'Conv2DTranspose': {
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
        inits.push({ name: `${name}/W`, dims: w.shape, data: w.data });
        const convIn = [ins[0], `${name}/W`];
        if (useBias) {
          const b = weights[1];
          inits.push({ name: `${name}/B`, dims: [b.size], data: new Float32Array(b.dataSync() as Float32Array) });
          convIn.push(`${name}/B`);
        }
        const attrs: OnnxNode['attrs'] = { kernel_shape: [kh, kw], strides: [sh, sw], dilations: [1, 1], group: 1 };
        if (cls === 'Conv2D') {
          if (padding === 'same') attrs.auto_pad = 'SAME_UPPER';
          else attrs.pads = [0, 0, 0, 0];
        } else {
          attrs.pads = padding === 'same' ? convTransposeSamePads(kh, kw, sh, sw) : [0, 0, 0, 0];
        }
        const act = activationName(cfgL, name);
        const conv = add(cls === 'Conv2D' ? 'Conv' : 'ConvTranspose', convIn, act ? `${name}/linear` : name, attrs);
        out = act ? add(act, [conv], name) : conv;
        break;
      }
      case 'Concatenate': {
        const axis = cfgL.axis ?? -1;
        if (axis !== -1 && axis !== 3) throw new HarmoniaError(`ONNX export: layer "${name}": only channel concatenation (axis -1) is supported, got ${String(axis)}`);
        out = add('Concat', ins, name, { axis: 1 });
        break;
      }
      case 'HarmoniaChannelSlice': {
        const begin = cfgL.begin as number;
        const size = cfgL.size as number;
        out = sliceChannels(ins[0], begin, begin + size, name);
        break;
      }
      case 'HarmoniaResidualBlend': {
        const scale = cfgL.scale as number;
        if (ins.length !== 2) throw new HarmoniaError(`ONNX export: layer "${name}" needs 2 inputs, has ${ins.length}`);
        const [x, z] = ins;
        const rgb = sliceChannels(x, 0, 3, `${name}/rgb`);
        const m = sliceChannels(x, 3, 4, `${name}/mask`);
        const t = add('Tanh', [z], `${name}/tanh`);
        const st = add('Mul', [t, constant(`${name}/scale`, scale)], `${name}/scaled`);
        const sum = add('Add', [rgb, st], `${name}/sum`);
        const moved = add('Clip', [sum, constant(`${name}/lo`, 0), constant(`${name}/hi`, 1)], `${name}/moved`);
        const diff = add('Sub', [moved, rgb], `${name}/diff`);
        const md = add('Mul', [m, diff], `${name}/masked`);
        out = add('Add', [rgb, md], name);
        break;
      }
      default:
        throw new HarmoniaError(`ONNX export: layer "${name}" of class ${cls} is not supported (Conv2D, Conv2DTranspose, Concatenate, HarmoniaChannelSlice, HarmoniaResidualBlend)`);
    }
    valueOf.set(`${name}:0:0`, out);
  }
  const outLayer = model.outputs[0].sourceLayer.name;
  const last = valueOf.get(`${outLayer}:0:0`);
  if (last === undefined) throw new HarmoniaError(`ONNX export: output layer "${outLayer}" was not exported`);
  nodes.push({ op: 'Transpose', inputs: [last], outputs: [ONNX_OUTPUT], name: ONNX_OUTPUT, attrs: { perm: [0, 2, 3, 1] } });
  const outShape = model.outputs[0].shape;
  const outC = outShape[outShape.length - 1];
  if (typeof outC !== 'number') throw new HarmoniaError(`ONNX export: model "${model.name}" output channel count is not fixed`);

  return encodeOnnxModel({
    graphName: opts.name ?? model.name,
    nodes,
    initializers: inits,
    inputs: [{ name: ONNX_INPUT, elemType: DT_FLOAT, shape: ['batch', 'height', 'width', inC] }],
    outputs: [{ name: ONNX_OUTPUT, elemType: DT_FLOAT, shape: ['batch', 'height', 'width', outC] }],
    producerName: 'harmonia',
    producerVersion: `exporter ${ONNX_EXPORTER_VERSION}; TensorFlow.js ${tf.version_layers}`,
    docString: 'Harmonia refinement generator G. Input/output NHWC float32 in [0,1]; input channels: RGB (+ mask). H, W multiples of 8.',
    opset: ONNX_OPSET,
    metadata: {
      [META_EXPORTER]: ONNX_EXPORTER_VERSION,
      [META_CONFIG]: JSON.stringify(cfg),
      [META_LAYOUT]: 'NHWC',
      ...opts.metadata,
    },
  });
}
