import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeEachBackend } from '../support/backends.js';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const src = new URL('../../src/index.js', import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), 'ferry-migrate-cli-'));
const projects = [project];
afterAll(() => {
  for (const p of projects) rmSync(p, { recursive: true, force: true });
});

const schemaV1 = `import { bigint, serial, table, text } from ${JSON.stringify(src)};
export const users = table('users', { id: serial().primaryKey(), telegram_id: bigint().notNull().unique(), name: text() });
`;
const schemaV2 = schemaV1.replace('name: text() }', 'name: text(), email: text() }');

function ferry(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: project,
    env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: join(project, 'data') },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('ferry migrate (embedded database)', () => {
  it('new, up, status, check, drift, down, history', { timeout: 240_000 }, () => {
    writeFileSync(
      join(project, 'ferry.config.ts'),
      `export default { schema: './schema.ts', migrations: './migrations' };\n`,
    );
    writeFileSync(join(project, 'schema.ts'), schemaV1);

    expect(ferry('migrate', '--help').out).toMatch(/new[\s\S]*up[\s\S]*down[\s\S]*status[\s\S]*history[\s\S]*check/);
    const created = ferry('migrate', 'new', 'initial');
    expect(created.code, created.err).toBe(0);
    expect(created.out).toMatch(/\+ create table users/);

    const up = ferry('migrate', 'up', '--json');
    expect(up.code, up.err).toBe(0);
    expect(JSON.parse(up.out).results).toHaveLength(1);

    const status = JSON.parse(ferry('migrate', 'status', '--json').out);
    expect(status.pending).toEqual([]);
    expect(status.current).toMatch(/_initial$/);
    expect(ferry('migrate', 'check').code).toBe(0);

    // The model changes but no migration was written: drift, exit 1.
    writeFileSync(join(project, 'schema.ts'), schemaV2);
    const drift = ferry('migrate', 'check', '--json');
    expect(drift.code).toBe(1);
    expect(JSON.parse(drift.out).drift.join('\n')).toMatch(/add column users\.email/);

    expect(ferry('migrate', 'new', 'add_email').code).toBe(0);
    expect(ferry('migrate', 'check').code).toBe(1); // pending
    expect(ferry('migrate', 'up').code).toBe(0);
    expect(ferry('migrate', 'check').code).toBe(0);

    // An applied file edited afterwards is drift too.
    const id = JSON.parse(ferry('migrate', 'status', '--json').out).current as string;
    const upFile = join(project, 'migrations', id, 'up.sql');
    const original = readFileSync(upFile, 'utf8');
    writeFileSync(upFile, `${original}\n-- edited\nselect 1;\n`);
    const edited = ferry('migrate', 'check');
    expect(edited.code).toBe(1);
    expect(edited.out).toMatch(/checksum/i);
    writeFileSync(upFile, original);

    // Lint: generated migrations are clean; a hand-written blocking index is an error.
    expect(ferry('migrate', 'lint').code).toBe(0);
    const blank = ferry('migrate', 'new', 'hand_index', '--empty', '--json');
    const blankDir = JSON.parse(blank.out).written[0] as string;
    writeFileSync(join(project, blankDir, 'up.sql'), 'CREATE INDEX users_name_idx ON users (name);\n');
    const lint = ferry('migrate', 'lint', '--json');
    expect(lint.code).toBe(1);
    expect(JSON.parse(lint.out).findings[0]).toMatchObject({ rule: 'require-concurrent-index-creation', line: 1 });
    rmSync(join(project, blankDir), { recursive: true });

    const down = ferry('migrate', 'down');
    expect(down.code, down.err).toBe(0);
    expect(down.out).toMatch(/reverted/);
    const history = JSON.parse(ferry('migrate', 'history', '--json').out);
    expect(history.map((h: { id: string }) => h.id)).toHaveLength(1);

    // Baseline refuses to record migrations the database does not match (email column missing).
    const baseline = ferry('migrate', 'baseline');
    expect(baseline.code).toBe(1);
    expect(baseline.err).toMatch(/mismatch: .*email/);
    expect(JSON.parse(ferry('migrate', 'status', '--json').out).pending).toHaveLength(1);
  });

  it('bad usage is exit 2', () => {
    expect(ferry('migrate', 'down', '--bogus').code).toBe(2);
  });
});

