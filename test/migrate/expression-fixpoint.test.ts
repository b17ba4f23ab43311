/**
 * Expressions whose deparsed text Postgres does not parse back to the same
 * tree: `role IN ('a', 'b')` on a varchar column prints as
 * `((role)::text = ANY ((ARRAY['a'::character varying, ...])::text[]))`, and
 * that text, parsed again, prints as `ARRAY[('a'::character varying)::text, ...]`.
 * A migration generated from the DSL, applied and introspected, must still
 * compare equal to the DSL: `migrate new` generates nothing more, and
 * `migrate check` (a shadow on the live server) reports no drift.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { introspect } from '../../src/migrate/introspect.js';
import { Migrator } from '../../src/migrate/runner.js';
import { openShadow, type Shadow } from '../../src/migrate/shadow.js';
import {
  check,
  date,
  sql as ddl,
  defineSchema,
  index,
  integer,
  jsonb,
  serial,
  table,
  text,
  varchar,
} from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';
import { resetPublicSchema } from '../support/schema-reset.js';

const messages = table(
  'messages',
  {
    id: serial().primaryKey(),
    role: varchar(20).notNull().default(ddl`'user'`),
    kind: text().notNull(),
    status: varchar(10),
    score: integer(),
    lo: integer(),
    hi: integer(),
    day: text(),
    nick: varchar(40),
    body: text(),
    meta: jsonb(),
    due: date(),
  },
  (t) => [
    check('role_check', ddl`${t.role} IN ('user','assistant')`),
    check('kind_check', ddl`${t.kind} IN ('a', 'b', 'c')`),
    check('status_not_in', ddl`${t.status} NOT IN ('x', 'y')`),
    check('status_any', ddl`${t.status} = ANY (ARRAY['p', 'q'])`),
    check('score_between', ddl`${t.score} BETWEEN 0 AND 100`),
    check('nick_between', ddl`${t.nick} BETWEEN 'a' AND 'zzz'`),
    check('day_is_date', ddl`${t.day}::date > '2000-01-01'`),
    check('nick_coalesce', ddl`coalesce(${t.nick}, 'x') <> ''`),
    check('body_lower', ddl`lower(${t.body}) = ${t.body}`),
    check('nick_length', ddl`char_length(${t.nick}) <= 100`),
    check('nick_regex', ddl`${t.nick} ~ '^[a-z]+$'`),
    check('meta_key', ddl`${t.meta} ? 'key'`),
    check('kind_not_null', ddl`${t.kind} IS NOT NULL`),
    check('lo_hi', ddl`NOT (${t.lo} > 10 AND ${t.hi} < 5)`),
    check('due_range', ddl`${t.due} BETWEEN '2000-01-01' AND '2100-01-01'`),
    index('ix_messages_role_partial').on(t.id).where(ddl`${t.role} IN ('user', 'assistant')`),
    index('ix_messages_lower_nick').on(ddl`lower(${t.nick})`),
  ],
);
const schema = defineSchema([messages]);

/** The same check written by hand in a migration, in the DSL's own spelling. */
const handWritten = `CREATE TABLE messages (
  id serial PRIMARY KEY,
  role varchar(20) NOT NULL,
  CONSTRAINT role_check CHECK (role IN ('user','assistant'))
)`;
const handWrittenSchema = defineSchema([
  table('messages', { id: serial().primaryKey(), role: varchar(20).notNull() }, (t) => [
    check('role_check', ddl`${t.role} IN ('user', 'assistant')`),
  ]),
]);
/** As Ferry wrote it before normalising to a fixed point: the first deparse. */
const firstDeparse = `CREATE TABLE messages (
  id serial PRIMARY KEY,
  role varchar(20) NOT NULL,
  CONSTRAINT role_check CHECK (((role)::text = ANY ((ARRAY['user'::character varying, 'assistant'::character varying])::text[])))
)`;

describeEachBackend('expressions that deparse differently the second time', (t) => {
  let live: DbHandle;
  /** What `migrate new` uses: an in-memory PGlite, whatever the live database. */
  let pglite: Shadow;
  /** What `migrate check` uses: a shadow on the live server. */
  let onServer: Shadow;
  let dir: string;

  beforeAll(async () => {
    live = await t.open();
    pglite = await openShadow();
    onServer = await openShadow({ like: live, url: t.url() });
  });
  afterAll(async () => {
    await pglite?.close();
    await onServer?.close();
  });
  beforeEach(async () => {
    await resetPublicSchema(live.db);
    dir = mkdtempSync(join(tmpdir(), 'ferry-fixpoint-'));
    return () => rmSync(dir, { recursive: true, force: true });
  });

  /** `migrate check`: what the DSL has that the migrations lack, and what the database has that they lack. */
  async function drift(migrator: Migrator, s = schema): Promise<string[]> {
    const status = await migrator.status();
    const out = [...status.problems.map((p) => p.message), ...status.pending.map((p) => `pending ${p.id}`)];
    const { current, changes } = await pendingChanges(onServer, s, dir);
    out.push(...changes.map((c) => `schema: ${c.description}`));
    for (const c of diffSchemas(current, await introspect(live.db))) out.push(`database: ${c.description}`);
    return out;
  }

  it('generate from empty, apply: nothing more to generate, no drift', async () => {
    const first = await generateMigration({ shadow: pglite, schema, dir, name: 'initial' });
    expect(first.written).toHaveLength(1);
    const migrator = new Migrator(live.db, { dir });
    expect((await migrator.up()).ok).toBe(true);

    expect((await pendingChanges(pglite, schema, dir)).changes.map((c) => c.description)).toEqual([]);
    const again = await generateMigration({ shadow: pglite, schema, dir, name: 'again' });
    expect(again.written).toEqual([]);
    expect(await drift(migrator)).toEqual([]);
  });

  it('a migration generated on the live server itself agrees too', async () => {
    await generateMigration({ shadow: onServer, schema, dir, name: 'initial' });
    const migrator = new Migrator(live.db, { dir });
    expect((await migrator.up()).ok).toBe(true);
    expect((await pendingChanges(pglite, schema, dir)).changes).toEqual([]);
    expect(await drift(migrator)).toEqual([]);
  });

  for (const [name, up] of [
    ['written by hand in the DSL spelling', handWritten],
    ['written by an older Ferry (one deparse)', firstDeparse],
  ] as const) {
    it(`a migration ${name} agrees with the DSL`, async () => {
      mkdirSync(join(dir, '20260101000000_initial'));
      writeFileSync(join(dir, '20260101000000_initial', 'up.sql'), `${up};\n`);
      const migrator = new Migrator(live.db, { dir });
      expect((await migrator.up()).ok).toBe(true);
      expect((await pendingChanges(pglite, handWrittenSchema, dir)).changes).toEqual([]);
      expect(await drift(migrator, handWrittenSchema)).toEqual([]);
    });
  }
});
