/**
 * Acceptance: SIGKILL mid-epoch, then --resume, gives bit-identical final weights to an
 * uninterrupted run with the same seed (same backend). The CLI runs as a child process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { writeProceduralDataset } from '../../src/data/procedural.ts';
import { JsonlLog, stepRecords } from '../../src/train/log.ts';

const repo = resolve(new URL('../..', import.meta.url).pathname);
const cli = join(repo, 'bin', 'harmonia.mjs');
const root = mkdtempSync(join(tmpdir(), 'harmonia-resume-'));
const data = join(root, 'data');
await writeProceduralDataset(data, { count: 16, seed: 9, width: 64, height: 64, testFraction: 0.25 });
const EPOCHS = 8; // 12 train images / batch 4 = 3 steps per epoch → 24 steps
const args = (out: string) => ['train', '--config', 'smoke', '--data', data, '--out', out, '--setting', 'mask', '--epochs', String(EPOCHS),
  '--checkpoint-every', '2', '--backend', 'wasm', '--quiet', '--cache', join(root, 'cache')];

function readState(out: string): { step: number; epoch: number; batch: number; savedAt: string } | undefined {
  try { return JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')); } catch { return undefined; }
}

test('kill -9 mid-epoch and --resume give bit-identical weights to an uninterrupted run', async () => {
  const full = join(root, 'full'), killed = join(root, 'killed');
  const a = spawnSync(process.execPath, [cli, ...args(full)], { encoding: 'utf8' });
  assert.equal(a.status, 0, a.stderr);

  // start, wait for a mid-epoch checkpoint (batch ≠ 0), SIGKILL
  const child = spawn(process.execPath, [cli, ...args(killed)], { stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  let at: { step: number; epoch: number; batch: number; savedAt: string } | undefined;
  for (let i = 0; i < 6000 && child.exitCode === null; i++) {
    const s = readState(killed);
    if (s && s.batch !== 0) { at = s; child.kill('SIGKILL'); break; }
    await new Promise((r) => setTimeout(r, 10));
  }
  await exited;
  assert.ok(at, 'a mid-epoch checkpoint appeared before the run finished');
  const left = readState(killed)!;
  assert.ok(left.step < EPOCHS * 3, `killed before the end (checkpoint at step ${left.step})`);
  // generator/ is written at every epoch end: a killed run's is partial, never the final model
  assert.ok(!existsSync(join(killed, 'generator')) || /^partial model: end of epoch/.test(JSON.parse(readFileSync(join(killed, 'generator', 'harmonia.json'), 'utf8')).card.notes[0]), 'the killed run never finished');

  // without --resume the CLI refuses to clobber the run
  const refuse = spawnSync(process.execPath, [cli, ...args(killed)], { encoding: 'utf8' });
  assert.equal(refuse.status, 2);
  assert.match(refuse.stderr, /already has a checkpoint: pass --resume/);

  const b = spawnSync(process.execPath, [cli, ...args(killed), '--resume'], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);

  for (const f of ['generator/weights.bin', 'checkpoint/discriminator/weights.bin', 'checkpoint/optimizer.bin']) {
    assert.ok(readFileSync(join(full, f)).equals(readFileSync(join(killed, f))), `${f} is bit-identical`);
  }
  assert.deepEqual(readState(killed), { ...readState(full)!, savedAt: readState(killed)!.savedAt });
  const la = stepRecords(new JsonlLog(join(full, 'log.jsonl')).read()), lb = stepRecords(new JsonlLog(join(killed, 'log.jsonl')).read());
  assert.deepEqual(lb.map((s) => s.step), la.map((s) => s.step), 'each step logged once after the resume');
  assert.deepEqual(lb.map((s) => s.losses), la.map((s) => s.losses));
});
