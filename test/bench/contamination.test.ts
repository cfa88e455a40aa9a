/** The contamination check of the side-by-side benchmark (bench/quality.ts, used by `npm run bench`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkContamination, classifyBlas, roundSpread } from '../../bench/quality.ts';

const series = (spread: number) => [
  { workload: 'GAN step 256² b4', config: 'native-2t', roundMedians: [0.5, 0.5, 0.5] },
  { workload: 'GAN step 256² b4', config: 'pt2', roundMedians: [0.4, 0.4 * (1 + spread), 0.41] },
];

test('a load of 1.6 at start is contaminated, and says so', () => {
  const v = checkContamination({ loadStart: 1.6, series: series(0.1) });
  assert.equal(v.contaminated, true);
  assert.deepEqual(v.reasons, ['contaminated: load 1.60 > 1.5 at start']);
});

test('a 31 % spread of the round medians is contaminated, naming the workload and config', () => {
  const v = checkContamination({ loadStart: 1.0, series: series(0.31) });
  assert.equal(v.contaminated, true);
  assert.equal(v.reasons.length, 1);
  assert.match(v.reasons[0], /^contaminated: GAN step 256² b4 pt2 rounds spread 31 % > 30 %/);
});

test('load 1.0 and a 10 % spread pass', () => {
  const v = checkContamination({ loadStart: 1.0, series: series(0.1) });
  assert.equal(v.contaminated, false);
  assert.deepEqual(v.reasons, []);
  assert.ok(Math.abs(v.spreads[1].spread - 0.1) < 1e-9);
});

test('spread is max/min − 1 over the round medians', () => {
  assert.ok(Math.abs(roundSpread([1, 1.3, 1.1]) - 0.3) < 1e-12);
  assert.equal(roundSpread([2]), 0);
});

test('the reference BLAS in PyTorch is contamination; OpenBLAS is not', () => {
  const ref = ['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'];
  const open = ['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so'];
  assert.equal(classifyBlas(ref), 'reference');
  assert.equal(classifyBlas(open), 'openblas');
  assert.equal(classifyBlas(['/opt/intel/lib/libmkl_rt.so.2']), 'mkl');
  // both mapped (reference libblas.so.3 first, OpenBLAS pulled in by liblapack): the sgemm_ provider decides, else reference
  const mixed = ['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0', ...open.slice(1)];
  assert.equal(classifyBlas(mixed), 'reference');
  assert.equal(classifyBlas(mixed, '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0'), 'reference');
  assert.equal(classifyBlas(mixed, open[0]), 'openblas');
  const bad = checkContamination({ loadStart: 0.2, series: series(0), blas: { pt2: { kind: classifyBlas(ref), paths: ref } } });
  assert.equal(bad.contaminated, true);
  assert.match(bad.reasons[0], /^contaminated: pt2 runs on the reference BLAS \(\/usr\/lib\/x86_64-linux-gnu\/blas\/libblas\.so\.3\)/);
  assert.equal(checkContamination({ loadStart: 0.2, series: series(0), blas: { pt2: { kind: 'openblas' } } }).contaminated, false);
});
