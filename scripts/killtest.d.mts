// Types for scripts/killtest.mjs (kill -9 trial driver; used by test/reliability/interrupt.test.ts).

export interface KillTestOptions {
  /** argv of the command; every "{out}" is replaced by the run's output folder. */
  command: string[];
  trials?: number;
  /** SIGKILLs per trial (each on the same folder) before the completing rerun. */
  kills?: number;
  seed?: number;
  /** Folder for reference/ and trial-NN/ (kept); default a temp folder removed afterwards unless keep. */
  work?: string;
  keep?: boolean;
  /** Relative paths (regex) left out of the comparison: documented non-deterministic files. */
  ignore?: (string | RegExp)[];
  /** Extra patterns skipped only when checking the tree right after a kill (strictPartial): append-only logs that are legitimately a prefix then. */
  partialIgnore?: (string | RegExp)[];
  /** Keys dropped (at any depth) from .json files before comparing. */
  jsonIgnoreKeys?: string[];
  /** Append resumeArg to a run when one of these paths (relative to the output) exists. */
  resumeIf?: string | string[];
  resumeArg?: string;
  /** After each kill, every complete-looking file must equal the reference's. */
  strictPartial?: boolean;
  /** 'time' (random delay), 'files' (k complete files) or 'lines:<relative file>' (k lines). */
  trigger?: string;
  /** Trials run at once (default 1); the kill plan is drawn up front, independent of this. */
  concurrency?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export interface KillRecord { delayMs?: number; at?: string; outcome: string; files: number; temp: number }

export interface TrialResult {
  trial: number;
  kills: KillRecord[];
  invalid: string[];
  partialMismatch: string[];
  rerun: { code: number | null; ms: number; stderr: string };
  leftoverTemp: string[];
  missing: string[];
  extra: string[];
  differing: string[];
  ok: boolean;
}

export interface KillTestSummary {
  command: string[];
  reference: { ms: number; firstOutputMs: number | null; files: number };
  delayRangeMs: [number, number];
  trials: TrialResult[];
  killedMidRun: number;
  ok: boolean;
  work: string;
}

export function runKillTest(opts: KillTestOptions): Promise<KillTestSummary>;
export interface RunResult { code: number | null; signal: string | null; killed: boolean; ms: number; firstOutputMs?: number; stderr: string }
export function runOnce(command: string[], out: string, opts?: {
  cwd?: string; env?: Record<string, string>; watch?: boolean; killAfterMs?: number;
  killAt?: { trigger: string; count: number; jitterMs: number }; timeoutMs?: number;
}): Promise<RunResult>;
export function listTree(dir: string): string[];
export function progressOf(dir: string, trigger: string): number;
export function validateTree(dir: string): Promise<string[]>;
export function treeDigests(dir: string, opts?: { ignore?: (string | RegExp)[]; jsonIgnoreKeys?: string[] }): Promise<Map<string, string>>;
export function tempFiles(dir: string): Promise<string[]>;
export function compareDigests(ref: Map<string, string>, got: Map<string, string>): { missing: string[]; extra: string[]; differing: string[] };
export function digestForCompare(path: string, jsonIgnoreKeys?: string[]): Promise<string>;
