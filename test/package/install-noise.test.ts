/**
 * Install noise: `npm ci` of the repo's package.json + lockfile (offline, from npm's cache, into a temporary
 * folder) and `npm start` in the repo print no npm warning: no project config key npm does not know (the
 * old `.npmrc` line `onnxruntime-node-install=skip` made npm say "Unknown project config" on every run), no
 * EBADENGINE (cookie@2 wants Node ≥ 22; light-my-request is pinned to 6.6.0 through `overrides`), no
 * install scripts left unreviewed (`allowScripts`). Skips with a message when npm's cache cannot serve the
 * install offline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDirFactory } from '../helpers.ts';

const root = new URL('../..', import.meta.url).pathname;
const tempDir = tempDirFactory();
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function warnings(text: string): string[] {
  return text.split('\n').filter((l) => /^npm warn|EBADENGINE|Unknown (project|user|env) config/i.test(l));
}

test('npm ci (offline, the repo lockfile) prints no npm warning', { timeout: 600_000 }, (t) => {
  const dir = tempDir('harmonia-npm-ci-');
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(root, f), join(dir, f));
  mkdirSync(join(dir, 'native'));
  for (const f of ['build.mjs', 'harmonia_native.cc']) copyFileSync(join(root, 'native', f), join(dir, 'native', f));
  const r = spawnSync(npm, ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', timeout: 600_000, env: { ...process.env, HARMONIA_SKIP_NATIVE: '1' } });
  if (r.status !== 0 && /ENOTCACHED|cache mode is 'only-if-cached'/.test(`${r.stdout}${r.stderr}`)) return t.skip('skipped: npm\'s cache cannot serve the lockfile offline (run npm ci in the repo once)');
  assert.equal(r.status, 0, `npm ci failed:\n${r.stdout}\n${r.stderr}`);
  t.diagnostic(`npm ci: ${r.stdout.trim().split('\n').pop()}`);
  assert.deepEqual(warnings(`${r.stdout}\n${r.stderr}`), [], 'npm ci printed warnings');
  // the engines field matches what was installed: no package wants a newer Node than package.json promises
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } }> };
  const strict = Object.entries(lock.packages).filter(([, p]) => /^>=\s*(2[1-9]|[3-9]\d)/.test(p.engines?.node ?? '')).map(([n, p]) => `${n} (${p.engines?.node})`);
  assert.deepEqual(strict, [], 'packages in the lockfile that need Node > 20');
});

test('npm start (and any npm run) in the repo prints no npm warning', { timeout: 120_000 }, () => {
  // `npm start -- --help`: npm reads the project's config exactly as for `npm start`, the demo only prints its help
  const r = spawnSync(npm, ['start', '--', '--help'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `npm start -- --help failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /harmonia demo/);
  assert.deepEqual(warnings(`${r.stdout}\n${r.stderr}`), [], 'npm start printed warnings');
});
