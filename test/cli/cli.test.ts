import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const helloBot = new URL('../../examples/hello-bot/', import.meta.url).pathname;
const pgUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const backends = (process.env.FERRY_TEST_BACKENDS ?? 'pglite,postgres').split(',');
const scratch = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function ferry(args: string[], env: Record<string, string | undefined> = {}, cwd = scratch) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: join(scratch, 'data'), ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, all: result.stdout + result.stderr };
}

describe('ferry CLI', () => {
  it('--help lists the commands and --version prints the version', () => {
    const help = ferry(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/db\s/);
    expect(help.stdout).toMatch(/schema\s/);
    expect(ferry(['db', 'status', '--help']).stdout).toMatch(/--json/);
    const version = ferry(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('an unknown command is a usage error (exit 2)', () => {
    const r = ferry(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
  });

  it('db status on the embedded default needs no server', () => {
    const r = ferry(['db', 'status', '--json']);
    expect(r.code, r.all).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, backend: 'pglite', serverVersion: expect.stringMatching(/^1[5-9]/) });
    expect(report.url).toBe(`pglite:${join(scratch, 'data')}`);
  });

  it.skipIf(!backends.includes('postgres'))(
    'db status with a SQLAlchemy URL reports postgres and never prints the password',
    () => {
      const url = new URL(pgUrl);
      url.protocol = 'postgresql+asyncpg:';
      url.password = 's3cret';
      const r = ferry(['db', 'status', '--json'], { DATABASE_URL: url.href });
      expect(r.code, r.all).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        ok: true,
        backend: 'postgres',
        url: expect.stringContaining('****'),
      });
      expect(r.all).not.toContain('s3cret');
      const text = ferry(['db', 'status'], { DATABASE_URL: url.href });
      expect(text.stdout).toMatch(/backend\s+postgres/);
      expect(text.all).not.toContain('s3cret');
    },
  );

  it('db status exits 1 with a clear message when the server is unreachable, password redacted', () => {
    const url = 'postgres://bob:hunter2secret@127.0.0.1:1/app';
    for (const args of [
      ['db', 'status'],
      ['db', 'status', '--json'],
      ['db', 'status', '--url', url],
    ]) {
      const r = ferry(args, { DATABASE_URL: url, FERRY_DEBUG: '1' });
      expect(r.code, r.all).toBe(1);
      expect(r.all).toMatch(/127\.0\.0\.1:1/);
      expect(r.all).not.toContain('hunter2secret');
    }
  });

  describe('an unreachable server: the message stays readable and only the password field is masked', () => {
    // Seed 004's own default, a 1-character password that occurs in the host
    // name and in words, raw ':' and '@', and percent-encoded ones.
    const passwords = ['postgres', 'a', '1', ':', '@', '%40', 'p%40ss%2Fw%23rd%20x'];
    it.each(passwords)('password %s', (password) => {
      const url = `postgresql://postgres:${password}@127.0.0.1:1/x`;
      const shown = 'postgresql://postgres:****@127.0.0.1:1/x';
      const readable = `Cannot connect to PostgreSQL at ${shown}: connection refused by 127.0.0.1:1. Is PostgreSQL running, and listening on that host and port?`;
      const text = ferry(['db', 'status'], { DATABASE_URL: url, FERRY_DEBUG: '1' });
      expect(text.code, text.all).toBe(1);
      expect(text.stderr).toContain(`ferry: ${readable} [E_CONNECT]`);
      expect(text.all).not.toContain(url);
      const json = ferry(['db', 'status', '--json'], { DATABASE_URL: url });
      expect(json.code, json.all).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual({ ok: false, error: { code: 'E_CONNECT', message: readable } });
    });
  });

  it.skipIf(!backends.includes('postgres'))(
    '?sslmode=require on a server without SSL: one readable error, no SECURITY WARNING from the driver',
    () => {
      const url = new URL(pgUrl);
      url.searchParams.set('sslmode', 'require');
      const r = ferry(['db', 'status'], { DATABASE_URL: url.href });
      expect(r.code, r.all).toBe(1);
      expect(r.stderr).toMatch(/does not accept SSL connections\. Use sslmode=prefer or sslmode=disable/);
      expect(r.all).not.toMatch(/WARNING|Warning/);
    },
  );

  it('a reader that leaves early (ferry db status | head -1) ends the run quietly: exit 0, no stack', async () => {
    // Closing our end of stdout before the CLI writes anything makes every one of its writes fail with EPIPE.
    const child = spawn(process.execPath, [bin, 'db', 'status'], {
      cwd: scratch,
      env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: join(scratch, 'data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const [code] = await once(child, 'close');
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(code, stderr).toBe(0);
  }, 60_000);

  it('a malformed URL is an error naming the accepted forms', () => {
    const r = ferry(['db', 'status'], { DATABASE_URL: 'mysql://root:pw123456@localhost/db' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/postgres(ql)?:\/\//);
    expect(r.stderr).toMatch(/pglite:/);
    expect(r.all).not.toContain('pw123456');
  });

  it('schema sql prints the DDL of the configured schema module, found by walking up', () => {
    const r = ferry(['schema', 'sql'], {}, join(helloBot, 'test'));
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('CREATE TABLE users');
    expect(r.stdout).toContain('CREATE INDEX ix_user_active_created ON users (is_active, created_at)');
    const json = ferry(['schema', 'sql', '--json', '--config', join(helloBot, 'ferry.config.ts')]);
    expect(JSON.parse(json.stdout).tables[0].name).toBe('users');
  });

  it('a missing config file is a clear error (exit 2)', () => {
    const r = ferry(['--config', 'nope.config.ts', 'schema', 'sql']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.config\.ts does not exist/);
  });
});
