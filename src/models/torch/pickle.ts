/**
 * A minimal Python pickle virtual machine (protocols 0–5, binary opcodes plus the few text ones
 * old files use), enough for PyTorch checkpoints. It never executes code: GLOBAL/STACK_GLOBAL
 * resolve through a caller-supplied table of known callables; anything else becomes an inert
 * `PyObject` record (so harmless metadata in a file does not stop loading), and BINPERSID /
 * PERSID hand persistent ids to the caller (torch uses them for tensor storages).
 */
import { HarmoniaError } from '../../errors.ts';

/** A pickled Python value. Tuples and lists are JS arrays; dicts are Maps keyed by primitives. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyDict
  | PyGlobal
  | PyObject
  | object;

export type PyKey = string | number | bigint | boolean | null;
export type PyDict = Map<PyKey, PyValue>;

/** A class or function named by GLOBAL that the resolver did not turn into a callable. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object built from an unknown global (REDUCE / NEWOBJ / BUILD recorded, nothing executed). */
export class PyObject {
  state: PyValue = null;
  readonly items: PyValue[] = [];
  readonly dict: PyDict = new Map();
  constructor(readonly cls: PyGlobal, readonly args: PyValue[]) {}
}

/** A known global that REDUCE may call with its argument tuple. */
export class PyCallable {
  constructor(readonly qualified: string, readonly call: (args: PyValue[]) => PyValue) {}
}

