/**
 * A minimal ZIP reader for PyTorch's zip checkpoints (torch.save since 1.6): central directory,
 * zip64 records, stored entries (what torch writes) and deflated ones (node:zlib inflateRaw).
 */
import { inflateRawSync } from 'node:zlib';
import { HarmoniaError } from '../../errors.ts';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOC = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

/** True when the bytes start like a ZIP file ("PK\x03\x04"). */
export function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

export class ZipArchive {
  readonly entries: Map<string, ZipEntry>;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array, private readonly file?: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.entries = this.readCentralDirectory();
  }

  private fail(msg: string): never {
    throw new HarmoniaError(`zip: ${msg}`, { file: this.file });
  }

  private u16(o: number): number { return this.view.getUint16(o, true); }
  private u32(o: number): number { return this.view.getUint32(o, true); }
  private u64(o: number): number {
    const v = this.view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('64-bit size too large');
    return Number(v);
  }

  private readCentralDirectory(): Map<string, ZipEntry> {
    const buf = this.buf;
    if (buf.length < 22) this.fail('file too short to be a zip archive');
    let eocd = -1;
    for (let o = buf.length - 22; o >= Math.max(0, buf.length - 22 - 65535); o--) {
      if (this.u32(o) === SIG_EOCD) { eocd = o; break; }
    }
    if (eocd < 0) this.fail('end of central directory not found (truncated download?)');
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.u32(loc) !== SIG_EOCD64_LOC) this.fail('zip64 locator missing');
      const rec = this.u64(loc + 8);
      if (rec + 56 > buf.length || this.u32(rec) !== SIG_EOCD64) this.fail('zip64 end record missing');
      count = this.u64(rec + 32);
      cdSize = this.u64(rec + 40);
      cdOffset = this.u64(rec + 48);
    }
    if (cdOffset + cdSize > buf.length) this.fail('central directory lies past the end of the file (truncated?)');
    const entries = new Map<string, ZipEntry>();
    let o = cdOffset;
    for (let i = 0; i < count; i++) {
      if (o + 46 > buf.length || this.u32(o) !== SIG_CENTRAL) this.fail(`central directory entry ${i} is corrupt`);
      const method = this.u16(o + 10);
      let compressedSize = this.u32(o + 20);
      let size = this.u32(o + 24);
      const nameLen = this.u16(o + 28);
      const extraLen = this.u16(o + 30);
      const commentLen = this.u16(o + 32);
      let localHeaderOffset = this.u32(o + 42);
      const name = new TextDecoder().decode(buf.subarray(o + 46, o + 46 + nameLen));
      // zip64 extra field (id 1): the 0xffffffff fields, in the order size, compressed, offset
      let e = o + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = this.u16(e);
        const len = this.u16(e + 2);
        if (id === 1) {
          let p = e + 4;
          if (size === 0xffffffff) { size = this.u64(p); p += 8; }
          if (compressedSize === 0xffffffff) { compressedSize = this.u64(p); p += 8; }
          if (localHeaderOffset === 0xffffffff) { localHeaderOffset = this.u64(p); p += 8; }
        }
        e += 4 + len;
      }
      entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      o += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  }

  /** Names of all entries, in directory order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The bytes of one entry (a view into the archive for stored entries, a copy when deflated). */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) this.fail(`entry "${name}" not found`);
    const o = e.localHeaderOffset;
    if (o + 30 > this.buf.length || this.u32(o) !== SIG_LOCAL) this.fail(`local header of "${name}" is corrupt`);
    const start = o + 30 + this.u16(o + 26) + this.u16(o + 28);
    const end = start + e.compressedSize;
    if (end > this.buf.length) this.fail(`entry "${name}" runs past the end of the file (truncated?)`);
    const raw = this.buf.subarray(start, end);
    if (e.method === 0) return raw;
    if (e.method === 8) {
      const out = inflateRawSync(raw);
      if (out.length !== e.size) this.fail(`entry "${name}" inflated to ${out.length} bytes, expected ${e.size}`);
      return out;
    }
    return this.fail(`entry "${name}" uses compression method ${e.method} (only stored and deflate are supported)`);
  }
}
