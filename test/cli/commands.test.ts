/**
 * The CLI's command list (src/cli/commands/index.ts) loads each command's module only when it runs:
 * every entry must load a command of the same name and summary, and `harmonia --help` must not load
 * any command module nor the heavy packages behind them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandList } from '../../src/cli/commands/index.ts';
import { cliModulesLoaded } from '../helpers.ts';

test('every command-list entry loads its command, with the same name and summary', async () => {
  const names = new Set<string>();
  for (const entry of commandList) {
    assert.ok(!names.has(entry.name), `duplicate command ${entry.name}`);
    names.add(entry.name);
    const cmd = await entry.load();
    assert.equal(cmd.name, entry.name);
    assert.equal(cmd.summary, entry.summary, `summary of ${entry.name} in src/cli/commands/index.ts differs from the command's own`);
  }
});

test('harmonia --help loads no command module and none of TensorFlow.js, sharp, ONNX Runtime, fastify, BullMQ', { timeout: 60_000 }, () => {
  const { code, seen, status, stderr } = cliModulesLoaded(['--help'], { quiet: true });
  assert.equal(status, 0, stderr);
  assert.equal(code, 0);
  const bad = seen.filter((u) => /\/src\/cli\/commands\/(?!index\.ts)|@tensorflow|\/sharp\/|onnxruntime|fastify|bullmq|ioredis/.test(u));
  assert.deepEqual(bad, [], `harmonia --help loaded:\n  ${bad.join('\n  ')}`);
  assert.ok(seen.some((u) => u.endsWith('/src/cli/commands/index.ts')), 'the hook saw the command list');
});
