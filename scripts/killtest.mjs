#!/usr/bin/env node
/**
 * kill -9 trial driver (docs/RELIABILITY.md, "Interrupted work").
 *
 *   node scripts/killtest.mjs [options] -- <command and arguments, "{out}" = the output folder>
 *
 * 1. Runs the command once uninterrupted into <work>/reference, timing it and noting when its first
 *    output file appears.
 * 2. Each trial (fresh <work>/trial-NN): starts the command, SIGKILLs its whole process group after a
 *    seeded random delay drawn uniformly from [0.8 × first-output time, reference duration] (so kills
 *    land while it is working), `--kills` times in a row on the same folder; after every kill it checks
 *    that nothing that looks complete is half-written: every file not named like a temp file must
 *    decode (PNG/JPEG/WebP/TIFF fully decoded with sharp, JSON parsed, JSONL lines parsed except an
 *    unterminated last line, model.json + weights.bin sizes agree, checkpoint optimizer.bin matches its
 *    state.json), and with --strict-partial must also be byte-identical to the reference's file.
 * 3. Reruns the command to completion (appending --resume-arg when --resume-if names a path that
 *    exists), then compares the whole tree with the reference: the same files, SHA-256 equal per file
 *    (JSON compared after dropping --json-ignore-key keys; --ignore regexes skip documented
 *    non-deterministic files such as timing logs). Leftover temp files fail the trial.
 *
 * Options: --trials N (10) --kills K (1) --seed S (1) --work DIR (temp) --keep --ignore RE (repeatable)
 *   --json-ignore-key K (repeatable) --resume-if REL[,REL…] (any exists) --resume-arg ARG --strict-partial --min-delay MS
 *   --max-delay MS --timeout MS (600000 per run) --cwd DIR --json (print the summary as JSON)
 *   --trigger time|files|lines:<file>: 'time' (default) kills after the random delay above; 'files'
 *   kills once the tree holds k complete-looking files, 'lines:<file>' once that file has k lines, k
 *   drawn uniformly from [1, the reference's count], plus a random 0..(one unit's mean time) jitter:
 *   kills then land mid-work whatever the machine's speed.
 *   --concurrency P: run P trials at once (each in its own folder; the kill moments are drawn up front,
 *   so the plan does not depend on P; use a progress trigger, time delays shift under load).
 * Exit status: 0 when every trial matched the reference, 1 otherwise, 2 on bad usage.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, basename, dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Same pattern as src/util/atomic.ts TEMP_FILE_PATTERN, plus the trainer's checkpoint temp folders and make-composites' staging folders and build lock. */
async function tempPatterns() {
  const { TEMP_FILE_PATTERN } = await import('../src/util/atomic.ts');
  return { file: TEMP_FILE_PATTERN, dir: /^\.checkpoint\.(tmp-\d+|old)$|^\.[^/]+\.(building|replaced|lock)$/ };
}

