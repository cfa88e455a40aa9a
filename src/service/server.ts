/**
 * `harmonia serve`: an HTTP API on Fastify over the library (docs/SERVICE.md).
 *
 *   POST /harmonize   multipart (files composite + mask, or background + foreground) or JSON (paths
 *                     under --root); options stage, model, format, quality, at, scale,
 *                     harmonizeBackground, response (image | json)
 *   GET  /health      liveness + pool state
 *   GET  /metrics     Prometheus text: requests, latency histogram, queue depth, model load
 *
 * Work runs on a bounded pool of worker threads (pool.ts) with the models loaded once per thread.
 * Over capacity the answer is 503 with Retry-After, at once. Every error is a 4xx/5xx with a
 * one-line JSON body `{"error": "..."}`, never a stack trace; a malformed request is a 4xx, never a 500.
 *
 * Deadlines (docs/SERVICE.md § Deadlines), enforced by Node's HTTP server, which checks its open
 * connections every `checkIntervalMs(…)` (at most 1 s, and at most 1/30 of the shortest deadline):
 * - request deadline (`bodyTimeoutMs`): a request's headers and body must have arrived within it of the
 *   request's first byte, else 408 and the connection is closed (a client dribbling its body);
 * - idle timeout (`idleTimeoutMs`): a connection must send a complete request head within it (of opening,
 *   or of starting the request), else 408 and closed; a kept-alive connection with no request is closed after it.
 * A request whose body has arrived is never cut by these (its run time is bounded by `timeoutMs`).
 * close(drainMs): stop taking work (503 + `Connection: close`; /health answers 503 "draining"), let the
 * requests in flight finish for at most drainMs, then close every connection left and stop the threads.
 */
import { existsSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isAbsolute, resolve, sep } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { HarmoniaError } from '../errors.ts';
import { canonicalPath, isInside } from '../util/output-safety.ts';
import { DEFAULT_MODEL_DIR, isModelDir } from '../pipeline/model.ts';
import { OUTPUT_FORMATS } from '../pipeline/harmonize.ts';
import type { OutputFormat } from '../image/io.ts';
import type { Stage } from '../pipeline/refine.ts';
import { HarmonizePool, OverCapacityError, PoolError } from './pool.ts';
import { checkJob, type ImageJob, type JobResult } from './job.ts';
import { Registry, PROMETHEUS_CONTENT_TYPE } from './metrics.ts';
import { STAGES } from '../config/index.ts';
import { is } from '../util/is.ts';

export interface ServeOptions {
  /** Folder that JSON requests' paths are resolved in and may never leave. Without it, JSON path inputs are refused. */
  root?: string;
  /** Worker threads (default: one per core). */
  threads?: number;
  /** Requests that may wait for a thread (default 2 per thread); more get 503. */
  maxQueue?: number;
  /** Largest request body, bytes (default 32 MiB); each uploaded file at most this too. */
  bodyLimit?: number;
  /** Models by name (name → folder); `default` is the shipped model when present. */
  models?: Record<string, string>;
  /** Decompression-bomb guard per input image (pixels, default 40 MP). */
  maxPixels?: number;
  /** A request running longer fails with 503 and its thread is replaced (default 120 s). */
  timeoutMs?: number;
  /** Request deadline: headers + body must arrive within this of the request's first byte, else 408 (default 120 s). */
  bodyTimeoutMs?: number;
  /** Idle timeout: a connection must send a request head within this, and is closed after this long idle between requests (default 30 s). */
  idleTimeoutMs?: number;
  /**
   * zlib level of PNG answers, 0–9 (default 1: fast; 6 = the library's, byte-identical to `harmonia harmonize`).
   * The decoded pixels are the same at every level.
   */
  pngLevel?: number;
  /** Requests a worker thread may hold at once, 1–4 (default 2; pool.ts). */
  pipeline?: number;
}

/** Thrown for requests the server refuses with a given 4xx status. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

const FILE_FIELDS = ['composite', 'mask', 'background', 'foreground'] as const;
type FileField = (typeof FILE_FIELDS)[number];
const OPTION_FIELDS = ['stage', 'model', 'format', 'quality', 'at', 'scale', 'harmonizeBackground', 'response'] as const;

export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024;
export const DEFAULT_SERVE_MAX_PIXELS = 40_000_000;
export const DEFAULT_BODY_TIMEOUT_MS = 120_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_DRAIN_MS = 25_000;
/** PNG answers are compressed at this zlib level by default: about half the encode time of the library's 6, ~13 % larger at 256². */
export const DEFAULT_SERVE_PNG_LEVEL = 1;
/** Largest request head (request line + headers), bytes: Node's default; more gets 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** How often the HTTP server looks for connections past a deadline: 1/30 of the shortest deadline, in [50 ms, 1 s]. */
export function checkIntervalMs(bodyTimeoutMs: number, idleTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(Math.min(bodyTimeoutMs, idleTimeoutMs) / 30)));
}

