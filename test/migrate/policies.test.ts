/**
 * Row-level security (issue 17): `table(...).rls({ force })` and
 * `policy(name, table, { for, to, using, withCheck, permissive, comment })`
 * in the DSL, DDL, introspection (pg_policy, relrowsecurity /
 * relforcerowsecurity), diff (ALTER POLICY where Postgres allows it, else
 * drop and create; downs restore exactly) and pull, on both backends.
 *
 * Roles: Ferry never creates them. On PostgreSQL they belong to the whole
 * server, so this file creates one with a unique name and drops it after; on
 * PGlite (one database per instance) it is created in the suite's database.
 * The PGlite shadow `migrate new` uses creates the roles a policy names by
 * itself (it stands in for a database whose roles it cannot see); a
 * PostgreSQL shadow, on the live server, reports a missing one as
 * E_ROLE_MISSING.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importModule } from '../../src/config.js';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { E_ROLE_MISSING, FerryError } from '../../src/errors.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { introspect } from '../../src/migrate/introspect.js';
import { lintSql } from '../../src/migrate/lint.js';
import { renderSchemaModule } from '../../src/migrate/pull.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { serial, text, varchar } from '../../src/schema/column.js';
import { createStatements } from '../../src/schema/ddl.js';
import { policy } from '../../src/schema/policy.js';
import { defineSchema } from '../../src/schema/schema.js';
import { sql as dsl } from '../../src/schema/sql.js';
import { table } from '../../src/schema/table.js';
import { view } from '../../src/schema/view.js';
import { describeEachBackend } from '../support/backends.js';
import { tempDirs } from '../support/temp-dirs.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;
const ROLE = `i17_rls_reader_${randomBytes(3).toString('hex')}`;
const newDir = tempDirs('ferry-rls-');

const docsTable = () => table('docs', { id: serial().primaryKey(), owner: text().notNull(), body: text() });

function v1() {
  const docs = docsTable().rls();
  return defineSchema({
    docs,
    own: policy('own_docs', docs, { for: 'select', to: [ROLE], using: dsl`owner = current_user` }),
    ins: policy('insert_docs', docs, { for: 'insert', withCheck: dsl`owner = current_user` }),
    noSecret: policy('no_secret', docs, {
      permissive: false,
      using: dsl`body IS DISTINCT FROM 'secret'`,
      comment: 'hides secrets',
    }),
  });
}

/** own_docs: another USING (an ALTER); no_secret: permissive now (drop + create); insert_docs gone; upd_docs new; FORCE. */
function v2() {
  const docs = docsTable().rls({ force: true });
  return defineSchema({
    docs,
    own: policy('own_docs', docs, { for: 'select', to: [ROLE, 'postgres'], using: dsl`owner = session_user` }),
    noSecret: policy('no_secret', docs, { using: dsl`body <> 'secret'`, comment: 'now permissive' }),
    upd: policy('upd_docs', docs, {
      for: 'update',
      using: dsl`owner = current_user`,
      withCheck: dsl`owner = current_user`,
    }),
  });
}

