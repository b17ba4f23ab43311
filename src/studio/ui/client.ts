/**
 * The UI's one way to talk to Studio's server. Paths are relative
 * (`api/tables`), so they resolve against wherever Studio is mounted. The
 * write token comes from the page URL's fragment on first load (`#token=...`,
 * which browsers never send to a server) and is kept in sessionStorage, so it
 * survives reloads of this tab and dies with it.
 */
import type { ApiError, Cell } from '../api';

const TOKEN_KEY = 'ferry-studio-token';

/** A failed API call: the server's `ApiError` plus the HTTP status and the whole body (409 carries `current`). */
export class StudioError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> | undefined,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** Moves a `#token=...` fragment into sessionStorage and returns the fragment to route to instead. */
export function takeTokenFromHash(hash: string): string | null {
  const match = /^#?token=([^&]*)(?:&(.*))?$/.exec(hash);
  if (!match) return null;
  try {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1] ?? ''));
  } catch {
    // storage disabled: writes will be refused with E_STUDIO_TOKEN, which the UI shows
  }
  return match[2] ? `#${match[2]}` : '#/tables';
}

export function hasToken(): boolean {
  try {
    return Boolean(sessionStorage.getItem(TOKEN_KEY));
  } catch {
    return false;
  }
}

function token(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** A query string from the defined entries; objects and arrays travel as JSON. */
export function query(params: Record<string, string | number | boolean | object | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    search.set(name, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** One JSON request to `api/<path>`; throws StudioError on a non-2xx answer. */
export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const secret = token();
  if (secret) headers['x-ferry-studio-token'] = secret;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`api/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new StudioError(
      0,
      'E_STUDIO_NETWORK',
      `Studio's server did not answer: ${(err as Error).message}`,
      undefined,
      null,
    );
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = (parsed as ApiError | null)?.error;
    throw new StudioError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? (text.slice(0, 300) || response.statusText),
      error?.fields,
      parsed,
    );
  }
  return parsed as T;
}

export const encodeTable = (name: string): string => encodeURIComponent(name);

/** A cell as a short plain string (for titles, form fields and comparisons). */
export function cellText(cell: Cell): string {
  if (cell === null) return '';
  if (typeof cell === 'string') return cell;
  if (typeof cell === 'number' || typeof cell === 'boolean') return String(cell);
  if (Array.isArray(cell)) return JSON.stringify(cell);
  if ('$json' in cell) return JSON.stringify(cell.$json, null, 2);
  if ('$bytea' in cell) return `${cell.$bytea} bytes`;
  return '****';
}
