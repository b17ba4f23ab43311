/**
 * ChatCore as a long-running service (node:http, JSON in and out), beside
 * `/livez`, `/readyz` (database, migrations, the cache's Redis as degraded,
 * sessions), `/metrics` and a graceful stop on SIGTERM:
 *
 *   POST /auth/register  {username, password}            201 {id, username, role, ...}
 *   POST /auth/login     {username, password}            200 {access_token, refresh_token, token_type, expires_in}
 *   POST /auth/refresh   {refresh_token}                 200 a new pair (the old refresh token is spent)
 *   POST /auth/logout    {refresh_token?}  + Bearer       204 (the session ends on every instance)
 *   GET  /auth/me                           Bearer       200 the user (the 5-minute cache)
 *   POST /ask            {prompt, conversation_id?} Bearer  200 {conversation_id, answer, cached}
 *   POST /messages       {content, conversation_id?} Bearer 201 the message
 *   GET  /messages?conversation_id=…        Bearer       200 the conversation's messages
 *   GET  /conversations                     Bearer       200 the caller's conversations
 *
 * Errors are `{ error, message }` with 400/401/404/409/429 (`Retry-After` on 429).
 *
 *   SECRET_KEY=… PORT=8080 npx tsx examples/chatcore/serve.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatcore REDIS_URL=redis://127.0.0.1:6379 SECRET_KEY=… npx tsx examples/chatcore/serve.ts
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Ferry } from '../../src/index.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { type OpsServer, serverError, startOpsServer } from '../shared/ops-server.js';
import * as schema from './schema.js';
import { type ChatCore, ChatCoreError, type ChatCoreOptions, type Client, createChatCore, type DB } from './service.js';

export interface ChatCoreService {
  readonly ferry: Ferry<DB>;
  readonly app: ChatCore;
  readonly metrics: Metrics;
  readonly ops: OpsServer;
}

const MAX_BODY = 64 * 1024;

export async function serveChatCore(
  options: { url?: string; port?: number; signals?: boolean } & Omit<ChatCoreOptions, 'ferry'> = {},
): Promise<ChatCoreService> {
  const { url, port, signals, ...appOptions } = options;
  const ferry = await connect({ schema, url });
  const migrations = new URL('./migrations', import.meta.url).pathname;
  await ferry.migrate(migrations);
  const app = createChatCore({ ...appOptions, ferry });
  const metrics = createMetrics(ferry, {
    cache: app.cache,
    rateLimiter: app.limiter,
    sessions: app.sessions,
    migrations: { dir: migrations },
  });
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    route(app, req).then(
      ({ status, body, headers }) => {
        res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
        res.end(body === undefined ? undefined : `${JSON.stringify(body)}\n`);
      },
      (err) => {
        if (!(err instanceof ChatCoreError)) return serverError(res, err);
        res.writeHead(err.status, {
          'content-type': 'application/json',
          ...(err.retryAfterMs > 0 ? { 'retry-after': String(Math.ceil(err.retryAfterMs / 1000)) } : {}),
        });
        res.end(`${JSON.stringify({ error: err.code, message: err.message })}\n`);
      },
    );
  };
  const ops = await startOpsServer(ferry, {
    port,
    migrations,
    cache: app.cache,
    sessions: app.sessions,
    metrics,
    app: handler,
    signals,
    close: [app, metrics],
  });
  return { ferry, app, metrics, ops };
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

async function route(app: ChatCore, req: IncomingMessage): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const client: Client = {
    ip: req.socket.remoteAddress ?? 'unknown',
    userAgent: req.headers['user-agent'] ?? null,
  };
  const bearer = () => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new ChatCoreError('unauthorized', 'An Authorization: Bearer <access token> header is required.');
    return m[1]!;
  };
  const key = `${req.method} ${url.pathname}`;
  switch (key) {
    case 'POST /auth/register': {
      const b = await body(req);
      return { status: 201, body: await app.register({ username: str(b.username), password: str(b.password) }) };
    }
    case 'POST /auth/login': {
      const b = await body(req);
      return { status: 200, body: await app.login({ username: str(b.username), password: str(b.password) }, client) };
    }
    case 'POST /auth/refresh': {
      const b = await body(req);
      return { status: 200, body: await app.refresh(str(b.refresh_token), client) };
    }
    case 'POST /auth/logout': {
      const token = bearer();
      const b = await body(req);
      await app.logout(token, typeof b.refresh_token === 'string' ? b.refresh_token : undefined);
      return { status: 204 };
    }
    case 'GET /auth/me':
      return { status: 200, body: (await app.authenticate(bearer())).user };
    case 'POST /ask': {
      const token = bearer();
      const b = await body(req);
      const r = await app.ask(token, client, { prompt: str(b.prompt), conversationId: optStr(b.conversation_id) });
      return { status: 200, body: { conversation_id: r.conversationId, answer: r.answer, cached: r.cached } };
    }
    case 'POST /messages': {
      const token = bearer();
      const b = await body(req);
      const m = await app.postMessage(token, client, {
        content: str(b.content),
        conversationId: optStr(b.conversation_id),
      });
      return { status: 201, body: m };
    }
    case 'GET /messages':
      return { status: 200, body: await app.messages(bearer(), url.searchParams.get('conversation_id') ?? '') };
    case 'GET /conversations': {
      const page = await app.conversations(bearer(), { cursor: url.searchParams.get('cursor') ?? undefined });
      return { status: 200, body: page };
    }
    default:
      return { status: 404, body: { error: 'not_found', message: `No route ${key}.` } };
  }
}

/** The request's JSON object body ({} when empty); 400 for anything else or over 64 KB. */
async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ChatCoreError('bad_request', 'The body is over 64 KB.');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ChatCoreError('bad_request', 'The body is not JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ChatCoreError('bad_request', 'The body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const optStr = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

if (import.meta.url === `file://${process.argv[1]}`) {
  const service = await serveChatCore({ port: Number(process.env.PORT ?? 8080), signals: true });
  if (service.app.secretSource === 'random') {
    console.error('chatcore: SECRET_KEY is not set: tokens are signed with a random key of this process only.');
  }
  console.log(`chatcore: ${service.ferry.backend} at ${service.ferry.url}; listening on ${service.ops.url}`);
}
