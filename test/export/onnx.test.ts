import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.ts';
import { initEngine } from '../../src/engine/index.ts';
import { HarmoniaError } from '../../src/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { buildGenerator, runGenerator, PAPER_GENERATOR, type GeneratorConfig } from '../../src/models/generator.ts';
import { exportGeneratorToOnnx, permute4, convTransposeSamePads, META_SOURCE } from '../../src/export/generator.ts';
import onnxProto from 'onnx-proto';
import { readOnnxSummary, encodeOnnxModel, ONNX_OPSET, ONNX_IR_VERSION, DT_FLOAT, DT_INT64 } from '../../src/onnx/proto.ts';
import { ensureOnnxModel, exportModelToOnnx, modelSourceDigest, readOnnxModel, ONNX_FILE } from '../../src/models/folder-onnx.ts';
import { onnxAvailable, createOnnxGenerator, createOnnxColorTransform, loadOnnxGenerator, onnxRunner, onnxTransformParams, withOnnxRunner, inferenceMode, ortThreads, padIndexMap } from '../../src/models/onnx.ts';
import { buildColorTransformGenerator, predictColorTransform } from '../../src/models/color-transform.ts';
import { saveModel } from '../../src/models/io.ts';
import { saveHarmonizationModel, loadHarmonizationModel, DEFAULT_MODEL_DIR } from '../../src/pipeline/model.ts';
import { harmonizeImage, harmonizeImageAsync, type HarmonizationModel } from '../../src/pipeline/refine.ts';
import { resolveModel } from '../../src/pipeline/harmonize.ts';
import type { FloatImage, Mask } from '../../src/image/types.ts';
import { env } from '../../src/config/index.ts';

let ortSkip: string | false = false;
before(async () => {
  await initEngine({ backend: 'cpu' });
  ortSkip = (await onnxAvailable()) ? false : 'skipped: onnxruntime-node is not installed (optional dependency; `npm install` installs it)';
});

/** Seeded random values in [lo, hi). */
function randArray(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const rng = new Rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.next();
  return v;
}

/** G with its seeded He/Glorot kernels plus seeded random biases (the initial biases are zero, which would not test their layout). */
function seededGenerator(cfg: GeneratorConfig): tf.LayersModel {
  const g = buildGenerator(cfg);
  let s = 100 + (cfg.seed ?? 0);
  for (const layer of g.layers) {
    const w = layer.getWeights();
    if (w.length !== 2) continue;
    const bias = tf.tensor(randArray(w[1].size, s++, -0.1, 0.1), w[1].shape);
    layer.setWeights([w[0], bias]);
    bias.dispose();
  }
  return g;
}

/** A soft mask: a disc of ones, a soft ramp, zeros elsewhere. */
function discMask(h: number, w: number): Float32Array {
  const m = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const d = Math.hypot(y - h / 2, x - w / 2) / (Math.min(h, w) / 3);
      m[y * w + x] = d < 0.8 ? 1 : d < 1 ? (1 - d) / 0.2 : 0;
    }
  return m;
}

