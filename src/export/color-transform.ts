/**
 * Colour-transform generator (`global`, `pct`; src/models/color-transform.ts) → ONNX: the parameter
 * network only, i.e. everything before ColorTransformApply. The apply stays in JavaScript
 * (applyColorTransformArrays), at the input's full resolution.
 *
 *   input  "input" [N,S,S,4] NHWC float32: the S×S area-downscaled analysis copy (RGB + mask), S = the
 *          model's analysisSize (the AreaDownscale layer is the identity at that size, so the graph
 *          starts after it; the caller downsizes, exactly as the TF.js path does)
 *   output "theta" [N,P]: the transform parameters after the gate bias (P = TRANSFORM_PARAMS)
 *   output "field" [N,S/16,S/16,12] NHWC (pct only): the per-pixel affine field at the backbone's size
 *
 * Layers: InputLayer, HarmoniaAreaDownscale (identity), Conv2D, HarmoniaMaskedStats (masked means and
 * standard deviations: Mul, ReduceSum, Div, Sqrt; the mask brought to the feature size by an exact
 * AveragePool), Dense (MatMul + Add), HarmoniaGateBias (Add), HarmoniaBroadcastVector (Unsqueeze +
 * Expand), Concatenate; ColorTransformApply ends the export. Anything else is refused naming the layer.
 */
import { tf } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import { DT_FLOAT, ONNX_OPSET, encodeOnnxModel } from '../onnx/proto.ts';
import { OnnxGraph, walkLayers, concatChannels } from './graph.ts';
import { ONNX_THETA, ONNX_FIELD, COLOR_TRANSFORM_GRAPH } from '../onnx/meta.ts';
import { ONNX_EXPORTER_VERSION, ONNX_INPUT, META_CONFIG, META_EXPORTER, META_GRAPH, META_LAYOUT, type ExportConfig, type ExportOptions } from './generator.ts';

export { ONNX_THETA, ONNX_FIELD, COLOR_TRANSFORM_GRAPH }; // defined in src/onnx/meta.ts (no TensorFlow.js), for the readers

