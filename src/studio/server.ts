/**
 * `studio(target, options)`: Ferry Studio as a `node:http` request handler,
 * `(req, res, next?) => void`, to serve alone (`ferry studio`) or to mount
 * under an app's own auth:
 *
 *   // node:http
 *   const handler = studio(ferry, { basePath: '/studio', allowedHosts: ['admin.example.com'] });
 *   http.createServer((req, res) => req.url?.startsWith('/studio') ? handler(req, res) : app(req, res));
 *   // Express (strips the mount path itself)
 *   app.use('/studio', requireAdmin, studio(ferry, { allowedHosts: ['admin.example.com'] }));
 *   // Fastify
 *   fastify.all('/studio/*', (request, reply) => { reply.hijack(); handler(request.raw, reply.raw); });
 *
 * Every request passes guard.ts's checks first; routes are api.ts's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../errors.js';
import { serveAsset } from './assets.js';
import { cacheKeys, cachePage, deleteCacheKeys } from './cache-page.js';
import { createContext, type StudioContext, type StudioOptions, type StudioTarget } from './context.js';
import { cutoverPage } from './cutover-page.js';
import { E_STUDIO_NOT_FOUND } from './errors.js';
import { checkHost, checkOrigin, checkWrite } from './guard.js';
import { badRequest, fromDatabase, readJson, securityHeaders, sendError, sendJson, statusOf } from './http.js';
import { importRuns, rejects, rejectsNdjson } from './imports-page.js';
import { meta } from './meta.js';
import { migrations } from './migrations-page.js';
import { listChildren, listRows, readRow } from './rows.js';
import { schemaPage } from './schema-page.js';
import { runSql } from './sql-runner.js';
import { describeTable, listTables } from './tables.js';
import { deleteRow, insertRow, updateRow } from './writes.js';

export type { StudioOptions, StudioTarget } from './context.js';

/** A `node:http`-style handler; `next` (Express/Connect) is called for paths Studio does not serve. */
export type StudioHandler = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void) & {
  /** The write token (print it, or put it in the URL fragment you hand out: `#token=...`). */
  readonly token: string;
  readonly writable: boolean;
};

interface Request {
  ctx: StudioContext;
  req: IncomingMessage;
  res: ServerResponse;
  params: URLSearchParams;
  /** The path's captures, decoded. */
  args: string[];
}

type Route = [method: string, path: RegExp, run: (r: Request) => Promise<unknown> | unknown, status?: number];

const T = '([^/]+)';
const ROUTES: Route[] = [
  ['GET', /^api\/meta$/, ({ ctx }) => meta(ctx)],
  ['GET', /^api\/tables$/, ({ ctx }) => listTables(ctx)],
  ['GET', new RegExp(`^api/tables/${T}$`), ({ ctx, args }) => describeTable(ctx, args[0]!)],
  ['GET', new RegExp(`^api/tables/${T}/rows$`), ({ ctx, args, params }) => listRows(ctx, args[0]!, params)],
  ['GET', new RegExp(`^api/tables/${T}/row$`), ({ ctx, args, params }) => readRow(ctx, args[0]!, params)],
  ['GET', new RegExp(`^api/tables/${T}/children$`), ({ ctx, args, params }) => listChildren(ctx, args[0]!, params)],
  [
    'POST',
    new RegExp(`^api/tables/${T}/rows$`),
    async ({ ctx, req, args }) => {
      checkWrite(ctx, req, 'Inserting a row');
      return insertRow(ctx, args[0]!, await readJson(req));
    },
    201,
  ],
  [
    'PATCH',
    new RegExp(`^api/tables/${T}/rows$`),
    async ({ ctx, req, args }) => {
      checkWrite(ctx, req, 'Updating a row');
      return updateRow(ctx, args[0]!, await readJson(req));
    },
  ],
  [
    'DELETE',
    new RegExp(`^api/tables/${T}/rows$`),
    async ({ ctx, req, args }) => {
      checkWrite(ctx, req, 'Deleting a row');
      return deleteRow(ctx, args[0]!, await readJson(req));
    },
  ],
  ['POST', /^api\/sql$/, async ({ ctx, req }) => runSql(ctx, req, await readJson(req))],
  ['GET', /^api\/sql\/history$/, ({ ctx }) => ({ entries: ctx.history.list() })],
  ['GET', /^api\/schema$/, ({ ctx }) => schemaPage(ctx)],
  ['GET', /^api\/migrations$/, ({ ctx }) => migrations(ctx)],
  ['GET', /^api\/imports$/, ({ ctx }) => importRuns(ctx)],
  ['GET', new RegExp(`^api/imports/${T}/rejects$`), ({ ctx, args, params }) => rejects(ctx, args[0]!, params)],
  [
    'GET',
    new RegExp(`^api/imports/${T}/rejects\\.ndjson$`),
    ({ ctx, res, args, params }) => rejectsNdjson(ctx, res, args[0]!, params),
  ],
  ['GET', /^api\/cache$/, ({ ctx }) => cachePage(ctx)],
  ['GET', /^api\/cache\/keys$/, ({ ctx, params }) => cacheKeys(ctx, params)],
  [
    'DELETE',
    /^api\/cache\/keys$/,
    ({ ctx, req, params }) => {
      checkWrite(ctx, req, 'Deleting cache keys');
      return deleteCacheKeys(ctx, params);
    },
  ],
  ['GET', /^api\/cutover$/, ({ ctx }) => cutoverPage(ctx)],
];

