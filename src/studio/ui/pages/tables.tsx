/** #/tables: every table and view with its estimated row count (pg_class.reltuples) and size. */
import type { TablesResponse } from '../../api';
import { ErrorBox, formatBytes, formatCount, Loading, PageTitle } from '../common';
import { href } from '../router';
import { useApi } from '../use-api';

export function TablesPage() {
  const { data, error } = useApi<TablesResponse>('tables');
  return (
    <section aria-labelledby="page-title">
      <PageTitle>Tables</PageTitle>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="tables" />}
      {data && (
        <table class="list" aria-labelledby="page-title">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col" class="num">
                Rows (estimate)
              </th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col">Comment</th>
            </tr>
          </thead>
          <tbody>
            {data.tables.map((t) => (
              <tr key={t.name}>
                <th scope="row">
                  <a href={href(['tables', t.name])}>{t.name}</a>
                </th>
                <td>{t.kind}</td>
                <td class="num" title={t.estimatedRows === null ? 'never analysed' : 'from pg_class.reltuples'}>
                  {t.estimatedRows === null ? '—' : `~${formatCount(t.estimatedRows)}`}
                </td>
                <td class="num">{formatBytes(t.bytes)}</td>
                <td>{t.comment ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && data.tables.length === 0 && <p>No tables yet.</p>}
    </section>
  );
}
