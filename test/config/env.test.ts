/**
 * One place for configuration (issue 27): `process.env` appears in one module of src/ only
 * (src/config/index.ts), every variable that module reads is typed and documented in
 * docs/CONFIGURATION.md, and so is every HARMONIA_* variable named anywhere in the repository;
 * values are parsed as documented (a bad one is an error naming the variable).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ENV_VARIABLES, STAGES, BACKEND_REQUESTS, INFERENCE_ENGINES, env } from '../../src/config/index.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

function walk(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name === 'dist' || name === 'build' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, keep));
    else if (keep(name)) out.push(p);
  }
  return out;
}

const strip = (code: string): string => code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

test('process.env is read (and written) in src/config/index.ts only', () => {
  const users = walk(join(ROOT, 'src'), (n) => /\.(ts|mts)$/.test(n))
    .filter((f) => /\bprocess\s*(\.\s*env\b|\[\s*['"]env['"]\s*\])|\{\s*env\s*\}\s*=\s*process\b/.test(strip(readFileSync(f, 'utf8'))))
    .map((f) => relative(ROOT, f));
  assert.deepEqual(users, ['src/config/index.ts']);
});

test('every variable is documented in docs/CONFIGURATION.md, and every HARMONIA_* named in the repository too', () => {
  const doc = readFileSync(join(ROOT, 'docs/CONFIGURATION.md'), 'utf8');
  for (const v of ENV_VARIABLES) {
    assert.ok(doc.includes(`\`${v.name}\``), `${v.name} is not in docs/CONFIGURATION.md`);
    assert.ok(v.description.length > 10, `${v.name} has a description`);
  }
  const named = new Set<string>();
  const files = [
    ...['src', 'bin', 'scripts', 'native', 'bench', 'test', 'web'].flatMap((d) => walk(join(ROOT, d), (n) => /\.(ts|mts|js|mjs|cc|h|gyp)$/.test(n))),
    join(ROOT, 'package.json'),
  ];
  for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(/\bHARMONIA_[A-Z0-9_]*[A-Z0-9]\b/g)) named.add(m[0]);
  for (const code of ['HARMONIA_NATIVE', 'HARMONIA_NATIVE_DNNL']) named.delete(code); // error codes of the native addon, not variables
  const missing = [...named].filter((n) => !doc.includes(`\`${n}\``)).sort();
  assert.deepEqual(missing, [], `named in the repository but not documented in docs/CONFIGURATION.md: ${missing.join(', ')}`);
  assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /docs\/CONFIGURATION\.md/, 'README points to the list');
});

test('values are typed when read, and a bad one is an error naming the variable', () => {
  const script = `
    const { env } = await import(${JSON.stringify(join(ROOT, 'src/config/index.ts'))});
    const out = { inference: env.inference, ortThreads: env.ortThreads, debug: env.debug, quiet: env.quiet, nativePoolMb: env.nativePoolMb, backend: env.backend };
    let bad = '';
    try { env.nativeThreads; env.weights; } catch (e) { bad = e.message; }
    console.log(JSON.stringify(out));`;
  const run = (vars: Record<string, string>, code = script) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !ENV_VARIABLES.some((v) => v.name === k)));
    return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, env: { ...base, ...vars }, encoding: 'utf8' });
  };
  const ok = run({ HARMONIA_INFERENCE: 'ONNX', HARMONIA_ORT_THREADS: '3', HARMONIA_DEBUG: '1', HARMONIA_NATIVE_POOL_MB: '64', HARMONIA_BACKEND: 'cpu' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), { inference: 'onnx', ortThreads: 3, debug: true, quiet: false, nativePoolMb: 64, backend: 'cpu' });
  const bad = run({ HARMONIA_ORT_THREADS: '0' }, `const { env } = await import(${JSON.stringify(join(ROOT, 'src/config/index.ts'))}); try { env.ortThreads; } catch (e) { console.log(e.message); }`);
  assert.match(bad.stdout, /HARMONIA_ORT_THREADS must be an integer in 1\.\.256, got "0"/);
  const badBackend = run({ HARMONIA_BACKEND: 'gpu' }, `const { env } = await import(${JSON.stringify(join(ROOT, 'src/config/index.ts'))}); try { env.backend; } catch (e) { console.log(e.message); }`);
  assert.match(badBackend.stdout, /HARMONIA_BACKEND: backend must be auto, tensorflow, native, wasm or cpu, got "gpu"/);
});

test('settings are assignable in code, and the shared lists are the ones the checks use', async () => {
  const before = env.inference;
  env.inference = 'tfjs';
  const { inferenceMode } = await import('../../src/models/onnx.ts');
  assert.equal(inferenceMode(), 'tfjs');
  env.inference = before;
  assert.deepEqual([...STAGES], ['intrinsic', 'gan', 'full']);
  assert.deepEqual([...BACKEND_REQUESTS], ['auto', 'tensorflow', 'native', 'wasm', 'cpu']);
  assert.deepEqual([...INFERENCE_ENGINES], ['auto', 'onnx', 'tfjs']);
  const { checkHarmonizeOptions } = await import('../../src/pipeline/harmonize.ts');
  assert.throws(() => checkHarmonizeOptions({ composite: 'a.png', mask: 'm.png', stage: 'both' as 'gan' }), /stage must be intrinsic, gan or full/);
});
