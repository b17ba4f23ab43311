/**
 * ChatCore over HTTP (serve.ts) on both backends with the shared Redis: the
 * auth routes, ask, messages, the 429 with Retry-After, and /livez, /readyz,
 * /metrics beside them, then a graceful stop.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeEachBackend } from '../../../test/support/backends.js';
import { type ChatCoreService, serveChatCore } from '../serve.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

describeEachBackend('chatcore service over HTTP', (t) => {
  let service: ChatCoreService;
  const namespace = `chatcore-srv-${randomBytes(4).toString('hex')}`;
  const userIds: string[] = [];
  beforeAll(async () => {
    service = await serveChatCore({
      url: t.url(),
      redis: REDIS_URL,
      namespace,
      secret: 'serve-test-secret',
      requestsPerMinute: 4,
      log: () => {},
    });
  });
  afterAll(async () => {
    await service?.ferry.shutdown();
    const r = new Redis(REDIS_URL);
    for (const pattern of [`${namespace}~*`, ...userIds.flatMap((id) => [`sess:{${id}}*`, `rate:${id}:*`])]) {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await r.unlink(...keys);
      } while (cursor !== '0');
    }
    await r.quit();
  });

  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(`${service.ops.url}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };

  it('register, login, me, ask (cached the second time), messages, rate limit, refresh, logout', async () => {
    const reg = await call('POST', '/auth/register', { username: 'Kim', password: 'pw-kim' });
    expect(reg).toMatchObject({ status: 201, body: { username: 'kim', role: 'user' } });
    userIds.push(reg.body.id);
    expect((await call('POST', '/auth/register', { username: 'KIM', password: 'pw-kim' })).status).toBe(409);
    expect((await call('POST', '/auth/login', { username: 'kim', password: 'no' })).status).toBe(401);
    expect((await call('POST', '/auth/login', 'not an object')).status).toBe(400);
    const login = await call('POST', '/auth/login', { username: 'KIM', password: 'pw-kim' });
    expect(login).toMatchObject({ status: 200, body: { token_type: 'bearer', expires_in: 900 } });
    const { access_token: access, refresh_token: refresh } = login.body;

    expect(await call('GET', '/auth/me', undefined, access)).toMatchObject({ status: 200, body: { username: 'kim' } });
    expect((await call('GET', '/auth/me')).status).toBe(401);

    const a1 = await call('POST', '/ask', { prompt: 'What is in the handbook?' }, access);
    expect(a1).toMatchObject({ status: 200, body: { cached: false } });
    const a2 = await call(
      'POST',
      '/ask',
      { prompt: 'What is in the handbook?', conversation_id: a1.body.conversation_id },
      access,
    );
    expect(a2.body).toEqual({ ...a1.body, cached: true });
    const posted = await call(
      'POST',
      '/messages',
      { content: 'thanks', conversation_id: a1.body.conversation_id },
      access,
    );
    expect(posted).toMatchObject({ status: 201, body: { role: 'user', content: 'thanks', position: 5 } });
    const list = await call('GET', `/messages?conversation_id=${a1.body.conversation_id}`, undefined, access);
    expect(list.body.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect((await call('GET', '/conversations', undefined, access)).body.rows).toHaveLength(1);
    expect((await call('GET', '/messages?conversation_id=nope', undefined, access)).status).toBe(404);

    expect((await call('POST', '/messages', { content: 'the 4th' }, access)).status).toBe(201); // 4 per minute
    const limited = await call('POST', '/messages', { content: 'the 5th' }, access);
    expect(limited).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);

    const renewed = await call('POST', '/auth/refresh', { refresh_token: refresh });
    expect(renewed.status).toBe(200);
    expect((await call('GET', '/auth/me', undefined, access)).status).toBe(401);
    expect((await call('POST', '/auth/refresh', { refresh_token: 'x'.repeat(43) })).status).toBe(401);
    const logout = await call(
      'POST',
      '/auth/logout',
      { refresh_token: renewed.body.refresh_token },
      renewed.body.access_token,
    );
    expect(logout.status).toBe(204);
    expect((await call('GET', '/auth/me', undefined, renewed.body.access_token)).status).toBe(401);
    expect((await call('POST', '/auth/refresh', { refresh_token: renewed.body.refresh_token })).status).toBe(401);
    expect((await call('GET', '/nowhere')).status).toBe(404);
  });

  it('serves /livez, /readyz with every check and /metrics; then stops gracefully', async () => {
    const get = async (path: string) => {
      const res = await fetch(`${service.ops.url}${path}`);
      return { status: res.status, body: await res.text() };
    };
    expect(await get('/livez')).toEqual({ status: 200, body: 'ok\n' });
    await vi.waitFor(async () => {
      const ready = await get('/readyz?verbose');
      expect(ready.status).toBe(200);
      for (const check of [service.ferry.backend, 'pool', 'migrations', 'cache', 'sessions']) {
        expect(ready.body).toMatch(new RegExp(`^\\[\\+\\]${check} ok`, 'm'));
      }
    });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^ferry_rate_limit_decisions_total\{[^}]*\} [1-9]/m);
    expect(metrics.body).toMatch(/^ferry_cache_requests_total\{/m);

    const stopping = service.ferry.shutdown({ delay: 300, servers: [service.ops.server] });
    expect((await get('/readyz')).status).toBe(503);
    expect(await stopping).toMatchObject({ drained: true, errors: [] });
    await expect(get('/livez')).rejects.toThrow();
  });
});
