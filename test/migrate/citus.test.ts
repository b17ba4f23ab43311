/**
 * Citus (issue 19): `distributedBy()` / `reference()` in the DSL, the
 * guarded `create_distributed_table` / `create_reference_table` calls
 * `migrate new` writes (after keys and indexes, before foreign keys;
 * `undistribute_table` / `alter_distributed_table` on change), the markers
 * that let a later `migrate new` and `migrate check` know what is
 * distributed on a server without Citus, and the `citus-*` lint rules.
 * Citus itself is not installable here: the migrations run on plain
 * PostgreSQL and PGlite (where they must be no-ops), and the calls are
 * checked against stubs with Citus's own signatures.
 *
 * Just over 600 lines: the DSL, lint and migration suites share one pair of
 * schema fixtures (v1, v2 below), which a split would have to export.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { FerryError } from '../../src/errors.js';
import { checkDrift } from '../../src/migrate/check.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { renameHints } from '../../src/migrate/hints.js';
import { introspect } from '../../src/migrate/introspect.js';
import { lintCitus } from '../../src/migrate/lint/citus.js';
import { Migrator } from '../../src/migrate/runner.js';
import type { Shadow } from '../../src/migrate/shadow.js';
import { distributionFromMigrations } from '../../src/schema/citus.js';
import { bigint, bigserial, integer, text, uuid } from '../../src/schema/column.js';
import { createStatements } from '../../src/schema/ddl.js';
import { extension } from '../../src/schema/extension.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { defineSchema } from '../../src/schema/schema.js';
import { foreignKey, index, primaryKey, table, unique, uniqueIndex } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';
import { migrateSuite } from '../support/migrate-suite.js';
import { tempDirs } from '../support/temp-dirs.js';

const newDir = tempDirs('ferry-citus-');
const GUARD =
  "DO $$ BEGIN IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AND current_setting('ferry.shadow', true) IS DISTINCT FROM 'on' THEN PERFORM";

/** ChatCore's shape on Citus: users distributed by id, their rows by user_id, co-located; plans a reference table. */
function v1(options: { messagesColocateWith?: string } = {}) {
  const plans = table('plans', { id: integer().primaryKey(), name: text().notNull() }).reference();
  const tags = table('tags', { id: integer().primaryKey(), label: text() }).reference();
  const users = table('users', {
    id: bigserial().primaryKey(),
    plan_id: integer()
      .notNull()
      .references(() => plans.columns.id),
    email: text().notNull(),
  }).distributedBy('id');
  const conversations = table('conversations', { user_id: bigint().notNull(), id: bigserial(), title: text() }, (t) => [
    primaryKey(t.user_id, t.id),
    foreignKey({ columns: [t.user_id], references: () => [users.columns.id], onDelete: 'cascade' }),
    index('conversations_title_idx').on(t.title),
  ]).distributedBy('user_id', { colocateWith: users });
  const messages = table(
    'messages',
    { user_id: bigint().notNull(), conversation_id: bigint().notNull(), id: bigserial(), body: text() },
    (t) => [
      primaryKey(t.user_id, t.id),
      foreignKey({
        columns: [t.user_id, t.conversation_id],
        references: () => [conversations.columns.user_id, conversations.columns.id],
      }),
      uniqueIndex('messages_conversation_key').on(t.user_id, t.conversation_id, t.id),
    ],
  ).distributedBy('user_id', { colocateWith: options.messagesColocateWith ?? 'users' });
  const notes = table('notes', { user_id: bigint().notNull(), id: bigserial() }, (t) => [
    primaryKey(t.user_id, t.id),
  ]).distributedBy('user_id', { colocateWith: 'users' });
  const auditLog = table('audit_log', { user_id: bigint().notNull(), at: text() }, (t) => [
    index('audit_log_user_idx').on(t.user_id),
  ]);
  return { plans, tags, users, conversations, messages, notes, auditLog };
}

/** audit_log distributed (an existing table), tags a plain table again, notes dropped. */
function v2() {
  const { plans, users, conversations, messages } = v1();
  const tags = table('tags', { id: integer().primaryKey(), label: text() });
  const auditLog = table('audit_log', { user_id: bigint().notNull(), at: text() }, (t) => [
    index('audit_log_user_idx').on(t.user_id),
  ]).distributedBy('user_id', { colocateWith: users });
  return defineSchema({ plans, tags, users, conversations, messages, auditLog });
}

