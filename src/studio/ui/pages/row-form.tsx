/**
 * #/tables/:table/new and #/tables/:table/edit?key=...: insert and update
 * forms (write mode only). An update sends only the changed columns and the
 * version the form was loaded with; a 409 shows both versions side by side
 * and writes nothing; a 422 puts the schema's messages beside their fields.
 * After a write, the SQL the server ran is shown.
 */
import { useState } from 'preact/hooks';
import type { Cell, ColumnInfo, ConflictResponse, Row, RowResponse, TableResponse, WriteResponse } from '../../api';
import { api, cellText, encodeTable, query, StudioError } from '../client';
import { ErrorBox, Loading, PageTitle } from '../common';
import { useWritable } from '../meta';
import { href } from '../router';
import { useApi } from '../use-api';
import { ConflictView } from './conflict';
import { SqlRan } from './row';

export function RowFormPage({
  table,
  params,
  mode,
}: {
  table: string;
  params: URLSearchParams;
  mode: 'insert' | 'update';
}) {
  const writable = useWritable();
  const keyText = params.get('key') ?? '';
  const info = useApi<TableResponse>(`tables/${encodeTable(table)}`);
  const row = useApi<RowResponse>(
    mode === 'update' ? `tables/${encodeTable(table)}/row${query({ key: keyText })}` : null,
  );
  const title = mode === 'insert' ? `Insert into ${table}` : `Edit ${table} row`;
  return (
    <section aria-labelledby="page-title">
      <PageTitle>{title}</PageTitle>
      <p>
        <a href={href(['tables', table])}>Back to {table}</a>
      </p>
      {!writable && (
        <p role="alert" class="error">
          Studio is read-only: start it with <code>ferry studio --write</code> to edit rows.
        </p>
      )}
      <ErrorBox error={info.error ?? row.error} />
      {(!info.data || (mode === 'update' && !row.data)) && !info.error && !row.error && <Loading what="the form" />}
      {writable && info.data && (mode === 'insert' || row.data) && (
        <RowForm
          // A new stored version (after "load the stored version") starts a fresh form.
          key={row.data?.row.version ?? 'new'}
          info={info.data}
          table={table}
          base={row.data?.row ?? null}
          reload={row.reload}
        />
      )}
    </section>
  );
}

interface Field {
  text: string;
  isNull: boolean;
  touched: boolean;
}

function initialFields(info: TableResponse, base: Row | null): Record<string, Field> {
  const fields: Record<string, Field> = {};
  for (const c of info.columns) {
    const cell = base ? (base.cells[c.name] ?? null) : null;
    const masked = cell !== null && typeof cell === 'object' && !Array.isArray(cell) && '$masked' in cell;
    fields[c.name] = { text: masked ? '' : cellText(cell), isNull: base !== null && cell === null, touched: false };
  }
  return fields;
}

/** The form's text for `column` as the Cell the API takes, or an Error for the field. */
function toCell(column: ColumnInfo, field: Field): Cell | Error {
  if (field.isNull) return null;
  const text = field.text;
  switch (column.kind) {
    case 'number': {
      const n = Number(text);
      return text.trim() === '' || Number.isNaN(n) ? new Error('Enter a number.') : n;
    }
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : new Error('Choose true or false.');
    case 'json':
      try {
        return { $json: JSON.parse(text) };
      } catch {
        return new Error('Enter valid JSON.');
      }
    case 'array':
      try {
        const parsed = JSON.parse(text);
        return Array.isArray(parsed) ? (parsed as Cell[]) : new Error('Enter a JSON array, e.g. ["a", "b"].');
      } catch {
        return new Error('Enter a JSON array, e.g. ["a", "b"].');
      }
    default:
      return text;
  }
}

