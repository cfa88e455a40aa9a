#!/usr/bin/env node
// CLI entry. In the published package it runs the built JavaScript in dist/ (no TypeScript at run time).
// In a checkout (src/ beside it) it runs the TypeScript sources through tsx (a dev dependency), so no
// build step is needed and a stale dist/ is never picked up; HARMONIA_DIST=1 forces dist/ there too.
import { existsSync } from 'node:fs';

// A closed pipe (`harmonia info | head -1`) ends the program quietly instead of with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err; });
}
const sources = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);
// HARMONIA_DIST=1 (a checkout that also has dist/) is read by the one configuration module, from dist/ itself
const builtConfig = new URL('../dist/config/index.js', import.meta.url);
const forceDist = existsSync(sources) && existsSync(builtConfig) && (await import(builtConfig.href)).env.dist;
let main;
if (existsSync(sources) && !forceDist) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else if (existsSync(built)) {
  ({ main } = await import(built.href));
} else {
  console.error('harmonia: dist/ is missing: run `npm run build` first');
  process.exit(2);
}
process.exitCode = await main(process.argv.slice(2));
