/**
 * Reads PyTorch checkpoints (state dicts) without Python, in both formats torch.save writes:
 * - zip (torch ≥ 1.6 default): `<prefix>/data.pkl` + one `<prefix>/data/<key>` entry per storage;
 * - legacy (`_use_new_zipfile_serialization=False`, and files from torch < 1.6 such as the LPIPS
 *   v0.1 lin weights): magic-number pickle, protocol pickle, sys-info pickle, the object pickle
 *   (storages as persistent ids), the storage-key list pickle, then each storage as an int64
 *   element count followed by raw little-endian values.
 * Tensors are views (storage, offset, size, stride); `tensorData` materialises any view, including
 * non-contiguous ones, as a contiguous row-major array. The zip container is read with fflate
 * (central directory, zip64, stored and deflated entries).
 */
import { promises as fsp } from 'node:fs';
import { HarmoniaError } from '../../errors.ts';
import { describeFsError } from '../../util/atomic.ts';
import { unpickle, PyCallable, PyGlobal, type PyValue, type PyDict } from './pickle.ts';
import { unzipSync } from 'fflate';

export type TorchDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGE_DTYPES: Record<string, TorchDType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8',
  ByteStorage: 'uint8', BoolStorage: 'bool',
};

export const DTYPE_SIZE: Record<TorchDType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** A storage: a flat array of `numel` elements; `bytes` is filled once the file part is read. */
export class TorchStorage {
  bytes: Uint8Array | undefined;
  constructor(readonly key: string, readonly dtype: TorchDType, readonly numel: number, readonly bigEndian = false) {}
}

/** A tensor as torch stores it: a strided view into a storage (offsets and strides in elements). */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
  get dtype(): TorchDType { return this.storage.dtype; }
  get size(): number { return this.shape.reduce((a, b) => a * b, 1); }
}

export type StateDict = Map<string, TorchTensor>;

export interface TorchCheckpoint {
  format: 'zip' | 'legacy';
  /** The unpickled object (a Map for state dicts), tensors as TorchTensor. */
  root: PyValue;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function storageDType(cls: PyValue, file: string): TorchDType {
  const name = cls instanceof PyGlobal ? cls.name : typeof cls === 'string' ? cls : '';
  const dt = STORAGE_DTYPES[name];
  if (!dt) throw new HarmoniaError(`unsupported storage type "${cls instanceof PyGlobal ? cls.qualified : String(name)}"`, { file });
  return dt;
}

function intOf(v: PyValue, what: string, file: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new HarmoniaError(`${what} is not an integer`, { file });
}

function intList(v: PyValue, what: string, file: string): number[] {
  if (!Array.isArray(v)) throw new HarmoniaError(`${what} is not a tuple`, { file });
  return v.map((x) => intOf(x, what, file));
}

function resolveGlobal(file: string) {
  return (module: string, name: string): PyValue | undefined => {
    const q = `${module}.${name}`;
    switch (q) {
      case 'collections.OrderedDict':
        return new PyCallable(q, (args) => {
          const d: PyDict = new Map();
          const items = args[0];
          if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv)) d.set(kv[0] as string, kv[1]);
          return d;
        });
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return new PyCallable(q, (args) => {
          const st = args[0];
          if (!(st instanceof TorchStorage)) throw new HarmoniaError(`${q}: first argument is not a storage`, { file });
          const shape = intList(args[2], 'tensor size', file);
          const stride = intList(args[3], 'tensor stride', file);
          if (shape.length !== stride.length) throw new HarmoniaError('tensor size and stride differ in rank', { file });
          return new TorchTensor(st, intOf(args[1], 'storage offset', file), shape, stride);
        });
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return new PyCallable(q, (args) => args[0]);
      case 'torch.Size':
        return new PyCallable(q, (args) => args[0] ?? []);
      default:
        if (module === 'torch' && name in STORAGE_DTYPES) return new PyGlobal(module, name);
        return undefined;
    }
  };
}

/** Reads a checkpoint file (zip or legacy format). */
export async function readTorchCheckpoint(path: string): Promise<TorchCheckpoint> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(path);
  } catch (err) {
    throw new HarmoniaError(`cannot read checkpoint: ${describeFsError(err)}`, { file: path, cause: err });
  }
  return parseTorchCheckpoint(buf, path);
}

/** Parses checkpoint bytes (zip or legacy format); `file` names the source in errors. */
export function parseTorchCheckpoint(buf: Uint8Array, file = '<buffer>'): TorchCheckpoint {
  if (buf.length === 0) throw new HarmoniaError('empty file, not a PyTorch checkpoint', { file });
  if (isZip(buf)) return parseZip(buf, file);
  if (buf[0] === 0x80) return parseLegacy(buf, file);
  if (buf.length > 262 && String.fromCharCode(...buf.subarray(257, 262)) === 'ustar') {
    throw new HarmoniaError('tar-format checkpoints (PyTorch ≤ 0.1.10) are not supported; re-save with a newer torch', { file });
  }
  throw new HarmoniaError('not a PyTorch checkpoint (neither a zip archive nor a pickle)', { file });
}