function RowForm(props: { info: TableResponse; table: string; base: Row | null; reload(): void }) {
  const { info, table, base } = props;
  const [fields, setFields] = useState(() => initialFields(info, base));
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<StudioError | Error | null>(null);
  const [conflict, setConflict] = useState<{ body: ConflictResponse; mine: Record<string, Cell> } | null>(null);
  const [done, setDone] = useState<WriteResponse | null>(null);
  const [busy, setBusy] = useState(false);
  // Keys stay as they are on an update; bytea travels as a size only, so Studio cannot edit it.
  const editable = info.columns.filter((c) => !(base && c.primaryKey) && c.kind !== 'bytea');

  const set = (name: string, change: Partial<Field>) =>
    setFields((f) => ({ ...f, [name]: { ...f[name]!, ...change, touched: true } }));

  const submit = async (event: Event | null, version?: string) => {
    event?.preventDefault();
    const values: Record<string, Cell> = {};
    const problems: Record<string, string> = {};
    for (const c of editable) {
      const field = fields[c.name]!;
      if (!field.touched) continue;
      const cell = toCell(c, field);
      if (cell instanceof Error) problems[c.name] = cell.message;
      else values[c.name] = cell;
    }
    setFieldErrors(problems);
    setError(null);
    setConflict(null);
    if (Object.keys(problems).length > 0) return;
    if (base && Object.keys(values).length === 0) {
      // The page's own message, not the server's: no API code to show.
      setError(new Error('Nothing changed: edit a field first.'));
      return;
    }
    setBusy(true);
    try {
      const path = `tables/${encodeTable(table)}/rows`;
      const result = base
        ? await api<WriteResponse>('PATCH', path, { key: base.key, version: version ?? base.version, values })
        : await api<WriteResponse>('POST', path, { values });
      setDone(result);
    } catch (err) {
      if (!(err instanceof StudioError)) throw err;
      if (err.status === 409 && base) {
        const mine = { ...base.cells, ...values };
        setConflict({ body: err.body as ConflictResponse, mine });
      } else {
        if (err.fields) setFieldErrors(err.fields);
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  };

  if (done) {
    const key = done.row?.key;
    return (
      <div>
        <p role="status">{base ? 'Row updated.' : 'Row inserted.'}</p>
        <SqlRan sql={done.sql} />
        {key && (
          <p>
            <a href={href(['tables', table, 'row'], { key: JSON.stringify(key) })}>Open the row</a>
          </p>
        )}
      </div>
    );
  }

  return (
    <>
      <form class="row-form" onSubmit={(e) => submit(e)} noValidate>
        {editable.map((c) => (
          <FieldInput
            key={c.name}
            column={c}
            field={fields[c.name]!}
            error={fieldErrors[c.name]}
            insert={!base}
            onChange={(change) => set(c.name, change)}
          />
        ))}
        <div class="toolbar">
          <button type="submit" disabled={busy}>
            {base ? 'Save changes' : 'Insert row'}
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
      {conflict && base && (
        <ConflictView
          columns={info.columns}
          mine={conflict.mine}
          current={conflict.body.current}
          message={conflict.body.error.message}
          onUseStored={props.reload}
          onOverwrite={() => conflict.body.current && submit(null, conflict.body.current.version)}
        />
      )}
    </>
  );
}

function FieldInput(props: {
  column: ColumnInfo;
  field: Field;
  error: string | undefined;
  insert: boolean;
  onChange(change: Partial<Field>): void;
}) {
  const { column: c, field, error } = props;
  const id = `field-${c.name}`;
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const hint = [
    c.type,
    c.sensitive ? 'sensitive: the stored value is not shown; leave empty to keep it' : '',
    props.insert && c.default ? `default ${c.default} when left untouched` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const common = {
    id,
    'aria-invalid': error ? ('true' as const) : undefined,
    'aria-describedby': `${hintId}${error ? ` ${errorId}` : ''}`,
    disabled: field.isNull,
  };
  const onText = (e: Event) => props.onChange({ text: (e.target as HTMLInputElement).value });
  let input: preact.JSX.Element;
  if (c.kind === 'boolean') {
    input = (
      <select {...common} value={field.text} onChange={onText}>
        <option value="">—</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  } else if (c.kind === 'enum' && c.enumValues) {
    input = (
      <select {...common} value={field.text} onChange={onText}>
        <option value="">—</option>
        {c.enumValues.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    );
  } else if (c.kind === 'json' || c.kind === 'array') {
    input = <textarea {...common} rows={4} value={field.text} onInput={onText} />;
  } else {
    input = c.sensitive ? (
      <input {...common} type="password" value={field.text} onInput={onText} autoComplete="off" />
    ) : (
      <input {...common} type="text" value={field.text} onInput={onText} autoComplete="off" />
    );
  }
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>
        {c.name}
        {!c.nullable && !c.default ? ' (required)' : ''}
      </label>
      {input}
      {c.nullable && (
        <label class="null-toggle">
          <input
            type="checkbox"
            checked={field.isNull}
            onChange={(e) => props.onChange({ isNull: (e.target as HTMLInputElement).checked })}
          />{' '}
          NULL<span class="sr-only"> for {c.name}</span>
        </label>
      )}
      <span id={hintId} class="muted hint">
        {hint}
      </span>
      {error && (
        <span id={errorId} class="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