function tfjsRun(g: tf.LayersModel, cfg: GeneratorConfig, x: Float32Array, mask: Float32Array, h: number, w: number): Float32Array {
  return tf.tidy(() => runGenerator(g, tf.tensor4d(x, [1, h, w, 3]), tf.tensor4d(mask, [1, h, w, 1]), cfg).dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function std(a: Float32Array): number {
  let s = 0;
  let s2 = 0;
  for (const v of a) {
    s += v;
    s2 += v * v;
  }
  const mean = s / a.length;
  return Math.sqrt(Math.max(0, s2 / a.length - mean * mean));
}

// ---------------------------------------------------------------------------------------------
// ModelProto encoding (onnx-proto + protobufjs)

test('ModelProto through onnx-proto: every attribute kind, float and int64 initializers, symbolic dims, metadata; malformed bytes are a HarmoniaError', () => {
  const bytes = encodeOnnxModel({
    graphName: 'g',
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'n1', attrs: { group: 1, alpha: 0.5, auto_pad: 'SAME_UPPER', pads: [1, -1, 0, 2], scales: { floats: [1, 2.5] }, forced: { int: 3 } } }],
    initializers: [{ name: 'w', dims: [2, 1], data: new Float32Array([0.25, -3]) }, { name: 'axes', dims: [2], data: { int64: [1, -2] } }],
    inputs: [{ name: 'x', elemType: DT_FLOAT, shape: ['batch', 8, 'width', 3] }],
    outputs: [{ name: 'y', elemType: DT_FLOAT, shape: ['batch', 8, 'width', 3] }],
    producerName: 'p',
    producerVersion: 'v',
    metadata: { k: 'v', 'ü': 'ß' },
  });
  const { onnx } = onnxProto;
  const m = onnx.ModelProto.decode(bytes);
  const A = onnx.AttributeProto.AttributeType;
  const g = m.graph as InstanceType<typeof onnx.GraphProto>;
  const attrs = Object.fromEntries(g.node[0].attribute!.map((a) => [a.name, a as InstanceType<typeof onnx.AttributeProto>]));
  assert.equal(attrs.group.type, A.INT);
  assert.equal(Number(attrs.group.i), 1);
  assert.equal(attrs.alpha.type, A.FLOAT);
  assert.equal(attrs.alpha.f, 0.5);
  assert.equal(attrs.auto_pad.type, A.STRING);
  assert.equal(new TextDecoder().decode(attrs.auto_pad.s), 'SAME_UPPER');
  assert.equal(attrs.pads.type, A.INTS);
  assert.deepEqual(attrs.pads.ints.map(Number), [1, -1, 0, 2]); // negative int64 survive
  assert.equal(attrs.scales.type, A.FLOATS);
  assert.deepEqual(attrs.scales.floats, [1, 2.5]);
  assert.equal(attrs.forced.type, A.INT);
  const [w, axes] = g.initializer as InstanceType<typeof onnx.TensorProto>[];
  assert.equal(w.dataType, DT_FLOAT);
  assert.deepEqual([...new Float32Array(w.rawData.slice().buffer)], [0.25, -3]);
  assert.equal(axes.dataType, DT_INT64);
  assert.deepEqual([...new BigInt64Array(axes.rawData.slice().buffer)], [1n, -2n]);
  const dims = g.input[0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
  assert.deepEqual(dims, ['batch', 8, 'width', 3]);
  const s = readOnnxSummary(bytes);
  assert.equal(s.irVersion, ONNX_IR_VERSION);
  assert.equal(s.opset, ONNX_OPSET);
  assert.deepEqual(s.metadata, { k: 'v', 'ü': 'ß' });
  assert.deepEqual(s.initializers, [{ name: 'w', dims: [2, 1], dataType: DT_FLOAT, bytes: 8 }, { name: 'axes', dims: [2], dataType: DT_INT64, bytes: 16 }]);
  assert.throws(() => readOnnxSummary(new Uint8Array([0x12, 0x05, 0x01])), HarmoniaError); // length past the end
  assert.throws(() => encodeOnnxModel({ graphName: 'g', nodes: [{ op: 'X', inputs: [], outputs: [], name: 'n', attrs: { bad: [1.5] } }], initializers: [], inputs: [], outputs: [], producerName: '', producerVersion: '' }), /ints must be integers/);
});

test('permute4 matches tf.transpose and the ConvTranspose same-padding formula matches TensorFlow', () => {
  const shape = [4, 3, 2, 5];
  const data = randArray(120, 9);
  const got = permute4(data, shape, [3, 2, 0, 1]);
  const want = tf.tidy(() => tf.transpose(tf.tensor4d(data, shape as [number, number, number, number]), [3, 2, 0, 1]).dataSync() as Float32Array);
  assert.deepEqual(got.shape, [5, 2, 4, 3]);
  assert.deepEqual([...got.data], [...want]);
  assert.deepEqual(convTransposeSamePads(4, 4, 2, 2), [1, 1, 1, 1]);
  assert.deepEqual(convTransposeSamePads(3, 3, 2, 2), [0, 0, 1, 1]);
  assert.deepEqual(convTransposeSamePads(3, 5, 1, 1), [1, 2, 1, 2]);
  assert.deepEqual([...padIndexMap(5, 2, 1, 'reflect')], [2, 1, 0, 1, 2, 3, 4, 3]);
  assert.deepEqual([...padIndexMap(2, 3, 3, 'reflect')], [0, 0, 0, 0, 1, 1, 1, 1]); // too small to reflect: replicate, like padAxis
});

test('exported ModelProto: IR 7, opset 13, NHWC input/output, Conv/ConvTranspose weights in ONNX layout, config in metadata', () => {
  const cfg: GeneratorConfig = { unet: true, maskInput: true, residual: true, residualScale: 0.5, seed: 3 };
  const g = seededGenerator(cfg);
  const bytes = exportGeneratorToOnnx(g, cfg, { metadata: { note: 'x' } });
  const s = readOnnxSummary(bytes);
  assert.equal(s.irVersion, ONNX_IR_VERSION);
  assert.equal(s.opset, ONNX_OPSET);
  assert.equal(s.producerName, 'harmonia');
  assert.deepEqual(s.inputs, ['input']);
  assert.deepEqual(s.outputs, ['output']);
  assert.deepEqual(JSON.parse(s.metadata['harmonia.generator']), cfg);
  assert.equal(s.metadata.note, 'x');
  assert.equal(s.ops[0], 'Transpose');
  assert.equal(s.ops.at(-1), 'Transpose');
  assert.equal(s.ops.filter((o) => o === 'Conv').length, 3);
  assert.equal(s.ops.filter((o) => o === 'ConvTranspose').length, 3);
  assert.equal(s.ops.filter((o) => o === 'Concat').length, 2);
  for (const op of ['Tanh', 'Clip', 'Slice', 'Mul', 'Add', 'Sub']) assert.ok(s.ops.includes(op), op);
  const dims = Object.fromEntries(s.initializers.map((i) => [i.name, i.dims]));
  assert.deepEqual(dims['g_enc1/W'], [32, 4, 4, 4]); // [out, in (RGB + mask), kh, kw]
  assert.deepEqual(dims['g_dec1/W'], [128, 64, 4, 4]); // ConvTranspose [in, out, kh, kw]
  assert.deepEqual(dims['g_out/W'], [64, 3, 4, 4]); // 32 + 32 skip channels in
  // Every float weight of the tfjs model is in the file exactly once.
  const floats = s.initializers.filter((i) => i.dataType === 1 && i.dims.length > 0).reduce((a, i) => a + i.bytes / 4, 0);
  assert.equal(floats, g.countParams());
  // The paper G has no slice / residual nodes.
  const paper = readOnnxSummary(exportGeneratorToOnnx(buildGenerator(PAPER_GENERATOR), PAPER_GENERATOR));
  assert.deepEqual(paper.ops, ['Transpose', 'Conv', 'Relu', 'Conv', 'Relu', 'Conv', 'Relu', 'ConvTranspose', 'Relu', 'ConvTranspose', 'Relu', 'ConvTranspose', 'Sigmoid', 'Transpose']);
});

test('exporter refuses unsupported layers and config/model mismatches with a HarmoniaError naming them', () => {
  const inp = tf.input({ shape: [null, null, 3] });
  const bn = tf.layers.batchNormalization({ name: 'my_bn' }).apply(inp) as tf.SymbolicTensor;
  const m = tf.model({ inputs: inp, outputs: bn });
  assert.throws(() => exportGeneratorToOnnx(m, {}), (e: Error) => e instanceof HarmoniaError && /my_bn/.test(e.message) && /BatchNormalization/.test(e.message));
  const elu = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'elu', name: 'elu_conv' }).apply(inp) as tf.SymbolicTensor;
  assert.throws(() => exportGeneratorToOnnx(tf.model({ inputs: inp, outputs: elu }), {}), /elu_conv.*activation "elu"/);
  const residual: GeneratorConfig = { residual: true };
  assert.throws(() => exportGeneratorToOnnx(buildGenerator({}), residual, { inputChannels: 4 }), /config implies 4 input channels/);
  // through the registry entry, the config's channels are always checked
  assert.throws(() => exportModelToOnnx({ generator: buildGenerator({}), config: { residual: true } }), /config implies 4 input channels/);
});

