/**
 * ONNX ModelProto encoding and decoding through the `onnx-proto` package (the ONNX schema, onnx.proto3
 * of ONNX 1.10, compiled with protobufjs). The exporter builds ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto (raw_data), ValueInfoProto (TypeProto.Tensor / TensorShapeProto) and
 * StringStringEntryProto for metadata; repeated scalars are written packed (proto3), which every ONNX
 * reader accepts. `readOnnxSummary` decodes the model-level fields, so a cached .onnx file can be
 * checked for staleness.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { HarmoniaError } from '../errors.ts';

const { onnx } = onnxProto;
const AttrType = onnx.AttributeProto.AttributeType;

/** ONNX IR version written (7 = ONNX 1.8, the first to pair with opset 13). */
export const ONNX_IR_VERSION = 7;
/** Default-domain opset the exporter targets. */
export const ONNX_OPSET = 13;

/** TensorProto.DataType values used here. */
export const DT_FLOAT = 1;
export const DT_INT64 = 7;

export type AttrValue = number | string | number[] | { floats: number[] } | { int: number };

/** A node attribute. Plain numbers are written as INT when integral, FLOAT otherwise; use `{ floats }` / `{ int }` to force. */
export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs?: Record<string, AttrValue>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  /** float32 values (data_type FLOAT) or int64 values given as integers (data_type INT64). */
  data: Float32Array | { int64: number[] };
}

/** A tensor value's declared type: element type and shape, where a string is a symbolic (dynamic) dimension. */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  shape: (number | string)[];
}

export interface OnnxModel {
  graphName: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
  opset?: number;
}

function attribute(name: string, v: AttrValue): OnnxTypes.IAttributeProto {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: AttrType.INT, i: v } : { name, type: AttrType.FLOAT, f: v };
  if (Array.isArray(v)) {
    for (const x of v) if (!Number.isInteger(x)) throw new HarmoniaError(`ONNX attribute "${name}": ints must be integers, got ${x}`);
    return { name, type: AttrType.INTS, ints: v };
  }
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: v.floats };
  return { name, type: AttrType.INT, i: v.int };
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function tensor(t: OnnxInitializer): OnnxTypes.ITensorProto {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data instanceof Float32Array) {
    if (t.data.length !== count) throw new HarmoniaError(`ONNX initializer "${t.name}": ${t.data.length} values for dims [${t.dims.join(',')}]`);
    if (!littleEndian()) throw new HarmoniaError('ONNX export needs a little-endian host');
    // raw_data is little-endian; copy so a subarray view with any offset is written correctly.
    const raw = new Uint8Array(count * 4);
    new Float32Array(raw.buffer).set(t.data);
    return { dims: t.dims, dataType: DT_FLOAT, name: t.name, rawData: raw };
  }
  if (t.data.int64.length !== count) throw new HarmoniaError(`ONNX initializer "${t.name}": ${t.data.int64.length} values for dims [${t.dims.join(',')}]`);
  const raw = new Uint8Array(count * 8);
  const dv = new DataView(raw.buffer);
  t.data.int64.forEach((x, i) => dv.setBigInt64(i * 8, BigInt(x), true));
  return { dims: t.dims, dataType: DT_INT64, name: t.name, rawData: raw };
}

function valueInfo(v: OnnxValueInfo): OnnxTypes.IValueInfoProto {
  return {
    name: v.name,
    type: { tensorType: { elemType: v.elemType, shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** Serialises a model to ONNX ModelProto bytes. */
export function encodeOnnxModel(m: OnnxModel): Uint8Array {
  const model: OnnxTypes.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    docString: m.docString || undefined,
    graph: {
      node: m.nodes.map((n) => ({
        input: n.inputs,
        output: n.outputs,
        name: n.name,
        opType: n.op,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      name: m.graphName,
      initializer: m.initializers.map(tensor),
      input: m.inputs.map(valueInfo),
      output: m.outputs.map(valueInfo),
    },
    opsetImport: [{ domain: '', version: m.opset ?? ONNX_OPSET }],
    metadataProps: Object.entries(m.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const invalid = onnx.ModelProto.verify(model);
  if (invalid) throw new HarmoniaError(`ONNX export: invalid ModelProto (${invalid})`);
  const out = onnx.ModelProto.encode(model).finish();
  // protobufjs hands out a Buffer in Node: return a plain Uint8Array view, as in browsers.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Summary of an encoded ModelProto read back: enough to check a cached file and to test the encoder. */
export interface OnnxModelSummary {
  irVersion: number;
  producerName: string;
  opset: number;
  metadata: Record<string, string>;
  /** op_type of every node, in graph order. */
  ops: string[];
  initializers: { name: string; dims: number[]; dataType: number; bytes: number }[];
  inputs: string[];
  outputs: string[];
}

/** An int64 field as decoded by protobufjs (a number, or a Long when the value needs 64 bits). */
function int(v: number | { toNumber(): number } | null | undefined): number {
  return v == null ? 0 : typeof v === 'number' ? v : v.toNumber();
}

/** Reads the top-level structure of ONNX ModelProto bytes (throws HarmoniaError on malformed input). */
export function readOnnxSummary(bytes: Uint8Array): OnnxModelSummary {
  let m: OnnxTypes.ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new HarmoniaError(`ONNX: not a valid ModelProto (${(err as Error).message})`, { cause: err });
  }
  const metadata: Record<string, string> = {};
  for (const e of m.metadataProps) if (e.key) metadata[e.key] = e.value ?? '';
  const opset = m.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx') ?? m.opsetImport[0];
  const g = m.graph;
  return {
    irVersion: int(m.irVersion),
    producerName: m.producerName,
    opset: int(opset?.version),
    metadata,
    ops: (g?.node ?? []).map((n) => n.opType ?? ''),
    initializers: (g?.initializer ?? []).map((t) => ({
      name: t.name ?? '',
      dims: (t.dims ?? []).map(int),
      dataType: t.dataType ?? 0,
      bytes: t.rawData?.length ?? 0,
    })),
    inputs: (g?.input ?? []).map((v) => v.name ?? ''),
    outputs: (g?.output ?? []).map((v) => v.name ?? ''),
  };
}
