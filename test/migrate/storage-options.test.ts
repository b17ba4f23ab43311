/**
 * Table storage options, NOT VALID constraints and comments (issue 17):
 * `table(...).unlogged()`, `.withOptions({ fillfactor })` (tables and
 * indexes), column `.storage()` / `.compression()`, foreign keys and checks
 * added `NOT VALID`, and `COMMENT ON` constraints, indexes, sequences and
 * enums. DSL, DDL, introspection, diff (in place: SET LOGGED/UNLOGGED,
 * SET/RESET, VALIDATE CONSTRAINT; downs restore exactly) and pull, on both
 * backends. Compression is `pglz` here: PGlite is built without lz4 (the
 * PostgreSQL-only test below uses it).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { importModule } from '../../src/config.js';
import type { DbHandle } from '../../src/db/open.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { introspect } from '../../src/migrate/introspect.js';
import { renderSchemaModule } from '../../src/migrate/pull.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { bigint, bigserial, integer, jsonb, serial, text, varchar } from '../../src/schema/column.js';
import { createStatements } from '../../src/schema/ddl.js';
import { pgEnum } from '../../src/schema/enum.js';
import { extension } from '../../src/schema/extension.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { defineSchema } from '../../src/schema/schema.js';
import { sequence } from '../../src/schema/sequence.js';
import { sql as dsl } from '../../src/schema/sql.js';
import { check, foreignKey, index, primaryKey, table, unique } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';
import { migrateSuite } from '../support/migrate-suite.js';
import { tempDirs } from '../support/temp-dirs.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;
const newDir = tempDirs('ferry-storage-');

/** A deferrable primary key: two rows may swap positions within one transaction. */
const slots = () =>
  table('slots', { board: integer().notNull(), slot: integer().notNull() }, (t) => [
    primaryKey(t.board, t.slot).deferrable(),
  ]);

function v1() {
  const state = pgEnum('job_state', ['new', 'done'], { comment: 'job lifecycle' });
  const jobs = table(
    'jobs',
    {
      id: bigserial(),
      state: state().notNull().default('new'),
      args: jsonb().storage('external'),
      payload: text().compression('pglz'),
      label: varchar(200).storage('external'),
      priority: integer().notNull().default(100).statistics(1000),
    },
    (t) => [
      primaryKey(t.id).comment('the job id'),
      check('jobs_priority_check', dsl`priority > 0`).notValid(),
      index('jobs_priority_idx').on(t.priority).withOptions({ fillfactor: 70 }).comment('for the queue'),
    ],
  ).withOptions({ fillfactor: 90, autovacuum_vacuum_scale_factor: '0.010' });
  // A logged sequence behind an UNLOGGED table, as a database made before PostgreSQL 15 has it.
  const lockers = table('lockers', {
    pid: integer().primaryKey(),
    note: text(),
    ticket: serial().sequenceOptions({ persistence: 'logged' }),
  }).unlogged();
  const runs = table(
    'runs',
    { id: serial().primaryKey(), job_id: bigint().notNull(), parent_id: bigint().references(() => jobs.columns.id) },
    (t) => [
      foreignKey({
        name: 'runs_job_fk',
        columns: [t.job_id],
        references: () => [jobs.columns.id],
        notValid: true,
        deferrable: 'deferred',
        comment: 'added NOT VALID on a big table',
      }),
      unique('runs_job_parent_key').on(t.job_id, t.parent_id).deferrable(),
    ],
  );
  return defineSchema({
    state,
    jobs,
    lockers,
    runs,
    slots: slots(),
    seq: sequence('ticket_no', { comment: 'tickets' }),
  });
}

/**
 * Everything changes in place: parameters set/reset, lockers logged, storage
 * changed or set, compression back to the default, the FK and the check
 * validated, index fillfactor, comments changed/removed; the enum is
 * rebuilt (its values reordered).
 */