/** True when the bytes start like a ZIP file ("PK\x03\x04"). */
function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

/** Every entry of a zip archive, by name (fflate; its errors become a HarmoniaError naming the file). */
export function readZipEntries(buf: Uint8Array, file = '<buffer>'): Map<string, Uint8Array> {
  try {
    return new Map(Object.entries(unzipSync(buf)));
  } catch (err) {
    throw new HarmoniaError(`zip: not a readable zip archive (${(err as Error).message}; truncated download?)`, { file, cause: err });
  }
}

function parseZip(buf: Uint8Array, file: string): TorchCheckpoint {
  const entries = readZipEntries(buf, file);
  const pkl = [...entries.keys()].find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pkl) throw new HarmoniaError('zip archive has no data.pkl: not a torch.save checkpoint', { file });
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  const bo = order ? new TextDecoder().decode(order).trim() : 'little';
  const storages = new Map<string, TorchStorage>();
  const { value } = unpickle(entries.get(pkl) as Uint8Array, 0, {
    file,
    resolveGlobal: resolveGlobal(file),
    persistentLoad: (pid) => {
      if (!Array.isArray(pid) || pid[0] !== 'storage') throw new HarmoniaError('unsupported persistent id (expected a storage)', { file });
      const dtype = storageDType(pid[1], file);
      const key = String(pid[2]);
      let st = storages.get(key);
      if (!st) {
        const numel = intOf(pid[4], 'storage size', file);
        st = new TorchStorage(key, dtype, numel, bo === 'big');
        const name = `${prefix}data/${key}`;
        const bytes = entries.get(name);
        if (!bytes) throw new HarmoniaError(`storage entry "${name}" is missing`, { file });
        if (bytes.length < numel * DTYPE_SIZE[dtype]) {
          throw new HarmoniaError(`storage "${key}" holds ${bytes.length} bytes, needs ${numel * DTYPE_SIZE[dtype]}`, { file });
        }
        st.bytes = bytes;
        storages.set(key, st);
      }
      return st;
    },
  });
  return { format: 'zip', root: value };
}

function parseLegacy(buf: Uint8Array, file: string): TorchCheckpoint {
  const magic = unpickle(buf, 0, { file });
  if (magic.value !== LEGACY_MAGIC) {
    throw new HarmoniaError('pickle does not start with the PyTorch magic number: not a torch.save checkpoint', { file });
  }
  const proto = unpickle(buf, magic.end, { file });
  if (proto.value !== 1001) throw new HarmoniaError(`unsupported legacy checkpoint protocol ${String(proto.value)}`, { file });
  const sys = unpickle(buf, proto.end, { file });
  let littleEndian = true;
  if (sys.value instanceof Map && sys.value.get('little_endian') === false) littleEndian = false;
  // roots: storages by key; views: (view key → root key, element offset, size)
  const roots = new Map<string, { dtype: TorchDType; numel: number; storage: TorchStorage }>();
  const views: { view: TorchStorage; rootKey: string; offset: number }[] = [];
  const main = unpickle(buf, sys.end, {
    file,
    resolveGlobal: resolveGlobal(file),
    persistentLoad: (pid) => {
      if (!Array.isArray(pid) || pid[0] !== 'storage') {
        throw new HarmoniaError(`unsupported persistent id "${String(Array.isArray(pid) ? pid[0] : pid)}" (expected a storage)`, { file });
      }
      const dtype = storageDType(pid[1], file);
      const rootKey = String(pid[2]);
      const numel = intOf(pid[4], 'storage size', file);
      if (!roots.has(rootKey)) roots.set(rootKey, { dtype, numel, storage: new TorchStorage(rootKey, dtype, numel, !littleEndian) });
      const meta = pid[5];
      if (Array.isArray(meta)) {
        const viewKey = String(meta[0]);
        const off = intOf(meta[1], 'view offset', file);
        const size = intOf(meta[2], 'view size', file);
        const view = new TorchStorage(viewKey, dtype, size, !littleEndian);
        views.push({ view, rootKey, offset: off });
        return view;
      }
      return roots.get(rootKey)!.storage;
    },
  });
  const keys = unpickle(buf, main.end, { file });
  if (!Array.isArray(keys.value)) throw new HarmoniaError('storage key list is missing', { file });
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = keys.end;
  for (const k of keys.value) {
    const key = String(k);
    const r = roots.get(key);
    if (!r) throw new HarmoniaError(`storage "${key}" is listed but never used`, { file });
    if (pos + 8 > buf.length) throw new HarmoniaError(`storage "${key}" is truncated`, { file });
    const n = Number(dv.getBigInt64(pos, littleEndian));
    pos += 8;
    const nbytes = n * DTYPE_SIZE[r.dtype];
    if (n !== r.numel) throw new HarmoniaError(`storage "${key}" has ${n} elements, the pickle says ${r.numel}`, { file });
    if (pos + nbytes > buf.length) throw new HarmoniaError(`storage "${key}" is truncated (file ends early)`, { file });
    r.storage.bytes = buf.subarray(pos, pos + nbytes);
    pos += nbytes;
  }
  for (const { view, rootKey, offset } of views) {
    const r = roots.get(rootKey)!;
    if (!r.storage.bytes) throw new HarmoniaError(`storage "${rootKey}" has no data`, { file });
    const es = DTYPE_SIZE[r.dtype];
    view.bytes = r.storage.bytes.subarray(offset * es, (offset + view.numel) * es);
  }
  return { format: 'legacy', root: main.value };
}

