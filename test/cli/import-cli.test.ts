import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const src = new URL('../../src/index.js', import.meta.url).pathname;
const sources = new URL('../../src/import/index.js', import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), 'ferry-import-cli-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

const schema = `import { integer, table, text, varchar } from ${JSON.stringify(src)};
export const people = table('people', { email: varchar(200).primaryKey(), name: text().notNull(), age: integer() });
`;
const importFile = `import { defineImport, ndjson } from ${JSON.stringify(sources)};
import * as schema from './schema.ts';
export default defineImport({
  schema,
  source: ndjson('./legacy/people.ndjson'),
  tables: { people: { key: ['email'] } },
  map: (p, ctx) => ({ people: { email: ctx.casefold(p.email), name: p.name, age: p.age ?? null } }),
});
`;
const legacy = [
  { email: 'Ann@example.com', name: 'Ann', age: 31 },
  { email: 'bob@example.com', name: 'Bob' },
  { email: 'ANN@example.com', name: 'Ann again' },
  { email: 'cid@example.com', name: 'Cid', age: 'forty' },
  { email: 'dee@example.com', name: 'Dee', age: 52 },
];
const lines = `${legacy.map((l) => JSON.stringify(l)).join('\n')}\n{not json\n`;

function ferry(...args: string[]) {
  return ferryIn(project, ...args);
}
function ferryIn(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: join(project, 'data') },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('ferry import / verify (embedded database)', () => {
  it('dry run, import with backup and rejects, rerun, verify, max rejects', { timeout: 300_000 }, () => {
    writeFileSync(join(project, 'ferry.config.ts'), `export default { schema: './schema.ts' };\n`);
    writeFileSync(join(project, 'schema.ts'), schema);
    writeFileSync(join(project, 'import.ts'), importFile);
    rmSync(join(project, 'legacy'), { recursive: true, force: true });
    spawnSync('mkdir', ['-p', join(project, 'legacy')]);
    const legacyFile = join(project, 'legacy', 'people.ndjson');
    writeFileSync(legacyFile, lines);
    const before = sha(legacyFile);

    const help = ferry('import', '--help');
    expect(help.out).toMatch(/--dry-run[\s\S]*--resume[\s\S]*--restart[\s\S]*--rejects[\s\S]*--max-rejects/);
    expect(help.out).toMatch(/--backup[\s\S]*--batch-size[\s\S]*--json/);
    expect(ferry('verify', '--help').out).toMatch(/exit 1 on any difference/);

    // No schema yet: a clear error that says what to do.
    const early = ferry('import', 'import.ts');
    expect(early.code).toBe(2);
    expect(early.err).toMatch(/no table people.*ferry migrate up/);

    expect(ferry('migrate', 'new', 'initial').code).toBe(0);
    expect(ferry('migrate', 'up').code).toBe(0);

    const dry = ferry('import', 'import.ts', '--dry-run', '--json');
    expect(dry.code, dry.err).toBe(0);
    const dryReport = JSON.parse(dry.out);
    expect(dryReport).toMatchObject({ ok: true, dryRun: true, records: 6, rejects: 2 });
    // The bad JSON line is counted under people, the only table it could have been headed for.
    expect(dryReport.tables.people).toMatchObject({ inserted: 3, duplicates: 1, rejected: 2 });
    expect(ferry('verify', 'import.ts').code).toBe(1); // nothing was written

    const run = ferry('import', 'import.ts', '--json', '--backup', 'backup', '--rejects', 'out/rejects.ndjson');
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out).tables.people).toMatchObject({ inserted: 3, updated: 0, duplicates: 1, rejected: 2 });
    expect(sha(legacyFile)).toBe(before); // the source is never modified
    const manifest = JSON.parse(readFileSync(join(project, 'backup', 'manifest.json'), 'utf8'));
    expect(manifest.files).toHaveLength(1);
    expect(manifest.files[0].sha256).toBe(before);
    expect(sha(join(project, 'backup', manifest.files[0].path))).toBe(before);
    const rejects = readFileSync(join(project, 'out', 'rejects.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rejects.map((r) => [r.location.line, r.column])).toEqual([
      [4, 'age'],
      [6, null],
    ]);
    expect(rejects[1].reason).toMatch(/invalid JSON at line 6/);

    // A backup folder is never overwritten.
    const again = ferry('import', 'import.ts', '--backup', 'backup');
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/not empty/);

    const rerun = ferry('import', 'import.ts');
    expect(rerun.code, rerun.err).toBe(0);
    expect(rerun.out).toMatch(/people\s+0\s+0\s+3\s+1\s+2/);

    const verify = ferry('verify', 'import.ts', '--json');
    expect(verify.code, verify.err).toBe(0);
    expect(JSON.parse(verify.out).tables[0]).toMatchObject({ table: 'people', expected: 3, actual: 3 });
    // Source paths are relative to the import file, as in an ES import, not to the shell's folder.
    const fromSubfolder = ferryIn(join(project, 'legacy'), 'verify', '../import.ts', '--json');
    expect(fromSubfolder.code, fromSubfolder.err).toBe(0);
    expect(JSON.parse(fromSubfolder.out).tables[0]).toMatchObject({ table: 'people', expected: 3, actual: 3 });

    // The legacy data changes: verify names the difference, import updates just that row.
    writeFileSync(legacyFile, lines.replace('"name":"Dee","age":52', '"name":"Dee","age":53'));
    const changed = ferry('verify', 'import.ts');
    expect(changed.code).toBe(1);
    expect(changed.out).toMatch(/people: different \{"email":"dee@example.com"\}/);
    expect(JSON.parse(ferry('import', 'import.ts', '--json').out).tables.people).toMatchObject({
      updated: 1,
      unchanged: 2,
    });

    const strict = ferry('import', 'import.ts', '--json', '--max-rejects', '1');
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.out)).toMatchObject({ ok: false, error: { code: 'E_IMPORT_MAX_REJECTS' } });
    expect(existsSync(join(project, 'import.rejects.ndjson'))).toBe(true);
  });

  it('never prints a connection password', () => {
    const r = ferry('import', 'import.ts', '--url', 'postgresql://app:hunter2secret@127.0.0.1:1/nowhere');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/\*\*\*\*/);
    expect(`${r.out}${r.err}`).not.toContain('hunter2secret');
  });

  it('a short password (postgres) is masked in its URL field only, the message stays readable', () => {
    const r = ferry('import', 'import.ts', '--json', '--url', 'postgresql://postgres:postgres@127.0.0.1:1/x');
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      'Cannot connect to PostgreSQL at postgresql://postgres:****@127.0.0.1:1/x: connection refused by 127.0.0.1:1.',
    );
    expect(`${r.out}${r.err}`).not.toContain('postgres:postgres@');
    // --json: a script gets a JSON answer on stdout even though the run never started.
    const report = JSON.parse(r.out) as { ok: boolean; error: { code: string; message: string } };
    expect(report.ok).toBe(false);
    expect(report.error.code).toBe('E_CONNECT');
    expect(report.error.message).toContain('postgresql://postgres:****@127.0.0.1:1/x');
  });
});