describe('policy() DSL, DDL and diff', () => {
  it('compiles onto the table IR and validates', () => {
    const ir = v1().toIR();
    const docs = ir.tables[0]!;
    expect(docs.rowLevelSecurity).toEqual({ enabled: true, force: false });
    expect(docs.policies?.map((p) => p.name)).toEqual(['insert_docs', 'no_secret', 'own_docs']);
    expect(docs.policies?.[2]).toEqual({
      name: 'own_docs',
      command: 'select',
      permissive: true,
      roles: [ROLE],
      using: 'owner = current_user',
      withCheck: null,
    });
    // PUBLIC covers every role: Postgres keeps it alone.
    expect(policy('p', 'docs', { to: ['b', 'PUBLIC', 'a'] }).toIR().roles).toEqual(['public']);
    expect(() => policy('p', 'docs', { for: 'insert', using: dsl`true` })).toThrow(/withCheck only/);
    expect(() => policy('p', 'docs', { for: 'select', withCheck: dsl`true` })).toThrow(/using only/);
    expect(() => policy('p', 'docs', { to: [] })).toThrow(/no roles/);
    expect(() => defineSchema({ p: policy('p', 'nope') }).toIR()).toThrow(/not exported/);
    // A table without RLS keeps the IR it always had.
    expect(Object.keys(docsTable().toIR())).not.toContain('rowLevelSecurity');
  });

  it('creates policies after every table, and ENABLE/FORCE with the table', () => {
    const ddl = createStatements(v2().toIR());
    expect(ddl).toContain('ALTER TABLE docs ENABLE ROW LEVEL SECURITY');
    expect(ddl).toContain('ALTER TABLE docs FORCE ROW LEVEL SECURITY');
    expect(ddl).toContain(
      `CREATE POLICY upd_docs ON docs FOR UPDATE TO PUBLIC USING (owner = current_user) WITH CHECK (owner = current_user)`,
    );
    expect(ddl).toContain("COMMENT ON POLICY no_secret ON docs IS 'now permissive'");
    const restrictive = createStatements(v1().toIR()).find((s) => s.startsWith('CREATE POLICY no_secret'));
    expect(restrictive).toBe(
      "CREATE POLICY no_secret ON docs AS RESTRICTIVE TO PUBLIC USING (body IS DISTINCT FROM 'secret')",
    );
  });

  it('alters what ALTER POLICY can change, drops and creates the rest; downs undo both', () => {
    const changes = diffSchemas(v1().toIR(), v2().toIR());
    const by = (d: string) => changes.find((c) => c.description === d)!;
    expect(by('alter policy own_docs on docs').up).toEqual([
      `ALTER POLICY own_docs ON docs TO ${ROLE}, postgres USING (owner = session_user)`,
    ]);
    expect(by('alter policy own_docs on docs').down).toEqual([
      `ALTER POLICY own_docs ON docs TO ${ROLE} USING (owner = current_user)`,
    ]);
    expect(by('drop policy no_secret on docs').down).toEqual([
      "CREATE POLICY no_secret ON docs AS RESTRICTIVE TO PUBLIC USING (body IS DISTINCT FROM 'secret')",
      "COMMENT ON POLICY no_secret ON docs IS 'hides secrets'",
    ]);
    expect(by('create policy no_secret on docs').up).toEqual([
      "CREATE POLICY no_secret ON docs TO PUBLIC USING (body <> 'secret')",
    ]);
    expect(by('drop policy insert_docs on docs').up).toEqual(['DROP POLICY insert_docs ON docs']);
    expect(by('row-level security of docs')).toMatchObject({
      up: ['ALTER TABLE docs FORCE ROW LEVEL SECURITY'],
      down: ['ALTER TABLE docs NO FORCE ROW LEVEL SECURITY'],
    });
    const order = changes.map((c) => c.description);
    // Drops early (columns may go next), creations late; the new comment after the policy exists.
    expect(order.indexOf('drop policy no_secret on docs')).toBeLessThan(
      order.indexOf('create policy no_secret on docs'),
    );
    expect(order.indexOf('comment on policy docs.no_secret')).toBeGreaterThan(
      order.indexOf('create policy no_secret on docs'),
    );
    expect(diffSchemas(v1().toIR(), v1().toIR())).toEqual([]);
  });

  it('re-creates a policy around a type change of a column it uses (Postgres refuses the ALTER otherwise)', () => {
    const docs = table('docs', { id: serial().primaryKey(), owner: varchar(100).notNull(), body: text() }).rls();
    const v1b = defineSchema({
      docs,
      own: policy('own_docs', docs, { for: 'select', to: [ROLE], using: dsl`owner = current_user` }),
      noSecret: policy('no_secret', docs, { using: dsl`body <> 'x'`, comment: 'kept' }),
    });
    const changes = diffSchemas(v1b.toIR(), {
      ...v1b.toIR(),
      tables: [
        {
          ...v1b.toIR().tables[0]!,
          columns: v1b.toIR().tables[0]!.columns.map((c) => (c.name === 'owner' ? { ...c, type: 'text' } : c)),
        },
      ],
    });
    const order = changes.map((c) => c.description);
    const retype = order.findIndex((d) => d.startsWith('change type of docs.owner'));
    expect(retype).toBeGreaterThan(-1);
    expect(order.indexOf('drop policy own_docs on docs')).toBeLessThan(retype);
    expect(order.indexOf('create policy own_docs on docs')).toBeGreaterThan(retype);
    // A policy that does not use the column stays.
    expect(order.filter((d) => d.includes('no_secret'))).toEqual([]);
  });
});

