import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const src = new URL('../../src/index.js', import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), 'ferry-migrate-cli-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

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