const schema1 = () => defineSchema(v1());
const call = (name: string, args: string) => `${GUARD} ${name}(${args}); END IF; END $$`;

describe('Citus distribution: DSL, DDL, diff', () => {
  it('compiles distributedBy() and reference() to the IR, and refuses what cannot be', () => {
    const ir = schema1().toIR();
    const of = (n: string) => ir.tables.find((t) => t.name === n)!;
    expect(of('users').distribution).toEqual({ kind: 'distributed', column: 'id', colocateWith: 'default' });
    expect(of('conversations').distribution).toEqual({ kind: 'distributed', column: 'user_id', colocateWith: 'users' });
    expect(of('plans').distribution).toEqual({ kind: 'reference' });
    expect(Object.keys(of('audit_log'))).not.toContain('distribution');
    const t = table('t', { a: integer(), b: integer() });
    // @ts-expect-error distributedBy() takes a column name of the table
    expect(() => t.distributedBy('nope')).toThrow(/names column "nope", which it does not have/);
    expect(() => t.distributedBy('a').reference()).toThrow(/called twice/);
    expect(() => t.distributedBy('a', { colocateWith: 't' })).toThrow(/with itself/);
    expect(t.distributedBy('a', { colocateWith: 'none' }).toIR().distribution).toEqual({
      kind: 'distributed',
      column: 'a',
      colocateWith: 'none',
    });
    expect(() => extension('citus')).toThrow(/installed by the cluster's operator on every node/);
    expect(() => extension('citus_columnar')).toThrow(/Leave it out of the schema/);
    // Kept through partitionBy() (which used to drop table options).
    expect(t.distributedBy('a').partitionBy('hash', 'a').toIR().distribution).toMatchObject({ column: 'a' });
  });

  it('creates: tables, indexes, then reference tables and each table after the one it is co-located with, then foreign keys', () => {
    const ddl = createStatements(schema1().toIR());
    const at = (s: string) => ddl.indexOf(s);
    const ref = at(call('create_reference_table', "'plans'"));
    const users = at(call('create_distributed_table', "'users', 'id'"));
    const conversations = at(call('create_distributed_table', "'conversations', 'user_id', colocate_with => 'users'"));
    const messages = at(call('create_distributed_table', "'messages', 'user_id', colocate_with => 'users'"));
    expect([ref, users, conversations, messages].every((i) => i >= 0)).toBe(true);
    expect(ref).toBeLessThan(users);
    expect(users).toBeLessThan(conversations);
    expect(users).toBeLessThan(messages);
    const lastIndex = Math.max(...ddl.map((s, i) => (s.startsWith('CREATE ') && s.includes('INDEX') ? i : -1)));
    const firstFk = ddl.findIndex((s) => s.includes('FOREIGN KEY'));
    expect(lastIndex).toBeLessThan(ref);
    expect(messages).toBeLessThan(firstFk);
    expect(ddl.filter((s) => s.includes('audit_log') && s.includes('PERFORM'))).toEqual([]);
  });

  it('distributes a referenced table before the tables whose foreign keys reference it, whatever the declaration order', () => {
    const orgs = table('orgs', { id: bigint().primaryKey() }).distributedBy('id');
    const teams = table('teams', { org_id: bigint().notNull(), id: bigint().notNull() }, (t) => [
      primaryKey(t.org_id, t.id),
      foreignKey({ columns: [t.org_id], references: () => [orgs.columns.id] }),
    ]).distributedBy('org_id');
    const ddl = createStatements(defineSchema({ teams, orgs }).toIR());
    expect(ddl.filter((s) => s.includes('PERFORM')).map((s) => /PERFORM (\S+\('\w+')/.exec(s)![1])).toEqual([
      "create_distributed_table('orgs'",
      "create_distributed_table('teams'",
    ]);
  });

  it('a renamed distributed table keeps its distribution: the marker moves to the new name, nothing is redistributed', () => {
    const old = table('accounts', { id: bigint().primaryKey() }).distributedBy('id');
    const renamed = table('tenants', { id: bigint().primaryKey() }).distributedBy('id').renamedFrom('accounts');
    const schema = defineSchema({ renamed });
    const changes = diffSchemas({ enums: [], tables: [old.toIR()] }, schema.toIR(), renameHints(schema));
    expect(changes.map((c) => c.description)).toEqual([
      'rename table accounts to tenants',
      'rename constraint accounts_pkey to tenants_pkey',
      'keep the Citus distribution of tenants (renamed)',
    ]);
    expect(changes[2]!.up).toEqual([
      '-- citus distribution: {"table":"accounts","distribution":null}',
      '-- citus distribution: {"table":"tenants","distribution":{"kind":"distributed","column":"id","colocateWith":"default"}}',
    ]);
    expect(changes.flatMap((c) => c.up).join('\n')).not.toContain('PERFORM');
  });

  it('changes: alter_distributed_table for a new column or co-location, undistribute + create between reference and distributed, each with a warning and its exact undo', () => {
    const base = table(
      'docs',
      { owner_id: bigint().notNull(), org_id: bigint().notNull(), id: bigint().notNull() },
      (t) => [primaryKey(t.owner_id, t.org_id, t.id)],
    );
    const ir = (t: typeof base): SchemaIR => ({ enums: [], tables: [t.toIR()] });
    const moved = diffSchemas(
      ir(base.distributedBy('owner_id')),
      ir(base.distributedBy('org_id', { colocateWith: 'none' })),
    );
    expect(moved).toHaveLength(1);
    expect(moved[0]!.description).toBe(
      'distribute docs by org_id (colocate with none) (was: distribute docs by owner_id)',
    );
    expect(moved[0]!.warning).toMatch(/every row moves to new shards/);
    expect(moved[0]!.up).toEqual([
      '-- citus distribution: {"table":"docs","distribution":{"kind":"distributed","column":"org_id","colocateWith":"none"}}',
      call('alter_distributed_table', "'docs', distribution_column => 'org_id', colocate_with => 'none'"),
    ]);
    expect(moved[0]!.down).toEqual([
      call('alter_distributed_table', "'docs', distribution_column => 'owner_id', colocate_with => 'default'"),
    ]);
    const toRef = diffSchemas(ir(base.distributedBy('owner_id')), ir(base.reference()));
    expect(toRef[0]!.up.slice(1)).toEqual([
      call('undistribute_table', "'docs'"),
      call('create_reference_table', "'docs'"),
    ]);
    expect(toRef[0]!.down).toEqual([
      call('undistribute_table', "'docs'"),
      call('create_distributed_table', "'docs', 'owner_id'"),
    ]);
    expect(diffSchemas(ir(base.reference()), ir(base.reference()))).toEqual([]);
  });

  it('reads what the migrations distributed from their markers, the last one winning', () => {
    const marker = (table: string, d: object | null) =>
      `-- citus distribution: ${JSON.stringify({ table, distribution: d })};`;
    const got = distributionFromMigrations([
      `${marker('a', { kind: 'reference' })}\n${marker('b', { kind: 'reference' })}\n`,
      `${marker('a', null)}\n-- citus distribution: {broken;\n`,
    ]);
    expect([...got]).toEqual([['b', { kind: 'reference' }]]);
  });
});

describe('Citus lint rules (each found, and the fixed schema clean)', () => {
  const lint = (tables: { toIR(): unknown }[]) =>
    lintCitus(defineSchema(Object.fromEntries(tables.map((t, i) => [`t${i}`, t]))).toIR());
  const rules = (tables: { toIR(): unknown }[]) => lint(tables).map((f) => f.rule);
  const users = table('users', { id: bigint().primaryKey() }).distributedBy('id');

  it('a schema without distribution is never linted', () => {
    const parent = table('a', { id: integer().primaryKey() });
    const child = table('b', { a_id: integer().references(() => parent.columns.id) });
    expect(lint([parent, child])).toEqual([]);
  });

  it('citus-unique-without-distribution-column: primary key, unique constraint, unique index', () => {
    const bad = table('orders', { id: bigserial().primaryKey(), user_id: bigint().notNull(), no: text() }, (t) => [
      unique('orders_no_key').on(t.no),
      uniqueIndex('orders_no_idx').on(t.no),
    ]).distributedBy('user_id');
    const found = lint([bad]);
    expect(found.map((f) => [f.rule, f.severity, f.anchors[0]])).toEqual([
      ['citus-unique-without-distribution-column', 'error', 'orders_pkey'],
      ['citus-unique-without-distribution-column', 'error', 'orders_no_key'],
      ['citus-unique-without-distribution-column', 'error', 'orders_no_idx'],
    ]);
    expect(found[0]!.message).toBe(
      'the primary key orders_pkey of orders (id) does not include the distribution column user_id; Citus enforces uniqueness shard by shard and refuses it.',
    );
    expect(found[0]!.hint).toMatch(/^Add user_id to it \(e\.g\. primaryKey\(t\.user_id, t\.id\)\)/);
    const good = table('orders', { id: bigserial(), user_id: bigint().notNull(), no: text() }, (t) => [
      primaryKey(t.user_id, t.id),
      unique('orders_no_key').on(t.user_id, t.no),
      uniqueIndex('orders_no_idx').on(t.no, t.user_id),
    ]).distributedBy('user_id');
    expect(lint([good])).toEqual([]);
  });

  it('citus-foreign-key-without-distribution-column and citus-foreign-key-not-colocated', () => {
    const posts = (colocate: boolean, pairDistribution: boolean) =>
      table('posts', { user_id: bigint().notNull(), author_id: bigint().notNull(), id: bigint().notNull() }, (t) => [
        primaryKey(t.user_id, t.id),
        foreignKey({
          name: 'posts_user_fk',
          columns: [pairDistribution ? t.user_id : t.author_id],
          references: () => [users.columns.id],
        }),
      ]).distributedBy('user_id', { colocateWith: colocate ? users : 'none' });
    expect(rules([users, posts(false, false)])).toEqual([
      'citus-foreign-key-without-distribution-column',
      'citus-foreign-key-not-colocated',
    ]);
    const [unpaired, apart] = lint([users, posts(false, false)]);
    expect(unpaired!.message).toBe(
      'foreign key posts_user_fk of posts (author_id) references users (id): it must pair posts.user_id with users.id (the distribution columns), so that the referenced row is on the same shard.',
    );
    expect(apart!.hint).toBe(
      'Distribute posts with { colocateWith: users } (the distribution columns need the same type).',
    );
    expect(rules([users, posts(true, false)])).toEqual(['citus-foreign-key-without-distribution-column']);
    expect(rules([users, posts(false, true)])).toEqual(['citus-foreign-key-not-colocated']);
    expect(rules([users, posts(true, true)])).toEqual([]);
    // Same column type and 'default' on both: Citus co-locates them.
    const byDefault = table('p', { user_id: bigint().notNull() }, (t) => [
      primaryKey(t.user_id),
      foreignKey({ columns: [t.user_id], references: () => [users.columns.id] }),
    ]).distributedBy('user_id');
    expect(rules([users, byDefault])).toEqual([]);
  });

  it('citus-foreign-key-to-local-table, both ways; a reference table is fine', () => {
    const countries = (ref: boolean) => {
      const t = table('countries', { code: text().primaryKey() });
      return ref ? t.reference() : t;
    };
    const withCountry = (c: ReturnType<typeof countries>) =>
      table('people', { user_id: bigint().notNull(), country: text().references(() => c.columns.code) }, (t) => [
        primaryKey(t.user_id),
      ]).distributedBy('user_id', { colocateWith: users });
    const local = countries(false);
    const found = lint([users, local, withCountry(local)]);
    expect(found.map((f) => f.rule)).toEqual(['citus-foreign-key-to-local-table']);
    expect(found[0]!.message).toMatch(
      /^foreign key people_country_fkey of people \(country\) references countries \(code\): countries is a local/,
    );
    expect(found[0]!.hint).toMatch(/^Make countries a reference table \(\.reference\(\)\)/);
    const ref = countries(true);
    expect(rules([users, ref, withCountry(ref)])).toEqual([]);
    // local -> distributed
    const localToDist = table('visits', { user_id: bigint().references(() => users.columns.id) });
    expect(rules([users, localToDist])).toEqual(['citus-foreign-key-to-local-table']);
    expect(rules([users, localToDist.reference()])).toEqual(['citus-reference-to-distributed']);
  });

  it('citus-reference-to-distributed', () => {
    const plans = (owner: boolean) =>
      table('plans', {
        id: integer().primaryKey(),
        owner_id: owner ? bigint().references(() => users.columns.id) : bigint(),
      }).reference();
    const found = lint([users, plans(true)]);
    expect(found.map((f) => [f.rule, f.table])).toEqual([['citus-reference-to-distributed', 'plans']]);
    expect(found[0]!.hint).toMatch(/^Drop the foreign key, or make users a reference table too/);
    expect(lint([users, plans(false)])).toEqual([]);
  });

  it('citus-colocate-mismatch: unknown, not distributed, or another column type', () => {
    const posts = (colocateWith: string, type: 'bigint' | 'uuid') =>
      table('posts', { user_id: type === 'bigint' ? bigint().notNull() : uuid().notNull() }, (t) => [
        primaryKey(t.user_id),
      ]).distributedBy('user_id', { colocateWith });
    const plain = table('plain', { id: integer() });
    expect(lint([users, plain, posts('nowhere', 'bigint')])[0]!.message).toBe(
      'posts is co-located with nowhere, which is not a table of the schema.',
    );
    expect(lint([users, plain, posts('plain', 'bigint')])[0]!.message).toBe(
      'posts is co-located with plain, which is not a distributed table.',
    );
    const mismatch = lint([users, posts('users', 'uuid')]);
    expect(mismatch.map((f) => f.rule)).toEqual(['citus-colocate-mismatch']);
    expect(mismatch[0]!.message).toBe(
      'posts is distributed by user_id (uuid) but co-located with users, distributed by id (bigint); co-located tables need distribution columns of the same type.',
    );
    expect(rules([users, posts('users', 'bigint')])).toEqual([]);
  });

  it('citus-nullable-distribution-column (warning)', () => {
    const t = (notNull: boolean) =>
      table('events', { user_id: notNull ? bigint().notNull() : bigint(), body: text() }).distributedBy('user_id');
    expect(lint([t(false)]).map((f) => [f.rule, f.severity])).toEqual([
      ['citus-nullable-distribution-column', 'warning'],
    ]);
    expect(lint([t(true)])).toEqual([]);
  });
});

describeEachBackend('Citus migrations', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  migrateSuite(t, { shadow: 'like-url' }, (h, s) => {
    handle = h;
    shadow = s;
  });

  it('migrate new writes the guarded calls in order; they are no-ops without Citus; later runs and drift checks see the distribution as applied', async () => {
    const dir = newDir();
    const gen = await generateMigration({ shadow, schema: schema1(), dir, name: 'init' });
    expect(gen.written).toHaveLength(1);
    const up = readFileSync(join(gen.written[0]!.dir, 'up.sql'), 'utf8');
    const down = readFileSync(join(gen.written[0]!.dir, 'down.sql'), 'utf8');
    const pos = (s: string) => {
      const i = up.indexOf(s);
      expect(i, s).toBeGreaterThanOrEqual(0);
      return i;
    };
    const ref = pos(`${call('create_reference_table', "'plans'")};`);
    const users = pos(`${call('create_distributed_table', "'users', 'id'")};`);
    const conv = pos(`${call('create_distributed_table', "'conversations', 'user_id', colocate_with => 'users'")};`);
    pos(
      '-- citus distribution: {"table":"users","distribution":{"kind":"distributed","column":"id","colocateWith":"default"}};',
    );
    expect(ref).toBeLessThan(users);
    expect(users).toBeLessThan(conv);
    expect(pos('CREATE INDEX conversations_title_idx')).toBeLessThan(ref);
    expect(conv).toBeLessThan(pos('ADD CONSTRAINT messages_user_id_conversation_id_fkey FOREIGN KEY'));
    // Dropping a distributed table drops its shards: no undistribute_table in the down.
    expect(down).not.toContain('undistribute_table');
    expect(down).toContain('DROP TABLE users');
    expect(gen.lint).toEqual([]);

    const migrator = new Migrator(handle.db, { dir });
    expect((await migrator.up()).ok).toBe(true);
    const live = await introspect(handle.db);
    expect(live.tables.map((x) => x.name).sort()).toEqual(
      ['audit_log', 'conversations', 'messages', 'notes', 'plans', 'tags', 'users'].sort(),
    );
    expect(live.tables.some((x) => x.distribution)).toBe(false);
    // Nothing left to do, and no drift: the markers say what is distributed.
    expect((await pendingChanges(shadow, schema1(), dir)).changes).toEqual([]);
    expect(await checkDrift(handle, schema1(), dir)).toEqual([]);

    const gen2 = await generateMigration({
      shadow,
      schema: v2(),
      dir,
      name: 'change',
      now: new Date(Date.now() + 10_000),
    });
    const up2 = readFileSync(join(gen2.written[0]!.dir, 'up.sql'), 'utf8');
    const down2 = readFileSync(join(gen2.written[0]!.dir, 'down.sql'), 'utf8');
    expect(up2).toContain(
      `-- distribute audit_log by user_id (colocate with users)\n-- WARNING: audit_log exists: Citus copies its rows to the shards and blocks writes to it meanwhile`,
    );
    expect(up2).toContain(`${call('create_distributed_table', "'audit_log', 'user_id', colocate_with => 'users'")};`);
    expect(up2).toContain(`-- undistribute tags (Citus)\n-- WARNING: undistribute_table copies every row of tags back`);
    expect(up2).toContain(`${call('undistribute_table', "'tags'")};`);
    expect(up2).toContain('-- citus distribution: {"table":"notes","distribution":null};');
    expect(up2.indexOf('"table":"notes","distribution":null')).toBeLessThan(up2.indexOf('DROP TABLE notes'));
    expect(down2).toContain(`${call('undistribute_table', "'audit_log'")};`);
    expect(down2).toContain(`${call('create_reference_table', "'tags'")};`);
    // notes comes back, and is distributed again, before its foreign keys would be.
    expect(down2.indexOf('CREATE TABLE notes')).toBeLessThan(
      down2.indexOf(call('create_distributed_table', "'notes', 'user_id', colocate_with => 'users'")),
    );
    expect((await migrator.up()).ok).toBe(true);
    expect((await pendingChanges(shadow, v2(), dir)).changes).toEqual([]);
    expect(await checkDrift(handle, v2(), dir)).toEqual([]);
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect((await migrator.down({ all: true })).ok).toBe(true);
    expect((await introspect(handle.db)).tables).toEqual([]);
  });

  it('distributing an existing table whose key gains the distribution column: one migration, the key replaced directly before create_distributed_table', async () => {
    const dir = newDir();
    const orders = (citus: boolean) => {
      const cols = { id: bigint().notNull(), user_id: bigint().notNull(), no: text().notNull() };
      return citus
        ? table('orders', cols, (t) => [
            primaryKey(t.user_id, t.id),
            unique('orders_no_key').on(t.user_id, t.no),
          ]).distributedBy('user_id')
        : table('orders', cols, (t) => [primaryKey(t.id)]);
    };
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: defineSchema({ orders: orders(false) }), dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    await sql`insert into orders (id, user_id, no) values (1, 7, 'a')`.execute(handle.db);
    const gen = await generateMigration({
      shadow,
      schema: defineSchema({ orders: orders(true) }),
      dir,
      name: 'two',
      now: new Date(Date.now() + 10_000),
    });
    // No concurrent index + USING INDEX attach migrations for a Citus table.
    expect(gen.written).toHaveLength(1);
    const up = readFileSync(join(gen.written[0]!.dir, 'up.sql'), 'utf8');
    const at = (s: string) => {
      const i = up.indexOf(s);
      expect(i, s).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at('ALTER TABLE orders DROP CONSTRAINT orders_pkey')).toBeLessThan(
      at('ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY (user_id, id)'),
    );
    expect(at('ADD CONSTRAINT orders_no_key UNIQUE (user_id, no)')).toBeLessThan(
      at(call('create_distributed_table', "'orders', 'user_id'")),
    );
    expect(up).not.toContain('USING INDEX');
    expect((await migrator.up()).ok).toBe(true);
    expect((await pendingChanges(shadow, defineSchema({ orders: orders(true) }), dir)).changes).toEqual([]);
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('migrate new refuses a schema Citus would refuse, at the line that adds the offending key', async () => {
    const dir = newDir();
    const err = await generateMigration({
      shadow,
      schema: defineSchema(v1({ messagesColocateWith: 'none' })),
      dir,
      name: 'init',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('E_MIGRATION_LINT');
    expect((err as FerryError).message).toContain('citus-foreign-key-not-colocated');
    const findings = (err as FerryError).details!.findings as {
      rule: string;
      file: string;
      line: number;
      statement: string;
    }[];
    expect(findings.map((f) => f.rule)).toEqual(['citus-foreign-key-not-colocated']);
    const f = findings[0]!;
    expect(f.file).toMatch(/_init[/\\]up\.sql$/);
    expect(f.statement).toMatch(
      /^ALTER TABLE messages ADD CONSTRAINT messages_user_id_conversation_id_fkey FOREIGN KEY/,
    );
    expect(f.line).toBeGreaterThan(1);
  });

  it('with force the migration is written and its Citus findings reported; a later migration that does not touch them is not refused again', async () => {
    const dir = newDir();
    const bad = v1({ messagesColocateWith: 'none' });
    const gen = await generateMigration({ shadow, schema: defineSchema(bad), dir, name: 'init', force: true });
    expect(gen.lint.map((f) => [f.rule, f.file === join(gen.written[0]!.dir, 'up.sql')])).toEqual([
      ['citus-foreign-key-not-colocated', true],
    ]);
    const extra = table('extra', { id: integer().primaryKey() });
    const next = await generateMigration({
      shadow,
      schema: defineSchema({ ...bad, extra }),
      dir,
      name: 'extra',
      now: new Date(Date.now() + 10_000),
    });
    expect(next.written).toHaveLength(1);
    expect(next.lint).toEqual([]);
  });

  it('the calls match Citus signatures (checked against stubs with its parameter names and types)', async () => {
    const stubs = [
      'create schema citus_stub',
      'create table citus_stub.calls (n serial, fn text, args text)',
      `create function citus_stub.create_distributed_table(table_name regclass, distribution_column text,
         distribution_type text default 'hash', colocate_with text default 'default', shard_count int default null)
         returns void language sql
         as $$ insert into citus_stub.calls (fn, args) values ('create_distributed_table', table_name::text || ',' || distribution_column || ',' || colocate_with) $$`,
      `create function citus_stub.create_reference_table(table_name regclass) returns void language sql
         as $$ insert into citus_stub.calls (fn, args) values ('create_reference_table', table_name::text) $$`,
      `create function citus_stub.undistribute_table(table_name regclass, cascade_via_foreign_keys boolean default false)
         returns void language sql
         as $$ insert into citus_stub.calls (fn, args) values ('undistribute_table', table_name::text) $$`,
      `create function citus_stub.alter_distributed_table(table_name regclass, distribution_column text default null,
         shard_count int default null, colocate_with text default null, cascade_to_colocated boolean default null)
         returns void language sql
         as $$ insert into citus_stub.calls (fn, args) values ('alter_distributed_table', table_name::text || ',' || distribution_column || ',' || colocate_with) $$`,
      'create table "Mixed Case" (id int primary key)',
    ];
    for (const s of stubs) await sql.raw(s).execute(handle.db);
    try {
      const base = table('Mixed Case', { id: integer().primaryKey() });
      const calls = [
        ...createStatements({ enums: [], tables: [base.distributedBy('id', { colocateWith: 'none' }).toIR()] }),
        ...createStatements({ enums: [], tables: [base.reference().toIR()] }),
        ...diffSchemas(
          { enums: [], tables: [base.distributedBy('id').toIR()] },
          { enums: [], tables: [base.distributedBy('id', { colocateWith: 'none' }).toIR()] },
        )[0]!.up,
        ...diffSchemas({ enums: [], tables: [base.reference().toIR()] }, { enums: [], tables: [base.toIR()] })[0]!.up,
      ]
        .filter((s) => s.includes('PERFORM'))
        .map((s) => /PERFORM (.*); END IF; END \$\$$/.exec(s)![1]!);
      expect(calls).toHaveLength(4);
      for (const c of calls) await sql.raw(`select citus_stub.${c}`).execute(handle.db);
      const { rows } = await sql<{
        fn: string;
        args: string;
      }>`select fn, args from citus_stub.calls order by n`.execute(handle.db);
      expect(rows).toEqual([
        { fn: 'create_distributed_table', args: '"Mixed Case",id,none' },
        { fn: 'create_reference_table', args: '"Mixed Case"' },
        { fn: 'alter_distributed_table', args: '"Mixed Case",id,none' },
        { fn: 'undistribute_table', args: '"Mixed Case"' },
      ]);
      // The guard itself is false here (no citus extension): the whole statement does nothing.
      await sql.raw(createStatements({ enums: [], tables: [base.reference().toIR()] }).at(-1)!).execute(handle.db);
      const { rows: after } = await sql<{ n: number }>`select count(*)::int as n from citus_stub.calls`.execute(
        handle.db,
      );
      expect(after[0]!.n).toBe(4);
    } finally {
      await sql.raw('drop schema citus_stub cascade').execute(handle.db);
      await sql.raw('drop table "Mixed Case"').execute(handle.db);
    }
  });

  it('a Postgres shadow runs with ferry.shadow = on, so replayed Citus calls never distribute its scratch tables', async () => {
    const { rows } = await sql<{ v: string | null }>`select current_setting('ferry.shadow', true) as v`.execute(
      shadow.db,
    );
    expect(rows[0]!.v).toBe(t.backend === 'postgres' ? 'on' : null);
  });
});

describe('ChatCore on Citus (the README recipe): naive distribution found wanting, the recipe clean', () => {
  it('distributing the seed schema as it is: every key and foreign key Citus would refuse is named', async () => {
    const cc = await import('../../examples/chatcore/schema.js');
    const users = cc.users.distributedBy('id');
    const naive = defineSchema({
      ...cc,
      users,
      conversations: cc.conversations.distributedBy('user_id', { colocateWith: users }),
      messages: cc.messages.distributedBy('user_id', { colocateWith: users }),
    });
    const found = lintCitus(naive.toIR()).map((f) => `${f.rule} ${f.table} ${f.anchors[0]}`);
    expect(found).toEqual([
      'citus-unique-without-distribution-column users users_username_key',
      'citus-unique-without-distribution-column conversations conversations_pkey',
      'citus-unique-without-distribution-column messages messages_pkey',
      'citus-unique-without-distribution-column messages uq_messages_conversation_hash',
      'citus-unique-without-distribution-column messages uq_messages_conversation_position',
      'citus-foreign-key-without-distribution-column messages messages_conversation_id_fkey',
      'citus-foreign-key-to-local-table sessions sessions_user_id_fkey',
      'citus-foreign-key-to-local-table refresh_tokens refresh_tokens_user_id_fkey',
    ]);
  });

  it('the recipe: users a reference table, the rest by user_id with user_id in every key', () => {
    const users = table('users', { id: uuid().primaryKey(), username: text().notNull().unique() }).reference();
    const conversations = table('conversations', { id: uuid().notNull(), user_id: uuid().notNull() }, (t) => [
      primaryKey(t.user_id, t.id),
      foreignKey({ columns: [t.user_id], references: () => [users.columns.id], onDelete: 'cascade' }),
    ]).distributedBy('user_id');
    const messages = table(
      'messages',
      {
        id: bigserial(),
        conversation_id: uuid().notNull(),
        user_id: uuid().notNull(),
        position: integer().notNull(),
        content_hash: text().notNull(),
      },
      (t) => [
        primaryKey(t.user_id, t.id),
        foreignKey({
          columns: [t.user_id, t.conversation_id],
          references: () => [conversations.columns.user_id, conversations.columns.id],
          onDelete: 'cascade',
        }),
        unique('uq_messages_conversation_hash').on(t.user_id, t.conversation_id, t.content_hash),
        unique('uq_messages_conversation_position').on(t.user_id, t.conversation_id, t.position),
      ],
    ).distributedBy('user_id', { colocateWith: conversations });
    const sessions = table(
      'sessions',
      { id: bigserial(), user_id: uuid().notNull(), access_jti: text().notNull() },
      (t) => [
        primaryKey(t.user_id, t.id),
        unique('sessions_access_jti_key').on(t.user_id, t.access_jti),
        foreignKey({ columns: [t.user_id], references: () => [users.columns.id], onDelete: 'cascade' }),
      ],
    ).distributedBy('user_id', { colocateWith: conversations });
    expect(lintCitus(defineSchema({ users, conversations, messages, sessions }).toIR())).toEqual([]);
  });
});
