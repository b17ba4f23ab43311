/**
 * Hash routing: `#/tables/users?sort=id&dir=desc`. The fragment never reaches
 * the server, so one mount prefix serves every page and a reload keeps the
 * page. Parameters use URLSearchParams; JSON-valued ones (filter, key) are
 * JSON text inside it.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** Decoded path segments: `['tables', 'users', 'row']`. */
  segments: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const at = text.indexOf('?');
  const path = at === -1 ? text : text.slice(0, at);
  const search = at === -1 ? '' : text.slice(at + 1);
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { segments, params: new URLSearchParams(search) };
}

/** `#/a/b?x=1` from segments and parameters (empty values left out). */
export function href(segments: string[], params: Record<string, string | number | null | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  const text = search.toString();
  return `#/${segments.map(encodeURIComponent).join('/')}${text ? `?${text}` : ''}`;
}

export function navigate(to: string): void {
  if (location.hash === to) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
