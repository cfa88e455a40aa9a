/**
 * `npm run bench`: by default the side-by-side ratio table (bench/native.ts, native-2t vs pt2: the
 * trainer's GAN step 256² b4, the global G step (256² b4 and the recipe's 64² b16), the VGG-19
 * feature loss fwd+bwd 256², G inference 1024²; 3 alternating rounds × 2 reps, a few minutes on 2
 * cores). It prints the table with its header (date, CPU and SIMD flags, load, versions, PyTorch's
 * BLAS) and exits non-zero (3) when the run was contaminated: load average above 1.5 at start, a
 * workload/configuration whose round medians spread more than 30 % (max/min − 1), or PyTorch on
 * the reference BLAS; each reason is printed as "contaminated: …".
 *
 * Every other benchmark runs by name, each in its own process (so one's memory and thread pools
 * never skew the next):
 *
 *   npm run bench                               # the ratio table (with the contamination check)
 *   npm run bench -- inference                  # one benchmark
 *   npm run bench -- engine intrinsic           # some
 *   npm run bench -- all                        # every one
 *   npm run bench -- --json out.json            # options other than names go to the chosen benchmark(s)
 *   npm run bench -- ratio --rounds 5 --json out.json
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Bench { name: string; file: string; args: string[]; what: string; needs?: string }

const BENCHES: Bench[] = [
  {
    name: 'ratio', file: 'native.ts',
    args: ['--configs', 'native-2t,pt2b1', '--sizes', '256', '--global', '256x4,64x16', '--vgg', '256', '--infer', '1024', '--rounds', '3', '--reps', '2', '--check'],
    what: 'side-by-side ratio table, native-2t vs PyTorch on 2 threads (pt2b1: OpenBLAS on 1 thread, its faster setting here), with the contamination check',
  },
  { name: 'engine', file: 'engine.ts', args: [], what: 'GAN training step, tfjs vs PyTorch (batch 4, 128² and 256²)' },
  { name: 'kernels', file: 'kernels.ts', args: [], what: 'registered wasm kernels vs stock' },
  { name: 'native', file: 'native.ts', args: [], what: 'native (oneDNN) kernels vs wasm vs PyTorch, every configuration' },
  { name: 'inference', file: 'inference.ts', args: [], what: 'G inference 256²/1024²: tfjs, ONNX Runtime, PyTorch; full harmonize 1024²' },
  { name: 'intrinsic', file: 'intrinsic.ts', args: ['speed'], what: 'intrinsic stage at 1024²' },
  { name: 'large', file: 'large-input.ts', args: [], what: 'peak memory of harmonize on large inputs' },
  { name: 'browser', file: 'browser.ts', args: [], what: 'harmonize in headless Chromium at 512² and 1024²' },
  { name: 'service', file: 'service.ts', args: [], what: 'harmonia serve: requests/s and p50/p95/p99 latency, 8 clients on 256² and 2 on 12 MP; the harmonia worker queue on BullMQ' },
];

/** Splits the command line into benchmark names and the options passed on to them. */
function parseBenchArgs(argv: readonly string[]): { names: string[]; forward: string[]; unknown: string[] } {
  const names: string[] = [], forward: string[] = [], unknown: string[] = [];
  const isName = (a: string) => a === 'all' || BENCHES.some((b) => b.name === a);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (isName(a)) names.push(a);
    else if (a.startsWith('-')) forward.push(a);
    else if (i > 0 && argv[i - 1].startsWith('-') && !argv[i - 1].includes('=') && !isName(argv[i - 1])) forward.push(a); // an option's value
    else unknown.push(a);
  }
  return { names, forward, unknown };
}

function main(): void {
  const { names, forward, unknown } = parseBenchArgs(process.argv.slice(2));
  if (unknown.length) {
    console.error(`bench: unknown benchmark(s) ${unknown.join(', ')}; choose from ${BENCHES.map((b) => b.name).join(', ')} or all`);
    process.exit(2);
  }
  const chosen = names.includes('all') ? BENCHES : names.length ? BENCHES.filter((b) => names.includes(b.name)) : BENCHES.filter((b) => b.name === 'ratio');
  let failed = 0, lastStatus = 0;
  for (const b of chosen) {
    console.log(`\n=== bench ${b.name}: ${b.what}`);
    if (b.needs && !forward.some((a) => a === b.needs || a.startsWith(`${b.needs}=`))) {
      console.log(`=== bench ${b.name}: skipped (needs ${b.needs})`);
      continue;
    }
    const t0 = Date.now();
    // later options win in node:util parseArgs, so the forwarded ones override the defaults above
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(b.file, import.meta.url)), ...b.args, ...forward], { stdio: 'inherit' });
    const s = ((Date.now() - t0) / 1000).toFixed(0);
    if (r.status !== 0) {
      failed++;
      lastStatus = r.status ?? 1;
    }
    const why = r.status === 3 && b.name === 'ratio' ? 'CONTAMINATED (exit 3; reasons above)' : `FAILED (exit ${r.status})`;
    console.log(`=== bench ${b.name}: ${r.status === 0 ? 'done' : why} in ${s} s`);
  }
  // one benchmark: its own status (3 = a contaminated ratio run); several: 1 if any failed
  process.exit(failed === 0 ? 0 : chosen.length === 1 ? lastStatus : 1);
}

main();