describe('lint: rls-without-policy', () => {
  const rule = (sqlText: string) => lintSql(sqlText).filter((f) => f.rule === 'rls-without-policy');

  it('warns about a table whose RLS no policy covers, at the ENABLE', () => {
    const found = rule('CREATE TABLE docs (id int);\nALTER TABLE docs ENABLE ROW LEVEL SECURITY;');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'warning', line: 2 });
    expect(found[0]!.message).toContain('docs');
  });

  it('is silent once a policy covers it, and follows DROP POLICY, DISABLE, renames and DROP TABLE', () => {
    expect(rule('ALTER TABLE docs ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON docs USING (true);')).toEqual([]);
    expect(
      rule('ALTER TABLE docs ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON docs USING (true); DROP POLICY p ON docs;'),
    ).toHaveLength(1);
    expect(rule('ALTER TABLE docs ENABLE ROW LEVEL SECURITY; ALTER TABLE docs DISABLE ROW LEVEL SECURITY;')).toEqual(
      [],
    );
    expect(
      rule('ALTER TABLE a ENABLE ROW LEVEL SECURITY; ALTER TABLE a RENAME TO b; CREATE POLICY p ON b USING (true);'),
    ).toEqual([]);
    expect(rule('ALTER TABLE a ENABLE ROW LEVEL SECURITY; DROP TABLE a;')).toEqual([]);
  });

  it('generated migrations: none for a table with policies, one for .rls() alone', () => {
    const docs = docsTable().rls();
    const sqlOf = (schema: ReturnType<typeof defineSchema>) => `${createStatements(schema.toIR()).join(';\n')};`;
    expect(rule(sqlOf(v1()))).toEqual([]);
    expect(rule(sqlOf(defineSchema({ docs })))).toHaveLength(1);
  });
});

