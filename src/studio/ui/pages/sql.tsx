/**
 * #/sql: the SQL runner. The server runs one statement in a READ ONLY
 * transaction with a statement timeout (write mode plus the token may lift
 * that); EXPLAIN shows the JSON plan; history is the server's, newest first.
 * Ctrl+Enter (or Cmd+Enter) runs.
 */
import { useState } from 'preact/hooks';
import type { SqlHistoryResponse, SqlRequest, SqlResponse } from '../../api';
import { CellView, JsonTree } from '../cell';
import { api, type StudioError } from '../client';
import { ErrorBox, formatCount, PageTitle, UtcTime } from '../common';
import { useWritable } from '../meta';
import { useApi } from '../use-api';

export function SqlPage() {
  const writable = useWritable();
  const [text, setText] = useState('select 1 as one');
  const [result, setResult] = useState<SqlResponse | null>(null);
  const [error, setError] = useState<StudioError | null>(null);
  const [busy, setBusy] = useState(false);
  const [write, setWrite] = useState(false);
  const [analyze, setAnalyze] = useState(false);
  const history = useApi<SqlHistoryResponse>('sql/history');

  const run = async (explain: boolean) => {
    setBusy(true);
    setError(null);
    const request: SqlRequest = { sql: text, explain };
    if (writable && write) request.write = true;
    if (writable && explain && analyze) request.analyze = true;
    try {
      setResult(await api<SqlResponse>('POST', 'sql', request));
    } catch (err) {
      setResult(null);
      setError(err as StudioError);
    } finally {
      setBusy(false);
      history.reload();
    }
  };

  return (
    <section aria-labelledby="page-title">
      <PageTitle>SQL</PageTitle>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run(false);
        }}
      >
        <label for="sql-editor">
          Statement (one; read-only transaction{writable ? ' unless “write” is ticked' : ''})
        </label>
        <textarea
          id="sql-editor"
          class="editor"
          rows={8}
          spellcheck={false}
          value={text}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              run(false);
            }
          }}
        />
        <div class="toolbar">
          <button type="submit" disabled={busy}>
            Run
          </button>
          <button type="button" disabled={busy} onClick={() => run(true)}>
            Explain
          </button>
          {writable && (
            <>
              <label>
                <input
                  type="checkbox"
                  checked={analyze}
                  onChange={(e) => setAnalyze((e.target as HTMLInputElement).checked)}
                />{' '}
                ANALYZE (executes the statement)
              </label>
              <label>
                <input
                  type="checkbox"
                  checked={write}
                  onChange={(e) => setWrite((e.target as HTMLInputElement).checked)}
                />{' '}
                Allow writes (needs the token)
              </label>
            </>
          )}
        </div>
      </form>
      <ErrorBox error={error} />
      {result && <SqlResult result={result} />}
      <section aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        <ErrorBox error={history.error} />
        {history.data && history.data.entries.length === 0 && <p class="muted">Nothing run yet.</p>}
        {history.data && history.data.entries.length > 0 && (
          <ol class="history">
            {history.data.entries.map((h) => (
              <li key={`${h.at}-${h.sql}`}>
                <button
                  type="button"
                  class="link"
                  onClick={() => setText(h.sql)}
                  aria-label={`Load into the editor: ${h.sql}`}
                >
                  <code>{h.sql.length > 120 ? `${h.sql.slice(0, 120)}…` : h.sql}</code>
                </button>{' '}
                <span class="muted">
                  <UtcTime iso={h.at} /> · {h.ms} ms ·{' '}
                  {h.ok ? (h.rowCount == null ? 'ok' : `${h.rowCount} rows`) : `failed: ${h.error ?? ''}`}
                </span>
              </li>
            ))}
          </ol>
        )}
      </section>
    </section>
  );
}

function SqlResult({ result }: { result: SqlResponse }) {
  return (
    <section aria-labelledby="result-title">
      <h2 id="result-title">Result</h2>
      <p class="muted" role="status" data-testid="sql-status">
        {`${formatCount(result.rowCount ?? result.rows.length)} rows`}
        {result.truncated ? ' (truncated)' : ''} · {result.ms} ms
      </p>
      {result.plan !== undefined && (
        <div class="plan">
          <h3>Plan</h3>
          <JsonTree value={result.plan} />
          <pre>{JSON.stringify(result.plan, null, 2)}</pre>
        </div>
      )}
      {result.columns.length > 0 && result.plan === undefined && (
        <div>
          <table class="grid" aria-label="Query result" data-testid="sql-result">
            <thead>
              <tr>
                {result.columns.map((c, i) => (
                  <th key={i} scope="col" title={c.type}>
                    {c.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {result.rows.map((row, r) => (
                <tr key={r}>
                  {row.map((cell, i) => (
                    <td key={i}>
                      <CellView
                        cell={cell}
                        kind={/timestamp/.test(result.columns[i]?.type ?? '') ? 'timestamp' : undefined}
                      />
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