// ---------------------------------------------------------------------------------------------
// ONNX Runtime parity

const VARIANTS: [string, GeneratorConfig][] = [
  ['paper G', { ...PAPER_GENERATOR, seed: 1 }],
  ['unet + mask input + residual', { unet: true, maskInput: true, residual: true, residualScale: 0.5, seed: 2 }],
  ['residual (mask blend only), base 16', { base: 16, residual: true, seed: 3 }],
  ['unet, base 8', { base: 8, unet: true, seed: 4 }],
];

for (const [label, cfg] of VARIANTS) {
  test(`ORT vs tfjs (cpu) parity, ${label}: max abs diff ≤ 1e-4 at 37×51, 64×64 and 5×3`, async (t) => {
    if (ortSkip) return t.skip(ortSkip);
    const g = seededGenerator(cfg);
    const bytes = exportGeneratorToOnnx(g, cfg);
    const ortSync = await createOnnxGenerator(bytes, { threads: 1 });
    const ortAsync = await createOnnxGenerator(bytes, { threads: 2, asyncOnly: true });
    assert.equal(ortSync.syncAvailable, true, 'the native synchronous session of onnxruntime-node 1.30 should be found');
    assert.equal(ortAsync.syncAvailable, false);
    try {
      for (const [h, w] of [[37, 51], [64, 64], [5, 3]]) {
        const x = randArray(h * w * 3, h * 1000 + w);
        const m = discMask(h, w);
        const ref = tfjsRun(g, cfg, x, m, h, w);
        const a = ortSync.runSync(x, m, h, w);
        const b = await ortAsync.run(x, m, h, w);
        const dA = maxAbsDiff(a, ref);
        const dB = maxAbsDiff(b, ref);
        t.diagnostic(`${h}×${w}: max |ORT − tfjs| = ${dA.toExponential(2)} (1 thread, sync), ${dB.toExponential(2)} (2 threads, async)`);
        assert.ok(dA <= 1e-4, `${h}×${w} sync diff ${dA}`);
        assert.ok(dB <= 1e-4, `${h}×${w} async diff ${dB}`);
        if (h * w > 100) assert.ok(std(ref) > 1e-3, 'the reference output is not trivially constant');
        if (cfg.residual) {
          // mask 0 → the input pixel exactly, in ORT as in tfjs
          let exact = 0;
          let zeros = 0;
          for (let p = 0; p < h * w; p++) {
            if (m[p] !== 0) continue;
            zeros++;
            if (a[3 * p] === x[3 * p] && a[3 * p + 1] === x[3 * p + 1] && a[3 * p + 2] === x[3 * p + 2]) exact++;
          }
          assert.equal(exact, zeros, 'background pixels are bit-exact');
        }
      }
    } finally {
      ortSync.dispose();
      ortAsync.dispose();
    }
  });
}

