/** #/cache: hit/miss per tier, the breaker, Redis, sessions and rate limits; key lookup; delete by prefix (write mode). */
import { useState } from 'preact/hooks';
import type { CacheDeleteResponse, CacheKeysResponse, CacheResponse } from '../../api';
import { api, query, type StudioError } from '../client';
import { ErrorBox, formatBytes, formatCount, Loading, PageTitle } from '../common';
import { useWritable } from '../meta';
import { useApi } from '../use-api';

function ratio(hits: number, misses: number): string {
  const total = hits + misses;
  return total === 0 ? '—' : `${((hits / total) * 100).toFixed(1)} %`;
}

export function CachePage() {
  const writable = useWritable();
  const cache = useApi<CacheResponse>('cache');
  const [prefix, setPrefix] = useState('');
  const [keys, setKeys] = useState<CacheKeysResponse | null>(null);
  const [error, setError] = useState<StudioError | null>(null);
  const [deleted, setDeleted] = useState<number | null>(null);
  const [confirming, setConfirming] = useState(false);
  const lookup = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setKeys(await api<CacheKeysResponse>('GET', `cache/keys${query({ prefix, limit: 100 })}`));
    } catch (err) {
      setError(err as StudioError);
    }
  };
  const remove = async () => {
    setConfirming(false);
    setError(null);
    try {
      const done = await api<CacheDeleteResponse>('DELETE', `cache/keys${query({ prefix })}`);
      setDeleted(done.deleted);
      setKeys(null);
      cache.reload();
    } catch (err) {
      setError(err as StudioError);
    }
  };
  const data = cache.data;
  return (
    <section aria-labelledby="page-title">
      <PageTitle>Cache</PageTitle>
      <ErrorBox error={cache.error} />
      {!data && !cache.error && <Loading what="the cache" />}
      {data && !data.available && <p>No cache or Redis is configured for this app.</p>}
      {data?.available && (
        <>
          <table class="list" aria-label="Cache tiers">
            <thead>
              <tr>
                <th scope="col">Tier</th>
                <th scope="col" class="num">
                  Hits
                </th>
                <th scope="col" class="num">
                  Misses
                </th>
                <th scope="col" class="num">
                  Hit ratio
                </th>
                <th scope="col" class="num">
                  Entries
                </th>
              </tr>
            </thead>
            <tbody>
              {data.tiers && (
                <tr>
                  <th scope="row">L1 (in process)</th>
                  <td class="num">{formatCount(data.tiers.l1.hits)}</td>
                  <td class="num">{formatCount(data.tiers.l1.misses)}</td>
                  <td class="num">{ratio(data.tiers.l1.hits, data.tiers.l1.misses)}</td>
                  <td class="num">{formatCount(data.tiers.l1.size)}</td>
                </tr>
              )}
              {data.tiers?.l2 && (
                <tr>
                  <th scope="row">L2 (Redis)</th>
                  <td class="num">{formatCount(data.tiers.l2.hits)}</td>
                  <td class="num">{formatCount(data.tiers.l2.misses)}</td>
                  <td class="num">{ratio(data.tiers.l2.hits, data.tiers.l2.misses)}</td>
                  <td class="num">—</td>
                </tr>
              )}
            </tbody>
          </table>
          <dl class="facts">
            <dt>Breaker</dt>
            <dd data-testid="breaker">{data.breaker ?? '—'}</dd>
            <dt>Redis</dt>
            <dd>
              {data.redis ? `${data.redis.connected ? 'connected' : 'not connected'} ${data.redis.url ?? ''}` : '—'}
            </dd>
            <dt>Sessions</dt>
            <dd>{formatCount(data.sessions)}</dd>
            <dt>Rate-limit keys</dt>
            <dd>{formatCount(data.rateLimits)}</dd>
          </dl>
        </>
      )}
      {data?.available && (
        <section aria-labelledby="keys-title">
          <h2 id="keys-title">Keys</h2>
          <form class="inline" onSubmit={lookup}>
            <label>
              Key prefix <input value={prefix} onInput={(e) => setPrefix((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit">Look up</button>
            {writable && !confirming && (
              <button type="button" class="danger" disabled={!prefix} onClick={() => setConfirming(true)}>
                Delete by prefix
              </button>
            )}
            {writable && confirming && (
              <fieldset class="confirm">
                <legend class="sr-only">Confirm delete by prefix</legend>
                Delete every key starting with <code>{prefix}</code>?{' '}
                <button type="button" class="danger" onClick={remove}>
                  Confirm delete
                </button>{' '}
                <button type="button" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </fieldset>
            )}
          </form>
          <ErrorBox error={error} />
          {deleted !== null && <p role="status">{formatCount(deleted)} keys deleted.</p>}
          {keys && (
            <table class="list" aria-label="Matching keys">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col" class="num">
                    TTL
                  </th>
                  <th scope="col" class="num">
                    Size
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.keys.map((k) => (
                  <tr key={k.key}>
                    <td>
                      <code>{k.key}</code>
                    </td>
                    <td class="num">{k.ttlMs === null ? 'none' : `${Math.round(k.ttlMs / 1000)} s`}</td>
                    <td class="num">{formatBytes(k.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {keys?.more && <p class="muted">More keys match: narrow the prefix.</p>}
        </section>
      )}
    </section>
  );
}