describe('lint: view-bypasses-rls', () => {
  const rule = (sqlText: string) => lintSql(sqlText).filter((f) => f.rule === 'view-bypasses-rls');
  const docsRls = 'CREATE TABLE docs (id int, owner text);\nALTER TABLE docs ENABLE ROW LEVEL SECURITY;\n';

  it('warns about a view over a table with RLS that runs as its owner, at the view', () => {
    const found = rule(`${docsRls}CREATE VIEW all_docs AS SELECT d.id FROM public.docs d JOIN other o ON o.id = d.id;`);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'warning', line: 3 });
    expect(found[0]!.message).toContain('all_docs');
    expect(found[0]!.message).toContain('docs');
    expect(found[0]!.hint).toContain('securityInvoker');
  });

  it('is silent with security_invoker (at creation or set later), over tables without RLS, and follows RESET, renames and DROP VIEW', () => {
    expect(rule(`${docsRls}CREATE VIEW v WITH (security_invoker = true) AS SELECT id FROM docs;`)).toEqual([]);
    expect(rule(`${docsRls}CREATE VIEW v WITH (security_invoker) AS SELECT id FROM docs;`)).toEqual([]);
    expect(rule(`${docsRls}CREATE VIEW v WITH (security_invoker = off) AS SELECT id FROM docs;`)).toHaveLength(1);
    expect(rule(`${docsRls}CREATE VIEW v AS SELECT id FROM docs; ALTER VIEW v SET (security_invoker = on);`)).toEqual(
      [],
    );
    expect(
      rule(
        `${docsRls}CREATE VIEW v WITH (security_invoker) AS SELECT id FROM docs; ALTER VIEW v RESET (security_invoker);`,
      ),
    ).toHaveLength(1);
    expect(rule('CREATE TABLE docs (id int); CREATE VIEW v AS SELECT id FROM docs;')).toEqual([]);
    expect(rule(`${docsRls}CREATE VIEW v AS SELECT id FROM docs; DROP VIEW v;`)).toEqual([]);
    expect(rule(`${docsRls}CREATE VIEW v AS SELECT id FROM docs; ALTER VIEW v RENAME TO w;`)[0]!.message).toContain(
      'View w',
    );
    // RLS disabled again before the end: nothing to bypass.
    expect(
      rule(`${docsRls}CREATE VIEW v AS SELECT id FROM docs; ALTER TABLE docs DISABLE ROW LEVEL SECURITY;`),
    ).toEqual([]);
  });

  it('generated migrations: a DSL view over an .rls() table warns unless it is securityInvoker', () => {
    const docs = docsTable().rls();
    const own = policy('own', docs, { using: dsl`true` });
    const sqlOf = (invoker: boolean) =>
      `${createStatements(
        defineSchema({ docs, own, v: view('docs_v', 'SELECT id FROM docs', { securityInvoker: invoker }) }).toIR(),
      ).join(';\n')};`;
    expect(rule(sqlOf(false))).toHaveLength(1);
    expect(rule(sqlOf(true))).toEqual([]);
  });
});

