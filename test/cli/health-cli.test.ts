/**
 * `ferry health`: the readiness checks from a shell, exit 0 when ready (also
 * degraded), 1 when not; `--json` for scripts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, adminUrl } from '../support/admin.js';
import { closedPort } from '../support/redis-proxy.js';
import { startRedisCluster } from '../support/redis-server.js';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const dbName = `ferry_health_cli_${process.pid}`;
const url = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
const project = mkdtempSync(join(tmpdir(), 'ferry-health-cli-'));

beforeAll(async () => {
  await adminQuery(`drop database if exists ${dbName}`);
  await adminQuery(`create database ${dbName}`);
  const m = join(project, 'migrations', '20240101000000_a');
  mkdirSync(m, { recursive: true });
  writeFileSync(join(m, 'up.sql'), 'create table health_cli (id int);\n');
  writeFileSync(join(m, 'down.sql'), 'drop table health_cli;\n');
  writeFileSync(join(project, 'ferry.config.ts'), 'export default {};\n');
});
afterAll(async () => {
  rmSync(project, { recursive: true, force: true });
  await adminQuery(`drop database if exists ${dbName} with (force)`);
});

function ferry(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: project,
    env: { ...process.env, DATABASE_URL: url, REDIS_URL: undefined },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('ferry health', () => {
  it('exit 1 with a migration pending, 0 once applied; one line per check; --json', { timeout: 120_000 }, () => {
    const pending = ferry(['health']);
    expect(pending.code, pending.err).toBe(1);
    expect(pending.out).toContain('[+]postgres ok');
    expect(pending.out).toContain('[-]migrations failed: 1 pending (20240101000000_a)');
    expect(pending.out.trim().split('\n').at(-1)).toBe('not ready');

    expect(ferry(['migrate', 'up']).code).toBe(0);
    const ready = ferry(['health', '--json']);
    expect(ready.code, ready.err).toBe(0);
    const report = JSON.parse(ready.out);
    expect(report).toMatchObject({ ok: true, status: 'ok', ready: true });
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual(['postgres', 'pool', 'migrations']);
  });

  it('a Redis that does not answer is degraded, exit 0; the database unreachable is exit 1', async () => {
    const port = await closedPort();
    const degraded = ferry(['health', '--redis', `redis://127.0.0.1:${port}`, '--timeout', '500ms']);
    expect(degraded.code, degraded.err).toBe(0);
    expect(degraded.out).toMatch(/\[-\]redis degraded: not connected/);
    expect(degraded.out.trim().split('\n').at(-1)).toBe('ready (degraded)');

    const down = ferry(['health', '--url', `postgres://postgres:s3cr3t-s3cr3t-s3cr3t@127.0.0.1:${port}/x`, '--json']);
    expect(down.code).toBe(1);
    const out = JSON.parse(down.out);
    expect(out).toMatchObject({ ok: false, error: { code: 'E_CONNECT' } });
    expect(down.out + down.err).not.toContain('s3cr3t');
  });

  it('a Redis Cluster (redis+cluster://) is checked through the cluster client', { timeout: 120_000 }, async () => {
    const cluster = await startRedisCluster();
    try {
      const r = ferry(['health', '--redis', cluster.url, '--json']);
      const report = JSON.parse(r.out);
      expect(
        report.checks.find((c: { name: string }) => c.name === 'redis'),
        r.out + r.err,
      ).toMatchObject({
        status: 'ok',
      });
    } finally {
      await cluster.stop();
    }
  });

  it('--help names the checks and the exit codes', () => {
    const help = ferry(['health', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/exit 0 when ready/);
    expect(help.out).toMatch(/--redis <url>/);
  });
});
