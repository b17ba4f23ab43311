/** #/cutover: each cutover's stage, read share, journal and mismatches (legacy and Postgres side by side). */
import type { CutoverResponse } from '../../api';
import { JsonTree } from '../cell';
import { ErrorBox, formatCount, Loading, PageTitle, UtcTime } from '../common';
import { useApi } from '../use-api';

export function CutoverPage() {
  const { data, error } = useApi<CutoverResponse>('cutover');
  return (
    <section aria-labelledby="page-title">
      <PageTitle>Cutover</PageTitle>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="the cutover" />}
      {data && !data.available && <p>No cutover has been set up in this database.</p>}
      {data?.cutovers?.map((c) => (
        <section key={c.name} class="card" aria-labelledby={`cutover-${c.name}`}>
          <h2 id={`cutover-${c.name}`}>
            {c.name} <span class="badge">{c.stage}</span>
          </h2>
          <dl class="facts">
            <dt>Reads from Postgres</dt>
            <dd>{c.readShare === null ? '—' : `${(c.readShare * 100).toFixed(0)} %`}</dd>
            <dt>Journal</dt>
            <dd>{formatCount(c.journalSize)} entries</dd>
            <dt>Comparisons</dt>
            <dd>{formatCount(c.comparisons)}</dd>
            <dt>Mismatches</dt>
            <dd>
              {formatCount(c.mismatches)}
              {c.mismatchRate === null ? '' : ` (${(c.mismatchRate * 100).toFixed(2)} %)`}
            </dd>
          </dl>
          {c.recentMismatches.length > 0 && (
            <table class="list" aria-label={`Recent mismatches of ${c.name}`}>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Table</th>
                  <th scope="col">Legacy</th>
                  <th scope="col">Postgres</th>
                  <th scope="col">At (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {c.recentMismatches.map((m) => (
                  <tr key={`${m.key}-${m.at}`}>
                    <td>
                      <code>{m.key}</code>
                    </td>
                    <td>{m.table ?? '—'}</td>
                    <td>
                      <JsonTree value={m.legacy} />
                    </td>
                    <td>
                      <JsonTree value={m.postgres} />
                    </td>
                    <td>
                      <UtcTime iso={m.at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
    </section>
  );
}