/** Every file under `dir` as sorted relative paths ('/' separators), temp files and folders included. */
export function listTree(dir) {
  const out = [];
  const walk = (d) => {
    let names;
    try { names = readdirSync(d); } catch { return; }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try { st = statSync(p); } catch { continue; }
      if (st.isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function dropKeys(v, keys) {
  if (Array.isArray(v)) return v.map((x) => dropKeys(x, keys));
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) if (!keys.has(k)) o[k] = dropKeys(x, keys);
    return o;
  }
  return v;
}

/** Digest of one file: SHA-256 of the bytes, or of the key-sorted JSON without `jsonIgnoreKeys`. */
export async function digestForCompare(path, jsonIgnoreKeys = []) {
  const bytes = readFileSync(path);
  if (jsonIgnoreKeys.length && extname(path) === '.json') {
    const { stableStringify } = await import('../src/util/determinism.ts');
    try {
      return createHash('sha256').update(stableStringify(dropKeys(JSON.parse(bytes.toString('utf8')), new Set(jsonIgnoreKeys)))).digest('hex');
    } catch { /* not JSON: fall through to the bytes */ }
  }
  return createHash('sha256').update(bytes).digest('hex');
}

const IMAGE_EXTS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff']);

/**
 * Problems with the complete-looking files of a tree (temp files are skipped): a list of
 * "<relative path>: <why>" strings, empty when every file checks out.
 */
export async function validateTree(dir) {
  const { default: sharp } = await import('sharp');
  const tp = await tempPatterns();
  const problems = [];
  const files = listTree(dir);
  for (const rel of files) {
    const parts = rel.split('/');
    if (tp.file.test(parts[parts.length - 1]) || parts.some((p) => tp.dir.test(p))) continue;
    const p = join(dir, rel);
    const ext = extname(rel).toLowerCase();
    try {
      if (IMAGE_EXTS.has(ext)) {
        const { info } = await sharp(p, { failOn: 'error', limitInputPixels: false }).raw().toBuffer({ resolveWithObject: true });
        if (!(info.width > 0 && info.height > 0)) throw new Error('empty image');
      } else if (ext === '.json') {
        const v = JSON.parse(readFileSync(p, 'utf8'));
        if (basename(rel) === 'model.json') {
          const specs = (v.weightsManifest ?? []).flatMap((g) => g.weights);
          const bytesPer = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };
          const want = specs.reduce((a, s) => a + (bytesPer[s.dtype] ?? 4) * s.shape.reduce((x, y) => x * y, 1), 0);
          const bin = join(dirname(p), 'weights.bin');
          if (!existsSync(bin)) throw new Error('weights.bin missing beside a complete-looking model.json');
          const have = statSync(bin).size;
          if (have !== want) throw new Error(`weights.bin has ${have} bytes, model.json describes ${want}`);
        }
        if (basename(rel) === 'state.json' && v.adam?.G?.sizes && v.adam?.D?.sizes) {
          const opt = join(dirname(p), 'optimizer.bin');
          const sum = (a) => a.reduce((x, y) => x + y, 0);
          const want = 4 * 2 * (sum(v.adam.G.sizes) + sum(v.adam.D.sizes));
          if (!existsSync(opt)) throw new Error('optimizer.bin missing beside state.json');
          if (statSync(opt).size !== want) throw new Error(`optimizer.bin has ${statSync(opt).size} bytes, state.json implies ${want}`);
        }
      } else if (ext === '.jsonl') {
        const text = readFileSync(p, 'utf8');
        const lines = text.split('\n');
        const last = text.endsWith('\n') ? lines.length - 1 : lines.length - 2; // an unterminated last line is visibly torn
        for (let i = 0; i < last; i++) if (lines[i].trim()) JSON.parse(lines[i]);
      }
    } catch (err) {
      problems.push(`${rel}: ${String(err?.message ?? err).split('\n')[0]}`);
    }
  }
  return problems;
}

/** File → digest for the comparable files of a tree (temp files and `ignore` matches excluded). */
export async function treeDigests(dir, opts = {}) {
  const tp = await tempPatterns();
  const ignore = (opts.ignore ?? []).map((r) => (r instanceof RegExp ? r : new RegExp(r)));
  const out = new Map();
  for (const rel of listTree(dir)) {
    const parts = rel.split('/');
    if (tp.file.test(parts[parts.length - 1]) || parts.some((p) => tp.dir.test(p))) continue;
    if (ignore.some((r) => r.test(rel))) continue;
    out.set(rel, await digestForCompare(join(dir, rel), opts.jsonIgnoreKeys ?? []));
  }
  return out;
}

/** Temp files (atomic-write temps, checkpoint temp folders) present in a tree. */
export async function tempFiles(dir) {
  const tp = await tempPatterns();
  return listTree(dir).filter((rel) => {
    const parts = rel.split('/');
    return tp.file.test(parts[parts.length - 1]) || parts.some((p) => tp.dir.test(p));
  });
}

/** Differences between two digest maps: missing/extra/differing relative paths. */
export function compareDigests(ref, got) {
  const missing = [], extra = [], differing = [];
  for (const [k, v] of ref) {
    if (!got.has(k)) missing.push(k);
    else if (got.get(k) !== v) differing.push(k);
  }
  for (const k of got.keys()) if (!ref.has(k)) extra.push(k);
  return { missing, extra, differing };
}

/**
 * Progress of a run, for progress-triggered kills: the number of complete-looking files in the tree
 * (trigger 'files'), or the number of lines of one file (trigger 'lines:<relative path>').
 */
