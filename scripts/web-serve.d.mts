// Types for scripts/web-serve.mjs (used by test/web/app.test.ts and bench/browser.ts).
import type { BrowserContext } from 'playwright-core';

export const ROOT: string;
export const DIST: string;
export const CHROMIUM: string;
export const CHROMIUM_ARGS: string[];
/** Runs `vite build` for the app into `outDir` (default dist/web); returns the seconds taken; throws with vite's output on failure. */
export function buildApp(outDir?: string): number;
/** Serves `dir` (default dist/web) on 127.0.0.1; port 0 = any free port. */
export function serveStatic(dir?: string, port?: number): Promise<{ url: string; close: () => Promise<void> }>;
/** Headless Chromium with a fresh profile; `close` also deletes the profile. */
export function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }>;
