#!/usr/bin/env node
// Helpers for the browser app's end-to-end test and benchmark: build it (vite build), serve the
// build from a tiny static server on loopback, and start headless Chromium (playwright-core).
// CLI: node scripts/web-serve.mjs [--build] [--port N]   serves dist/web and prints the URL.
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { join, normalize, resolve, sep, extname } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';

export const ROOT = resolve(new URL('..', import.meta.url).pathname);
export const DIST = join(ROOT, 'dist', 'web');
export const CHROMIUM = process.env.HARMONIA_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.bin': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
};

/** Cross-origin isolation (SharedArrayBuffer, so ONNX Runtime Web can use wasm threads); the app loads nothing cross-origin. */
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** Runs `vite build` for the app into `outDir` (default dist/web); throws with vite's output when it fails. Returns the seconds taken. */
export function buildApp(outDir = DIST) {
  const t0 = Date.now();
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  const env = { ...process.env, HARMONIA_WEB_OUTDIR: resolve(outDir) };
  const r = spawnSync(process.execPath, [vite, 'build', '--config', join(ROOT, 'web', 'vite.config.ts'), '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`vite build failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  if (!existsSync(join(outDir, 'index.html'))) throw new Error(`vite build wrote no ${join(outDir, 'index.html')}`);
  return (Date.now() - t0) / 1000;
}

/** Serves `dir` on 127.0.0.1 (port 0 = any free port). Resolves to { url, close }. */
export function serveStatic(dir = DIST, port = 0) {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain', ...ISOLATION_HEADERS }).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache', ...ISOLATION_HEADERS });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      const p = typeof addr === 'object' && addr ? addr.port : port;
      resolvePromise({ url: `http://127.0.0.1:${p}/`, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r(undefined)); }) });
    });
  });
}

/**
 * Starts headless Chromium with a fresh profile. Resolves to { context, close }; `close` also
 * removes the profile folder.
 */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'harmonia-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 1000 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const args = process.argv.slice(2);
  const portArg = args.indexOf('--port');
  const port = portArg >= 0 ? Number(args[portArg + 1]) : 4173;
  if (args.includes('--build') || !existsSync(join(DIST, 'index.html'))) {
    console.log(`built the app in ${buildApp().toFixed(1)} s`);
  }
  const { url } = await serveStatic(DIST, port);
  console.log(`Harmonia web app: ${url}  (Ctrl+C to stop)`);
}