/** Materialises a tensor (any strides/offset) as a contiguous row-major Float32Array. */
export function tensorData(t: TorchTensor, file = '<checkpoint>'): Float32Array {
  const st = t.storage;
  if (!st.bytes) throw new HarmoniaError(`storage "${st.key}" has no data`, { file });
  const es = DTYPE_SIZE[st.dtype];
  const rank = t.shape.length;
  const n = t.size;
  let maxIndex = t.offset;
  for (let d = 0; d < rank; d++) if (t.shape[d] > 0) maxIndex += (t.shape[d] - 1) * t.stride[d];
  if (n > 0 && (t.offset < 0 || (maxIndex + 1) * es > st.bytes.length)) {
    throw new HarmoniaError(`tensor view [${t.shape.join(',')}] reaches past its storage "${st.key}"`, { file });
  }
  if (st.dtype === 'float32' && !st.bigEndian && isContiguous(t)) {
    // fast path: one copy of the bytes (what every torchvision weight is)
    const start = st.bytes.byteOffset + t.offset * 4;
    const copy = new Uint8Array(n * 4);
    copy.set(new Uint8Array(st.bytes.buffer, start, n * 4));
    return new Float32Array(copy.buffer);
  }
  const dv = new DataView(st.bytes.buffer, st.bytes.byteOffset, st.bytes.byteLength);
  const le = !st.bigEndian;
  const read = reader(st.dtype, dv, le);
  const out = new Float32Array(n);
  if (n === 0) return out;
  const idx = new Array<number>(rank).fill(0);
  let src = t.offset;
  for (let i = 0; i < n; i++) {
    out[i] = read(src * es);
    // odometer over the shape, updating the storage index incrementally
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Row-major contiguous (size-1 dimensions may have any stride). */
function isContiguous(t: TorchTensor): boolean {
  let expect = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expect) return false;
    expect *= t.shape[d];
  }
  return true;
}

function reader(dtype: TorchDType, dv: DataView, le: boolean): (byte: number) => number {
  switch (dtype) {
    case 'float32': return (o) => dv.getFloat32(o, le);
    case 'float64': return (o) => dv.getFloat64(o, le);
    case 'float16': return (o) => halfToFloat(dv.getUint16(o, le));
    case 'bfloat16': { const f = new Float32Array(1); const u = new Uint32Array(f.buffer); return (o) => { u[0] = dv.getUint16(o, le) << 16; return f[0]; }; }
    case 'int64': return (o) => Number(dv.getBigInt64(o, le));
    case 'int32': return (o) => dv.getInt32(o, le);
    case 'int16': return (o) => dv.getInt16(o, le);
    case 'int8': return (o) => dv.getInt8(o);
    case 'uint8': case 'bool': return (o) => dv.getUint8(o);
  }
}

/** IEEE 754 half → number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * The tensors of a checkpoint as a flat state dict. Accepts a state dict itself, or a dict holding
 * one under "state_dict"/"model"; nested dicts are flattened with "." (non-tensor values dropped).
 */
export function toStateDict(ck: TorchCheckpoint, file = '<checkpoint>'): StateDict {
  let root = ck.root;
  if (root instanceof Map) {
    for (const k of ['state_dict', 'model']) {
      const inner = root.get(k);
      if (inner instanceof Map && ![...root.values()].some((v) => v instanceof TorchTensor)) { root = inner; break; }
    }
  }
  if (!(root instanceof Map)) throw new HarmoniaError('checkpoint does not hold a state dict (a dict of tensors)', { file });
  const out: StateDict = new Map();
  const walk = (d: PyDict, prefix: string): void => {
    for (const [k, v] of d) {
      const name = prefix + String(k);
      if (v instanceof TorchTensor) out.set(name, v);
      else if (v instanceof Map) walk(v, `${name}.`);
    }
  };
  walk(root, '');
  if (out.size === 0) throw new HarmoniaError('checkpoint holds no tensors', { file });
  return out;
}

/** Reads a checkpoint file and returns its tensors as a state dict. */
export async function loadStateDict(path: string): Promise<StateDict> {
  return toStateDict(await readTorchCheckpoint(path), path);
}

/** One tensor of a state dict with its expected shape, as a Float32Array; errors name the key. */
export function getTensor(sd: StateDict, key: string, shape: readonly number[] | null, file = '<checkpoint>'): { shape: number[]; data: Float32Array } {
  const t = sd.get(key);
  if (!t) throw new HarmoniaError(`tensor "${key}" is missing (wrong file for this network?)`, { file });
  if (shape && (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i]))) {
    throw new HarmoniaError(`tensor "${key}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, { file });
  }
  return { shape: [...t.shape], data: tensorData(t, file) };
}
