/**
 * The embedded database belongs to the project (the config file's folder),
 * not to the shell's folder; options that take numbers are checked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durationMs } from '../../src/cli/numbers.js';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'ferry-project-db-'));
const project = join(scratch, 'app');
const elsewhere = join(scratch, 'elsewhere');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function ferry(args: string[], cwd: string, env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: undefined, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const migrations = ['20240101000000_a', '20240102000000_b', '20240103000000_c'];

beforeAll(() => {
  for (const id of migrations) {
    mkdirSync(join(project, 'db', 'migrations', id), { recursive: true });
    writeFileSync(join(project, 'db', 'migrations', id, 'up.sql'), `create table t_${id.slice(-1)} (id int);\n`);
    writeFileSync(join(project, 'db', 'migrations', id, 'down.sql'), `drop table t_${id.slice(-1)};\n`);
  }
  mkdirSync(join(project, 'src', 'deep'), { recursive: true });
  mkdirSync(elsewhere);
  writeFileSync(join(project, 'ferry.config.ts'), `export default { migrations: './db/migrations' };\n`);
});

describe('the embedded database is found from the project', () => {
  it('migrate up quietly creates <project>/.ferry/pglite; status from a subfolder or with --config sees it', {
    timeout: 240_000,
  }, () => {
    const up = ferry(['migrate', 'up'], project);
    expect(up.code, up.err).toBe(0);
    expect(up.err).not.toMatch(/created a new embedded database/);
    expect(existsSync(join(project, '.ferry', 'pglite', 'PG_VERSION'))).toBe(true);

    const fromSub = ferry(['migrate', 'status', '--json'], join(project, 'src', 'deep'));
    expect(fromSub.code, fromSub.err).toBe(0);
    expect(JSON.parse(fromSub.out)).toMatchObject({ applied: migrations, pending: [] });
    expect(fromSub.err).toBe('');
    expect(existsSync(join(project, 'src', 'deep', '.ferry'))).toBe(false);

    const withConfig = ferry(['--config', '../app/ferry.config.ts', 'migrate', 'status', '--json'], elsewhere);
    expect(withConfig.code, withConfig.err).toBe(0);
    expect(JSON.parse(withConfig.out)).toMatchObject({ applied: migrations, pending: [] });
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('any other command that finds no embedded database says it created one, on stderr', { timeout: 120_000 }, () => {
    const dataDir = join(scratch, 'fresh-db');
    const first = ferry(['db', 'status', '--json'], elsewhere, { FERRY_DATA_DIR: dataDir });
    expect(first.code, first.err).toBe(0);
    expect(first.err).toBe(`ferry: created a new embedded database at ${dataDir}\n`);
    expect(JSON.parse(first.out)).toMatchObject({ ok: true, url: `pglite:${dataDir}` });
    const again = ferry(['db', 'status', '--json'], elsewhere, { FERRY_DATA_DIR: dataDir });
    expect(again.code, again.err).toBe(0);
    expect(again.err).toBe('');
  });

  it('pglite:<dir> whose parent folder does not exist fails clearly and creates nothing', () => {
    const missing = join(scratch, 'no-such-folder');
    const r = ferry(['migrate', 'status'], project, { DATABASE_URL: `pglite:${missing}/x` });
    expect(r.code).toBe(2);
    expect(r.err).toContain(`the folder ${missing} does not exist`);
    expect(r.err).toMatch(/fix DATABASE_URL\. \[E_CONNECT\]/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(missing)).toBe(false);
    const viaEnv = ferry(['db', 'status'], project, { FERRY_DATA_DIR: `${missing}/x` });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.err).toMatch(/fix FERRY_DATA_DIR/);
    expect(existsSync(missing)).toBe(false);
  });
});

describe('numeric options', () => {
  const cases: Array<[args: string[], option: string, value: string, expected: string]> = [
    [['import', 'x.ts', '--batch-size', '0'], '--batch-size', '0', '>= 1'],
    [['import', 'x.ts', '--batch-size', '2.5'], '--batch-size', '2.5', '>= 1'],
    [['import', 'x.ts', '--max-rejects', '-1'], '--max-rejects', '-1', '>= 0'],
    [['import', 'x.ts', '--max-rejects', ''], '--max-rejects', '', '>= 0'],
    [['migrate', 'down', '--steps', 'abc'], '--steps', 'abc', '>= 1'],
    [['migrate', 'down', '--steps', '0'], '--steps', '0', '>= 1'],
    [['migrate', 'down', '--steps', '1e3'], '--steps', '1e3', '>= 1'],
  ];
  for (const [args, option, value, expected] of cases) {
    it(`${args.slice(0, 2).join(' ')} ${option} "${value}" is a usage error (exit 2) naming the option`, () => {
      const r = ferry(args, project);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(`option '${option} <n>' argument '${value}' is invalid`);
      expect(r.err).toContain(`Expected a whole number ${expected}, got "${value}".`);
      expect(r.out).toBe('');
    });
  }
  it('a --statement-timeout is milliseconds or a number with a unit; 0 is none', () => {
    expect([durationMs('0'), durationMs('600000'), durationMs('30s'), durationMs('10m'), durationMs('1.5h')]).toEqual([
      0, 600_000, 30_000, 600_000, 5_400_000,
    ]);
  });
  for (const [command, value] of [
    ['import', '10 minutes'],
    ['verify', '-1s'],
  ] as const) {
    it(`${command} --statement-timeout "${value}" is a usage error (exit 2) naming the option`, () => {
      const r = ferry([command, 'x.ts', '--statement-timeout', value], project);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(`option '--statement-timeout <duration>' argument '${value}' is invalid`);
      expect(r.err).toContain('Expected a duration (milliseconds, or e.g. 30s, 10m, 1h)');
      expect(r.out).toBe('');
    });
  }
});
