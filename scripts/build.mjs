#!/usr/bin/env node
// The package build: removes the previous output in dist/ (except dist/web, the browser app's build)
// and compiles src/ to ESM JavaScript + .d.ts with tsconfig.build.json.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
if (existsSync(dist)) for (const name of readdirSync(dist)) if (name !== 'web') rmSync(join(dist, name), { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const start = Date.now();
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build: tsc failed');
  process.exit(r.status ?? 1);
}
console.log(`build: dist/ written in ${((Date.now() - start) / 1000).toFixed(1)} s`);