function v2() {
  // Reordered: the type is rebuilt, and keeps its comment both ways.
  const state = pgEnum('job_state', ['done', 'new'], { comment: 'job states' });
  const jobs = table(
    'jobs',
    {
      id: bigserial(),
      state: state().notNull().default('new'),
      args: jsonb().storage('main'),
      payload: text(),
      // A new type resets storage to the type's own: the declared one is set again, and back in the down.
      label: text().storage('external'),
      priority: integer().notNull().default(100),
    },
    (t) => [
      primaryKey(t.id),
      check('jobs_priority_check', dsl`priority > 0`).comment('positive'),
      index('jobs_priority_idx').on(t.priority).withOptions({ fillfactor: 80 }),
    ],
  ).withOptions({ fillfactor: 95 });
  const lockers = table('lockers', {
    pid: integer().primaryKey(),
    note: text().storage('external').statistics(0),
    ticket: serial(),
  });
  const runs = table(
    'runs',
    {
      id: serial().primaryKey(),
      job_id: bigint().notNull(),
      parent_id: bigint().references(() => jobs.columns.id, { deferrable: 'immediate' }),
    },
    (t) => [
      foreignKey({
        name: 'runs_job_fk',
        columns: [t.job_id],
        references: () => [jobs.columns.id],
        comment: 'validated',
      }),
      unique('runs_job_parent_key').on(t.job_id, t.parent_id).deferrable(),
    ],
  );
  return defineSchema({ state, jobs, lockers, runs, slots: slots(), seq: sequence('ticket_no') });
}

