/**
 * Progress for long jobs: a redrawn bar on a terminal, a plain line every few
 * seconds otherwise (CI logs), nothing when disabled (`--json` to a pipe).
 */
export interface ProgressState {
  done: number;
  total?: number;
  /** Share done (0..1) when `total` is unknown but the work can tell (bytes read of a file). */
  fraction?: number;
  /** e.g. rows written, for the rate. */
  rows?: number;
  rejects?: number;
  elapsedMs: number;
}

export interface ProgressBar {
  update(state: ProgressState): void;
  /** Clear the bar line (on a TTY) so the summary starts on a clean line. */
  finish(): void;
}

export function createProgress(options: {
  stream?: NodeJS.WriteStream;
  enabled: boolean;
  unit?: string;
  /** Plain-line interval when not a TTY. */
  intervalMs?: number;
}): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const unit = options.unit ?? 'records';
  if (!options.enabled) return { update() {}, finish() {} };
  const tty = stream.isTTY === true;
  const interval = tty ? 100 : (options.intervalMs ?? 5_000);
  let last = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(state) {
      const now = performance.now();
      const complete = state.total !== undefined && state.done >= state.total;
      if (now - last < interval && !complete) return;
      last = now;
      const line = render(state, unit, tty ? Math.max(10, Math.min(30, (stream.columns ?? 80) - 70)) : 0);
      if (tty) {
        stream.write(`\r\u001b[2K${line}`);
        drawn = true;
      } else stream.write(`${line}\n`);
    },
    finish() {
      if (tty && drawn) stream.write('\r\u001b[2K');
    },
  };
}

const fmt = new Intl.NumberFormat('en-US');

export function render(state: ProgressState, unit: string, barWidth: number): string {
  const seconds = state.elapsedMs / 1000;
  const rate = seconds > 0 ? state.done / seconds : 0;
  const parts: string[] = [];
  if (state.total !== undefined && state.total > 0) {
    const ratio = Math.min(1, state.done / state.total);
    if (barWidth > 0) {
      const filled = Math.round(ratio * barWidth);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`);
    }
    parts.push(
      `${(ratio * 100).toFixed(0).padStart(3)}%`,
      `${fmt.format(state.done)}/${fmt.format(state.total)} ${unit}`,
    );
  } else if (state.fraction !== undefined && state.fraction > 0) {
    const ratio = Math.min(1, state.fraction);
    if (barWidth > 0) {
      const filled = Math.round(ratio * barWidth);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`);
    }
    parts.push(`${(ratio * 100).toFixed(0).padStart(3)}%`, `${fmt.format(state.done)} ${unit}`);
  } else parts.push(`${fmt.format(state.done)} ${unit}`);
  parts.push(`${fmt.format(Math.round(rate))} ${unit}/s`);
  if (state.rows !== undefined && seconds > 0) parts.push(`${fmt.format(Math.round(state.rows / seconds))} rows/s`);
  if (state.rejects !== undefined) parts.push(`${fmt.format(state.rejects)} rejected`);
  if (state.total !== undefined && rate > 0 && state.done < state.total) {
    parts.push(`ETA ${duration((state.total - state.done) / rate)}`);
  } else if (state.total === undefined && state.fraction !== undefined && state.fraction > 0 && state.fraction < 1) {
    parts.push(`ETA ${duration((seconds * (1 - state.fraction)) / state.fraction)}`);
  }
  return parts.join('  ');
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`
    : `${m}:${String(sec).padStart(2, '0')}`;
}