test('ORT parity for general conv geometry: k=3 and k=5, strides 1 and 2, same/valid, odd input sizes', async (t) => {
  if (ortSkip) return t.skip(ortSkip);
  const inp = tf.input({ shape: [null, null, 3], name: 'g_input' });
  let h = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }).apply(inp) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 5, kernelSize: [5, 3], strides: 1, padding: 'valid', activation: 'tanh', name: 'c2' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 't1' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2dTranspose({ filters: 3, kernelSize: 4, strides: 1, padding: 'valid', activation: 'sigmoid', useBias: false, name: 't2' }).apply(h) as tf.SymbolicTensor;
  const m = tf.model({ inputs: inp, outputs: h });
  // The raw exported graph (no runner padding), fed sizes of both parities.
  const spec: string = 'onnxruntime-node';
  const ort = (await import(spec)) as RawOrt;
  const sess = await ort.InferenceSession.create(exportGeneratorToOnnx(m, {}), { intraOpNumThreads: 1 });
  for (const [hh, ww] of [[16, 24], [15, 17]]) {
    const x = randArray(hh * ww * 3, hh + ww);
    const ref = tf.tidy(() => (m.predict(tf.tensor4d(x, [1, hh, ww, 3])) as tf.Tensor).dataSync() as Float32Array);
    const refShape = tf.tidy(() => (m.predict(tf.zeros([1, hh, ww, 3])) as tf.Tensor).shape);
    const out = (await sess.run({ input: new ort.Tensor('float32', x, [1, hh, ww, 3]) })).output;
    const d = maxAbsDiff(out.data as Float32Array, ref);
    t.diagnostic(`${hh}×${ww} → ${out.dims.join('×')}: max diff ${d.toExponential(2)}`);
    assert.deepEqual([...out.dims], refShape);
    assert.ok(d <= 1e-5, `${hh}×${ww}: ${d}`);
  }
  await sess.release();
});

interface RawOrt {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => { data: unknown; dims: readonly number[] };
  InferenceSession: {
    create(b: Uint8Array, o: object): Promise<{ run(f: object): Promise<Record<string, { data: unknown; dims: readonly number[] }>>; release(): Promise<void> }>;
  };
}

// ---------------------------------------------------------------------------------------------
// Model folders: cache, loader, pipeline hook

