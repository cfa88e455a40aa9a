/**
 * Batch jobs on BullMQ + Redis (docs/SERVICE.md § Batch jobs): `harmonia enqueue` adds one job per
 * composite, `harmonia worker` (any number of processes, on any number of machines sharing the
 * input and output folders) harmonizes them, `harmonia jobs` shows progress.
 *
 * Idempotence: a job's id is the SHA-256 of its inputs' bytes, its options and its output name, so
 * enqueuing the same batch twice adds nothing. A worker re-reads the inputs and refuses a job whose
 * inputs changed since it was enqueued. Outputs are written atomically (temp file + rename: never a
 * partial file). Before writing, the worker checks the output: if the record in Redis (`<queue>:outputs`)
 * says it came from this job, or its bytes already equal the result (a worker killed between the
 * rename and the acknowledgement), nothing is written again. So a retried job never writes twice.
 * Every real write is recorded as a member `<job hash>:<write token>` of the set `harmonia:<queue>:writes`
 * (what the fault tests count).
 *
 * Confinement (names.ts): a job's name is checked at enqueue and again in the worker, before anything
 * is created or written; the output path must resolve, through symbolic links, inside `-o`. A worker
 * never replaces a file it did not make: an existing output is replaced only when the queue's record
 * (`harmonia:<queue>:output-sha`, or `…:output-sha-started` for a write whose worker was killed before
 * recording it) says this queue wrote exactly those bytes; otherwise the job fails
 * with a reason naming the file. Lost outputs: `enqueue --redo-missing` re-enqueues done jobs whose
 * output file is gone, and `queueProgress({ checkOutputs })` counts them.
 */
