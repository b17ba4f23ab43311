/**
 * #/tables/:table/row?key=...: one row, its parents (each foreign key cell
 * links to the parent row) and its children: one entry per foreign key of
 * another table that references this one, with a count loaded after the row
 * (capped by the server), linking to the child table filtered to them.
 */
import { useState } from 'preact/hooks';
import type { ChildrenResponse, ConflictResponse, RowResponse, TableResponse, WriteResponse } from '../../api';
import { CellView } from '../cell';
import { api, encodeTable, query, StudioError } from '../client';
import { ErrorBox, Loading, PageTitle } from '../common';
import { useWritable } from '../meta';
import { href } from '../router';
import { useApi } from '../use-api';
import { ConflictView } from './conflict';
import { parentLink } from './table';

export function RowPage({ table, params }: { table: string; params: URLSearchParams }) {
  const keyText = params.get('key') ?? '';
  const info = useApi<TableResponse>(`tables/${encodeTable(table)}`);
  const row = useApi<RowResponse>(`tables/${encodeTable(table)}/row${query({ key: keyText })}`);
  return (
    <section aria-labelledby="page-title">
      <PageTitle>
        {table} row {describeKey(keyText)}
      </PageTitle>
      <p>
        <a href={href(['tables', table])}>Back to {table}</a>
      </p>
      <ErrorBox error={info.error ?? row.error} />
      {(!info.data || !row.data) && !info.error && !row.error && <Loading what="the row" />}
      {info.data && row.data && (
        <RowDetail
          key={`${table} ${keyText}`}
          info={info.data}
          table={table}
          row={row.data.row}
          keyText={keyText}
          reload={row.reload}
        />
      )}
    </section>
  );
}

function describeKey(keyText: string): string {
  try {
    const key = JSON.parse(keyText) as Record<string, unknown>;
    return Object.entries(key)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ');
  } catch {
    return keyText;
  }
}

function RowDetail(props: {
  info: TableResponse;
  table: string;
  row: RowResponse['row'];
  keyText: string;
  reload(): void;
}) {
  const { info, table, row, keyText } = props;
  const writable = useWritable();
  const [deleting, setDeleting] = useState(false);
  const [result, setResult] = useState<{ sql: string } | null>(null);
  const [error, setError] = useState<StudioError | null>(null);
  const [conflict, setConflict] = useState<ConflictResponse | null>(null);
  const remove = async () => {
    setError(null);
    setConflict(null);
    try {
      const done = await api<WriteResponse>('DELETE', `tables/${encodeTable(table)}/rows`, {
        key: row.key,
        version: row.version,
      });
      setResult({ sql: done.sql });
    } catch (err) {
      if (err instanceof StudioError && err.status === 409) setConflict(err.body as ConflictResponse);
      else setError(err as StudioError);
    }
    setDeleting(false);
  };
  if (result) {
    return (
      <div>
        <p role="status">Row deleted.</p>
        <SqlRan sql={result.sql} />
        <p>
          <a href={href(['tables', table])}>Back to {table}</a>
        </p>
      </div>
    );
  }
  return (
    <>
      <dl class="row-detail">
        {info.columns.map((c) => {
          const link = parentLink(info, c.name, row);
          const cell = <CellView cell={row.cells[c.name] ?? null} kind={c.kind} />;
          return (
            <div key={c.name}>
              <dt>
                {c.name} <span class="muted">{c.type}</span>
              </dt>
              <dd data-column={c.name}>
                {link ? (
                  <a href={link.href} class="fk">
                    {cell} <span class="muted">(open the {link.table} row)</span>
                  </a>
                ) : (
                  cell
                )}
              </dd>
            </div>
          );
        })}
      </dl>
      {writable && info.kind === 'table' && row.key && (
        <div class="toolbar">
          <a class="button" href={href(['tables', table, 'edit'], { key: keyText })}>
            Edit row
          </a>
          {!deleting ? (
            <button type="button" class="danger" onClick={() => setDeleting(true)}>
              Delete row
            </button>
          ) : (
            <fieldset class="confirm">
              <legend class="sr-only">Confirm delete</legend>
              Delete this row?{' '}
              <button type="button" class="danger" onClick={remove}>
                Confirm delete
              </button>{' '}
              <button type="button" onClick={() => setDeleting(false)}>
                Cancel
              </button>
            </fieldset>
          )}
        </div>
      )}
      <ErrorBox error={error} />
      {conflict && (
        <ConflictView
          columns={info.columns}
          mine={row.cells}
          current={conflict.current}
          message={conflict.error.message}
          onUseStored={props.reload}
        />
      )}
      {info.referencedBy.length > 0 && row.key && <Children table={table} keyText={keyText} />}
    </>
  );
}

function Children({ table, keyText }: { table: string; keyText: string }) {
  const children = useApi<ChildrenResponse>(`tables/${encodeTable(table)}/children${query({ key: keyText })}`);
  return (
    <section aria-labelledby="children-title">
      <h2 id="children-title">Referenced by</h2>
      <ErrorBox error={children.error} />
      {!children.data && !children.error && <Loading what="child counts" />}
      {children.data && (
        <ul class="children">
          {children.data.children.map((c) => (
            <li key={`${c.foreignKey.table}-${c.foreignKey.name}`}>
              <a href={href(['tables', c.foreignKey.table], { filter: JSON.stringify(c.filter) })}>
                {c.foreignKey.table}
              </a>{' '}
              <span class="muted">
                via {c.foreignKey.name} ({c.foreignKey.columns.join(', ')})
              </span>
              : <span data-testid="child-count">{c.count > c.cap ? `more than ${c.cap}` : c.count}</span>{' '}
              {c.count === 1 ? 'row' : 'rows'}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The statement a write ran, as the server reports it. */
export function SqlRan({ sql }: { sql: string }) {
  return (
    <figure class="sql-ran">
      <figcaption>SQL that ran</figcaption>
      <pre data-testid="sql-ran">{sql}</pre>
    </figure>
  );
}