describeEachBackend('row-level security', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;

  beforeAll(async () => {
    handle = await openDatabase({ url: t.url() });
    // Roles are the server's on PostgreSQL (unique name, dropped in afterAll); PGlite's live in its one database.
    await sql.raw(`CREATE ROLE ${ROLE} NOLOGIN`).execute(handle.db);
    shadow = await openShadow();
  });
  afterAll(async () => {
    await shadow?.close();
    if (handle) {
      await sql
        .raw(`DROP OWNED BY ${ROLE}; DROP ROLE IF EXISTS ${ROLE}`)
        .execute(handle.db)
        .catch(() => {});
      await handle.close();
    }
  });

  it('round trip: new -> up -> introspect equals the DSL; a change goes up and comes back down exactly', async () => {
    const dir = newDir();
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: v1(), dir, name: 'init' });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    const pending1 = await pendingChanges(shadow, v1(), dir);
    expect(pending1.changes).toEqual([]);
    expect(live1).toEqual(pending1.target);
    const docs = live1.tables[0]!;
    expect(docs.rowLevelSecurity).toEqual({ enabled: true, force: false });
    expect(docs.policies?.map((p) => [p.name, p.command, p.permissive, p.roles])).toEqual([
      ['insert_docs', 'insert', true, ['public']],
      ['no_secret', 'all', false, ['public']],
      ['own_docs', 'select', true, [ROLE]],
    ]);
    expect(docs.policies?.[1]?.comment).toBe('hides secrets');

    // The policies filter rows for the role (the owner of the table is exempt unless FORCEd).
    await sql`insert into docs (owner, body) values (${ROLE}, 'mine'), ('someone', 'theirs'), (${ROLE}, 'secret')`.execute(
      handle.db,
    );
    await sql.raw(`GRANT SELECT ON docs TO ${ROLE}`).execute(handle.db);
    const visible = await handle.db.transaction().execute(async (trx) => {
      await sql.raw(`SET LOCAL ROLE ${ROLE}`).execute(trx);
      return (await sql<{ body: string }>`select body from docs order by id`.execute(trx)).rows.map((r) => r.body);
    });
    expect(visible).toEqual(['mine']);
    await sql.raw(`REVOKE SELECT ON docs FROM ${ROLE}`).execute(handle.db);
    await sql`delete from docs`.execute(handle.db);

    await generateMigration({ shadow, schema: v2(), dir, name: 'change', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    const live2 = await introspect(handle.db);
    expect(live2.tables[0]!.rowLevelSecurity).toEqual({ enabled: true, force: true });
    expect(live2.tables[0]!.policies?.map((p) => p.name)).toEqual(['no_secret', 'own_docs', 'upd_docs']);
    expect(live2.tables[0]!.policies?.find((p) => p.name === 'own_docs')?.roles).toEqual([ROLE, 'postgres'].sort());
    expect((await pendingChanges(shadow, v2(), dir)).changes).toEqual([]);

    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);
    expect((await migrator.down({ all: true })).ok).toBe(true);
    expect((await introspect(handle.db)).tables).toEqual([]);
  });

  it('a column a policy uses changes type: the policy is re-created around it, up and down', async () => {
    const mk = (owner: ReturnType<typeof text>) => {
      const docs = table('docs', { id: serial().primaryKey(), owner: owner.notNull() }).rls();
      return defineSchema({
        docs,
        own: policy('own_docs', docs, { using: dsl`owner = current_user`, comment: 'mine' }),
      });
    };
    const dir = newDir();
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: mk(varchar(100)), dir, name: 'init' });
    expect((await migrator.up()).ok).toBe(true);
    const before = await introspect(handle.db);
    const { written } = await generateMigration({
      shadow,
      schema: mk(text()),
      dir,
      name: 'retype',
      now: new Date(Date.now() + 10_000),
    });
    expect((await migrator.up()).ok).toBe(true);
    const after = await introspect(handle.db);
    expect(after.tables[0]!.columns[1]!.type).toBe('text');
    expect(after.tables[0]!.policies?.[0]).toMatchObject({ name: 'own_docs', comment: 'mine' });
    expect((await migrator.down({ steps: written.length })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(before);
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('pull renders rls() and policy() that normalise back to the database', async () => {
    const dir = newDir();
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: v2(), dir, name: 'init' });
    expect((await migrator.up()).ok).toBe(true);
    try {
      const live = await introspect(handle.db);
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('.rls({ force: true })');
      expect(text).toMatch(/export const ownDocsPolicy = policy\("own_docs", docs, \{ for: "select", to: \[/);
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
    } finally {
      expect((await migrator.down({ all: true })).ok).toBe(true);
    }
  });

  it('a role that does not exist: E_ROLE_MISSING from a PostgreSQL shadow, the server error from a migration', async () => {
    const ghost = `i17_rls_ghost_${randomBytes(3).toString('hex')}`;
    const docs = docsTable().rls();
    const schema = defineSchema({ docs, p: policy('ghostly', docs, { to: [ghost], using: dsl`true` }) });
    if (t.backend === 'postgres') {
      const pgShadow = await openShadow({ url: t.url() });
      try {
        const err = await normalise(pgShadow, schema.toIR()).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FerryError);
        expect((err as FerryError).code).toBe(E_ROLE_MISSING);
        expect((err as FerryError).message).toContain(`"${ghost}" does not exist`);
        expect((err as FerryError).message).toContain(`CREATE ROLE ${ghost} NOLOGIN`);
      } finally {
        await pgShadow.close();
      }
    }
    // The PGlite shadow stands in for roles it cannot see; the live database refuses.
    const dir = newDir();
    await generateMigration({ shadow, schema, dir, name: 'ghost' });
    const result = await new Migrator(handle.db, { dir }).up();
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).toContain(`role \\"${ghost}\\" does not exist`);
    expect((await introspect(handle.db)).tables).toEqual([]);
  });
});
