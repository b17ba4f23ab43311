/**
 * LLM Council as a service over `CouncilStore`: the seed's FastAPI routes
 * reduced to what shows the storage and the quota, beside `/livez`,
 * `/readyz`, `/metrics` and a graceful stop. The user is the `x-user-id`
 * header (the seed's verified Firebase uid; verifying tokens is the app's
 * business, not Ferry's).
 *
 *   GET  /conversations                   the user's conversations, newest first
 *   POST /conversations                   a new conversation → 201
 *   GET  /conversations/<id>              one conversation with its messages, or 404
 *   POST /conversations/<id>/messages     {"content": "…"} appended → 201, or 404
 *   POST /ask                             {"question": "…", "conversationId"?: "…"}: counts one query
 *                                         (429 with Retry-After once the daily or monthly limit is
 *                                         reached), then the council answers (a local stand-in)
 *   GET  /usage                           the counters as the next query would see them
 *
 *   PORT=8080 npx tsx examples/council/serve.ts    # DATABASE_URL, else the embedded PGlite
 *
 * `councilApp(store)` is the routes alone, over either store: the JSON files
 * have no database for the ops endpoints to watch, so `serveCouncil` runs on
 * Ferry (Postgres or PGlite).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { connect, type DatabaseOf, type Ferry, isFerryError } from '../../src/index.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { type OpsServer, startOpsServer } from '../shared/ops-server.js';
import { migrationsDir } from './open-storage.js';
import { quotaView } from './quota.js';
import * as schema from './schema.js';
import { CouncilStorage } from './storage.js';
import type { AssistantMessage, CouncilStore } from './store.js';

export interface CouncilAppOptions {
  /** The clock the quota reads (tests pin it). */
  now?: () => Date;
}

const MAX_BODY = 64 * 1024;

export function councilApp(store: CouncilStore, options: CouncilAppOptions = {}): RequestListener {
  const now = options.now ?? (() => new Date());
  return (req, res) => {
    route(store, now, req, res).catch((err) => {
      if (res.headersSent) return res.destroy();
      const status = isFerryError(err, 'E_BAD_ARGUMENT') || isFerryError(err, 'E_INVALID_VALUE') ? 400 : 500;
      send(res, isFerryError(err, 'E_CONSTRAINT') ? 409 : status, {
        error: err instanceof Error ? err.message : String(err),
        ...(isFerryError(err) ? { code: err.code } : {}),
      });
    });
  };
}

async function route(store: CouncilStore, now: () => Date, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  const user = req.headers['x-user-id'];
  if (typeof user !== 'string' || user === '') return send(res, 401, { error: 'x-user-id header required' });
  const method = req.method ?? 'GET';
  const one = /^\/conversations\/([^/]+)$/.exec(pathname);
  const messages = /^\/conversations\/([^/]+)\/messages$/.exec(pathname);

  if (pathname === '/conversations' && method === 'GET') return send(res, 200, await store.listConversations(user));
  if (pathname === '/conversations' && method === 'POST') return send(res, 201, await store.createConversation(user));
  if (one && method === 'GET') {
    const conversation = await store.getConversation(decodeURIComponent(one[1]!), user);
    return conversation ? send(res, 200, conversation) : send(res, 404, { error: 'conversation not found' });
  }
  if (messages && method === 'POST') {
    const body = await readJson(req);
    if (typeof body?.content !== 'string' || body.content === '') return send(res, 400, { error: 'content required' });
    const ok = await store.addUserMessage(decodeURIComponent(messages[1]!), body.content, user);
    return ok ? send(res, 201, { ok: true }) : send(res, 404, { error: 'conversation not found' });
  }
  if (pathname === '/usage' && method === 'GET') return send(res, 200, quotaView(await store.getUsage(user), now()));
  if (pathname === '/ask' && method === 'POST') {
    const body = await readJson(req);
    const question = body?.question;
    if (typeof question !== 'string' || question === '') return send(res, 400, { error: 'question required' });
    const asked = typeof body?.conversationId === 'string' ? body.conversationId : undefined;
    // An unknown conversation is a 404 that costs no quota.
    if (asked !== undefined && !(await store.getConversation(asked, user))) {
      return send(res, 404, { error: 'conversation not found' });
    }
    const at = now();
    const quota = await store.checkAndIncrementUsage(user, at);
    if (!quota.allowed) {
      const retryAfter = Math.max(1, Math.ceil((quota.resetsAt.getTime() - at.getTime()) / 1000));
      res.setHeader('retry-after', String(retryAfter));
      return send(res, 429, { error: `${quota.limitedBy} limit reached`, ...quota });
    }
    const conversationId = asked ?? (await store.createConversation(user)).id;
    const answer = council(question);
    await store.addUserMessage(conversationId, question, user);
    await store.addAssistantMessage(conversationId, answer.stage1, answer.stage2, answer.stage3, user, answer.metadata);
    return send(res, 200, { conversationId, answer: answer.stage3.response, usage: quota });
  }
  send(res, 404, { error: 'not found' });
}

const MODELS = ['openai/gpt-5.1', 'anthropic/claude-sonnet-4.5', 'x-ai/grok-4'];
const CHAIRMAN = 'google/gemini-3-pro-preview';

/** A local stand-in for the three council stages (the real app calls OpenRouter). */
export function council(question: string): AssistantMessage {
  const labels = MODELS.map((_, i) => `Response ${String.fromCharCode(65 + i)}`);
  return {
    role: 'assistant',
    stage1: MODELS.map((model) => ({ model, response: `${model.split('/')[1]} on "${question}": it depends.` })),
    stage2: MODELS.map((model) => ({
      model,
      ranking: `FINAL RANKING:\n${labels.map((l, i) => `${i + 1}. ${l}`).join('\n')}`,
      parsed_ranking: labels,
    })),
    stage3: { model: CHAIRMAN, response: `The council agrees on "${question}": it depends.` },
    metadata: { label_to_model: Object.fromEntries(labels.map((l, i) => [l, MODELS[i]!])) },
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(`${JSON.stringify(body)}\n`);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > MAX_BODY) return null;
  }
  try {
    const value = JSON.parse(text || '{}');
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

export interface CouncilService {
  readonly ferry: Ferry<DatabaseOf<typeof schema>>;
  readonly storage: CouncilStorage;
  readonly metrics: Metrics;
  readonly ops: OpsServer;
}

export async function serveCouncil(
  options: { url?: string; port?: number; signals?: boolean } & CouncilAppOptions = {},
): Promise<CouncilService> {
  const ferry = await connect({ schema, url: options.url });
  await ferry.migrate(migrationsDir);
  const storage = new CouncilStorage(ferry);
  const metrics = createMetrics(ferry, { migrations: { dir: migrationsDir } });
  const ops = await startOpsServer(ferry, {
    port: options.port,
    migrations: migrationsDir,
    metrics,
    app: councilApp(storage, options),
    signals: options.signals,
    close: [metrics],
  });
  return { ferry, storage, metrics, ops };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const service = await serveCouncil({ port: Number(process.env.PORT ?? 8080), signals: true });
  console.log(`council: ${service.ferry.backend} at ${service.ferry.url}; listening on ${service.ops.url}`);
}