import { lstat, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { HarmoniaError } from '../errors.ts';
import { writeFileAtomic, pidAlive } from '../util/atomic.ts';
import { checkOutputs, prepareOutputs } from '../util/output-safety.ts';
import type { OutputFormat } from '../image/io.ts';
import type { Stage } from '../pipeline/refine.ts';
import { OUTPUT_FORMATS } from '../pipeline/harmonize.ts';
import { DEFAULT_MODEL_DIR, isModelDir } from '../pipeline/model.ts';
import { runImageJob, type ImageJob, type JobResult } from './job.ts';
import { HarmonizePool } from './pool.ts';
import { checkConfinedOutput, checkJobName, jobNameProblem, JOB_NAME_RULE } from './names.ts';

export const DEFAULT_QUEUE = 'harmonia';

export interface BatchOptions {
  stage?: Stage;
  /** Model folder (readable by every worker); undefined = the shipped default. */
  model?: string;
  format: OutputFormat;
  quality?: number;
}

/** What a job carries: absolute input paths (on the shared file system), the output name, options. */
export interface BatchJobData extends BatchOptions {
  name: string;
  composite: string;
  mask: string;
  /** SHA-256 of the inputs' bytes + options + name; also the job id. */
  hash: string;
}

export interface BatchJobResult {
  output: string;
  /** False when the output was already there from this job (a retry or a duplicate delivery). */
  written: boolean;
  width?: number;
  height?: number;
  ms: number;
  /** Milliseconds per step: check (output safety, reading + hashing the inputs, the output record), decode, harmonize (+ encode), write (lock, compare, atomic write, record). */
  steps?: Record<string, number>;
}

export interface BatchItemInput {
  name: string;
  composite: string;
  mask: string;
  /** Where the item came from, for messages (e.g. "list.txt line 3"); default: its composite. */
  origin?: string;
}

/** Checks and parses a redis:// URL (the --redis flag) into ioredis options. */
export function parseRedisUrl(url: string, flag = '--redis'): { host: string; port: number; db: number; username?: string; password?: string; tls?: object } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HarmoniaError(`${flag} must be a URL like redis://127.0.0.1:6379, got "${redactRedisUrl(url)}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new HarmoniaError(`${flag} must start with redis:// or rediss://, got "${redactRedisUrl(url)}"`);
  const port = u.port ? Number(u.port) : 6379;
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new HarmoniaError(`${flag}: bad port in "${redactRedisUrl(url)}"`);
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!(Number.isInteger(db) && db >= 0)) throw new HarmoniaError(`${flag}: the database after the port must be a number, got "${path}"`);
  return {
    host: u.hostname || '127.0.0.1', port, db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** The URL with its password replaced by "***" (for messages and logs). */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** Checks a queue name (the --queue flag). */
export function checkQueueName(name: string, flag = '--queue'): string {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new HarmoniaError(`${flag} must be 1-100 letters, digits, _ . or -, got "${name}"`);
  return name;
}

/** ioredis connection options BullMQ needs for workers (retry forever across a Redis restart). */
function connection(url: string): ReturnType<typeof parseRedisUrl> & { maxRetriesPerRequest: null; retryStrategy: (n: number) => number } {
  return { ...parseRedisUrl(url), maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(2000, 50 * 2 ** Math.min(n, 6)) };
}

/** A raw Redis client (records of written outputs, used next to BullMQ's own keys). */
export function redisClient(url: string): Redis {
  return new Redis({ ...connection(url), lazyConnect: false });
}

/** The job id: SHA-256 of the composite's and mask's bytes, the options and the name. */
export function jobHash(composite: Uint8Array, mask: Uint8Array, opts: BatchOptions, name: string): string {
  const h = createHash('sha256');
  h.update(createHash('sha256').update(composite).digest());
  h.update(createHash('sha256').update(mask).digest());
  h.update(JSON.stringify({ stage: opts.stage ?? null, model: opts.model ?? null, format: opts.format, quality: opts.quality ?? null, name }));
  return h.digest('hex');
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HarmoniaError(`cannot read the ${what}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`, { file: path, cause: err });
  }
}

const HOST = hostname();

/** Deletes a lock only when it still holds our token. */
const RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Takes the write lock of an output (KEYS[1]) and returns {1, its recorded job hash or '', the recorded
 * SHA-256 of its bytes or '', the SHA-256 of a write that was started but not recorded (its worker
 * was killed between the two) or ''}, or {0, '', '', ''}.
 */
const ACQUIRE_WRITE = `if redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then
  local h = redis.call('hget', KEYS[2], ARGV[3]) if not h then h = '' end
  local s = redis.call('hget', KEYS[3], ARGV[3]) if not s then s = '' end
  local p = redis.call('hget', KEYS[4], ARGV[3]) if not p then p = '' end
  return {1, h, s, p} end
return {0, '', '', ''}`;

/**
 * Records a real write (ARGV[4] = '1') as the member "<hash>:<token>" of the writes set (idempotent:
 * a script re-sent after a lost connection counts once), records output → hash and output → SHA-256 of
 * its bytes (ARGV[5]), clears the started-write record (KEYS[5]), releases the lock if still ours.
 */
const FINISH_WRITE = `if ARGV[4] == '1' then redis.call('sadd', KEYS[1], ARGV[1] .. ':' .. ARGV[3]) end
redis.call('hset', KEYS[2], ARGV[2], ARGV[1])
redis.call('hset', KEYS[4], ARGV[2], ARGV[5])
redis.call('hdel', KEYS[5], ARGV[2])
if redis.call('get', KEYS[3]) == ARGV[3] then redis.call('del', KEYS[3]) end
return 1`;

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A job that can never succeed as given (a hostile or malformed job): failed at once, never retried. */
function fatal(message: string): UnrecoverableError {
  return new UnrecoverableError(message);
}


export interface EnqueueOptions extends BatchOptions {
  redis: string;
  queue?: string;
  /** Tries before a job goes to the failed list (default 3). */
  attempts?: number;
  /** First retry delay, doubled each try (default 1000 ms). */
  backoffMs?: number;
  /** Enqueue again the jobs already done whose output file is missing (deleted since). Default false. */
  redoMissing?: boolean;
  /** Enqueue again the jobs on the failed list. Default false. */
  retryFailed?: boolean;
}

export interface EnqueueResult {
  /** Jobs added (new ones, and done or failed ones enqueued again). */
  added: number;
  /** Jobs already known to the queue and left as they are. */
  existing: number;
  /** Of `existing`: done, but their output file is missing (`redoMissing` enqueues them again). */
  missing: number;
  /** Of `existing`: on the failed list (`retryFailed` enqueues them again). */
  failed: number;
  /** Of `added`: done jobs whose output was missing, and failed jobs, enqueued again. */
  redone: number;
  ids: string[];
}

/** True when a done job's recorded output file is no longer there (a regular file). */
async function outputMissing(output: unknown): Promise<boolean> {
  if (typeof output !== 'string' || output === '') return false;
  const st = await stat(output).catch(() => undefined);
  return !st?.isFile();
}

/**
 * Adds one job per item (inputs hashed now). Jobs already known to the queue are not added again,
 * except done jobs whose output is missing (with `redoMissing`) and failed jobs (with `retryFailed`).
 * Every name is checked first (names.ts): one bad name refuses the whole batch before anything is added.
 */
export async function enqueueBatch(items: readonly BatchItemInput[], opts: EnqueueOptions): Promise<EnqueueResult> {
  const names = new Set<string>();
  for (const it of items) {
    checkJobName(it.name, it.origin ?? it.composite);
    if (names.has(it.name)) throw new HarmoniaError(`${it.origin ?? it.composite}: two composites are named "${it.name}"; their outputs would collide`);
    names.add(it.name);
  }
  const queue = new Queue<BatchJobData, BatchJobResult>(checkQueueName(opts.queue ?? DEFAULT_QUEUE), { connection: { ...parseRedisUrl(opts.redis), maxRetriesPerRequest: 3, retryStrategy: (n: number) => (n > 5 ? null : 200 * n) } });
  queue.on('error', () => undefined); // connection errors surface through the awaited calls
  try {
    const jobOpts: JobsOptions = {
      attempts: opts.attempts ?? 3,
      backoff: { type: 'exponential', delay: opts.backoffMs ?? 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    };
    let added = 0, existing = 0, missing = 0, failed = 0, redone = 0;
    const ids: string[] = [];
    const CHUNK = 200;
    for (let i = 0; i < items.length; i += CHUNK) {
      const chunk = items.slice(i, i + CHUNK);
      const datas = await Promise.all(chunk.map(async (it): Promise<BatchJobData> => {
        const composite = resolve(it.composite), mask = resolve(it.mask);
        const [c, m] = await Promise.all([readInput(composite, 'composite'), readInput(mask, 'mask')]);
        const base: BatchOptions = { stage: opts.stage, model: opts.model ? resolve(opts.model) : undefined, format: opts.format, quality: opts.quality };
        return { ...base, name: it.name, composite, mask, hash: jobHash(c, m, base, it.name) };
      }));
      const states = await Promise.all(datas.map((d) => queue.getJobState(d.hash)));
      const fresh: BatchJobData[] = [];
      await Promise.all(datas.map(async (d, k) => {
        const state = states[k];
        if (state === 'unknown') { fresh.push(d); return; }
        let redo = false;
        if (state === 'completed') {
          const job = await queue.getJob(d.hash);
          if (job && (await outputMissing(job.returnvalue?.output))) {
            if (opts.redoMissing) redo = true;
            else missing++;
          }
        } else if (state === 'failed') {
          if (opts.retryFailed) redo = true;
          else failed++;
        }
        if (!redo) { existing++; return; }
        await queue.remove(d.hash); // a done or failed job: nothing is running it
        fresh.push(d);
        redone++;
      }));
      if (fresh.length) {
        await queue.addBulk(fresh.map((d) => ({ name: d.name, data: d, opts: { ...jobOpts, jobId: d.hash } })));
        added += fresh.length;
      }
      ids.push(...datas.map((d) => d.hash));
    }
    return { added, existing, missing, failed, redone, ids };
  } catch (err) {
    if (err instanceof HarmoniaError) throw err;
    throw new HarmoniaError(`--redis ${redactRedisUrl(opts.redis)}: ${(err as Error).message}`, { cause: err });
  } finally {
    await queue.close().catch(() => undefined);
  }
}

/** The output path of a job: `<folder>/<name>.<ext>`, or a template with {name}, {hash}, {ext}. */
export function outputPath(output: string, data: Pick<BatchJobData, 'name' | 'hash' | 'format'>): string {
  const ext = data.format === 'jpeg' ? 'jpg' : data.format === 'tiff' ? 'tif' : data.format;
  if (output.includes('{')) {
    // placeholders are checked in the template itself (a name may contain braces)
    if (/\{[^}]*\}/.test(output.replace(/\{(name|hash|ext)\}/g, ''))) throw new HarmoniaError(`-o: unknown placeholder in the template "${output}" (use {name}, {hash}, {ext})`);
    return resolve(output.replace(/\{(name|hash|ext)\}/g, (_, k: string) => (k === 'name' ? data.name : k === 'hash' ? data.hash : ext)));
  }
  return resolve(join(output, `${data.name}.${ext}`));
}

/** Checks an -o folder or template before any work. */
export function checkOutputTemplate(output: string): void {
  if (!output) throw new HarmoniaError('-o/--output is required (a folder, or a template like out/{name}.{ext})');
  const probe = outputPath(output, { name: 'probe', hash: '0'.repeat(64), format: 'png' });
  if (output.includes('{') && !/\{(name|hash)\}/.test(output)) throw new HarmoniaError(`-o: the template "${output}" must contain {name} or {hash} (one file per job)`);
  if (output.includes('{') && /[/\\]$/.test(output)) throw new HarmoniaError(`-o: the template "${output}" ends in a slash, so it names a folder, but each job writes one file (drop the slash, or give the folder alone)`);
  // a file the worker would write there stands for every job's output; a refusal names -o as typed, not that file
  const probePath = output.includes('{') ? probe : join(output, 'probe.png');
  try {
    checkOutputs([], [{ path: probePath, flag: '-o', kind: 'file', mkdir: true }]);
  } catch (err) {
    if (err instanceof HarmoniaError && err.file === probePath) throw new HarmoniaError(err.message.slice(probePath.length + 2), { file: output, cause: err });
    throw err;
  }
}

/** The extensions a job's output may have for its format (a template may fix one, e.g. `out/{name}.jpg`). */
export const JOB_OUTPUT_EXTENSIONS: Readonly<Record<OutputFormat, readonly string[]>> = { png: ['.png'], jpeg: ['.jpg', '.jpeg'], webp: ['.webp'], tiff: ['.tif', '.tiff'] };

/**
 * The worker's checks of one job before anything is created or written (issue 28, fault 1 and the
 * output rule): the job's fields (name, hash, format, absolute input paths), its name (names.ts), its
 * output path confined to `-o` (checkConfinedOutput), then the project's output rule (`checkOutputs`:
 * never an input, a file of a model, dataset or run, a device, FIFO or read-only file, and the
 * extension of the job's format). Returns the output path; throws a HarmoniaError naming the job and
 * the problem (the worker fails the job at once, no retry). A file already there that passes is
 * still replaced only when the queue's record says the queue wrote it (checked under the write lock).
 */
export function planJobOutput(output: string, data: unknown, id: string): string {
  const d = data as BatchJobData;
  if (!d || typeof d !== 'object' || typeof d.composite !== 'string' || typeof d.mask !== 'string' || typeof d.name !== 'string' || typeof d.hash !== 'string') {
    throw new HarmoniaError(`job ${id}: not a harmonia job (missing composite, mask, name or hash)`);
  }
  const nameProblem = jobNameProblem(d.name);
  if (nameProblem) throw new HarmoniaError(`job ${id}: the job name ${JSON.stringify(d.name)} ${nameProblem}; ${JOB_NAME_RULE}. Nothing was written`);
  if (!/^[0-9a-f]{64}$/.test(d.hash)) throw new HarmoniaError(`job ${id}: its hash must be 64 hex digits (a SHA-256), got ${JSON.stringify(d.hash.slice(0, 80))}. Nothing was written`);
  if (!OUTPUT_FORMATS.includes(d.format)) throw new HarmoniaError(`job ${id}: format must be ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(d.format)}. Nothing was written`);
  if (!isAbsolute(d.composite) || !isAbsolute(d.mask)) throw new HarmoniaError(`job ${id}: input paths must be absolute`);
  try {
    const out = outputPath(output, d);
    checkConfinedOutput(out, output, d.name);
    // the same output-safety rule as the CLI: never an input, a device, a FIFO or a read-only file
    checkOutputs([{ path: d.composite, what: 'composite' }, { path: d.mask, what: 'mask' }], [{ path: out, flag: '-o', kind: 'file', mkdir: true, ext: { list: JOB_OUTPUT_EXTENSIONS[d.format], format: d.format.toUpperCase() } }],
      { readOnlyHint: 'the worker never replaces a read-only file: move it away or make it writable, then retry the job' });
    return out;
  } catch (err) {
    throw new HarmoniaError(`job ${id} (${JSON.stringify(d.name)}): ${(err as Error).message}. Nothing was written`, { cause: err });
  }
}

export interface WorkerOptions {
  redis: string;
  queue?: string;
  /** Output folder or path template ({name}, {hash}, {ext}). */
  output: string;
  /** Jobs run at once by this process (default 1 without threads, 2 per thread with them). */
  concurrency?: number;
  /**
   * Worker threads that decode, harmonize and encode (pool.ts, each loading the models once); this
   * thread then only checks, reads, hashes and writes, overlapping them with the threads' work.
   * 0 (the default) runs everything on this thread. `harmonia worker` uses one per core.
   */
  threads?: number;
  /** How long a job's lock lasts without renewal; a killed worker's job is retried after it (default 30 s). */
  lockMs?: number;
  /** Times a job may be found stalled (its worker died) before it fails (default 5). */
  maxStalled?: number;
  /** Called after each try of a job (for the CLI's log); `final`: the job is done or on the failed list (no retry left). */
  onJob?: (e: { id: string; name: string; ok: boolean; result?: BatchJobResult; error?: string; attempt: number; final: boolean }) => void;
}

export interface BatchWorker {
  worker: Worker<BatchJobData, BatchJobResult>;
  /** The threads' engine backend (`threads` > 0), or "main thread". */
  backend: string;
  /** Lets the running job(s) finish (at most `graceMs`, default 30 s), then disconnects; never hangs. */
  close(graceMs?: number): Promise<void>;
}

/** Starts a worker that takes jobs until close(). */
export async function startBatchWorker(opts: WorkerOptions): Promise<BatchWorker> {
  const queueName = checkQueueName(opts.queue ?? DEFAULT_QUEUE);
  checkOutputTemplate(opts.output);
  const redis = redisClient(opts.redis);
  redis.on('error', () => undefined); // reconnects by itself; commands wait for it
  const outputsKey = `harmonia:${queueName}:outputs`;
  const outputShaKey = `harmonia:${queueName}:output-sha`;
  /** output → SHA-256 of a write started under the lock (set before the rename, cleared once recorded). */
  const startedKey = `harmonia:${queueName}:output-sha-started`;
  const writesKey = `harmonia:${queueName}:writes`;
  const lockMs = opts.lockMs ?? 30_000;
  const writeLockMs = Math.max(5000, 2 * lockMs);
  const lockKeyOf = (out: string) => `harmonia:${queueName}:writing:${out}`;
  const threads = opts.threads ?? 0;
  if (!(Number.isInteger(threads) && threads >= 0 && threads <= 32)) throw new HarmoniaError(`threads must be an integer in [0, 32], got ${threads}`);
  const concurrency = opts.concurrency ?? (threads > 0 ? 2 * threads : 1);

  /**
   * A write lock whose holder was a worker of this machine that is gone (killed) is released; one
   * held by a live worker, here or on another machine, is left alone.
   */
  async function releaseIfDead(lockKey: string): Promise<boolean> {
    const holder = await redis.get(lockKey);
    if (holder === null) return true;
    const [host, pid] = holder.split('|');
    if (host !== HOST || pidAlive(Number(pid))) return false;
    await redis.eval(RELEASE_LOCK, 1, lockKey, holder);
    return true;
  }

  /**
   * Removes the temp files that killed workers left in `dir` (`.<name>.<pid>.<time>.<n>.tmp`, see
   * util/atomic.ts). Safe with workers on several machines sharing the folder: a temp file is removed
   * only when nobody holds its output's write lock (every queue write happens under it), and, if its
   * writer pid is alive on this machine, only when it is over a minute old (another program's write).
   */
  const swept = new Map<string, number>();
  async function sweep(dir: string): Promise<void> {
    swept.set(dir, Date.now());
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^\.(.+)\.(\d+)\.\d+\.\d+\.tmp$/.exec(name);
      if (!m) continue;
      try {
        if (!(await releaseIfDead(lockKeyOf(join(dir, m[1]))))) continue;
        const st = await stat(join(dir, name));
        if (!st.isFile() || (pidAlive(Number(m[2])) && Date.now() - st.mtimeMs < 60_000)) continue;
        await unlink(join(dir, name));
      } catch {
        /* raced with its writer or another sweeper: leave it */
      }
    }
  }

  // temp files of killed workers first (before the threads' start-up, which takes a while)
  if (!opts.output.includes('{')) await sweep(resolve(opts.output));
  // the threads load the shipped model at start-up (others when a job names them); the pool's queue
  // holds every job this worker runs at once, so submit() never refuses one
  const pool = threads > 0
    ? await HarmonizePool.create({ threads, maxQueue: concurrency, models: isModelDir(DEFAULT_MODEL_DIR) ? [DEFAULT_MODEL_DIR] : [], timeoutMs: 3_600_000 })
    : undefined;
  /** Decode (both inputs at once), harmonize, encode (the library's bytes): on a pool thread, or here. */
  const harmonizeJob = async (job: ImageJob): Promise<JobResult> => {
    if (!pool) return runImageJob(job);
    const r = await pool.submit(job, { transfer: true }); // the bytes were hashed: moved, not copied
    return r;
  };

  /**
   * Called holding `out`'s write lock when the queue's record says a write of it was started and never
   * recorded (its worker was killed, maybe mid-write): that write's temp files are removed now. The
   * sweep may have skipped them while another worker held the lock for the retry, and with several
   * jobs at once a killed worker can leave several. Nobody else writes `out` under our lock; a temp
   * file of a live process of this machine is kept for a minute, as the sweep does.
   */
  async function sweepOutput(out: string): Promise<void> {
    const dir = dirname(out), base = basename(out);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^\.(.+)\.(\d+)\.\d+\.\d+\.tmp$/.exec(name);
      if (!m || m[1] !== base || Number(m[2]) === process.pid) continue;
      try {
        const st = await stat(join(dir, name));
        if (!st.isFile() || (pidAlive(Number(m[2])) && Date.now() - st.mtimeMs < 60_000)) continue;
        await unlink(join(dir, name));
      } catch {
        /* gone already */
      }
    }
  }

  const processor = async (job: Job<BatchJobData, BatchJobResult>): Promise<BatchJobResult> => {
    const t0 = performance.now();
    const d = job.data;
    // 1. the job itself and its output path, before anything is created or written (anyone with Redis access can add one)
    let out: string;
    try {
      out = planJobOutput(opts.output, d, String(job.id));
    } catch (err) {
      throw fatal((err as Error).message);
    }
    const dir = dirname(out);
    prepareOutputs([{ path: out, flag: '-o', kind: 'file', mkdir: true }]);
    if (Date.now() - (swept.get(dir) ?? 0) > 30_000) await sweep(dir); // temp files of killed workers
    const steps: Record<string, number> = {};
    let tStep = t0;
    const step = (name: string) => {
      const now = performance.now();
      steps[name] = Math.round((now - tStep) * 10) / 10;
      tStep = now;
    };
    const [c, m] = await Promise.all([readInput(d.composite, 'composite'), readInput(d.mask, 'mask')]);
    const hash = jobHash(c, m, d, d.name);
    if (hash !== d.hash) throw new HarmoniaError(`the inputs changed since the job was enqueued (content hash differs); enqueue it again`, { file: d.composite });
    // decode here so that an error names the file (the bytes are the ones hashed above)
    step('check');
    const h = await harmonizeJob({
      composite: c, mask: m, stage: d.stage, model: d.model, format: d.format, quality: d.quality, labels: { composite: d.composite, mask: d.mask },
    });
    const r = { image: Buffer.from(h.image.buffer, h.image.byteOffset, h.image.byteLength), width: h.width, height: h.height };
    steps.decode = h.timings.decode;
    step('harmonize'); // decode, harmonize and encode (and the wait for a thread)
    // One writer per output at a time (two deliveries of one job may overlap after a lost lock); under
    // the lock, the output's record and bytes decide whether to write. Two Redis round trips per job.
    const token = `${HOST}|${process.pid}|${job.id}|${Math.random().toString(36).slice(2)}`;
    const lockKey = lockKeyOf(out);
    const tLock = Date.now();
    let recordedHash: string, recordedSha: string, startedSha: string;
    for (;;) {
      const [ok, rec, recSha, started] = (await redis.eval(ACQUIRE_WRITE, 4, lockKey, outputsKey, outputShaKey, startedKey, token, String(writeLockMs), out)) as [number, string, string, string];
      if (ok === 1) { recordedHash = rec; recordedSha = recSha; startedSha = started; break; }
      if (Date.now() - tLock > 2 * writeLockMs) throw new HarmoniaError(`timed out waiting for another worker writing ${out}`);
      if (await releaseIfDead(lockKey)) continue; // its holder was killed on this machine
      await new Promise((res) => setTimeout(res, 25));
    }
    let written = false;
    let sha = '';
    const newSha = sha256(r.image);
    if (startedSha) await sweepOutput(out).catch(() => undefined);
    /** Records the write before it happens, so that a worker killed between the rename and FINISH_WRITE leaves a file the queue knows. */
    const write = async () => {
      await redis.hset(startedKey, out, newSha);
      await writeFileAtomic(out, r.image);
      written = true;
    };
    try {
      // Never replace a file this queue did not make: an existing output is kept when it already holds
      // the result (a retry), and replaced only when the record says this queue wrote exactly its bytes.
      const st = await lstat(out).catch(() => undefined);
      if (st) {
        if (!st.isFile()) throw fatal(`${out}: -o: the output exists and is not a regular file (a link, folder, device or FIFO); refusing to replace it. Nothing was written`);
        const existing = await readFile(out);
        const same = r.image.equals(existing);
        sha = sha256(existing);
        const ours = sha === recordedSha || sha === startedSha; // '' never equals a SHA-256
        if (!same && !ours) {
          throw fatal(`${out}: -o: the output exists and was not written by this queue (or was changed since); refusing to replace it: move it away and retry the job (harmonia enqueue … --retry-failed), or use another -o`);
        }
        if (!same && recordedHash !== hash) await write(); // this queue's output of an earlier job of the same name
      } else {
        await write();
      }
      if (written) sha = newSha;
      await redis.eval(FINISH_WRITE, 5, writesKey, outputsKey, lockKey, outputShaKey, startedKey, hash, out, token, written ? '1' : '0', sha);
    } catch (err) {
      await redis.eval(RELEASE_LOCK, 1, lockKey, token).catch(() => undefined);
      throw err;
    }
    step('write');
    return { output: out, written, width: r.width, height: r.height, ms: Math.round(performance.now() - t0), steps };
  };

  const worker = new Worker<BatchJobData, BatchJobResult>(queueName, processor, {
    connection: connection(opts.redis),
    name: `harmonia-worker-${process.pid}`, // recorded as each job's processedBy
    concurrency,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.min(30_000, lockMs)),
    maxStalledCount: opts.maxStalled ?? 5,
    autorun: true,
  });
  worker.on('error', () => undefined); // connection errors: BullMQ reconnects and goes on
  worker.on('completed', (job, result) => opts.onJob?.({ id: String(job.id), name: job.name, ok: true, result, attempt: job.attemptsMade, final: true }));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    opts.onJob?.({ id: String(job.id), name: job.name, ok: false, error: err.message.split('\n')[0], attempt: job.attemptsMade, final });
  });
  try {
    await worker.waitUntilReady();
  } catch (err) {
    await pool?.close();
    throw err;
  }
  return {
    worker,
    backend: pool?.backend ?? 'main thread',
    async close(graceMs = 30_000) {
      // the running job may finish (up to graceMs); never wait for ever (e.g. while Redis is down)
      const within = <T>(p: Promise<T>, ms: number) => Promise.race([p.then(() => true, () => true), new Promise<boolean>((res) => setTimeout(() => res(false), ms).unref())]);
      if (!(await within(worker.close(), graceMs))) await within(worker.close(true), 2000);
      for (const dir of swept.keys()) await within(sweep(dir), 2000);
      redis.disconnect();
      if (pool) await within(pool.close(), 5000);
    },
  };
}