test('model.onnx: written by saveHarmonizationModel with the source digest; a stale or corrupt file is rejected naming the re-export command, never exported on load; ensureOnnxModel re-exports', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-onnx-'));
  const cfg: GeneratorConfig = { residual: true, base: 8, seed: 5 };
  const g = seededGenerator(cfg);
  await saveHarmonizationModel(dir, g, cfg, { name: 'onnx-test', input: 'semiHarmonized' });
  assert.ok(existsSync(join(dir, ONNX_FILE)), 'saving the folder writes model.onnx');
  const digest = await modelSourceDigest(dir);
  assert.equal(readOnnxSummary(readFileSync(join(dir, ONNX_FILE))).metadata[META_SOURCE], digest);
  const fresh = await readOnnxModel(dir);
  assert.equal(fresh.status, 'fresh');
  const first = await ensureOnnxModel(dir, { generator: g, config: cfg });
  assert.equal(first.regenerated, false, 'a fresh file is reused');
  // "Retrain" by replacing weights.bin / model.json only (what copying new weights into models/default does)
  const g2 = seededGenerator({ ...cfg, seed: 6 });
  await saveModel(g2, dir);
  const stale = await readOnnxModel(dir);
  assert.equal(stale.status, 'stale');
  assert.match(stale.status === 'stale' ? stale.reason : '', /model\.onnx is stale: it was exported from other weights .*; re-export it with `harmonia export-onnx /);
  const bytesBefore = readFileSync(join(dir, ONNX_FILE));
  await assert.rejects(loadOnnxGenerator(dir, { threads: 1 }), (e: Error) => e instanceof HarmoniaError && /stale.*harmonia export-onnx/.test(e.message));
  // inference in auto mode: TF.js, with the reason on stderr once; 'onnx' mode refuses; the file is left alone (no export on load)
  const errs: string[] = [];
  const origErr = console.error;
  console.error = (...a: unknown[]) => void errs.push(a.join(' '));
  let viaAuto: HarmonizationModel;
  try {
    const m2: HarmonizationModel = { generator: g2, config: cfg };
    viaAuto = await withOnnxRunner(dir, m2, 'auto');
    await assert.rejects(withOnnxRunner(`${dir}/`, m2, 'onnx'), /stale/);
  } finally {
    console.error = origErr;
  }
  assert.equal(viaAuto.runner, undefined, 'a stale model.onnx is not used');
  assert.match(errs.join('\n'), /stale.*harmonia export-onnx .*TensorFlow\.js meanwhile/);
  assert.deepEqual(readFileSync(join(dir, ONNX_FILE)), bytesBefore, 'loading never rewrites model.onnx');
  // the one re-export command's function
  const third = await ensureOnnxModel(dir, { generator: g2, config: cfg });
  assert.equal(third.regenerated, true);
  assert.match(third.note ?? '', /stale/);
  assert.equal((await readOnnxModel(dir)).status, 'fresh');
  writeFileSync(join(dir, ONNX_FILE), new Uint8Array([0x12, 0xff, 0x01]));
  assert.equal((await readOnnxModel(dir)).status, 'unreadable');
  const fourth = await ensureOnnxModel(dir, { generator: g2, config: cfg });
  assert.equal(fourth.regenerated, true);
  assert.match(fourth.note ?? '', /unreadable/);
  assert.deepEqual(fourth.bytes, third.bytes);
  if (ortSkip) return t.skip(ortSkip);
  // The loader runs the folder's current weights.
  const loaded = await loadOnnxGenerator(dir, { threads: 1 });
  try {
    const [h, w] = [21, 30];
    const x = randArray(h * w * 3, 77);
    const m = discMask(h, w);
    const d = maxAbsDiff(loaded.runSync(x, m, h, w), tfjsRun(g2, cfg, x, m, h, w));
    assert.ok(d <= 1e-4, `loader diff ${d}`);
    assert.deepEqual(loaded.config, cfg);
    assert.throws(() => loaded.runSync(x, undefined, h, w), /needs a mask/);
    assert.throws(() => loaded.runSync(x.subarray(1), m, h, w), /Float32Array of 21×30×3/);
  } finally {
    loaded.dispose();
  }
});

/** A colour-transform generator with every weight seeded random (the last layers start at zero, which would test nothing). */
function seededColorTransform(kind: 'global' | 'pct', seed: number, extra: { histogramBins?: number; mlpLayers?: number } = {}): { generator: tf.LayersModel; config: GeneratorConfig } {
  const config: GeneratorConfig = { kind, analysisSize: 64, base: 8, hidden: 16, gateBias: 2, seed, ...extra };
  const generator = buildColorTransformGenerator({ field: kind === 'pct', analysisSize: 64, base: 8, hidden: 16, gateBias: 2, seed, ...extra });
  let k = seed * 100;
  for (const layer of generator.layers) {
    const ws = layer.getWeights();
    if (!ws.length) continue;
    const next = ws.map((w) => tf.tensor(randArray(w.size, k++, -0.15, 0.15), w.shape));
    layer.setWeights(next);
    tf.dispose(next);
  }
  return { generator, config };
}

test('colour-transform generators (global, pct, global with colour histograms and a 2-layer MLP): the parameter network exports to ONNX; ORT θ and field match TF.js (≤ 1e-6), and harmonizeImage through the ORT hook matches the TF.js path (≤ 1e-6)', async (t) => {
  const variants = [['global', {}], ['pct', {}], ['global', { histogramBins: 8, mlpLayers: 2 }]] as const;
  for (const [kind, extra] of variants) {
    const { generator, config } = seededColorTransform(kind, kind === 'global' ? 3 : 4, extra);
    if ('histogramBins' in extra) assert.equal(generator.getLayer('g_pool').outputShape[1], 2 * 32 + 12 + 6 * 8, 'the histograms widen the pooled statistics');
    const bytes = exportModelToOnnx({ generator, config });
    const s = readOnnxSummary(bytes);
    assert.deepEqual(s.inputs, ['input']);
    assert.deepEqual(s.outputs, kind === 'pct' ? ['theta', 'field'] : ['theta']);
    assert.equal(s.metadata['harmonia.graph'], 'color-transform-parameters');
    assert.ok(!s.ops.includes('Conv') || s.ops.filter((o) => o === 'Conv').length === (kind === 'pct' ? 6 : 4), `conv count ${s.ops.join(',')}`);
    assert.ok(s.ops.includes('ReduceSum') && s.ops.includes('AveragePool') && s.ops.includes('MatMul'));
    if (ortSkip) { t.diagnostic(ortSkip); continue; }
    const c = await createOnnxColorTransform(bytes, { threads: 1 });
    try {
      assert.equal(c.size, 64);
      // θ on random analysis copies with masks of different shapes
      let dTheta = 0, dField = 0;
      for (let trial = 0; trial < 3; trial++) {
        const x = randArray(64 * 64 * 4, 500 + trial);
        const cx = 20 + 12 * trial;
        for (let p = 0; p < 64 * 64; p++) x[p * 4 + 3] = Math.hypot((p % 64) - cx, Math.floor(p / 64) - 30) < 14 + 4 * trial ? 1 : trial === 2 ? 0.3 : 0;
        const got = c.predictSync(x);
        const xt = tf.tensor4d(x, [1, 64, 64, 4]);
        const ref = predictColorTransform(generator, xt);
        xt.dispose();
        dTheta = Math.max(dTheta, maxAbsDiff(got.theta, ref.theta));
        assert.ok(Math.max(...ref.theta.map(Math.abs)) > 0.1, 'θ is not trivially zero');
        if (kind === 'pct') {
          assert.deepEqual([got.field?.width, got.field?.height], [ref.field?.width, ref.field?.height]);
          dField = Math.max(dField, maxAbsDiff(got.field!.data, ref.field!.data));
        } else assert.equal(got.field, undefined);
        assert.equal(maxAbsDiff((await c.predict(x)).theta, got.theta), 0, 'async and sync runs agree');
      }
      // the whole pipeline at full resolution (flip averaging on, odd size): TF.js θ vs ONNX Runtime θ
      const [h, w] = [203, 317];
      const composite: FloatImage = { width: w, height: h, channels: 3, data: randArray(h * w * 3, 21) };
      const mask: Mask = { width: w, height: h, data: discMask(h, w) };
      const model: HarmonizationModel = { generator, config, card: { name: kind, input: 'composite' } };
      const viaTfjs = harmonizeImage(composite, mask, model, { stage: 'full' });
      const before = tf.memory().numTensors;
      const viaOrt = harmonizeImage(composite, mask, { ...model, transformParams: onnxTransformParams(c) }, { stage: 'full' });
      assert.equal(tf.memory().numTensors, before, 'the ORT path creates no tfjs tensors');
      const dOut = maxAbsDiff(viaOrt.result.data, viaTfjs.result.data);
      t.diagnostic(`${kind}: max |ORT − TF.js| θ ${dTheta.toExponential(2)}${kind === 'pct' ? `, field ${dField.toExponential(2)}` : ''}, harmonized ${w}×${h} ${dOut.toExponential(2)}`);
      assert.ok(dTheta <= 1e-6, `θ diff ${dTheta}`);
      assert.ok(dField <= 1e-6, `field diff ${dField}`);
      assert.ok(dOut <= 1e-6, `harmonized diff ${dOut}`);
      assert.ok(maxAbsDiff(viaOrt.result.data, composite.data) > 1e-2, 'the transform changed the foreground');
      for (let p = 0; p < h * w; p++) if (mask.data[p] === 0) for (let k = 0; k < 3; k++) assert.equal(viaOrt.result.data[p * 3 + k], composite.data[p * 3 + k]);
      // and the async pipeline (the web app's) gives the same bytes as the sync one
      const viaAsync = await harmonizeImageAsync(composite, mask, { config, card: model.card, transformParams: async (i) => c.predict(i) }, { stage: 'full' });
      assert.equal(maxAbsDiff(viaAsync.result.data, viaOrt.result.data), 0);
    } finally {
      c.dispose();
    }
    generator.dispose();
  }
});

test('the shipped models/default: model.onnx is fresh for its TF.js files (else: harmonia export-onnx models/default), and the pipeline runs its network on ONNX Runtime with the same result as TF.js', async (t) => {
  if (!existsSync(join(DEFAULT_MODEL_DIR, 'model.json'))) return t.skip('no models/default');
  const state = await readOnnxModel(DEFAULT_MODEL_DIR);
  assert.equal(state.status, 'fresh', state.status === 'fresh' ? '' : state.reason);
  if (ortSkip) return t.skip(ortSkip);
  const model = await loadHarmonizationModel(DEFAULT_MODEL_DIR);
  try {
    const fast = await withOnnxRunner(DEFAULT_MODEL_DIR, model, 'onnx');
    assert.equal(typeof fast.transformParams, 'function');
    const [h, w] = [240, 360];
    const composite: FloatImage = { width: w, height: h, channels: 3, data: randArray(h * w * 3, 31) };
    const mask: Mask = { width: w, height: h, data: discMask(h, w) };
    const d = maxAbsDiff(harmonizeImage(composite, mask, fast).result.data, harmonizeImage(composite, mask, model).result.data);
    t.diagnostic(`models/default ${w}×${h}: max |ORT − TF.js| of the harmonized image ${d.toExponential(2)}`);
    assert.ok(d <= 1e-6, `diff ${d}`);
  } finally {
    model.generator.dispose();
  }
});

test('pipeline hook: harmonizeImage with the ORT runner matches the tfjs path (≤ 1e-4), and resolveModel attaches it unless HARMONIA_INFERENCE=tfjs', async (t) => {
  if (ortSkip) return t.skip(ortSkip);
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-onnx-pipe-'));
  const cfg: GeneratorConfig = { unet: true, residual: true, residualScale: 0.3, base: 8, seed: 7 };
  await saveHarmonizationModel(dir, seededGenerator(cfg), cfg, { name: 'onnx-pipe', input: 'semiHarmonized' });
  const model: HarmonizationModel = await loadHarmonizationModel(dir);
  const [h, w] = [45, 62];
  const composite: FloatImage = { width: w, height: h, channels: 3, data: randArray(h * w * 3, 11) };
  const mask: Mask = { width: w, height: h, data: discMask(h, w) };
  const g = await loadOnnxGenerator(dir, { threads: 1 });
  try {
    const viaTfjs = harmonizeImage(composite, mask, model, { stage: 'gan' });
    const before = tf.memory().numTensors;
    const viaOrt = harmonizeImage(composite, mask, { ...model, runner: onnxRunner(g) }, { stage: 'gan' });
    assert.equal(tf.memory().numTensors, before, 'the ORT path creates no tfjs tensors');
    const d = maxAbsDiff(viaOrt.result.data, viaTfjs.result.data);
    t.diagnostic(`harmonizeImage (gan stage) 45×62: max |ORT − tfjs| = ${d.toExponential(2)}`);
    assert.ok(d <= 1e-4, `pipeline diff ${d}`);
    assert.ok(maxAbsDiff(viaOrt.result.data, composite.data) > 1e-3, 'G changed the foreground');
    // analysis downscale path (maxSide 32 < 62): the correction is upsampled the same way
    const small = maxAbsDiff(
      harmonizeImage(composite, mask, { ...model, runner: onnxRunner(g) }, { stage: 'gan', analysisMaxSide: 32 }).result.data,
      harmonizeImage(composite, mask, model, { stage: 'gan', analysisMaxSide: 32 }).result.data,
    );
    assert.ok(small <= 1e-4, `downscaled pipeline diff ${small}`);
  } finally {
    g.dispose();
  }
  const prev = env.inference;
  try {
    env.inference = 'auto';
    const auto = await resolveModel(dir, 'gan');
    assert.equal(typeof auto?.runner, 'function', 'ORT runner attached by default');
    env.inference = 'tfjs';
    const plain = await resolveModel(dir, 'gan');
    assert.equal(plain?.runner, undefined, 'HARMONIA_INFERENCE=tfjs keeps tfjs');
  } finally {
    env.inference = prev;
  }
  assert.throws(() => inferenceMode('gpu'), /HARMONIA_INFERENCE must be auto, onnx or tfjs/);
  assert.equal(ortThreads(), env.ortThreads);
  assert.equal(inferenceMode('ONNX'), 'onnx');
  assert.equal(inferenceMode(''), 'auto');
  // a graph the exporter refuses: saving says so on stderr and writes no model.onnx; auto falls back
  // to tfjs, 'onnx' mode surfaces the reason (no model.onnx, with the export command, which names the layer)
  const bad = mkdtempSync(join(tmpdir(), 'harmonia-onnx-bad-'));
  const inp = tf.input({ shape: [null, null, 3] });
  const odd = tf.model({ inputs: inp, outputs: tf.layers.batchNormalization({ name: 'odd_bn' }).apply(inp) as tf.SymbolicTensor });
  const errs: string[] = [];
  const origErr = console.error;
  console.error = (...a: unknown[]) => void errs.push(a.join(' '));
  try {
    await saveHarmonizationModel(bad, odd, {}, { name: 'bad', input: 'composite' });
  } finally {
    console.error = origErr;
  }
  assert.match(errs.join('\n'), /no model\.onnx written .*odd_bn/);
  assert.ok(!existsSync(join(bad, ONNX_FILE)));
  // harmonia.json ({}: a paper G) does not describe this network: loading the folder is refused (issue 28)
  await assert.rejects(loadHarmonizationModel(bad), /not a usable harmonization model: harmonia\.json describes a "paper" generator, but model\.json holds another network/);
  const badModel: HarmonizationModel = { generator: odd, config: {}, card: { name: 'bad', input: 'composite' } };
  assert.equal((await withOnnxRunner(bad, badModel, 'auto')).runner, undefined, 'auto falls back to tfjs');
  await assert.rejects(withOnnxRunner(`${bad}/`, badModel, 'onnx'), /model\.onnx does not exist; re-export it with `harmonia export-onnx/);
});