describe('storage options, NOT VALID and comments: DSL, DDL and diff', () => {
  it('compiles to IR fields present only when set', () => {
    const ir = v1().toIR();
    const jobs = ir.tables.find((t) => t.name === 'jobs')!;
    expect(jobs.with).toEqual({ autovacuum_vacuum_scale_factor: '0.010', fillfactor: '90' });
    expect(jobs.columns.find((c) => c.name === 'args')!.storage).toBe('external');
    expect(jobs.columns.find((c) => c.name === 'payload')!.compression).toBe('pglz');
    expect(jobs.columns.find((c) => c.name === 'priority')!.statistics).toBe(1000);
    expect(Object.keys(jobs.columns.find((c) => c.name === 'args')!)).not.toContain('statistics');
    expect(jobs.checks[0]).toEqual({ name: 'jobs_priority_check', expression: 'priority > 0', notValid: true });
    expect(jobs.indexes[0]).toMatchObject({ with: { fillfactor: '70' }, comment: 'for the queue' });
    expect(jobs.primaryKey).toEqual({ name: 'jobs_pkey', columns: ['id'], comment: 'the job id' });
    expect(ir.tables.find((t) => t.name === 'lockers')!.unlogged).toBe(true);
    expect(ir.tables.find((t) => t.name === 'runs')!.foreignKeys).toMatchObject([
      { name: 'runs_parent_id_fkey' },
      { name: 'runs_job_fk', notValid: true, deferrable: 'deferred' },
    ]);
    expect(Object.keys(ir.tables.find((t) => t.name === 'runs')!.foreignKeys[0]!)).not.toContain('deferrable');
    expect(ir.enums[0]!.comment).toBe('job lifecycle');
    expect(ir.sequences![0]!.comment).toBe('tickets');
    const plain = table('p', { a: text() }).toIR();
    for (const k of ['unlogged', 'with', 'rowLevelSecurity', 'policies']) expect(Object.keys(plain)).not.toContain(k);
    expect(() => table('p', { a: text() }).withOptions({ 'bad key': 1 }).toIR()).toThrow(/not a parameter name/);
  });

  it('creates them as pg_dump prints them', () => {
    const ddl = createStatements(v1().toIR());
    expect(ddl).toContain(
      'CREATE UNLOGGED TABLE lockers (\n  pid integer NOT NULL,\n  note text,\n  ticket serial NOT NULL,\n  CONSTRAINT lockers_pkey PRIMARY KEY (pid)\n)',
    );
    expect(ddl.find((s) => s.startsWith('CREATE TABLE jobs'))).toMatch(
      /payload text COMPRESSION pglz,[\s\S]*\) WITH \(autovacuum_vacuum_scale_factor = 0\.010, fillfactor = 90\)$/,
    );
    // A NOT VALID check inside CREATE TABLE would come out validated: it follows the table.
    expect(ddl.find((s) => s.startsWith('CREATE TABLE jobs'))).not.toContain('jobs_priority_check');
    expect(ddl).toContain('ALTER TABLE jobs ADD CONSTRAINT jobs_priority_check CHECK (priority > 0) NOT VALID');
    expect(ddl).toContain('ALTER TABLE jobs ALTER COLUMN args SET STORAGE EXTERNAL');
    expect(ddl).toContain('ALTER TABLE jobs ALTER COLUMN priority SET STATISTICS 1000');
    expect(() => integer().statistics(10_001)).toThrow(/from 0 to 10000/);
    expect(ddl).toContain('CREATE INDEX jobs_priority_idx ON jobs (priority) WITH (fillfactor = 70)');
    expect(ddl).toContain(
      'ALTER TABLE runs ADD CONSTRAINT runs_job_fk FOREIGN KEY (job_id) REFERENCES jobs (id) DEFERRABLE INITIALLY DEFERRED NOT VALID',
    );
    expect(ddl).toContain("COMMENT ON CONSTRAINT runs_job_fk ON runs IS 'added NOT VALID on a big table'");
    expect(ddl).toContain("COMMENT ON INDEX jobs_priority_idx IS 'for the queue'");
    expect(ddl).toContain("COMMENT ON TYPE job_state IS 'job lifecycle'");
    expect(ddl).toContain("COMMENT ON SEQUENCE ticket_no IS 'tickets'");
  });

  it('changes them in place, each down restoring the previous state', () => {
    const changes = diffSchemas(v1().toIR(), v2().toIR());
    const by = (d: string) => changes.find((c) => c.description === d);
    expect(by('storage parameters of jobs')).toMatchObject({
      up: ['ALTER TABLE jobs SET (fillfactor = 95)', 'ALTER TABLE jobs RESET (autovacuum_vacuum_scale_factor)'],
      down: ['ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.010, fillfactor = 90)'],
    });
    expect(by('make lockers logged (rewrites the table)')).toMatchObject({
      up: ['ALTER TABLE lockers SET LOGGED'],
      // Its serial's sequence follows the table; the old one was logged on its own, and gets that back.
      down: [
        'ALTER TABLE lockers SET UNLOGGED',
        "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s SET LOGGED', pg_get_serial_sequence('lockers', 'ticket')); END $$",
      ],
    });
    expect(by('storage of jobs.args')).toMatchObject({
      up: ['ALTER TABLE jobs ALTER COLUMN args SET STORAGE MAIN'],
      down: ['ALTER TABLE jobs ALTER COLUMN args SET STORAGE EXTERNAL'],
    });
    expect(by('compression of jobs.payload')).toMatchObject({
      up: ['ALTER TABLE jobs ALTER COLUMN payload SET COMPRESSION default'],
      down: ['ALTER TABLE jobs ALTER COLUMN payload SET COMPRESSION pglz'],
    });
    expect(by('storage of lockers.note')!.down[0]).toMatch(
      /^DO \$\$ BEGIN EXECUTE format\('ALTER TABLE %I ALTER COLUMN %I SET STORAGE %s'/,
    );
    expect(by('validate runs_job_fk')).toMatchObject({
      phase: 'validate',
      up: ['ALTER TABLE runs VALIDATE CONSTRAINT runs_job_fk'],
    });
    expect(by('make jobs_priority_check NOT VALID')).toBeUndefined();
    expect(by('statistics target of jobs.priority')).toMatchObject({
      up: ['ALTER TABLE jobs ALTER COLUMN priority SET STATISTICS -1'],
      down: ['ALTER TABLE jobs ALTER COLUMN priority SET STATISTICS 1000'],
    });
    expect(by('statistics target of lockers.note')).toMatchObject({
      up: ['ALTER TABLE lockers ALTER COLUMN note SET STATISTICS 0'],
      down: ['ALTER TABLE lockers ALTER COLUMN note SET STATISTICS -1'],
    });
    expect(by('make runs_job_fk not deferrable')).toMatchObject({
      up: ['ALTER TABLE runs ALTER CONSTRAINT runs_job_fk NOT DEFERRABLE'],
      down: ['ALTER TABLE runs ALTER CONSTRAINT runs_job_fk DEFERRABLE INITIALLY DEFERRED'],
    });
    expect(by('make runs_parent_id_fkey deferrable initially immediate')).toMatchObject({
      up: ['ALTER TABLE runs ALTER CONSTRAINT runs_parent_id_fkey DEFERRABLE INITIALLY IMMEDIATE'],
      down: ['ALTER TABLE runs ALTER CONSTRAINT runs_parent_id_fkey NOT DEFERRABLE'],
    });
    expect(by('validate jobs_priority_check')!.down).toEqual([
      'ALTER TABLE jobs DROP CONSTRAINT jobs_priority_check',
      'ALTER TABLE jobs ADD CONSTRAINT jobs_priority_check CHECK (priority > 0) NOT VALID',
    ]);
    expect(by('storage parameters of index jobs_priority_idx')).toMatchObject({
      up: ['ALTER INDEX jobs_priority_idx SET (fillfactor = 80)'],
      down: ['ALTER INDEX jobs_priority_idx SET (fillfactor = 70)'],
    });
    expect(by('comment on index jobs_priority_idx')).toMatchObject({
      up: ['COMMENT ON INDEX jobs_priority_idx IS NULL'],
      down: ["COMMENT ON INDEX jobs_priority_idx IS 'for the queue'"],
    });
    // Nothing is dropped and re-created.
    expect(changes.filter((c) => /^(drop|create|add) /.test(c.description))).toEqual([]);
    expect(diffSchemas(v2().toIR(), v1().toIR()).map((c) => c.description)).toContain(
      'make jobs_priority_check NOT VALID',
    );
    expect(diffSchemas(v1().toIR(), v1().toIR())).toEqual([]);
  });

  it('a deferrable unique and primary key: created so, read back, and dropped and added when that changes (Postgres alters only foreign keys)', () => {
    const ir = v1().toIR();
    const runs = ir.tables.find((t) => t.name === 'runs')!;
    expect(runs.uniques).toEqual([
      {
        name: 'runs_job_parent_key',
        columns: ['job_id', 'parent_id'],
        nullsNotDistinct: false,
        deferrable: 'deferred',
      },
    ]);
    expect(createStatements(ir).find((x) => x.startsWith('CREATE TABLE runs'))).toContain(
      'CONSTRAINT runs_job_parent_key UNIQUE (job_id, parent_id) DEFERRABLE INITIALLY DEFERRED',
    );
    const plain: SchemaIR = {
      ...ir,
      tables: ir.tables.map((t) =>
        t === runs ? { ...runs, uniques: [{ ...runs.uniques[0]!, deferrable: undefined }] } : t,
      ),
    };
    const changes = diffSchemas(ir, plain);
    expect(changes.map((c) => c.description)).toEqual([
      'drop unique runs_job_parent_key',
      'create unique index runs_job_parent_key concurrently',
      'attach unique constraint runs_job_parent_key',
    ]);
    expect(changes[0]!.down[0]).toContain('UNIQUE (job_id, parent_id) DEFERRABLE INITIALLY DEFERRED');
    expect(diffSchemas(plain, ir)[2]!.up[0]).toBe(
      'ALTER TABLE runs ADD CONSTRAINT runs_job_parent_key UNIQUE USING INDEX runs_job_parent_key DEFERRABLE INITIALLY DEFERRED',
    );
    // A primary key the same way.
    const slotsIr = ir.tables.find((t) => t.name === 'slots')!;
    expect(slotsIr.primaryKey).toEqual({ name: 'slots_pkey', columns: ['board', 'slot'], deferrable: 'deferred' });
    expect(createStatements(ir).find((x) => x.startsWith('CREATE TABLE slots'))).toContain(
      'CONSTRAINT slots_pkey PRIMARY KEY (board, slot) DEFERRABLE INITIALLY DEFERRED',
    );
    const immediate: SchemaIR = {
      ...ir,
      tables: ir.tables.map((t) =>
        t === slotsIr ? { ...slotsIr, primaryKey: { ...slotsIr.primaryKey!, deferrable: 'immediate' as const } } : t,
      ),
    };
    const pk = diffSchemas(ir, immediate).map((c) => c.description);
    expect(pk[0]).toBe('drop primary key slots_pkey');
    expect(pk.at(-1)).toBe('attach primary key slots_pkey');
  });

  it("an extension's comment: set when declared, back to its control file's when removed", () => {
    const mk = (comment?: string) =>
      defineSchema({ x: extension('pg_trgm', comment === undefined ? {} : { comment }) }).toIR();
    expect(createStatements(mk('trigrams'))).toContain("COMMENT ON EXTENSION pg_trgm IS 'trigrams'");
    const [set] = diffSchemas(mk(), mk('trigrams'));
    expect(set!.up).toEqual(["COMMENT ON EXTENSION pg_trgm IS 'trigrams'"]);
    expect(set!.down[0]).toBe(
      "DO $$ BEGIN EXECUTE format('COMMENT ON EXTENSION %I IS %L', 'pg_trgm', (select comment from pg_available_extensions where name = 'pg_trgm')); END $$",
    );
  });

  it('comments an index built concurrently on an existing table once it exists (attach phase)', () => {
    const mk = (withIndex: boolean) =>
      defineSchema({
        t: table('t', { id: serial().primaryKey(), n: integer() }, (c) =>
          withIndex ? [index('t_n_idx').on(c.n).comment('hot')] : [],
        ),
      }).toIR();
    const changes = diffSchemas(mk(false), mk(true));
    expect(changes.map((c) => [c.phase, c.description])).toEqual([
      ['concurrent', 'create index t_n_idx concurrently'],
      ['attach', 'comment on index t_n_idx'],
    ]);
    // On a new table the index is created in main, and so is its comment.
    expect(
      diffSchemas({ enums: [], tables: [] }, mk(true)).find((c) => c.description === 'comment on index t_n_idx')?.phase,
    ).toBe('main');
  });
});

