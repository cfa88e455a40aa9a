/**
 * The published package, as a user gets it: `npm pack` (which builds dist/), then fresh projects that
 * follow only the README's consumer instructions (the blocks marked `<!-- test:… -->` in README.md):
 *   (a) the install command (the tarball in place of the registry name; npm's warm cache, --prefer-offline):
 *       an inference-only install, no @tensorflow/*, fastify, bullmq or ioredis; its size is printed; the
 *       README's Node API example runs as it stands, on ONNX Runtime, and code that needs an extra says which;
 *   (b) the README's Vite example builds from the installed package into a main chunk ≤ 150 kB gzip (ONNX
 *       Runtime's .wasm excluded) with no TensorFlow.js, and harmonizes in headless Chromium;
 *   (c) a second install without the instructions, where onnxruntime-node's install script runs and fails
 *       offline (npm drops the package): the example still harmonizes, and says once on stderr that
 *       ONNX Runtime for Node is missing and how to add it;
 *   (d) with the README's extras installed, the first folder trains a few steps, serves a request, and
 *       `harmonia info` names ONNX Runtime;
 *   (e) `tsc --noEmit` on a consumer .ts file resolves the package's types.
 * Skips with a message when the npm registry cannot be reached (the install needs its metadata).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { tempDirFactory } from '../helpers.ts';
import { CHROMIUM, launchChromium } from '../../scripts/web-serve.mjs';

const root = new URL('../..', import.meta.url).pathname;
const tempDir = tempDirFactory();
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const repoPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const readme = readFileSync(join(root, 'README.md'), 'utf8');
/** npm's cache is warm from `npm ci`; nothing else is fetched when it can be avoided. */
const OFFLINE = '--prefer-offline --no-audit --no-fund --loglevel=error';

