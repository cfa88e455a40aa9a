/**
 * Service test helpers: a real redis-server on a free loopback port in a temp folder, with append-only
 * persistence on (restartable on the same port and data), and small generated composites.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../src/util/random.ts';

export const REDIS_SERVER = process.env.HARMONIA_REDIS_SERVER ?? '/usr/bin/redis-server';

/** Skip reason when redis-server is not installed, or false. */
export function needsRedis(): string | false {
  if (!existsSync(REDIS_SERVER)) return `skipped: ${REDIS_SERVER} not found (apt-get install redis-server; .ci/run installs it)`;
  const r = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? false : `skipped: ${REDIS_SERVER} --version failed`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisHandle {
  url: string;
  port: number;
  dir: string;
  /** Graceful restart: SIGTERM (redis flushes its append-only file), then start again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function waitReady(p: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start in 20 s: ${out.slice(-500)}`)), 20_000);
    p.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`)); });
  });
}

function stopProc(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

/** Starts redis-server (appendonly yes) on a free loopback port with its data in `dir`. */
export async function startRedis(dir: string): Promise<RedisHandle> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'notice'];
  let proc: ChildProcess | undefined;
  const launch = async () => {
    proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitReady(proc);
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`, port, dir,
    async restart(downMs = 500) {
      await stopProc(proc);
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    async stop() {
      await stopProc(proc);
    },
  };
}

export interface Fixture { name: string; composite: string; mask: string; compositeBytes: Buffer; maskBytes: Buffer }

/**
 * `n` small composites (sizes 32-48 px, seeded): a smooth background with a colour-shifted
 * rectangle-ish foreground, and its mask, written as PNGs `<name>.png` into `dir/composites` and `dir/masks`.
 */
export async function makeComposites(dir: string, n: number, seed = 1): Promise<Fixture[]> {
  const rng = new Rng(seed);
  mkdirSync(join(dir, 'composites'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  const out: Fixture[] = [];
  for (let k = 0; k < n; k++) {
    const w = 32 + Math.floor(rng.next() * 17), h = 32 + Math.floor(rng.next() * 17);
    const rgb = Buffer.alloc(w * h * 3), m = Buffer.alloc(w * h);
    const bg = [rng.next(), rng.next(), rng.next()].map((v) => 40 + v * 160);
    const fg = [rng.next(), rng.next(), rng.next()].map((v) => 20 + v * 220);
    const x0 = Math.floor(w * (0.15 + 0.2 * rng.next())), x1 = Math.floor(w * (0.6 + 0.3 * rng.next()));
    const y0 = Math.floor(h * (0.15 + 0.2 * rng.next())), y1 = Math.floor(h * (0.6 + 0.3 * rng.next()));
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const inside = x >= x0 && x < x1 && y >= y0 && y < y1;
        for (let c = 0; c < 3; c++) {
          const v = inside ? fg[c] + 20 * Math.sin((x + c) / 3) : bg[c] + (x * 30) / w + (y * 20) / h;
          rgb[i * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
        m[i] = inside ? 255 : 0;
      }
    }
    const name = `c${String(k).padStart(4, '0')}`;
    const compositeBytes = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const maskBytes = await sharp(m, { raw: { width: w, height: h, channels: 1 } }).png().toBuffer();
    const composite = join(dir, 'composites', `${name}.png`), mask = join(dir, 'masks', `${name}.png`);
    writeFileSync(composite, compositeBytes);
    writeFileSync(mask, maskBytes);
    out.push({ name, composite, mask, compositeBytes, maskBytes });
  }
  return out;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
