/** The server's meta (write mode, features), available to every page. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { MetaResponse } from '../api';

export const MetaContext = createContext<MetaResponse | null>(null);

/** True when edit controls should show: the server is in write mode. */
export function useWritable(): boolean {
  return useContext(MetaContext)?.writable === true;
}