export function progressOf(dir, trigger, tempFile = /^\..+\.(\d+)\.\d+\.\d+\.tmp$/) {
  if (trigger === 'files') return listTree(dir).filter((rel) => !tempFile.test(basename(rel)) && !rel.startsWith('.checkpoint.')).length;
  if (trigger.startsWith('lines:')) {
    try { return readFileSync(join(dir, trigger.slice(6)), 'utf8').split('\n').length - 1; } catch { return 0; }
  }
  throw new Error(`unknown trigger "${trigger}" (time, files or lines:<file>)`);
}

function substitute(command, out) {
  return command.map((a) => a.split('{out}').join(out));
}

/**
 * Runs `command` (argv, "{out}" substituted) in its own process group. With `killAfterMs`, SIGKILLs
 * the group after that delay unless it exited first. With `watch`, polls the folder every 10 ms and
 * records when the first file appeared.
 */
export function runOnce(command, out, opts = {}) {
  const argv = substitute(command, out);
  return new Promise((resolvePromise) => {
    const t0 = performance.now();
    const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd ?? ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(opts.env ?? {}) } });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr = (stderr + d.toString()).slice(-4000); });
    let killed = false;
    let firstOutputMs;
    let poll;
    const timers = [];
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = true;
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    };
    if (opts.watch) {
      poll = setInterval(() => {
        if (firstOutputMs === undefined && listTree(out).length > 0) firstOutputMs = performance.now() - t0;
      }, 10);
    }
    if (opts.killAt) {
      // progress trigger: once the run has made `count` units of progress, kill after `jitterMs`
      const { trigger, count, jitterMs } = opts.killAt;
      poll = setInterval(() => {
        if (progressOf(out, trigger) >= count) {
          clearInterval(poll);
          poll = undefined;
          timers.push(setTimeout(kill, jitterMs));
        }
      }, 5);
    }
    if (opts.killAfterMs !== undefined) timers.push(setTimeout(kill, opts.killAfterMs));
    timers.push(setTimeout(() => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, opts.timeoutMs ?? 600_000));
    child.on('exit', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      if (poll) clearInterval(poll);
      // the group may still hold workers: make sure nothing keeps writing after a kill
      if (killed) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
      resolvePromise({ code, signal, killed, ms: performance.now() - t0, firstOutputMs, stderr });
    });
  });
}