/** The code block after `<!-- test:<tag> -->` in the README. */
function readmeBlock(tag: string): string {
  const m = new RegExp(`<!-- test:${tag.replace(/\./g, '\\.')} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(m, `README.md has no block marked <!-- test:${tag} -->`);
  return m[1];
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}, timeout = 600_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Runs a README shell block in `cwd` with bash; `npm install harmonia` installs the tarball; npm commands get the offline flags. */
function runReadmeShell(block: string, cwd: string, tarball: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  const script = block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, ''))
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .map((l) => (/\bnpm install\b/.test(l) ? `${l.replace(/\bnpm install harmonia\b/, `npm install ${tarball}`)} ${OFFLINE}` : l))
    .join('\n');
  return run('bash', ['-euo', 'pipefail', '-c', script], cwd, env);
}

/** Why the registry cannot be used, or false when it answers. */
function registrySkip(): string | false {
  const r = run(npm, ['ping', '--fetch-timeout=10000', '--fetch-retries=0'], root, {}, 30_000);
  return r.status === 0 ? false : `skipped: the npm registry is unreachable (npm ping: ${(r.stderr || r.stdout).trim().split('\n').pop()}); the consumer install needs it`;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    n += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return n;
}

function newProject(prefix: string): string {
  const dir = tempDir(prefix);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  return dir;
}

/** Foreground/background change of a harmonized PNG against its composite under a mask (8-bit). */
async function changes(outPng: string, compositePng: string, maskPng: string): Promise<{ fg: number; fgChanged: number; bg: number; bgChanged: number }> {
  const [o, c, m] = await Promise.all([outPng, compositePng, maskPng].map((f) => sharp(f).removeAlpha().raw().toBuffer({ resolveWithObject: true })));
  const r = { fg: 0, fgChanged: 0, bg: 0, bgChanged: 0 };
  for (let p = 0; p < o.info.width * o.info.height; p++) {
    const mv = m.data[p * m.info.channels];
    const d = [0, 1, 2].some((k) => o.data[p * 3 + k] !== c.data[p * 3 + k]);
    if (mv > 127) { r.fg++; if (d) r.fgChanged++; } else if (mv === 0) { r.bg++; if (d) r.bgChanged++; }
  }
  return r;
}

let skip: string | false = false;
let tarball = '';
let project = '';
let installSeconds = 0;

before(() => {
  skip = registrySkip();
  if (skip) return;
  const packDir = tempDir('harmonia-pack-');
  // npm pack runs prepack → npm run build (dist/); --json gives the tarball name
  const packOut = ok(run(npm, ['pack', '--json', '--pack-destination', packDir], root), 'npm pack');
  // the prepack script's own output comes first on stdout; the JSON report is the last thing printed
  const packed = JSON.parse(packOut.slice(packOut.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
  const files = packed[0].files.map((f) => f.path);
  assert.ok(files.includes('dist/index.js') && files.includes('dist/browser.js') && files.includes('models/default/model.onnx') && files.includes('models/default/harmonia.json') && files.includes('bin/harmonia.mjs'), `tarball contents: ${files.join(', ')}`);
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('dist/web/')), 'no sources, tests or web build in the tarball');
  tarball = join(packDir, packed[0].filename);
  project = newProject('harmonia-consumer-');
  const start = Date.now();
  // exactly the README's install command (the native kernels compile for tens of seconds: not what this is about)
  ok(runReadmeShell(readmeBlock('install'), project, tarball, { HARMONIA_SKIP_NATIVE: '1' }), 'the README install command');
  installSeconds = (Date.now() - start) / 1000;
});

test('(a) inference-only install: no TF.js or service stack; the README Node API example harmonizes on ONNX Runtime; extras are named when missing', { timeout: 300_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const nm = join(project, 'node_modules');
  const mb = dirBytes(nm) / 1e6;
  const sizes = ['onnxruntime-node', 'onnxruntime-web', 'sharp', '@img'].map((p) => `${p} ${existsSync(join(nm, p)) ? (dirBytes(join(nm, p)) / 1e6).toFixed(0) : '–'} MB`).join(', ');
  console.log(`# installed size (README install, inference only): node_modules ${mb.toFixed(0)} MB in ${readdirSync(nm).length} top-level entries, ${installSeconds.toFixed(1)} s (${sizes})`);
  for (const p of ['@tensorflow', 'fastify', '@fastify', 'bullmq', 'ioredis', 'tsx']) assert.ok(!existsSync(join(nm, p)), `${p} is not installed for inference`);
  assert.ok(existsSync(join(nm, 'onnxruntime-node')), 'onnxruntime-node installed by the README command');

  writeFileSync(join(project, 'example.mjs'), readmeBlock('node-example'));
  const r = run(process.execPath, ['example.mjs'], project);
  ok(r, 'the README Node API example');
  assert.doesNotMatch(r.stderr, /not installed/, `no fallback notice with ONNX Runtime installed:\n${r.stderr}`);
  const a = await changes(join(project, 'harmonized.png'), join(project, 'composite.png'), join(project, 'mask.png'));
  t.diagnostic(`harmonized.png: ${a.fgChanged}/${a.fg} foreground px changed, ${a.bgChanged}/${a.bg} background px changed`);
  assert.ok(a.fg > 500 && a.fgChanged / a.fg > 0.5, 'the foreground was harmonized');
  assert.equal(a.bgChanged, 0, 'background pixels are copied exactly');
  const placed = await sharp(join(project, 'placed.png')).metadata();
  assert.equal(placed.width, 96, 'cut-out mode: the result has the background size');

  // the CLI from the package: harmonize on ONNX Runtime; a command that needs an extra names it
  ok(run(npm, ['exec', '--offline', '--', 'harmonia', 'harmonize', 'composite.png', '--mask', 'mask.png', '-o', 'cli.png'], project), 'npx harmonia harmonize');
  const train = run(process.execPath, [join(nm, 'harmonia', 'bin', 'harmonia.mjs'), 'train', '--data', 'nowhere', '--out', 'run'], project);
  assert.notEqual(train.status, 0);
  assert.match(train.stderr, /needs @tensorflow\/tfjs, which is not installed .*: npm install @tensorflow\/tfjs@4\.22\.0/, train.stderr);
  assert.equal(train.stderr.trim().split('\n').length, 1, `one line: ${train.stderr}`);
  const serve = run(process.execPath, [join(nm, 'harmonia', 'bin', 'harmonia.mjs'), 'serve', '--port', '0'], project, {}, 60_000);
  assert.notEqual(serve.status, 0);
  assert.match(serve.stderr, /needs (fastify|@fastify\/multipart|@tensorflow\/tfjs), which is not installed/, serve.stderr);
  // the library API: a function that needs TF.js rejects with the same kind of message
  const api = run(process.execPath, ['--input-type=module', '-e', `import { train } from 'harmonia'; try { await train({}); } catch (e) { console.log(e.name + ': ' + e.message); }`], project);
  assert.match(api.stdout, /^HarmoniaError: train needs @tensorflow\/tfjs, which is not installed/, api.stdout + api.stderr);
});

