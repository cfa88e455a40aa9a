import { tempDirFactory } from '../helpers.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { loadStateDict, tensorData, readTorchCheckpoint, parseTorchCheckpoint, halfToFloat, readZipEntries } from '../../src/models/torch/checkpoint.ts';
import { unpickle, readLong } from '../../src/models/torch/pickle.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { needsTorch, runPython } from './python.ts';

/** A fresh temp folder, removed when the file's tests end. */
const tempDir = tempDirFactory();

type Expected = Record<string, { shape: number[]; values: number[] }>;

test('pickle VM: protocol-2 opcodes for ints, strings, tuples, dicts, memo', () => {
  // pickle.dumps({'a': (1, -2, 300, 70000), 'b': [True, None, 'x'], 'c': 2**70}, protocol=2)
  const hex = '80027d7100285801000000617101284b014afeffffff4d2c014a7011010074710258010000006271035d710428884e58010000007871056558010000006371068a09000000000000000040752e';
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  const { value, end } = unpickle(bytes);
  assert.equal(end, bytes.length);
  assert.ok(value instanceof Map);
  assert.deepEqual(value.get('a'), [1, -2, 300, 70000]);
  assert.deepEqual(value.get('b'), [true, null, 'x']);
  assert.equal(value.get('c'), 2n ** 70n);
  assert.equal(readLong(Uint8Array.of(0xff)), -1);
  assert.throws(() => unpickle(Uint8Array.of(0x80, 0x02, 0x7d)), /truncated/);
  assert.throws(() => unpickle(Uint8Array.of(0xfe)), /unsupported opcode 0xfe/);
});

test('half floats decode exactly', () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
});

test('zip reader: stored and deflated entries', () => {
  // build a two-entry zip by hand: one stored, one deflated
  const entries = [
    { name: 'a/stored.bin', data: Buffer.from('hello stored'), method: 0 },
    { name: 'a/deflated.bin', data: Buffer.from('hello deflated '.repeat(20)), method: 8 },
  ];
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.method === 8 ? deflateRawSync(e.data) : e.data;
    const name = Buffer.from(e.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(e.method, 8);
    lh.writeUInt32LE(body.length, 18); lh.writeUInt32LE(e.data.length, 22); lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(e.method, 10);
    ch.writeUInt32LE(body.length, 20); ch.writeUInt32LE(e.data.length, 24); ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    parts.push(lh, name, body);
    central.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(2, 8); eocd.writeUInt16LE(2, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(offset, 16);
  const zip = readZipEntries(Buffer.concat([...parts, cd, eocd]));
  assert.deepEqual([...zip.keys()], ['a/stored.bin', 'a/deflated.bin']);
  assert.equal(Buffer.from(zip.get('a/stored.bin')!).toString(), 'hello stored');
  assert.equal(Buffer.from(zip.get('a/deflated.bin')!).toString(), 'hello deflated '.repeat(20));
  const bad = Buffer.from('PK\x03\x04 not really a zip archive, just text');
  assert.throws(() => readZipEntries(bad, 'x.pth'), (e: Error) => e instanceof HarmoniaError && /^x\.pth: zip: not a readable zip archive/.test(e.message));
  assert.throws(() => parseTorchCheckpoint(bad, 'x.pth'), /zip: not a readable zip archive/);
  // a cut-off download: the end of central directory is gone
  assert.throws(() => parseTorchCheckpoint(Buffer.concat([...parts, cd]), 'cut.pth'), /cut\.pth: zip: not a readable zip archive/);
});

test('reads torch.save files of both formats: views, strides, offsets, dtypes, nesting', { skip: needsTorch() }, async () => {
  const dir = tempDir('harmonia-torch-');
  runPython('make_checkpoint.py', [dir]);
  const exp = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { sd: Expected; module: Expected };
  for (const [file, want, format] of [
    ['zip.pth', exp.sd, 'zip'], ['legacy.pth', exp.sd, 'legacy'],
    ['module_zip.pth', exp.module, 'zip'], ['module_legacy.pth', exp.module, 'legacy'],
  ] as const) {
    const path = join(dir, file);
    assert.equal((await readTorchCheckpoint(path)).format, format, file);
    const sd = await loadStateDict(path);
    assert.deepEqual([...sd.keys()].sort(), Object.keys(want).sort(), file);
    for (const [k, e] of Object.entries(want)) {
      const t = sd.get(k)!;
      assert.deepEqual([...t.shape], e.shape, `${file} ${k} shape`);
      const got = tensorData(t, path);
      assert.equal(got.length, e.values.length);
      for (let i = 0; i < got.length; i++) {
        const tol = Math.abs(e.values[i]) * 1e-6 + 1e-7;
        assert.ok(Math.abs(got[i] - Math.fround(e.values[i])) <= tol, `${file} ${k}[${i}]: ${got[i]} vs ${e.values[i]}`);
      }
    }
  }
  // the transposed view really is non-contiguous and shares its storage
  const sd = await loadStateDict(join(dir, 'legacy.pth'));
  assert.deepEqual([...sd.get('transposed')!.stride], [1, 5]);
  assert.equal(sd.get('sliced')!.offset, 11);
  assert.equal(sd.get('row_view')!.offset, 15);
  assert.equal(sd.get('sliced')!.storage, sd.get('shares_base')!.storage);
  // truncation is reported, naming the file
  const whole = readFileSync(join(dir, 'legacy.pth'));
  const cut = join(dir, 'cut.pth');
  writeFileSync(cut, whole.subarray(0, whole.length - 10));
  await assert.rejects(loadStateDict(cut), (e: unknown) => e instanceof HarmoniaError && /cut\.pth/.test(e.message) && /truncated/.test(e.message));
  assert.throws(() => parseTorchCheckpoint(Buffer.from('hello'), 'x.pth'), /x\.pth: not a PyTorch checkpoint/);
});
