/**
 * The CLI's manners (issue 26 points 7 and 8): --version, `help <command>`, did-you-mean for commands
 * and flags, usage errors in the one-line error format naming the flag as typed (never node's raw parseArgs text),
 * --quiet and --json on every command, `harmonize` with no arguments asking for the input first,
 * `-o -` / `-` (stdout / stdin) for one image, notes once on stderr (--quiet silences them), a calm
 * backend line, and no TF.js console banners.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDirFactory } from '../helpers.ts';
import { runCli } from '../run-cli.ts';
import { patternRgb, rawToPng } from '../fixtures-gen/images.ts';
import { commandList } from '../../src/cli/commands/index.ts';
import { commandOptions, didYouMean, editDistance } from '../../src/cli/usage.ts';
import { readImage } from '../../src/image/io.ts';
import { DEFAULT_MODEL_DIR, isModelDir } from '../../src/models/folder-meta.ts';

const tempDir = tempDirFactory();
const dir = tempDir('harmonia-manners-');
const BIN = fileURLToPath(new URL('../../bin/harmonia.mjs', import.meta.url));
const PKG = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const W = 32;
const H = 24;
let comp = '';
let mask = '';

before(async () => {
  const m = Buffer.alloc(W * H);
  for (let i = 0; i < m.length; i++) m[i] = i % W > 8 && i % W < 20 ? 255 : 0;
  comp = join(dir, 'comp.png');
  mask = join(dir, 'mask.png');
  writeFileSync(comp, await rawToPng(patternRgb(W, H), W, H, 3));
  writeFileSync(mask, await rawToPng(m, W, H, 1));
});

const cli = (args: string[], input?: Buffer) => spawnSync(process.execPath, [BIN, ...args], { input, timeout: 120_000, maxBuffer: 64 << 20 });

/** A usage error: exit 2, one line like every CLI error: the problem, then where the command's help is. */
function assertUsageError(r: { code: number; stderr: string[] }, command: string, problem: string | RegExp): void {
  assert.equal(r.code, 2, r.stderr.join('\n'));
  assert.equal(r.stderr.length, 1, r.stderr.join('\n'));
  assert.ok(!r.stderr[0].includes('\n'), `one line: ${r.stderr[0]}`);
  const suffix = `; see "harmonia help ${command}"`;
  assert.ok(r.stderr[0].endsWith(suffix), r.stderr[0]);
  const line = r.stderr[0].slice(0, -suffix.length);
  if (typeof problem === 'string') assert.equal(line, `harmonia ${command}: ${problem}`);
  else assert.match(line, problem);
  assert.doesNotMatch(r.stderr[0], /To specify a positional argument|Unknown option '|ERR_PARSE_ARGS/);
}

test('--version prints the package version; -V too', async () => {
  for (const f of ['--version', '-V']) {
    const r = await runCli([f]);
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout, [`harmonia ${PKG.version}`]);
  }
  const p = cli(['--version']);
  assert.equal(p.status, 0);
  assert.equal(p.stdout.toString(), `harmonia ${PKG.version}\n`);
});

test('help <command> and <command> --help show that command\'s help (with --quiet and --json); an unknown topic gets a did-you-mean', async () => {
  const a = await runCli(['help', 'harmonize']);
  const b = await runCli(['harmonize', '--help']);
  assert.equal(a.code, 0);
  assert.deepEqual(a.stdout, b.stdout);
  const text = a.stdout.join('\n');
  assert.match(text, /^usage: harmonia harmonize <composite> --mask <mask> -o <out>/);
  assert.match(text, /--mask, -m <value>/);
  assert.match(text, /--quiet\s+print only errors and warnings/);
  assert.match(text, /--json\s+print the result as one JSON document/);
  assert.doesNotMatch(text, /^  info /m, 'not the global command list');
  const g = await runCli(['help']);
  assert.equal(g.code, 0);
  assert.match(g.stdout.join('\n'), /^  harmonize\s+harmonize a composite/m);
  const u = await runCli(['help', 'harmonise']);
  assert.equal(u.code, 2);
  assert.equal(u.stderr[0], 'harmonia: unknown command "harmonise" (did you mean "harmonize"?); see "harmonia --help" for the commands');
});

