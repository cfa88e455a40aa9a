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
 * the output (weight layouts and padding: graph.ts).
 * Like the tfjs model, the exported graph needs H and W multiples of 8 (runOnnxGenerator pads).
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { DT_FLOAT, ONNX_OPSET, encodeOnnxModel } from '../onnx/proto.ts';
import { OnnxGraph, walkLayers, concatChannels } from './graph.ts';
import { ONNX_EXPORTER_VERSION, ONNX_INPUT, ONNX_OUTPUT, META_EXPORTER, META_CONFIG, META_LAYOUT, META_SOURCE, META_GRAPH } from '../onnx/meta.ts';

// the exporter version, tensor names and metadata keys live in src/onnx/meta.ts (no TensorFlow.js), for the readers
export { ONNX_EXPORTER_VERSION, ONNX_INPUT, ONNX_OUTPUT, META_EXPORTER, META_CONFIG, META_LAYOUT, META_SOURCE, META_GRAPH };

export interface ExportOptions {
  /** Extra metadata_props (e.g. the source digest of the TF.js files, written by src/models/folder-onnx.ts). */
  metadata?: Record<string, string>;
  /** Graph / doc name. Default: the model's name. */
  name?: string;
  /** The input channels the config implies (the registry entry's inputChannels); checked against the model's. */
  inputChannels?: number;
}

/**
 * The generator config an export records in its metadata (a GeneratorConfig; typed structurally so
 * that export/ stays below models/ in the layers: the registry entries call the exporters).
 */
export interface ExportConfig {
  readonly kind?: string;
  readonly analysisSize?: number;
}

/** Channel count of a model's (first) input. */
function inputChannelsOf(model: tf.LayersModel): number {
  const shape = model.inputs[0].shape;
  const c = shape[shape.length - 1];
  if (typeof c !== 'number') throw new HarmoniaError(`model "${model.name}": input channel count is not fixed`);
  return c;
}

export { permute4, convTransposeSamePads } from './graph.ts';

/**
 * Exports a generator LayersModel to ONNX ModelProto bytes. `cfg` is the config it was built with
 * (recorded in the metadata); `opts.inputChannels`, when given, is checked against the model's.
 */
export function exportGeneratorToOnnx(model: tf.LayersModel, cfg: ExportConfig, opts: ExportOptions = {}): Uint8Array {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new HarmoniaError(`ONNX export: model "${model.name}" must have one input and one output, has ${model.inputs.length} and ${model.outputs.length}`);
  const inC = inputChannelsOf(model);
  const cfgC = opts.inputChannels;
  if (cfgC !== undefined && cfgC !== inC) throw new HarmoniaError(`ONNX export: config implies ${cfgC} input channels but model "${model.name}" takes ${inC}`);

  const g = new OnnxGraph();
  const valueOf = walkLayers(model, (layer, ins, cfgL) => {
    const name = layer.name;
    switch (layer.getClassName()) {
      case 'InputLayer':
        return g.add('Transpose', [ONNX_INPUT], `${name}/nchw`, { perm: [0, 3, 1, 2] });
      case 'Conv2D':
      case 'Conv2DTranspose':
        return g.conv(layer, ins[0]).out;
      case 'Concatenate':
        return concatChannels(g, layer, ins, cfgL);
      case 'HarmoniaChannelSlice': {
        const begin = cfgL.begin as number;
        const size = cfgL.size as number;
        return g.sliceChannels(ins[0], begin, begin + size, name);
      }
      case 'HarmoniaResidualBlend': {
        const scale = cfgL.scale as number;
        if (ins.length !== 2) throw new HarmoniaError(`ONNX export: layer "${name}" needs 2 inputs, has ${ins.length}`);
        const [x, z] = ins;
        const rgb = g.sliceChannels(x, 0, 3, `${name}/rgb`);
        const m = g.sliceChannels(x, 3, 4, `${name}/mask`);
        const t = g.add('Tanh', [z], `${name}/tanh`);
        const st = g.add('Mul', [t, g.constant(`${name}/scale`, scale)], `${name}/scaled`);
        const sum = g.add('Add', [rgb, st], `${name}/sum`);
        const moved = g.add('Clip', [sum, g.constant(`${name}/lo`, 0), g.constant(`${name}/hi`, 1)], `${name}/moved`);
        const diff = g.add('Sub', [moved, rgb], `${name}/diff`);
        const md = g.add('Mul', [m, diff], `${name}/masked`);
        return g.add('Add', [rgb, md], name);
      }
      default:
        throw new HarmoniaError(`ONNX export: layer "${name}" of class ${layer.getClassName()} is not supported (Conv2D, Conv2DTranspose, Concatenate, HarmoniaChannelSlice, HarmoniaResidualBlend)`);
    }
  });
  const outLayer = model.outputs[0].sourceLayer.name;
  const last = valueOf.get(`${outLayer}:0:0`);
  if (last === undefined) throw new HarmoniaError(`ONNX export: output layer "${outLayer}" was not exported`);
  g.add('Transpose', [last], ONNX_OUTPUT, { perm: [0, 2, 3, 1] });
  const outShape = model.outputs[0].shape;
  const outC = outShape[outShape.length - 1];
  if (typeof outC !== 'number') throw new HarmoniaError(`ONNX export: model "${model.name}" output channel count is not fixed`);

  return encodeOnnxModel({
    graphName: opts.name ?? model.name,
    nodes: g.nodes,
    initializers: g.inits,
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
      [META_GRAPH]: 'generator',
      ...opts.metadata,
    },
  });
}
