/**
 * The subset of the ONNX protobuf schema (onnx/onnx.proto, IR version 7, opset 13) the exporter
 * writes: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto (with
 * TypeProto.Tensor / TensorShapeProto) and StringStringEntryProto for metadata. Field numbers are
 * those of onnx.proto. Repeated scalars are written unpacked (onnx.proto is proto2); readers accept both.
 * Also a small reader for the model-level metadata, so a cached .onnx file can be checked for staleness.
 */
import { HarmoniaError } from '../errors.ts';
import { ProtoWriter, decodeFields, fieldString, type ProtoField } from './protobuf.ts';

/** ONNX IR version written (7 = ONNX 1.8, the first to pair with opset 13). */
export const ONNX_IR_VERSION = 7;
/** Default-domain opset the exporter targets. */
export const ONNX_OPSET = 13;

/** TensorProto.DataType values used here. */
export const DT_FLOAT = 1;
export const DT_INT64 = 7;

// AttributeProto.AttributeType
const AT_FLOAT = 1;
const AT_INT = 2;
const AT_STRING = 3;
const AT_FLOATS = 6;
const AT_INTS = 7;

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

function writeAttr(w: ProtoWriter, name: string, v: AttrValue): void {
  w.string(1, name);
  if (typeof v === 'string') {
    w.bytes(4, new TextEncoder().encode(v)).int(20, AT_STRING);
  } else if (typeof v === 'number') {
    if (Number.isInteger(v)) w.int(3, v).int(20, AT_INT);
    else w.float(2, v).int(20, AT_FLOAT);
  } else if (Array.isArray(v)) {
    for (const x of v) {
      if (!Number.isInteger(x)) throw new HarmoniaError(`ONNX attribute "${name}": ints must be integers, got ${x}`);
      w.int(8, x);
    }
    w.int(20, AT_INTS);
  } else if ('floats' in v) {
    for (const x of v.floats) w.float(7, x);
    w.int(20, AT_FLOATS);
  } else {
    w.int(3, v.int).int(20, AT_INT);
  }
}

function writeTensor(w: ProtoWriter, t: OnnxInitializer): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  for (const d of t.dims) w.int(1, d);
  if (t.data instanceof Float32Array) {
    if (t.data.length !== count) throw new HarmoniaError(`ONNX initializer "${t.name}": ${t.data.length} values for dims [${t.dims.join(',')}]`);
    w.int(2, DT_FLOAT).string(8, t.name);
    // raw_data is little-endian; copy so a subarray view with any offset is written correctly.
    const raw = new Uint8Array(count * 4);
    new Float32Array(raw.buffer).set(t.data);
    if (!littleEndian()) throw new HarmoniaError('ONNX export needs a little-endian host');
    w.bytes(9, raw);
  } else {
    if (t.data.int64.length !== count) throw new HarmoniaError(`ONNX initializer "${t.name}": ${t.data.int64.length} values for dims [${t.dims.join(',')}]`);
    w.int(2, DT_INT64).string(8, t.name);
    const raw = new Uint8Array(count * 8);
    const dv = new DataView(raw.buffer);
    t.data.int64.forEach((x, i) => dv.setBigInt64(i * 8, BigInt(x), true));
    w.bytes(9, raw);
  }
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

/** Serialises a model to ONNX ModelProto bytes. */
export function encodeOnnxModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, ONNX_IR_VERSION);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, (g) => {
    for (const n of m.nodes) {
      g.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, n.name);
        nw.string(4, n.op);
        for (const [k, v] of Object.entries(n.attrs ?? {})) nw.message(5, (aw) => writeAttr(aw, k, v));
      });
    }
    g.string(2, m.graphName);
    for (const t of m.initializers) g.message(5, (tw) => writeTensor(tw, t));
    for (const v of m.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of m.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  });
  w.message(8, (o) => o.string(1, '').int(2, m.opset ?? ONNX_OPSET));
  for (const [k, v] of Object.entries(m.metadata ?? {})) w.message(14, (e) => e.string(1, k).string(2, v));
  return w.finish();
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

function only(fields: ProtoField[], n: number): ProtoField[] {
  return fields.filter((f) => f.field === n);
}
function bytesOf(f: ProtoField): Uint8Array {
  if (!(f.value instanceof Uint8Array)) throw new HarmoniaError(`ONNX: field ${f.field} should be length-delimited`);
  return f.value;
}
function intOf(f: ProtoField): number {
  if (typeof f.value !== 'bigint') throw new HarmoniaError(`ONNX: field ${f.field} should be a varint`);
  return Number(BigInt.asIntN(64, f.value));
}

/** Reads the top-level structure of ONNX ModelProto bytes (throws HarmoniaError on malformed input). */
export function readOnnxSummary(bytes: Uint8Array): OnnxModelSummary {
  const top = decodeFields(bytes);
  const metadata: Record<string, string> = {};
  for (const e of only(top, 14)) {
    const kv = decodeFields(bytesOf(e));
    const k = only(kv, 1)[0];
    const v = only(kv, 2)[0];
    if (k) metadata[fieldString(k)] = v ? fieldString(v) : '';
  }
  const opsetField = only(top, 8)[0];
  const opset = opsetField ? intOf(only(decodeFields(bytesOf(opsetField)), 2)[0] ?? { field: 2, wire: 0, value: 0n }) : 0;
  const graphField = only(top, 7)[0];
  const graph = graphField ? decodeFields(bytesOf(graphField)) : [];
  const ops = only(graph, 1).map((n) => {
    const op = only(decodeFields(bytesOf(n)), 4)[0];
    return op ? fieldString(op) : '';
  });
  const initializers = only(graph, 5).map((t) => {
    const tf = decodeFields(bytesOf(t));
    const name = only(tf, 8)[0];
    const raw = only(tf, 9)[0];
    return {
      name: name ? fieldString(name) : '',
      dims: only(tf, 1).map(intOf),
      dataType: intOf(only(tf, 2)[0] ?? { field: 2, wire: 0, value: 0n }),
      bytes: raw ? bytesOf(raw).length : 0,
    };
  });
  const names = (n: number) => only(graph, n).map((v) => fieldString(only(decodeFields(bytesOf(v)), 1)[0]));
  const ir = only(top, 1)[0];
  const prod = only(top, 2)[0];
  return {
    irVersion: ir ? intOf(ir) : 0,
    producerName: prod ? fieldString(prod) : '',
    opset,
    metadata,
    ops,
    initializers,
    inputs: names(11),
    outputs: names(12),
  };
}