/** Exports the parameter network of a `global` / `pct` generator (θ, and the field for pct) to ONNX ModelProto bytes. */
export function exportColorTransformToOnnx(model: tf.LayersModel, cfg: ExportConfig, opts: ExportOptions = {}): Uint8Array {
  const analysis = model.layers.find((l) => l.getClassName() === 'HarmoniaAreaDownscale');
  if (!analysis) throw new HarmoniaError(`ONNX export: model "${model.name}" has no HarmoniaAreaDownscale layer: not a colour-transform generator`);
  const S = (analysis as unknown as { size: number }).size;
  if (cfg.analysisSize !== undefined && cfg.analysisSize !== S) throw new HarmoniaError(`ONNX export: config says analysisSize ${cfg.analysisSize} but the model's analysis layer is ${S}²`);
  const g = new OnnxGraph();
  const sizeOf = new Map<string, [number, number]>(); // spatial size of 4-D values
  let theta: string | undefined;
  let field: string | undefined;
  // θ's length and the field's channels, read from the model's layers (their layout: src/models/color-transform-apply.ts)
  let thetaParams = 0;
  let fieldChannels = 0;

  walkLayers(model, (layer, ins, cfgL) => {
    const cls = layer.getClassName();
    const name = layer.name;
    if (cls === 'HarmoniaColorTransformApply') return undefined; // stays in JavaScript
    let out: string;
    switch (cls) {
      case 'InputLayer':
        out = g.add('Transpose', [ONNX_INPUT], `${name}/nchw`, { perm: [0, 3, 1, 2] });
        sizeOf.set(out, [S, S]);
        break;
      case 'HarmoniaAreaDownscale':
        out = ins[0]; // the input is declared S×S: AreaDownscale is the identity there
        break;
      case 'Conv2D': {
        const r = g.conv(layer, ins[0], sizeOf.get(ins[0]) ?? null);
        out = r.out;
        if (r.size) sizeOf.set(out, r.size);
        break;
      }
      case 'HarmoniaMaskedStats': {
        const [f, small] = ins;
        const fs = sizeOf.get(f);
        const ss = sizeOf.get(small);
        if (!fs || !ss) throw new HarmoniaError(`ONNX export: layer "${name}": input sizes unknown`);
        const rgb = g.sliceChannels(small, 0, 3, `${name}/rgb`);
        const m = g.sliceChannels(small, 3, 4, `${name}/mask`);
        // the mask at the feature size: box average by the integer factors (exact when S is a multiple of h)
        const kh = Math.max(1, Math.floor(ss[0] / fs[0])), kw = Math.max(1, Math.floor(ss[1] / fs[1]));
        if (Math.floor(ss[0] / kh) !== fs[0] || Math.floor(ss[1] / kw) !== fs[1]) throw new HarmoniaError(`ONNX export: layer "${name}": a ${ss[0]}×${ss[1]} mask does not box-average to ${fs[0]}×${fs[1]} (needs the bilinear fallback, not exported)`);
        const fm = kh > 1 || kw > 1 ? g.add('AveragePool', [m], `${name}/fmask`, { kernel_shape: [kh, kw], strides: [kh, kw], pads: [0, 0, 0, 0] }) : m;
        const one = g.constant(`${name}/one`, 1);
        const eps = g.constant(`${name}/eps`, 1e-4);
        const inv = (w: string, tag: string) => g.add('Sub', [one, w], `${name}/${tag}`);
        const pool = (v: string, w: string, tag: string) => {
          const num = g.sumHW(g.add('Mul', [v, w], `${name}/${tag}/vw`), `${name}/${tag}/sum`);
          const den = g.add('Add', [g.sumHW(w, `${name}/${tag}/wsum`), eps], `${name}/${tag}/den`);
          return g.add('Div', [num, den], `${name}/${tag}`);
        };
        const minv = inv(m, 'minv');
        const fminv = fm === m ? minv : inv(fm, 'fminv');
        const meanFg = pool(rgb, m, 'mean_fg');
        const meanBg = pool(rgb, minv, 'mean_bg');
        const sq = g.add('Mul', [rgb, rgb], `${name}/sq`);
        const tiny = g.constant(`${name}/tiny`, 1e-6);
        const std = (mean: string, w: string, tag: string) => {
          const ex2 = pool(sq, w, `${tag}/ex2`);
          const v = g.add('Relu', [g.add('Sub', [ex2, g.add('Mul', [mean, mean], `${name}/${tag}/m2`)], `${name}/${tag}/var`)], `${name}/${tag}/relu`);
          return g.add('Sqrt', [g.add('Add', [v, tiny], `${name}/${tag}/eps`)], `${name}/${tag}`);
        };
        const parts = [pool(f, fm, 'feat_fg'), pool(f, fminv, 'feat_bg'), meanFg, std(meanFg, m, 'std_fg'), meanBg, std(meanBg, minv, 'std_bg')];
        const bins = typeof cfgL.bins === 'number' ? cfgL.bins : 0;
        if (bins > 0) {
          // colour histograms (color-transform.ts colorHistograms): triangular bins on [N,3,K,S,S], weighted means over H, W
          const x5 = g.add('Unsqueeze', [rgb, g.int64s(`${name}/hist/ax2`, [2])], `${name}/hist/x5`);
          const scaled = g.add('Mul', [x5, g.constant(`${name}/hist/k1`, bins - 1)], `${name}/hist/scaled`);
          const centres = g.floats(`${name}/hist/centres`, [1, 1, bins, 1, 1], Float32Array.from({ length: bins }, (_, k) => k));
          const dist = g.add('Abs', [g.add('Sub', [scaled, centres], `${name}/hist/diff`)], `${name}/hist/abs`);
          const kernel = g.add('Relu', [g.add('Sub', [one, dist], `${name}/hist/tri`)], `${name}/hist/kernel`);
          const hist = (w: string, tag: string) => {
            const w5 = g.add('Unsqueeze', [w, g.int64s(`${name}/${tag}/ax2`, [2])], `${name}/${tag}/w5`);
            const num = g.add('ReduceSum', [g.add('Mul', [kernel, w5], `${name}/${tag}/kw`), g.int64s(`${name}/${tag}/axes`, [3, 4])], `${name}/${tag}/num`, { keepdims: 0 });
            const wsum = g.add('ReduceSum', [w, g.int64s(`${name}/${tag}/waxes`, [1, 2, 3])], `${name}/${tag}/wsum`, { keepdims: 0 });
            const den = g.add('Unsqueeze', [g.add('Add', [wsum, eps], `${name}/${tag}/den1`), g.int64s(`${name}/${tag}/ax12`, [1, 2])], `${name}/${tag}/den`);
            return g.add('Flatten', [g.add('Div', [num, den], `${name}/${tag}/div`)], `${name}/${tag}`, { axis: 1 });
          };
          parts.push(hist(m, 'hist_fg'), hist(minv, 'hist_bg'));
        }
        out = g.add('Concat', parts, name, { axis: 1 });
        break;
      }
      case 'Dense':
        out = g.dense(layer, ins[0]);
        break;
      case 'HarmoniaGateBias': {
        const bias = cfgL.bias as number;
        thetaParams = lastDim(layer);
        const add = new Float32Array(thetaParams);
        add[thetaParams - 1] = bias;
        out = g.add('Add', [ins[0], g.floats(`${name}/bias`, [1, thetaParams], add)], name);
        theta = out;
        break;
      }
      case 'HarmoniaBroadcastVector': {
        const [map, vec] = ins;
        const ms = sizeOf.get(map);
        if (!ms) throw new HarmoniaError(`ONNX export: layer "${name}": map size unknown`);
        const units = (layer.inboundNodes[0] as unknown as { inputShapes: (number | null)[][] }).inputShapes[1][1];
        if (typeof units !== 'number') throw new HarmoniaError(`ONNX export: layer "${name}": vector width unknown`);
        const v4 = g.add('Unsqueeze', [vec, g.int64s(`${name}/axes`, [2, 3])], `${name}/v4`);
        out = g.add('Expand', [v4, g.int64s(`${name}/shape`, [1, units, ms[0], ms[1]])], name);
        sizeOf.set(out, ms);
        break;
      }
      case 'Concatenate': {
        out = concatChannels(g, layer, ins, cfgL);
        const s0 = sizeOf.get(ins[0]);
        if (s0) sizeOf.set(out, s0);
        break;
      }
      default:
        throw new HarmoniaError(`ONNX export: layer "${name}" of class ${cls} is not supported in a colour-transform generator (Conv2D, Dense, Concatenate, HarmoniaAreaDownscale, HarmoniaMaskedStats, HarmoniaGateBias, HarmoniaBroadcastVector)`);
    }
    if (name === 'g_field') {
      field = out;
      fieldChannels = lastDim(layer);
    }
    return out;
  });
  if (!theta) throw new HarmoniaError(`ONNX export: model "${model.name}" has no HarmoniaGateBias layer (θ)`);
  g.add('Identity', [theta], ONNX_THETA);
  const outputs = [{ name: ONNX_THETA, elemType: DT_FLOAT, shape: ['batch', thetaParams] as (number | string)[] }];
  if (field) {
    g.add('Transpose', [field], ONNX_FIELD, { perm: [0, 2, 3, 1] });
    const fs = sizeOf.get(field) as [number, number];
    outputs.push({ name: ONNX_FIELD, elemType: DT_FLOAT, shape: ['batch', fs[0], fs[1], fieldChannels] });
  }
  return encodeOnnxModel({
    graphName: opts.name ?? `${model.name}_parameters`,
    nodes: g.nodes,
    initializers: g.inits,
    inputs: [{ name: ONNX_INPUT, elemType: DT_FLOAT, shape: ['batch', S, S, 4] }],
    outputs,
    producerName: 'harmonia',
    producerVersion: `exporter ${ONNX_EXPORTER_VERSION}; TensorFlow.js ${tf.version_layers}`,
    docString: `Harmonia colour-transform generator (${cfg.kind ?? '?'}), parameter network: input NHWC [N,${S},${S},4] (the area-downscaled RGB + mask in [0,1]) → theta [N,${thetaParams}]${field ? ` and field NHWC [N,h,w,${fieldChannels}]` : ''}. The transform is applied outside the graph (applyColorTransformArrays).`,
    opset: ONNX_OPSET,
    metadata: {
      [META_EXPORTER]: ONNX_EXPORTER_VERSION,
      [META_CONFIG]: JSON.stringify(cfg),
      [META_LAYOUT]: 'NHWC',
      [META_GRAPH]: COLOR_TRANSFORM_GRAPH,
      ...opts.metadata,
    },
  });
}

/** The last dimension of a layer's (single) output shape. */
function lastDim(layer: tf.layers.Layer): number {
  const shape = layer.outputShape as (number | null)[];
  const n = shape[shape.length - 1];
  if (typeof n !== 'number') throw new HarmoniaError(`ONNX export: layer "${layer.name}": output channels unknown`);
  return n;
}
