/**
 * Issue 28, fault 12: a malformed request is a client error. `POST /harmonize` gets ≥ 300 malformed
 * bodies (seeded): missing, empty, mismatched, over-long or unterminated boundaries; bodies truncated at
 * random offsets; garbage; bad, missing, huge or too many part headers; wrong part and request content
 * types; byte flips; huge request headers; broken JSON. Each is sent raw over a loopback socket (with a
 * correct Content-Length, so the HTTP framing itself is sound). Every one must get an answer with a
 * status below 500 (a one-line JSON `{ "error" }` for the refusals), the server must log no internal
 * error, count no 5xx in /metrics, and still answer /health.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createServer, type HarmoniaServer } from '../../src/service/server.ts';
import { Rng } from '../../src/util/random.ts';
import { tempDirFactory } from '../helpers.ts';
import { makeComposites, type Fixture } from './helpers.ts';

process.env.HARMONIA_NATIVE_THREADS ??= '1';

const tempDir = tempDirFactory();
let server: HarmoniaServer;
let port: number;
let fx: Fixture;
const internalErrors: string[] = [];
const consoleError = console.error;

before(async () => {
  fx = (await makeComposites(tempDir('harmonia-fuzz-'), 1, 12))[0];
  server = await createServer({ threads: 1, maxQueue: 64, bodyLimit: 256 * 1024 });
  const addr = await server.app.listen({ port: 0, host: '127.0.0.1' });
  port = Number(new URL(addr).port);
  console.error = (...args: unknown[]) => { internalErrors.push(args.map(String).join(' ')); consoleError(...args); };
});

after(async () => {
  console.error = consoleError;
  await server?.close();
});

interface Case { kind: string; headers: Record<string, string>; body: Buffer; path?: string }
interface Answer { status: number; body: string }

/** Sends one raw HTTP/1.1 request (Connection: close) and reads the whole answer. */
function send(c: Case): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), 60_000);
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', () => undefined); // a reset after the answer (the server stops reading a refused body)
    s.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!m) return resolve(undefined);
      const i = text.indexOf('\r\n\r\n');
      resolve({ status: Number(m[1]), body: i >= 0 ? text.slice(i + 4) : '' });
    });
    const head = [`POST ${c.path ?? '/harmonize'} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', `Content-Length: ${c.body.length}`,
      ...Object.entries(c.headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
    s.write(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), c.body]));
  });
}

const CRLF = '\r\n';
function part(boundary: string, name: string, data: Buffer | string, opts: { filename?: string; type?: string; extra?: string } = {}): Buffer {
  const h = [`--${boundary}`, `Content-Disposition: form-data; name="${name}"${opts.filename ? `; filename="${opts.filename}"` : ''}`];
  if (opts.type) h.push(`Content-Type: ${opts.type}`);
  if (opts.extra) h.push(opts.extra);
  return Buffer.concat([Buffer.from(h.join(CRLF) + CRLF + CRLF, 'latin1'), Buffer.isBuffer(data) ? data : Buffer.from(data), Buffer.from(CRLF)]);
}
function valid(boundary: string): Buffer {
  return Buffer.concat([
    part(boundary, 'composite', fx.compositeBytes, { filename: 'c.png', type: 'image/png' }),
    part(boundary, 'mask', fx.maskBytes, { filename: 'm.png', type: 'image/png' }),
    Buffer.from(`--${boundary}--${CRLF}`),
  ]);
}

/** ≥ 300 malformed requests, seeded. */
function cases(): Case[] {
  const rng = new Rng(20281228);
  const int = (n: number) => Math.floor(rng.next() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const mp = (b: string) => ({ 'Content-Type': `multipart/form-data; boundary=${b}` });
  const out: Case[] = [];
  const add = (kind: string, n: number, make: (k: number) => Omit<Case, 'kind'>) => { for (let k = 0; k < n; k++) out.push({ kind, ...make(k) }); };
  add('no boundary parameter', 12, () => ({ headers: { 'Content-Type': ['multipart/form-data', 'multipart/form-data;', 'multipart/form-data; charset=utf-8'][int(3)] }, body: valid('B0undary') }));
  add('empty boundary', 8, () => ({ headers: { 'Content-Type': ['multipart/form-data; boundary=', 'multipart/form-data; boundary=""'][int(2)] }, body: valid('x') }));
  add('boundary mismatch', 20, (k) => ({ headers: mp(`other${k}`), body: valid(`real${k}`) }));
  add('unterminated quoted boundary', 8, (k) => ({ headers: { 'Content-Type': `multipart/form-data; boundary="abc${k}` }, body: valid(`abc${k}`) }));
  add('over-long boundary', 8, (k) => { const b = 'b'.repeat(71 + int(300)) + k; return { headers: mp(b), body: valid(b) }; });
  add('truncated body', 60, (k) => { const b = `T${k}`; const v = valid(b); return { headers: mp(b), body: v.subarray(0, int(v.length - 4)) }; });
  add('no closing boundary', 10, (k) => { const b = `N${k}`; const v = valid(b); return { headers: mp(b), body: v.subarray(0, v.length - (b.length + 6)) }; });
  add('garbage body', 30, (k) => ({ headers: mp(`G${k}`), body: bytes(1 + int(4000)) }));
  add('garbage after a boundary', 15, (k) => ({ headers: mp(`H${k}`), body: Buffer.concat([Buffer.from(`--H${k}${CRLF}`), bytes(1 + int(2000))]) }));
  add('no Content-Disposition', 8, (k) => { const b = `D${k}`; return { headers: mp(b), body: Buffer.from(`--${b}${CRLF}Content-Type: image/png${CRLF}${CRLF}abc${CRLF}--${b}--${CRLF}`) }; });
  add('Content-Disposition without a name', 8, (k) => { const b = `E${k}`; return { headers: mp(b), body: Buffer.from(`--${b}${CRLF}Content-Disposition: form-data; filename="a.png"${CRLF}${CRLF}abc${CRLF}--${b}--${CRLF}`) }; });
  add('huge part header', 10, (k) => { const b = `P${k}`; return { headers: mp(b), body: Buffer.concat([part(b, 'composite', fx.compositeBytes, { filename: 'c.png', extra: `X-Pad: ${'a'.repeat(20_000 + int(60_000))}` }), Buffer.from(`--${b}--${CRLF}`)]) }; });
  add('too many part headers', 8, (k) => { const b = `M${k}`; return { headers: mp(b), body: Buffer.concat([part(b, 'composite', fx.compositeBytes, { filename: 'c.png', extra: Array.from({ length: 200 + int(2000) }, (_, i) => `X-H${i}: v`).join(CRLF) }), Buffer.from(`--${b}--${CRLF}`)]) }; });
  add('too many parts', 8, (k) => { const b = `Q${k}`; return { headers: mp(b), body: Buffer.concat([...Array.from({ length: 13 + int(40) }, () => part(b, 'stage', 'gan')), Buffer.from(`--${b}--${CRLF}`)]) }; });
  add('wrong part types', 24, (k) => {
    const b = `W${k}`;
    const shapes = [
      () => [part(b, 'composite', 'just some text', { filename: 'c.png', type: 'text/plain' }), part(b, 'mask', fx.maskBytes, { filename: 'm.png' })],
      () => [part(b, 'composite', fx.compositeBytes.toString('latin1')), part(b, 'mask', fx.maskBytes.toString('latin1'))], // files sent as text fields
      () => [part(b, 'stage', fx.compositeBytes, { filename: 'c.png' })], // an option sent as a file
      () => [part(b, 'composite', fx.compositeBytes, { filename: 'c.png' }), part(b, 'mask', bytes(50), { filename: 'm.png', type: 'image/png' })],
      () => [part(b, 'composite', Buffer.alloc(0), { filename: 'c.png' }), part(b, 'mask', fx.maskBytes, { filename: 'm.png' })],
      () => [part(b, 'quality', 'x'.repeat(5000))],
    ];
    return { headers: mp(b), body: Buffer.concat([...shapes[k % shapes.length](), Buffer.from(`--${b}--${CRLF}`)]) };
  });
  add('LF instead of CRLF', 8, (k) => { const b = `L${k}`; return { headers: mp(b), body: Buffer.from(valid(b).toString('latin1').replace(/\r\n/g, '\n'), 'latin1') }; });
  add('byte flips', 40, (k) => {
    const b = `F${k}`;
    const v = Buffer.from(valid(b));
    for (let i = 0, n = 1 + int(8); i < n; i++) v[int(v.length)] = int(256);
    return { headers: mp(b), body: v };
  });
  add('wrong request content type', 16, () => ({
    headers: { 'Content-Type': ['text/plain', 'image/png', 'application/octet-stream', 'multipart/mixed; boundary=x', 'application/x-www-form-urlencoded', 'multipart/alternative; boundary=x', 'application/xml', '*/*'][int(8)] },
    body: valid('x'),
  }));
  add('no content type', 4, () => ({ headers: {}, body: valid('x') }));
  add('huge request headers', 8, () => ({ headers: { ...mp('x'), 'X-Big': 'h'.repeat(17_000 + int(50_000)) }, body: valid('x') }));
  add('many request headers', 4, () => ({ headers: Object.fromEntries([...Array.from({ length: 3000 }, (_, i) => [`X-N${i}`, 'v']), ...Object.entries(mp('x'))]), body: valid('x') }));
  add('broken JSON', 12, (k) => ({ headers: { 'Content-Type': 'application/json' }, body: Buffer.from(['{', '[]', 'null', '"x"', '{"composite":', '{"composite": 1}', '[[[[[[[[', '{"a":1,,}', '\u0000', '{"composite":"a","mask":"b","extra":1}', '{}', '1e999'][k % 12]) }));
  return out;
}

