/**
 * The load generator: its percentiles, its seeded mix, the concurrency bound
 * and the failure count (against a small local server that counts what it
 * receives and fails the requests told to), then a short run against the
 * comps service itself on Postgres and Redis with no failure.
 */

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, type ProvisionedDatabase } from '../../../test/support/backends.js';
import { latencySummary, percentile, REQUEST_KINDS, requestPlan, runLoad } from '../loadgen.js';
import { type CompsService, serveComps } from '../serve.js';
import { createUpstream } from '../upstream.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

describe('loadgen', () => {
  it('percentiles are nearest-rank over the sorted latencies', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBe(0);
    const shuffled = [...hundred].reverse().map((ms, i) => ({ ms, ok: i % 10 !== 0 }));
    expect(latencySummary(shuffled)).toEqual({ requests: 100, failed: 10, p50: 50, p99: 99, max: 100 });
  });

  it('the plan is seeded and follows the mix (a zero weight is never drawn)', () => {
    const take = (seed: number, n: number, mix = {}) => {
      const plan = requestPlan({ seed, mix });
      return Array.from({ length: n }, () => plan.next().value);
    };
    expect(take(7, 50)).toEqual(take(7, 50));
    expect(take(7, 50)).not.toEqual(take(8, 50));
    const drawn = take(3, 2000, { comps: 3, active: 1, analytics: 0, export: 0 });
    const count = (k: string) => drawn.filter((r) => r.kind === k).length;
    expect(count('analytics') + count('export')).toBe(0);
    expect(count('comps')).toBeGreaterThan(count('active') * 2);
    expect(drawn.every((r) => r.path.startsWith(`/${r.kind}?q=`))).toBe(true);
  });

  it('never has more than `concurrency` requests in flight, and counts failures per kind', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const received: Record<string, number> = {};
    const server = http.createServer((req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const kind = (req.url ?? '').split(/[/?.]/)[1] as string;
      received[kind] = (received[kind] ?? 0) + 1;
      setTimeout(() => {
        inFlight--;
        // Analytics fails with a 500; exports die mid-body (the connection is cut after the head).
        if (kind === 'analytics') {
          res.writeHead(500);
          res.end();
        } else if (kind === 'export') {
          res.writeHead(200, { 'content-length': '100' });
          res.write('partial');
          // Later than the head, so the response has been handed over before the body breaks.
          setTimeout(() => res.destroy(), 20);
        } else {
          res.end('{}');
        }
      }, 2);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const seen: string[] = [];
      const report = await runLoad({
        baseUrl: `http://127.0.0.1:${port}/`,
        concurrency: 5,
        requests: 300,
        seed: 11,
        onResult: (o) => seen.push(o.kind),
      });
      expect(report.requests).toBe(300);
      expect(seen).toHaveLength(300);
      expect(maxInFlight).toBeLessThanOrEqual(5);
      expect(maxInFlight).toBeGreaterThan(1);
      for (const kind of REQUEST_KINDS) expect(report.byKind[kind].requests).toBe(received[kind] ?? 0);
      expect(report.byKind.analytics.failed).toBe(received.analytics);
      expect(report.byKind.export.failed).toBe(received.export);
      expect(report.byKind.comps.failed + report.byKind.active.failed).toBe(0);
      expect(report.failed).toBe((received.analytics ?? 0) + (received.export ?? 0));
      expect(report.failed).toBeGreaterThan(0);
      expect(report.errors.length).toBe(Math.min(10, report.failed));
      expect(report.p50).toBeLessThanOrEqual(report.p99);
    } finally {
      server.close();
    }
  });
});

describe('loadgen against the comps service', () => {
  let db: ProvisionedDatabase;
  let service: CompsService;
  beforeAll(async () => {
    db = await freshPostgresDatabase();
    service = await serveComps({
      url: db.url,
      redis: REDIS_URL,
      namespace: `compsload${randomBytes(4).toString('hex')}`,
      upstream: createUpstream({ delayMs: 5 }),
    });
  });
  afterAll(async () => {
    await service?.ferry.shutdown();
    await db?.cleanup();
  });

  it('serves a mixed load with no failure', async () => {
    const report = await runLoad({ baseUrl: service.ops.url, concurrency: 6, requests: 150, seed: 5 });
    expect(report.errors).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.requests).toBe(150);
    for (const kind of REQUEST_KINDS) expect(report.byKind[kind].requests).toBeGreaterThan(0);
    expect(service.comps.upstream.calls).toBeLessThan(report.byKind.comps.requests + report.byKind.active.requests);
  });
});
