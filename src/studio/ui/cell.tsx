/**
 * One cell of a grid, by its JSON shape (api.ts `Cell`) and its column's kind:
 * JSON as a collapsible tree, timestamps in UTC with local time on hover,
 * bytea as a size, arrays item by item, masked columns as dots.
 */
import type { Cell, CellKind } from '../api';
import { UtcTime } from './common';

export function CellView({ cell, kind }: { cell: Cell; kind?: CellKind | undefined }) {
  if (cell === null) return <span class="null">NULL</span>;
  if (typeof cell === 'boolean') return <span class="bool">{String(cell)}</span>;
  if (typeof cell === 'number') return <span class="num">{String(cell)}</span>;
  if (typeof cell === 'string') {
    if (kind === 'timestamp') return <UtcTime iso={cell} />;
    if (kind === 'number' || kind === 'bigint') return <span class="num">{cell}</span>;
    return <span class="text">{cell.length > 200 ? `${cell.slice(0, 200)}…` : cell}</span>;
  }
  if (Array.isArray(cell)) {
    return (
      <span class="array">
        [
        {cell.map((item, i) => (
          <span key={i}>
            {i > 0 ? ', ' : ''}
            <CellView cell={item} kind={kind === 'array' ? undefined : kind} />
          </span>
        ))}
        ]
      </span>
    );
  }
  if ('$masked' in cell) {
    return (
      <span class="masked" title="Sensitive column: masked">
        ••••
      </span>
    );
  }
  if ('$bytea' in cell) return <span class="bytea">bytea, {cell.$bytea.toLocaleString('en-US')} bytes</span>;
  if ('$json' in cell) return <JsonTree value={cell.$json} />;
  return <span>{JSON.stringify(cell)}</span>;
}

/** A JSON value: scalars inline, objects and arrays as <details> that open on demand. */
export function JsonTree({ value, label }: { value: unknown; label?: string }) {
  const prefix = label === undefined ? null : <span class="json-key">{label}: </span>;
  if (value === null || typeof value !== 'object') {
    return (
      <span class="json-scalar">
        {prefix}
        {JSON.stringify(value)}
      </span>
    );
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value as Record<string, unknown>);
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  if (entries.length === 0) {
    return (
      <span class="json-scalar">
        {prefix}
        {Array.isArray(value) ? '[]' : '{}'}
      </span>
    );
  }
  return (
    <details class="json">
      <summary>
        {prefix}
        {summary} {preview(value)}
      </summary>
      <ul>
        {entries.map(([k, v]) => (
          <li key={k}>
            <JsonTree value={v} label={k} />
          </li>
        ))}
      </ul>
    </details>
  );
}

function preview(value: object): string {
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