test('did-you-mean for commands: harmonise → harmonize, evalute → evaluate, nothing for a far-off word', async () => {
  const r = await runCli(['harmonise', comp]);
  assert.equal(r.code, 2);
  assert.deepEqual(r.stderr, ['harmonia: unknown command "harmonise" (did you mean "harmonize"?); see "harmonia --help" for the commands']);
  assert.match((await runCli(['evalute'])).stderr[0], /did you mean "evaluate"\?/);
  assert.match((await runCli(['trian-light'])).stderr[0], /did you mean "train-light"\?/);
  assert.doesNotMatch((await runCli(['photoshop'])).stderr[0], /did you mean/);
  assert.equal(editDistance('harmonise', 'harmonize'), 1);
  assert.equal(didYouMean('max-sid', ['max-side', 'mask']), 'max-side');
  assert.equal(didYouMean('out', ['output', 'overwrite']), 'output', 'a unique prefix');
  assert.equal(didYouMean('zzz', ['output', 'overwrite']), undefined);
});

test('flag mistakes are one usage-error format naming the flag as typed, on every command', async () => {
  assertUsageError(await runCli(['harmonize', comp, '--max-sid', '3']), 'harmonize', 'unknown flag --max-sid (did you mean --max-side?)');
  assertUsageError(await runCli(['harmonize', comp, '--maks=m.png']), 'harmonize', 'unknown flag --maks (did you mean --mask?)');
  assertUsageError(await runCli(['harmonize', comp, '-Z']), 'harmonize', 'unknown flag -Z');
  assertUsageError(await runCli(['harmonize', comp, '--mask', mask, '-o']), 'harmonize', '-o needs a value');
  assertUsageError(await runCli(['harmonize', comp, '-mask', mask, '-o', 'x.png']), 'harmonize', '-mask: did you mean --mask? (one dash takes one-letter flags: -m)');
  assertUsageError(await runCli(['harmonize', comp, '--overwrite=yes']), 'harmonize', '--overwrite is a switch and takes no value (got "yes")');
  assertUsageError(await runCli(['train', '--lr', '-1']), 'train', 'train: --lr needs a value, but the next argument is "-1" (for a value that starts with "-", write --lr=-1)'.replace(/^train: /, ''));
  for (const c of commandList) {
    assertUsageError(await runCli([c.name, '--definitely-not-a-flag']), c.name, 'unknown flag --definitely-not-a-flag');
  }
  // `-` alone is a value (stdin/stdout), `--` ends the flags
  const r = await runCli(['harmonize', '--mask', mask, '-o', join(dir, 'x.png'), '--', '--not-a-flag.png']);
  assert.equal(r.code, 2);
  assert.doesNotMatch(r.stderr[0], /unknown flag/);
});

test('--quiet and --json on every command (central options; a command\'s own keeps its meaning)', async () => {
  for (const entry of commandList) {
    const cmd = await entry.load();
    const o = commandOptions(cmd);
    assert.equal(o.quiet?.type, 'boolean', `${cmd.name} --quiet`);
    assert.equal(o.json?.type, 'boolean', `${cmd.name} --json`);
  }
});

test('harmonize with no arguments asks for the input first (not for -o)', async () => {
  assertUsageError(await runCli(['harmonize']), 'harmonize', 'give a composite image (or a folder of them, or - for stdin) with --mask, or --background with --foreground');
  assertUsageError(await runCli(['harmonize', '-o', join(dir, 'o.png')]), 'harmonize', /^harmonia harmonize: give a composite image/);
});

