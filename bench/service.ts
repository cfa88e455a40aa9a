/**
 * The service benchmarks (docs/BENCHMARKS.md § Service):
 *
 * 1. `harmonia serve` under load: C concurrent HTTP clients (default 8) posting 256² composites as
 *    multipart uploads, each waiting for its answer before sending the next (10 ms after a 503);
 *    requests/s answered 200 and their p50/p95/p99 latency (request sent → whole answer read), the
 *    server process's CPU time per answered request (all its threads, from /proc),
 *    and the same for a 12 MP composite (default 2 clients). Every distinct composite's answer is first
 *    checked against the library (`harmonize()`): the same pixels.
 * 2. The batch queue: `harmonia worker` processes on BullMQ + a local redis-server, each configuration
 *    on a fresh queue with the workers started and ready before the jobs are enqueued (start-up not
 *    timed); throughput from BullMQ's own job timestamps, and the worker processes' CPU time per job
 *    (all their threads, from /proc, counted from when they are ready).
 *
 *   npm run bench -- service                                   # both, on composites it makes
 *   node --import tsx bench/service.ts [--mode serve|queue|both] [--data <iHarmony4 folder> | --real <real photos + masks>]
 *       [--clients 8] [--requests 40] [--rounds 3] [--large <composite> --large-mask <mask> | --no-large]
 *       [--workers 1x1,1,2x1] [--repo <checkout>] [--serve-args "--png-level 6"] [--json out.json] [--check]
 *
 * Composites: `--data` (an iHarmony4-layout folder: its test split), or else `harmonia make-composites`
 * from `--real` (default ../shared/data/lalonde-real, or $HARMONIA_SHARED/data/…: 256×256 photos) into a temp
 * folder, JPEG, `--limit` per split. The 12 MP case: ../shared/data/iharmony4-sample (2832×4256 JPEG + mask) unless --large.
 * `--repo` runs another checkout's bin/harmonia.mjs (an A/B against older code: same clients, same data).
 * `--workers`: each entry P or PxT = P worker processes, each with `--threads T` (P alone: their defaults).
 *
 * Contamination check (bench/quality.ts, as `npm run bench`): the run is CONTAMINATED when the 1-minute
 * load average at start is above 1.5, or any workload's per-round requests/s spread more than 30 %
 * (max/min − 1); each reason is printed as "contaminated: …" and `--check` exits 3. The server's CPU
 * time per request is printed beside: it moves much less than wall time on a shared machine.
 */
import { parseArgs } from 'node:util';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir, loadavg, cpus } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readIHarmonyDataset } from '../src/data/iharmony4.ts';
import { Queue } from 'bullmq';
import { enqueueBatch, queueProgress, parseRedisUrl, type BatchJobData, type BatchJobResult } from '../src/service/queue.ts';
import { harmonize } from '../src/pipeline/harmonize.ts';
import { checkContamination, median, type RunSeries } from './quality.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'both' },
    data: { type: 'string' },
    real: { type: 'string' },
    limit: { type: 'string' },
    clients: { type: 'string', default: '8' },
    requests: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '3' },
    large: { type: 'string' },
    'large-mask': { type: 'string' },
    'no-large': { type: 'boolean', default: false },
    'large-clients': { type: 'string', default: '2' },
    'large-requests': { type: 'string', default: '2' },
    workers: { type: 'string', default: '1x1,1,2x1,1,1x1,2x1' },
    repo: { type: 'string' },
    'serve-args': { type: 'string', default: '' },
    json: { type: 'string' },
    check: { type: 'boolean', default: false },
    redis: { type: 'string', default: '/usr/bin/redis-server' },
  },
});
const mode = String(values.mode);
if (!['serve', 'queue', 'both'].includes(mode)) throw new Error(`--mode must be serve, queue or both, got ${mode}`);
const HERE = fileURLToPath(new URL('..', import.meta.url));
const REPO = resolve(values.repo ?? HERE);
const BIN = join(REPO, 'bin', 'harmonia.mjs');
/** The shared data folder (../shared beside the repository, or HARMONIA_SHARED, as the tests). */
const SHARED = join(process.env.HARMONIA_SHARED ?? join(HERE, '..', 'shared'), 'data');
const tmp = mkdtempSync(join(tmpdir(), 'harmonia-bench-service-'));
const loadStart = loadavg();
const series: RunSeries[] = [];
const report: Record<string, unknown> = {};

