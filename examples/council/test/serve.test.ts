/**
 * The council service's routes over HTTP, on the Postgres store (both
 * backends, with /livez, /readyz, /metrics) and on the JSON-file store (the
 * routes alone): conversations per user, POST /ask counting one query and
 * answering 429 with Retry-After past the limit, concurrent asks included.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachBackend } from '../../../test/support/backends.js';
import { type CouncilService, councilApp, serveCouncil } from '../serve.js';
import { JsonCouncilStorage } from '../storage-json.js';
import type { CouncilStore } from '../store.js';

/** 23:00 UTC: the daily limit resets in one hour. */
const NOW = new Date('2024-03-10T23:00:00Z');

function routes(base: () => string, store: () => CouncilStore) {
  const call = async (method: string, route: string, user: string | null, body?: unknown) => {
    const res = await fetch(`${base()}${route}`, {
      method,
      headers: { ...(user ? { 'x-user-id': user } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };

  it('keeps each user to their own conversations', async () => {
    expect((await call('GET', '/conversations', null)).status).toBe(401);
    const created = await call('POST', '/conversations', 'ann');
    expect(created).toMatchObject({ status: 201, body: { userId: 'ann', title: 'New Conversation', messages: [] } });
    const id = created.body.id as string;
    expect(await call('POST', `/conversations/${id}/messages`, 'ann', { content: 'hi' })).toMatchObject({
      status: 201,
    });
    expect((await call('POST', `/conversations/${id}/messages`, 'ann', {})).status).toBe(400);
    expect((await call('POST', `/conversations/${id}/messages`, 'bob', { content: 'x' })).status).toBe(404);
    expect((await call('GET', `/conversations/${id}`, 'ann')).body.messages).toEqual([{ role: 'user', content: 'hi' }]);
    expect((await call('GET', `/conversations/${id}`, 'bob')).status).toBe(404);
    expect((await call('GET', '/conversations', 'ann')).body).toEqual([
      { id, createdAt: created.body.createdAt, title: 'New Conversation', messageCount: 1 },
    ]);
    expect((await call('GET', '/conversations', 'bob')).body).toEqual([]);
    expect((await call('GET', '/nowhere', 'ann')).status).toBe(404);
  });

  it('POST /ask counts a query, answers, and refuses with 429 and Retry-After past the limit', async () => {
    await store().setUsageLimits('cat', { dailyLimit: 2, monthlyLimit: 100 }, NOW);
    const first = await call('POST', '/ask', 'cat', { question: 'Postgres or Mongo?' });
    expect(first).toMatchObject({ status: 200, body: { usage: { allowed: true, daily: { used: 1, limit: 2 } } } });
    expect(first.body.answer).toContain('Postgres or Mongo?');
    const conversationId = first.body.conversationId as string;
    expect((await call('POST', '/ask', 'cat', { question: 'Why?', conversationId })).status).toBe(200);

    const refused = await call('POST', '/ask', 'cat', { question: 'And?', conversationId });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('3600');
    expect(refused.body).toMatchObject({
      allowed: false,
      limitedBy: 'daily',
      daily: { used: 2, limit: 2 },
      resetsAt: '2024-03-11T00:00:00.000Z',
    });
    const conversation = (await call('GET', `/conversations/${conversationId}`, 'cat')).body;
    expect(conversation.messages.map((m: { role: string }) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    expect(conversation.messages[1].stage3.response).toContain('Postgres or Mongo?');
    expect((await call('GET', '/usage', 'cat')).body).toMatchObject({ allowed: false, daily: { used: 2, limit: 2 } });
    // Unknown conversation: 404, and no query counted.
    expect((await call('POST', '/ask', 'dan', { question: 'q', conversationId: 'nope' })).status).toBe(404);
    expect(await store().getUsage('dan')).toBeNull();
    expect((await call('POST', '/ask', 'dan', {})).status).toBe(400);
  });

  it('30 concurrent asks from a new user (free tier, 10 a day): exactly 10 answered', async () => {
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => call('POST', '/ask', 'eve', { question: `q${i}` })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(10);
    expect(results.filter((r) => r.status === 429)).toHaveLength(20);
    expect(await store().getUsage('eve')).toMatchObject({ dailyUsed: 10, totalQueries: 10 });
    expect((await call('GET', '/conversations', 'eve')).body).toHaveLength(10);
  });
}

describeEachBackend('council service', (t) => {
  let service: CouncilService;
  beforeAll(async () => {
    service = await serveCouncil({ url: t.url(), now: () => NOW });
  });
  afterAll(() => service?.ferry.shutdown({ servers: [service.ops.server] }));

  routes(
    () => service.ops.url,
    () => service.storage,
  );

  it('serves /livez, /readyz and /metrics beside the routes', async () => {
    const get = async (p: string) => {
      const res = await fetch(`${service.ops.url}${p}`);
      return { status: res.status, body: await res.text() };
    };
    expect(await get('/livez')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ok\n' });
    expect((await get('/metrics')).body).toMatch(/^ferry_db_pool_connections\{state="idle"\}/m);
  });
});

describe('council routes [json files]', () => {
  let dir: string;
  let server: http.Server;
  let store: JsonCouncilStorage;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'council-serve-json-'));
    store = new JsonCouncilStorage(dir);
    server = http.createServer(councilApp(store, { now: () => NOW }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  routes(
    () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    () => store,
  );
});
