import { existsSync, statSync } from 'node:fs';
import { HarmoniaError } from '../../errors.ts';
import type { Command } from '../types.ts';
import { FLAG_RANGES, numberFlag, describeRange } from '../flags.ts';
import { createServer, DEFAULT_BODY_LIMIT, DEFAULT_SERVE_MAX_PIXELS } from '../../service/server.ts';
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
    const root = typeof values.root === 'string' ? values.root : undefined;
    if (root !== undefined && (!existsSync(root) || !statSync(root).isDirectory())) throw new HarmoniaError(`--root must be an existing folder: "${root}"`);
    const models = parseModels(values.model);
    const server = await createServer({ root, threads, maxQueue, bodyLimit, models, maxPixels, timeoutMs });
    let address: string;
    try {
      address = await server.app.listen({ port, host });
    } catch (err) {
      await server.close();
      throw new HarmoniaError(`--port ${port} / --host ${host}: cannot listen: ${(err as Error).message}`);
    }
    const s = server.pool.stats();
    console.log(`harmonia serve: listening on ${address} (${s.threads} worker thread(s), queue ${s.maxQueue}, backend ${s.backend}, models: ${Object.keys(server.models).join(', ') || 'none (intrinsic stage)'}, loaded in ${(s.loadMs / 1000).toFixed(1)} s${root ? `, root ${root}` : ''})`);
    await new Promise<void>((done) => {
      const stop = (sig: string) => {
        console.log(`harmonia serve: ${sig}, closing`);
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        done();
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    });
    await server.close();
    return 0;
  },
};