export interface UnpickleOptions {
  /** Maps `module.name` to a callable (or any value) for GLOBAL; return undefined for "unknown". */
  resolveGlobal?: (module: string, name: string) => PyValue | undefined;
  /** Receives each persistent id (BINPERSID/PERSID) and returns the object it stands for. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** Names the source in error messages. */
  file?: string;
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

/** Unpickles one pickle starting at `offset`; returns the value and the offset just after STOP. */
export function unpickle(buf: Uint8Array, offset = 0, opts: UnpickleOptions = {}): { value: PyValue; end: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PyValue>();
  let pos = offset;
  const fail = (msg: string): never => {
    throw new HarmoniaError(`pickle: ${msg} (at byte ${pos})`, { file: opts.file });
  };
  const need = (n: number): void => {
    if (pos + n > buf.length) fail(`truncated: needs ${n} more bytes`);
  };
  const u8 = (): number => { need(1); return buf[pos++]; };
  const u16 = (): number => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = (): number => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const bytes = (n: number): Uint8Array => { need(n); const b = buf.subarray(pos, pos + n); pos += n; return b; };
  const utf8 = (n: number): string => new TextDecoder('utf-8').decode(bytes(n));
  const latin1 = (n: number): string => { const b = bytes(n); let s = ''; for (const c of b) s += String.fromCharCode(c); return s; };
  const line = (): string => {
    const start = pos;
    while (pos < buf.length && buf[pos] !== 0x0a) pos++;
    if (pos >= buf.length) fail('unterminated text argument');
    const s = latin1Range(buf, start, pos);
    pos++;
    return s;
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop()!;
    if (v === MARK) fail('unexpected MARK on the stack');
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail('stack underflow');
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const items: PyValue[] = [];
    for (;;) {
      if (stack.length === 0) fail('MARK not found');
      const v = stack.pop()!;
      if (v === MARK) break;
      items.push(v as PyValue);
    }
    return items.reverse();
  };
  const global = (module: string, name: string): PyValue => {
    const r = opts.resolveGlobal?.(module, name);
    return r === undefined ? new PyGlobal(module, name) : r;
  };
  const setItem = (target: PyValue, k: PyValue, v: PyValue): void => {
    if (target instanceof Map) target.set(toKey(k, fail), v);
    else if (target instanceof PyObject) target.dict.set(toKey(k, fail), v);
    else fail('SETITEM on something that is not a dict');
  };
  const append = (target: PyValue, v: PyValue): void => {
    if (Array.isArray(target)) target.push(v);
    else if (target instanceof PyObject) target.items.push(v);
    else fail('APPEND on something that is not a list');
  };
  const call = (fn: PyValue, args: PyValue): PyValue => {
    const a = Array.isArray(args) ? args : fail('REDUCE arguments are not a tuple');
    if (fn instanceof PyCallable) return fn.call(a);
    if (fn instanceof PyGlobal) return new PyObject(fn, a);
    return fail('REDUCE on something that is not callable');
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: pos += 8; break; // FRAME (length ignored: we read everything in memory)
      case 0x2e: return { value: pop(), end: pos }; // STOP '.'
      case 0x28: stack.push(MARK); break; // MARK '('
      case 0x30: pop(); break; // POP '0'
      case 0x31: popMark(); break; // POP_MARK '1'
      case 0x32: stack.push(top()); break; // DUP '2'
      case 0x4e: stack.push(null); break; // NONE 'N'
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT 'J'
      case 0x4b: stack.push(u8()); break; // BININT1 'K'
      case 0x4d: stack.push(u16()); break; // BININT2 'M'
      case 0x8a: stack.push(readLong(bytes(u8()))); break; // LONG1
      case 0x8b: stack.push(readLong(bytes(i32()))); break; // LONG4
      case 0x49: { // INT 'I' (text; "01"/"00" are True/False)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : parseIntText(s, fail));
        break;
      }
      case 0x4c: stack.push(parseIntText(line().replace(/L$/, ''), fail)); break; // LONG 'L'
      case 0x46: stack.push(Number.parseFloat(line())); break; // FLOAT 'F'
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT 'G' (big-endian)
      case 0x58: stack.push(utf8(u32())); break; // BINUNICODE 'X'
      case 0x8c: stack.push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x8d: { const n = Number(view.getBigUint64(pos, true)); pos += 8; stack.push(utf8(n)); break; } // BINUNICODE8
      case 0x54: stack.push(latin1(i32())); break; // BINSTRING 'T'
      case 0x55: stack.push(latin1(u8())); break; // SHORT_BINSTRING 'U'
      case 0x42: stack.push(bytes(u32())); break; // BINBYTES 'B'
      case 0x43: stack.push(bytes(u8())); break; // SHORT_BINBYTES 'C'
      case 0x8e: { const n = Number(view.getBigUint64(pos, true)); pos += 8; stack.push(bytes(n)); break; } // BINBYTES8
      case 0x96: { const n = Number(view.getBigUint64(pos, true)); pos += 8; stack.push(bytes(n)); break; } // BYTEARRAY8
      case 0x53: stack.push(unquote(line())); break; // STRING 'S'
      case 0x56: stack.push(line()); break; // UNICODE 'V' (raw-unicode-escape; ASCII in practice)
      case 0x29: stack.push([]); break; // EMPTY_TUPLE ')'
      case 0x74: stack.push(popMark()); break; // TUPLE 't'
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST ']'
      case 0x6c: stack.push(popMark()); break; // LIST 'l'
      case 0x61: { const v = pop(); append(top(), v); break; } // APPEND 'a'
      case 0x65: { const items = popMark(); const t = top(); for (const v of items) append(t, v); break; } // APPENDS 'e'
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT '}'
      case 0x64: { // DICT 'd'
        const items = popMark();
        const d: PyDict = new Map();
        for (let i = 0; i + 1 < items.length; i += 2) d.set(toKey(items[i], fail), items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); setItem(top(), k, v); break; } // SETITEM 's'
      case 0x75: { // SETITEMS 'u'
        const items = popMark();
        const t = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(t, items[i], items[i + 1]);
        break;
      }
      case 0x8f: stack.push(new Set<PyValue>()); break; // EMPTY_SET
      case 0x90: { const items = popMark(); const s = top(); if (s instanceof Set) for (const v of items) s.add(v); break; } // ADDITEMS
      case 0x91: stack.push(new Set<PyValue>(popMark())); break; // FROZENSET
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // GLOBAL 'c'
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE 'R'
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x92: { pop(); const args = pop(); const cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ_EX
      case 0x62: { // BUILD 'b'
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        // dicts (OrderedDict with _metadata) and known objects ignore their attribute state
        break;
      }
      case 0x51: { const pid = pop(); stack.push(persistent(pid)); break; } // BINPERSID 'Q'
      case 0x50: stack.push(persistent(line())); break; // PERSID 'P'
      case 0x71: memo.set(u8(), top()); break; // BINPUT 'q'
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT 'r'
      case 0x70: memo.set(parseIntText(line(), fail), top()); break; // PUT 'p'
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memoGet(u8())); break; // BINGET 'h'
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET 'j'
      case 0x67: stack.push(memoGet(parseIntText(line(), fail))); break; // GET 'g'
      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }

  function memoGet(i: number): PyValue {
    if (!memo.has(i)) fail(`memo key ${i} not found`);
    return memo.get(i) as PyValue;
  }
  function persistent(pid: PyValue): PyValue {
    if (!opts.persistentLoad) return fail('persistent id found but no persistentLoad was given');
    return opts.persistentLoad(pid);
  }
}

function latin1Range(buf: Uint8Array, a: number, b: number): string {
  let s = '';
  for (let i = a; i < b; i++) s += String.fromCharCode(buf[i]);
  return s;
}

/** Little-endian two's-complement integer of any length; a number when it is a safe integer. */
export function readLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIntText(s: string, fail: (m: string) => never): number {
  const v = Number.parseInt(s, 10);
  if (!Number.isFinite(v)) fail(`bad integer "${s}"`);
  return v;
}

function unquote(s: string): string {
  const q = s[0];
  return (q === "'" || q === '"') && s.endsWith(q) ? s.slice(1, -1) : s;
}

function toKey(k: PyValue, fail: (m: string) => never): PyKey {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
  if (Array.isArray(k)) return JSON.stringify(k, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
  return fail('unsupported dict key type');
}