export interface Progress {
  queue: string;
  done: number;
  failed: number;
  waiting: number;
  active: number;
  delayed: number;
  /**
   * Completed jobs per second of busy time, over the most recent completions (up to 1000), or 0: their
   * count divided by `busyS`, so time when no job was running (idle queue, no worker) does not count.
   */
  throughput: number;
  /** How many completions `throughput` is computed from (the most recent, at most 1000). */
  sampled: number;
  /** Busy time of those completions, seconds: the length of the union of their [start, finish] intervals. */
  busyS: number;
  /** Span of those completions, seconds: from the first one's start to the last one's end (busy + idle). */
  windowS: number;
  /** Done jobs whose output file is missing (deleted after it was written); only with `checkOutputs`. */
  missing?: number;
  /** Names of the first missing outputs (at most 10). */
  missingNames?: string[];
  /** The most recent failures, with their error. */
  failures: { id: string; name: string; error: string; attempts: number }[];
}

/** Length of the union of intervals [start, end] (ms), in ms. */
export function busyTime(intervals: readonly (readonly [number, number])[]): number {
  const sorted = intervals.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && b >= a).slice().sort((x, y) => x[0] - y[0]);
  let total = 0, curA = NaN, curB = NaN;
  for (const [a, b] of sorted) {
    if (Number.isNaN(curA) || a > curB) {
      if (!Number.isNaN(curA)) total += curB - curA;
      curA = a;
      curB = b;
    } else if (b > curB) curB = b;
  }
  if (!Number.isNaN(curA)) total += curB - curA;
  return total;
}

