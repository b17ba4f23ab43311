/** Small pieces every page uses: the error box, loading line, sizes and numbers. */
import type { ComponentChildren } from 'preact';
import type { StudioError } from './client';

/** An API error as the user sees it: its code and message (and the status), announced to screen readers. */
export function ErrorBox({ error }: { error: StudioError | Error | null }) {
  if (!error) return null;
  if (!('code' in error)) {
    return (
      <div class="error" role="alert">
        {error.message}
      </div>
    );
  }
  return (
    <div class="error" role="alert" data-code={error.code}>
      <strong>{error.code}</strong> {error.message}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function PageTitle({ children }: { children: ComponentChildren }) {
  return (
    <h1 id="page-title" tabIndex={-1}>
      {children}
    </h1>
  );
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return n.toLocaleString('en-US');
}

/** Dates as UTC text (`2024-05-01 12:00:00Z`), local time in the title. */
export function UtcTime({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="null">—</span>;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return <span>{iso}</span>;
  const utc = date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.000Z$/, 'Z');
  return (
    <time dateTime={date.toISOString()} title={`Local: ${date.toLocaleString()}`}>
      {utc}
    </time>
  );
}