/**
 * Ferry Studio's handler for `target` (a `Ferry` from connect(), or a
 * `DbHandle`). Read-only unless `options.write`; see StudioOptions for the
 * rest and api.ts for the routes and the safety rules.
 */
export function studio(target: StudioTarget, options: StudioOptions = {}): StudioHandler {
  const ctx = createContext(target, options);
  const handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => {
    handle(ctx, req, res, next).catch((err) => {
      ctx.onError(err);
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  };
  Object.defineProperty(handler, 'token', { value: ctx.token, enumerable: false });
  Object.defineProperty(handler, 'writable', { value: ctx.write, enumerable: true });
  return handler as StudioHandler;
}

async function handle(
  ctx: StudioContext,
  req: IncomingMessage,
  res: ServerResponse,
  next: ((err?: unknown) => void) | undefined,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://studio.invalid');
  let path = url.pathname;
  if (ctx.basePath !== '') {
    if (path === ctx.basePath) path = '';
    else if (path.startsWith(`${ctx.basePath}/`)) path = path.slice(ctx.basePath.length);
    else return passOn(res, next);
  }
  securityHeaders(res);
  try {
    checkHost(ctx, req);
    checkOrigin(req);
  } catch (err) {
    return sendError(res, err);
  }
  const mountedAt = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const originalPath = new URL(mountedAt, 'http://studio.invalid').pathname;
  if (path === '' || (path === '/' && !originalPath.endsWith('/'))) {
    // The UI's assets are relative (`./assets/...`): its page must be asked for with the trailing slash.
    res.statusCode = 308;
    res.setHeader('Location', `${originalPath}/${url.search}`);
    res.end();
    return;
  }
  const relative = path.slice(1);
  if (relative.startsWith('api/')) {
    if (req.method === 'OPTIONS') {
      // No CORS preflight is ever answered with Access-Control-* headers: the browser then refuses the request.
      res.statusCode = 204;
      res.setHeader('Allow', 'GET, POST, PATCH, DELETE');
      res.end();
      return;
    }
    for (const [method, pattern, run, status] of ROUTES) {
      const m = pattern.exec(relative);
      if (!m || method !== req.method) continue;
      try {
        const args = m.slice(1).map(decodeSegment);
        const body = await run({ ctx, req, res, params: url.searchParams, args });
        if (!res.headersSent && !res.writableEnded) sendJson(res, status ?? 200, body);
      } catch (err) {
        const current = err instanceof FerryError && err.code === 'E_STUDIO_CONFLICT' ? err.details.current : undefined;
        const answered = fromDatabase(err, ctx.statementTimeoutMs);
        if (statusOf(answered) >= 500) ctx.onError(err);
        if (res.headersSent)
          res.destroy(); // a download cut short: the client must not take it for whole
        else sendError(res, answered, current === undefined ? {} : { current });
      }
      return;
    }
    const known = ROUTES.some(([, pattern]) => pattern.test(relative));
    return sendError(
      res,
      new FerryError(
        E_STUDIO_NOT_FOUND,
        known
          ? `${req.method} is not allowed on ${relative}.`
          : `Studio has no API route ${relative} (see src/studio/api.ts).`,
      ),
    );
  }
  if ((req.method === 'GET' || req.method === 'HEAD') && (await serveAsset(res, path, ctx.uiDir))) return;
  if (next) return next();
  sendError(res, new FerryError(E_STUDIO_NOT_FOUND, `Studio has nothing at ${path}.`));
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`The path segment ${JSON.stringify(segment)} is not valid URL encoding.`);
  }
}

function passOn(res: ServerResponse, next: ((err?: unknown) => void) | undefined): void {
  if (next) {
    next();
    return;
  }
  res.statusCode = 404;
  res.end();
}