function cpuHeader(): string {
  let flags: string[] = [];
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    flags = line ? line.split(':')[1].trim().split(/\s+/) : [];
  } catch { /* not Linux */ }
  const simd = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni'].filter((f) => flags.includes(f));
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${simd.join(' ')}`;
}
const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
console.log(`# bench/service ${new Date().toISOString()}: ${cpuHeader()}; Node ${process.version}; load average at start ${fmtLoad(loadStart)}; code ${REPO}`);

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** user + system CPU seconds of a process so far (Linux), or NaN. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The composites: --data's test split, or made from --real by `harmonia make-composites` (JPEG). */
async function composites(): Promise<{ name: string; composite: string; mask: string }[]> {
  let root = values.data;
  if (!root) {
    const real = values.real ?? join(SHARED, 'lalonde-real');
    if (!existsSync(real)) throw new Error(`no composites: give --data <iHarmony4 folder> or --real <photos + masks> (${real} is missing)`);
    root = join(tmp, 'composites');
    const limit = values.limit ?? '64';
    const r = spawnSync(process.execPath, [join(HERE, 'bin', 'harmonia.mjs'), 'make-composites', '--real', real, '--out', root, '--limit', limit, '--format', 'jpg', '--quiet'], { cwd: HERE, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`make-composites failed: ${r.stderr}`);
    console.log(`# composites: ${r.stdout.trim().split('\n').pop()}`);
  }
  const samples = await readIHarmonyDataset(root, { split: 'test', check: false });
  const limit = values.data && values.limit ? Number(values.limit) : samples.length;
  return samples.slice(0, limit).map((s) => ({ name: basename(s.composite, extname(s.composite)), composite: s.composite, mask: s.mask }));
}

// ---------------------------------------------------------------------------------------------- serve

const BOUNDARY = '----harmonia-bench-boundary';
function multipart(composite: Buffer, mask: Buffer): Buffer {
  const part = (name: string) => Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  return Buffer.concat([part('composite'), composite, Buffer.from('\r\n'), part('mask'), mask, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
}

interface Answer { status: number; body: Buffer; ms: number }

function post(base: URL, agent: Agent, body: Buffer): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const r = request({
      host: base.hostname, port: base.port, path: '/harmonize', method: 'POST', agent,
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': body.length },
    }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on('data', (d: Buffer) => chunks.push(d));
      resp.on('end', () => res({ status: resp.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
      resp.on('error', rej);
    });
    r.setTimeout(300_000, () => r.destroy(new Error('no answer in 300 s')));
    r.on('error', rej);
    r.end(body);
  });
}

async function startServer(args: string[]): Promise<{ proc: ChildProcess; base: URL; line: string }> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', String(await freePort()), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+) (.*)/.exec(out);
      if (m) res({ proc, base: new URL(m[1]), line: m[2] });
    });
    proc.once('exit', (c) => rej(new Error(`harmonia serve exited ${c}: ${out}`)));
  });
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

interface LoadResult {
  workload: string; clients: number; rounds: number; requestsPerRound: number;
  perS: number[]; medianPerS: number; p50: number; p95: number; p99: number; max: number;
  cpuMsPerRequest: number; status: Record<string, number>; load1: number[];
}

/** C clients × R rounds × N requests each (after one warm-up request per client), each client cycling through `bodies`. */
async function load(workload: string, base: URL, pid: number, bodies: Buffer[], clients: number, perClient: number, rounds: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  await Promise.all(Array.from({ length: clients }, (_, c) => post(base, agent, bodies[c % bodies.length])));
  const perS: number[] = [], lat: number[] = [], load1: number[] = [];
  const status: Record<string, number> = {};
  let cpu = 0, answered = 0;
  for (let r = 0; r < rounds; r++) {
    const c0 = cpuSeconds(pid), t0 = performance.now();
    let ok = 0;
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient; i++) {
        const a = await post(base, agent, bodies[(c * 7 + r * 3 + i) % bodies.length]);
        status[a.status] = (status[a.status] ?? 0) + 1;
        if (a.status === 200) {
          ok++;
          lat.push(a.ms);
        } else if (a.status === 503) {
          await new Promise((res) => setTimeout(res, 10)); // over capacity: back off a little (counted in statuses)
        } else {
          throw new Error(`${workload}: status ${a.status}: ${a.body.toString().slice(0, 300)}`);
        }
      }
    }));
    const s = (performance.now() - t0) / 1000;
    cpu += cpuSeconds(pid) - c0;
    answered += ok;
    perS.push(ok / s);
    load1.push(loadavg()[0]);
    console.log(`${workload} round ${r + 1}: ${(ok / s).toFixed(2)} requests/s (${ok} answered 200 in ${s.toFixed(2)} s), load ${loadavg()[0].toFixed(2)}`);
  }
  agent.destroy();
  lat.sort((a, b) => a - b);
  const res: LoadResult = {
    workload, clients, rounds, requestsPerRound: clients * perClient, perS: perS.map((x) => +x.toFixed(2)), medianPerS: +median(perS).toFixed(2),
    p50: +percentile(lat, 50).toFixed(1), p95: +percentile(lat, 95).toFixed(1), p99: +percentile(lat, 99).toFixed(1), max: +lat[lat.length - 1].toFixed(1),
    cpuMsPerRequest: +((cpu / answered) * 1000).toFixed(2), status, load1: load1.map((x) => +x.toFixed(2)),
  };
  series.push({ workload, config: 'requests/s', roundMedians: perS });
  return res;
}

