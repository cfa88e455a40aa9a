#!/usr/bin/env node
// Builds the optional native kernels (native/harmonia_native.cc, on oneDNN) into
// native/build/harmonia_native.node with g++. No node-gyp, no network: needs g++ (C++17, OpenMP),
// oneDNN headers + library (Debian: apt-get install libdnnl-dev) and Node's headers (node_api.h).
//
//   node native/build.mjs             build; exit 1 with the reason when it cannot
//   node native/build.mjs --optional  the install hook: same, but always exit 0 (one-line notice),
//                                     so a machine without a compiler or oneDNN keeps the wasm path
//   node native/build.mjs --force     rebuild even when the output is newer than the source
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const optional = process.argv.includes('--optional');
const force = process.argv.includes('--force');
const src = join(here, 'harmonia_native.cc');
const outDir = join(here, 'build');
const out = join(outDir, 'harmonia_native.node');

function fail(reason) {
  const msg = `harmonia: native kernels not built (${reason}); the wasm backend will be used. See docs/PERFORMANCE.md "Native kernels".`;
  if (optional) {
    console.log(msg);
    process.exit(0);
  }
  console.error(msg);
  process.exit(1);
}

if (process.env.HARMONIA_SKIP_NATIVE) fail('HARMONIA_SKIP_NATIVE is set');
if (process.platform !== 'linux' || process.arch !== 'x64') fail(`unsupported platform ${process.platform}-${process.arch} (linux-x64 only)`);

const cxx = process.env.CXX || 'g++';
const probe = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) fail(`no C++ compiler ("${cxx}" not found)`);

const nodeIncludes = [
  process.env.HARMONIA_NODE_INCLUDE,
  resolve(dirname(process.execPath), '..', 'include', 'node'),
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const nodeInc = nodeIncludes.find((d) => existsSync(join(d, 'node_api.h')));
if (!nodeInc) fail(`node_api.h not found (looked in ${nodeIncludes.join(', ')}; set HARMONIA_NODE_INCLUDE)`);

const dnnlIncludes = [process.env.HARMONIA_DNNL_INCLUDE, '/usr/include', '/usr/local/include'].filter(Boolean);
const dnnlInc = dnnlIncludes.find((d) => existsSync(join(d, 'dnnl.hpp')));
if (!dnnlInc) fail('oneDNN headers not found (dnnl.hpp; Debian/Ubuntu: apt-get install libdnnl-dev)');

if (!force && existsSync(out) && statSync(out).mtimeMs > Math.max(statSync(src).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs)) {
  console.log(`harmonia: native kernels up to date (${out})`);
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const args = [
  '-std=c++17', '-O3', '-march=native', '-ffp-contract=off', '-fPIC', '-shared', '-fopenmp', '-fvisibility=hidden',
  '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=harmonia_native',
  `-I${nodeInc}`, `-I${dnnlInc}`, src, '-o', tmp,
  ...(process.env.HARMONIA_DNNL_LIB ? [`-L${process.env.HARMONIA_DNNL_LIB}`, `-Wl,-rpath,${process.env.HARMONIA_DNNL_LIB}`] : []),
  '-ldnnl',
];
const t0 = Date.now();
const r = spawnSync(cxx, args, { encoding: 'utf8' });
if (r.status !== 0) {
  rmSync(tmp, { force: true });
  const first = (r.stderr || r.error?.message || '').split('\n').find((l) => /error/i.test(l)) ?? 'compiler failed';
  if (!optional && r.stderr) process.stderr.write(r.stderr);
  fail(`${cxx} failed: ${first.trim()}`);
}
renameSync(tmp, out);
console.log(`harmonia: native kernels built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${out}`);
