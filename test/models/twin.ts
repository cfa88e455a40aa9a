/** Test helper: runs the PyTorch twin (bench/torch/gan.py) of G or D with a tfjs model's weights. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { tf } from '../../src/engine/tf.ts';

export const torchOk = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** Runs `model` (G or D of the twin) in PyTorch with the tfjs weights; returns its NHWC output. */
export function torchForward(kind: 'G' | 'D', model: tf.LayersModel, x: tf.Tensor4D): Float32Array {
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-twin-'));
  const weights = model.getWeights().map((w) => ({ shape: w.shape, data: Array.from(w.dataSync()) }));
  writeFileSync(join(dir, 'in.json'), JSON.stringify({ kind, weights, x: { shape: x.shape, data: Array.from(x.dataSync()) } }));
  const py = `
import json, sys, torch
sys.path.insert(0, ${JSON.stringify(new URL('../../bench/torch', import.meta.url).pathname)})
from gan import make_generator, Discriminator
a = json.load(open(sys.argv[1]))
m = make_generator() if a['kind'] == 'G' else Discriminator()
params = [p for p in m.parameters()]
assert len(params) == len(a['weights']), (len(params), len(a['weights']))
with torch.no_grad():
    for p, w in zip(params, a['weights']):
        t = torch.tensor(w['data'], dtype=torch.float32).reshape(w['shape'])
        if t.dim() == 4: t = t.permute(3, 2, 0, 1)   # conv [kh,kw,in,out] / convT [kh,kw,out,in] -> torch
        elif t.dim() == 2: t = t.t()                 # dense [in,out] -> [out,in]
        assert tuple(t.shape) == tuple(p.shape), (t.shape, p.shape)
        p.copy_(t)
    x = torch.tensor(a['x']['data'], dtype=torch.float32).reshape(a['x']['shape']).permute(0, 3, 1, 2)
    y = m(x)
    if y.dim() == 4: y = y.permute(0, 2, 3, 1)
print(json.dumps(y.reshape(-1).tolist()))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, join(dir, 'in.json')], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return Float32Array.from(JSON.parse(r.stdout) as number[]);
}

