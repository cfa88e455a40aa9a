/**
 * `npm run bench`: every benchmark in turn, each in its own process (so one's memory and thread
 * pools never skew the next). Results go to docs/BENCHMARKS.md / docs/PERFORMANCE.md as each
 * benchmark documents; this runner prints a one-line status per benchmark.
 *
 *   npm run bench                 # all
 *   npm run bench -- engine intrinsic   # some
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES: { name: string; file: string; args: string[]; what: string }[] = [
  { name: 'engine', file: 'engine.ts', args: [], what: 'GAN training step, tfjs vs PyTorch (batch 4, 128² and 256²)' },
  { name: 'kernels', file: 'kernels.ts', args: [], what: 'registered wasm kernels vs stock' },
  { name: 'native', file: 'native.ts', args: [], what: 'native (oneDNN) kernels vs wasm vs PyTorch' },
  { name: 'inference', file: 'inference.ts', args: [], what: 'G inference 256²/1024²: tfjs, ONNX Runtime, PyTorch; full harmonize 1024²' },
  { name: 'intrinsic', file: 'intrinsic.ts', args: ['speed'], what: 'intrinsic stage at 1024²' },
  { name: 'large', file: 'large-input.ts', args: [], what: 'peak memory of harmonize on large inputs' },
  { name: 'browser', file: 'browser.ts', args: [], what: 'harmonize in headless Chromium at 512² and 1024²' },
];

const want = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = want.filter((w) => !BENCHES.some((b) => b.name === w));
if (unknown.length) {
  console.error(`bench: unknown benchmark(s) ${unknown.join(', ')}; choose from ${BENCHES.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const chosen = want.length ? BENCHES.filter((b) => want.includes(b.name)) : BENCHES;
let failed = 0;
for (const b of chosen) {
  console.log(`\n=== bench ${b.name}: ${b.what}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(b.file, import.meta.url)), ...b.args], { stdio: 'inherit' });
  const s = ((Date.now() - t0) / 1000).toFixed(0);
  if (r.status !== 0) failed++;
  console.log(`=== bench ${b.name}: ${r.status === 0 ? 'done' : `FAILED (exit ${r.status})`} in ${s} s`);
}
process.exit(failed ? 1 : 0);