/** Each composite's answer decodes to the pixels of the library's harmonize() on the same files. */
async function verify(base: URL, items: { composite: string; mask: string }[], bodies: Buffer[]): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let same = 0;
  for (const [i, it] of items.entries()) {
    const a = await post(base, agent, bodies[i]);
    if (a.status !== 200) throw new Error(`${it.composite}: status ${a.status}: ${a.body.toString().slice(0, 300)}`);
    const want = await harmonize({ composite: it.composite, mask: it.mask });
    const [x, y] = await Promise.all([sharp(a.body).raw().toBuffer(), sharp(want).raw().toBuffer()]);
    if (!x.equals(y)) throw new Error(`${it.composite}: the server's answer has other pixels than harmonize()`);
    same++;
  }
  agent.destroy();
  return same;
}

const fmtLoadResult = (r: LoadResult) =>
  `**${r.medianPerS} requests/s** (answered 200; rounds ${r.perS.join(', ')}), latency p50 ${r.p50} ms, p95 ${r.p95} ms, p99 ${r.p99} ms, max ${r.max} ms (200s); server CPU ${r.cpuMsPerRequest} ms per answered request; statuses ${JSON.stringify(r.status)}`;

async function benchServe(items: { composite: string; mask: string }[]): Promise<void> {
  const args = String(values['serve-args']).split(/\s+/).filter(Boolean);
  const server = await startServer(args);
  console.log(`# harmonia serve ${args.join(' ')}: ${server.line}`);
  const pid = server.proc.pid!;
  try {
    const bodies = items.map((it) => multipart(readFileSync(it.composite), readFileSync(it.mask)));
    const checked = await verify(server.base, items.slice(0, 16), bodies);
    console.log(`# ${checked} answers checked: the same pixels as harmonize() on the same files`);
    const clients = Number(values.clients);
    const small = await load(`serve 256² ${clients} clients`, server.base, pid, bodies, clients, Number(values.requests), Number(values.rounds));
    console.log(`serve, ${items.length} composites of 256², ${clients} clients × ${values.requests} requests × ${values.rounds} rounds: ${fmtLoadResult(small)}`);
    report.serve = small;
    const large = values.large ?? join(SHARED, 'iharmony4-sample', 'composite_images', 'a0002_1_4.jpg');
    const largeMask = values['large-mask'] ?? join(SHARED, 'iharmony4-sample', 'masks', 'a0002_1.png');
    if (values['no-large']) return;
    if (!existsSync(large) || !existsSync(largeMask)) {
      console.log(`# 12 MP case skipped: ${large} or ${largeMask} is missing`);
      return;
    }
    const meta = await sharp(large).metadata();
    const lc = Number(values['large-clients']);
    const big = await load(`serve ${meta.width}×${meta.height} ${lc} clients`, server.base, pid, [multipart(readFileSync(large), readFileSync(largeMask))], lc, Number(values['large-requests']), Number(values.rounds));
    console.log(`serve, ${basename(large)} (${meta.width}×${meta.height}, ${(((meta.width ?? 0) * (meta.height ?? 0)) / 1e6).toFixed(1)} MP), ${lc} clients × ${values['large-requests']} requests × ${values.rounds} rounds: ${fmtLoadResult(big)}`);
    report.serveLarge = big;
  } finally {
    server.proc.kill('SIGTERM');
    await new Promise((r) => (server.proc.exitCode !== null ? r(null) : server.proc.once('exit', r)));
  }
}

// ---------------------------------------------------------------------------------------------- queue

