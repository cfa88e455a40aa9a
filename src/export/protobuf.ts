/**
 * A minimal Protocol Buffers wire-format writer and reader: exactly what the ONNX exporter needs
 * (varints, 64-bit two's-complement varints for negative int64, fixed32 floats, length-delimited
 * bytes / strings / sub-messages). No schema compiler, no dependency; browser-safe.
 *
 * Wire types: 0 = varint, 1 = 64-bit, 2 = length-delimited, 5 = 32-bit.
 */
import { HarmoniaError } from '../errors.ts';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const utf8 = new TextEncoder();

/** Appends protobuf fields to a growable byte buffer. Each method returns `this` for chaining. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Raw varint of a non-negative safe integer, or any int64 as a bigint (negatives: 10 bytes, two's complement). */
  varint(value: number | bigint): this {
    let v: bigint;
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new HarmoniaError(`protobuf: varint must be a safe integer, got ${value}`);
      v = BigInt(value);
    } else v = value;
    if (v < 0n) v = BigInt.asUintN(64, v);
    if (v >= 1n << 64n) throw new HarmoniaError(`protobuf: varint ${value} does not fit in 64 bits`);
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
    return this;
  }

  private tag(field: number, wire: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new HarmoniaError(`protobuf: bad field number ${field}`);
    this.varint(field * 8 + wire);
  }

  /** int32 / int64 / enum / bool field (negative values are encoded as 64-bit two's complement, as protobuf requires). */
  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    return this.varint(typeof value === 'number' && value < 0 ? BigInt(value) : value);
  }

  /** float field (fixed32, little-endian IEEE 754). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_I32);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
    return this;
  }

  /** bytes field. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  /** string field (UTF-8). */
  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  /** Embedded message field, written by `build` into a fresh writer. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const sub = new ProtoWriter();
    build(sub);
    return this.bytes(field, sub.finish());
  }

  /** The bytes written so far (a copy sized exactly). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** One decoded field: `value` is a bigint for varint / 64-bit fields, a number for 32-bit ones, the bytes for length-delimited ones. */
export interface ProtoField {
  field: number;
  wire: number;
  value: bigint | number | Uint8Array;
}

/** Reads a varint at `pos`; returns [value, next position]. */
export function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new HarmoniaError('protobuf: truncated varint');
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new HarmoniaError('protobuf: varint longer than 10 bytes');
}

/** Splits one message into its top-level fields (sub-messages stay as bytes; decode them with another call). */
export function decodeFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    pos = p1;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field < 1) throw new HarmoniaError(`protobuf: bad field number ${field} at byte ${pos}`);
    if (wire === WIRE_VARINT) {
      const [v, p2] = readVarint(buf, pos);
      out.push({ field, wire, value: v });
      pos = p2;
    } else if (wire === WIRE_I64) {
      if (pos + 8 > buf.length) throw new HarmoniaError('protobuf: truncated 64-bit field');
      out.push({ field, wire, value: new DataView(buf.buffer, buf.byteOffset + pos, 8).getBigUint64(0, true) });
      pos += 8;
    } else if (wire === WIRE_LEN) {
      const [n, p2] = readVarint(buf, pos);
      const end = p2 + Number(n);
      if (end > buf.length) throw new HarmoniaError(`protobuf: length-delimited field ${field} runs past the end (${end} > ${buf.length})`);
      out.push({ field, wire, value: buf.subarray(p2, end) });
      pos = end;
    } else if (wire === WIRE_I32) {
      if (pos + 4 > buf.length) throw new HarmoniaError('protobuf: truncated 32-bit field');
      out.push({ field, wire, value: new DataView(buf.buffer, buf.byteOffset + pos, 4).getFloat32(0, true) });
      pos += 4;
    } else throw new HarmoniaError(`protobuf: unsupported wire type ${wire} (field ${field})`);
  }
  return out;
}

const utf8d = new TextDecoder('utf-8', { fatal: true });

/** Decodes a length-delimited field as UTF-8 text. */
export function fieldString(f: ProtoField): string {
  if (!(f.value instanceof Uint8Array)) throw new HarmoniaError(`protobuf: field ${f.field} is not length-delimited`);
  return utf8d.decode(f.value);
}