interface Metrics {
  registry: Registry;
  requests: ReturnType<Registry['counter']>;
  latency: ReturnType<Registry['histogram']>;
}

export interface HarmoniaServer {
  app: FastifyInstance;
  pool: HarmonizePool;
  /** Model names → folders the threads loaded. */
  models: Record<string, string>;
  /**
   * Stops the server: from now on new work gets 503 (`Connection: close`) and /health answers 503
   * `"draining"`; requests in flight may finish for at most `drainMs` (default 0); then every
   * connection left (slow uploads included) is closed and the threads are stopped. Never waits longer.
   */
  close(drainMs?: number): Promise<void>;
  /** True once close() was called. */
  readonly draining: boolean;
}

/** One line, the root folder named as "<root>" (never the server's absolute paths). */
function oneLine(msg: string, root?: string): string {
  let s = msg.replace(/\s*\n\s*/g, ' ').trim();
  if (root) s = s.split(root + sep).join('').split(root).join('<root>');
  return s.length > 500 ? `${s.slice(0, 497)}...` : s;
}

function parseAt(v: unknown): [number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').map((s) => (s.trim() === '' ? NaN : Number(s))) : [NaN];
  if (parts.length !== 2 || !parts.every((n) => typeof n === 'number' && Number.isFinite(n))) throw new HttpError(400, `at must be two numbers "x,y" or [x, y], got ${JSON.stringify(v)}`);
  return [parts[0] as number, parts[1] as number];
}

