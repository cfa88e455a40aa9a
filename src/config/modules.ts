/**
 * User modules: files that register generators (src/models/registry.ts `registerGenerator`) or loss
 * settings (src/losses/registry.ts `registerLossSetting`), loaded with `harmonia <command> --import
 * <file>` or `importUserModules([...])`. Each is imported once per thread, and the list is kept so
 * that worker threads (the training pool's, src/train/step-module.ts) import the same modules before
 * they build anything: what a user registers reaches every thread.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HarmoniaError } from '../errors.ts';

const loaded: string[] = [];

/** The module URL a path or specifier names (paths are resolved against the working directory). */
export function userModuleUrl(spec: string): string {
  if (/^(file|data|node):/.test(spec)) return spec;
  if (spec.startsWith('.') || isAbsolute(spec) || /\.(m?[jt]s)$/.test(spec)) return pathToFileURL(resolve(spec)).href;
  return spec; // a package name
}

/** Imports user modules (once each, in order) and remembers them for worker threads. */
export async function importUserModules(specs: readonly string[]): Promise<void> {
  for (const spec of specs) {
    if (typeof spec !== 'string' || spec === '') throw new HarmoniaError(`--import: give a module file, got ${JSON.stringify(spec)}`);
    const url = userModuleUrl(spec);
    if (loaded.includes(url)) continue;
    try {
      await import(url);
    } catch (err) {
      throw new HarmoniaError(`--import ${spec}: the module could not be loaded (${(err as Error).message.split('\n')[0]})`, { cause: err });
    }
    loaded.push(url);
  }
}

/** The user modules loaded in this thread, as URLs (what a worker thread imports first). */
export function userModules(): readonly string[] {
  return [...loaded];
}
