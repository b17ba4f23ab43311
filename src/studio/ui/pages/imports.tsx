/** #/imports: import runs from the checkpoint table, with per-table counts and a link to their rejects. */
import type { ImportsResponse } from '../../api';
import { ErrorBox, formatCount, Loading, PageTitle, UtcTime } from '../common';
import { href } from '../router';
import { useApi } from '../use-api';

export function ImportsPage() {
  const { data, error } = useApi<ImportsResponse>('imports');
  return (
    <section aria-labelledby="page-title">
      <PageTitle>Imports</PageTitle>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="imports" />}
      {data && data.runs.length === 0 && <p>No import has run in this database.</p>}
      {data?.runs.map((run) => (
        <section key={`${run.name}-${run.runId}`} class="card" aria-labelledby={`run-${run.runId}`}>
          <h2 id={`run-${run.runId}`}>
            {run.name} <span class="badge">{run.status}</span>
          </h2>
          <p class="muted">
            run {run.runId} · {formatCount(run.records)} records, {formatCount(run.position)} consumed ·{' '}
            {formatCount(run.rejectedRecords)} rejected records, {formatCount(run.rejects)} rejects · updated{' '}
            <UtcTime iso={run.updatedAt} />
          </p>
          <table class="list" aria-label={`Per-table counts of ${run.name}`}>
            <thead>
              <tr>
                <th scope="col">Table</th>
                <th scope="col" class="num">
                  Inserted
                </th>
                <th scope="col" class="num">
                  Updated
                </th>
                <th scope="col" class="num">
                  Unchanged
                </th>
                <th scope="col" class="num">
                  Duplicates
                </th>
                <th scope="col" class="num">
                  Rejected
                </th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(run.tables).map(([table, c]) => (
                <tr key={table}>
                  <th scope="row">{table}</th>
                  <td class="num">{formatCount(c.inserted)}</td>
                  <td class="num">{formatCount(c.updated)}</td>
                  <td class="num">{formatCount(c.unchanged)}</td>
                  <td class="num">{formatCount(c.duplicates)}</td>
                  <td class="num">{formatCount(c.rejected)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            <a href={href(['imports', run.name])}>Rejects of {run.name}</a>
          </p>
        </section>
      ))}
    </section>
  );
}
