import { existsSync, statSync } from 'node:fs';
import { HarmoniaError } from '../../errors.ts';
import type { Command } from '../types.ts';
import { FLAG_RANGES, numberFlag, describeRange } from '../flags.ts';
import { createServer, DEFAULT_BODY_LIMIT, DEFAULT_SERVE_MAX_PIXELS, DEFAULT_BODY_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_DRAIN_MS, DEFAULT_SERVE_PNG_LEVEL } from '../../service/server.ts';
import { isModelDir } from '../../pipeline/model.ts';
import { availableParallelism } from 'node:os';

const RANGES = FLAG_RANGES.serve;

function parseModels(v: unknown): Record<string, string> {
  const list = Array.isArray(v) ? v : v === undefined ? [] : [String(v)];
  const out: Record<string, string> = {};
  for (const s of list as string[]) {
    const i = s.indexOf('=');
    const [name, dir] = i > 0 ? [s.slice(0, i), s.slice(i + 1)] : ['default', s];
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new HarmoniaError(`--model must be <name>=<folder> with a name of letters, digits, _ . -: got "${s}"`);
    if (!dir || !isModelDir(dir)) throw new HarmoniaError(`--model ${name}: no model in "${dir}" (model.json or harmonia.json missing)`);
    if (out[name]) throw new HarmoniaError(`--model: the name "${name}" is given twice`);
    out[name] = dir;
  }
  return out;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'HTTP API: POST /harmonize, GET /health, GET /metrics, on a bounded pool of worker threads',
  usage: 'harmonia serve [--port 8080] [--host 127.0.0.1] [--root <folder>] [--threads N] [--max-queue N] [--model name=<folder>]...',
  options: {
    port: { type: 'string', default: '8080', description: `TCP port, ${describeRange(RANGES.port)} (0 = any free port)` },
    host: { type: 'string', default: '127.0.0.1', description: 'address to listen on (0.0.0.0 for every interface)' },
    root: { type: 'string', description: 'folder that JSON requests may name files in (paths never leave it); without it only uploads are accepted' },
    threads: { type: 'string', description: `worker threads, ${describeRange(RANGES.threads)} (default: one per core, here ${availableParallelism()})` },
    'max-queue': { type: 'string', description: `requests that may wait for a thread; more get 503 + Retry-After, ${describeRange(RANGES['max-queue'])} (default: 2 per thread)` },
    'body-limit': { type: 'string', default: String(DEFAULT_BODY_LIMIT / 1024 / 1024), description: `largest request body in MB, ${describeRange(RANGES['body-limit'])}` },
    'max-pixels': { type: 'string', default: String(DEFAULT_SERVE_MAX_PIXELS), description: `largest input image in pixels, ${describeRange(RANGES['max-pixels'])}` },
    timeout: { type: 'string', default: '120', description: `seconds a request may run before it fails with 503, ${describeRange(RANGES.timeout)}` },
    'body-timeout': { type: 'string', default: String(DEFAULT_BODY_TIMEOUT_MS / 1000), description: `request deadline: seconds from a request's first byte until its headers and body have all arrived; later gets 408 and the connection is closed, ${describeRange(RANGES['body-timeout'])}` },
    'idle-timeout': { type: 'string', default: String(DEFAULT_IDLE_TIMEOUT_MS / 1000), description: `seconds a connection may take to send a request head (then 408, closed), and may stay open idle between requests, ${describeRange(RANGES['idle-timeout'])}` },
    drain: { type: 'string', default: String(DEFAULT_DRAIN_MS / 1000), description: `on SIGTERM/SIGINT, seconds the requests in flight may take to finish before every connection is closed; the process exits within this + 1 s, ${describeRange(RANGES.drain)}` },
    'png-level': { type: 'string', default: String(DEFAULT_SERVE_PNG_LEVEL), description: `zlib level of PNG answers, ${describeRange(RANGES['png-level'])}: 1 is fast, 6 gives the bytes of harmonia harmonize (the pixels are the same at every level)` },
    pipeline: { type: 'string', default: '2', description: `requests a worker thread holds at once (the next one decodes while the current one computes; images over 4 MP run one at a time), ${describeRange(RANGES.pipeline)}` },
    model: { type: 'string', multiple: true, description: 'a model to load, as name=<folder> (repeatable; requests pick one with "model": name); "default" is the shipped model' },
  },
  async run({ values, positionals }) {
    if (positionals.length) throw new HarmoniaError(`serve takes no arguments, got: ${positionals.join(' ')}`);
    const port = numberFlag(values, 'port', RANGES.port) as number;
    const host = String(values.host);
    if (!host) throw new HarmoniaError('--host must not be empty');
    const threads = numberFlag(values, 'threads', RANGES.threads);
    const maxQueue = numberFlag(values, 'max-queue', RANGES['max-queue']);
    const bodyLimit = Math.round((numberFlag(values, 'body-limit', RANGES['body-limit']) as number) * 1024 * 1024);
    const maxPixels = numberFlag(values, 'max-pixels', RANGES['max-pixels']);
    const timeoutMs = (numberFlag(values, 'timeout', RANGES.timeout) as number) * 1000;
    const bodyTimeoutMs = (numberFlag(values, 'body-timeout', RANGES['body-timeout']) as number) * 1000;
    const idleTimeoutMs = (numberFlag(values, 'idle-timeout', RANGES['idle-timeout']) as number) * 1000;
    const drainMs = (numberFlag(values, 'drain', RANGES.drain) as number) * 1000;
    const pngLevel = numberFlag(values, 'png-level', RANGES['png-level']);
    const pipeline = numberFlag(values, 'pipeline', RANGES.pipeline);
    const root = typeof values.root === 'string' ? values.root : undefined;
    if (root !== undefined && (!existsSync(root) || !statSync(root).isDirectory())) throw new HarmoniaError(`--root must be an existing folder: "${root}"`);
    const models = parseModels(values.model);
    const server = await createServer({ root, threads, maxQueue, bodyLimit, models, maxPixels, timeoutMs, bodyTimeoutMs, idleTimeoutMs, pngLevel, pipeline });
    let address: string;
    try {
      address = await server.app.listen({ port, host });
    } catch (err) {
      await server.close();
      throw new HarmoniaError(`--port ${port} / --host ${host}: cannot listen: ${(err as Error).message}`);
    }
    const s = server.pool.stats();
    console.log(`harmonia serve: listening on ${address} (${s.threads} worker thread(s) × ${server.pool.pipeline} request(s) each, queue ${s.maxQueue}, backend ${s.backend}, models: ${Object.keys(server.models).join(', ') || 'none (intrinsic stage)'}, loaded in ${(s.loadMs / 1000).toFixed(1)} s${root ? `, root ${root}` : ''})`);
    const sig = await new Promise<string>((done) => {
      const onInt = () => done('SIGINT');
      const onTerm = () => done('SIGTERM');
      process.once('SIGINT', onInt);
      process.once('SIGTERM', onTerm);
    });
    console.log(`harmonia serve: ${sig}, draining: requests in flight may finish within ${drainMs / 1000} s, then every connection left is closed (send it again to exit at once)`);
    const again = () => {
      console.log('harmonia serve: second signal, exiting now');
      process.exit(130);
    };
    process.once('SIGINT', again);
    process.once('SIGTERM', again);
    // the drain is bounded by construction; this only guards against a bug keeping the process alive
    const backstop = setTimeout(() => {
      console.error(`harmonia serve: still closing ${drainMs / 1000 + 1} s after ${sig}; exiting`);
      process.exit(1);
    }, drainMs + 1000);
    backstop.unref();
    const t0 = performance.now();
    await server.close(drainMs);
    console.log(`harmonia serve: closed ${((performance.now() - t0) / 1000).toFixed(1)} s after ${sig}`);
    process.off('SIGINT', again);
    process.off('SIGTERM', again);
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref(); // nothing of the server may keep the process alive
    return 0;
  },
};