describeEachBackend('storage options, NOT VALID and comments', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  migrateSuite(t, {}, (h, s) => {
    handle = h;
    shadow = s;
  });

  it('round trip: new -> up -> introspect equals the DSL; v2 goes up and comes back down exactly', async () => {
    const dir = newDir();
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: v1(), dir, name: 'init' });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    const pending1 = await pendingChanges(shadow, v1(), dir);
    expect(pending1.changes).toEqual([]);
    expect(live1).toEqual(pending1.target);
    const jobs = live1.tables.find((x) => x.name === 'jobs')!;
    expect(jobs.with).toEqual({ autovacuum_vacuum_scale_factor: '0.010', fillfactor: '90' });
    expect(jobs.checks[0]!.notValid).toBe(true);
    expect(jobs.columns.find((c) => c.name === 'args')!.storage).toBe('external');
    expect(jobs.columns.find((c) => c.name === 'payload')!.compression).toBe('pglz');
    expect(jobs.primaryKey!.comment).toBe('the job id');
    expect(live1.tables.find((x) => x.name === 'lockers')!.unlogged).toBe(true);
    expect(live1.tables.find((x) => x.name === 'lockers')!.columns.find((c) => c.name === 'ticket')!.sequence).toEqual(
      expect.objectContaining({ persistence: 'logged' }),
    );
    expect(
      live1.tables.find((x) => x.name === 'runs')!.foreignKeys.find((f) => f.name === 'runs_job_fk'),
    ).toMatchObject({
      deferrable: 'deferred',
      notValid: true,
      comment: 'added NOT VALID on a big table',
    });
    expect(live1.enums[0]!.comment).toBe('job lifecycle');
    expect(live1.sequences![0]!.comment).toBe('tickets');

    const { written } = await generateMigration({
      shadow,
      schema: v2(),
      dir,
      name: 'change',
      now: new Date(Date.now() + 10_000),
    });
    // The validations run in a phase (migration) of their own.
    expect(written.length).toBeGreaterThan(1);
    expect((await migrator.up()).ok).toBe(true);
    const live2 = await introspect(handle.db);
    expect(live2).toEqual((await pendingChanges(shadow, v2(), dir)).target);
    expect((await pendingChanges(shadow, v2(), dir)).changes).toEqual([]);
    expect(
      live2.tables.find((x) => x.name === 'runs')!.foreignKeys.find((f) => f.name === 'runs_job_fk')!.notValid,
    ).toBeUndefined();
    expect(live2.tables.find((x) => x.name === 'lockers')!.unlogged).toBeUndefined();

    // Down restores every option, validity and comment of v1.
    expect((await migrator.down({ steps: written.length })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);
    expect((await migrator.down({ all: true })).ok).toBe(true);
    expect((await introspect(handle.db)).tables).toEqual([]);
  });

  it('validating a NOT VALID foreign key that existing rows break fails in its own migration', async () => {
    const dir = newDir();
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: v1(), dir, name: 'init' });
    expect((await migrator.up()).ok).toBe(true);
    try {
      // NOT VALID still checks new rows: a row from before the key (here: with triggers off) is what breaks it.
      await handle.db.transaction().execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx);
        await sql`insert into runs (job_id) values (424242)`.execute(trx);
      });
      await generateMigration({ shadow, schema: v2(), dir, name: 'change', now: new Date(Date.now() + 10_000) });
      const result = await migrator.up();
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).toMatch(/runs_job_fk/);
    } finally {
      await sql`delete from runs`.execute(handle.db);
      expect((await migrator.up()).ok).toBe(true);
      expect((await migrator.down({ all: true })).ok).toBe(true);
    }
  });

  it('pull renders the options, validity and comments, and they normalise back to the database', async () => {
    const dir = newDir();
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: v1(), dir, name: 'init' });
    expect((await migrator.up()).ok).toBe(true);
    try {
      const live = await introspect(handle.db);
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('.unlogged()');
      expect(text).toContain('.withOptions({ autovacuum_vacuum_scale_factor: "0.010", fillfactor: 90 })');
      expect(text).toContain('.storage("external")');
      expect(text).toContain('.compression("pglz")');
      expect(text).toContain('notValid: true');
      expect(text).toContain('.notValid()');
      expect(text).toContain('primaryKey(t.id).comment("the job id")');
      expect(text).toContain('pgEnum("job_state", ["new", "done"], { comment: "job lifecycle" })');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
    } finally {
      expect((await migrator.down({ all: true })).ok).toBe(true);
    }
  });

  it.runIf(t.backend === 'postgres')('lz4 compression on PostgreSQL (PGlite is built without it)', async () => {
    const dir = newDir();
    const migrator = new Migrator(handle.db, { dir });
    const schema = defineSchema({
      blobs: table('blobs', { id: serial().primaryKey(), body: text().compression('lz4') }),
    });
    const pgShadow = await openShadow({ url: t.url() });
    try {
      await generateMigration({ shadow: pgShadow, schema, dir, name: 'init' });
      expect((await migrator.up()).ok).toBe(true);
      const live = await introspect(handle.db);
      expect(live.tables[0]!.columns[1]!.compression).toBe('lz4');
      expect((await pendingChanges(pgShadow, schema, dir)).changes).toEqual([]);
    } finally {
      await pgShadow.close();
      expect((await migrator.down({ all: true })).ok).toBe(true);
    }
  });
});
