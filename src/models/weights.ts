/**
 * Where Harmonia looks for pretrained weights, which files it knows, and how to verify them.
 *
 * Folder: `--dir`, else $HARMONIA_WEIGHTS, else ~/.cache/harmonia/weights. Layout:
 *   <dir>/alexnet-owt-7be5be79.pth      torchvision AlexNet   (LPIPS alex backbone)
 *   <dir>/vgg16-397923af.pth            torchvision VGG-16    (LPIPS vgg backbone)
 *   <dir>/squeezenet1_1-b8a52dc0.pth    torchvision SqueezeNet 1.1 (LPIPS squeeze backbone)
 *   <dir>/vgg19-dcbb9e9d.pth            torchvision VGG-19    (GAN feature loss)
 *   <dir>/lpips/v0.1/{alex,vgg,squeeze}.pth   LPIPS v0.1 lin layers
 * torchvision file names carry the first 8 hex digits of the file's SHA-256, which `verifyWeight`
 * checks. The LPIPS lin files carry no hash; they are checked by loading them (tensor count/shapes).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { HarmoniaError } from '../errors.ts';
import { env } from '../config/index.ts';

export type WeightId = 'alexnet' | 'vgg16' | 'squeezenet1_1' | 'vgg19' | 'lpips-alex' | 'lpips-vgg' | 'lpips-squeeze';

export interface WeightSpec {
  id: WeightId;
  /** Path relative to the weights folder. */
  file: string;
  /** Where to download it from (Harmonia itself never downloads). */
  url: string;
  /** First 8 hex digits of the SHA-256 (torchvision names), when known. */
  sha256Prefix?: string;
  /** Rough size in bytes, for the listing only (never checked). */
  approxBytes: number;
  usedFor: string;
}

export const KNOWN_WEIGHTS: readonly WeightSpec[] = [
  { id: 'alexnet', file: 'alexnet-owt-7be5be79.pth', url: 'https://download.pytorch.org/models/alexnet-owt-7be5be79.pth', sha256Prefix: '7be5be79', approxBytes: 244_000_000, usedFor: 'LPIPS --lpips alex (default) backbone' },
  { id: 'vgg16', file: 'vgg16-397923af.pth', url: 'https://download.pytorch.org/models/vgg16-397923af.pth', sha256Prefix: '397923af', approxBytes: 553_000_000, usedFor: 'LPIPS --lpips vgg backbone' },
  { id: 'squeezenet1_1', file: 'squeezenet1_1-b8a52dc0.pth', url: 'https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth', sha256Prefix: 'b8a52dc0', approxBytes: 5_000_000, usedFor: 'LPIPS --lpips squeeze backbone' },
  { id: 'vgg19', file: 'vgg19-dcbb9e9d.pth', url: 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth', sha256Prefix: 'dcbb9e9d', approxBytes: 575_000_000, usedFor: 'GAN feature loss (content + feature setting)' },
  { id: 'lpips-alex', file: 'lpips/v0.1/alex.pth', url: 'https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth', approxBytes: 6_000, usedFor: 'LPIPS alex lin layers (1,152 weights)' },
  { id: 'lpips-vgg', file: 'lpips/v0.1/vgg.pth', url: 'https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth', approxBytes: 7_000, usedFor: 'LPIPS vgg lin layers (1,472 weights)' },
  { id: 'lpips-squeeze', file: 'lpips/v0.1/squeeze.pth', url: 'https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/squeeze.pth', approxBytes: 11_000, usedFor: 'LPIPS squeeze lin layers (2,240 weights)' },
];

/** The weights folder: explicit dir, else $HARMONIA_WEIGHTS, else ~/.cache/harmonia/weights. */
export function weightsDir(dir?: string): string {
  if (dir) return resolve(dir);
  if (env.weights) return resolve(env.weights);
  return join(homedir(), '.cache', 'harmonia', 'weights');
}

export function weightSpec(id: WeightId): WeightSpec {
  const s = KNOWN_WEIGHTS.find((w) => w.id === id);
  if (!s) throw new HarmoniaError(`unknown weight file id "${id}"`);
  return s;
}

/** Absolute path where a weight file is expected. */
export function weightPath(id: WeightId, dir?: string): string {
  return join(weightsDir(dir), weightSpec(id).file);
}

/** SHA-256 of a file as lowercase hex (streamed: works for the 500 MB VGG files). */
export function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', (e) => rej(new HarmoniaError(`cannot read: ${e.message}`, { file: path, cause: e })))
      .on('end', () => res(h.digest('hex')));
  });
}

export interface WeightStatus {
  spec: WeightSpec;
  path: string;
  present: boolean;
  bytes?: number;
  sha256?: string;
  /** true/false when the name carries a hash prefix; null when there is nothing to check against. */
  hashOk: boolean | null;
}

/** Looks at one weight file: present? size? SHA-256 matches the prefix in its name? */
export async function verifyWeight(id: WeightId, dir?: string, opts: { hash?: boolean } = {}): Promise<WeightStatus> {
  const spec = weightSpec(id);
  const path = weightPath(id, dir);
  if (!existsSync(path)) return { spec, path, present: false, hashOk: null };
  const st = statSync(path);
  if (!st.isFile()) return { spec, path, present: false, hashOk: null };
  if (opts.hash === false || !spec.sha256Prefix) return { spec, path, present: true, bytes: st.size, hashOk: null };
  const sha256 = await sha256File(path);
  return { spec, path, present: true, bytes: st.size, sha256, hashOk: sha256.startsWith(spec.sha256Prefix) };
}

/** Throws a HarmoniaError telling where to put a missing weight file. */
export function requireWeight(id: WeightId, dir?: string): string {
  const p = weightPath(id, dir);
  if (!existsSync(p)) {
    const s = weightSpec(id);
    throw new HarmoniaError(`${s.usedFor} needs ${s.file}: download ${s.url} to ${p} (or set HARMONIA_WEIGHTS; see \`harmonia weights\`)`, { file: p });
  }
  return p;
}
