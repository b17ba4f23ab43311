/** #/migrations: applied and pending migrations with checksums, lint findings, drift. */
import type { MigrationsResponse } from '../../api';
import { ErrorBox, Loading, PageTitle, UtcTime } from '../common';
import { useApi } from '../use-api';

export function MigrationsPage() {
  const { data, error } = useApi<MigrationsResponse>('migrations');
  return (
    <section aria-labelledby="page-title">
      <PageTitle>Migrations</PageTitle>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="migrations" />}
      {data && (
        <>
          <p class="muted">
            {data.directory ? `From ${data.directory}` : 'No migrations folder configured: history only.'}
          </p>
          <h2>Drift</h2>
          <p data-testid="drift" class={data.drift.status === 'drift' ? 'error' : undefined}>
            <strong>{data.drift.status}</strong>
            {data.drift.message ? ` — ${data.drift.message}` : ''}
          </p>
          {data.drift.differences.length > 0 && (
            <ul>
              {data.drift.differences.map((d) => (
                <li key={d}>{d}</li>
              ))}
            </ul>
          )}
          <h2>Applied ({data.applied.length})</h2>
          {data.applied.length === 0 ? (
            <p class="muted">None.</p>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th scope="col">ID</th>
                  <th scope="col">Name</th>
                  <th scope="col">Applied at (UTC)</th>
                  <th scope="col">Checksum</th>
                </tr>
              </thead>
              <tbody>
                {data.applied.map((m) => (
                  <tr key={m.id}>
                    <td>{m.id}</td>
                    <td>{m.name}</td>
                    <td>
                      <UtcTime iso={m.appliedAt} />
                    </td>
                    <td>
                      <code>{m.checksum.slice(0, 16)}</code>{' '}
                      {m.checksumMatches === false && <strong class="bad">changed since applied</strong>}
                      {m.checksumMatches === null && <span class="muted">(folder not found)</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Pending ({data.pending.length})</h2>
          {data.pending.length === 0 ? (
            <p class="muted">None.</p>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th scope="col">ID</th>
                  <th scope="col">Name</th>
                  <th scope="col">Checksum</th>
                </tr>
              </thead>
              <tbody>
                {data.pending.map((m) => (
                  <tr key={m.id}>
                    <td>{m.id}</td>
                    <td>{m.name}</td>
                    <td>
                      <code>{m.checksum.slice(0, 16)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Lint ({data.lint.length})</h2>
          {data.lint.length === 0 ? (
            <p class="muted">No findings.</p>
          ) : (
            <ul>
              {data.lint.map((f) => (
                <li key={`${f.migration}-${f.rule}-${f.message}`}>
                  <strong class={f.severity === 'error' ? 'bad' : undefined}>{f.severity}</strong> {f.migration} ·{' '}
                  {f.rule}: {f.message}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
