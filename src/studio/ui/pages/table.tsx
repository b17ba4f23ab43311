/**
 * #/tables/:table: the grid. Keyset pagination through the API's opaque
 * cursors (no OFFSET, no COUNT(*)); "Last page" reads the table in the
 * opposite order and shows that page reversed (`end=1`), so the end of a
 * million-row table is one query away, and paging on from there keeps using
 * the cursors of that reversed order. Sort, filters, search and page size
 * live in the URL, so every grid state is a link.
 */
import { useState } from 'preact/hooks';
import type { ColumnInfo, Filter, FilterOp, Row, RowsResponse, TableResponse } from '../../api';
import { CellView } from '../cell';
import { encodeTable, query } from '../client';
import { ErrorBox, formatCount, Loading, PageTitle } from '../common';
import { describeFilter, filterValue, OP_LABELS, opsFor, parseFilters } from '../filters';
import { useWritable } from '../meta';
import { href, navigate } from '../router';
import { useApi } from '../use-api';

const PAGE_SIZES = [25, 50, 100, 500];

export function TablePage({ table, params }: { table: string; params: URLSearchParams }) {
  const info = useApi<TableResponse>(`tables/${encodeTable(table)}`);
  return (
    <section aria-labelledby="page-title">
      <PageTitle>{table}</PageTitle>
      <ErrorBox error={info.error} />
      {!info.data && !info.error && <Loading what="the table" />}
      {/* Keyed by table: another table's page starts with fresh search and filter inputs. */}
      {info.data && <Grid key={table} info={info.data} table={table} params={params} />}
    </section>
  );
}

function Grid({ info, table, params }: { info: TableResponse; table: string; params: URLSearchParams }) {
  const writable = useWritable();
  const filters = parseFilters(params.get('filter'));
  const sort = params.get('sort') ?? '';
  const dir = params.get('dir') === 'desc' ? 'desc' : 'asc';
  const end = params.get('end') === '1';
  const limit = Number(params.get('limit')) || 50;
  const q = params.get('q') ?? '';
  const state = {
    sort,
    dir,
    filter: filters.length ? JSON.stringify(filters) : '',
    q,
    limit: limit === 50 ? '' : limit,
  };
  const go = (changes: Record<string, string | number | null>) =>
    navigate(href(['tables', table], { ...state, ...changes }));

  // "Last page" reads the exact reverse order: the server breaks a sort's ties by the key in the sort's own
  // direction, so flipping `dir` reverses the whole order (rows.ts sortKeys), whatever the sort.
  const reversed = end;
  const requestDir = reversed ? (dir === 'asc' ? 'desc' : 'asc') : dir;
  const rowsPath = `tables/${encodeTable(table)}/rows${query({
    limit,
    sort,
    dir: requestDir === 'asc' ? undefined : requestDir,
    after: params.get('after'),
    before: params.get('before'),
    filter: filters.length ? filters : undefined,
    q,
  })}`;
  const page = useApi<RowsResponse>(rowsPath);
  const data = page.data;
  const rows = data ? (reversed ? [...data.rows].reverse() : data.rows) : [];
  // In display order: is there a page after / before this one, and which request reads it?
  const nextCursor = data ? (reversed ? data.prev : data.next) : null;
  const prevCursor = data ? (reversed ? data.next : data.prev) : null;
  const atStart = !params.get('after') && !params.get('before') && !reversed;
  const atEnd = reversed && !params.get('after') && !params.get('before');
  const columns = data?.columns ?? info.columns.map((c) => c.name);
  const byName = new Map(info.columns.map((c) => [c.name, c]));

  const toNext = () =>
    nextCursor && go(reversed ? { end: '1', before: nextCursor, after: null } : { after: nextCursor, before: null });
  const toPrev = () =>
    prevCursor && go(reversed ? { end: '1', after: prevCursor, before: null } : { before: prevCursor, after: null });

  return (
    <>
      <p class="muted" data-testid="table-summary">
        {info.kind}
        {info.estimatedRows !== null && ` · ~${formatCount(info.estimatedRows)} rows (estimate)`}
        {info.comment && ` · ${info.comment}`}
        {' · '}
        <a href={href(['schema'], { table })}>DDL</a>
      </p>
      <div class="toolbar">
        <SearchBox info={info} q={q} onSearch={(text) => go({ q: text })} />
        {writable && info.kind === 'table' && (
          <a class="button" href={href(['tables', table, 'new'])}>
            Insert row
          </a>
        )}
      </div>
      <FilterBar
        info={info}
        filters={filters}
        onChange={(next) => go({ filter: next.length ? JSON.stringify(next) : '' })}
      />
      <ErrorBox error={page.error} />
      <nav class="pager" aria-label="Pages">
        <button type="button" onClick={() => go({})} disabled={atStart}>
          First page
        </button>
        <button type="button" onClick={toPrev} disabled={!prevCursor}>
          Previous page
        </button>
        <button type="button" onClick={toNext} disabled={!nextCursor}>
          Next page
        </button>
        <button
          type="button"
          onClick={() => go({ end: '1' })}
          disabled={atEnd || (data !== null && !nextCursor && !reversed)}
        >
          Last page
        </button>
        <label>
          Rows per page{' '}
          <select value={String(limit)} onChange={(e) => go({ limit: Number((e.target as HTMLSelectElement).value) })}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <span class="muted" aria-live="polite" data-testid="page-status">
          {page.loading ? 'Loading…' : data ? pageStatus(data, rows.length, filters.length > 0 || q !== '') : ''}
        </span>
      </nav>
      {data && (
        <div class="grid-wrap">
          <table class="grid" aria-label={`Rows of ${table}`} aria-busy={page.loading ? 'true' : 'false'}>
            <thead>
              <tr>
                <th scope="col">
                  <span class="sr-only">Open</span>
                </th>
                {columns.map((name) => (
                  <SortHeader
                    key={name}
                    column={byName.get(name)}
                    name={name}
                    sort={sort}
                    dir={dir}
                    onSort={(col, d) => go({ sort: col, dir: d })}
                  />
                ))}
              </tr>
            </thead>
            <tbody onKeyDown={moveRowFocus}>
              {rows.map((row, i) => (
                <GridRow
                  key={row.key ? JSON.stringify(row.key) : i}
                  row={row}
                  columns={columns}
                  info={info}
                  table={table}
                />
              ))}
            </tbody>
          </table>
          {rows.length === 0 && <p>No rows{filters.length || q ? ' match' : ''}.</p>}
        </div>
      )}
      {data && (
        <details class="sql">
          <summary>SQL of this page</summary>
          <pre>{data.sql}</pre>
        </details>
      )}
    </>
  );
}

