/**
 * Hello Bot as a service (issue 14): /hello registers visits, /livez,
 * /readyz and /metrics beside it, a graceful stop.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend } from '../../../test/support/backends.js';
import { type HelloBotService, serveHelloBot } from '../serve.js';

describeEachBackend('hello-bot service: ops endpoints', (t) => {
  let service: HelloBotService;
  beforeAll(async () => {
    service = await serveHelloBot({ url: t.url() });
  });
  afterAll(() => service?.ferry.shutdown());

  const get = async (path: string) => {
    const res = await fetch(`${service.ops.url}${path}`);
    return { status: res.status, body: await res.text() };
  };

  it('greets, is live and ready, and /metrics counts the repository calls by table', async () => {
    expect(await get('/hello?id=5001&first_name=Ann')).toEqual({ status: 200, body: 'Hello, Ann!\n' });
    expect(await get('/hello?id=5001&first_name=Ann')).toEqual({ status: 200, body: 'Welcome back, Ann!\n' });
    expect((await get('/hello')).status).toBe(400);
    expect(await get('/livez')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ok\n' });
    const metrics = await get('/metrics');
    expect(metrics.body).toMatch(/^ferry_db_query_duration_seconds_count\{[^}]*table="users"[^}]*\} [1-9]/m);
    expect(metrics.body).toMatch(/^ferry_db_pool_connections\{state="idle"\}/m);
  });

  it('shutdown stops the server and closes the pool', async () => {
    const report = await service.ferry.shutdown({ servers: [service.ops.server] });
    expect(report).toMatchObject({ drained: true, errors: [] });
    await expect(get('/livez')).rejects.toThrow();
    await expect(service.ferry.ping()).rejects.toMatchObject({ code: 'E_CLOSED' });
  });
});
