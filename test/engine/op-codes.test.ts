/**
 * The native op codes have one source (src/engine/native/op-codes.ts): native/op_codes.h is generated
 * from it and up to date, harmonia_native.cc defines no op enum of its own, and the backend's maps are
 * the tables' registered entries (issue 27: the hand-mirrored table had drifted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OP_ENUMS, UNARY_OPS, BINARY_OPS, codesByName, opCodesHeader } from '../../src/engine/native/op-codes.ts';
import { ACTIVATIONS } from '../../src/engine/native/addon.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

test('native/op_codes.h is generated from op-codes.ts and up to date (node --import tsx scripts/gen-op-codes.mts)', () => {
  assert.equal(readFileSync(`${ROOT}native/op_codes.h`, 'utf8'), opCodesHeader());
});

test('harmonia_native.cc includes op_codes.h and defines none of its enums', () => {
  const cc = readFileSync(`${ROOT}native/harmonia_native.cc`, 'utf8');
  assert.match(cc, /#include "op_codes\.h"/);
  for (const { enumName } of OP_ENUMS) assert.doesNotMatch(cc, new RegExp(`\\benum\\s+${enumName}\\b`), `${enumName} is defined in the .cc`);
  for (const { ops } of OP_ENUMS) for (const o of ops) if (!o.reserved) assert.match(cc, new RegExp(`case ${o.cpp}\\b|[!=]= ${o.cpp}\\b`), `${o.cpp} is implemented by the addon`);
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('native/op_codes.h'), 'the package ships the header the install build includes');
});

test('the backend maps are the tables: codes are indexes, unregistered ops keep their place', () => {
  assert.deepEqual(ACTIVATIONS, { linear: 0, relu: 1, leakyrelu: 2, sigmoid: 3, elu: 4, relu6: 5 });
  assert.equal(codesByName(UNARY_OPS).Rsqrt, 13);
  assert.equal(codesByName(UNARY_OPS).Relu6, 17);
  assert.equal(codesByName(BINARY_OPS).SquaredDifference, 6);
  for (const { ops } of OP_ENUMS) assert.equal(new Set(ops.map((o) => o.cpp)).size, ops.length);
});
