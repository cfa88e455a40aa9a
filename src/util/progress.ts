/**
 * A progress bar for long work: count, rate, ETA. Draws in place on a TTY, prints a line every
 * few seconds otherwise (CI logs), and stays silent with `quiet`.
 */
import { env } from '../config/index.ts';
export class Progress {
  private done = 0;
  /** The count when timing began (set() before any tick: work resumed from an earlier run), excluded from the rate. */
  private base = 0;
  private readonly start = Date.now();
  private lastDraw = 0;
  private drawnAt = -1;
  private readonly tty: boolean;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly opts: { quiet?: boolean; stream?: NodeJS.WriteStream; intervalMs?: number } = {},
  ) {
    this.tty = Boolean((opts.stream ?? process.stderr).isTTY);
  }
  /** Advance by n (default 1); `note` is shown after the bar (e.g. the current loss). */
  tick(n = 1, note = ''): void {
    this.done += n;
    const now = Date.now();
    const interval = this.opts.intervalMs ?? (this.tty ? 100 : 5000);
    if (this.done >= this.total || now - this.lastDraw >= interval) {
      this.lastDraw = now;
      this.draw(note);
    }
  }
  /** Set the absolute count (for resumed work: the rate, and so the ETA, counts only what this run does). */
  set(done: number): void {
    this.done = done;
    this.base = done;
  }
  finish(note = ''): void {
    if (this.opts.quiet || env.quiet) return; // --quiet on any command (src/cli/main.ts)
    if (this.drawnAt === this.done && !this.tty && !note) return; // the last tick already printed this line
    this.draw(note, true);
  }
  render(note = ''): string {
    const elapsed = (Date.now() - this.start) / 1000;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const rate = elapsed > 0 ? (this.done - this.base) / elapsed : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : NaN;
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    return `${this.label} ${bar} ${this.done}/${this.total} ${(frac * 100).toFixed(0)}% ` +
      `${formatDuration(elapsed)} elapsed, ETA ${Number.isFinite(eta) ? formatDuration(eta) : '?'}${note ? ` ${note}` : ''}`;
  }
  private draw(note: string, final = false): void {
    if (this.opts.quiet || env.quiet) return; // --quiet on any command (src/cli/main.ts)
    const stream = this.opts.stream ?? process.stderr;
    const line = this.render(note);
    this.drawnAt = this.done;
    if (this.tty) stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else stream.write(`${line}\n`);
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
