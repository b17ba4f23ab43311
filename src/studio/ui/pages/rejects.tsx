/**
 * #/imports/:name?table=&reason=&sqlstate=: an import's rejects, filtered by
 * table, reason (substring) and SQLSTATE, paged with the server's cursor, and
 * downloadable as NDJSON with the same filters.
 */
import { useEffect, useState } from 'preact/hooks';
import type { RejectsResponse } from '../../api';
import { JsonTree } from '../cell';
import { api, encodeTable, query, type StudioError } from '../client';
import { ErrorBox, formatCount, Loading, PageTitle } from '../common';
import { href, navigate } from '../router';
import { useApi } from '../use-api';

export function RejectsPage({ name, params }: { name: string; params: URLSearchParams }) {
  const filters = {
    table: params.get('table') ?? '',
    reason: params.get('reason') ?? '',
    sqlstate: params.get('sqlstate') ?? '',
  };
  const base = `imports/${encodeTable(name)}/rejects`;
  const first = useApi<RejectsResponse>(`${base}${query({ ...filters, limit: 100 })}`);
  const [more, setMore] = useState<RejectsResponse['rejects']>([]);
  const [next, setNext] = useState<string | null>(null);
  const [moreError, setMoreError] = useState<StudioError | null>(null);
  const [reason, setReason] = useState(filters.reason);
  useEffect(() => {
    setMore([]);
    setNext(first.data?.next ?? null);
  }, [first.data]);
  const go = (change: Partial<typeof filters>) => navigate(href(['imports', name], { ...filters, ...change }));
  const loadMore = async () => {
    if (!next) return;
    try {
      const page = await api<RejectsResponse>('GET', `${base}${query({ ...filters, limit: 100, after: next })}`);
      setMore((m) => [...m, ...page.rejects]);
      setNext(page.next);
    } catch (err) {
      setMoreError(err as StudioError);
    }
  };
  const rejects = [...(first.data?.rejects ?? []), ...more];
  const facets = first.data?.facets;
  return (
    <section aria-labelledby="page-title">
      <PageTitle>Rejects of {name}</PageTitle>
      <p>
        <a href="#/imports">Back to imports</a>
      </p>
      <form
        class="inline"
        aria-label="Filter rejects"
        onSubmit={(e) => {
          e.preventDefault();
          go({ reason: reason.trim() });
        }}
      >
        <label>
          Table{' '}
          <select value={filters.table} onChange={(e) => go({ table: (e.target as HTMLSelectElement).value })}>
            <option value="">all</option>
            {Object.entries(facets?.tables ?? {}).map(([t, n]) => (
              <option key={t} value={t}>
                {t} ({n})
              </option>
            ))}
          </select>
        </label>
        <label>
          SQLSTATE{' '}
          <select value={filters.sqlstate} onChange={(e) => go({ sqlstate: (e.target as HTMLSelectElement).value })}>
            <option value="">all</option>
            {Object.entries(facets?.sqlstates ?? {}).map(([s, n]) => (
              <option key={s} value={s}>
                {s} ({n})
              </option>
            ))}
          </select>
        </label>
        <label>
          Reason contains <input value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Filter</button>
        <a class="button" href={`api/${base}.ndjson${query(filters)}`} download={`${name}-rejects.ndjson`}>
          Download NDJSON
        </a>
      </form>
      <ErrorBox error={first.error ?? moreError} />
      {!first.data && !first.error && <Loading what="rejects" />}
      {first.data && (
        <>
          <p class="muted" role="status" data-testid="rejects-count">
            {formatCount(rejects.length)} rejects shown{next ? ' (more below)' : ''}
          </p>
          <table class="list" aria-label="Rejects">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Where</th>
                <th scope="col">Table</th>
                <th scope="col">Reason</th>
                <th scope="col">SQLSTATE</th>
                <th scope="col">Data</th>
              </tr>
            </thead>
            <tbody>
              {rejects.map((r) => (
                <tr key={r.ordinal}>
                  <td>{r.ordinal}</td>
                  <td>{[r.source, r.location].filter(Boolean).join(' ')}</td>
                  <td>
                    {r.table ?? '—'}
                    {r.column ? `.${r.column}` : ''}
                  </td>
                  <td class="reason">{r.reason}</td>
                  <td>{r.sqlstate ?? '—'}</td>
                  <td>
                    <JsonTree value={r.data} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {next && (
            <button type="button" onClick={loadMore}>
              Load more rejects
            </button>
          )}
        </>
      )}
    </section>
  );
}