/** Seeded uniform numbers in [0,1) (mulberry32, as src/util/random.ts). */
function rngFrom(seed) {
  let s = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rerunArgs(command, out, opts) {
  const paths = typeof opts.resumeIf === 'string' ? opts.resumeIf.split(',') : opts.resumeIf ?? [];
  if (opts.resumeArg && paths.some((p) => existsSync(join(out, p)))) return [...command, opts.resumeArg];
  return command;
}

/**
 * The whole experiment (see the header). Returns a summary; `ok` is true when every trial's final
 * tree equals the reference, no complete-looking file was ever invalid (or, with strictPartial,
 * different from the reference), and no temp file was left after completion.
 */
export async function runKillTest(opts) {
  const trials = opts.trials ?? 10;
  const kills = opts.kills ?? 1;
  const rnd = rngFrom(opts.seed ?? 1);
  const work = opts.work ?? mkdtempSync(join(tmpdir(), 'harmonia-killtest-'));
  mkdirSync(work, { recursive: true });
  const cmpOpts = { ignore: opts.ignore ?? [], jsonIgnoreKeys: opts.jsonIgnoreKeys ?? [] };
  const log = opts.log ?? (() => undefined);
  const refDir = join(work, 'reference');
  rmSync(refDir, { recursive: true, force: true });
  const ref = await runOnce(opts.command, refDir, { cwd: opts.cwd, env: opts.env, watch: true, timeoutMs: opts.timeoutMs });
  if (ref.code !== 0) throw new Error(`killtest: the reference run failed (exit ${ref.code ?? ref.signal}): ${ref.stderr}`);
  const refDigests = await treeDigests(refDir, cmpOpts);
  const refProblems = await validateTree(refDir);
  if (refProblems.length) throw new Error(`killtest: the reference output does not validate: ${refProblems.join('; ')}`);
  const lo = opts.minDelayMs ?? Math.max(0, 0.8 * (ref.firstOutputMs ?? 0));
  const hi = opts.maxDelayMs ?? ref.ms;
  const trigger = opts.trigger ?? 'time';
  const refProgress = trigger === 'time' ? 0 : progressOf(refDir, trigger);
  if (trigger !== 'time' && refProgress < 1) throw new Error(`killtest: the reference run made no progress by "${trigger}"`);
  // mean time per progress unit in the reference: the jitter after a progress trigger spans one unit
  const unitMs = trigger === 'time' ? 0 : (ref.ms - (ref.firstOutputMs ?? 0)) / refProgress;
  log(`reference: ${ref.ms.toFixed(0)} ms, first output at ${ref.firstOutputMs?.toFixed(0) ?? '?'} ms, ${refDigests.size} files; ` +
    (trigger === 'time' ? `kill delays uniform in [${lo.toFixed(0)}, ${hi.toFixed(0)}] ms` : `kill when ${trigger} reaches k ∈ [1, ${refProgress}] (uniform), then after 0–${unitMs.toFixed(0)} ms`));
  // every trial's kill moments are drawn up front, so they do not depend on `concurrency`
  const plans = [];
  for (let t = 1; t <= trials; t++) {
    const plan = [];
    for (let k = 0; k < kills; k++) {
      const delay = lo + (hi - lo) * rnd();
      const at = trigger === 'time' ? undefined : { trigger, count: 1 + Math.floor(rnd() * refProgress), jitterMs: unitMs * rnd() };
      plan.push({ delay, at });
    }
    plans.push(plan);
  }
  const runTrial = async (t) => {
    const dir = join(work, `trial-${String(t).padStart(2, '0')}`);
    rmSync(dir, { recursive: true, force: true });
    const trial = { trial: t, kills: [], invalid: [], partialMismatch: [], rerun: undefined, leftoverTemp: [], missing: [], extra: [], differing: [], ok: false };
    for (let k = 0; k < kills; k++) {
      const { delay, at } = plans[t - 1][k];
      const r = await runOnce(rerunArgs(opts.command, dir, opts), dir, at ? { cwd: opts.cwd, env: opts.env, killAt: at, timeoutMs: opts.timeoutMs } : { cwd: opts.cwd, env: opts.env, killAfterMs: delay, timeoutMs: opts.timeoutMs });
      const files = listTree(dir);
      const temps = await tempFiles(dir);
      const entry = { delayMs: at ? undefined : Math.round(delay), at: at ? `${trigger} ≥ ${at.count} + ${at.jitterMs.toFixed(0)} ms` : undefined, outcome: r.killed ? 'killed' : r.code === 0 ? 'finished' : `failed (${r.code ?? r.signal})`, files: files.length, temp: temps.length };
      if (!r.killed && r.code !== 0) trial.invalid.push(`run ${k + 1} failed by itself: ${r.stderr.split('\n').filter(Boolean).pop() ?? ''}`);
      for (const p of await validateTree(dir)) trial.invalid.push(`after kill ${k + 1}: ${p}`);
      if (opts.strictPartial) {
        // append-only logs (e.g. the resume manifest) are legitimately a prefix after a kill: opts.partialIgnore
        const d = compareDigests(refDigests, await treeDigests(dir, { ...cmpOpts, ignore: [...cmpOpts.ignore, ...(opts.partialIgnore ?? [])] }));
        for (const f of d.differing) trial.partialMismatch.push(`after kill ${k + 1}: ${f} differs from the reference`);
        for (const f of d.extra) trial.partialMismatch.push(`after kill ${k + 1}: ${f} is not in the reference`);
      }
      trial.kills.push(entry);
    }
    const fin = await runOnce(rerunArgs(opts.command, dir, opts), dir, { cwd: opts.cwd, env: opts.env, timeoutMs: opts.timeoutMs });
    trial.rerun = { code: fin.code, ms: Math.round(fin.ms), stderr: fin.code === 0 ? '' : fin.stderr };
    if (fin.code === 0) {
      const d = compareDigests(refDigests, await treeDigests(dir, cmpOpts));
      Object.assign(trial, d);
      for (const p of await validateTree(dir)) trial.invalid.push(`after completion: ${p}`);
    }
    trial.leftoverTemp = await tempFiles(dir);
    trial.ok = fin.code === 0 && trial.invalid.length === 0 && trial.partialMismatch.length === 0 && trial.leftoverTemp.length === 0 &&
      trial.missing.length === 0 && trial.extra.length === 0 && trial.differing.length === 0;
    log(`trial ${t}: ${trial.kills.map((e) => `${e.outcome} at ${e.at ?? `${e.delayMs} ms`} (${e.files} files, ${e.temp} temp)`).join('; ')}; rerun ${fin.code === 0 ? `${trial.rerun.ms} ms` : `FAILED ${fin.code}`}; ` +
      (trial.ok ? 'identical to the reference' : `MISMATCH ${JSON.stringify({ invalid: trial.invalid, partialMismatch: trial.partialMismatch, leftoverTemp: trial.leftoverTemp, missing: trial.missing, extra: trial.extra, differing: trial.differing, stderr: trial.rerun.stderr })}`));
    return trial;
  };
  const results = new Array(trials);
  let next = 1;
  const worker = async () => {
    while (next <= trials) {
      const t = next++;
      results[t - 1] = await runTrial(t);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 1, trials)) }, worker));
  const summary = {
    command: opts.command,
    reference: { ms: Math.round(ref.ms), firstOutputMs: ref.firstOutputMs === undefined ? null : Math.round(ref.firstOutputMs), files: refDigests.size },
    delayRangeMs: [Math.round(lo), Math.round(hi)],
    trials: results,
    killedMidRun: results.reduce((a, r) => a + r.kills.filter((e) => e.outcome === 'killed').length, 0),
    ok: results.every((r) => r.ok),
    work,
  };
  if (!opts.keep && !opts.work) rmSync(work, { recursive: true, force: true });
  return summary;
}