async function startRedis(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(String(values.redis), ['--port', String(port), '--bind', '127.0.0.1', '--dir', tmp, '--appendonly', 'yes', '--save', ''], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); if (/Ready to accept connections/.test(out)) res(); });
    proc.once('exit', (c) => rej(new Error(`redis-server exited ${c}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, proc };
}

function startWorker(url: string, queue: string, out: string, threads?: number): Promise<ChildProcess> {
  const args = [BIN, 'worker', '--redis', url, '--queue', queue, '-o', out, '--quiet', ...(threads ? ['--threads', String(threads)] : [])];
  const c = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    let s = '';
    c.stdout!.on('data', (b: Buffer) => { s += b.toString(); if (s.includes('harmonia worker')) res(c); });
    c.once('exit', (code) => rej(new Error(`worker exited ${code}`)));
  });
}

async function benchQueue(items: { name: string; composite: string; mask: string }[]): Promise<void> {
  const configs = String(values.workers).split(',').map((s) => {
    const m = /^(\d+)(?:x(\d+))?$/.exec(s.trim());
    if (!m) throw new Error(`--workers: each entry is P or PxT, got "${s}"`);
    return { processes: Number(m[1]), threads: m[2] ? Number(m[2]) : undefined, label: s.trim() };
  });
  const redis = await startRedis();
  const runs: { config: string; jobs: number; seconds: number; perS: number; cpuMsPerJob: number; load1: number; stepsMs: Record<string, number> }[] = [];
  try {
    for (const [i, k] of configs.entries()) {
      const queue = `bench-${i}`;
      const out = join(tmp, queue);
      const workers = await Promise.all(Array.from({ length: k.processes }, () => startWorker(redis.url, queue, out, k.threads)));
      const cpu0 = workers.reduce((a, w) => a + cpuSeconds(w.pid!), 0); // after start-up: the jobs' CPU only
      await enqueueBatch(items, { redis: redis.url, queue, format: 'png' });
      let p = await queueProgress(redis.url, queue);
      while (p.done + p.failed < items.length) {
        await new Promise((r) => setTimeout(r, 250));
        p = await queueProgress(redis.url, queue);
      }
      const cpu = workers.reduce((a, w) => a + cpuSeconds(w.pid!), 0) - cpu0;
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
      if (p.failed) throw new Error(`${p.failed} job(s) failed: ${JSON.stringify(p.failures)}`);
      // mean per-step time of a job inside the worker
      const q = new Queue<BatchJobData, BatchJobResult>(queue, { connection: parseRedisUrl(redis.url) });
      const done = await q.getJobs(['completed'], 0, -1);
      await q.close();
      const steps: Record<string, number> = {};
      for (const j of done) for (const [name, ms] of Object.entries(j.returnvalue?.steps ?? {})) steps[name] = (steps[name] ?? 0) + ms / done.length;
      for (const name of Object.keys(steps)) steps[name] = +steps[name].toFixed(1);
      const run = { config: k.label, jobs: p.done, seconds: +p.windowS.toFixed(2), perS: +p.throughput.toFixed(2), cpuMsPerJob: +((cpu / p.done) * 1000).toFixed(2), load1: +loadavg()[0].toFixed(2), stepsMs: steps };
      runs.push(run);
      console.log(`queue ${k.processes} worker process(es)${k.threads ? ` × --threads ${k.threads}` : ' (default threads)'}: ${run.perS} jobs/s (${run.jobs} jobs in ${run.seconds} s), worker CPU ${run.cpuMsPerJob} ms per job, load ${run.load1}, steps ${JSON.stringify(steps)}`);
    }
  } finally {
    redis.proc.kill('SIGTERM');
  }
  const byConfig = new Map<string, number[]>();
  for (const r of runs) byConfig.set(r.config, [...(byConfig.get(r.config) ?? []), r.perS]);
  for (const [config, list] of byConfig) {
    if (list.length > 1) series.push({ workload: `queue ${config}`, config: 'jobs/s', roundMedians: list });
    console.log(`queue ${config}: median ${median(list).toFixed(2)} jobs/s over ${list.length} run(s) (${list.join(', ')})`);
  }
  report.queue = runs;
}

// ---------------------------------------------------------------------------------------------- main

try {
  const items = await composites();
  console.log(`# ${items.length} composites`);
  if (mode !== 'queue') await benchServe(items);
  if (mode !== 'serve') await benchQueue(items);
  const verdict = checkContamination({ loadStart: loadStart[0], series });
  console.log(`# load average at start ${fmtLoad(loadStart)}, at end ${fmtLoad(loadavg())}`);
  if (verdict.contaminated) {
    console.log('**CONTAMINATED RUN: do not quote these numbers**');
    for (const line of verdict.reasons) console.log(line);
  } else {
    console.log(`# clean: load ${loadStart[0].toFixed(2)} ≤ ${verdict.maxLoad} at start, every round spread ≤ ${(verdict.maxSpread * 100).toFixed(0)} % (${verdict.spreadDefinition})`);
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), cpu: cpuHeader(), loadStart, loadEnd: loadavg(), repo: REPO, ...report, contamination: verdict }, null, 2) + '\n');
  if (values.check && verdict.contaminated) process.exitCode = 3;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