/** A fresh project (config, schema, empty migrations folder) and a `ferry` runner in it. */
function newProject(schema: string, env: Record<string, string | undefined> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-migrate-cli-'));
  projects.push(dir);
  writeFileSync(
    join(dir, 'ferry.config.ts'),
    `export default { schema: './schema.ts', migrations: './migrations' };\n`,
  );
  writeFileSync(join(dir, 'schema.ts'), schema);
  mkdirSync(join(dir, 'migrations'));
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: join(dir, 'data'), ...env },
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const migrations = () => readdirSync(join(dir, 'migrations')).sort();
  return { dir, run, migrations };
}

describe('ferry migrate new refuses what its own linter marks as an error', () => {
  it('NOT NULL without a default on a table an earlier migration created: exit 1, nothing written; --force writes it', {
    timeout: 240_000,
  }, () => {
    const p = newProject(schemaV1);
    expect(p.run('migrate', 'new', 'initial').code).toBe(0);
    expect(p.migrations()).toHaveLength(1);

    writeFileSync(
      join(p.dir, 'schema.ts'),
      schemaV1.replace('name: text() }', 'name: text(), email: text().notNull() }'),
    );
    const refused = p.run('migrate', 'new', 'add_email');
    expect(refused.code, refused.err).toBe(1);
    expect(refused.out).toMatch(/^error\s+adding-not-nullable-field .*_add_email\/up\.sql:\d+\n.*email/m);
    expect(refused.err).toMatch(/nothing written.*--force/);
    expect(p.migrations()).toHaveLength(1);

    const json = p.run('migrate', 'new', 'add_email', '--json');
    expect(json.code).toBe(1);
    const report = JSON.parse(json.out);
    expect(report).toMatchObject({ ok: false, refused: true, written: [] });
    expect(report.lint.map((f: { rule: string; severity: string }) => [f.rule, f.severity])).toContainEqual([
      'adding-not-nullable-field',
      'error',
    ]);
    expect(p.migrations()).toHaveLength(1);

    const forced = p.run('migrate', 'new', 'add_email', '--force');
    expect(forced.code, forced.err).toBe(0);
    expect(forced.out).toMatch(/wrote .*_add_email\/\{up,down\}\.sql/);
    expect(forced.out).toMatch(/^error\s+adding-not-nullable-field/m);
    expect(p.migrations()).toHaveLength(2);
    expect(p.run('migrate', 'lint').code).toBe(1);
  });
});

