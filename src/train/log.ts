/** The JSONL training log: one JSON object per line, appended as training goes. */
import { promises as fsp, existsSync, readFileSync, appendFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/atomic.ts';

export interface StepRecord {
  type: 'step';
  step: number;
  epoch: number;
  batch: number;
  /** Losses of both phases: g (L_G total), its parts, d (L_D), d_real / d_fake mean logits. */
  losses: Record<string, number>;
  /** Gradient L2 norms (single-process engine only). */
  gradNormG?: number;
  gradNormD?: number;
  seconds: number;
}

export interface EventRecord {
  type: 'event';
  step: number;
  event: string;
  message: string;
  [key: string]: unknown;
}

export type LogRecord = StepRecord | EventRecord;

export class JsonlLog {
  constructor(readonly path: string) {}
  append(rec: LogRecord): void {
    appendFileSync(this.path, JSON.stringify(rec) + '\n');
  }
  /** All complete records (a torn last line from a crash is ignored). */
  read(): LogRecord[] {
    if (!existsSync(this.path)) return [];
    const out: LogRecord[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try { out.push(JSON.parse(line) as LogRecord); } catch { /* torn line */ }
    }
    return out;
  }
  /** Keeps only records up to `step` (drops what a killed run logged after its last checkpoint). */
  truncateAfter(step: number): void {
    const keep = this.read().filter((r) => r.step <= step && !(r.type === 'step' && r.step > step));
    writeFileAtomicSync(this.path, keep.map((r) => JSON.stringify(r) + '\n').join(''));
  }
  async reset(): Promise<void> {
    await fsp.rm(this.path, { force: true });
  }
}

export function stepRecords(recs: readonly LogRecord[]): StepRecord[] {
  return recs.filter((r): r is StepRecord => r.type === 'step');
}