/** Counts and throughput of a queue (what `harmonia jobs` prints); `checkOutputs` also looks for lost outputs. */
export async function queueProgress(redisUrl: string, queueName = DEFAULT_QUEUE, opts: { failures?: number; checkOutputs?: boolean } = {}): Promise<Progress> {
  const queue = new Queue<BatchJobData, BatchJobResult>(checkQueueName(queueName), { connection: { ...parseRedisUrl(redisUrl), maxRetriesPerRequest: 3, retryStrategy: (n: number) => (n > 5 ? null : 200 * n) } });
  queue.on('error', () => undefined);
  try {
    const c = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    const recent = await queue.getJobs(['completed'], 0, 999, false);
    let throughput = 0, windowS = 0, busyS = 0;
    if (recent.length >= 1) {
      const spans = recent.map((j) => [j.processedOn ?? j.timestamp, j.finishedOn ?? j.processedOn ?? j.timestamp] as const);
      windowS = (Math.max(...spans.map((x) => x[1])) - Math.min(...spans.map((x) => x[0]))) / 1000;
      busyS = busyTime(spans) / 1000;
      throughput = busyS > 0 ? recent.length / busyS : 0;
    }
    let missing: number | undefined, missingNames: string[] | undefined;
    if (opts.checkOutputs) {
      missing = 0;
      missingNames = [];
      const PAGE = 1000;
      for (let start = 0; ; start += PAGE) {
        const page = await queue.getJobs(['completed'], start, start + PAGE - 1, true);
        const lost = await Promise.all(page.map((j) => outputMissing(j.returnvalue?.output)));
        page.forEach((j, k) => {
          if (!lost[k]) return;
          missing = (missing ?? 0) + 1;
          if ((missingNames as string[]).length < 10) (missingNames as string[]).push(j.name);
        });
        if (page.length < PAGE) break;
      }
    }
    const failedJobs = opts.failures ? await queue.getJobs(['failed'], 0, opts.failures - 1, false) : [];
    return {
      queue: queueName,
      done: c.completed ?? 0, failed: c.failed ?? 0,
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
      active: c.active ?? 0, delayed: c.delayed ?? 0,
      throughput, sampled: recent.length, busyS, windowS,
      ...(missing !== undefined ? { missing, missingNames } : {}),
      failures: failedJobs.map((j) => ({ id: String(j.id), name: j.name, error: String(j.failedReason ?? '').split('\n')[0], attempts: j.attemptsMade })),
    };
  } catch (err) {
    throw new HarmoniaError(`--redis ${redactRedisUrl(redisUrl)}: ${(err as Error).message}`, { cause: err });
  } finally {
    await queue.close().catch(() => undefined);
  }
}

/** Items of an enqueue argument: a folder (+ mask folder), an iHarmony4-layout folder, or a list file. */
export function nameOf(path: string): string {
  return basename(path, extname(path));
}
