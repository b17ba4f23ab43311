/**
 * Ferry Studio's browser UI: the shell (header, navigation, meta) and the hash
 * router that picks a page. Built by Vite into dist/studio-ui/ and served by
 * src/studio's handler; it only talks to that server's `api/` routes.
 */
import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import type { MetaResponse } from '../api';
import { hasToken, takeTokenFromHash } from './client';
import { ErrorBox, Loading } from './common';
import { MetaContext } from './meta';
import { CachePage } from './pages/cache';
import { CutoverPage } from './pages/cutover';
import { ImportsPage } from './pages/imports';
import { MigrationsPage } from './pages/migrations';
import { RejectsPage } from './pages/rejects';
import { RowPage } from './pages/row';
import { RowFormPage } from './pages/row-form';
import { SchemaPage } from './pages/schema';
import { SqlPage } from './pages/sql';
import { TablePage } from './pages/table';
import { TablesPage } from './pages/tables';
import { type Route, useRoute } from './router';
import { useApi } from './use-api';

const NAV: { path: string; label: string; feature?: keyof MetaResponse['features'] }[] = [
  { path: 'tables', label: 'Tables' },
  { path: 'sql', label: 'SQL' },
  { path: 'schema', label: 'Schema', feature: 'schema' },
  { path: 'migrations', label: 'Migrations', feature: 'migrations' },
  { path: 'imports', label: 'Imports', feature: 'imports' },
  { path: 'cache', label: 'Cache', feature: 'cache' },
  { path: 'cutover', label: 'Cutover', feature: 'cutover' },
];

function Page({ route }: { route: Route }) {
  const [first, second, third] = route.segments;
  switch (first) {
    case undefined:
    case 'tables':
      if (second === undefined) return <TablesPage />;
      if (third === 'row') return <RowPage table={second} params={route.params} />;
      if (third === 'new') return <RowFormPage table={second} params={route.params} mode="insert" />;
      if (third === 'edit') return <RowFormPage table={second} params={route.params} mode="update" />;
      return <TablePage table={second} params={route.params} />;
    case 'sql':
      return <SqlPage />;
    case 'schema':
      return <SchemaPage table={route.params.get('table')} />;
    case 'migrations':
      return <MigrationsPage />;
    case 'imports':
      return second === undefined ? <ImportsPage /> : <RejectsPage name={second} params={route.params} />;
    case 'cache':
      return <CachePage />;
    case 'cutover':
      return <CutoverPage />;
    default:
      return (
        <div role="alert" class="error">
          No page at #{route.segments.join('/')}. <a href="#/tables">Go to the tables</a>.
        </div>
      );
  }
}

function App() {
  const route = useRoute();
  const meta = useApi<MetaResponse>('meta');
  const current = route.segments[0] ?? 'tables';
  useEffect(() => {
    // Focus the page heading after a navigation, so keyboard and screen-reader users land on the new page.
    const heading = document.querySelector<HTMLElement>('main h1');
    heading?.focus({ preventScroll: true });
  }, [route.segments.join('/')]);
  return (
    <MetaContext.Provider value={meta.data}>
      <button type="button" class="skip" onClick={skipToMain}>
        Skip to content
      </button>
      <header>
        <span class="brand">Ferry Studio</span>
        <nav aria-label="Sections">
          <ul>
            {NAV.filter((n) => !n.feature || !meta.data || meta.data.features[n.feature]).map((n) => (
              <li key={n.path}>
                <a href={`#/${n.path}`} aria-current={current === n.path ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {meta.data && (
          <p class="meta" data-testid="meta">
            <span>{meta.data.backend}</span> · <span>{meta.data.database}</span> ·{' '}
            <span class={meta.data.writable ? 'badge write' : 'badge'} data-testid="mode">
              {meta.data.writable ? (hasToken() ? 'write mode' : 'write mode (no token)') : 'read-only'}
            </span>
          </p>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {meta.error ? <ErrorBox error={meta.error} /> : meta.data ? <Page route={route} /> : <Loading what="Studio" />}
      </main>
    </MetaContext.Provider>
  );
}

/** A button, not a `#main` link: the fragment is the router's. */
function skipToMain() {
  document.getElementById('main')?.focus();
}

const next = takeTokenFromHash(location.hash);
if (next !== null) history.replaceState(null, '', `${location.pathname}${location.search}${next}`);
render(<App />, document.getElementById('app')!);