function pageStatus(data: RowsResponse, shown: number, filtered: boolean): string {
  if (filtered) return `${shown} rows shown (filtered)`;
  // Never a COUNT(*): a table never analysed has no estimate, and the status says so.
  if (data.estimatedTotal === null) return `${shown} rows shown (no estimate: the table has not been analysed)`;
  return `${shown} rows shown (of ~${formatCount(data.estimatedTotal)})`;
}

/** Arrow keys move between the rows' "open" links; Home/End jump to the first/last row. */
function moveRowFocus(event: KeyboardEvent) {
  const links = [...(event.currentTarget as HTMLElement).querySelectorAll<HTMLAnchorElement>('a.row-open')];
  const at = links.indexOf(document.activeElement as HTMLAnchorElement);
  if (at === -1) return;
  let to = at;
  if (event.key === 'ArrowDown') to = Math.min(at + 1, links.length - 1);
  else if (event.key === 'ArrowUp') to = Math.max(at - 1, 0);
  else if (event.key === 'Home') to = 0;
  else if (event.key === 'End') to = links.length - 1;
  else return;
  event.preventDefault();
  links[to]?.focus();
}

function SortHeader(props: {
  column: ColumnInfo | undefined;
  name: string;
  sort: string;
  dir: 'asc' | 'desc';
  onSort(column: string, dir: 'asc' | 'desc'): void;
}) {
  const { name, sort, dir, column } = props;
  const active = sort === name;
  const next = active && dir === 'asc' ? 'desc' : 'asc';
  return (
    <th scope="col" aria-sort={active ? (dir === 'asc' ? 'ascending' : 'descending') : undefined}>
      {/* The name is the column's (plus PK); the order is the header's aria-sort, the arrow only shows it. */}
      <button
        type="button"
        class="sort"
        onClick={() => props.onSort(name, next)}
        title={`Sort ${next === 'asc' ? 'ascending' : 'descending'}${column ? ` · ${column.type}` : ''}${column?.comment ? ` · ${column.comment}` : ''}`}
      >
        {name}
        {column?.primaryKey && (
          <abbr class="pk" title="primary key">
            {' '}
            PK
          </abbr>
        )}
        {active && <span aria-hidden="true">{dir === 'asc' ? ' ▲' : ' ▼'}</span>}
      </button>
    </th>
  );
}

