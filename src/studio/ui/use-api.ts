/** Loading state for one GET, re-run when its path changes; a stale answer never overwrites a newer one. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, type StudioError } from './client';

export interface Loaded<T> {
  data: T | null;
  error: StudioError | null;
  loading: boolean;
  reload(): void;
}

export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: StudioError | null; loading: boolean }>({
    data: null,
    error: null,
    loading: path !== null,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    if (path === null) return;
    const call = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    api<T>('GET', path).then(
      (data) => {
        if (call === latest.current) setState({ data, error: null, loading: false });
      },
      (error: StudioError) => {
        if (call === latest.current) setState({ data: null, error, loading: false });
      },
    );
  }, [path, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}
