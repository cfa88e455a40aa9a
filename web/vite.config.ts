/**
 * Vite config for the Harmonia browser app (root: web/). The app imports the library's public browser
 * API, `harmonia/browser`, aliased to ../src/browser.ts (Vite compiles the .ts files). Two project-specific plugins:
 *  - `harmonia-no-node`: fails the build when any file of ours (src/ or web/) imports a Node built-in,
 *    so nothing node-only is ever bundled silently (dependencies map theirs away via "browser").
 *  - `harmonia-models`: serves <repo>/models/default/ at ./models/default/ in dev and preview, and copies
 *    it into the build when it exists (model.onnx included). Without it the app runs the intrinsic stage only.
 *  - `harmonia-ort`: serves ONNX Runtime Web's wasm runtime (the asyncify build of onnxruntime-web/webgpu: WebGPU + wasm SIMD/threads)
 *    at ./ort/ in dev and preview and copies it into the build: nothing is fetched from a CDN.
 * Every response carries COOP/COEP (cross-origin isolation), so ONNX Runtime Web can use wasm threads.
 */
import { defineConfig, type Plugin } from 'vite';
import { builtinModules } from 'node:module';
import { createReadStream, existsSync, mkdirSync, readdirSync, copyFileSync, statSync } from 'node:fs';
import { join, resolve, relative, sep, normalize } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

const webRoot = new URL('.', import.meta.url).pathname;
const repoRoot = resolve(webRoot, '..');
const modelDir = resolve(repoRoot, 'models', 'default');
/** Build output: dist/web, or HARMONIA_WEB_OUTDIR (the e2e test builds into a temporary folder). */
const outDir = process.env.HARMONIA_WEB_OUTDIR ? resolve(process.env.HARMONIA_WEB_OUTDIR) : resolve(repoRoot, 'dist', 'web');
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

function noNodeBuiltins(): Plugin {
  return {
    name: 'harmonia-no-node',
    enforce: 'pre',
    resolveId(source, importer) {
      if (!importer || importer.includes(`${sep}node_modules${sep}`)) return null;
      const bare = source.startsWith('node:') ? source : source.split('/')[0];
      if (builtins.has(source) || builtins.has(bare)) {
        const where = relative(repoRoot, importer);
        throw new Error(`harmonia-no-node: ${where} imports the Node built-in "${source}", which cannot run in the browser app`);
      }
      return null;
    },
  };
}

const MIME: Record<string, string> = { '.json': 'application/json', '.bin': 'application/octet-stream', '.onnx': 'application/octet-stream', '.wasm': 'application/wasm', '.mjs': 'text/javascript' };

/** Cross-origin isolation (SharedArrayBuffer, hence wasm threads); everything the app loads is same-origin. */
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

const ortDist = resolve(repoRoot, 'node_modules', 'onnxruntime-web', 'dist');
/** The runtime files ONNX Runtime Web loads at run time from env.wasm.wasmPaths (web/src/ort.ts sets it to ./ort/). */
const ORT_FILES = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

function sendFile(res: ServerResponse, file: string): void {
  const ext = file.slice(file.lastIndexOf('.'));
  res.setHeader('Content-Type', MIME[ext] ?? 'application/octet-stream');
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
  createReadStream(file).pipe(res);
}

function serveOrt(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const url = (req.url ?? '').split('?')[0];
  const m = /(?:^|\/)ort\/([^/]+)$/.exec(url);
  if (!m || !ORT_FILES.includes(m[1])) return next();
  sendFile(res, join(ortDist, m[1]));
}

/** A plugin that serves files through `serve` in dev and preview, and copies them into the build with `copy`. */
function staticFiles(name: string, serve: (req: IncomingMessage, res: ServerResponse, next: () => void) => void, copy: () => void): Plugin {
  return {
    name,
    configureServer(server) {
      server.middlewares.use(serve);
    },
    configurePreviewServer(server) {
      server.middlewares.use(serve);
    },
    writeBundle: copy,
  };
}

function ortRuntime(): Plugin {
  return staticFiles('harmonia-ort', serveOrt, () => {
    const dest = join(outDir, 'ort');
    mkdirSync(dest, { recursive: true });
    for (const name of ORT_FILES) copyFileSync(join(ortDist, name), join(dest, name));
  });
}

function serveModels(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const url = (req.url ?? '').split('?')[0];
  const m = /(?:^|\/)models\/default\/(.+)$/.exec(url);
  if (!m) return next();
  const file = normalize(join(modelDir, decodeURIComponent(m[1])));
  if (!file.startsWith(modelDir + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.statusCode = 404;
    res.end('not found');
    return;
  }
  sendFile(res, file);
}

function models(): Plugin {
  return staticFiles('harmonia-models', serveModels, () => {
    if (!existsSync(join(modelDir, 'model.json'))) return;
    const dest = join(outDir, 'models', 'default');
    mkdirSync(dest, { recursive: true });
    for (const name of readdirSync(modelDir)) {
      const src = join(modelDir, name);
      if (statSync(src).isFile()) copyFileSync(src, join(dest, name));
    }
  });
}

export default defineConfig({
  root: webRoot,
  base: './',
  plugins: [noNodeBuiltins(), models(), ortRuntime()],
  // ONNX Runtime Web's WebGPU + wasm build that loads its wasm runtime from env.wasm.wasmPaths (the app's
  // ./ort/) instead of inlining it: its thread workers then start from that file, not from the app's bundle
  // The app imports the library as a user would, `harmonia/browser` (here: its source).
  resolve: {
    alias: [
      { find: /^harmonia\/browser$/, replacement: resolve(repoRoot, 'src', 'browser.ts') },
      { find: /^onnxruntime-web\/webgpu$/, replacement: join(ortDist, 'ort.webgpu.min.mjs') },
    ],
  },
  worker: { format: 'es' },
  server: { port: 5173, strictPort: true, host: '127.0.0.1', fs: { allow: [repoRoot] }, headers: ISOLATION_HEADERS },
  preview: { port: 4173, strictPort: true, host: '127.0.0.1', headers: ISOLATION_HEADERS },
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
  },
  optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm', 'onnxruntime-web'] },
});
