/**
 * The CLI's command list (src/cli/commands/index.ts) loads each command's module only when it runs:
 * every entry must load a command of the same name and summary, and `harmonia --help` must not load
 * any command module nor the heavy packages behind them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { commandList } from '../../src/cli/commands/index.ts';

const root = new URL('../..', import.meta.url).pathname;

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
  // list the modules loaded, through a loader hook in the same process as the CLI's main()
  const script = `
    import { register } from 'node:module';
    const seen = [];
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (u) => seen.push(u));
    port1.unref();
    register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d) { p = d.port; } export async function resolve(s, c, n) { const r = await n(s, c); p.postMessage(r.url); return r; }'), { data: { port: port2 }, transferList: [port2] });
    const { main } = await import(${JSON.stringify(join(root, 'src/cli/main.ts'))});
    const log = console.log; console.log = () => {};
    const code = await main(['--help']);
    console.log = log;
    await new Promise((r) => setTimeout(r, 50));
    console.log(JSON.stringify({ code, seen }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { code, seen } = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { code: number; seen: string[] };
  assert.equal(code, 0);
  const bad = seen.filter((u) => /\/src\/cli\/commands\/(?!index\.ts)|@tensorflow|\/sharp\/|onnxruntime|fastify|bullmq|ioredis/.test(u));
  assert.deepEqual(bad, [], `harmonia --help loaded:\n  ${bad.join('\n  ')}`);
  assert.ok(seen.some((u) => u.endsWith('/src/cli/commands/index.ts')), 'the hook saw the command list');
});