function GridRow({ row, columns, info, table }: { row: Row; columns: string[]; info: TableResponse; table: string }) {
  const kinds = new Map(info.columns.map((c) => [c.name, c.kind]));
  const keyText = row.key
    ? Object.entries(row.key)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ')
    : '';
  return (
    <tr>
      <td>
        {row.key ? (
          <a
            class="row-open"
            href={href(['tables', table, 'row'], { key: JSON.stringify(row.key) })}
            aria-label={`Open row ${keyText}`}
          >
            Open
          </a>
        ) : (
          <span class="muted" title="No primary key: rows cannot be opened">
            –
          </span>
        )}
      </td>
      {columns.map((name) => {
        const link = parentLink(info, name, row);
        const cell = <CellView cell={row.cells[name] ?? null} kind={kinds.get(name)} />;
        return (
          <td key={name} data-column={name}>
            {link ? (
              <a href={link.href} title={`Open the ${link.table} row`} class="fk">
                {cell}
              </a>
            ) : (
              cell
            )}
          </td>
        );
      })}
    </tr>
  );
}

/** A foreign key cell links to the parent row: the FK whose first column is this one, all its columns set. */
export function parentLink(info: TableResponse, column: string, row: Row): { href: string; table: string } | null {
  const fk = info.foreignKeys.find((f) => f.columns[0] === column);
  if (!fk) return null;
  const key: Record<string, string | number | boolean> = {};
  for (const [i, col] of fk.columns.entries()) {
    const value = row.cells[col];
    if (value === null || value === undefined || typeof value === 'object') return null;
    key[fk.refColumns[i]!] = value;
  }
  return { href: href(['tables', fk.refTable, 'row'], { key: JSON.stringify(key) }), table: fk.refTable };
}

function SearchBox({ info, q, onSearch }: { info: TableResponse; q: string; onSearch(text: string): void }) {
  const [text, setText] = useState(q);
  if (!info.columns.some((c) => c.searchable)) return null;
  return (
    <form
      aria-label="Search"
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch(text.trim());
      }}
    >
      <label>
        Search text columns{' '}
        <input type="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Search</button>
      {q && (
        <button
          type="button"
          onClick={() => {
            setText('');
            onSearch('');
          }}
        >
          Clear search
        </button>
      )}
    </form>
  );
}

function FilterBar({
  info,
  filters,
  onChange,
}: {
  info: TableResponse;
  filters: Filter[];
  onChange(f: Filter[]): void;
}) {
  const filterable = info.columns.filter((c) => !c.sensitive);
  const [column, setColumn] = useState(filterable[0]?.name ?? '');
  const col = filterable.find((c) => c.name === column) ?? filterable[0];
  const ops = col ? opsFor(col) : [];
  const [op, setOp] = useState<FilterOp>(ops[0] ?? 'eq');
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const effectiveOp = ops.includes(op) ? op : (ops[0] ?? 'eq');
  if (!col) return null;
  const add = (e: Event) => {
    e.preventDefault();
    const parsed = filterValue(col, effectiveOp, value);
    if (parsed instanceof Error) {
      setProblem(parsed.message);
      return;
    }
    setProblem(null);
    setValue('');
    onChange([
      ...filters,
      parsed === undefined
        ? { column: col.name, op: effectiveOp }
        : { column: col.name, op: effectiveOp, value: parsed },
    ]);
  };
  const needsValue = effectiveOp !== 'isNull' && effectiveOp !== 'notNull';
  return (
    <div class="filters">
      <form class="inline" onSubmit={add} aria-label="Add a filter">
        <label>
          Filter column{' '}
          <select value={col.name} onChange={(e) => setColumn((e.target as HTMLSelectElement).value)}>
            {filterable.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Operator{' '}
          <select value={effectiveOp} onChange={(e) => setOp((e.target as HTMLSelectElement).value as FilterOp)}>
            {ops.map((o) => (
              <option key={o} value={o}>
                {OP_LABELS[o]}
              </option>
            ))}
          </select>
        </label>
        {needsValue && (
          <label>
            Filter value{' '}
            <input
              value={value}
              onInput={(e) => setValue((e.target as HTMLInputElement).value)}
              placeholder={effectiveOp === 'in' ? 'a, b, c' : col.enumValues ? col.enumValues.join(' | ') : col.type}
              aria-invalid={problem ? 'true' : undefined}
              aria-describedby={problem ? 'filter-problem' : undefined}
            />
          </label>
        )}
        <button type="submit">Add filter</button>
        {problem && (
          <span id="filter-problem" class="field-error" role="alert">
            {problem}
          </span>
        )}
      </form>
      {filters.length > 0 && (
        <ul class="chips" aria-label="Active filters">
          {filters.map((f, i) => (
            <li key={`${f.column}-${i}`}>
              <span>{describeFilter(f)}</span>{' '}
              <button
                type="button"
                aria-label={`Remove filter ${describeFilter(f)}`}
                onClick={() => onChange(filters.filter((_, j) => j !== i))}
              >
                ×
              </button>
            </li>
          ))}
          <li>
            <button type="button" onClick={() => onChange([])}>
              Clear filters
            </button>
          </li>
        </ul>
      )}
    </div>
  );
}
