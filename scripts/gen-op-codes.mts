// Writes native/op_codes.h from src/engine/native/op-codes.ts (the one source of the native op codes).
// Usage: node --import tsx scripts/gen-op-codes.mts [--check]   (--check: exit 1 when the file is out of date)
import { readFileSync, writeFileSync } from 'node:fs';
import { opCodesHeader } from '../src/engine/native/op-codes.ts';

const path = new URL('../native/op_codes.h', import.meta.url);
const text = opCodesHeader();
let current = '';
try {
  current = readFileSync(path, 'utf8');
} catch {
  current = '';
}
if (process.argv.includes('--check')) {
  if (current !== text) {
    console.error('native/op_codes.h is out of date: run node --import tsx scripts/gen-op-codes.mts');
    process.exit(1);
  }
} else if (current !== text) {
  writeFileSync(path, text);
  console.log('wrote native/op_codes.h');
}