/** Serves `dir` on loopback (no COOP/COEP: a plain static host, as most are). */
function serve(dir: string): Promise<{ url: string; server: Server }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png' };
  const server = createServer((req, res) => {
    const file = normalize(join(dir, decodeURIComponent((req.url ?? '/').split('?')[0]) === '/' ? 'index.html' : decodeURIComponent((req.url ?? '/').split('?')[0])));
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/`, server });
  }));
}

test('(b) the README Vite example builds from the package into a main chunk ≤ 150 kB gzip and harmonizes in headless Chromium', { timeout: 300_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const web = join(project, 'vite-app');
  mkdirSync(web, { recursive: true });
  // the app lives in its own folder of the consumer project; node_modules is the project's
  ok(run('bash', ['-c', `ln -s ../node_modules node_modules`], web), 'link node_modules');
  ok(runReadmeShell(readmeBlock('vite-setup'), web, tarball), 'the README Vite setup');
  writeFileSync(join(web, 'index.html'), readmeBlock('vite-index.html'));
  writeFileSync(join(web, 'main.js'), readmeBlock('vite-main.js'));
  // the two images the example loads
  const w = 200, h = 150, s = 80;
  const bg = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { const i = (y * w + x) * 3; bg[i] = 200 - Math.round(40 * y / h); bg[i + 1] = 130 + Math.round(30 * x / w); bg[i + 2] = 60; }
  const cut = Buffer.alloc(s * s * 4);
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) { const i = (y * s + x) * 4; cut[i] = 40; cut[i + 1] = 90 + (x % 10 < 5 ? 30 : 0); cut[i + 2] = 220; cut[i + 3] = Math.hypot(x - 39.5, y - 39.5) < 34 ? 255 : 0; }
  mkdirSync(join(web, 'public'), { recursive: true });
  await sharp(bg, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(web, 'public', 'background.png'));
  await sharp(cut, { raw: { width: s, height: s, channels: 4 } }).png().toFile(join(web, 'public', 'cutout.png'));

  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const r = run(process.execPath, [vite, 'build', '--logLevel', 'warn'], web);
  ok(r, 'vite build');
  assert.doesNotMatch(`${r.stdout}\n${r.stderr}`, /externalized for browser compatibility/, 'no Node built-in reached the browser bundle');
  const dist = join(web, 'dist');
  const entry = /<script type="module" crossorigin src="\.?\/?([^"]+)"/.exec(readFileSync(join(dist, 'index.html'), 'utf8'))?.[1];
  assert.ok(entry, 'the built index.html names its entry chunk');
  const js = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));
  const main = readFileSync(join(dist, entry));
  const gz = gzipSync(main, { level: 9 }).length;
  const wasm = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.wasm')).map((f) => `${f} ${(statSync(join(dist, 'assets', f)).size / 1e6).toFixed(1)} MB`);
  console.log(`# Vite example: main chunk ${entry} ${(main.length / 1e3).toFixed(0)} kB, ${(gz / 1e3).toFixed(1)} kB gzip; ${js.length} JS file(s); wasm (loaded at run time, not counted): ${wasm.join(', ') || 'none'}`);
  assert.ok(gz <= 150_000, `main chunk ${gz} bytes gzip > 150 kB`);
  for (const f of js) assert.doesNotMatch(readFileSync(join(dist, 'assets', f), 'utf8'), /@tensorflow|tfjs-core|registerKernel\(/, `${f}: no TensorFlow.js in the bundle`);

  if (!existsSync(CHROMIUM)) return t.skip(`skipped the browser run: Chromium not found at ${CHROMIUM}`);
  const { url, server } = await serve(dist);
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);
    await page.waitForSelector('body[data-done], body[data-error]', { timeout: 120_000 });
    assert.equal(await page.getAttribute('body', 'data-error'), null, `the example failed: ${await page.getAttribute('body', 'data-error')}`);
    const label = await page.getAttribute('body', 'data-done');
    t.diagnostic(`Vite example in Chromium: ${label}`);
    assert.match(label ?? '', /GAN refinement \(model ".*", WebAssembly\) on the raw composite/);
    const px = await page.evaluate(() => {
      const c = document.querySelector('#out') as HTMLCanvasElement;
      return { w: c.width, h: c.height, data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) };
    });
    assert.equal(px.w, w);
    assert.equal(px.h, h);
    // outside the pasted disc (placed at 40,30, scale 0.8: 64×64) the background is untouched; inside it changed
    let bgSame = 0, bgAll = 0, fgDiff = 0, fgAll = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const inside = Math.hypot(x - (40 + 32), y - (30 + 32)) < 25;
      const outside = x < 38 || x > 106 || y < 28 || y > 96;
      if (outside) { bgAll++; if ([0, 1, 2].every((k) => px.data[p * 4 + k] === bg[p * 3 + k])) bgSame++; }
      // the cut-out's colour is (40, 90 or 120, 220): harmonized pixels moved away from it
      if (inside) { fgAll++; if (Math.abs(px.data[p * 4] - 40) > 2 || Math.abs(px.data[p * 4 + 2] - 220) > 2) fgDiff++; }
    }
    t.diagnostic(`Vite example output: background ${bgSame}/${bgAll} px untouched, foreground ${fgDiff}/${fgAll} px changed from the cut-out`);
    assert.equal(bgSame, bgAll, 'background untouched');
    assert.ok(fgDiff / fgAll > 0.5, 'the foreground was harmonized');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test('(c) without the README instructions onnxruntime-node drops out offline; harmonize still works and says once how to add it', { timeout: 600_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const dir = newProject('harmonia-consumer-plain-');
  // a plain `npm install`: onnxruntime-node's install script runs (npm 11.19 runs scripts that allowScripts does
  // not cover), its CUDA download fails offline, and npm drops the optional package without a word
  const env = { HARMONIA_SKIP_NATIVE: '1', ONNXRUNTIME_NODE_INSTALL: '', npm_config_onnxruntime_node_install: '' };
  ok(run('bash', ['-c', `npm install ${tarball} ${OFFLINE}`], dir, env), 'npm install without the instructions');
  let how = 'its install script failed offline and npm dropped it';
  if (existsSync(join(dir, 'node_modules', 'onnxruntime-node'))) {
    // the install script could download (a network) or did not run: leave it out as an offline install does
    ok(run('bash', ['-c', `npm install ${tarball} --omit=optional ${OFFLINE}`], dir, env), 'npm install --omit=optional');
    how = 'left out with --omit=optional (its install script did not fail here)';
  }
  assert.ok(!existsSync(join(dir, 'node_modules', 'onnxruntime-node')), 'onnxruntime-node is missing');
  writeFileSync(join(dir, 'example.mjs'), readmeBlock('node-example'));
  const r = run(process.execPath, ['example.mjs'], dir);
  ok(r, 'the README Node API example without onnxruntime-node');
  const notices = r.stderr.split('\n').filter((l) => /onnxruntime-node\) is not installed/.test(l));
  t.diagnostic(`onnxruntime-node ${how}; stderr: ${r.stderr.trim()}`);
  assert.equal(notices.length, 1, `said once (the example harmonizes twice):\n${r.stderr}`);
  assert.match(notices[0], /WebAssembly build.*npm install onnxruntime-node@1\.30\.0/);
  const a = await changes(join(dir, 'harmonized.png'), join(dir, 'composite.png'), join(dir, 'mask.png'));
  assert.ok(a.fg > 500 && a.fgChanged / a.fg > 0.5, 'harmonized on the fallback');
  assert.equal(a.bgChanged, 0);
  // the same image as ONNX Runtime for Node gives, within a rounding step
  const [x, y] = await Promise.all([join(dir, 'harmonized.png'), join(project, 'harmonized.png')].map((f) => sharp(f).raw().toBuffer()));
  let maxAbs = 0;
  for (let i = 0; i < x.length; i++) maxAbs = Math.max(maxAbs, Math.abs(x[i] - y[i]));
  t.diagnostic(`wasm fallback vs onnxruntime-node: max |Δ| ${maxAbs}/255`);
  assert.ok(maxAbs <= 1, `fallback differs by ${maxAbs}/255`);
});