test('--quiet prints nothing on success; --json prints one JSON document (result, notes; errors too)', async () => {
  const out = join(dir, 'quiet.png');
  const q = await runCli(['harmonize', comp, '--mask', mask, '-o', out, '--stage', 'intrinsic', '--quiet']);
  assert.equal(q.code, 0, q.stderr.join('\n'));
  assert.deepEqual([q.stdout, q.stderr], [[], []]);
  assert.ok(existsSync(out));
  const j = await runCli(['harmonize', comp, '--mask', mask, '-o', join(dir, 'json.png'), '--stage', 'intrinsic', '--json']);
  assert.equal(j.code, 0, j.stderr.join('\n'));
  assert.equal(j.stdout.length, 1, j.stdout.join('\n'));
  const doc = JSON.parse(j.stdout[0]) as { command: string; exitCode: number; output: string[]; notes: string[] };
  assert.equal(doc.command, 'harmonize');
  assert.equal(doc.exitCode, 0);
  assert.match(doc.output[0], /^wrote .*json\.png \(32×24, stage intrinsic/);
  const e = await runCli(['harmonize', join(dir, 'nope.png'), '--mask', mask, '-o', join(dir, 'e.png'), '--json']);
  assert.equal(e.code, 2);
  const edoc = JSON.parse(e.stdout[0]) as { exitCode: number; error: string };
  assert.equal(edoc.exitCode, 2);
  assert.match(edoc.error, /nope\.png: .*no such file or folder/);
  // a command with its own JSON: info prints structured facts
  const i = await runCli(['info', '--json', '--backend', 'cpu']);
  assert.equal(i.code, 0, i.stderr.join('\n'));
  const info = JSON.parse(i.stdout.join('\n')) as { backend: string; inference: { engine: string }; node: string };
  assert.equal(info.backend, 'cpu');
  assert.equal(info.node, process.version);
  assert.ok(['ONNX Runtime', 'TensorFlow.js'].includes(info.inference.engine));
  // --json wins over --quiet: the document is what was asked for
  const iq = await runCli(['info', '--json', '--quiet', '--backend', 'cpu']);
  assert.equal((JSON.parse(iq.stdout.join('\n')) as { backend: string }).backend, 'cpu');
  // and --quiet/--json may come before the command
  const lead = await runCli(['--quiet', 'harmonize', comp, '--mask', mask, '-o', join(dir, 'lead.png'), '--stage', 'intrinsic']);
  assert.deepEqual([lead.code, lead.stdout, lead.stderr], [0, [], []]);
});

test('the "trained on raw composites" note: once, on stderr (never stdout); --quiet silences it', async (t) => {
  if (!isModelDir(DEFAULT_MODEL_DIR)) return t.skip('no shipped model in models/default');
  const r = await runCli(['harmonize', comp, '--mask', mask, '-o', join(dir, 'noted.png')]);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  const notes = r.stderr.filter((l) => /^note: .*trained on raw composites/.test(l));
  assert.equal(notes.length, 1, r.stderr.join('\n'));
  assert.ok(!r.stdout.some((l) => /note:|raw composites/.test(l)), r.stdout.join('\n'));
  const q = await runCli(['harmonize', comp, '--mask', mask, '-o', join(dir, 'noted-q.png'), '--quiet']);
  assert.equal(q.code, 0);
  assert.deepEqual([q.stdout, q.stderr], [[], []]);
});

test('-o - writes the PNG to stdout and - reads the composite (or the mask) from stdin: same image as files give', async () => {
  const ref = join(dir, 'ref.png');
  assert.equal((await runCli(['harmonize', comp, '--mask', mask, '-o', ref, '--stage', 'intrinsic'])).code, 0);
  const refImg = await readImage(ref);
  const p = cli(['harmonize', '-', '--mask', mask, '-o', '-', '--stage', 'intrinsic'], readFileSync(comp));
  assert.equal(p.status, 0, p.stderr.toString());
  assert.deepEqual([...p.stdout.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'stdout is a PNG');
  assert.deepEqual((await readImage(new Uint8Array(p.stdout))).data, refImg.data);
  assert.match(p.stderr.toString(), /^wrote the PNG to stdout \(32×24, stage intrinsic/m, 'the summary goes to stderr');
  const m = cli(['harmonize', comp, '--mask', '-', '-o', join(dir, 'stdin-mask.png'), '--stage', 'intrinsic'], readFileSync(mask));
  assert.equal(m.status, 0, m.stderr.toString());
  assert.deepEqual((await readImage(join(dir, 'stdin-mask.png'))).data, refImg.data);
  const empty = cli(['harmonize', '-', '--mask', mask, '-o', join(dir, 'empty.png'), '--stage', 'intrinsic'], Buffer.alloc(0));
  assert.equal(empty.status, 2);
  assert.match(empty.stderr.toString(), /stdin \(-\): the composite is empty \(0 bytes\)/);
  assertUsageError(await runCli(['harmonize', '-', '--mask', '-', '-o', 'x.png']), 'harmonize', 'only one of the composite and --mask can come from stdin (-)');
  assertUsageError(await runCli(['harmonize', dir, '--mask', dir, '-o', '-']), 'harmonize', '-o - (stdout) is for one image; a folder run writes a folder');
  assertUsageError(await runCli(['harmonize', comp, '--mask', mask, '-o', '-', '--json']), 'harmonize', /--json prints a JSON document on stdout, so -o - .* cannot go with it/);
});

test('info says calmly which backend runs (no "Cannot find package"), and no TF.js banner is printed', () => {
  const r = cli(['info', '--backend', 'cpu']);
  assert.equal(r.status, 0, r.stderr.toString());
  const all = r.stdout.toString() + r.stderr.toString();
  assert.match(r.stdout.toString(), /^backend: cpu \(requested\)$/m);
  assert.doesNotMatch(all, /Cannot find package|Hi, looks like you are running TensorFlow\.js|============/);
  const auto = cli(['info']);
  assert.equal(auto.status, 0);
  assert.doesNotMatch(auto.stdout.toString(), /Cannot find package/);
  assert.match(auto.stdout.toString(), /^backend: \w+ \(auto: /m);
});
