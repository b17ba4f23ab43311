/**
 * The HTTP plumbing of Studio's handler: JSON bodies in and out, errors as
 * `ApiError` with the status their code implies, and the security headers
 * every response carries (see guard.ts for the checks themselves).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError, type FerryErrorCode } from '../errors.js';
import type { ApiError } from './api.js';
import { E_STUDIO_BAD_REQUEST, E_STUDIO_INTERNAL } from './errors.js';

/** Largest JSON body Studio reads (an insert of a big JSON cell fits; a runaway client does not). */
const MAX_BODY = 4 * 1024 * 1024;

const STATUS: Partial<Record<FerryErrorCode, number>> = {
  E_STUDIO_HOST: 421,
  E_STUDIO_ORIGIN: 403,
  E_STUDIO_TOKEN: 401,
  E_STUDIO_READ_ONLY: 403,
  E_STUDIO_NOT_FOUND: 404,
  E_STUDIO_BAD_REQUEST: 400,
  E_STUDIO_CONFLICT: 409,
  E_STUDIO_INVALID: 422,
  E_STUDIO_SQL: 400,
  E_BAD_CURSOR: 400,
  E_INVALID_VALUE: 422,
  E_UNKNOWN_COLUMN: 400,
  E_BAD_ARGUMENT: 400,
};

/** The HTTP status of an error: its code's, else 500. */
export function statusOf(err: unknown): number {
  return err instanceof FerryError ? (STATUS[err.code] ?? 500) : 500;
}

/**
 * Headers on every answer, API and UI alike: the page runs only its own
 * scripts and cannot be framed (clickjacking of the edit buttons), browsers
 * must not guess types, and no URL (with a table or a filter in it) leaks
 * through Referer. Never any Access-Control-* header: Studio is same-origin only.
 */
export function securityHeaders(res: ServerResponse): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * A database error a request caused (a filter value that is not of the
 * column's type, a sort Postgres cannot do, Studio's statement timeout) as a
 * 400 with Postgres's message; anything else is left as it is (a 500).
 */
export function fromDatabase(err: unknown, timeoutMs: number): unknown {
  if (err instanceof FerryError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : null;
  if (code === null) return err;
  if (code === '57014') {
    return new FerryError(
      E_STUDIO_BAD_REQUEST,
      `The query ran past Studio's statement timeout of ${timeoutMs} ms (statementTimeout) and was cancelled [SQLSTATE 57014]: narrow it with a filter, or sort by an indexed column.`,
      { cause: err },
    );
  }
  if (code.startsWith('22') || code.startsWith('42')) {
    return new FerryError(
      E_STUDIO_BAD_REQUEST,
      `The database refused the request: ${String(e?.message)} [SQLSTATE ${code}]`,
      {
        cause: err,
        details: { sqlstate: code },
      },
    );
  }
  return err;
}

/** Send `err` as an ApiError (extra fields, e.g. a conflict's `current`, merged at the top level). */
export function sendError(res: ServerResponse, err: unknown, extra: Record<string, unknown> = {}): void {
  const status = statusOf(err);
  const fe = err instanceof FerryError ? err : null;
  const body: ApiError & Record<string, unknown> = {
    ...extra,
    error: {
      code: fe ? fe.code : E_STUDIO_INTERNAL,
      // A non-Ferry error's message may carry anything a driver put in it: say only that it failed.
      message: fe
        ? fe.message
        : `Studio failed to answer: ${err instanceof Error ? err.name : 'error'} (see the server's log).`,
      ...(fe && typeof fe.details.fields === 'object' && fe.details.fields !== null
        ? { fields: fe.details.fields as Record<string, string> }
        : {}),
    },
  };
  sendJson(res, status, body);
}

/** Read and parse the JSON body of a write; only `application/json` is accepted (a cross-site form cannot send it). */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'application/json') {
    throw new FerryError(
      E_STUDIO_BAD_REQUEST,
      `Studio accepts JSON bodies only: send Content-Type: application/json (got ${type === '' ? 'none' : type}).`,
    );
  }
  // An app's body parser (Express's express.json(), Fastify's) may have read the stream already: take its result.
  const parsed = (req as { body?: unknown }).body;
  if (parsed !== undefined && req.readableEnded) return parsed;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new FerryError(E_STUDIO_BAD_REQUEST, `The request body is over ${MAX_BODY} bytes.`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new FerryError(E_STUDIO_BAD_REQUEST, 'The request body is not valid JSON.');
  }
}

/** A FerryError for a bad request (400). */
export function badRequest(message: string): FerryError {
  return new FerryError(E_STUDIO_BAD_REQUEST, message);
}

/** A JSON query parameter (`?key=`, `?filter=`), parsed, or undefined when absent. */
export function jsonParam(params: URLSearchParams, name: string): unknown {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw badRequest(
      `The ${name} parameter is not valid JSON (it is URL-encoded JSON, e.g. ${name}=${encodeURIComponent('{"id":1}')}).`,
    );
  }
}