test('fault 12: ≥ 300 malformed POST /harmonize bodies: every answer is below 500, refusals are one-line JSON; /health still answers', { timeout: 600_000 }, async (t) => {
  const all = cases();
  assert.ok(all.length >= 300, `${all.length} cases`);
  const answers: (Answer | undefined)[] = new Array(all.length);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < all.length) {
      const i = next++;
      answers[i] = await send(all[i]);
    }
  }));
  const byStatus = new Map<string, number>();
  const problems: string[] = [];
  all.forEach((c, i) => {
    const a = answers[i];
    const key = `${c.kind}: ${a ? a.status : 'no answer'}`;
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    if (!a) return problems.push(`${c.kind} #${i}: no answer`);
    if (a.status >= 500) return problems.push(`${c.kind} #${i}: ${a.status} ${a.body.slice(0, 200)}`);
    if (a.status !== 200) {
      let body: unknown;
      try { body = JSON.parse(a.body); } catch { return problems.push(`${c.kind} #${i}: ${a.status} body is not JSON: ${a.body.slice(0, 200)}`); }
      if (a.body.trim().includes('\n') || typeof (body as { error?: unknown }).error !== 'string' || Object.keys(body as object).length !== 1) problems.push(`${c.kind} #${i}: ${a.status} not a one-line { error }: ${a.body.slice(0, 200)}`);
    }
  });
  t.diagnostic([...byStatus].map(([k, n]) => `${k} ×${n}`).join('; '));
  assert.deepEqual(problems, []);
  assert.ok(all.some((c, i) => c.kind === 'no boundary parameter' && answers[i]?.status === 400), 'a missing boundary is a 400');
  assert.ok(all.some((c, i) => c.kind === 'truncated body' && answers[i]?.status === 400), 'a truncated body is a 400');
  assert.ok(all.some((c, i) => c.kind === 'huge request headers' && answers[i]?.status === 431), 'huge headers are a 431');
  assert.ok(all.some((c, i) => c.kind === 'wrong request content type' && answers[i]?.status === 415), 'another content type is a 415');
  assert.deepEqual(internalErrors.filter((l) => /internal error/.test(l)), [], 'the server logged no internal error');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.doesNotMatch(metrics, /status="5\d\d"/, 'no 5xx counted');
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
});
