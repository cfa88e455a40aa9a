import type { Command } from '../types.ts';
import { KNOWN_WEIGHTS, weightsDir, verifyWeight, type WeightStatus } from '../../models/weights.ts';
import { linWeightsFromStateDict, type LpipsNet } from '../../models/lpips.ts';
import { loadStateDict } from '../../models/torch/checkpoint.ts';
import { markdownTable } from '../../util/table.ts';

function mb(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

/** LPIPS lin files carry no hash: check them by loading (every lin layer present, right shape, ≥ 0). */
async function checkLin(s: WeightStatus): Promise<string> {
  const net = s.spec.id.replace('lpips-', '') as LpipsNet;
  try {
    linWeightsFromStateDict(await loadStateDict(s.path), net, s.path);
    return 'ok (loads, shapes match)';
  } catch (err) {
    return `BAD: ${(err as Error).message}`;
  }
}

export const weightsCommand: Command = {
  name: 'weights',
  summary: 'where to put pretrained weights (LPIPS, VGG-19) and which are present and verified',
  usage: 'harmonia weights [--dir <dir>] [--no-hash] [--json]',
  options: {
    dir: { type: 'string', description: 'weights folder (default $HARMONIA_WEIGHTS or ~/.cache/harmonia/weights)' },
    'no-hash': { type: 'boolean', default: false, description: 'skip the SHA-256 check of present files (it reads ~1.4 GB when all are there)' },
    json: { type: 'boolean', default: false, description: 'print the table as one JSON document ({ dir, weights: [...], failed })' },
  },
  async run({ values }) {
    const dir = weightsDir(typeof values.dir === 'string' ? values.dir : undefined);
    const json: { file: string; present: boolean; bytes: number | null; check: string; usedFor: string; path: string; url: string }[] = [];
    if (!values.json) console.log(`weights folder: ${dir}`);
    const rows: string[][] = [];
    const missing: WeightStatus[] = [];
    let bad = 0;
    for (const spec of KNOWN_WEIGHTS) {
      const s = await verifyWeight(spec.id, dir, { hash: !values['no-hash'] });
      let check: string;
      if (!s.present) { check = '–'; missing.push(s); }
      else if (spec.id.startsWith('lpips-')) check = await checkLin(s);
      else if (s.hashOk === null) check = 'not checked';
      else check = s.hashOk ? `sha256 ${s.sha256!.slice(0, 8)}… ok` : `MISMATCH: sha256 ${s.sha256!.slice(0, 8)}…, name says ${spec.sha256Prefix}`;
      if (check.startsWith('MISMATCH') || check.startsWith('BAD')) bad++;
      rows.push([spec.file, s.present ? `present (${mb(s.bytes!)})` : 'missing', check, spec.usedFor]);
      json.push({ file: spec.file, present: s.present, bytes: s.present ? s.bytes! : null, check, usedFor: spec.usedFor, path: s.path, url: spec.url });
    }
    if (values.json) {
      console.log(JSON.stringify({ dir, weights: json, failed: bad }));
      if (bad > 0) console.error(`harmonia weights: ${bad} file(s) failed verification; re-download them`);
      return bad > 0 ? 1 : 0;
    }
    console.log(markdownTable(['File', 'Status', 'Check', 'Used for'], rows));
    if (missing.length > 0) {
      console.log('To add the missing files (Harmonia never downloads by itself):');
      for (const s of missing) console.log(`  ${s.spec.url}\n    -> ${s.path}  (~${mb(s.spec.approxBytes)})`);
      console.log('Without the LPIPS files every report prints LPIPS as "n/a (no weights)"; without vgg19 the feature-loss setting needs --allow-random-features (clearly labelled).');
    }
    if (bad > 0) {
      console.error(`harmonia weights: ${bad} file(s) failed verification; re-download them`);
      return 1;
    }
    return 0;
  },
};