function parseArgs(argv) {
  const sep = argv.indexOf('--');
  if (sep < 0 || sep === argv.length - 1) throw new Error('give the command after "--" (use {out} for the output folder)');
  const o = { command: argv.slice(sep + 1), ignore: [], jsonIgnoreKeys: [] };
  const a = argv.slice(0, sep);
  const num = (s, name) => {
    const n = Number(s);
    if (s === undefined || !Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number, got "${s}"`);
    return n;
  };
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    switch (k) {
      case '--trials': o.trials = num(a[++i], 'trials'); break;
      case '--kills': o.kills = num(a[++i], 'kills'); break;
      case '--seed': o.seed = num(a[++i], 'seed'); break;
      case '--work': o.work = a[++i]; break;
      case '--keep': o.keep = true; break;
      case '--ignore': o.ignore.push(a[++i]); break;
      case '--json-ignore-key': o.jsonIgnoreKeys.push(a[++i]); break;
      case '--resume-if': o.resumeIf = a[++i]; break;
      case '--resume-arg': o.resumeArg = a[++i]; break;
      case '--strict-partial': o.strictPartial = true; break;
      case '--min-delay': o.minDelayMs = num(a[++i], 'min-delay'); break;
      case '--max-delay': o.maxDelayMs = num(a[++i], 'max-delay'); break;
      case '--timeout': o.timeoutMs = num(a[++i], 'timeout'); break;
      case '--cwd': o.cwd = a[++i]; break;
      case '--trigger': o.trigger = a[++i]; break;
      case '--concurrency': o.concurrency = num(a[++i], 'concurrency'); break;
      case '--json': o.json = true; break;
      default: throw new Error(`unknown option ${k}`);
    }
  }
  if (!o.command.some((s) => s.includes('{out}'))) throw new Error('the command must contain {out} (the output folder of each run)');
  return o;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { register } = await import('tsx/esm/api');
  register();
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`killtest: ${err.message}`);
    process.exit(2);
  }
  const s = await runKillTest({ ...o, log: o.json ? undefined : (m) => console.log(m) });
  if (o.json) console.log(JSON.stringify(s, null, 1));
  else console.log(`${s.ok ? 'OK' : 'FAILED'}: ${s.trials.filter((t) => t.ok).length}/${s.trials.length} trials identical to the reference; ${s.killedMidRun} kills landed mid-run${o.keep || o.work ? `; folders in ${s.work}` : ''}`);
  process.exitCode = s.ok ? 0 : 1;
}
