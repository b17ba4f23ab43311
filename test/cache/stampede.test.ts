import { afterAll, describe, expect, it } from 'vitest';
import { createCache } from '../../src/cache/index.js';
import { ChildCache } from './support/child-handle.js';
import { autoCleanup, makeCache, REDIS_URL, sleep, uniqueNamespace } from './support/redis.js';

autoCleanup();

function stampede(cache: ReturnType<typeof createCache>, key: string, n: number, counter: { calls: number }) {
  return Promise.all(
    Array.from({ length: n }, () =>
      cache.getOrSet(key, async () => {
        counter.calls++;
        await sleep(50);
        return { loaded: key };
      }),
    ),
  );
}

describe('stampede', () => {
  it('1,000 concurrent misses on one key: one loader call (L1 only)', async () => {
    const c = createCache({ namespace: uniqueNamespace(), redis: null });
    const counter = { calls: 0 };
    const values = await stampede(c, 'k', 1_000, counter);
    expect(counter.calls).toBe(1);
    expect(new Set(values).size).toBe(1);
    expect(c.stats().loader.coalesced).toBe(999);
    await c.close();
  });

  it('1,000 concurrent misses on one key: one loader call (with Redis)', async () => {
    const c = await makeCache({ namespace: uniqueNamespace() });
    await c.ready();
    const counter = { calls: 0 };
    const values = await stampede(c, 'k', 1_000, counter);
    expect(counter.calls).toBe(1);
    expect(values.every((v) => (v as { loaded: string }).loaded === 'k')).toBe(true);
    // Loader failure: all callers see it, and the next miss loads again (once).
    let fails = 0;
    const errs = await Promise.allSettled(
      Array.from({ length: 1_000 }, () =>
        c.getOrSet('bad', async () => {
          fails++;
          await sleep(20);
          throw new Error('nope');
        }),
      ),
    );
    expect(fails).toBe(1);
    expect(errs.every((e) => e.status === 'rejected')).toBe(true);
  });

  describe('two instances and a second process sharing Redis', () => {
    let child: ChildCache | undefined;
    afterAll(() => child?.exit());

    it('each process calls the loader at most once', async () => {
      const ns = uniqueNamespace();
      const a = await makeCache({ namespace: ns });
      const b = await makeCache({ namespace: ns });
      child = new ChildCache(REDIS_URL, ns);
      expect(await child.call('ready')).toBe(true);
      await Promise.all([a.ready(), b.ready()]);
      const ca = { calls: 0 };
      const cb = { calls: 0 };
      const [va, vb, vc] = await Promise.all([
        stampede(a, 'k', 1_000, ca),
        stampede(b, 'k', 1_000, cb),
        child.call<{ calls: number; distinct: string[] }>('stampede', { key: 'k', n: 1_000, value: { loaded: 'k' } }),
      ]);
      expect(ca.calls).toBeLessThanOrEqual(1);
      expect(cb.calls).toBeLessThanOrEqual(1);
      expect(vc.calls).toBeLessThanOrEqual(1);
      expect(ca.calls + cb.calls + vc.calls).toBeGreaterThanOrEqual(1);
      expect(vc.distinct).toEqual([JSON.stringify({ loaded: 'k' })]);
      expect(new Set([...va, ...vb].map((v) => JSON.stringify(v)))).toEqual(new Set([JSON.stringify({ loaded: 'k' })]));
      console.log(
        `stampede across 3 instances x 1,000 callers: loader calls a=${ca.calls} b=${cb.calls} child process=${vc.calls}`,
      );
      // A later instance finds the value in Redis and loads nothing.
      const late = { calls: 0 };
      await stampede(a, 'k', 10, late);
      expect(late.calls).toBe(0);
    });
  });
});