describeEachBackend('ferry migrate: empty files and repair --forget', (t) => {
  it('empty up/down refused (exit 1) until marked; repair --forget drops a lost migration', {
    timeout: 300_000,
  }, () => {
    const p = newProject(schemaV1, { DATABASE_URL: t.url() });
    const M1 = '20240101000000_create_items';
    mkdirSync(join(p.dir, 'migrations', M1));
    writeFileSync(join(p.dir, 'migrations', M1, 'up.sql'), 'create table items (id int primary key);\n');
    writeFileSync(join(p.dir, 'migrations', M1, 'down.sql'), 'drop table items;\n');

    // The blank template of --empty is refused until it is filled in or marked.
    const blank = p.run('migrate', 'new', 'fill_prices', '--empty', '--json');
    expect(blank.code, blank.err).toBe(0);
    const M2 = (JSON.parse(blank.out).written[0] as string).split('/').pop()!;
    const m2up = join(p.dir, 'migrations', M2, 'up.sql');
    expect(readFileSync(m2up, 'utf8')).toMatch(/-- ferry:empty/); // the template says how
    const up = p.run('migrate', 'up');
    expect(up.code, up.err).toBe(1);
    expect(up.err).toContain(m2up);
    expect(up.err).toMatch(/no SQL.*-- ferry:empty.*\[E_MIGRATION_EMPTY\]/s);
    expect(JSON.parse(p.run('migrate', 'status', '--json').out).applied).toEqual([]);

    writeFileSync(m2up, `${readFileSync(m2up, 'utf8')}-- ferry:empty\n`);
    const up2 = p.run('migrate', 'up', '--json');
    expect(up2.code, up2.err).toBe(0);
    expect(JSON.parse(up2.out).results.map((r: { id: string }) => r.id)).toEqual([M1, M2]);
    const down = p.run('migrate', 'down');
    expect(down.code).toBe(1);
    expect(down.err).toContain(join(p.dir, 'migrations', M2, 'down.sql'));

    // The folder of an applied migration disappears: every run is blocked until it is forgotten.
    rmSync(join(p.dir, 'migrations', M2), { recursive: true });
    expect(p.run('migrate', 'status').code).toBe(1);
    const help = p.run('migrate', 'repair', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--forget <id>[\s\S]*--yes[\s\S]*--force[\s\S]*--json/);

    const noYes = p.run('migrate', 'repair', '--forget', M2);
    expect(noYes.code).toBe(2);
    expect(noYes.err).toMatch(/pass --yes/);
    const onDisk = p.run('migrate', 'repair', '--forget', M1, '--yes');
    expect(onDisk.code).toBe(1);
    expect(onDisk.err).toMatch(new RegExp(`${M1} still exists.*--force`));
    const unknown = p.run('migrate', 'repair', '--forget', '20990101000000_nope', '--yes');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/20990101000000_nope is not in ferry_migrations/);
    expect(JSON.parse(p.run('migrate', 'status', '--json').out).applied).toEqual([M1, M2]);

    const forgot = p.run('migrate', 'repair', '--forget', M2, '--yes', '--json');
    expect(forgot.code, forgot.err).toBe(0);
    expect(JSON.parse(forgot.out)).toMatchObject({ ok: true, removed: { id: M2 } });
    const status = p.run('migrate', 'status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ current: M1, applied: [M1], pending: [], problems: [] });
    expect(existsSync(join(p.dir, 'migrations', M1))).toBe(true);
  });
});

// util-linux `script` runs the CLI on a pseudo-terminal, so the confirmation question is asked for real.
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe('ferry migrate repair --forget on a terminal', () => {
  it.skipIf(!hasScript)('asks first: n keeps the row (exit 1), y removes it', { timeout: 240_000 }, () => {
    const p = newProject('export {};\n');
    const id = '20240101000000_lost';
    mkdirSync(join(p.dir, 'migrations', id));
    writeFileSync(join(p.dir, 'migrations', id, 'up.sql'), 'create table lost (id int);\n');
    expect(p.run('migrate', 'up').code).toBe(0);
    rmSync(join(p.dir, 'migrations', id), { recursive: true });

    const onTty = (answer: string) => {
      const r = spawnSync(
        'script',
        ['-qec', `"${process.execPath}" "${bin}" migrate repair --forget ${id}`, '/dev/null'],
        {
          cwd: p.dir,
          env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: join(p.dir, 'data') },
          input: `${answer}\n`,
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      return { code: r.status, out: r.stdout };
    };
    const no = onTty('n');
    expect(no.out).toMatch(new RegExp(`Remove ${id} \\(applied .* by .*\\) from the migration history\\? \\[y/N\\]`));
    expect(no.code).toBe(1);
    expect(no.out).toMatch(/nothing removed/);
    expect(JSON.parse(p.run('migrate', 'status', '--json').out).applied).toEqual([id]);

    const yes = onTty('y');
    expect(yes.code, yes.out).toBe(0);
    expect(yes.out).toMatch(new RegExp(`removed {2}${id}`));
    expect(JSON.parse(p.run('migrate', 'status', '--json').out)).toMatchObject({ applied: [], problems: [] });
  });
});