test('harmonia export-onnx: writes model.onnx (or --out), --check compares with tfjs, re-exports a stale colour-transform folder in one command, a missing folder is a one-line HarmoniaError', async (t) => {
  const { exportOnnxCommand } = await import('../../src/cli/commands/export-onnx.ts');
  const dir = mkdtempSync(join(tmpdir(), 'harmonia-onnx-cli-'));
  const cfg: GeneratorConfig = { maskInput: true, base: 8, seed: 9 };
  await saveHarmonizationModel(join(dir, 'm'), seededGenerator(cfg), cfg, { name: 'cli', input: 'semiHarmonized' });
  rmSync(join(dir, 'm', ONNX_FILE));
  const logs: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void logs.push(a.join(' '));
  try {
    assert.equal(await exportOnnxCommand.run({ values: { out: join(dir, 'g.onnx'), check: !ortSkip }, positionals: [join(dir, 'm')] }), 0);
  } finally {
    console.log = orig;
  }
  assert.ok(existsSync(join(dir, 'g.onnx')));
  assert.ok(!existsSync(join(dir, 'm', ONNX_FILE)), '--out leaves the model folder untouched');
  assert.equal(readOnnxSummary(readFileSync(join(dir, 'g.onnx'))).metadata[META_SOURCE], await modelSourceDigest(join(dir, 'm')));
  assert.match(logs.join('\n'), /opset 13/);
  if (!ortSkip) assert.match(logs.join('\n'), /check: max \|ONNX Runtime − TensorFlow\.js\| = \d/);
  else t.diagnostic(ortSkip);
  await assert.rejects(exportOnnxCommand.run({ values: {}, positionals: [join(dir, 'none')] }), (e: Error) => e instanceof HarmoniaError && /model\.json missing/.test(e.message));
  // new weights copied into a colour-transform folder → stale → `harmonia export-onnx --model <folder>` makes it fresh
  const ct = seededColorTransform('global', 8);
  const ctDir = join(dir, 'ct');
  await saveHarmonizationModel(ctDir, ct.generator, ct.config, { name: 'ct', input: 'composite' });
  await saveModel(seededColorTransform('global', 9).generator, ctDir);
  assert.equal((await readOnnxModel(ctDir)).status, 'stale');
  logs.length = 0;
  console.log = (...a: unknown[]) => void logs.push(a.join(' '));
  try {
    assert.equal(await exportOnnxCommand.run({ values: { model: ctDir, check: !ortSkip }, positionals: [] }), 0);
  } finally {
    console.log = orig;
  }
  assert.equal((await readOnnxModel(ctDir)).status, 'fresh');
  assert.match(logs.join('\n'), /input NHWC \[N,64,64,4\] \(analysis copy\) → theta .*exported \(.*stale/s);
  if (!ortSkip) assert.match(logs.join('\n'), /check: max \|ONNX Runtime − TensorFlow\.js\| = \S+ on θ/);
});