describe('ferry import / verify on a broken source (embedded database)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-import-broken-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: join(dir, 'data') },
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const legacy = (n: number) =>
    JSON.stringify({
      people: Object.fromEntries(
        Array.from({ length: n }, (_, i) => [String(i + 1), { email: `p${i}@x`, name: `P${i}` }]),
      ),
    });

  it('fails with exit 1, a one-line file:line:column message and nothing imported; --partial; verify', {
    timeout: 300_000,
  }, () => {
    writeFileSync(join(dir, 'ferry.config.ts'), `export default { schema: './schema.ts' };\n`);
    writeFileSync(join(dir, 'schema.ts'), schema);
    writeFileSync(
      join(dir, 'import.ts'),
      `import { defineImport, tinydb } from ${JSON.stringify(sources)};
import * as schema from './schema.ts';
export default defineImport({
  schema,
  source: tinydb(process.env.LEGACY ?? './legacy.json'),
  tables: { people: { key: ['email'] } },
  map: (p) => ({ people: { email: p.email, name: p.name, age: null } }),
});
`,
    );
    expect(run('migrate', 'new', 'initial').code).toBe(0);
    expect(run('migrate', 'up').code).toBe(0);
    const whole = legacy(90);
    const half = whole.slice(0, Math.floor(whole.length / 2));
    writeFileSync(join(dir, 'legacy.json'), half);

    const cut = run('import', 'import.ts', '--batch-size', '2');
    expect(cut.code, cut.out + cut.err).toBe(1);
    expect(cut.err).toMatch(
      /^ferry: legacy\.json:1:\d+: invalid JSON: unexpected end of input: .*--partial.* \[E_SOURCE_MALFORMED\]\n$/,
    );
    expect(cut.out).not.toMatch(/Imported/);
    const verifyCut = run('verify', 'import.ts');
    expect(verifyCut.code).toBe(1);
    expect(verifyCut.err).toMatch(/legacy\.json:1:\d+: .*\[E_SOURCE_MALFORMED\]/);
    expect(verifyCut.out).not.toMatch(/OK/);

    // Nothing was imported: the whole file then imports all 90 (no "changed source" refusal).
    writeFileSync(join(dir, 'legacy.json'), whole);
    const fixed = run('import', 'import.ts', '--json');
    expect(fixed.code, fixed.err).toBe(0);
    expect(JSON.parse(fixed.out).tables.people).toMatchObject({ inserted: 90, updated: 0 });
    expect(run('verify', 'import.ts').code).toBe(0);

    // Garbage.
    writeFileSync(join(dir, 'garbage.json'), 'this is not a database\n');
    const env = {
      ...process.env,
      DATABASE_URL: undefined,
      FERRY_DATA_DIR: join(dir, 'data'),
      LEGACY: './garbage.json',
    };
    const garbageRun = spawnSync(process.execPath, [bin, 'import', 'import.ts'], { cwd: dir, env, encoding: 'utf8' });
    expect(garbageRun.status).toBe(1);
    expect(garbageRun.stderr).toMatch(
      /^ferry: garbage\.json:1:1: invalid JSON: expected '\{'.*\[E_SOURCE_MALFORMED\]\n$/,
    );
    expect(garbageRun.stdout).not.toMatch(/Imported/);

    // Missing, and a directory in place of the file (chmod 000 stops no one when tests run as root).
    for (const [legacyPath, message] of [
      ['./missing.json', /missing\.json does not exist.*\[E_SOURCE_NOT_FOUND\]\n$/],
      ['./data', /data is not a regular file.*\[E_SOURCE_NOT_FOUND\]\n$/],
    ] as const) {
      const r = spawnSync(process.execPath, [bin, 'import', 'import.ts'], {
        cwd: dir,
        env: { ...env, LEGACY: legacyPath },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/ENOENT/);
      if (legacyPath === './missing.json') {
        // --backup reads the files first: the same coded error, not a bare ENOENT.
        const b = spawnSync(process.execPath, [bin, 'import', 'import.ts', '--backup', 'bk'], {
          cwd: dir,
          env: { ...env, LEGACY: legacyPath },
          encoding: 'utf8',
        });
        expect(b.status, b.stderr).toBe(1);
        expect(b.stderr).toMatch(/missing\.json does not exist.*\[E_SOURCE_NOT_FOUND\]\n$/);
      }
      const v = spawnSync(process.execPath, [bin, 'verify', 'import.ts'], {
        cwd: dir,
        env: { ...env, LEGACY: legacyPath },
        encoding: 'utf8',
      });
      expect(v.status, v.stderr).toBe(1);
    }

    // --partial: what precedes the cut is imported, and the run says so (exit 1 all the same).
    writeFileSync(join(dir, 'legacy.json'), half.replace(/p(\d+)@x/g, 'q$1@x'));
    const partial = run('import', 'import.ts', '--partial', '--json');
    expect(partial.code, partial.err).toBe(1);
    const report = JSON.parse(partial.out);
    expect(report.ok).toBe(false);
    expect(report.partial).toEqual([expect.objectContaining({ file: 'legacy.json', line: 1 })]);
    expect(report.tables.people.inserted).toBeGreaterThan(30);
    const text = run('import', 'import.ts', '--partial');
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/^PARTIALLY imported: /);
    expect(text.out).toMatch(/PARTIAL: source "tinydb\(.*\)" could not be read to its end/);
  });
});