function parseNumber(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new HttpError(400, `${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

function parseBool(v: unknown, name: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === true || v === 'true' || v === '1') return true;
  if (v === false || v === 'false' || v === '0') return false;
  throw new HttpError(400, `${name} must be true or false, got ${JSON.stringify(v)}`);
}

/** Builds the Fastify app and starts the worker pool (threads load the models before this returns). */
export async function createServer(opts: ServeOptions = {}): Promise<HarmoniaServer> {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!(Number.isSafeInteger(bodyLimit) && bodyLimit >= 1024)) throw new HarmoniaError(`bodyLimit must be an integer ≥ 1024 bytes, got ${bodyLimit}`);
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  for (const [k, v] of [['bodyTimeoutMs', bodyTimeoutMs], ['idleTimeoutMs', idleTimeoutMs]] as const) {
    if (!(Number.isFinite(v) && v >= 100 && v <= 3_600_000)) throw new HarmoniaError(`${k} must be in [100, 3600000] ms, got ${v}`);
  }
  const maxPixels = opts.maxPixels ?? DEFAULT_SERVE_MAX_PIXELS;
  const pngLevel = opts.pngLevel ?? DEFAULT_SERVE_PNG_LEVEL;
  if (!(Number.isInteger(pngLevel) && pngLevel >= 0 && pngLevel <= 9)) throw new HarmoniaError(`pngLevel must be an integer in [0, 9], got ${pngLevel}`);
  let root: string | undefined;
  if (opts.root !== undefined) {
    if (!existsSync(opts.root) || !statSync(opts.root).isDirectory()) throw new HarmoniaError('root is not a folder', { file: opts.root });
    root = canonicalPath(opts.root);
  }
  const models: Record<string, string> = { ...(opts.models ?? {}) };
  if (!models.default && isModelDir(DEFAULT_MODEL_DIR)) models.default = DEFAULT_MODEL_DIR;
  for (const [name, dir] of Object.entries(models)) {
    if (!isModelDir(dir)) throw new HarmoniaError(`model "${name}": no model here (model.json or harmonia.json missing)`, { file: dir });
  }

  const loadStart = performance.now();
  const pool = await HarmonizePool.create({
    threads: opts.threads, maxQueue: opts.maxQueue, models: Object.values(models), timeoutMs: opts.timeoutMs, pipeline: opts.pipeline, pngLevel,
  });
  const startupMs = performance.now() - loadStart;

  const registry = new Registry();
  const m: Metrics = {
    registry,
    requests: registry.counter('harmonia_http_requests_total', 'HTTP requests by route and status code'),
    latency: registry.histogram('harmonia_http_request_duration_seconds', 'HTTP request latency (seconds) by route, from the first byte to the answer'),
  };
  registry.gauge('harmonia_queue_depth', 'requests waiting for a worker thread').set(() => pool.stats().queued);
  registry.gauge('harmonia_queue_capacity', 'requests that may wait before the server answers 503').set(pool.maxQueue);
  registry.gauge('harmonia_workers_busy', 'worker threads running a request').set(() => pool.stats().busy);
  registry.gauge('harmonia_workers', 'worker threads').set(pool.threads);
  const rejected = registry.counter('harmonia_rejected_total', 'requests refused with 503 because the server was over capacity');
  registry.gauge('harmonia_worker_restarts', 'worker threads replaced after a crash or timeout').set(() => pool.restarts);
  registry.gauge('harmonia_model_load_seconds', 'start-up of the slowest worker thread: engine + every model, loaded once').set(pool.loadMs / 1000);
  registry.gauge('harmonia_startup_seconds', 'pool start-up as seen by the server, seconds').set(startupMs / 1000);
  const modelsGauge = registry.gauge('harmonia_model_loaded', 'models loaded by every worker thread (1 = loaded)');
  for (const name of Object.keys(models)) modelsGauge.set(1, { model: name });
  registry.gauge('harmonia_jobs_completed', 'requests harmonized since start').set(() => pool.completed);
  const clientErrors = registry.counter('harmonia_client_errors_total', 'connections closed before a route ran: 408 past a deadline, 431 headers too large, 400 malformed HTTP');

  /** Connection-level errors (before any route): one line of JSON, then the connection is closed. */
  function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let status: number, text: string, error: string;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      [status, text] = [408, 'Request Timeout'];
      error = `request timeout: the request head must arrive within ${idleTimeoutMs / 1000} s and the whole request within ${bodyTimeoutMs / 1000} s`;
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      [status, text] = [431, 'Request Header Fields Too Large'];
      error = `request headers too large (the limit is ${MAX_HEADER_BYTES} bytes)`;
    } else {
      [status, text] = [400, 'Bad Request'];
      error = 'malformed HTTP request';
    }
    clientErrors.inc({ status: String(status) });
    const body = JSON.stringify({ error });
    // as Node's own handler: never write a second answer after one has started on this connection
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !answering) socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    socket.destroy();
  }

  const app = Fastify({
    logger: false, bodyLimit, forceCloseConnections: true, clientErrorHandler: clientError,
    // Node's server enforces the deadlines: it looks at every open connection each checkIntervalMs
    serverFactory: (handler) => {
      const server = createHttpServer({
        requestTimeout: bodyTimeoutMs,
        headersTimeout: Math.min(idleTimeoutMs, bodyTimeoutMs),
        keepAliveTimeout: idleTimeoutMs,
        connectionsCheckingInterval: checkIntervalMs(bodyTimeoutMs, idleTimeoutMs),
        maxHeaderSize: MAX_HEADER_BYTES,
      }, handler);
      server.setTimeout(0); // no inactivity cut: a request waiting for its answer is idle, not late
      return server;
    },
  });
  let draining = false;
  let closing: Promise<void> | undefined;
  /** Responses of POST /harmonize requests in flight (what a drain waits for). */
  const inflight = new Set<ServerResponse>();
  app.removeContentTypeParser('text/plain'); // only multipart/form-data and application/json
  await app.register(multipart, {
    limits: { fileSize: bodyLimit, files: 4, fields: OPTION_FIELDS.length, parts: 4 + OPTION_FIELDS.length, fieldSize: 1024, headerPairs: 100 },
  });

  app.addHook('onRequest', async (req, reply) => {
    (req as FastifyRequest & { t0: number }).t0 = performance.now();
    if (req.method === 'POST' && req.url.split('?')[0] === '/harmonize') {
      if (draining) {
        reply.header('connection', 'close');
        throw new PoolError('the server is shutting down; retry on another instance', 503);
      }
      const res = reply.raw;
      inflight.add(res);
      res.once('close', () => inflight.delete(res));
    }
    // over capacity: refuse before reading the body (submit() checks again once it is read)
    if (req.method === 'POST' && req.url.split('?')[0] === '/harmonize' && pool.load >= pool.capacity) {
      throw new OverCapacityError(pool.retryAfter());
    }
  });
  app.addHook('onSend', async (_req, reply) => {
    if (draining) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    m.requests.inc({ route, status: String(reply.statusCode) });
    m.latency.observe((performance.now() - (req as FastifyRequest & { t0: number }).t0) / 1000, { route });
    if (reply.statusCode === 503) rejected.inc();
  });

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof OverCapacityError) {
      return reply.code(503).header('retry-after', String(err.retryAfterS)).send({ error: err.message });
    }
    if (err instanceof HttpError) return reply.code(err.status).send({ error: oneLine(err.message, root) });
    if (err instanceof HarmoniaError) return reply.code(400).send({ error: oneLine(err.message, root) });
    if (err instanceof PoolError) {
      if (err.status === 503) reply.header('retry-after', String(pool.retryAfter()));
      if (err.status >= 500) console.error(`harmonia serve: ${oneLine(err.message)}`);
      return reply.code(err.status).send({ error: oneLine(err.message, root) });
    }
    const e = err as { statusCode?: number; message?: string; code?: string };
    const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
    if (status < 500) {
      let msg = e.message ?? 'bad request';
      if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.code === 'FST_REQ_FILE_TOO_LARGE') msg = `request body too large (the limit is ${bodyLimit} bytes)`;
      else if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') msg = 'unsupported content type: send multipart/form-data (files) or application/json (paths under the root)';
      return reply.code(status).send({ error: oneLine(msg, root) });
    }
    console.error(`harmonia serve: internal error: ${oneLine(e.message ?? String(err))}`);
    return reply.code(500).send({ error: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));

  /** A JSON path input: a string inside the root, never outside it (after `..` and symbolic links). */
  function pathInput(v: unknown, field: FileField): string {
    if (typeof v !== 'string' || v === '' || v.includes('\0')) throw new HttpError(400, `${field} must be a path (a non-empty string)`);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw new HttpError(400, `${field}: URLs are not supported; upload the image (multipart) or give a path under the server's root`);
    if (!root) throw new HttpError(403, `${field}: path inputs are disabled (the server was started without --root); upload the image as multipart/form-data`);
    const abs = isAbsolute(v) ? v : resolve(root, v);
    const canon = canonicalPath(abs);
    if (!isInside(canon, root) || canon === root) throw new HttpError(403, `${field}: path ${JSON.stringify(v)} is outside the server's root`);
    return canon;
  }

  function options(src: Record<string, unknown>): { job: Omit<ImageJob, FileField>; json: boolean } {
    const stage = src.stage;
    if (stage !== undefined) is.oneOf('stage', stage, STAGES); // a HarmoniaError: 400, in the one format
    const format = src.format;
    if (format !== undefined && !OUTPUT_FORMATS.includes(format as OutputFormat)) throw new HttpError(400, `format must be ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
    let model: string | null | undefined;
    if (src.model !== undefined) {
      if (typeof src.model !== 'string' || !Object.hasOwn(models, src.model)) {
        throw new HttpError(400, `model must be one of ${Object.keys(models).join(', ') || '(none loaded)'}, got ${JSON.stringify(src.model)}`);
      }
      model = models[src.model];
    } else model = models.default ?? (stage === undefined ? undefined : null);
    const response = src.response ?? 'image';
    if (response !== 'image' && response !== 'json') throw new HttpError(400, `response must be image or json, got ${JSON.stringify(response)}`);
    const job: Omit<ImageJob, FileField> = {
      stage: stage as Stage | undefined, model, format: format as OutputFormat | undefined,
      quality: parseNumber(src.quality, 'quality'), at: parseAt(src.at), scale: parseNumber(src.scale, 'scale'),
      harmonizeBackground: parseBool(src.harmonizeBackground, 'harmonizeBackground'), maxPixels, pngLevel,
    };
    return { job, json: response === 'json' };
  }

  /**
   * A multipart body. Whatever the parser throws on a malformed body (no or wrong boundary, truncated
   * part, bad part headers, a client gone mid-body) is a 400 naming the problem, never a 500.
   */
  async function readMultipart(req: FastifyRequest): Promise<{ job: ImageJob; json: boolean }> {
    try {
      return await readMultipartParts(req);
    } catch (err) {
      if (err instanceof HttpError || err instanceof HarmoniaError || err instanceof OverCapacityError || err instanceof PoolError) throw err;
      const e = err as { statusCode?: number; message?: string };
      if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) throw err; // limits: 413 etc.
      throw new HttpError(400, `malformed multipart/form-data body: ${e.message ?? String(err)}`);
    }
  }

  async function readMultipartParts(req: FastifyRequest): Promise<{ job: ImageJob; json: boolean }> {
    const files: Partial<Record<FileField, Uint8Array>> = {};
    const fields: Record<string, unknown> = {};
    let total = 0;
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (!(FILE_FIELDS as readonly string[]).includes(part.fieldname)) {
          part.file.resume();
          throw new HttpError(400, `unknown file field "${part.fieldname}": expected ${FILE_FIELDS.join(', ')}`);
        }
        const buf = await part.toBuffer();
        total += buf.byteLength;
        if (total > bodyLimit) throw new HttpError(413, `request body too large (the limit is ${bodyLimit} bytes)`);
        if (buf.byteLength === 0) throw new HttpError(400, `${part.fieldname}: empty file`);
        files[part.fieldname as FileField] = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } else {
        if (!(OPTION_FIELDS as readonly string[]).includes(part.fieldname)) throw new HttpError(400, `unknown field "${part.fieldname}": expected ${OPTION_FIELDS.join(', ')}`);
        if (part.valueTruncated) throw new HttpError(413, `field ${part.fieldname} is too long`);
        fields[part.fieldname] = part.value;
      }
    }
    const { job, json } = options(fields);
    return { job: { ...job, ...files }, json };
  }

  function readJson(req: FastifyRequest): { job: ImageJob; json: boolean } {
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the JSON body must be an object { composite, mask, ... } or { background, foreground, ... }');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) {
      if (!(FILE_FIELDS as readonly string[]).includes(k) && !(OPTION_FIELDS as readonly string[]).includes(k)) {
        throw new HttpError(400, `unknown field "${k}": expected ${[...FILE_FIELDS, ...OPTION_FIELDS].join(', ')}`);
      }
    }
    const { job, json } = options(b);
    const files: Partial<Record<FileField, string>> = {};
    for (const f of FILE_FIELDS) if (b[f] !== undefined) files[f] = pathInput(b[f], f);
    return { job: { ...job, ...files }, json };
  }

  app.post('/harmonize', async (req: FastifyRequest, reply: FastifyReply) => {
    const t0 = performance.now();
    const { job, json } = req.isMultipart() ? await readMultipart(req) : readJson(req);
    try {
      checkJob(job);
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    // the uploads' bytes are moved to the thread, not copied (nothing here reads them again)
    const r: JobResult & { queueMs: number } = await pool.submit(job, { transfer: true });
    const timings = { queue: r.queueMs, ...r.timings, request: Math.round((performance.now() - t0) * 100) / 100 };
    if (json) {
      return reply.code(200).type('application/json').send({
        width: r.width, height: r.height, format: r.format, stage: r.stage, model: r.model ?? null, timings, notes: r.notes,
        image: Buffer.from(r.image.buffer, r.image.byteOffset, r.image.byteLength).toString('base64'),
      });
    }
    const serverTiming = Object.entries(timings).map(([k, v]) => `${k};dur=${v}`).join(', ');
    return reply.code(200).type(`image/${r.format}`).header('server-timing', serverTiming)
      .send(Buffer.from(r.image.buffer, r.image.byteOffset, r.image.byteLength));
  });

  app.get('/health', async (_req, reply) => {
    const s = pool.stats();
    if (draining) reply.code(503);
    return { status: draining ? 'draining' : 'ok', backend: s.backend, threads: s.threads, busy: s.busy, queued: s.queued, maxQueue: s.maxQueue, completed: s.completed, models: Object.keys(models) };
  });

  app.get('/metrics', async (_req, reply) => reply.type(PROMETHEUS_CONTENT_TYPE).send(registry.render()));

  const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms).unref());
  return {
    app, pool, models,
    get draining() { return draining; },
    close(drainMs = 0) {
      closing ??= (async () => {
        draining = true;
        const deadline = performance.now() + Math.max(0, drainMs);
        app.server.closeIdleConnections(); // kept-alive connections with no request: nothing to wait for
        while (inflight.size > 0 && performance.now() < deadline) await sleep(Math.min(50, Math.max(1, deadline - performance.now())));
        // the drain is over: stop listening and close every connection left (slow uploads included)
        const closed = app.close();
        app.server.closeAllConnections();
        await Promise.race([closed, sleep(1000)]);
        await Promise.race([pool.close(), sleep(2000)]);
      })();
      return closing;
    },
  };
}
