/**
 * #/schema: the ER diagram and the DDL. The SVG is shown through an <img>
 * (a data: URL), so nothing in it can run script in Studio's page whatever
 * names the schema holds; `?table=` shows that table's own DDL first.
 */
import type { SchemaResponse, TableResponse } from '../../api';
import { encodeTable } from '../client';
import { ErrorBox, Loading, PageTitle } from '../common';
import { href } from '../router';
import { useApi } from '../use-api';

export function SchemaPage({ table }: { table?: string | null }) {
  const schema = useApi<SchemaResponse>('schema');
  return (
    <section aria-labelledby="page-title">
      <PageTitle>Schema</PageTitle>
      {table && <TableDdl table={table} />}
      <ErrorBox error={schema.error} />
      {!schema.data && !schema.error && <Loading what="the schema" />}
      {schema.data && (
        <>
          <h2>ER diagram</h2>
          <div class="er">
            <img
              src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(schema.data.svg)}`}
              alt={`ER diagram of ${schema.data.tables.length} tables: ${schema.data.tables.map((t) => t.name).join(', ')}`}
            />
          </div>
          <h2>Tables</h2>
          <ul class="columns">
            {schema.data.tables.map((t) => (
              <li key={t.name}>
                <a href={href(['schema'], { table: t.name })}>{t.name}</a> <span class="muted">{t.kind}</span>
              </li>
            ))}
          </ul>
          <h2>DDL</h2>
          <pre class="ddl" data-testid="schema-ddl">
            {schema.data.ddl}
          </pre>
        </>
      )}
    </section>
  );
}

function TableDdl({ table }: { table: string }) {
  const info = useApi<TableResponse>(`tables/${encodeTable(table)}`);
  return (
    <section aria-labelledby="table-ddl-title">
      <h2 id="table-ddl-title">
        DDL of <a href={href(['tables', table])}>{table}</a>
      </h2>
      <ErrorBox error={info.error} />
      {info.data && (
        <pre class="ddl" data-testid="table-ddl">
          {info.data.ddl}
        </pre>
      )}
    </section>
  );
}
