/**
 * `npx tsx examples/vin-bot/demo.ts` with no server at all: no DATABASE_URL
 * (the embedded PGlite, in a folder of the test's own) and no REDIS_URL (the
 * in-process cache, the in-memory rate limiter, sessions in the database).
 * It prints what happened, and runs again on the same data.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const demo = new URL('../demo.ts', import.meta.url).pathname;
const root = new URL('../../..', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'vinbot-demo-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runDemo() {
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_DATA_DIR: join(scratch, 'pglite') };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'REDIS_TLS_CA', 'REDIS_TLS_REJECT_UNAUTHORIZED']) delete env[name];
  const r = spawnSync(process.execPath, ['--import', 'tsx', demo], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

it('runs on the embedded database without Redis, prints each step, and runs again', { timeout: 240_000 }, () => {
  for (const run of [1, 2]) {
    const { code, out, err } = runDemo();
    expect(code, `run ${run}: ${err}`).toBe(0);
    expect(out).toContain(`INFO | vin-bot: pglite at pglite:${join(scratch, 'pglite')}; cache: L1 only`);
    expect(out).toContain(`INFO | migrations: ${run === 1 ? 2 : 0} applied`);
    expect(out).toMatch(/1HGBH41JXMN109186: 1991 Honda CR-V from decoder in/);
    expect(out).toMatch(/1HGBH41JXMN109186: 1991 Honda CR-V from cache in/);
    expect(out).toMatch(/WBADT43493G095554: 2003 BMW 3 Series from postgres in/);
    expect(out).toContain('WBADT43493G095554: rate_limited');
    expect(out).toContain('INFO | session: 4 lookups, last VIN WBADT43493G095554');
    expect(out).toContain('INFO | session ended: gone');
    expect(out).toMatch(/decoder calls: 2$/m);
    expect(out).not.toMatch(/WARNING|Redis not reachable/);
  }
});