test('(d) with the README extras, the same folder trains a few steps, serves, and harmonia info names ONNX Runtime', { timeout: 900_000 }, async (t) => {
  if (skip) return t.skip(skip);
  ok(runReadmeShell(readmeBlock('extras'), project, tarball, { HARMONIA_SKIP_NATIVE: '1' }), 'the README extras');
  for (const p of ['@tensorflow/tfjs', 'fastify', 'bullmq', 'ioredis']) assert.ok(existsSync(join(project, 'node_modules', p)), `${p} installed`);
  console.log(`# installed size with the extras: node_modules ${(dirBytes(join(project, 'node_modules')) / 1e6).toFixed(0)} MB`);
  const bin = join(project, 'node_modules', 'harmonia', 'bin', 'harmonia.mjs');
  const info = ok(run(process.execPath, [bin, 'info', '--backend', 'cpu'], project), 'harmonia info');
  const engine = /^inference engine \(generator\): (.*)$/m.exec(info)?.[1] ?? '';
  t.diagnostic(`harmonia info: ${engine}`);
  assert.match(engine, /^ONNX Runtime \d+\.\d+\.\d+ \(.*runs the "global" generator's network .*model\.onnx/, 'ONNX Runtime runs the packed default model');
  ok(run(process.execPath, [bin, 'make-procedural', '--out', 'data', '--count', '6', '--size', '64', '--quiet'], project), 'make-procedural');
  const tr = ok(run(process.execPath, [bin, 'train', '--data', 'data', '--out', 'run', '--config', 'smoke', '--max-steps', '3', '--quiet'], project, { HARMONIA_BACKEND: 'cpu' }), 'harmonia train --max-steps 3');
  t.diagnostic(`train: ${tr.trim().split('\n').pop()}`);
  assert.ok(readdirSync(join(project, 'run')).length > 0, 'the run folder has files');

  // serve: one harmonize request over HTTP
  const srv = spawn(process.execPath, [bin, 'serve', '--port', '0', '--threads', '1'], { cwd: project, env: { ...process.env } });
  let log = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start:\n${log}`)), 120_000);
      const onData = (d: Buffer) => {
        log += d;
        const m = /listening on (http:\/\/\S+)/.exec(log);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      };
      srv.stdout.on('data', onData);
      srv.stderr.on('data', onData);
      srv.on('exit', (code) => reject(new Error(`serve exited ${code}:\n${log}`)));
    });
    const health = await fetch(new URL('/health', url));
    assert.equal(health.status, 200, await health.text());
    const form = new FormData();
    form.set('composite', new Blob([readFileSync(join(project, 'composite.png'))], { type: 'image/png' }), 'composite.png');
    form.set('mask', new Blob([readFileSync(join(project, 'mask.png'))], { type: 'image/png' }), 'mask.png');
    const res = await fetch(new URL('/harmonize', url), { method: 'POST', body: form });
    const body = new Uint8Array(await res.arrayBuffer());
    t.diagnostic(`serve: POST /harmonize → ${res.status} ${res.headers.get('content-type')} ${body.length} bytes`);
    assert.equal(res.status, 200, new TextDecoder().decode(body).slice(0, 300));
    assert.equal(Buffer.from(body.subarray(1, 4)).toString(), 'PNG');
  } finally {
    srv.kill('SIGTERM');
    await new Promise((r) => srv.once('exit', r));
  }
});

test('(e) tsc --noEmit on a consumer .ts file resolves the types of the main entry and the subpaths', { timeout: 300_000 }, (t) => {
  if (skip) return t.skip(skip);
  ok(run('bash', ['-c', `npm install @types/node@${repoPkg.devDependencies['@types/node']} ${OFFLINE}`], project, { HARMONIA_SKIP_NATIVE: '1' }), 'npm install @types/node');
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], lib: ['ES2022', 'DOM'] },
    files: ['consumer.ts'],
  }, null, 2));
  writeFileSync(join(project, 'consumer.ts'), `import { harmonize, type HarmonizeOptions, type FloatImage } from 'harmonia';
import { semiHarmonize, type IntrinsicOptions } from 'harmonia/intrinsic';
import { initEngine, type EngineInfo } from 'harmonia/engine';
import { train, type TrainConfig } from 'harmonia/train';
import { makeComposites, makeProceduralComposite } from 'harmonia/data';
import { createHarmonizer, loadModel, type HarmonizeOutput, type LoadProgress } from 'harmonia/browser';
import { harmonizeImage, type HarmonizationModel } from 'harmonia/browser/tfjs';

const opts: HarmonizeOptions = { composite: 'photo.jpg', mask: 'mask.png' };
const cut: HarmonizeOptions = { background: 'street.jpg', foreground: 'car.png', at: [10, 20], scale: 0.5 };
const png: Buffer = await harmonize(opts);
const info: EngineInfo = await initEngine();
const img: FloatImage = { width: 1, height: 1, channels: 3, data: new Float32Array(3) };
const io: IntrinsicOptions = {};
const semi = semiHarmonize(img, { width: 1, height: 1, data: new Float32Array(1) }, io);
const model: HarmonizationModel | undefined = undefined;
const r = harmonizeImage(img, { width: 1, height: 1, data: new Float32Array(1) }, model, { stage: 'intrinsic' });
const h = await createHarmonizer({ model: await loadModel('models/default/', { onProgress: (p: LoadProgress) => p.fraction }) });
const out: HarmonizeOutput = await h.harmonize({ composite: img, mask: { width: 1, height: 1, data: new Float32Array(1) } });
let cfg: Partial<TrainConfig> = {};
console.log(png.length, cut, info.backend, semi.semiHarmonized.width, r.result.width, out.label, typeof train, typeof makeComposites, typeof makeProceduralComposite, cfg);
// The types are real, not \`any\`: each of these must be an error.
// @ts-expect-error harmonize resolves to a Buffer
const wrong: number = await harmonize(opts);
// @ts-expect-error scale is a number
await harmonize({ background: 'a.png', foreground: 'b.png', scale: '2' });
console.log(wrong);
`);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = run(process.execPath, [tsc, '-p', join(project, 'tsconfig.json')], project);
  // skipLibCheck is off so that errors in harmonia's own .d.ts show; TensorFlow.js 4.22's declarations
  // (and @webgpu/types against TypeScript's DOM lib, onnxruntime's) do not pass TypeScript 7 themselves: those are ignored.
  const errors = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error TS\d+/.test(l));
  const third = /node_modules\/(@tensorflow|@webgpu|onnxruntime-[a-z]+|onnxruntime-common)\/|lib\.dom\.d\.ts/;
  const ours = errors.filter((l) => !third.test(l));
  assert.deepEqual(ours, [], 'errors in the consumer file or in harmonia\'s .d.ts files');
  assert.ok(r.status === 0 || errors.length > 0, `tsc failed without errors: ${r.stdout}${r.stderr}`);
  t.diagnostic(`consumer.ts type-checks against the published .d.ts files (skipLibCheck off; ${errors.length - ours.length} errors inside third-party declarations ignored)`);
});
